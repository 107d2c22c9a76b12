// Regressions found by a user's audit of the training engine (issue 5), each
// failing before its fix, on both engines: the event loop during fits made of
// many short epochs, during the validation pass and across the native engine's
// per-epoch data copy; aborting a fit stalled on its data source; dispose and
// nested fit/compile from callbacks; stopTraining before an epoch's first
// batch; non-finite inputs to trainStep, validationData and custom-loss
// gradients; and resuming a dropout model from a file.
import { describe, expect, it } from 'vitest';
import { AbortError, BatchNorm1d, Dense, Dropout, Matrix, Sequential, optim } from '../lib';
import type { Callback } from '../lib/callbacks';
import { halfTimeGap, timerGaps as timerGapsOf, type TimerGaps } from './event-loop-gaps';
import { ENGINES, randomArray } from './helpers';

const IN = 5;
const OUT = 3;
const ROWS = 120;
const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 17, Float64Array));
const Y = Int32Array.from({ length: ROWS }, (_, i) => (i + (X.data[i * IN]! > 0 ? 1 : 0)) % OUT);

function model(engine: 'native' | 'js', width = 16) {
  const m = new Sequential([new Dense(IN, width, { activation: 'relu' }), new Dense(width, OUT)],
    { engine, seed: 5, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }) });
  return m;
}

function flat(m: Sequential): number[] {
  return Object.values(m.getWeights()).flatMap((a) => Array.from(a));
}

/** Runs fit while a 2 ms interval timer records the gaps between its ticks (test/event-loop-gaps.ts). */
function timerGaps(run: () => Promise<unknown>): Promise<TimerGaps> {
  return timerGapsOf(2, run);
}

describe.each(ENGINES)('audit: the event loop between epochs (%s engine)', (engine) => {
  // Each epoch is one batch, far shorter than the 15 ms yield interval: before,
  // neither the JS engine's epochs nor the batch-driven loop ever reached the
  // event loop, so a whole fit of short epochs held it from start to end.
  it('a fit of many one-batch epochs lets timers run', async () => {
    const m = model(engine, 64);
    const epochs = engine === 'native' ? 3000 : 1200;
    const acting: Callback = { onBatchEnd: () => undefined };  // native: batch-driven on the main thread
    const r = await timerGaps(() => m.fit(X, Y, { epochs, batchSize: ROWS, callbacks: engine === 'native' ? [acting] : [] }));
    expect(r.elapsed).toBeGreaterThan(60);  // several yield intervals: long enough for the check to mean something
    expect(r.ticks).toBeGreaterThanOrEqual(3);
    expect(halfTimeGap(r.gaps)).toBeLessThan(r.elapsed / 2);  // not r.worst: one pause of a loaded machine is not the code
  });

  it('a fit of many short multi-batch epochs lets timers run', async () => {
    const m = model(engine, 64);
    const r = await timerGaps(() => m.fit(X, Y, { epochs: engine === 'native' ? 2000 : 1000, batchSize: 16,
      callbacks: engine === 'native' ? [{ onBatchBegin: () => undefined }] : [] }));
    expect(r.elapsed).toBeGreaterThan(60);
    expect(r.ticks).toBeGreaterThanOrEqual(3);
    expect(halfTimeGap(r.gaps)).toBeLessThan(r.elapsed / 2);  // not r.worst: one pause of a loaded machine is not the code
  });
});

describe.each(ENGINES)('audit: the event loop during validation (%s engine)', (engine) => {
  // The validation pass was one synchronous predict over validationData at each
  // epoch's end: the event loop stopped for all of it.
  it('validationData is evaluated without holding the event loop for the whole pass', async () => {
    const width = 64;
    const m = new Sequential([new Dense(width, 512, { activation: 'relu' }), new Dense(512, 512, { activation: 'relu' }),
      new Dense(512, OUT)], { engine, seed: 3, dtype: 'float32' });
    m.compile({ loss: 'cross-entropy', metrics: ['accuracy'] });
    const rows = engine === 'native' ? 16384 : 2048;
    const vx = new Matrix(rows, width, randomArray(rows * width, 8, Float32Array));
    const vy = Int32Array.from({ length: rows }, (_, i) => i % OUT);
    const started = performance.now();
    const expected = m.evaluate(vx, vy);
    const syncPass = performance.now() - started;
    expect(syncPass).toBeGreaterThan(50);  // long enough to see
    const tx = new Matrix(32, width, randomArray(32 * width, 9, Float32Array));
    const ty = Int32Array.from({ length: 32 }, (_, i) => i % OUT);
    // lr 0: the weights stay those evaluate saw, so val_loss must equal it bit for bit.
    m.compile({ loss: 'cross-entropy', metrics: ['accuracy'], optimizer: new optim.SGD({ lr: 0 }) });
    let h: Awaited<ReturnType<Sequential['fit']>> | null = null;
    const r = await timerGaps(async () => { h = await m.fit(tx, ty, { epochs: 1, batchSize: 32, validationData: [vx, vy] }); });
    expect(halfTimeGap(r.gaps)).toBeLessThan(syncPass / 2);  // half of the fit's time ran in turns shorter than that
    expect(h!.history['val_loss']).toEqual([expected['loss']]);
    expect(h!.history['val_accuracy']).toEqual([expected['accuracy']]);
  });
});

describe.each(ENGINES)('audit: cancelling and disposing (%s engine)', (engine) => {
  it('an abort rejects a fit that waits on a stalled data source, and closes the source', async () => {
    const m = model(engine);
    const controller = new AbortController();
    let closed = false;
    const source = {
      [Symbol.asyncIterator]() {
        let calls = 0;
        return {
          next: () => (calls++ === 0
            ? Promise.resolve({ done: false, value: { x: X, y: Y } })
            : new Promise<IteratorResult<{ x: Matrix; y: Int32Array }>>(() => {})),  // a read that never returns
          return: () => { closed = true; return Promise.resolve({ done: true as const, value: undefined }); },
        };
      },
    };
    setTimeout(() => controller.abort(new Error('stop waiting')), 50);
    const outcome = await Promise.race([
      m.fit(source, { epochs: 1, batchSize: 32, signal: controller.signal }).then(() => 'resolved', (e: unknown) => e),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000)),
    ]);
    expect(outcome).toBeInstanceOf(AbortError);
    expect(((outcome as AbortError).cause as Error).message).toBe('stop waiting');
    expect(closed).toBe(true);
    // The chunk that arrived trained; the model is idle and trains on.
    expect(Number.isFinite(m.trainStep(X, Y))).toBe(true);
  });

  it('an abort while an async generator source awaits rejects fit at once', async () => {
    const m = model(engine);
    const controller = new AbortController();
    async function* source() {
      yield { x: X, y: Y };
      await new Promise(() => {});  // stalls forever
    }
    setTimeout(() => controller.abort(), 30);
    const outcome = await Promise.race([
      m.fit(source, { epochs: 1, signal: controller.signal }).then(() => 'resolved', (e: unknown) => e),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000)),
    ]);
    expect(outcome).toBeInstanceOf(AbortError);
  });

  it('dispose() from a callback rejects fit with ERR_FASTMLP_DISPOSED naming fit, not an internal call', async () => {
    for (const hook of ['onTrainBegin', 'onEpochBegin', 'onEpochEnd', 'onBatchEnd'] as const) {
      const m = model(engine);
      const cb: Callback = { [hook]: () => { m.dispose(); } };
      const err = await m.fit(X, Y, { epochs: 3, batchSize: 32, callbacks: [cb] }).then(() => null, (e: unknown) => e);
      expect(err, hook).toMatchObject({ code: 'ERR_FASTMLP_DISPOSED' });
      expect((err as Error).message, hook).toMatch(/Sequential\.fit/);
      expect(m.disposed).toBe(true);
    }
  });

  it('stopTraining set in onEpochBegin ends fit without recording an epoch that trained nothing', async () => {
    const m = model(engine);
    const ends: number[] = [];
    const h = await m.fit(X, Y, { epochs: 4, batchSize: 32, validationSplit: 0.25, callbacks: [{
      onEpochBegin: (e) => { if (e === 1) m.stopTraining = true; },
      onEpochEnd: (e) => { ends.push(e); },
    }] });
    expect(h.epoch).toEqual([0]);
    expect(ends).toEqual([0]);
    expect(h.history['loss']).toHaveLength(1);
    expect(h.history['loss']![0]).toBeGreaterThan(0);
  });

  it('predict on a disposed model names Sequential.predict in both engines', () => {
    const m = model(engine);
    m.dispose();
    expect(() => m.predict(X)).toThrow(/Cannot run Sequential\.predict: this model was disposed/);
  });

  it('a callback cannot start a second fit or recompile the model while fit runs', async () => {
    const m = model(engine);
    const inner: unknown[] = [];
    const cb: Callback = {
      onEpochEnd: async () => {
        inner.push(await m.fit(X, Y, { epochs: 1 }).then(() => null, (e: unknown) => e));
        try {
          m.compile({ loss: 'mse' });
          inner.push(null);
        } catch (e) {
          inner.push(e);
        }
      },
    };
    const h = await m.fit(X, Y, { epochs: 2, batchSize: 32, callbacks: [cb] });
    expect(h.epoch).toEqual([0, 1]);
    expect(inner).toHaveLength(4);
    for (const e of inner) {
      expect(e).toMatchObject({ code: 'ERR_FASTMLP_BUSY' });
      expect((e as Error).message).toMatch(/fit is running/);
    }
    // Still compiled for cross-entropy, and idle afterwards.
    expect(Number.isFinite(m.trainStep(X, Y))).toBe(true);
  });
});

describe.each(ENGINES)('audit: non-finite inputs (%s engine)', (engine) => {
  it('trainStep refuses a non-finite x before it runs, so batch norm statistics stay finite', () => {
    const m = new Sequential([new Dense(IN, 6), new BatchNorm1d(6), new Dense(6, OUT)], { engine, seed: 1, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy' });
    const before = m.getWeights();
    const bad = X.data.slice();
    bad[7] = NaN;
    expect(() => m.trainStep(new Matrix(ROWS, IN, bad), Y)).toThrow(RangeError);
    expect(() => m.trainStep(new Matrix(ROWS, IN, bad), Y)).toThrow(/finite values in x .*row 1, column 2/);
    bad[7] = Infinity;
    expect(() => m.trainStep(new Matrix(ROWS, IN, bad), Y)).toThrow(/finite values in x/);
    expect(m.getWeights()).toEqual(before);
    expect(m.predict(X).data.every(Number.isFinite)).toBe(true);
  });

  it('trainStep refuses non-finite dense targets, naming y', () => {
    const m = new Sequential([new Dense(IN, 1)], { engine, seed: 1 });
    m.compile({ loss: 'mse' });
    const y = new Float32Array(ROWS);
    y[4] = NaN;
    expect(() => m.trainStep(X, y)).toThrow(/finite values in y .*index 4/);
  });

  it('a batch whose loss overflows leaves the batch-norm running statistics as they were', () => {
    const m = new Sequential([new Dense(IN, 6), new BatchNorm1d(6), new Dense(6, 1)], { engine, seed: 1, dtype: 'float32' });
    m.compile({ loss: 'mse' });
    const before = m.getWeights();
    // Finite inputs whose squared error overflows float32.
    const huge = new Matrix(4, IN, new Float32Array(4 * IN).map((_, i) => (i % 2 ? 3e38 : -3e38)));
    expect(() => m.trainStep(huge, new Float32Array([3e38, -3e38, 3e38, -3e38]))).toThrow(/not applied/);
    expect(m.getWeights()).toEqual(before);
  });

  it('a custom loss whose gradient is not finite stops fit and trainStep before the step', async () => {
    const m = new Sequential([new Dense(IN, OUT)], { engine, seed: 2, dtype: 'float64' });
    m.compile({ loss: { forward: () => 1, backward: (p: Matrix) => new Matrix(p.rows, p.cols, new Float64Array(p.rows * p.cols).fill(NaN)) } });
    const before = m.getWeights();
    await expect(m.fit(X, Y, { epochs: 1, batchSize: 32 })).rejects.toThrow(/finite values in the custom loss's backward\(\) result/);
    expect(() => m.trainStep(X, Y)).toThrow(RangeError);
    expect(m.getWeights()).toEqual(before);
  });

  it('fit refuses non-finite validationData like x, naming it', async () => {
    const m = model(engine);
    const bad = X.data.slice();
    bad[IN + 1] = NaN;
    await expect(m.fit(X, Y, { validationData: [new Matrix(ROWS, IN, bad), Y] }))
      .rejects.toThrow(/finite values in validationData\[0\] .*row 1, column 1/);
    const r = new Sequential([new Dense(IN, 1)], { engine, seed: 1 });
    r.compile({ loss: 'mse' });
    const vy = new Float32Array(ROWS);
    vy[2] = Infinity;
    await expect(r.fit(X, new Float32Array(ROWS), { validationData: [X, vy] }))
      .rejects.toThrow(/finite values in validationData\[1\]/);
  });
});

describe.each(ENGINES)('audit: resuming a dropout model (%s engine)', (engine) => {
  function dropoutModel() {
    const m = new Sequential([new Dense(IN, 16, { activation: 'relu' }), new Dropout(0.3), new Dense(16, OUT)],
      { engine, seed: 9, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }) });
    return m;
  }

  // The file stored the optimizer state and the shuffling generator but not the
  // dropout mask stream: the loaded model drew the masks of a fresh seed, so
  // "resumes bit-for-bit" (README) held only for models without dropout.
  it('save({ includeOptimizer }) mid-training then resume equals uninterrupted training', async () => {
    const full = dropoutModel();
    await full.fit(X, Y, { epochs: 4, batchSize: 16 });
    const part = dropoutModel();
    let afterFirst: Buffer | null = null;
    await part.fit(X, Y, { epochs: 2, batchSize: 16,
      onEpochEnd: (e) => { if (e === 0) afterFirst = part.toBuffer({ includeOptimizer: true }); } });
    const fromBuffer = Sequential.fromBuffer(afterFirst!, { engine });
    await fromBuffer.fit(X, Y, { epochs: 4, initialEpoch: 1, batchSize: 16 });
    expect(fromBuffer.getWeights()).toEqual(full.getWeights());
    const fromJson = Sequential.fromJSON(JSON.parse(JSON.stringify(part.toJSON({ includeOptimizer: true }))), { engine });
    await fromJson.fit(X, Y, { epochs: 4, initialEpoch: 2, batchSize: 16 });
    expect(fromJson.getWeights()).toEqual(full.getWeights());
  });

  it('the plan hands out and restores the dropout stream; bad states are RangeErrors', () => {
    const m = dropoutModel();
    const plan = (m as unknown as { plan: import('../lib/engine').NetworkPlan }).plan;
    const state = plan.getDropoutState();
    expect(state).toHaveLength(4);
    const a = m.trainStep(X, Y);
    plan.setDropoutState(state);
    m.setWeights(dropoutModel().getWeights());
    plan.resetOptimizer();
    expect(m.trainStep(X, Y)).toBe(a);  // the same masks again
    expect(() => plan.setDropoutState([1, 2, 3])).toThrow(RangeError);
    expect(() => plan.setDropoutState([0, 0, 0, 0])).toThrow(/not all zero/);
    expect(() => plan.setDropoutState([1, 2, 3, 2 ** 32])).toThrow(RangeError);
    expect(() => plan.setDropoutState('abcd' as never)).toThrow(TypeError);
  });
});

describe('audit: engine parity of the dropout stream state', () => {
  it('both engines hand out the same words for a seed, and after the same training', async () => {
    const words: number[][][] = [];
    for (const engine of ENGINES) {
      const m = new Sequential([new Dense(IN, 8), new Dropout(0.5), new Dense(8, OUT)], { engine, seed: 21, dtype: 'float64' });
      m.compile({ loss: 'cross-entropy' });
      const plan = (m as unknown as { plan: import('../lib/engine').NetworkPlan }).plan;
      const seen = [plan.getDropoutState()];
      await m.fit(X, Y, { epochs: 2, batchSize: 16 });
      seen.push(plan.getDropoutState());
      words.push(seen);
    }
    expect(words[0]).toEqual(words[1]);
    expect(words[0]![0]).not.toEqual(words[0]![1]);  // training drew masks
    for (const w of words[0]!.flat()) expect(w >= 0 && w < 2 ** 32 && Number.isInteger(w)).toBe(true);
  });
});

describe.each(ENGINES)('audit: fit copies its data for the native engine once, not every epoch (%s engine)', (engine) => {
  // The native engine copied x and y into each epoch's baton on the main thread:
  // ~95 ms of blocked event loop per epoch on 60,000 × 784 float32 rows.
  function planOf(m: Sequential) {
    return (m as unknown as { plan: import('../lib/engine').NetworkPlan }).plan;
  }

  it('keepData epochs train exactly as plain ones; releaseEpochData is idempotent', async () => {
    const a = model(engine);
    const b = model(engine);
    for (const [m, keep] of [[a, false], [b, true]] as const) {
      const plan = planOf(m);
      for (let e = 0; e < 3; e++) await plan.trainEpoch(X.data, ROWS, Y, 16, null, keep ? { keepData: true } : {});
      plan.releaseEpochData();
      plan.releaseEpochData();
    }
    expect(flat(b)).toEqual(flat(a));
    const c = model(engine);
    await c.fit(X, Y, { epochs: 3, batchSize: 16, shuffle: false });
    expect(flat(c)).toEqual(flat(a));
    planOf(c).releaseEpochData();
    c.dispose();
    planOf(c).releaseEpochData();  // after dispose too
  });
});

describe('audit: the native engine reuses the copy keepData kept', () => {
  it('a second keepData epoch over the same arrays makes no copy on the main thread', async () => {
    const rows = 1 << 17;
    const width = 128;
    const m = new Sequential([new Dense(width, 2)], { engine: 'native', seed: 1, dtype: 'float32' });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0 }) });
    const plan = (m as unknown as { plan: import('../lib/engine').NetworkPlan }).plan;
    const x = randomArray(rows * width, 3, Float32Array);  // 64 MB
    const y = new Int32Array(rows);
    const timed = async (hooks: { keepData?: boolean }) => {
      const started = performance.now();
      const running = plan.trainEpoch(x, rows, y, rows, null, hooks);
      const sync = performance.now() - started;  // the main thread's share: the copy
      return { sync, result: await running };
    };
    const first = await timed({ keepData: true });
    x.fill(Number.NaN);  // breaks keepData's promise on purpose: the kept copy must be what trains
    // The least of three calls: a copy would cost every one of them, while one
    // descheduling of the process on a loaded machine costs only one. (The first
    // call's share is the copy alone since plan buffers are no longer zero-filled
    // there, ~40 ms instead of 200-500, so one such pause came near first.sync / 4.)
    const seconds: number[] = [];
    for (let i = 0; i < 3; i++) {
      const second = await timed({ keepData: true });
      expect(second.result.badBatch).toBe(-1);  // finite: the kept copy trained, not the NaN array
      seconds.push(second.sync);
    }
    expect(Math.min(...seconds)).toBeLessThan(first.sync / 4);
    // Without keepData the kept copy is dropped and x copied as it is now.
    const fresh = await timed({});
    expect(fresh.result.badBatch).toBe(0);
    // released: a keepData epoch copies again
    const again = await timed({ keepData: true });
    expect(again.result.badBatch).toBe(0);
    plan.releaseEpochData();
  });
});
