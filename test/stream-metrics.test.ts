// Training metrics of a streamed fit (lib/fit-epoch.ts folds each chunk into
// lib/metric-accumulators.ts), on both engines, float32 and float64:
// - a stream whose chunks hold the in-memory rows in the same order (shuffle
//   off) reports the in-memory fit's training metrics: every metric name, with
//   class-index, one-hot and dense targets, one and several outputs, chunks of
//   uneven sizes down to 1 row, the epoch driven by the engine or batch by
//   batch. batchSize 1 (or chunk sizes that are multiples of batchSize) makes
//   the two fits train the same batches, so their outputs are equal and every
//   metric is the same number — except r2, whose total sum of squares the
//   stream merges chunk by chunk: within 1e-12;
// - an epoch stopped inside a chunk reports the rows it trained, as in memory;
// - with shuffling inside chunks the log-loss of the recorded outputs is the
//   epoch's training loss (cross-entropy on the same outputs and rows);
// - onEpochEnd logs and History carry them; early stopping monitors them;
// - the native and JS engines report the same numbers.
import { describe, expect, it } from 'vitest';
import { Dense, Dropout, Matrix, Sequential, callbacks, optim } from '../lib';
import type { Callback, Logs } from '../lib/callbacks';
import type { FloatArray, NetworkPlan, Target } from '../lib/engine';
import { METRIC_NAMES, type MetricName } from '../lib/metrics';
import { ENGINES, randomArray } from './helpers';

type Dtype = 'float32' | 'float64';
type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

/** A typed array of C with f(value, index) of each element of source (Ctor.from over a union of constructors, typed). */
function filled(C: Float32ArrayConstructor | Float64ArrayConstructor, source: ArrayLike<number>, f: (v: number, i: number) => number): FloatArray {
  const out = new C(source.length);
  for (let i = 0; i < source.length; i++) out[i] = f(source[i]!, i);
  return out;
}

const IN = 5;
const ROWS = 60;
const UNEVEN = [1, 7, 13, 1, 22, 16];        // 60 rows, for batchSize 1
const MULTIPLES = [4, 12, 8, 20, 16];        // 60 rows, multiples of batchSize 4
const CLASSIFICATION: MetricName[] = ['accuracy', 'binary_accuracy', 'top_k_accuracy', 'precision', 'recall', 'f1', 'log_loss'];

interface Task {
  label: string;
  outputs: number;
  loss: string;
  metrics: readonly MetricName[];
  /** The targets of all rows: class indices or a rows × outputs matrix. */
  y: (X: Matrix, C: Ctor) => Int32Array | Matrix;
}

const classOf = (X: Matrix, r: number, classes: number) =>
  Math.floor((X.data[r * IN]! + 1) * classes / 2.0001 + (X.data[r * IN + 1]! > 0 ? 1 : 0)) % classes;

const TASKS: Task[] = [
  { label: 'class indices, 3 classes', outputs: 3, loss: 'cross-entropy', metrics: CLASSIFICATION,
    y: (X) => Int32Array.from({ length: ROWS }, (_, r) => classOf(X, r, 3)) },
  { label: 'one-hot rows, 3 classes', outputs: 3, loss: 'cross-entropy', metrics: METRIC_NAMES,
    y: (X, C) => new Matrix(ROWS, 3, filled(C, { length: ROWS * 3 }, (_, i) => (classOf(X, Math.floor(i / 3), 3) === i % 3 ? 1 : 0))) },
  { label: 'regression, 2 outputs', outputs: 2, loss: 'mse', metrics: ['mae', 'mse', 'rmse', 'r2'],
    y: (X, C) => new Matrix(ROWS, 2, filled(C, { length: ROWS * 2 }, (_, i) => 3 + X.data[Math.floor(i / 2) * IN + (i % 2)]! * 2)) },
  { label: 'binary, 1 output', outputs: 1, loss: 'bce-with-logits', metrics: METRIC_NAMES,
    y: (X, C) => new Matrix(ROWS, 1, filled(C, { length: ROWS }, (_, r) => classOf(X, r, 2))) },
  // Outputs read as the loss defines them (lib/output-reading.ts): three independent labels scored elementwise.
  { label: 'multi-label, 3 outputs', outputs: 3, loss: 'bce-with-logits', metrics: METRIC_NAMES,
    y: (X, C) => new Matrix(ROWS, 3, filled(C, { length: ROWS * 3 }, (_, i) => (X.data[Math.floor(i / 3) * IN + (i % 3)]! > 0 ? 1 : 0))) },
  // Hinge scores thresholded at 0, labels ±1 (log_loss has no meaning: compile refuses it).
  { label: 'hinge, 1 output', outputs: 1, loss: 'hinge', metrics: CLASSIFICATION.filter((m) => m !== 'log_loss'),
    y: (X, C) => new Matrix(ROWS, 1, filled(C, { length: ROWS }, (_, r) => 2 * classOf(X, r, 2) - 1)) },
];

function data(dtype: Dtype, task: Task) {
  const C: Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 23, C));
  return { X, Y: task.y(X, C) };
}

function model(engine: 'native' | 'js', dtype: Dtype, task: Task): Sequential {
  const m = new Sequential([new Dense(IN, 12, { activation: 'tanh' }), new Dropout(0.2), new Dense(12, task.outputs)],
    { engine, seed: 8, dtype });
  m.compile({ loss: task.loss as never, optimizer: new optim.Adam({ lr: 0.02 }), metrics: [...task.metrics] });
  return m;
}

/** A source that yields the rows in chunks of `sizes` (copies, as a reader would), pausing for I/O between them. */
function chunked(X: Matrix, Y: Int32Array | Matrix, sizes: readonly number[]) {
  return async function* () {
    let from = 0;
    for (const size of sizes) {
      await new Promise((r) => setImmediate(r));
      const to = from + size;
      const y: Target | Matrix = Y instanceof Int32Array ? Y.slice(from, to)
        : new Matrix(size, Y.cols, (Y.data as FloatArray).slice(from * Y.cols, to * Y.cols));
      yield { x: new Matrix(size, IN, X.data.slice(from * IN, to * IN)), y };
      from = to;
    }
  };
}

/** An acting batch hook: fit drives the epoch batch by batch from TypeScript. */
const batchDriving = (): Callback => callbacks.lambda({ onBatchBegin: () => undefined });

function expectSameMetrics(streamed: Record<string, number[]>, memory: Record<string, number[]>, names: readonly MetricName[]) {
  for (const name of names) {
    const s = streamed[name]!;
    const m = memory[name]!;
    expect(s, name).toHaveLength(m.length);
    // r2 merges SS_tot per chunk (Chan et al.) where memory takes one pass: rounding only.
    if (name === 'r2') s.forEach((v, i) => expect(Math.abs(v - m[i]!), name).toBeLessThan(1e-12));
    else expect(s, name).toEqual(m);
  }
}

describe.each(ENGINES)('streamed fit reports training metrics (%s engine)', (engine) => {
  describe.each(['float32', 'float64'] as const)('%s', (dtype) => {
    for (const task of TASKS) {
      it(`${task.label}: equal to the in-memory fit, chunks uneven, both driving modes`, async () => {
        const { X, Y } = data(dtype, task);
        for (const [batchSize, sizes] of [[1, UNEVEN], [4, MULTIPLES]] as const) {
          for (const driven of [false, true]) {
            const cbs = () => (driven ? [batchDriving()] : []);
            const memory = await model(engine, dtype, task).fit(X, Y as never, { epochs: 2, batchSize, shuffle: false, callbacks: cbs() });
            const streamed = await model(engine, dtype, task).fit(chunked(X, Y, sizes), { epochs: 2, batchSize, callbacks: cbs() });
            expect(Object.keys(streamed.history).sort()).toEqual(['loss', ...task.metrics].sort());
            expectSameMetrics(streamed.history, memory.history, task.metrics);
            expect(streamed.params.metrics).toEqual(['loss', ...task.metrics]);
          }
        }
      });
    }

    it('an epoch stopped inside a chunk reports the rows it trained, as in memory', async () => {
      const task = TASKS[1]!;
      const { X, Y } = data(dtype, task);
      const stopAt = (m: Sequential): Callback => ({ onBatchEnd: (b) => { if (b === 25) m.stopTraining = true; } });
      const inMemory = model(engine, dtype, task);
      const memory = await inMemory.fit(X, Y as never, { epochs: 2, batchSize: 1, shuffle: false, callbacks: [stopAt(inMemory)] });
      const inStream = model(engine, dtype, task);
      // Batch 25 is row 25: inside the 22-row chunk that starts at row 22.
      const streamed = await inStream.fit(chunked(X, Y, UNEVEN), { epochs: 2, batchSize: 1, callbacks: [stopAt(inStream)] });
      expect(streamed.epoch).toEqual([0]);
      expectSameMetrics(streamed.history, memory.history, task.metrics);
      // 26 rows trained: accuracy is a whole number of them.
      expect(Math.round(streamed.history['accuracy']![0]! * 26)).toBeCloseTo(streamed.history['accuracy']![0]! * 26, 9);
    });

    it('shuffled within chunks: the log-loss of the recorded outputs is the epoch\'s training loss', async () => {
      const task = TASKS[0]!;
      const { X, Y } = data(dtype, task);
      for (const driven of [false, true]) {
        const h = await model(engine, dtype, task).fit(chunked(X, Y, [9, 1, 30, 20]), {
          epochs: 3, batchSize: 4, shuffle: true, callbacks: driven ? [batchDriving()] : [] });
        // Cross-entropy of the logits is log-loss of their softmax (no clip reached here):
        // the same outputs (pre-step, training mode) over the same rows, however shuffled.
        h.history['log_loss']!.forEach((v, i) => expect(v).toBeCloseTo(h.history['loss']![i]!, dtype === 'float32' ? 5 : 10));
        for (const name of ['accuracy', 'precision', 'recall', 'f1'] as const) {
          h.history[name]!.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
          h.history[name]!.forEach((v) => expect(v).toBeLessThanOrEqual(1));
        }
      }
    });
  });

  it('onEpochEnd logs and History carry the training metrics of each epoch', async () => {
    const task = TASKS[0]!;
    const { X, Y } = data('float64', task);
    const seen: Logs[] = [];
    const h = await model(engine, 'float64', task).fit(chunked(X, Y, UNEVEN), {
      epochs: 3, batchSize: 1, validationData: [X, Y], onEpochEnd: (_e: number, logs: Logs) => { seen.push({ ...logs }); } });
    expect(seen).toHaveLength(3);
    seen.forEach((logs, i) => {
      for (const name of task.metrics) {
        expect(logs[name], name).toBe(h.history[name]![i]);
        expect(logs[`val_${name}`], `val_${name}`).toBe(h.history[`val_${name}`]![i]);
      }
    });
    // Training-mode outputs before each step, not an evaluation after the epoch: the first
    // epoch's running accuracy is below what the trained model scores on the same rows.
    expect(h.history['accuracy']![0]!).toBeLessThan(h.history['val_accuracy']![0]!);
  });

  it('holds one chunk of outputs at a time, however many rows the stream has', async () => {
    const task = TASKS[1]!;
    const m = model(engine, 'float64', task);
    // Each trainEpoch call (one per chunk) gets the array its batches record into: watch them.
    const plan = (m as unknown as { plan: NetworkPlan }).plan;
    const trainEpoch = plan.trainEpoch.bind(plan);
    const recordedInto: FloatArray[] = [];
    plan.trainEpoch = (x, rows, y, batchSize, order, hooks) => {
      if (hooks?.outputs) recordedInto.push(hooks.outputs);
      return trainEpoch(x, rows, y, batchSize, order, hooks);
    };
    const largest = 50;
    const sizes = Array.from({ length: 120 }, (_, i) => 1 + ((i * 37) % largest));  // 120 chunks of 1..50 rows
    const rows = sizes.reduce((a, b) => a + b, 0);
    const X = new Matrix(rows, IN, randomArray(rows * IN, 3, Float64Array));
    const Y = new Matrix(rows, 3, Float64Array.from({ length: rows * 3 }, (_, i) => (classOf(X, Math.floor(i / 3), 3) === i % 3 ? 1 : 0)));
    const h = await m.fit(chunked(X, Y, sizes), { epochs: 2, batchSize: 8 });
    expect(rows).toBeGreaterThan(20 * largest);
    expect(recordedInto).toHaveLength(2 * sizes.length);
    recordedInto.forEach((outputs, i) => expect(outputs.length).toBe(sizes[i % sizes.length]! * 3));
    // Views of one buffer the size of the largest chunk, never of the epoch.
    const buffers = new Set(recordedInto.map((o) => o.buffer));
    expect(Math.max(...[...buffers].map((b) => b.byteLength))).toBe(largest * 3 * 8);
    for (const name of task.metrics) expect(h.history[name], name).toHaveLength(2);
  });

  it('early stopping monitors a training metric of a stream', async () => {
    const task = TASKS[0]!;
    const { X, Y } = data('float64', task);
    // No epoch beats the first by 2: patience 2 stops after epoch 3 of 10.
    const stop = callbacks.earlyStopping({ monitor: 'accuracy', patience: 2, minDelta: 2 });
    const h = await model(engine, 'float64', task).fit(chunked(X, Y, UNEVEN), { epochs: 10, batchSize: 4, callbacks: [stop] });
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(stop.bestEpoch).toBe(0);
    // It reads the monitored value from the logs: a metric not compiled is refused, naming it.
    const plain = new Sequential([new Dense(IN, 3)], { engine, seed: 1, dtype: 'float64' });
    plain.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    await expect(plain.fit(chunked(X, Y, UNEVEN), { epochs: 2, callbacks: [callbacks.earlyStopping({ monitor: 'accuracy' })] }))
      .rejects.toThrow(/monitors 'accuracy', which is not in the epoch logs/);
  });
});

describe('streamed training metrics: native/js parity', () => {
  for (const task of TASKS) {
    it(`${task.label}: both engines report the same metrics (float64)`, async () => {
      const { X, Y } = data('float64', task);
      const [native, js] = await Promise.all((['native', 'js'] as const).map((e) =>
        model(e, 'float64', task).fit(chunked(X, Y, UNEVEN), { epochs: 2, batchSize: 1 })));
      for (const name of task.metrics) {
        native!.history[name]!.forEach((v, i) => expect(Math.abs(v - js!.history[name]![i]!), name).toBeLessThan(1e-9));
      }
    });
  }
});
