// Backpressure of trainEpoch's onBatch (lib/engine.ts ON_BATCH_MAX_LAG,
// native/binding/progress_gate.h): an onBatch slower than the batches gets
// every batch once, in order, with the native worker at most ON_BATCH_MAX_LAG
// batches ahead (the JS engine calls it between batches: lag 0); and no path
// deadlocks while the worker waits for room — an abort, a throwing onBatch,
// dispose(), a second call, a worker_thread terminated mid-fit, process.exit().
import { describe, expect, it } from 'vitest';
import { ON_BATCH_MAX_LAG, type LayerSpec, type NetworkPlan } from '../lib/engine';
import { resolveLoss, Loss } from '../lib/losses';
import { loadNative } from '../lib/native';
import { SGD } from '../lib/optim';
import { expectExitsWith7, expectTerminatesPromptly, fitForeverScript } from './fit-forever';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

const N = ON_BATCH_MAX_LAG;
// A tiny net: a batch takes microseconds, so a BUSY_MS onBatch is thousands of times slower.
const LAYERS: LayerSpec[] = [{ kind: 'dense', inFeatures: 4, outFeatures: 8 }, { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 8, outFeatures: 3 }];
const BATCH = 4;
const BATCHES = N + 24;
const ROWS = BATCH * BATCHES;
const BUSY_MS = 4;
const x = randomArray(ROWS * 4, 3);
const y = Int32Array.from({ length: ROWS }, (_, i) => i % 3);

function plan(name: (typeof ENGINES)[number]): NetworkPlan {
  const p = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: BATCH });
  p.setParams(randomArray(p.paramCount, 5));
  p.setLoss((resolveLoss('cross-entropy', 'loss') as Loss).spec);
  p.setOptimizer(new SGD({ lr: 0.01 }).toSpec());
  return p;
}

/** Holds the JS thread for ms (a slow synchronous onBatch). */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* spin */ }
}

describe('the bound', () => {
  it('the addon enforces the documented ON_BATCH_MAX_LAG', () => {
    expect(loadNative().maxBatchLag).toBe(N);
  });
});

describe.each(ENGINES)('onBatch backpressure (%s engine)', (name) => {
  it(`a slow onBatch sees every batch once, in order, the worker at most ${N} batches ahead`, async () => {
    const p = plan(name);
    await p.trainEpoch(x, ROWS, y, BATCH, null);  // warm-up: the thread pool is up before timing
    const batches: number[] = [];
    const endedMs: number[] = [];  // each batch's end, on the clock of the thread that ran it (`seconds`)
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
      onBatch: (b, _rows, _loss, seconds) => {
        batches.push(b);
        endedMs.push(seconds * 1000);
        busyWait(BUSY_MS);
      },
    });
    expect(result.batches).toBe(BATCHES);
    expect(batches).toEqual([...Array(BATCHES).keys()]);
    // The lag, on the training thread's own clock (exact under any load, unlike a comparison
    // with the JS clock, whose offset from the worker's start is unknown): with at most `lag`
    // batches ahead, batch k + lag + 1 cannot end before onBatch(k) has returned — at least
    // BUSY_MS after batch k ended. Unbounded, it ended microseconds later; a bound of lag + 1
    // fails at k = 0, where the worker trains its first lag + 1 batches while JS has seen none.
    const lag = name === 'native' ? N : 0;  // the JS engine calls onBatch between batches
    for (let k = 0; k + lag + 1 < BATCHES; k++) {
      expect(endedMs[k + lag + 1]! - endedMs[k]!, `batch ${k + lag + 1} vs ${k}`).toBeGreaterThanOrEqual(BUSY_MS - 0.05);
    }
    // Not an artefact of slow batches: the same epoch with a trivial onBatch takes a fraction of the time.
    let freeMs = 0;
    await p.trainEpoch(x, ROWS, y, BATCH, null, { onBatch: (_b, _r, _l, seconds) => { freeMs = seconds * 1000; } });
    expect(freeMs).toBeLessThan(endedMs.at(-1)! / 4);
  });

  it('an abort while the worker waits for room stops the epoch; every trained batch is delivered', async () => {
    const p = plan(name);
    const stop = new AbortController();
    const batches: number[] = [];
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
      signal: stop.signal,
      onBatch: (b) => {
        batches.push(b);
        busyWait(BUSY_MS);  // by batch 2 the native worker has filled the queue and waits
        if (b === 2) stop.abort();
      },
    });
    expect(result.cancelled).toBe(true);
    // The worker had completed at most batches 0 … 2 + N when JS saw batch 2, and stops before its next.
    expect(result.batches).toBeGreaterThanOrEqual(3);
    expect(result.batches).toBeLessThanOrEqual(3 + N);
    if (name === 'js') expect(result.batches).toBe(3);
    expect(batches).toEqual([...Array(result.batches).keys()]);
    // Idle again: the next epoch runs to its end.
    expect((await p.trainEpoch(x, ROWS, y, BATCH, null)).batches).toBe(BATCHES);
  });

  it('an onBatch that throws while the worker waits for room rejects the epoch; the plan is usable after', async () => {
    const p = plan(name);
    const batches: number[] = [];
    const epoch = p.trainEpoch(x, ROWS, y, BATCH, null, {
      onBatch: (b) => {
        batches.push(b);
        busyWait(BUSY_MS);
        if (b === 2) throw new Error('onBatch failed at 2');
      },
    });
    await expect(epoch).rejects.toThrow('onBatch failed at 2');
    expect(batches).toEqual([0, 1, 2]);  // not called again after it threw
    expect((await p.trainEpoch(x, ROWS, y, BATCH, null)).batches).toBe(BATCHES);
  });

  it('while the worker waits for room, a second call is refused and dispose() ends the epoch', async () => {
    const p = plan(name);
    let refused: unknown = null;
    let disposedAt = -1;
    const epoch = p.trainEpoch(x, ROWS, y, BATCH, null, {
      onBatch: (b) => {
        busyWait(BUSY_MS);
        if (b === 1) {
          try { p.trainStep(x.subarray(0, BATCH * 4), BATCH, y.subarray(0, BATCH)); } catch (err) { refused = err; }
        }
        if (b === 3) { p.dispose(); disposedAt = b; }
      },
    });
    const outcome = await epoch.then((r) => r, (err: unknown) => err);
    expect((refused as { code?: string } | null)?.code).toBe('ERR_FASTMLP_BUSY');
    expect(disposedAt).toBe(3);
    expect(p.disposed).toBe(true);
    // Either way the epoch settled without training on: a DISPOSED rejection, or a cancelled result.
    if (outcome instanceof Error) expect((outcome as Error & { code?: string }).code).toBe('ERR_FASTMLP_DISPOSED');
    else expect((outcome as { cancelled: boolean }).cancelled).toBe(true);
  });
});

describe('parity', () => {
  it('a slow onBatch changes nothing trained: the engines agree on every batch loss and the parameters', async () => {
    const runs = await Promise.all(ENGINES.map(async (name) => {
      const p = plan(name);
      const losses: number[] = [];
      await p.trainEpoch(x, ROWS, y, BATCH, null, { onBatch: (_b, _r, loss) => { losses.push(loss); busyWait(1); } });
      const params = new Float64Array(p.paramCount);
      p.getParams(params);
      return { losses, params };
    }));
    expect(runs[0]!.losses).toHaveLength(BATCHES);
    expect(maxRelDiff(runs[0]!.losses, runs[1]!.losses)).toBeLessThan(1e-10);
    expect(maxRelDiff(runs[0]!.params, runs[1]!.params)).toBeLessThan(1e-10);
  });
});

// The observer busy-waits BUSY_MS per batch: the worker soon waits for room.
const FIT_FOREVER = fitForeverScript(`() => { busy(${BUSY_MS}); if (++seen === 20) started(); }`);

describe('the environment going away while the worker waits for room', () => {
  it('a worker_thread terminated mid-fit with a slow onBatch ends promptly, and so does its parent', async () => {
    await expectTerminatesPromptly(FIT_FOREVER);
  });

  it('process.exit() with a fit in flight and the worker waiting for room exits at once', async () => {
    // Exits from inside onBatch, when the worker has long filled the queue: the main thread then
    // joins libuv's threads with no event loop left to deliver events and make room.
    await expectExitsWith7(FIT_FOREVER, 'process.exit(7);');
  });
});
