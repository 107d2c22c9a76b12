// A Keras/PyTorch user's first day with training (audit): what the callbacks,
// schedules and fit options do compared with what Keras 3 and PyTorch 1.13
// document. Each test failed before its fix; all run on both engines.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, Matrix, Sequential, callbacks, optim, schedules } from '../lib';
import { formatCheckpointPath, parseCheckpointPath } from '../lib/checkpoint-path';
import { ENGINES, randomArray } from './helpers';

const X = new Matrix(40, 4, randomArray(160, 31, Float64Array));
const Y = Int32Array.from({ length: 40 }, (_, i) => (X.data[4 * i]! - X.data[4 * i + 2]! > 0 ? 1 : 0));

function model(engine: 'native' | 'js', lr = 0.1) {
  const m = new Sequential([new Dense(4, 6, { activation: 'tanh' }), new Dense(6, 2)], { engine, seed: 11, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr }), metrics: ['accuracy'] });
  return m;
}

function flat(w: Record<string, ArrayLike<number>>): number[] {
  return Object.values(w).flatMap((a) => Array.from(a));
}

/** Records the weights after every epoch (listed before the callback under test, so it sees them first). */
function weightRecorder(m: Sequential, seen: number[][]) {
  return callbacks.lambda({ onEpochEnd: () => { seen.push(flat(m.getWeights())); } });
}

describe.each(ENGINES)('earlyStopping as Keras 3 documents it (%s engine)', (engine) => {
  it('restoreBestWeights restores the best epoch at the end of training even when patience never ran out', async () => {
    const m = model(engine);
    const seen: number[][] = [];
    // mode 'max' on a falling val_loss: the first epoch is the best, patience is never exhausted.
    const stop = callbacks.earlyStopping({ monitor: 'val_loss', mode: 'max', patience: 100, restoreBestWeights: true });
    const h = await m.fit(X, Y, { epochs: 6, batchSize: 40, shuffle: false, validationData: [X, Y],
      callbacks: [weightRecorder(m, seen), stop] });
    expect(h.epoch).toEqual([0, 1, 2, 3, 4, 5]);
    expect(stop.stoppedEpoch).toBe(-1);
    expect(stop.bestEpoch).toBe(0);
    expect(seen[5]).not.toEqual(seen[0]);
    expect(flat(m.getWeights())).toEqual(seen[0]);
  });

  it('without restoreBestWeights the last weights stay', async () => {
    const m = model(engine);
    const seen: number[][] = [];
    const stop = callbacks.earlyStopping({ monitor: 'val_loss', mode: 'max', patience: 100 });
    await m.fit(X, Y, { epochs: 4, batchSize: 40, shuffle: false, validationData: [X, Y], callbacks: [weightRecorder(m, seen), stop] });
    expect(flat(m.getWeights())).toEqual(seen[3]);
  });

  it('baseline: epochs that keep improving without beating it never stop training', async () => {
    const m = model(engine, 0.05);
    const seen: number[][] = [];
    // A val_loss no model reaches here: every epoch improves on the last, none on the baseline.
    const stop = callbacks.earlyStopping({ monitor: 'val_loss', patience: 3, baseline: 1e-9, restoreBestWeights: true });
    const h = await m.fit(X, Y, { epochs: 20, batchSize: 40, shuffle: false, validationData: [X, Y],
      callbacks: [weightRecorder(m, seen), stop] });
    const val = h.history['val_loss']!;
    expect(val.every((v, i) => i === 0 || v < val[i - 1]!)).toBe(true);  // improving all along
    // Keras: an improving epoch never stops training; wait counts from the last epoch that beat the baseline.
    expect(h.epoch.length).toBe(20);
    expect(stop.stoppedEpoch).toBe(-1);
    expect(flat(m.getWeights())).toEqual(seen[19]);

  });

  it('baseline: a flat metric that never beats it stops training once patience epochs passed', () => {
    let stopTraining = false;
    const fake = { get stopTraining() { return stopTraining; }, set stopTraining(v: boolean) { stopTraining = v; },
      optimizer: null, getWeights: () => ({}), setWeights: () => undefined };
    const stop = callbacks.earlyStopping({ monitor: 'm', patience: 2, baseline: -1 });
    stop.setModel(fake);
    stop.onTrainBegin();
    for (let e = 0; e < 10 && !stopTraining; e++) stop.onEpochEnd(e, { m: 0 });
    expect(stop.stoppedEpoch).toBe(1);  // epoch 0 improves on nothing-yet (wait 1), epoch 1 does not (wait 2)
    expect(stop.bestEpoch).toBe(0);
  });

  it('baseline met: behaves as without one', async () => {
    const a = callbacks.earlyStopping({ monitor: 'val_loss', patience: 1, baseline: 100 });
    const b = callbacks.earlyStopping({ monitor: 'val_loss', patience: 1 });
    const flipped = Int32Array.from(Y, (v) => 1 - v);
    const ha = await model(engine).fit(X, Y, { epochs: 30, batchSize: 40, shuffle: false, validationData: [X, flipped], callbacks: [a] });
    const hb = await model(engine).fit(X, Y, { epochs: 30, batchSize: 40, shuffle: false, validationData: [X, flipped], callbacks: [b] });
    expect(ha.epoch).toEqual(hb.epoch);
    expect(ha.epoch.length).toBeLessThan(30);
  });

  it('refuses a bad baseline, naming it', () => {
    expect(() => callbacks.earlyStopping({ baseline: 'x' as never })).toThrow(TypeError);
    expect(() => callbacks.earlyStopping({ baseline: 'x' as never })).toThrow(/for baseline/);
    expect(() => callbacks.earlyStopping({ baseline: NaN })).toThrow(/for baseline/);
  });
});

describe.each(ENGINES)('reduceOnPlateau reads the direction from the monitored name, as Keras (%s engine)', (engine) => {
  it("mode defaults to 'auto': 'max' for accuracy-like names, 'min' otherwise", () => {
    expect(schedules.reduceOnPlateau({ monitor: 'val_accuracy' }).mode).toBe('max');
    expect(schedules.reduceOnPlateau({ monitor: 'val_f1' }).mode).toBe('max');
    expect(schedules.reduceOnPlateau().mode).toBe('min');
    expect(schedules.reduceOnPlateau({ monitor: 'val_accuracy', mode: 'min' }).mode).toBe('min');
    expect(schedules.reduceOnPlateau({ monitor: 'loss', mode: 'auto' }).mode).toBe('min');
  });

  it('a rising accuracy keeps the learning rate; a falling one lowers it', async () => {
    const m = model(engine, 0.2);
    const plateau = schedules.reduceOnPlateau({ monitor: 'accuracy', patience: 0, factor: 0.5, threshold: 0 });
    const h = await m.fit(X, Y, { epochs: 8, batchSize: 40, shuffle: false, callbacks: [plateau] });
    const acc = h.history['accuracy']!;
    // Replay the rule (PyTorch's, mode 'max', threshold 0, patience 0): halve after each epoch not above the best so far.
    let best = -Infinity;
    let lr = 0.2;
    for (const a of acc) {
      if (a > best) best = a; else lr *= 0.5;
    }
    expect(acc.at(-1)!).toBeGreaterThan(acc[0]!);  // the task is learnable: the accuracy does rise
    expect(m.optimizer!.lr).toBeCloseTo(lr, 12);
    expect(m.optimizer!.lr).toBeGreaterThan(0.2 * 0.5 ** acc.length);
  });
});

describe.each(ENGINES)("modelCheckpoint fills Keras's filepath placeholders (%s engine)", (engine) => {
  it('{epoch:02d} and {val_loss:.3f} are formatted from the epoch and its logs, one file per epoch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fastmlp-ckpt-'));
    try {
      const ckpt = callbacks.modelCheckpoint({ filepath: join(dir, 'w.{epoch:02d}-{val_loss:.3f}-{accuracy}.safetensors') });
      const h = await model(engine).fit(X, Y, { epochs: 3, batchSize: 40, validationSplit: 0.25, callbacks: [ckpt] });
      const expected = h.epoch.map((e, i) => `w.${String(e + 1).padStart(2, '0')}-${h.history['val_loss']![i]!.toFixed(3)}-` +
        `${String(h.history['accuracy']![i])}.safetensors`);
      expect(ckpt.saved).toEqual(expected.map((name) => join(dir, name)));
      expect(readdirSync(dir).sort()).toEqual([...expected].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a placeholder that is not in the logs rejects fit, naming filepath and the log names', async () => {
    const ckpt = callbacks.modelCheckpoint({ filepath: join(tmpdir(), 'never-{val_acc:.2f}.safetensors') });
    await expect(model(engine).fit(X, Y, { epochs: 1, batchSize: 40, validationSplit: 0.25, callbacks: [ckpt] }))
      .rejects.toThrow(/filepath.*'val_acc'.*val_accuracy/);
    expect(ckpt.saved).toEqual([]);
  });

  it('refuses a format it does not know, when created', () => {
    expect(() => callbacks.modelCheckpoint({ filepath: 'w-{epoch:>5s}.safetensors' })).toThrow(RangeError);
    expect(() => callbacks.modelCheckpoint({ filepath: 'w-{epoch:>5s}.safetensors' })).toThrow(/for filepath/);
    expect(() => callbacks.modelCheckpoint({ filepath: 'w-{epoch.safetensors' })).toThrow(/for filepath/);
  });
});

describe('checkpoint path formatting (Python format specs)', () => {
  it('pads, rounds and writes exponents as Python does', () => {
    const t = 'a{epoch:03d}_{x:08.3f}_{y:.2e}_{z:5d}_{{lit}}_{w}';
    const out = formatCheckpointPath(t, parseCheckpointPath(t), 6, { x: -1.23456, y: 0.0015, z: 42, w: 0.5 });
    // Python: f"a{7:03d}_{-1.23456:08.3f}_{0.0015:.2e}_{42:5d}_{{lit}}_{0.5}" == 'a007_-001.235_1.50e-03_   42_{lit}_0.5'
    expect(out).toBe('a007_-001.235_1.50e-03_   42_{lit}_0.5');
    expect(() => formatCheckpointPath('{x:d}', parseCheckpointPath('{x:d}'), 0, { x: 0.5 })).toThrow(/integer for \{x:d\}/);
  });
});

describe.each(ENGINES)('a schedule in fit callbacks follows the model it trains (%s engine)', (engine) => {
  it('one callbacks list reused for a second model schedules that model, not the first (as Keras callbacks)', async () => {
    const shared = [schedules.step({ stepSize: 1, gamma: 0.5 })];
    const a = model(engine, 0.1);
    await a.fit(X, Y, { epochs: 2, batchSize: 40, callbacks: shared });
    expect(a.optimizer!.lr).toBeCloseTo(0.025, 12);
    const b = model(engine, 0.1);
    await b.fit(X, Y, { epochs: 2, batchSize: 40, callbacks: shared });
    expect(b.optimizer!.lr).toBeCloseTo(0.025, 12);
    expect(a.optimizer!.lr).toBeCloseTo(0.025, 12);  // left alone
  });

  it('after compile() with a new optimizer the schedule drives the new one', async () => {
    const s = schedules.exponential({ gamma: 0.5 });
    const m = model(engine, 0.1);
    const first = m.optimizer!;
    await m.fit(X, Y, { epochs: 1, batchSize: 40, callbacks: [s] });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.2 }) });
    await m.fit(X, Y, { epochs: 2, batchSize: 40, callbacks: [s] });
    expect(m.optimizer!.lr).toBeCloseTo(0.05, 12);
    expect(first.lr).toBeCloseTo(0.05, 12);
  });

  it('a schedule made for another optimizer is refused, naming the mismatch', async () => {
    const other = new optim.SGD({ lr: 0.3 });
    const s = schedules.step({ stepSize: 1 }, other);
    await expect(model(engine).fit(X, Y, { epochs: 1, batchSize: 40, callbacks: [s] })).rejects.toThrow(/another optimizer/);
    expect(other.lr).toBe(0.3);
  });
});

describe.each(ENGINES)('batch norm and a last batch of one row (%s engine)', (engine) => {
  function bnModel() {
    const m = new Sequential([new Dense(4, 6), new BatchNorm1d(6), new Dense(6, 2)], { engine, seed: 3, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.1 }) });
    return m;
  }
  const X33 = new Matrix(33, 4, randomArray(132, 5, Float64Array));
  const Y33 = Int32Array.from({ length: 33 }, (_, i) => i % 2);

  it('fit refuses it before any step, naming batchSize and a size that works, however the epoch is driven', async () => {
    for (const extra of [{}, { callbacks: [callbacks.lambda({ onBatchEnd: () => undefined })] }]) {
      const m = bnModel();
      const before = flat(m.getWeights());
      const err = await m.fit(X33, Y33, { epochs: 2, batchSize: 32, ...extra }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(/for batchSize but received 32: 33 training rows .* a last batch of 1 row.*batchSize 31/);
      expect(flat(m.getWeights())).toEqual(before);
    }
  });

  it('counts the rows left after validationSplit', async () => {
    const m = bnModel();
    // 33 rows, 10 % held out: Keras trains on floor(33 × 0.9) = 29 rows; batches of 28 leave 1.
    await expect(m.fit(X33, Y33, { epochs: 1, batchSize: 28, validationSplit: 0.1 })).rejects.toThrow(/29 training rows/);
    const h = await m.fit(X33, Y33, { epochs: 1, batchSize: 29, validationSplit: 0.1 });
    expect(h.params.samples).toBe(29);
  });

  it('fit refuses batchSize 1 (every batch one row) and a single training row, before any step', async () => {
    const m = bnModel();
    const before = flat(m.getWeights());
    const one = await m.fit(X33, Y33, { epochs: 1, batchSize: 1 }).then(() => null, (e: unknown) => e);
    expect(one).toBeInstanceOf(RangeError);
    // 33 % 32 = 1, so the suggestion moves to 31: a size that itself works.
    expect((one as Error).message).toMatch(/^Expected a batch size of at least 2 .* for batchSize but received 1; try batchSize 31$/);
    const single = await m.fit(new Matrix(1, 4, new Float64Array(4)), Int32Array.of(0), { epochs: 1, batchSize: 4 })
      .then(() => null, (e: unknown) => e);
    expect(single).toBeInstanceOf(RangeError);
    expect((single as Error).message).toMatch(/^Expected at least 2 training rows .* for x but received 1$/);
    expect(flat(m.getWeights())).toEqual(before);
  });

  it('a model without batch norm trains with a last batch of one row', async () => {
    const m = model(engine);
    const h = await m.fit(X33, Y33, { epochs: 1, batchSize: 32 });
    expect(h.params.steps).toBe(2);
  });
});

describe.each(ENGINES)('trainStep with batch norm (%s engine)', (engine) => {
  it('one row in training mode is refused naming x, the same in both engines; eval mode takes it, as PyTorch', () => {
    const m = new Sequential([new Dense(4, 6), new BatchNorm1d(6), new Dense(6, 2)], { engine, seed: 3, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.1 }) });
    const before = flat(m.getWeights());
    expect(() => m.trainStep([[1, 2, 3, 4]], [0])).toThrow(RangeError);
    expect(() => m.trainStep([[1, 2, 3, 4]], [0])).toThrow(/^Expected at least 2 rows .* for x but received 1 row/);
    expect(flat(m.getWeights())).toEqual(before);
    m.eval();
    expect(Number.isFinite(m.trainStep([[1, 2, 3, 4]], [0]))).toBe(true);
  });
});

describe.each(ENGINES)('validationSplit takes the rows Keras takes (%s engine)', (engine) => {
  it('trains on the first floor(n × (1 − split)) rows and validates on the rest, before shuffling', async () => {
    // Keras (train_validation_split): split_at = floor(n · (1 − split)); 0.1 of 33 → 29 + 4, 0.2 of 1797 → 1437 + 360.
    for (const [rows, split, train] of [[33, 0.1, 29], [40, 0.3, 28], [37, 0.25, 27]] as const) {
      const x = new Matrix(rows, 4, randomArray(rows * 4, rows, Float64Array));
      const y = Int32Array.from({ length: rows }, (_, i) => i % 2);
      const m = model(engine);
      const h = await m.fit(x, y, { epochs: 1, batchSize: 8, validationSplit: split });
      expect(h.params.samples).toBe(train);
      const held = new Matrix(rows - train, 4, x.data.slice(train * 4));
      expect(h.history['val_loss']![0]).toBeCloseTo(m.evaluate(held, y.slice(train)).loss, 12);
    }
  });
});

describe.each(ENGINES)('earlyStopping startFromEpoch (Keras 3) (%s engine)', (engine) => {
  it('ignores the epochs before it: no stop, and the best is taken from it on', async () => {
    const m = model(engine);
    const seen: number[][] = [];
    const flipped = Int32Array.from(Y, (v) => 1 - v);  // val_loss rises from the first epoch
    const stop = callbacks.earlyStopping({ monitor: 'val_loss', patience: 1, startFromEpoch: 4, restoreBestWeights: true });
    const h = await m.fit(X, Y, { epochs: 20, batchSize: 40, shuffle: false, validationData: [X, flipped],
      callbacks: [weightRecorder(m, seen), stop] });
    const val = h.history['val_loss']!;
    expect(val[5]!).toBeGreaterThan(val[4]!);
    expect(h.epoch).toEqual([0, 1, 2, 3, 4, 5]);  // epoch 4 is the first counted, 5 does not improve on it
    expect(stop.bestEpoch).toBe(4);
    expect(stop.stoppedEpoch).toBe(5);
    expect(flat(m.getWeights())).toEqual(seen[4]);
    expect(() => callbacks.earlyStopping({ startFromEpoch: -1 })).toThrow(/for startFromEpoch/);
  });
});

describe.each(ENGINES)('terminateOnNaN with a reduceOnPlateau on the loss (%s engine)', (engine) => {
  it('ends fit quietly: the NaN epoch counts as a bad epoch, as in PyTorch and Keras', async () => {
    const m = new Sequential([new Dense(2, 1)], { engine, seed: 1 });
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 1e30 }) });  // diverges in the first epoch
    const x = new Matrix(40, 2, Float32Array.from({ length: 80 }, (_, i) => (i % 7) + 1));
    const y = Float32Array.from({ length: 40 }, (_, i) => i);
    const nan = callbacks.terminateOnNaN();
    const plateau = schedules.reduceOnPlateau({ monitor: 'loss', patience: 0, factor: 0.5 });
    const h = await m.fit(x, y, { epochs: 5, batchSize: 10, callbacks: [nan, plateau] });
    expect(nan.stoppedAt).not.toBeNull();
    expect(Number.isNaN(h.history['loss']!.at(-1))).toBe(true);
    // torch: ReduceLROnPlateau.step(nan) is not better than the best → one bad epoch (patience 0: lr halves).
    expect(m.optimizer!.lr).toBe(0.5e30);
  });

  it('a hand-stepped NaN is a bad epoch; a value that is not a number is still refused', () => {
    const opt = { lr: 1 };
    const s = schedules.reduceOnPlateau({ patience: 1, factor: 0.5 }, opt);
    s.step(1);
    s.step(NaN);
    expect(opt.lr).toBe(1);
    s.step(NaN);
    expect(opt.lr).toBe(0.5);
    expect(() => s.step('1' as never)).toThrow(TypeError);
  });
});
