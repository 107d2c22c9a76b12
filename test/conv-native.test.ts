// conv2d, convtranspose2d and maxpool2d in the native engine through the
// engine contract (lib/engine.ts): PyTorch's float64 forward and backward values
// (test/fixtures/conv_torch.json, made by conv_torch.py beside it) in both
// dtypes, small CNNs' gradients against finite differences, and the
// binding's and core's refusals of bad specs (coded TypeError/RangeError
// naming the field). The pure-TypeScript engine's half and the parity test
// between the engines come with its own implementation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dtype, LayerSpec, LossSpec, NetworkPlan, Window2d } from '../lib/engine';
import { INVALID_ARGUMENT } from '../lib/validate';
import { engine, maxRelDiff, planParamGradients, randomArray, thrown } from './helpers';

interface ConvCase extends Window2d {
  rows: number; inChannels: number; outChannels: number; outHeight: number; outWidth: number;
  x: number[]; weight: number[]; bias: number[]; y: number[]; dy: number[]; dx: number[]; dWeight: number[]; dBias: number[];
}
interface ConvTransposeCase extends Window2d {
  rows: number; inChannels: number; outChannels: number; outPadHeight: number; outPadWidth: number;
  outHeight: number; outWidth: number;
  x: number[]; weight: number[]; bias: number[]; y: number[]; dy: number[]; dx: number[]; dWeight: number[]; dBias: number[];
}
interface PoolCase extends Window2d {
  rows: number; channels: number; outHeight: number; outWidth: number;
  x: number[]; y: number[]; dy: number[]; dx: number[];
}
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'conv_torch.json'), 'utf8')) as {
  conv2d: ConvCase[]; maxpool2d: PoolCase[]; convtranspose2d: ConvTransposeCase[];
};

const native = engine('native');
const DTYPES: [Dtype, Float32ArrayConstructor | Float64ArrayConstructor, number][] = [
  ['float64', Float64Array, 1e-10],
  ['float32', Float32Array, 1e-5],
];

function windowOf(c: Window2d): Window2d {
  const { inHeight, inWidth, kernelHeight, kernelWidth, strideHeight, strideWidth, padHeight, padWidth } = c;
  return { inHeight, inWidth, kernelHeight, kernelWidth, strideHeight, strideWidth, padHeight, padWidth };
}

/** Relative difference scaled by the reference's largest magnitude (at least 1). */
function scaledDiff(got: ArrayLike<number>, want: number[]): number {
  const scale = Math.max(1, ...want.map(Math.abs));
  return maxRelDiff(got, want, scale);
}

/** forwardTrain and backward (with dL/dinput) of one plan on x, dy. */
function run(plan: NetworkPlan, Ctor: Float32ArrayConstructor | Float64ArrayConstructor, rows: number,
             x: number[], dy: number[], inWidth: number): { y: Float32Array | Float64Array; dx: Float32Array | Float64Array } {
  const y = new Ctor(dy.length);
  plan.forwardTrain(Ctor.from(x), rows, y);
  const dx = new Ctor(rows * inWidth);
  plan.backward(Ctor.from(dy), rows, dx);
  return { y, dx };
}

describe.each(DTYPES)('native conv2d against PyTorch (%s)', (dtype, Ctor, tol) => {
  it.each(FIXTURE.conv2d.map((c) => [
    `${c.inChannels}→${c.outChannels} ch, ${c.inHeight}×${c.inWidth}, kernel ${c.kernelHeight}×${c.kernelWidth}, ` +
    `stride ${c.strideHeight}×${c.strideWidth}, pad ${c.padHeight}×${c.padWidth}`, c] as [string, ConvCase]))('%s', (_, c) => {
    const layer: LayerSpec = { kind: 'conv2d', inChannels: c.inChannels, outChannels: c.outChannels, ...windowOf(c) };
    const plan = native.createPlan({ dtype, layers: [layer], maxBatch: c.rows });
    expect(plan.inputSize).toBe(c.inChannels * c.inHeight * c.inWidth);
    expect(plan.outputSize).toBe(c.outChannels * c.outHeight * c.outWidth);
    expect(plan.paramCount).toBe(c.weight.length + c.bias.length);
    plan.setParams(Ctor.from([...c.weight, ...c.bias]));
    const { y, dx } = run(plan, Ctor, c.rows, c.x, c.dy, plan.inputSize);
    expect(scaledDiff(y, c.y)).toBeLessThan(tol);
    expect(scaledDiff(dx, c.dx)).toBeLessThan(tol);
    const grads = new Ctor(plan.paramCount);
    plan.getGrads(grads);
    expect(scaledDiff(grads.subarray(0, c.weight.length), c.dWeight)).toBeLessThan(tol);
    expect(scaledDiff(grads.subarray(c.weight.length), c.dBias)).toBeLessThan(tol);
    // predict (eval mode, its own buffers) gives the forward's values.
    const p = new Ctor(y.length);
    plan.predict(Ctor.from(c.x), c.rows, p);
    expect(maxRelDiff(p, y, 1)).toBeLessThan(tol);
    // A second backward writes the same gradients (not accumulated).
    plan.backward(Ctor.from(c.dy), c.rows, null);
    const again = new Ctor(plan.paramCount);
    plan.getGrads(again);
    expect(Array.from(again)).toEqual(Array.from(grads));
    plan.dispose?.();
  });
});

describe.each(DTYPES)('native convtranspose2d against PyTorch (%s)', (dtype, Ctor, tol) => {
  it.each(FIXTURE.convtranspose2d.map((c) => [
    `${c.inChannels}→${c.outChannels} ch, ${c.inHeight}×${c.inWidth}, kernel ${c.kernelHeight}×${c.kernelWidth}, ` +
    `stride ${c.strideHeight}×${c.strideWidth}, pad ${c.padHeight}×${c.padWidth}, ` +
    `outPad ${c.outPadHeight}×${c.outPadWidth}`, c] as [string, ConvTransposeCase]))('%s', (_, c) => {
    const layer: LayerSpec = {
      kind: 'convtranspose2d', inChannels: c.inChannels, outChannels: c.outChannels,
      outPadHeight: c.outPadHeight, outPadWidth: c.outPadWidth, ...windowOf(c),
    };
    const plan = native.createPlan({ dtype, layers: [layer], maxBatch: c.rows });
    expect(plan.inputSize).toBe(c.inChannels * c.inHeight * c.inWidth);
    expect(plan.outputSize).toBe(c.outChannels * c.outHeight * c.outWidth);
    expect(plan.paramCount).toBe(c.weight.length + c.bias.length);
    plan.setParams(Ctor.from([...c.weight, ...c.bias]));
    const { y, dx } = run(plan, Ctor, c.rows, c.x, c.dy, plan.inputSize);
    expect(scaledDiff(y, c.y)).toBeLessThan(tol);
    expect(scaledDiff(dx, c.dx)).toBeLessThan(tol);
    const grads = new Ctor(plan.paramCount);
    plan.getGrads(grads);
    expect(scaledDiff(grads.subarray(0, c.weight.length), c.dWeight)).toBeLessThan(tol);
    expect(scaledDiff(grads.subarray(c.weight.length), c.dBias)).toBeLessThan(tol);
    const p = new Ctor(y.length);
    plan.predict(Ctor.from(c.x), c.rows, p);
    expect(maxRelDiff(p, y, 1)).toBeLessThan(tol);
    // A second backward, without dL/dinput, writes the same gradients (not accumulated).
    plan.backward(Ctor.from(c.dy), c.rows, null);
    const again = new Ctor(plan.paramCount);
    plan.getGrads(again);
    expect(Array.from(again)).toEqual(Array.from(grads));
    plan.dispose?.();
  });
});

describe.each(DTYPES)('native maxpool2d against PyTorch (%s)', (dtype, Ctor, tol) => {
  it.each(FIXTURE.maxpool2d.map((c) => [
    `${c.channels} ch, ${c.inHeight}×${c.inWidth}, kernel ${c.kernelHeight}×${c.kernelWidth}, ` +
    `stride ${c.strideHeight}×${c.strideWidth}, pad ${c.padHeight}×${c.padWidth}`, c] as [string, PoolCase]))('%s', (_, c) => {
    // A 1×1 conv2d with identity weights and zero bias before the pooling
    // (a network needs a dense or conv2d layer): it passes x and dL/dx
    // through exactly (1·v + 0·w = v).
    const identity: LayerSpec = {
      kind: 'conv2d', inChannels: c.channels, outChannels: c.channels, inHeight: c.inHeight, inWidth: c.inWidth,
      kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0,
    };
    const pool: LayerSpec = { kind: 'maxpool2d', channels: c.channels, ...windowOf(c) };
    const plan = native.createPlan({ dtype, layers: [identity, pool], maxBatch: c.rows });
    expect(plan.outputSize).toBe(c.channels * c.outHeight * c.outWidth);
    const params = new Ctor(plan.paramCount);
    for (let i = 0; i < c.channels; i++) params[i * c.channels + i] = 1;
    plan.setParams(params);
    const { y, dx } = run(plan, Ctor, c.rows, c.x, c.dy, plan.inputSize);
    // Pooling selects: y is x's values exactly (small integers in the fixture).
    expect(Array.from(y)).toEqual(c.y);
    expect(scaledDiff(dx, c.dx)).toBeLessThan(tol);
  });
});

describe('native CNN gradients', () => {
  const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
  it('conv → relu → maxpool → dense → cross-entropy matches finite differences (float64)', () => {
    const layers: LayerSpec[] = [
      { kind: 'conv2d', inChannels: 2, outChannels: 3, inHeight: 6, inWidth: 5, kernelHeight: 3, kernelWidth: 2,
        strideHeight: 1, strideWidth: 2, padHeight: 1, padWidth: 1 },
      { kind: 'activation', activation: 'relu' },
      { kind: 'maxpool2d', channels: 3, inHeight: 6, inWidth: 3, kernelHeight: 3, kernelWidth: 3,
        strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1 },
      { kind: 'dense', inFeatures: 18, outFeatures: 4 },
    ];
    const rows = 3;
    const plan = native.createPlan({ dtype: 'float64', layers, maxBatch: rows });
    plan.setLoss(CE);
    expect(plan.inputSize).toBe(60);
    const params = randomArray(plan.paramCount, 5) as Float64Array;
    const x = randomArray(rows * plan.inputSize, 6) as Float64Array;
    const { analytic, numeric } = planParamGradients(plan, params, x, rows, new Int32Array([0, 3, 2]));
    expect(maxRelDiff(analytic, numeric, 1e-3)).toBeLessThan(1e-5);
  });
});

describe('native convtranspose2d gradients', () => {
  const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
  it('dense → tanh → convtranspose2d (outPad) → relu → conv2d → dense → cross-entropy matches finite differences (float64)', () => {
    const layers: LayerSpec[] = [
      { kind: 'dense', inFeatures: 5, outFeatures: 2 * 2 * 3 },
      { kind: 'activation', activation: 'tanh' },
      // 2×3 → (2−1)·2 − 2 + 3 + 1 = 4 by (3−1)·2 − 2 + 3 + 0 = 5
      { kind: 'convtranspose2d', inChannels: 2, outChannels: 3, inHeight: 2, inWidth: 3, kernelHeight: 3, kernelWidth: 3,
        strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1, outPadHeight: 1, outPadWidth: 0 },
      { kind: 'activation', activation: 'relu' },
      { kind: 'conv2d', inChannels: 3, outChannels: 2, inHeight: 4, inWidth: 5, kernelHeight: 2, kernelWidth: 2,
        strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 },
      { kind: 'dense', inFeatures: 2 * 2 * 2, outFeatures: 4 },
    ];
    const rows = 3;
    const plan = native.createPlan({ dtype: 'float64', layers, maxBatch: rows });
    plan.setLoss(CE);
    const params = randomArray(plan.paramCount, 7) as Float64Array;
    const x = randomArray(rows * plan.inputSize, 8) as Float64Array;
    const { analytic, numeric } = planParamGradients(plan, params, x, rows, new Int32Array([1, 3, 0]));
    expect(maxRelDiff(analytic, numeric, 1e-3)).toBeLessThan(1e-5);
  });
});

describe('native convtranspose2d specs', () => {
  const CT: LayerSpec = {
    kind: 'convtranspose2d', inChannels: 2, outChannels: 3, inHeight: 3, inWidth: 2, kernelHeight: 3, kernelWidth: 2,
    strideHeight: 2, strideWidth: 1, padHeight: 1, padWidth: 0, outPadHeight: 1, outPadWidth: 0,
  };
  const build = (layers: unknown[]) => () => native.createPlan({ dtype: 'float64', layers: layers as LayerSpec[], maxBatch: 2 });

  it('accepts a valid spec with torch\'s output size and parameter count', () => {
    const plan = build([CT])();
    expect(plan.inputSize).toBe(2 * 3 * 2);
    // (3 − 1)·2 − 2 + 3 + 1 = 6 by (2 − 1)·1 − 0 + 2 + 0 = 3
    expect(plan.outputSize).toBe(3 * 6 * 3);
    expect(plan.paramCount).toBe(2 * 3 * 3 * 2 + 3);
  });

  it('fixes the input width when it is the first layer with one', () => {
    const plan = build([{ kind: 'activation', activation: 'relu' }, CT])();
    expect(plan.inputSize).toBe(12);
  });

  it.each([
    ['inChannels', 0], ['outChannels', -1], ['inHeight', 0], ['inWidth', 2.5], ['kernelHeight', 0],
    ['kernelWidth', Number.NaN], ['strideHeight', 0], ['strideWidth', -1], ['padHeight', -1], ['padWidth', 0.5],
    ['outPadHeight', -1], ['outPadWidth', 0.5],
  ])('refuses convtranspose2d %s = %s with a coded RangeError naming the field', (field, value) => {
    const e = thrown(build([{ ...CT, [field]: value }]));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe(INVALID_ARGUMENT);
    expect(e.message).toContain(`layers[0].${field}`);
  });

  it.each(['outPadHeight', 'outPadWidth', 'inChannels', 'kernelHeight'])(
    'refuses a convtranspose2d whose %s is not a number with a coded TypeError naming the field', (field) => {
      const e = thrown(build([{ ...CT, [field]: '1' }]));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.code).toBe(INVALID_ARGUMENT);
      expect(e.message).toContain(`layers[0].${field}`);
    });

  it.each([
    ['an output padding as large as the stride', [{ ...CT, outPadHeight: 2 }], 'layer 0 (convtranspose2d): expected outPadHeight in [0, 1] but received 2'],
    ['an output padding with stride 1', [{ ...CT, outPadWidth: 1 }], 'layer 0 (convtranspose2d): expected outPadWidth in [0, 0] but received 1'],
    ['padding that leaves no output rows', [{ ...CT, padHeight: 4 }], 'layer 0 (convtranspose2d): expected outHeight'],
    ['padding that leaves no output columns', [{ ...CT, padWidth: 2 }], 'layer 0 (convtranspose2d): expected outWidth'],
    ['a width that does not follow the previous layer', [{ kind: 'dense', inFeatures: 3, outFeatures: 11 }, CT], 'layer 1 (convtranspose2d): expected inChannels*inHeight*inWidth = 11'],
  ])('refuses %s with a coded RangeError naming the layer and field', (_, layers, message) => {
    const e = thrown(build(layers));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe(INVALID_ARGUMENT);
    expect(e.message).toContain(message);
  });
});

describe('native conv2d and maxpool2d specs', () => {
  const CONV: LayerSpec = {
    kind: 'conv2d', inChannels: 2, outChannels: 3, inHeight: 5, inWidth: 4, kernelHeight: 3, kernelWidth: 2,
    strideHeight: 1, strideWidth: 2, padHeight: 0, padWidth: 1,
  };
  const POOL: LayerSpec = {
    kind: 'maxpool2d', channels: 3, inHeight: 3, inWidth: 3, kernelHeight: 2, kernelWidth: 2,
    strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1,
  };
  const build = (layers: unknown[]) => () => native.createPlan({ dtype: 'float64', layers: layers as LayerSpec[], maxBatch: 2 });

  it('accepts a valid conv2d → maxpool2d stack with the widths of SPEC §6', () => {
    const plan = build([CONV, POOL])();
    expect(plan.inputSize).toBe(2 * 5 * 4);
    expect(plan.outputSize).toBe(3 * 4 * 4);  // pool: ⌊(3 + 2 − 2)/1⌋ + 1 = 4
    expect(plan.paramCount).toBe(3 * 2 * 3 * 2 + 3);
  });

  it.each([
    ['inChannels', 0], ['outChannels', -1], ['inHeight', 0], ['inWidth', 2.5], ['kernelHeight', 0],
    ['kernelWidth', Number.NaN], ['strideHeight', 0], ['strideWidth', -1], ['padHeight', -1], ['padWidth', 0.5],
  ])('refuses conv2d %s = %s with a coded RangeError naming the field', (field, value) => {
    const e = thrown(build([{ ...CONV, [field]: value }]));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe(INVALID_ARGUMENT);
    expect(e.message).toContain(`layers[0].${field}`);
  });

  it.each(['channels', 'inHeight', 'kernelWidth', 'strideHeight', 'padWidth'])(
    'refuses a maxpool2d whose %s is not a number with a coded TypeError naming the field', (field) => {
      const e = thrown(build([CONV, { ...POOL, [field]: '2' }]));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.code).toBe(INVALID_ARGUMENT);
      expect(e.message).toContain(`layers[1].${field}`);
    });

  it.each([
    ['a conv2d kernel taller than the padded input', [{ ...CONV, kernelHeight: 6 }], 'layer 0 (conv2d): expected kernelHeight <= inHeight + 2*padHeight (5)'],
    ['a conv2d kernel wider than the padded input', [{ ...CONV, kernelWidth: 7 }], 'layer 0 (conv2d): expected kernelWidth <= inWidth + 2*padWidth (6)'],
    ['maxpool2d padding over half the kernel', [CONV, { ...POOL, padHeight: 2, kernelHeight: 3 }], 'layer 1 (maxpool2d): expected padHeight <= kernelHeight/2 (1)'],
    ['maxpool2d padding over half the kernel (width)', [CONV, { ...POOL, padWidth: 2 }], 'layer 1 (maxpool2d): expected padWidth <= kernelWidth/2 (1)'],
    ['a width that does not follow the previous layer', [CONV, { ...POOL, channels: 2 }], 'layer 1 (maxpool2d): expected channels*inHeight*inWidth = 27'],
    ['a conv2d after a dense layer of another width', [{ kind: 'dense', inFeatures: 3, outFeatures: 39 }, CONV], 'layer 1 (conv2d): expected inChannels*inHeight*inWidth = 39'],
    ['no dense, conv2d, convtranspose2d or maxpool2d layer', [{ kind: 'activation', activation: 'relu' }], 'expected at least one dense, conv2d, convtranspose2d or maxpool2d layer'],
  ])('refuses %s with a coded RangeError naming the layer and field', (_, layers, message) => {
    const e = thrown(build(layers));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe(INVALID_ARGUMENT);
    expect(e.message).toContain(message);
  });

  it('names conv2d, convtranspose2d and maxpool2d among the kinds it expects', () => {
    const e = thrown(build([{ kind: 'conv3d' }]));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe(INVALID_ARGUMENT);
    expect(e.message).toContain("'conv2d', 'convtranspose2d' or 'maxpool2d' for layers[0].kind");
  });
});
