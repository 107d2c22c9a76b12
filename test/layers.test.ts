// The regularisation layers through the public API, in both engines: dropout's
// mask statistics and modes, train()/eval(), batch-norm buffers in getWeights,
// engine parity of whole training runs with dropout and batch norm (float64,
// identical masks), getConfig/layerFromConfig, and bad arguments.
import { describe, expect, it } from 'vitest';
import {
  Activation, BatchNorm1d, Dense, Dropout, LayerNorm, Matrix, PReLU, Sequential, init, layerFromConfig, losses, optim,
} from '../lib';
import type { EngineName } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

const X = new Matrix(48, 6, randomArray(48 * 6, 3, Float64Array), 'float64');
const Y = Int32Array.from({ length: 48 }, (_, i) => (i * 5) % 3);

function model(name: EngineName, seed = 5) {
  return new Sequential([
    new Dense(6, 16, { activation: 'relu', kernelRegularizer: { l2: 1e-3 } }), new BatchNorm1d(16), new Dropout(0.3),
    new Dense(16, 8), new PReLU({ numParameters: 8 }), new LayerNorm(8), new Dropout(0.2), new Dense(8, 3),
  ], { engine: name, seed, dtype: 'float64' });
}

describe.each(ENGINES)('dropout and modes (%s engine)', (name) => {
  const e = engine(name);

  it('drops about p of the values, scales the rest by 1/(1 − p), and is the identity in eval mode', () => {
    const p = 0.3;
    const plan = e.createPlan({ dtype: 'float64', maxBatch: 400, layers: [
      { kind: 'dense', inFeatures: 50, outFeatures: 50 }, { kind: 'dropout', p }] });
    const eye = new Float64Array(50 * 51);
    for (let i = 0; i < 50; i++) eye[i * 51] = 1;
    plan.setParams(eye);
    const x = new Float64Array(400 * 50).fill(2);
    const out = new Float64Array(x.length);
    plan.setSeed(1);
    plan.forwardTrain(x, 400, out);
    const zeros = out.filter((v) => v === 0).length;
    expect(Math.abs(zeros / out.length - p)).toBeLessThan(0.01); // 20 000 draws: σ ≈ 0.003
    expect(out.every((v) => v === 0 || v === 2 / (1 - p))).toBe(true);
    // A new forward draws a new mask; the same seed repeats it.
    const again = new Float64Array(x.length);
    plan.forwardTrain(x, 400, again);
    expect(Array.from(again)).not.toEqual(Array.from(out));
    plan.setSeed(1);
    plan.forwardTrain(x, 400, again);
    expect(Array.from(again)).toEqual(Array.from(out));
    // Eval: forwardTrain and predict pass values through.
    plan.setTraining(false);
    plan.forwardTrain(x, 400, again);
    expect(again.every((v) => v === 2)).toBe(true);
    plan.predict(x, 400, again);
    expect(again.every((v) => v === 2)).toBe(true);
  });

  it('predict is always eval mode; trainStep follows train()/eval(); fit trains and restores the mode', async () => {
    const m = model(name);
    m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.05 }) });
    expect(m.training).toBe(true);
    const p1 = m.predict(X).data;
    const p2 = m.predict(X).data;
    expect(Array.from(p1)).toEqual(Array.from(p2)); // no dropout, no batch statistics
    const before = m.getWeights();
    m.trainStep(X, Y);
    const afterTrain = m.getWeights();
    expect(afterTrain['1.num_batches_tracked']![0]).toBe(1);
    expect(maxRelDiff(afterTrain['1.running_mean']!, before['1.running_mean']!)).toBeGreaterThan(0);

    m.eval();
    expect(m.training).toBe(false);
    m.trainStep(X, Y);
    const afterEval = m.getWeights();
    expect(afterEval['1.num_batches_tracked']![0]).toBe(1); // eval mode: running stats frozen
    expect(Array.from(afterEval['1.running_var']!)).toEqual(Array.from(afterTrain['1.running_var']!));
    expect(maxRelDiff(afterEval['0.weight']!, afterTrain['0.weight']!)).toBeGreaterThan(0);

    await m.fit(X, Y, { epochs: 2, batchSize: 16, shuffle: false });
    expect(m.getWeights()['1.num_batches_tracked']![0]).toBe(1 + 2 * 3);
    expect(m.training).toBe(false); // restored
    expect(m.train().training).toBe(true);
  });

  it('batch norm refuses a one-row training batch, and an epoch that would end in one, before any step', async () => {
    const m = model(name);
    m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    const w = m.getWeights()['0.weight']!.slice();
    expect(() => m.trainStep(new Matrix(1, 6, X.data.slice(0, 6), 'float64'), Y.subarray(0, 1))).toThrow(/at least 2 rows/);
    await expect(m.fit(new Matrix(17, 6, X.data.slice(0, 17 * 6), 'float64'), Y.subarray(0, 17),
      { batchSize: 8, shuffle: false })).rejects.toThrow(/batch of 1|at least 2 rows/);
    expect(Array.from(m.getWeights()['0.weight']!)).toEqual(Array.from(w));
    m.eval();
    expect(Number.isFinite(m.trainStep(new Matrix(1, 6, X.data.slice(0, 6), 'float64'), Y.subarray(0, 1)))).toBe(true);
  });

  it('a custom loss trains with the same penalties, reported loss and weights as the built-in one', () => {
    const layers = () => [new Dense(6, 5, { activation: 'tanh', kernelRegularizer: { l1: 0.01, l2: 0.05 } }),
      new Dense(5, 3, { kernelRegularizer: { l2: 0.1 } })];
    const builtIn = new Sequential(layers(), { engine: name, seed: 8, dtype: 'float64' });
    const custom = new Sequential(layers(), { engine: name, seed: 8, dtype: 'float64' });
    const mse = losses.create('mse');
    builtIn.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.1 }) });
    custom.compile({ loss: { forward: (p: Matrix, t: Matrix) => mse.forward(p, t), backward: (p: Matrix, t: Matrix) => mse.backward(p, t) },
      optimizer: new optim.SGD({ lr: 0.1 }) });
    const y = new Matrix(48, 3, randomArray(48 * 3, 4, Float64Array), 'float64');
    for (let i = 0; i < 3; i++) {
      const a = builtIn.trainStep(X, y);
      expect(custom.trainStep(X, y)).toBeCloseTo(a, 12);
    }
    expect(maxRelDiff(custom.getWeights()['0.weight']!, builtIn.getWeights()['0.weight']!)).toBeLessThan(1e-12);
    // The reported loss includes the penalty: it exceeds the data loss evaluate() reports.
    const w = builtIn.getWeights();
    let penalty = 0;
    for (const v of w['0.weight']!) penalty += 0.01 * Math.abs(v) + 0.05 * v * v;
    for (const v of w['1.weight']!) penalty += 0.1 * v * v;
    const before = builtIn.evaluate(X, y)['loss']!;
    expect(builtIn.trainStep(X, y)).toBeCloseTo(before + penalty, 10);
  });

  it('getWeights lists buffers under PyTorch names, and setWeights restores them', () => {
    const m = model(name);
    const w = m.getWeights();
    expect(Object.keys(w)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var',
      '1.num_batches_tracked', '3.weight', '3.bias', '4.weight', '5.weight', '5.bias', '7.weight', '7.bias']);
    expect(Array.from(w['1.weight']!).every((v) => v === 1)).toBe(true);
    expect(Array.from(w['1.running_var']!).every((v) => v === 1)).toBe(true);
    expect(Array.from(w['4.weight']!).every((v) => v === 0.25)).toBe(true);
    const changed = { ...w, '1.running_mean': new Float64Array(16).fill(0.5), '1.num_batches_tracked': [7] };
    m.setWeights(changed);
    expect(Array.from(m.getWeights()['1.running_mean']!)).toEqual(new Array(16).fill(0.5));
    expect(m.getWeights()['1.num_batches_tracked']![0]).toBe(7);
    const { ['1.running_var']: _, ...missing } = w;
    expect(() => m.setWeights(missing)).toThrow(/Missing weights\['1.running_var'\]/);
  });

  it('setWeights refuses a negative running variance and a step count that is not a whole number ≥ 0, changing nothing', () => {
    const m = model(name);
    const w = m.getWeights();
    const x = new Matrix(4, 6, randomArray(24, 12, Float64Array), 'float64');
    const before = Array.from(m.predict(x).data);
    const negative = new Float64Array(16).fill(1);
    negative[3] = -0.5;   // eval mode would take the square root of -0.5 + eps: NaN outputs
    const bad: [Record<string, ArrayLike<number>>, RegExp][] = [
      [{ ...w, '1.running_var': negative }, /Expected values ≥ 0 for weights\['1.running_var'\] but received -0.5 at index 3/],
      [{ ...w, '1.num_batches_tracked': [-1] }, /Expected a whole number ≥ 0 for weights\['1.num_batches_tracked'\] but received -1/],
      [{ ...w, '1.num_batches_tracked': [2.5] }, /Expected a whole number ≥ 0 for weights\['1.num_batches_tracked'\] but received 2.5/],
    ];
    for (const [weights, message] of bad) {
      expect(() => m.setWeights(weights)).toThrow(RangeError);
      expect(() => m.setWeights(weights)).toThrow(message);
    }
    expect(Array.from(m.predict(x).data)).toEqual(before);
    // Zero variance is allowed (a constant feature; eps keeps the division finite), as in PyTorch.
    m.setWeights({ ...w, '1.running_var': new Float64Array(16) });
    expect(Array.from(m.predict(x).data).every(Number.isFinite)).toBe(true);
  });
});

describe('engine parity with dropout and batch norm', () => {
  it('the same seed draws identical dropout masks in both engines', () => {
    const plans = (['native', 'js'] as const).map((n) => {
      const plan = engine(n).createPlan({ dtype: 'float64', maxBatch: 30, layers: [
        { kind: 'dense', inFeatures: 4, outFeatures: 40 }, { kind: 'dropout', p: 0.5 }] });
      plan.setParams(new Float64Array(plan.paramCount).fill(1));
      plan.setSeed(2 ** 40 + 7);
      return plan;
    });
    const outs = plans.map((plan) => {
      const out = new Float64Array(30 * 40);
      plan.forwardTrain(new Float64Array(30 * 4).fill(1), 30, out);
      plan.forwardTrain(new Float64Array(30 * 4).fill(1), 30, out); // the second draw of the stream
      return out;
    });
    expect(Array.from(outs[0]!)).toEqual(Array.from(outs[1]!));
  });

  it('trainStep and fit agree in float64 (dropout masks, batch statistics, penalties)', async () => {
    const [a, b] = (['native', 'js'] as const).map((n) => {
      const m = model(n, 11);
      m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }) });
      return m;
    }) as [Sequential, Sequential];
    const la = [a.trainStep(X, Y), a.trainStep(X, Y)];
    const lb = [b.trainStep(X, Y), b.trainStep(X, Y)];
    expect(maxRelDiff(la, lb)).toBeLessThan(1e-10);
    const ha = await a.fit(X, Y, { epochs: 3, batchSize: 10, shuffle: true });
    const hb = await b.fit(X, Y, { epochs: 3, batchSize: 10, shuffle: true });
    expect(maxRelDiff(ha.history['loss']!, hb.history['loss']!)).toBeLessThan(1e-9);
    const wa = a.getWeights();
    const wb = b.getWeights();
    for (const k of Object.keys(wa)) expect(maxRelDiff(wa[k]!, wb[k]!), k).toBeLessThan(1e-9);
    expect(maxRelDiff(a.predict(X).data, b.predict(X).data)).toBeLessThan(1e-9);
  });

  it('float32 training with the new layers stays within 1e-4 between engines', () => {
    const [a, b] = (['native', 'js'] as const).map((n) => {
      const m = new Sequential([new Dense(6, 12), new BatchNorm1d(12), new PReLU(), new Dropout(0.25),
        new LayerNorm(12), new Dense(12, 3)], { engine: n, seed: 3, dtype: 'float32' });
      m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.05 }) });
      return m;
    }) as [Sequential, Sequential];
    const x = new Matrix(48, 6, Float32Array.from(X.data));
    for (let i = 0; i < 3; i++) expect(Math.abs(a.trainStep(x, Y) - b.trainStep(x, Y))).toBeLessThan(1e-4);
    expect(maxRelDiff(a.predict(x).data, b.predict(x).data)).toBeLessThan(1e-4);
  });
});

describe('layer configs', () => {
  it('getConfig is plain JSON and layerFromConfig rebuilds an equal layer', () => {
    const layers = [
      new Dense(4, 3, { activation: 'relu', weightInit: init.orthogonal(2), biasInit: 0.01, kernelRegularizer: { l1: 0.1, l2: 0.2 } }),
      new Activation('tanh'), new Dropout(0.25), new BatchNorm1d(3, { eps: 1e-3, momentum: 0.2, affine: false }),
      new LayerNorm([3], { eps: 1e-6, elementwiseAffine: false }), new PReLU({ numParameters: 3, init: 0.1 }),
    ];
    expect(layers.map((l) => l.getConfig())).toEqual([
      { type: 'Dense', inFeatures: 4, outFeatures: 3, activation: 'relu', weightInit: { type: 'orthogonal', gain: 2 },
        biasInit: { type: 'constant', value: 0.01 }, kernelRegularizer: { l1: 0.1, l2: 0.2 } },
      { type: 'Activation', activation: 'tanh' },
      { type: 'Dropout', p: 0.25 },
      { type: 'BatchNorm1d', numFeatures: 3, eps: 1e-3, momentum: 0.2, affine: false },
      { type: 'LayerNorm', normalizedShape: 3, eps: 1e-6, elementwiseAffine: false },
      { type: 'PReLU', numParameters: 3, init: 0.1 },
    ]);
    for (const layer of layers) {
      const config = JSON.parse(JSON.stringify(layer.getConfig()));
      const rebuilt = layerFromConfig(config);
      expect(rebuilt.constructor).toBe(layer.constructor);
      expect(rebuilt.getConfig()).toEqual(layer.getConfig());
    }
    const a = new Sequential(layers.map((l) => layerFromConfig(l.getConfig())), { engine: 'js', seed: 4 });
    const b = new Sequential(layers, { engine: 'js', seed: 4 });
    expect(a.getWeights()).toEqual(b.getWeights());
  });

  it('layerFromConfig rejects what is not a layer config', () => {
    expect(() => layerFromConfig(null)).toThrow(TypeError);
    expect(() => layerFromConfig({ type: 'Conv3d' })).toThrow(/config.type/);
    expect(() => layerFromConfig({ type: 'Dropout', p: 2 })).toThrow(RangeError);
    expect(() => layerFromConfig({ type: 'BatchNorm1d', numFeatures: 3, affine: 'yes' })).toThrow(/Expected a boolean for affine/);
  });
});

describe('bad arguments', () => {
  it('layer constructors name the argument', () => {
    expect(() => new Dropout(1)).toThrow(RangeError);
    expect(() => new Dropout(-0.1)).toThrow(/for p/);
    expect(() => new Dropout('0.5' as unknown as number)).toThrow(TypeError);
    expect(() => new BatchNorm1d(0)).toThrow(/numFeatures/);
    expect(() => new BatchNorm1d(3.5)).toThrow(RangeError);
    expect(() => new BatchNorm1d(3, { eps: 0 })).toThrow(/for eps/);
    expect(() => new BatchNorm1d(3, { momentum: 1.5 })).toThrow(/for momentum/);
    expect(() => new BatchNorm1d(3, { affine: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => new BatchNorm1d(3, { eps: 1e-5, mom: 1 } as never)).toThrow(/Unknown option 'mom'/);
    expect(() => new LayerNorm(0)).toThrow(/normalizedShape/);
    expect(() => new LayerNorm([2, 3] as unknown as [number])).toThrow(/normalizedShape/);
    expect(() => new LayerNorm(4, { elementwiseAffine: 'no' as unknown as boolean })).toThrow(/elementwiseAffine/);
    expect(() => new PReLU({ numParameters: 0 })).toThrow(/numParameters/);
    expect(() => new PReLU({ init: Number.NaN })).toThrow(/for init/);
    expect(() => new Dense(2, 2, { kernelRegularizer: { l1: -1 } })).toThrow(/kernelRegularizer.l1/);
    expect(() => new Dense(2, 2, { kernelRegularizer: { l3: 1 } as never })).toThrow(/Unknown option 'l3'/);
    expect(() => new Dense(2, 2, { kernelRegularizer: 0.1 as never })).toThrow(TypeError);
  });

  it('Sequential checks the widths of the new layers', () => {
    expect(() => new Sequential([new Dense(3, 4), new BatchNorm1d(5)])).toThrow(/layers\[1\] to take 4 inputs/);
    expect(() => new Sequential([new Dense(3, 4), new PReLU({ numParameters: 3 })])).toThrow(/layers\[1\]/);
    expect(() => new Sequential([new Dense(3, 4), new LayerNorm(2)])).toThrow(/layers\[1\]/);
  });

  for (const name of ENGINES) {
    it(`the ${name} engine rejects bad layer specs and mode/seed arguments`, () => {
      const e = engine(name);
      const dense = { kind: 'dense', inFeatures: 3, outFeatures: 3 } as const;
      const bad: unknown[] = [
        { kind: 'dropout', p: 1 }, { kind: 'dropout', p: -1 },
        { kind: 'batchnorm', numFeatures: 4, eps: 1e-5, momentum: 0.1, affine: true },
        { kind: 'batchnorm', numFeatures: 3, eps: 0, momentum: 0.1, affine: true },
        { kind: 'batchnorm', numFeatures: 3, eps: 1e-5, momentum: 2, affine: true },
        { kind: 'layernorm', normalizedShape: 2, eps: 1e-5, elementwiseAffine: true },
        { kind: 'prelu', numParameters: 2 },
        { ...dense, l1: -1 },
      ];
      for (const layer of bad) {
        expect(() => e.createPlan({ dtype: 'float64', maxBatch: 4, layers: [dense, layer as never] }), JSON.stringify(layer))
          .toThrow(RangeError);
      }
      const plan = e.createPlan({ dtype: 'float64', maxBatch: 4, layers: [dense] });
      expect(() => plan.setTraining('yes' as unknown as boolean)).toThrow(TypeError);
      expect(() => plan.setSeed(-1)).toThrow(RangeError);
      expect(() => plan.setSeed(2 ** 53)).toThrow(RangeError);
      expect(plan.bufferCount).toBe(0);
    });
  }
});
