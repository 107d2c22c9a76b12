// Backpressure for asynchronous batch observers (lib/engine.ts EpochHooks.onBatch,
// lib/fit-epoch.ts): an onBatch — or an observeOnly onBatchEnd in fit — that
// returns a promise holds its batch's event until the promise settles, so a
// slow async observer slows training to its pace instead of growing a promise
// chain (and the lag, and memory) for the whole epoch. Every batch is seen
// once, in order, one observer call at a time, with the native worker at most
// ON_BATCH_MAX_LAG batches ahead (JS engine: 0); a rejection stops the epoch
// as a throw does; an abort, dispose(), a terminated worker_thread or
// process.exit() during a pending observer promise deadlocks nothing.
import { describe, expect, it } from 'vitest';
import { AbortError, Dense, Matrix, Sequential, type Logs } from '../lib';
import type { Callback } from '../lib/callbacks';
import { ON_BATCH_MAX_LAG, type EngineName, type LayerSpec, type NetworkPlan } from '../lib/engine';
import { resolveLoss, Loss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { expectExitsWith7, expectTerminatesPromptly, fitForeverScript } from './fit-forever';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

const N = ON_BATCH_MAX_LAG;
// A tiny net: a batch takes microseconds, so a SLOW_MS observer is thousands of times slower.
const LAYERS: LayerSpec[] = [{ kind: 'dense', inFeatures: 4, outFeatures: 8 }, { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 8, outFeatures: 3 }];
const BATCH = 4;
const BATCHES = N + 24;
const ROWS = BATCH * BATCHES;
const SLOW_MS = 4;
const x = randomArray(ROWS * 4, 3);
const y = Int32Array.from({ length: ROWS }, (_, i) => i % 3);

function plan(name: EngineName): NetworkPlan {
  const p = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: BATCH });
  p.setParams(randomArray(p.paramCount, 5));
  p.setLoss((resolveLoss('cross-entropy', 'loss') as Loss).spec);
  p.setOptimizer(new SGD({ lr: 0.01 }).toSpec());
  return p;
}

function model(name: EngineName): Sequential {
  const m = new Sequential([new Dense(4, 8, { activation: 'tanh' }), new Dense(8, 3)], { engine: name, seed: 1, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new SGD({ lr: 0.01 }) });
  return m;
}
const X = new Matrix(ROWS, 4, Float32Array.from(x));

/**
 * Resolves no earlier than ms later on performance.now()'s clock (the monotonic
 * clock the worker's `seconds` also use): timers may fire up to a millisecond
 * early on the event loop's cached time, so it sleeps again until the deadline.
 */
async function sleepAtLeast(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(until - performance.now()))));
}

/**
 * The lag check of test/epoch-backpressure.test.ts on the training thread's own
 * clock: with at most `lag` batches ahead, batch k + lag + 1 cannot end before
 * the observer of batch k has settled, at least SLOW_MS after batch k ended.
 * Unbounded, it ended microseconds later.
 */
function expectLagAtMost(lag: number, endedMs: readonly number[]): void {
  for (let k = 0; k + lag + 1 < endedMs.length; k++) {
    expect(endedMs[k + lag + 1]! - endedMs[k]!, `batch ${k + lag + 1} vs ${k}`).toBeGreaterThanOrEqual(SLOW_MS - 0.05);
  }
}

const lagOf = (name: EngineName) => (name === 'native' ? N : 0);

describe.each(ENGINES)('async onBatch backpressure in trainEpoch (%s engine)', (name) => {
  it(`a slow async onBatch is called once per batch, in order, one at a time, at most ${N} batches behind`, async () => {
    const p = plan(name);
    await p.trainEpoch(x, ROWS, y, BATCH, null);  // warm-up: the thread pool is up before timing
    const batches: number[] = [];
    const endedMs: number[] = [];
    let active = 0;
    let overlapped = false;
    let settled = 0;
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
      onBatch: async (b, _rows, _loss, seconds) => {
        if (++active > 1) overlapped = true;
        batches.push(b);
        endedMs.push(seconds * 1000);
        await sleepAtLeast(SLOW_MS);
        active--;
        settled++;
      },
    });
    expect(result.batches).toBe(BATCHES);
    expect(settled).toBe(BATCHES);  // the epoch resolves after the last promise settled
    expect(overlapped).toBe(false);
    expect(batches).toEqual([...Array(BATCHES).keys()]);
    expectLagAtMost(lagOf(name), endedMs);
  });

  it('an onBatch promise that rejects stops the epoch and rejects it with its error; the plan is usable after', async () => {
    const p = plan(name);
    const batches: number[] = [];
    const epoch = p.trainEpoch(x, ROWS, y, BATCH, null, {
      onBatch: async (b) => {
        batches.push(b);
        await sleepAtLeast(1);
        if (b === 2) throw new Error('async onBatch failed at 2');
      },
    });
    await expect(epoch).rejects.toThrow('async onBatch failed at 2');
    expect(batches).toEqual([0, 1, 2]);  // not called again after the rejection
    expect((await p.trainEpoch(x, ROWS, y, BATCH, null)).batches).toBe(BATCHES);
  });

  it('an abort while an onBatch promise is pending stops the epoch within the bound', async () => {
    const p = plan(name);
    const stop = new AbortController();
    const batches: number[] = [];
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
      signal: stop.signal,
      onBatch: async (b) => {
        batches.push(b);
        if (b === 2) stop.abort();  // the promise is still pending: the worker waits on it
        await sleepAtLeast(SLOW_MS);
      },
    });
    expect(result.cancelled).toBe(true);
    expect(result.batches).toBeGreaterThanOrEqual(3);
    expect(result.batches).toBeLessThanOrEqual(3 + lagOf(name));
    expect(batches).toEqual([...Array(result.batches).keys()]);
    expect((await p.trainEpoch(x, ROWS, y, BATCH, null)).batches).toBe(BATCHES);
  });

  it('dispose() while an onBatch promise is pending ends the epoch', async () => {
    const p = plan(name);
    let seen = 0;
    const epoch = p.trainEpoch(x, ROWS, y, BATCH, null, {
      onBatch: async (b) => {
        seen++;
        await sleepAtLeast(SLOW_MS);
        if (b === 3) p.dispose();
      },
    });
    const outcome = await epoch.then((r) => r, (err: unknown) => err);
    expect(p.disposed).toBe(true);
    if (outcome instanceof Error) expect((outcome as Error & { code?: string }).code).toBe('ERR_FASTMLP_DISPOSED');
    else expect((outcome as { cancelled: boolean; batches: number }).cancelled).toBe(true);
    expect(seen).toBeLessThanOrEqual(4 + lagOf(name) + 1);
  });
});

// The binding's side of the protocol, called directly (it can be: it re-checks, and must not
// hang or crash on odd thenables). Native only: the JS engine has no binding.
describe('the binding holds an event while the thenable its onBatch returned is unsettled', () => {
  type Raw = NetworkPlan & {
    runEpoch(x: Float64Array, rows: number, y: Int32Array, batch: number, order: null, onBatch: (b: number) => unknown): Promise<{ batches: number; cancelled: boolean }>;
    cancelEpoch(): boolean;
  };
  const raw = () => plan('native') as unknown as Raw;
  const xs = x as Float64Array;

  it('a rejection cancels the epoch', async () => {
    const r = await raw().runEpoch(xs, ROWS, y, BATCH, null, async (b) => {
      await sleepAtLeast(1);
      if (b === 2) throw new Error('rejected');
    });
    expect(r.cancelled).toBe(true);
    expect(r.batches).toBeGreaterThanOrEqual(3);
    expect(r.batches).toBeLessThanOrEqual(3 + N);
  });

  it('a thenable or Promise subclass calling back twice stalls nothing; then() or a then getter that throws cancels', async () => {
    // A second free per event would wrap the gate's count around and stall the worker for good.
    const twice = await raw().runEpoch(xs, ROWS, y, BATCH, null, () => ({ then(ok: () => void) { ok(); ok(); } }));
    expect(twice).toMatchObject({ batches: BATCHES, cancelled: false });
    let extra = 0;
    class Twice<T> extends Promise<T> {
      override then<A = T, B = never>(ok?: ((v: T) => A | PromiseLike<A>) | null, no?: ((e: unknown) => B | PromiseLike<B>) | null) {
        const result = super.then(ok, no);
        if (ok) void super.then((v) => { extra++; return ok(v); });  // ok runs twice
        return result;
      }
    }
    const long = 10;  // epochs' worth of batches: enough for a wrapped count to stall the worker
    const subclass = await raw().runEpoch(Float64Array.from({ length: long * xs.length }, (_, i) => xs[i % xs.length]!), long * ROWS,
      Int32Array.from({ length: long * ROWS }, (_, i) => y[i % ROWS]!), BATCH, null, () => Twice.resolve());
    expect(subclass).toMatchObject({ batches: long * BATCHES, cancelled: false });
    // Raw events may arrive after the epoch's promise (native.ts waits for them; this call does not).
    for (const until = performance.now() + 2000; extra < long * BATCHES && performance.now() < until;) await sleepAtLeast(1);
    expect(extra).toBe(long * BATCHES);  // every event's callback did run twice
    const throwing = await raw().runEpoch(xs, ROWS, y, BATCH, null, () => ({ then() { throw new Error('then failed'); } }));
    expect(throwing.cancelled).toBe(true);
    const getter = await raw().runEpoch(xs, ROWS, y, BATCH, null, () => ({ get then() { throw new Error('no then'); } }));
    expect(getter.cancelled).toBe(true);
  }, 10_000);

  it('promises that never settle hold the worker until the epoch is cancelled', async () => {
    const p = raw();
    let calls = 0;
    const epoch = p.runEpoch(xs, ROWS, y, BATCH, null, () => { calls++; return new Promise<void>(() => {}); });
    const until = performance.now() + 2000;
    while (calls < N && performance.now() < until) await sleepAtLeast(1);
    await sleepAtLeast(20);
    expect(calls).toBe(N);  // the worker waits with N events held, the next batch trained but not posted
    expect(p.cancelEpoch()).toBe(true);
    const r = await epoch;
    expect(r.cancelled).toBe(true);
    expect(r.batches).toBe(N + 1);
  });
});

/** An observeOnly callback that records each batch and its end on the training clock, then sleeps. */
function slowObserver(): Callback & { batches: number[]; endedMs: number[]; losses: number[] } {
  const batches: number[] = [];
  const endedMs: number[] = [];
  const losses: number[] = [];
  return {
    observeOnly: true, batches, endedMs, losses,
    onBatchEnd: async (b: number, logs: Logs) => {
      batches.push(b);
      losses.push(logs['loss']!);
      // samplesPerSecond = rows since the epoch started / seconds on the training thread's clock.
      endedMs.push(((b + 1) * BATCH / logs['samplesPerSecond']!) * 1000);
      await sleepAtLeast(SLOW_MS);
    },
  };
}

describe.each(ENGINES)('async observeOnly onBatchEnd through model.fit (%s engine)', (name) => {
  it(`a slow async observer sees every batch once, in order, at most ${N} batches behind`, async () => {
    const m = model(name);
    await m.fit(X, y, { epochs: 1, batchSize: BATCH, shuffle: false });  // warm-up
    const slow = slowObserver();
    const fast: number[] = [];
    const after: Callback = { observeOnly: true, onBatchEnd: (b) => { fast.push(b); } };
    await m.fit(X, y, { epochs: 1, batchSize: BATCH, shuffle: false, callbacks: [slow, after] });
    expect(slow.batches).toEqual([...Array(BATCHES).keys()]);
    expect(fast).toEqual(slow.batches);  // a synchronous observer after it keeps its place
    expectLagAtMost(lagOf(name), slow.endedMs);
  });

  it('a rejecting async observer rejects fit with its error and is not called again; the model trains on', async () => {
    const m = model(name);
    const seen: number[] = [];
    const failing: Callback = {
      observeOnly: true,
      onBatchEnd: async (b) => {
        seen.push(b);
        await sleepAtLeast(1);
        if (b === 2) throw new Error('observer failed at 2');
      },
    };
    await expect(m.fit(X, y, { epochs: 2, batchSize: BATCH, shuffle: false, callbacks: [failing] }))
      .rejects.toThrow('observer failed at 2');
    expect(seen).toEqual([0, 1, 2]);
    const h = await m.fit(X, y, { epochs: 1, batchSize: BATCH });
    expect(Number.isFinite(h.history['loss']![0])).toBe(true);
  });

  it('an abort while an observer promise is pending rejects fit with an AbortError, every trained batch observed', async () => {
    const m = model(name);
    const controller = new AbortController();
    const seen: number[] = [];
    const observer: Callback = {
      observeOnly: true,
      onBatchEnd: async (b) => {
        seen.push(b);
        if (b === 2) controller.abort();
        await sleepAtLeast(SLOW_MS);
      },
    };
    const err = await m.fit(X, y, { epochs: 2, batchSize: BATCH, shuffle: false, signal: controller.signal, callbacks: [observer] })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(seen).toEqual([...Array(seen.length).keys()]);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.length).toBeLessThanOrEqual(3 + lagOf(name));
    await m.fit(X, y, { epochs: 1, batchSize: BATCH });  // idle again
  });
});

describe('parity', () => {
  it('a slow async observer changes nothing trained: the engines agree on every batch loss and the weights', async () => {
    const runs = await Promise.all(ENGINES.map(async (name) => {
      const m = model(name);
      const slow = slowObserver();
      await m.fit(X, y, { epochs: 1, batchSize: BATCH, shuffle: false, callbacks: [slow] });
      const w = m.getWeights();
      return { losses: slow.losses, weights: Object.keys(w).sort().flatMap((k) => [...w[k]!]) };
    }));
    expect(runs[0]!.losses).toHaveLength(BATCHES);
    expect(maxRelDiff(runs[0]!.losses, runs[1]!.losses)).toBeLessThan(1e-10);
    expect(maxRelDiff(runs[0]!.weights, runs[1]!.weights)).toBeLessThan(1e-10);
  });
});

// The observer's promise never settles once the environment goes away: the worker must not wait on it.
const FIT_FOREVER_ASYNC = fitForeverScript(`async () => {
      if (++seen === 20) started();
      await new Promise((r) => setTimeout(r, ${SLOW_MS}));
    }`);

describe('the environment going away while an async observer holds the worker', () => {
  it('a worker_thread terminated mid-fit ends promptly', async () => {
    await expectTerminatesPromptly(FIT_FOREVER_ASYNC);
  });

  it('process.exit() from inside a pending observer exits at once', async () => {
    await expectExitsWith7(FIT_FOREVER_ASYNC, 'setTimeout(() => process.exit(7), 1);');
  });
});
