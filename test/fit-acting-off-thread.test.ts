// Batches that fit steps itself off the main thread (lib/training.ts,
// OFF_THREAD_FLOPS). An acting batch hook (onBatchBegin, a per-batch schedule,
// terminateOnNaN, a lambda) and a custom loss make fit drive the epoch batch
// by batch from TypeScript. Each step used to run synchronously on the main
// thread (~50 ms a batch for 784-2048-2048-10 in the native engine, ~2 s in
// the JS one); a big one now runs as a one-batch trainEpoch, or, with a custom
// loss, as forwardTrainAsync, the loss, then backwardStepAsync. Checked in
// both engines, at sizes above the bound: the event loop turns within every
// batch, and the results are those of the engine's own epoch and of a
// trainStep loop, bit for bit.
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, Dropout, Matrix, Sequential, callbacks, optim } from '../lib';
import type { Callback } from '../lib/callbacks';
import { OFF_THREAD_FLOPS } from '../lib/training';
import { ENGINES, randomArray } from './helpers';

const IN = 64;
const WIDTH = 1024;  // 1.1 M parameters
const OUT = 10;
// Batches whose steps are above the engine's bound (checked below): 1.06 GFLOP
// native, 108 MFLOP in the JS engine (~70 ms, longer than its yield budget).
const BATCH = { native: 160, js: 16 } as const;
const MAX_ROWS = 3 * BATCH.native;
const X_ALL = randomArray(MAX_ROWS * IN, 7, Float32Array);
const Y_ALL = Int32Array.from({ length: MAX_ROWS }, (_, i) => (i * 7) % OUT);

function model(engine: 'native' | 'js') {
  const m = new Sequential([
    new Dense(IN, WIDTH, { activation: 'relu' }), new BatchNorm1d(WIDTH), new Dropout(0.25),
    new Dense(WIDTH, WIDTH, { activation: 'relu' }), new Dense(WIDTH, OUT),
  ], { engine, seed: 11 });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }), metrics: ['accuracy'] });
  return m;
}

const weightsOf = (m: Sequential) => Object.values(m.getWeights()).map((a) => Array.from(a));

/**
 * An acting hook that schedules a setImmediate before each batch and records
 * whether it ran before the batch ended: only a batch that let the event loop
 * turn runs it (a synchronous step gives it no turn).
 */
function turnWatcher(): Callback & { turned: boolean[]; losses: number[] } {
  let ran = false;
  const cb = {
    turned: [] as boolean[],
    losses: [] as number[],
    onBatchBegin() { ran = false; setImmediate(() => { ran = true; }); },
    onBatchEnd(_batch: number, logs: { loss: number }) { cb.turned.push(ran); cb.losses.push(logs.loss); },
  };
  return cb as Callback & { turned: boolean[]; losses: number[] };
}

describe.each(ENGINES)('batch-driven fit off the main thread (%s engine)', (engine) => {
  const batch = BATCH[engine];
  const ROWS = 3 * batch;
  const X = new Matrix(ROWS, IN, X_ALL.subarray(0, ROWS * IN));
  const Y = Y_ALL.subarray(0, ROWS);

  it('uses batches above the engine\'s bound for stepping off the main thread', () => {
    expect(6 * model(engine).paramCount * batch).toBeGreaterThanOrEqual(OFF_THREAD_FLOPS[engine]);
  });

  it('lets the event loop turn within each batch and trains as the engine epoch and a trainStep loop do', async () => {
    const watched = model(engine);
    const watcher = turnWatcher();
    const driven = await watched.fit(X, Y, { epochs: 2, batchSize: batch, shuffle: false, callbacks: [watcher] });
    expect(watcher.turned).toEqual(Array(6).fill(true));

    // The engine's own epoch (no acting hook): the same weights, losses and recorded-output metrics.
    const plain = model(engine);
    const own = await plain.fit(X, Y, { epochs: 2, batchSize: batch, shuffle: false });
    expect(weightsOf(watched)).toEqual(weightsOf(plain));
    expect(driven.history).toEqual(own.history);

    // A trainStep loop: the same batch losses, in order, and the same weights.
    const stepped = model(engine);
    const losses: number[] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let s = 0; s < ROWS; s += batch) {
        losses.push(stepped.trainStep(new Matrix(batch, IN, X.data.subarray(s * IN, (s + batch) * IN)), Y.subarray(s, s + batch)));
      }
    }
    expect(watcher.losses).toEqual(losses);
    expect(weightsOf(watched)).toEqual(weightsOf(stepped));
  });

  it('stops at a bad batch as the synchronous step did: terminateOnNaN sees NaN, the weights are those before it', async () => {
    // A row of the second batch is finite but so large that its logits overflow to ±Infinity: the loss is not finite.
    const x = new Matrix(ROWS, IN, X.data.slice());
    x.data.fill(3e37, (batch + 4) * IN, (batch + 5) * IN);
    const m = model(engine);
    const seen: number[] = [];
    const watch: Callback = { onBatchEnd: (_b, logs) => { seen.push(logs!.loss); } };
    const h = await m.fit(x, Y, { epochs: 1, batchSize: batch, shuffle: false, callbacks: [watch, callbacks.terminateOnNaN()] });
    expect(seen.length).toBe(2);
    expect(Number.isFinite(seen[0])).toBe(true);
    expect(Number.isFinite(seen[1])).toBe(false);
    expect(m.stopTraining).toBe(true);
    expect(h.history['loss']).toEqual([NaN]);  // the stopped epoch, logged with NaN as Keras does

    const once = model(engine);
    once.trainStep(new Matrix(batch, IN, X.data.subarray(0, batch * IN)), Y.subarray(0, batch));
    expect(weightsOf(m)).toEqual(weightsOf(once));
  });

  it('a dispose while a batch runs rejects fit with ERR_FASTMLP_DISPOSED', async () => {
    const m = model(engine);
    const dispose: Callback = { onBatchBegin: (batch) => { if (batch === 1) setImmediate(() => m.dispose()); } };
    await expect(m.fit(X, Y, { epochs: 1, batchSize: batch, callbacks: [dispose] })).rejects.toMatchObject({ code: 'ERR_FASTMLP_DISPOSED' });
    expect(m.disposed).toBe(true);
  });
});

/** Mean squared error written in TypeScript: a custom loss (lib/losses.ts LossFunction). */
const customMse = {
  forward(pred: Matrix, target: Matrix): number {
    let sum = 0;
    for (let i = 0; i < pred.data.length; i++) sum += (pred.data[i]! - target.data[i]!) ** 2;
    return sum / pred.data.length;
  },
  backward(pred: Matrix, target: Matrix): Matrix {
    const g = new Float32Array(pred.data.length);
    for (let i = 0; i < g.length; i++) g[i] = (2 * (pred.data[i]! - target.data[i]!)) / g.length;
    return new Matrix(pred.rows, pred.cols, g);
  },
};

describe.each(ENGINES)('a custom loss\'s batches off the main thread (%s engine)', (engine) => {
  const batch = BATCH[engine];
  const ROWS = 3 * batch;
  const X = new Matrix(ROWS, IN, X_ALL.subarray(0, ROWS * IN));
  const Y = new Matrix(ROWS, OUT, Float32Array.from({ length: ROWS * OUT }, (_, i) => (i % OUT === Y_ALL[Math.floor(i / OUT)] ? 1 : 0)));

  function customModel() {
    const m = new Sequential([
      new Dense(IN, WIDTH, { activation: 'relu', kernelRegularizer: { l2: 1e-4 } }), new BatchNorm1d(WIDTH), new Dropout(0.25),
      new Dense(WIDTH, WIDTH, { activation: 'relu' }), new Dense(WIDTH, OUT),
    ], { engine, seed: 12 });
    m.compile({ loss: customMse, optimizer: new optim.Adam({ lr: 1e-3 }) });
    return m;
  }

  it('lets the event loop turn within each batch and trains as a trainStep loop does, penalty included', async () => {
    const watched = customModel();
    const watcher = turnWatcher();
    await watched.fit(X, Y, { epochs: 2, batchSize: batch, shuffle: false, callbacks: [watcher] });
    expect(watcher.turned).toEqual(Array(6).fill(true));

    const stepped = customModel();
    const losses: number[] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let s = 0; s < ROWS; s += batch) {
        losses.push(stepped.trainStep(new Matrix(batch, IN, X.data.subarray(s * IN, (s + batch) * IN)),
          new Matrix(batch, OUT, Y.data.subarray(s * OUT, (s + batch) * OUT))));
      }
    }
    expect(watcher.losses).toEqual(losses);
    expect(weightsOf(watched)).toEqual(weightsOf(stepped));
  });

  it('a dispose while a pass runs rejects fit with ERR_FASTMLP_DISPOSED', async () => {
    const m = customModel();
    const dispose: Callback = { onBatchBegin: (b) => { if (b === 1) setImmediate(() => m.dispose()); } };
    await expect(m.fit(X, Y, { epochs: 1, batchSize: batch, callbacks: [dispose] })).rejects.toMatchObject({ code: 'ERR_FASTMLP_DISPOSED' });
  });
});
