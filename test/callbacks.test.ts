// Callbacks and fit options: hook order, stopping, the built-in callbacks,
// batch-driven epochs, initialEpoch and History — on both engines, plus a
// parity check between them.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { Dense, Matrix, Sequential, callbacks, optim } from '../lib';
import type { Callback, CallbackModel, Logs } from '../lib/callbacks';
import { ENGINES, maxRelDiff, randomArray } from './helpers';
import { tempDir } from './temp-dir';

const X = new Matrix(30, 4, randomArray(120, 21, Float64Array));
const Y = Int32Array.from({ length: 30 }, (_, i) => (X.data[4 * i]! + X.data[4 * i + 1]! > 0 ? 1 : 0));

function model(engine: 'native' | 'js', seed = 7) {
  const m = new Sequential([new Dense(4, 6, { activation: 'tanh' }), new Dense(6, 2)], { engine, seed, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.1 }) });
  return m;
}

function flat(w: Record<string, ArrayLike<number>>): number[] {
  return Object.values(w).flatMap((a) => Array.from(a));
}

describe.each(ENGINES)('callbacks in fit (%s engine)', (engine) => {
  it('calls every hook in order with epoch, batch and logs, awaiting async hooks', async () => {
    const events: string[] = [];
    let slowDone = false;
    const recorder: Callback = {
      onTrainBegin: () => { events.push('trainBegin'); },
      onEpochBegin: (e) => { events.push(`epochBegin ${e}`); },
      onBatchBegin: (b, logs) => { events.push(`batchBegin ${b} size ${logs['size']}`); },
      onBatchEnd: async (b, logs) => {
        expect(Number.isFinite(logs['loss'])).toBe(true);
        await new Promise((r) => setTimeout(r, 1));
        if (b === 0) slowDone = true;
        events.push(`batchEnd ${b}`);
      },
      onEpochEnd: (e, logs) => { events.push(`epochEnd ${e} ${Object.keys(logs).join(',')}`); expect(slowDone).toBe(true); },
      onTrainEnd: (logs) => { events.push(`trainEnd ${Object.keys(logs).join(',')}`); },
    };
    const h = await model(engine).fit(X, Y, { epochs: 2, batchSize: 12, callbacks: [recorder] });
    const epoch = (e: number) => [`epochBegin ${e}`, 'batchBegin 0 size 12', 'batchEnd 0', 'batchBegin 1 size 12', 'batchEnd 1',
      'batchBegin 2 size 6', 'batchEnd 2', `epochEnd ${e} loss,samplesPerSecond`];
    expect(events).toEqual(['trainBegin', ...epoch(0), ...epoch(1), 'trainEnd loss,samplesPerSecond']);
    expect(h.params).toMatchObject({ epochs: 2, initialEpoch: 0, batchSize: 12, samples: 30, steps: 3, metrics: ['loss'] });
  });

  it('stopTraining from a batch hook stops after that batch; from an epoch hook after that epoch', async () => {
    const m = model(engine);
    const batches: number[] = [];
    const h = await m.fit(X, Y, { epochs: 5, batchSize: 10, callbacks: [callbacks.lambda({
      onBatchEnd: (b) => { batches.push(b); if (batches.length === 5) m.stopTraining = true; },
    })] });
    expect(batches).toEqual([0, 1, 2, 0, 1]);
    expect(h.epoch).toEqual([0, 1]);
    const m2 = model(engine);
    const h2 = await m2.fit(X, Y, { epochs: 5, callbacks: [callbacks.lambda({ onEpochEnd: (e) => { if (e === 2) m2.stopTraining = true; } })] });
    expect(h2.epoch).toEqual([0, 1, 2]);
    // A new fit starts with stopTraining cleared.
    expect((await m2.fit(X, Y, { epochs: 2 })).epoch).toEqual([0, 1]);
  });

  it('an epoch driven batch by batch trains exactly as the engine epoch', async () => {
    const a = model(engine, 3);
    const b = model(engine, 3);
    await a.fit(X, Y, { epochs: 3, batchSize: 8 });
    await b.fit(X, Y, { epochs: 3, batchSize: 8, callbacks: [callbacks.lambda({ onBatchEnd: () => undefined })] });
    expect(maxRelDiff(flat(b.getWeights()), flat(a.getWeights()))).toBeLessThan(1e-12);
  });

  it('train metrics are averaged over the batches however the epoch is driven', async () => {
    const yr = new Matrix(30, 2, randomArray(60, 4, Float64Array));
    const make = () => {
      const m = new Sequential([new Dense(4, 2)], { engine, seed: 1, dtype: 'float64' });
      m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.1 }), metrics: ['mse'] });
      return m;
    };
    const driven = await make().fit(X, yr, { epochs: 3, batchSize: 7, callbacks: [callbacks.lambda({ onBatchBegin: () => undefined })] });
    const whole = await make().fit(X, yr, { epochs: 3, batchSize: 7 });
    // Pre-step batch outputs over the whole epoch, both ways: the mse metric is the epoch's mean loss.
    for (const h of [driven, whole]) h.history['mse']!.forEach((v, i) => expect(v).toBeCloseTo(h.history['loss']![i]!, 12));
    expect(whole.history['mse']).toEqual(driven.history['mse']);
  });

  it('earlyStopping stops after patience epochs without improvement and restores the best weights', async () => {
    const m = model(engine);
    const flipped = Int32Array.from(Y, (v) => 1 - v);  // validation labels the model learns to get wrong
    const seen: number[][] = [];
    const stop = callbacks.earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
    const h = await m.fit(X, Y, { epochs: 30, batchSize: 30, shuffle: false, validationData: [X, flipped],
      callbacks: [callbacks.lambda({ onEpochEnd: () => { seen.push(flat(m.getWeights())); } }), stop] });
    const val = h.history['val_loss']!;
    expect(h.epoch.length).toBeLessThan(30);
    expect(stop.stoppedEpoch).toBe(h.epoch.at(-1));
    expect(stop.stoppedEpoch - stop.bestEpoch).toBe(2);
    expect(stop.best).toBe(Math.min(...val));
    expect(flat(m.getWeights())).toEqual(seen[stop.bestEpoch]);
  });

  it('modelCheckpoint saves through model.save (a recording double), every epoch or only the best', async () => {
    const m = model(engine);
    const saved: string[] = [];
    Object.assign(m, { save: async (path: string) => { await new Promise((r) => setTimeout(r, 1)); saved.push(path); } });
    const all = callbacks.modelCheckpoint({ filepath: 'ckpt-{epoch}.safetensors', monitor: 'loss' });
    await m.fit(X, Y, { epochs: 3, callbacks: [all] });
    expect(saved).toEqual(['ckpt-1.safetensors', 'ckpt-2.safetensors', 'ckpt-3.safetensors']);
    saved.length = 0;
    const best = callbacks.modelCheckpoint({ filepath: 'best.safetensors', monitor: 'val_loss', saveBestOnly: true });
    const h = await m.fit(X, Y, { epochs: 6, validationData: [X, Int32Array.from(Y, (v) => 1 - v)], callbacks: [best] });
    const val = h.history['val_loss']!;
    const improvements = val.filter((v, i) => v < Math.min(Infinity, ...val.slice(0, i))).length;
    expect(saved.length).toBe(improvements);
    expect(best.best).toBe(Math.min(...val));
  });

  it('modelCheckpoint with the real model.save writes a file that loads with the trained weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fastmlp-ckpt-'));
    try {
      const m = model(engine);
      const filepath = join(dir, 'epoch-{epoch}.safetensors');
      await m.fit(X, Y, { epochs: 2, callbacks: [callbacks.modelCheckpoint({ filepath, monitor: 'loss' })] });
      expect(readdirSync(dir).sort()).toEqual(['epoch-1.safetensors', 'epoch-2.safetensors']);
      const loaded = await Sequential.load(join(dir, 'epoch-2.safetensors'), { engine });
      expect(Array.from(loaded.predict(X).data)).toEqual(Array.from(m.predict(X).data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('modelCheckpoint with includeOptimizer writes checkpoints that resume training bit for bit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fastmlp-ckpt-'));
    try {
      const make = () => {
        const m = new Sequential([new Dense(4, 8, { activation: 'relu' }), new Dense(8, 2)], { engine, seed: 11 });
        m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.02 }) });
        return m;
      };
      const uninterrupted = make();
      const filepath = join(dir, 'resume-{epoch}.safetensors');
      await uninterrupted.fit(X, Y, { epochs: 4, batchSize: 4, shuffle: true,
        callbacks: [callbacks.modelCheckpoint({ filepath, monitor: 'loss', includeOptimizer: true })] });
      const resumed = await Sequential.load(join(dir, 'resume-2.safetensors'), { engine });
      await resumed.fit(X, Y, { epochs: 4, initialEpoch: 2, batchSize: 4, shuffle: true });
      expect(flat(resumed.getWeights())).toEqual(flat(uninterrupted.getWeights()));
      expect(() => callbacks.modelCheckpoint({ filepath, includeOptimizer: 'yes' as never })).toThrow(TypeError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('terminateOnNaN ends fit without an error at the first non-finite batch loss, update not applied', async () => {
    const m = new Sequential([new Dense(4, 3)], { engine, seed: 4, dtype: 'float64' });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    const x = new Matrix(30, 4, Float64Array.from(randomArray(120, 2), (v, i) => (i >= 80 ? 1e200 : v)));
    const y = new Matrix(30, 3, undefined, 'float64');
    await expect(m.fit(x, y, { epochs: 2, batchSize: 10, shuffle: false })).rejects.toThrow(/epoch 1, batch 3 .*terminateOnNaN/);
    const m2 = new Sequential([new Dense(4, 3)], { engine, seed: 4, dtype: 'float64' });
    m2.compile({ loss: 'mse', optimizer: 'sgd' });
    const t = callbacks.terminateOnNaN();
    const h = await m2.fit(x, y, { epochs: 2, batchSize: 10, shuffle: false, callbacks: [t] });
    expect(t.stoppedAt).toEqual([0, 2]);
    expect(h.epoch).toEqual([0]);
    expect(h.history['loss']![0]).toBeNaN();
    expect(flat(m2.getWeights()).every(Number.isFinite)).toBe(true);
  });

  it('csvLogger writes a header and one row per epoch; progress prints one line per epoch', async () => {
    const path = join(tempDir('fastmlp-'), 'log.csv');
    const lines: string[] = [];
    const m = model(engine);
    const h = await m.fit(X, Y, { epochs: 3, validationSplit: 0.2, callbacks: [callbacks.csvLogger(path),
      callbacks.progress({ write: (l) => lines.push(l) })] });
    const rows = readFileSync(path, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('epoch,loss,val_loss');
    expect(rows.slice(1).map((r) => r.split(',').map(Number))).toEqual(
      h.epoch.map((e, i) => [e, h.history['loss']![i], h.history['val_loss']![i]]));
    expect(lines.length).toBe(3);
    expect(lines[2]).toMatch(/^Epoch 3\/3 - [\d.]+ s - loss: \d\.\d{4} - val_loss: \d\.\d{4} - \d+ samples\/s$/);
    await m.fit(X, Y, { epochs: 1, callbacks: [callbacks.csvLogger(path, { append: true, separator: ';' })] });
    expect(readFileSync(path, 'utf8').trim().split('\n').length).toBe(5);
  });

  it('progressBar prints one line per epoch off a terminal, with the loss and samples/s (lib/cli/progress)', async () => {
    let out = '';
    const stream = new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } });
    const h = await model(engine).fit(X, Y, { epochs: 2, batchSize: 10, callbacks: [callbacks.progressBar({ stream })] });
    const lines = out.trim().split('\n');
    expect(lines.length).toBe(2);
    expect(lines[1]).toMatch(/^epoch 2\/2 - loss \d\.\d{4} - [\d.]+ s - \d+ samples\/s$/);
    expect(Number(lines[1]!.split(' ')[4])).toBeCloseTo(h.history['loss']![1]!, 4);
    expect(() => callbacks.progressBar({ stream: {} as never })).toThrow(/stream/);
  });

  it('initialEpoch resumes numbering; verbose prints through console.log', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const h = await model(engine).fit(X, Y, { epochs: 5, initialEpoch: 3, verbose: true });
      expect(h.epoch).toEqual([3, 4]);
      expect(log.mock.calls.map((c) => String(c[0]).slice(0, 9))).toEqual(['Epoch 4/5', 'Epoch 5/5']);
    } finally {
      log.mockRestore();
    }
  });

  it('classWeight weights each row loss by its class (Keras semantics); all ones change nothing', async () => {
    const a = model(engine, 5);
    const b = model(engine, 5);
    await a.fit(X, Y, { epochs: 2, batchSize: 8 });
    await b.fit(X, Y, { epochs: 2, batchSize: 8, classWeight: [1, 1] });
    expect(maxRelDiff(flat(b.getWeights()), flat(a.getWeights()))).toBeLessThan(1e-12);

    const m = model(engine, 6);
    const logits = m.predict(X);
    const weights = { 0: 3, 1: 0.5 } as Record<number, number>;
    let expected = 0;
    for (let r = 0; r < X.rows; r++) {
      const z = [logits.get(r, 0), logits.get(r, 1)];
      const lse = Math.max(...z) + Math.log(z.reduce((s, v) => s + Math.exp(v - Math.max(...z)), 0));
      expected += weights[Y[r]!]! * (lse - z[Y[r]!]!);
    }
    expected /= X.rows;
    const h = await m.fit(X, Y, { epochs: 1, batchSize: 30, shuffle: false, classWeight: weights, validationData: [X, Y] });
    expect(h.history['loss']![0]).toBeCloseTo(expected, 10);
    // Validation stays unweighted: the plain cross-entropy of the trained model.
    expect(h.history['val_loss']![0]).toBeCloseTo(m.evaluate(X, Y)['loss']!, 10);
    await expect(m.fit(X, Y, { classWeight: { 2: 1 } })).rejects.toThrow(/\[0, 2\)/);
    await expect(m.fit(X, Y, { classWeight: { 0: -1 } })).rejects.toThrow(/classWeight\[0\]/);
    await expect(m.fit(X, Y, { classWeight: 'x' as never })).rejects.toThrow(TypeError);
    const custom = model(engine);
    custom.compile({ loss: { forward: () => 0, backward: (p: Matrix) => p } });
    await expect(custom.fit(X, Y, { classWeight: [1, 2] })).rejects.toThrow(/built-in loss/);
  });

  it('rejects bad callbacks and fit options with named errors', async () => {
    const m = model(engine);
    await expect(m.fit(X, Y, { callbacks: 'x' as never })).rejects.toThrow(/callbacks/);
    await expect(m.fit(X, Y, { callbacks: [null as never] })).rejects.toThrow(/callbacks\[0\]/);
    await expect(m.fit(X, Y, { callbacks: [{ onEpochEnd: 3 } as never] })).rejects.toThrow(/callbacks\[0\]\.onEpochEnd/);
    await expect(m.fit(X, Y, { epochs: 3, initialEpoch: 4 })).rejects.toThrow(/initialEpoch/);
    await expect(m.fit(X, Y, { callbacks: [callbacks.earlyStopping()] })).rejects.toThrow(/val_loss/);
    expect(() => callbacks.lambda({ onEpochEnd: 1 as never })).toThrow(/onEpochEnd/);
    expect(() => callbacks.lambda({ onEpoch: () => 0 } as never)).toThrow(/Unknown option 'onEpoch'/);
    expect(() => callbacks.earlyStopping({ patience: -1 })).toThrow(/patience/);
    expect(() => callbacks.earlyStopping({ mode: 'low' as never })).toThrow(/mode/);
    expect(() => callbacks.modelCheckpoint({} as never)).toThrow(/filepath/);
    expect(() => callbacks.csvLogger('' as never)).toThrow(/path/);
    expect(() => callbacks.progress({ write: 'x' as never })).toThrow(/write/);
    // A callback that throws fails fit, and the model is usable afterwards.
    await expect(m.fit(X, Y, { callbacks: [callbacks.lambda({ onBatchEnd: () => { throw new Error('boom'); } })] })).rejects.toThrow('boom');
    expect(() => m.predict(X)).not.toThrow();
  });
});

describe('earlyStopping on its own (a fake model)', () => {
  function fake(): CallbackModel & { restored: number } {
    let weights = { w: new Float64Array([0]) };
    return {
      stopTraining: false, optimizer: null, restored: 0,
      getWeights() { return { w: weights.w.slice() }; },
      setWeights(w) { weights = { w: Float64Array.from(w['w']!) }; this.restored++; },
    };
  }

  it("'auto' mode maximises accuracy-like names; minDelta ignores small gains", () => {
    const m = fake();
    const s = callbacks.earlyStopping({ monitor: 'val_accuracy', patience: 1, minDelta: 0.01 });
    expect(s.mode).toBe('max');
    s.setModel(m);
    s.onTrainBegin();
    const values = [0.5, 0.6, 0.605, 0.7, 0.7];
    values.forEach((v, e) => { if (!m.stopTraining) s.onEpochEnd(e, { val_accuracy: v } as Logs); });
    expect(s.stoppedEpoch).toBe(2);
    expect(s.bestEpoch).toBe(1);
    expect(callbacks.earlyStopping().mode).toBe('min');
  });
});

describe('batch-driven fit parity between engines', () => {
  it('native and js give the same history and weights (float64)', async () => {
    const results = await Promise.all(ENGINES.map(async (engine) => {
      const m = model(engine, 12);
      m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }), metrics: ['accuracy', 'f1'] });
      const h = await m.fit(X, Y, { epochs: 4, batchSize: 8, validationSplit: 0.2, callbacks: [callbacks.lambda({ onBatchEnd: () => undefined })] });
      return { h, w: flat(m.getWeights()) };
    }));
    const [n, j] = results as [typeof results[0], typeof results[0]];
    expect(Object.keys(n.h.history)).toEqual(Object.keys(j.h.history));
    for (const k of Object.keys(n.h.history)) expect(maxRelDiff(n.h.history[k]!, j.h.history[k]!)).toBeLessThan(1e-9);
    expect(maxRelDiff(n.w, j.w)).toBeLessThan(1e-9);
  });
});
