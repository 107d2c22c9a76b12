// Activations through the public API, in both engines: the string and the
// object form in Dense and Activation, validation of names and parameters,
// training parity with parameterised activations, a stack of linear dense
// layers equalling one layer (SPEC.md §2), and vanishing gradients in deep
// sigmoid nets but not in ReLU nets (SPEC.md §7).
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Matrix, Sequential, optim } from '../lib';
import type { ActivationOption } from '../lib';
import type { LayerSpec } from '../lib/engine';
import { flatActivation, resolveActivation, splitFlatActivation } from '../lib/activations';
import { loadNative } from '../lib/native';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

const X = new Matrix(24, 5, randomArray(120, 71, Float32Array));
const Y = Int32Array.from({ length: 24 }, (_, i) => (i * 5) % 3);

describe('activation arguments', () => {
  it('Dense and Activation take a name or { name, ...parameters }, with PyTorch defaults filled in', () => {
    expect(new Dense(2, 3, { activation: 'gelu' }).activationParams).toEqual({ approximate: 'none' });
    expect(new Dense(2, 3, { activation: 'elu' }).activationConfig).toEqual({ name: 'elu', alpha: 1 });
    const leaky = new Dense(2, 3, { activation: { name: 'leaky-relu', negativeSlope: 0.1 } });
    expect([leaky.activation, leaky.activationParams]).toEqual(['leaky-relu', { negativeSlope: 0.1 }]);
    expect(leaky.toSpecs()).toEqual([{ kind: 'dense', inFeatures: 2, outFeatures: 3 },
      { kind: 'activation', activation: 'leaky-relu', negativeSlope: 0.1 }]);
    expect(leaky.describe()).toBe("Dense(2 → 3, activation: 'leaky-relu' (negativeSlope 0.1))");
    const sp = new Activation({ name: 'softplus', beta: 2 });
    expect(sp.toSpecs()).toEqual([{ kind: 'activation', activation: 'softplus', beta: 2, threshold: 20 }]);
    expect(sp.describe()).toBe("Activation('softplus' (beta 2, threshold 20))");
    expect(new Activation('linear').toSpecs()).toEqual([]);
    expect(new Activation({ name: 'linear' }).activation).toBe('identity');
    expect(new Activation({ name: 'gelu', approximate: 'tanh' }).activationConfig).toEqual({ name: 'gelu', approximate: 'tanh' });
    // The object form round-trips: the config rebuilds the same layer.
    expect(new Activation(sp.activationConfig).toSpecs()).toEqual(sp.toSpecs());
  });

  it('the flat config form ({ activation, ...parameters }) round-trips and keeps other keys apart', () => {
    for (const a of ['relu', { name: 'leaky-relu', negativeSlope: 0.2 }, { name: 'softplus', beta: 3, threshold: 5 },
      { name: 'gelu', approximate: 'tanh' }, 'swish'] as ActivationOption[]) {
      const r = resolveActivation(a);
      const flat = { type: 'Dense', inFeatures: 3, ...flatActivation(r) };
      const { activation, rest } = splitFlatActivation(flat);
      expect(resolveActivation(activation)).toEqual(r);
      expect(rest).toEqual({ type: 'Dense', inFeatures: 3 });
    }
    expect(flatActivation(resolveActivation({ name: 'elu', alpha: 0.5 }))).toEqual({ activation: 'elu', alpha: 0.5 });
    // A parameter stored for the wrong activation is still refused when the layer is rebuilt.
    expect(() => resolveActivation(splitFlatActivation({ activation: 'relu', alpha: 2 }).activation)).toThrow(/Unknown option 'alpha'/);
  });

  it('ReLU-like activations default to He init, the others to Xavier (SPEC.md §5)', () => {
    for (const a of ['relu', 'leaky-relu', 'elu', 'gelu', 'silu', 'swish'] as const) expect(new Dense(2, 2, { activation: a }).weightInit.type, a).toBe('he-normal');
    for (const a of ['sigmoid', 'tanh', 'softmax', 'log-softmax', 'softplus', 'identity'] as const) expect(new Dense(2, 2, { activation: a }).weightInit.type, a).toBe('xavier-uniform');
  });

  it('bad names and parameters throw TypeError/RangeError naming the argument', () => {
    const bad: [unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      ['mish', RangeError, /for activation but received 'mish'/],
      [42, TypeError, /activation name or an object .* for activation but received 42/],
      [null, TypeError, /for activation but received null/],
      [{}, TypeError, /for activation\.name but received undefined/],
      [{ name: 'nope' }, RangeError, /for activation\.name/],
      [{ name: 'leaky-relu', negativeSlope: NaN }, RangeError, /finite number .* for activation\.negativeSlope but received NaN/],
      [{ name: 'leaky-relu', negativeSlope: '0.1' }, TypeError, /a number for activation\.negativeSlope/],
      [{ name: 'elu', alpha: 0 }, RangeError, /\(0, ∞\) for activation\.alpha but received 0/],
      [{ name: 'elu', alpha: Infinity }, RangeError, /activation\.alpha/],
      [{ name: 'softplus', beta: -1 }, RangeError, /activation\.beta but received -1/],
      [{ name: 'softplus', threshold: 0 }, RangeError, /activation\.threshold/],
      [{ name: 'swish', beta: NaN }, RangeError, /activation\.beta/],
      [{ name: 'gelu', approximate: 'fast' }, RangeError, /'none', 'tanh' for activation\.approximate but received 'fast'/],
      [{ name: 'gelu', approximate: true }, TypeError, /activation\.approximate/],
      [{ name: 'relu', alpha: 1 }, RangeError, /Unknown option 'alpha' for activation 'relu'/],
      [{ name: 'elu', negativeSlope: 0.1 }, RangeError, /Unknown option 'negativeSlope' for activation 'elu'; expected one of name, alpha/],
    ];
    for (const [arg, Kind, message] of bad) {
      for (const make of [() => new Dense(2, 2, { activation: arg as ActivationOption }), () => new Activation(arg as ActivationOption)]) {
        let caught: unknown;
        try { make(); } catch (e) { caught = e; }
        expect(caught, JSON.stringify(arg)).toBeInstanceOf(Kind);
        expect((caught as Error).message, JSON.stringify(arg)).toMatch(message);
      }
    }
    // Accepted edge values, as PyTorch accepts them.
    expect(() => new Activation({ name: 'leaky-relu', negativeSlope: -0.5 })).not.toThrow();
    expect(() => new Activation({ name: 'swish', beta: 0 })).not.toThrow();
  });

  const badSpecs: [string, LayerSpec][] = [
    ['elu alpha −1', { kind: 'activation', activation: 'elu', alpha: -1 }],
    ['softplus beta 0', { kind: 'activation', activation: 'softplus', beta: 0 }],
    ['softplus threshold NaN', { kind: 'activation', activation: 'softplus', threshold: NaN }],
    ['leaky-relu slope ∞', { kind: 'activation', activation: 'leaky-relu', negativeSlope: Infinity }],
    ['gelu approximate "erf"', { kind: 'activation', activation: 'gelu', approximate: 'erf' as never }],
  ];
  for (const name of ENGINES) {
    it(`the ${name} engine re-checks activation parameters in createPlan`, () => {
      for (const [what, act] of badSpecs) {
        const layers: LayerSpec[] = [{ kind: 'dense', inFeatures: 2, outFeatures: 2 }, act];
        expect(() => engine(name).createPlan({ dtype: 'float32', layers, maxBatch: 2 }), what).toThrow(RangeError);
      }
    });
  }

  it('the native binding rejects a parameter of the wrong type with a coded TypeError', () => {
    const binding = loadNative();
    let caught: unknown;
    try {
      new binding.Network({ dtype: 'float64', maxBatch: 2, layers: [{ kind: 'dense', inFeatures: 2, outFeatures: 2 },
        { kind: 'activation', activation: 'elu', alpha: '1' as never }] });
    } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(TypeError);
    expect((caught as Error).message).toMatch(/alpha/);
    expect((caught as { code?: string }).code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
  });
});

describe('activations: training parity between engines', () => {
  const layers = () => [
    new Dense(5, 12, { activation: { name: 'leaky-relu', negativeSlope: 0.1 } }),
    new Dense(12, 10, { activation: 'gelu' }), new Activation({ name: 'elu', alpha: 0.7 }),
    new Dense(10, 8, { activation: { name: 'gelu', approximate: 'tanh' } }),
    new Dense(8, 8, { activation: { name: 'softplus', beta: 2 } }), new Dense(8, 8, { activation: 'selu' }),
    new Dense(8, 6, { activation: { name: 'swish', beta: 1.5 } }), new Dense(6, 6, { activation: 'silu' }),
    new Dense(6, 3, { activation: 'log-softmax' }),
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    it(`Adam steps through every parameterised activation agree (${dtype})`, () => {
      const native = new Sequential(layers(), { engine: 'native', seed: 5, dtype });
      const js = new Sequential(layers(), { engine: 'js', seed: 5, dtype });
      // log-softmax outputs with cross-entropy: CE re-normalises them, which
      // leaves valid log-probabilities unchanged, so this trains as NLL would.
      for (const m of [native, js]) m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }) });
      for (let step = 0; step < 8; step++) {
        const xb = new Matrix(6, 5, X.data.slice(step % 4 * 30, step % 4 * 30 + 30));
        const yb = Y.slice(step % 4 * 6, step % 4 * 6 + 6);
        expect(Math.abs(native.trainStep(xb, yb) - js.trainStep(xb, yb))).toBeLessThan(1e-5);
      }
      const a = native.getWeights();
      const b = js.getWeights();
      for (const k of Object.keys(a)) expect(maxRelDiff(a[k]!, b[k]!), k).toBeLessThan(dtype === 'float32' ? 1e-4 : 1e-10);
      expect(maxRelDiff(native.predict(X).data, js.predict(X).data)).toBeLessThan(dtype === 'float32' ? 1e-4 : 1e-10);
    });
  }
});

describe.each(ENGINES)('SPEC.md §2 and §7 behaviours (%s engine)', (name) => {
  it('without non-linearities a stack of dense layers equals one dense layer', () => {
    const stack = new Sequential([new Dense(5, 7), new Dense(7, 4, { activation: 'linear' }), new Activation('identity'),
      new Dense(4, 3)], { engine: name, seed: 8, dtype: 'float64' });
    const w = stack.getWeights();
    // Compose y = ((x·W1ᵀ + b1)·W2ᵀ + b2)·W3ᵀ + b3 into W = W3·W2·W1, b = W3·(W2·b1 + b2) + b3.
    const mat = (k: string, rows: number, cols: number) => new Matrix(rows, cols, Float64Array.from(w[k]!));
    const mul = (a: Matrix, b: Matrix) => {
      const out = new Float64Array(a.rows * b.cols);
      for (let i = 0; i < a.rows; i++) for (let j = 0; j < b.cols; j++) {
        let s = 0;
        for (let p = 0; p < a.cols; p++) s += a.data[i * a.cols + p]! * b.data[p * b.cols + j]!;
        out[i * b.cols + j] = s;
      }
      return new Matrix(a.rows, b.cols, out);
    };
    const W1 = mat('0.weight', 7, 5);
    const W2 = mat('1.weight', 4, 7);
    const W3 = mat('3.weight', 3, 4);
    const b1 = mat('0.bias', 7, 1);
    const b2 = mat('1.bias', 4, 1);
    const b3 = mat('3.bias', 3, 1);
    // Give the biases values (they start at 0) so that their composition is tested too.
    const bias = { '0.bias': randomArray(7, 81), '1.bias': randomArray(4, 82), '3.bias': randomArray(3, 83) };
    stack.setWeights({ ...w, ...bias });
    b1.data.set(bias['0.bias']); b2.data.set(bias['1.bias']); b3.data.set(bias['3.bias']);
    const W = mul(W3, mul(W2, W1));
    const b21 = mul(W2, b1);
    for (let i = 0; i < 4; i++) b21.data[i] = b21.data[i]! + b2.data[i]!;
    const b = mul(W3, b21);
    for (let i = 0; i < 3; i++) b.data[i] = b.data[i]! + b3.data[i]!;
    const single = new Sequential([new Dense(5, 3)], { engine: name, dtype: 'float64' });
    single.setWeights({ '0.weight': W.data, '0.bias': b.data });
    const x = new Matrix(9, 5, randomArray(45, 84));
    expect(maxRelDiff(stack.predict(x).data, single.predict(x).data)).toBeLessThan(1e-12);
  });

  /**
   * Weight-gradient norms of a 10-layer, 32-wide net, listed from the input
   * layer to the output layer, from the plan's getGrads after one
   * computeGradients (MSE on random data), with the model's default init
   * (Xavier before sigmoid, He before ReLU).
   */
  function layerGradNorms(activation: 'sigmoid' | 'relu'): number[] {
    const width = 32;
    const depth = 10;
    const layers = Array.from({ length: depth }, (_, i) =>
      new Dense(width, i === depth - 1 ? 1 : width, { activation: i === depth - 1 ? 'identity' : activation }));
    const model = new Sequential(layers, { engine: name, seed: 17, dtype: 'float64' });
    const weights = model.getWeights();
    const plan = engine(name).createPlan({ dtype: 'float64', layers: layers.flatMap((l) => l.toSpecs()), maxBatch: 64 });
    const params = new Float64Array(plan.paramCount);
    let off = 0;
    for (let i = 0; i < depth; i++) {
      for (const k of [`${i}.weight`, `${i}.bias`]) { params.set(weights[k]!, off); off += weights[k]!.length; }
    }
    plan.setParams(params);
    plan.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    plan.computeGradients(randomArray(64 * width, 91) as Float64Array, 64, randomArray(64, 92) as Float64Array);
    const grads = new Float64Array(plan.paramCount);
    plan.getGrads(grads);
    const norms: number[] = [];
    off = 0;
    for (let i = 0; i < depth; i++) {
      const n = weights[`${i}.weight`]!.length;
      let s = 0;
      for (let j = off; j < off + n; j++) s += grads[j]! ** 2;
      norms.push(Math.sqrt(s));
      off += n + weights[`${i}.bias`]!.length;
    }
    return norms;
  }

  it('sigmoid-deep nets show vanishing gradient norms layer by layer where ReLU nets do not (SPEC.md §7)', () => {
    const sig = layerGradNorms('sigmoid');
    const relu = layerGradNorms('relu');
    // Sigmoid: every hidden layer's gradient is smaller than the one above it
    // (σ' ≤ 1/4 per layer), and the first is orders of magnitude below the last.
    for (let i = 0; i < sig.length - 2; i++) expect(sig[i]!, `sigmoid layer ${i}`).toBeLessThan(sig[i + 1]!);
    expect(sig[0]! / sig[sig.length - 2]!).toBeLessThan(1e-3);
    // ReLU with He init keeps the gradient's scale through the depth.
    for (const n of relu) expect(n).toBeGreaterThan(0);
    const ratio = relu[0]! / relu[relu.length - 2]!;
    expect(ratio).toBeGreaterThan(0.1);
    expect(ratio).toBeLessThan(10);
  });
});
