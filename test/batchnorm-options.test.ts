// BatchNorm1d's torch options: momentum null (torch's momentum=None, a
// cumulative moving average with factor 1/num_batches_tracked) and
// trackRunningStats false (no running buffers; batch statistics in eval mode
// too). Against torch 1.13 (test/fixtures/batchnorm_options_torch.py: four SGD
// steps in training mode, then an eval forward), in both engines, forward and
// backward; parity between the engines; state_dict names, save/load,
// summary(), ONNX export (refused without running statistics) and bad options.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, Matrix, Sequential, io, layerFromConfig, optim } from '../lib';
import type { EngineName, LayerSpec } from '../lib/engine';
import { ENGINES, engine as engineOf, maxRelDiff, planParamGradients, randomArray } from './helpers';
import fixture from './fixtures/batchnorm_options_torch.json';

type Case = (typeof fixture.cases)[number];

function torchShaped(c: Case, engine: EngineName): Sequential {
  const bn = new BatchNorm1d(5, { momentum: c.momentum, affine: c.affine, trackRunningStats: c.trackRunningStats });
  const m = new Sequential([new Dense(4, 5), bn, new Dense(5, 2)], { engine, dtype: 'float64', seed: 0 });
  m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.1 }) });
  m.setWeights(c.initial);
  return m;
}

/** Runs the fixture's steps; returns the losses. */
function train(m: Sequential, c: Case): number[] {
  m.train();
  return c.x.map((x, i) => m.trainStep(new Matrix(fixture.batch, 4, Float64Array.from(x), 'float64'),
    new Matrix(fixture.batch, 2, Float64Array.from(c.y[i]!), 'float64')));
}

describe.each(ENGINES)('BatchNorm1d momentum null and trackRunningStats false against torch 1.13 (%s engine)', (engine) => {
  for (const c of fixture.cases) {
    it(`${c.name}: every step's loss, the trained state_dict and the eval output match torch (1e-12)`, () => {
      const m = torchShaped(c, engine);
      const losses = train(m, c);
      expect(maxRelDiff(losses, c.losses)).toBeLessThan(1e-12);
      const w = m.getWeights();
      // The same tensors under the same names: no running buffers when untracked.
      expect(Object.keys(w).sort()).toEqual(Object.keys(c.final).sort());
      for (const [name, values] of Object.entries(c.final)) expect(maxRelDiff(w[name]!, values)).toBeLessThan(1e-12);
      const y = m.predict(new Matrix(c.evalRows, 4, Float64Array.from(c.xEval), 'float64'));
      expect(maxRelDiff(y.data, c.yEval)).toBeLessThan(1e-12);
    });
  }

  it('cumulative average: after n steps the running mean is the plain mean of the n batch means', () => {
    // An identity Dense that never learns (lr 0) feeds the batches through unchanged.
    const m = new Sequential([new Dense(3, 3), new BatchNorm1d(3, { momentum: null, affine: false })], { engine, dtype: 'float64' });
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0 }) });
    m.setWeights({ ...m.getWeights(), '0.weight': [1, 0, 0, 0, 1, 0, 0, 0, 1], '0.bias': [0, 0, 0] });
    const means = [0, 0, 0];
    const n = 5;
    for (let s = 0; s < n; s++) {
      const x = randomArray(4 * 3, 30 + s, Float64Array);
      for (let i = 0; i < x.length; i++) x[i] = x[i]! + s; // batches centred ever higher
      for (let i = 0; i < x.length; i++) means[i % 3] += x[i]! / 4 / n;
      m.trainStep(new Matrix(4, 3, x, 'float64'), new Matrix(4, 3, new Float64Array(12), 'float64'));
    }
    const w = m.getWeights();
    expect(maxRelDiff(w['1.running_mean']!, means)).toBeLessThan(1e-14);
    expect(Array.from(w['1.num_batches_tracked']!)).toEqual([n]);
  });

  it('untracked: eval mode normalises with the batch (outputs have mean 0, variance 1 per feature) and changes nothing', () => {
    const m = new Sequential([new Dense(3, 4), new BatchNorm1d(4, { trackRunningStats: false, affine: false })],
      { engine, dtype: 'float64', seed: 4 });
    m.eval();
    // More rows than the plan's initial batch capacity (32): still one batch, as torch.
    const rows = 100;
    const y = m.predict(new Matrix(rows, 3, randomArray(rows * 3, 9, Float64Array), 'float64'));
    for (let c = 0; c < 4; c++) {
      let s = 0;
      let q = 0;
      for (let r = 0; r < rows; r++) s += y.data[r * 4 + c]!;
      for (let r = 0; r < rows; r++) q += (y.data[r * 4 + c]! - s / rows) ** 2;
      expect(Math.abs(s / rows)).toBeLessThan(1e-12);
      expect(Math.abs(q / rows - 1)).toBeLessThan(1e-3); // ε = 1e-5 keeps it just under 1
    }
    // One row has no batch variance: refused, as torch refuses it.
    expect(() => m.predict(new Matrix(1, 3, new Float64Array(3), 'float64'))).toThrow(/more than 1 row|at least 2/);
  });

  it('untracked: gradients in eval mode go through the batch statistics (trainStep in eval matches train mode)', () => {
    const make = () => {
      const m = new Sequential([new Dense(3, 4), new BatchNorm1d(4, { trackRunningStats: false }), new Dense(4, 2)],
        { engine, dtype: 'float64', seed: 5 });
      m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.1 }) });
      return m;
    };
    const x = new Matrix(6, 3, randomArray(18, 3, Float64Array), 'float64');
    const t = new Matrix(6, 2, randomArray(12, 4, Float64Array), 'float64');
    const a = make();
    const b = make();
    b.eval();
    for (let i = 0; i < 3; i++) expect(b.trainStep(x, t)).toBeCloseTo(a.trainStep(x, t), 14);
    expect(maxRelDiff(b.getWeights()['0.weight']!, a.getWeights()['0.weight']!)).toBeLessThan(1e-14);
  });
});

describe.each(ENGINES)('BatchNorm1d options: finite-difference gradients (%s engine, float64)', (name) => {
  const layers = (bn: Partial<LayerSpec>): LayerSpec[] => [{ kind: 'dense', inFeatures: 3, outFeatures: 5 },
    { kind: 'batchnorm', numFeatures: 5, eps: 1e-5, momentum: 0.1, affine: true, ...bn } as LayerSpec,
    { kind: 'activation', activation: 'tanh' }, { kind: 'dense', inFeatures: 5, outFeatures: 2 }];
  it.each([
    ['untracked, eval mode (through the batch statistics)', { trackRunningStats: false }, false],
    ['untracked, training mode', { trackRunningStats: false, momentum: null }, true],
    ['momentum null, training mode', { momentum: null }, true],
  ] as const)('%s', (_label, bn, training) => {
    const plan = engineOf(name).createPlan({ dtype: 'float64', layers: layers(bn), maxBatch: 6 });
    plan.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    plan.setTraining(training);
    const params = randomArray(plan.paramCount, 21) as Float64Array;
    const { analytic, numeric } = planParamGradients(plan, params, randomArray(18, 22) as Float64Array, 6,
      randomArray(12, 23) as Float64Array);
    expect(maxRelDiff(analytic, numeric)).toBeLessThan(1e-6);
    expect(analytic.some((g) => g !== 0)).toBe(true);
    plan.dispose();
  });
});

describe('BatchNorm1d options: the engines agree (fit)', () => {
  // SGD, not Adam: the bias of the Dense before batch norm has a gradient that is
  // rounding noise (the normalisation removes any shift), which Adam would blow
  // up to full-size steps that differ between the engines.
  const cases = [[{ momentum: null }], [{ trackRunningStats: false }], [{ momentum: null, trackRunningStats: false, affine: false }]] as const;
  for (const [dtype, tol] of [['float32', 1e-4], ['float64', 1e-10]] as const) {
    it.each(cases)(`%j (${dtype}): weights, running statistics and predict agree`, async (opts) => {
      const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
      const x = new Matrix(64, 6, randomArray(64 * 6, 12, Ctor), dtype);
      const y = Int32Array.from({ length: 64 }, (_, i) => i % 3);
      const [native, js] = await Promise.all(ENGINES.map(async (engine) => {
        const m = new Sequential([new Dense(6, 8), new BatchNorm1d(8, opts), new Dense(8, 3)], { engine, seed: 8, dtype });
        m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.1 }) });
        await m.fit(x, y, { epochs: 3, batchSize: 16, shuffle: false });
        return { w: m.getWeights(), p: m.predict(x).data };
      }));
      expect(Object.keys(native!.w)).toEqual(Object.keys(js!.w));
      for (const name of Object.keys(js!.w)) expect(maxRelDiff(native!.w[name]!, js!.w[name]!)).toBeLessThan(tol);
      expect(maxRelDiff(native!.p, js!.p)).toBeLessThan(tol);
    });
  }
});

describe.each(ENGINES)('BatchNorm1d options: config, files, summary and ONNX (%s engine)', (engine) => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-bn-options-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('getConfig/describe record the options; save/load keeps them, the state and the behaviour', async () => {
    const m = new Sequential([new Dense(3, 4), new BatchNorm1d(4, { momentum: null }), new Dense(4, 4),
      new BatchNorm1d(4, { trackRunningStats: false })], { engine, seed: 2, dtype: 'float64' });
    expect(m.layers[1]!.getConfig()).toEqual({ type: 'BatchNorm1d', numFeatures: 4, eps: 1e-5, momentum: null, affine: true });
    expect(m.layers[3]!.getConfig()).toMatchObject({ momentum: 0.1, trackRunningStats: false });
    expect(m.layers[1]!.describe()).toBe('BatchNorm1d(4, momentum null)');
    expect(m.layers[3]!.describe()).toBe('BatchNorm1d(4, trackRunningStats false)');
    expect(m.summary()).toContain('BatchNorm1d(4, trackRunningStats false)');
    expect(JSON.stringify(layerFromConfig(JSON.parse(JSON.stringify(m.layers[1]!.getConfig()))).getConfig()))
      .toBe(JSON.stringify(m.layers[1]!.getConfig()));
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    const x = new Matrix(8, 3, randomArray(24, 1, Float64Array), 'float64');
    for (let i = 0; i < 3; i++) m.trainStep(x, new Matrix(8, 4, randomArray(32, 2 + i, Float64Array), 'float64'));
    expect(Object.keys(m.getWeights()).filter((k) => k.startsWith('3.'))).toEqual(['3.weight', '3.bias']);
    const file = path.join(dir, `bn-${engine}.safetensors`);
    await m.save(file);
    const back = await Sequential.load(file, { engine });
    expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
    expect(Array.from(back.getWeights()['1.num_batches_tracked']!)).toEqual([3]);
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    // The loaded model continues the cumulative average where the saved one stopped.
    back.compile({ loss: 'mse', optimizer: 'sgd' });
    const t = new Matrix(8, 4, randomArray(32, 9, Float64Array), 'float64');
    m.trainStep(x, t);
    back.trainStep(x, t);
    expect(Array.from(back.getWeights()['1.running_mean']!)).toEqual(Array.from(m.getWeights()['1.running_mean']!));
  });

  it('ONNX: momentum null exports (eval uses the running statistics, onnxruntime agrees); untracked is refused clearly', async () => {
    const ort = await import('onnxruntime-node');
    const m = new Sequential([new Dense(3, 4), new BatchNorm1d(4, { momentum: null }), new Dense(4, 2)], { engine, seed: 6 });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    const x = new Matrix(8, 3, randomArray(24, 5, Float32Array));
    for (let i = 0; i < 3; i++) m.trainStep(x, new Matrix(8, 2, randomArray(16, 7 + i, Float32Array)));
    const file = path.join(dir, `bn-${engine}.onnx`);
    await io.exportOnnx(m, file);
    const session = await ort.InferenceSession.create(file);
    const input = session.inputNames[0]!;
    const result = await session.run({ [input]: new ort.Tensor('float32', Float32Array.from(x.data), [8, 3]) });
    expect(maxRelDiff(result[session.outputNames[0]!]!.data as Float32Array, m.predict(x).data)).toBeLessThan(1e-5);
    const untracked = new Sequential([new Dense(3, 4), new BatchNorm1d(4, { trackRunningStats: false })], { engine, seed: 6 });
    await expect(io.exportOnnx(untracked, path.join(dir, 'no.onnx'))).rejects.toThrow(/layer 1 \(BatchNorm1d\) has trackRunningStats false/);
  });
});

describe('BatchNorm1d options: bad values throw, naming the argument', () => {
  it('momentum and trackRunningStats', () => {
    expect(() => new BatchNorm1d(3, { momentum: 1.5 })).toThrow(RangeError);
    expect(() => new BatchNorm1d(3, { momentum: 1.5 })).toThrow(/for momentum/);
    expect(() => new BatchNorm1d(3, { momentum: 'none' as never })).toThrow(TypeError);
    expect(() => new BatchNorm1d(3, { trackRunningStats: 0 as never })).toThrow(TypeError);
    expect(() => new BatchNorm1d(3, { trackRunningStats: 0 as never })).toThrow(/for trackRunningStats/);
    expect(() => new BatchNorm1d(3, { trackRunningStats: 'no' as never })).toThrow(/for trackRunningStats/);
  });

  it.each(ENGINES)('the %s engine re-checks a raw spec', (engine) => {
    const bad = { kind: 'batchnorm', numFeatures: 3, eps: 1e-5, momentum: null, affine: true, trackRunningStats: 1 };
    const make = () => engineOf(engine).createPlan({ dtype: 'float32', layers:
      [{ kind: 'dense', inFeatures: 2, outFeatures: 3 }, bad as never], maxBatch: 4 });
    expect(make).toThrow(/trackRunningStats/);
  });
});

describe.each(ENGINES)('BatchNorm1d trackRunningStats false: every eval read sees the whole input as one batch (%s engine)', (engine) => {
  it('predictAsync, evaluate and evaluateAsync with a small batchSize equal predict on 100 rows', async () => {
    const m = new Sequential([new Dense(3, 4), new BatchNorm1d(4, { trackRunningStats: false }), new Dense(4, 2)],
      { engine, dtype: 'float64', seed: 4 });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    const x = new Matrix(100, 3, randomArray(300, 19, Float64Array), 'float64');
    const y = new Matrix(100, 2, randomArray(200, 20, Float64Array), 'float64');
    const p = m.predict(x).data;
    expect(Array.from((await m.predictAsync(x, { batchSize: 8 })).data)).toEqual(Array.from(p));
    let mse = 0;
    for (let i = 0; i < p.length; i++) mse += (p[i]! - y.data[i]!) ** 2 / p.length;
    expect(m.evaluate(x, y)['loss']).toBeCloseTo(mse, 14);
    expect((await m.evaluateAsync(x, y, { batchSize: 8 }))['loss']).toBeCloseTo(mse, 14);
    // Per-chunk statistics would differ: the first 32 rows alone normalise differently.
    const head = m.predict(new Matrix(32, 3, x.data.slice(0, 96), 'float64')).data;
    expect(maxRelDiff(head, p.slice(0, 64))).toBeGreaterThan(1e-6);
  });
});

describe.each(ENGINES)('BatchNorm1d trackRunningStats false in fit (%s engine)', (engine) => {
  it('validation runs the held-out rows as one batch: its loss is evaluate\'s on them', async () => {
    const m = new Sequential([new Dense(3, 4), new BatchNorm1d(4, { trackRunningStats: false }), new Dense(4, 2)],
      { engine, dtype: 'float64', seed: 4 });
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.05 }) });
    const x = new Matrix(200, 3, randomArray(600, 31, Float64Array), 'float64');
    const y = new Matrix(200, 2, randomArray(400, 32, Float64Array), 'float64');
    const history = await m.fit(x, y, { epochs: 2, batchSize: 10, validationSplit: 0.5, shuffle: false });
    const valLoss = history.history['val_loss']!;
    const valX = new Matrix(100, 3, x.data.slice(300), 'float64');
    const valY = new Matrix(100, 2, y.data.slice(200), 'float64');
    expect(valLoss).toHaveLength(2);
    expect(valLoss[1]!).toBeCloseTo(m.evaluate(valX, valY)['loss']!, 12);
  });
});
