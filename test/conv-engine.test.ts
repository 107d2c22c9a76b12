// The conv2d, convtranspose2d and maxpool2d layer kinds (SPEC.md §6) through
// the engine contract, on both engines: PyTorch's values
// (test/fixtures/conv_torch.json, made by conv_torch.py beside it, float64),
// finite-difference gradients of small conv → relu → maxpool → dense networks
// and of networks with a convtranspose2d, the spec checks, the sliced (async)
// passes against the synchronous ones, a training run, and parity between the
// engines.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Dtype, EngineName, FloatArray, LayerSpec, LossSpec, NetworkPlan, OptimizerSpec, Window2d } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, numericGradient, planParamGradients, randomArray, thrown } from './helpers';

interface ConvCase extends Window2d {
  rows: number; inChannels: number; outChannels: number; outHeight: number; outWidth: number;
  x: number[]; weight: number[]; bias: number[]; y: number[]; dy: number[]; dx: number[]; dWeight: number[]; dBias: number[];
}
interface PoolCase extends Window2d {
  rows: number; channels: number; outHeight: number; outWidth: number;
  x: number[]; y: number[]; dy: number[]; dx: number[];
}
/** torch.nn.functional.conv_transpose2d's case: weight is inChannels × outChannels × kH × kW. */
interface TransposedCase extends ConvCase { outPadHeight: number; outPadWidth: number }
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/conv_torch.json', import.meta.url), 'utf8')) as
  { conv2d: ConvCase[]; maxpool2d: PoolCase[]; convtranspose2d: TransposedCase[] };

const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
const ADAM: OptimizerSpec = { kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8 };
/** Relative error allowed against PyTorch's float64 values, per dtype (absolute below 1). */
const TOLERANCE: Record<Dtype, number> = { float64: 1e-10, float32: 1e-5 };

function window(c: Window2d): Window2d {
  const { inHeight, inWidth, kernelHeight, kernelWidth, strideHeight, strideWidth, padHeight, padWidth } = c;
  return { inHeight, inWidth, kernelHeight, kernelWidth, strideHeight, strideWidth, padHeight, padWidth };
}

function convSpec(c: ConvCase): LayerSpec {
  return { kind: 'conv2d', inChannels: c.inChannels, outChannels: c.outChannels, ...window(c) };
}

function transposedSpec(c: TransposedCase): LayerSpec {
  return { kind: 'convtranspose2d', inChannels: c.inChannels, outChannels: c.outChannels,
    outPadHeight: c.outPadHeight, outPadWidth: c.outPadWidth, ...window(c) };
}

function floats(dtype: Dtype, values: ArrayLike<number>): FloatArray {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

/** A 1×1 conv2d that copies its channels (identity weights, zero bias): puts a maxpool2d after a learnable layer. */
function identityConv(channels: number, w: Window2d): { spec: LayerSpec; params: number[] } {
  const spec: LayerSpec = { kind: 'conv2d', inChannels: channels, outChannels: channels, inHeight: w.inHeight,
    inWidth: w.inWidth, kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0 };
  const params = new Array<number>(channels * channels + channels).fill(0);
  for (let c = 0; c < channels; c++) params[c * channels + c] = 1;
  return { spec, params };
}

/** conv → relu → maxpool → dense, on rows of 2 × 6 × 6 images (two geometries). */
const SMALL_NETS: [string, LayerSpec[]][] = [
  ['3×3 kernel, stride 1, padding 1; 2×2 pool', [
    { kind: 'conv2d', inChannels: 2, outChannels: 3, inHeight: 6, inWidth: 6, kernelHeight: 3, kernelWidth: 3,
      strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 },
    { kind: 'activation', activation: 'relu' },
    { kind: 'maxpool2d', channels: 3, inHeight: 6, inWidth: 6, kernelHeight: 2, kernelWidth: 2,
      strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 },
    { kind: 'dense', inFeatures: 27, outFeatures: 4 }]],
  ['2×3 kernel, stride 2, padding (1, 0); padded 3×3 pool', [
    { kind: 'conv2d', inChannels: 2, outChannels: 3, inHeight: 6, inWidth: 6, kernelHeight: 2, kernelWidth: 3,
      strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 0 },   // → 3 × 4 × 2
    { kind: 'activation', activation: 'tanh' },
    { kind: 'maxpool2d', channels: 3, inHeight: 4, inWidth: 2, kernelHeight: 3, kernelWidth: 2,
      strideHeight: 2, strideWidth: 1, padHeight: 1, padWidth: 1 },  // → 3 × 2 × 3
    { kind: 'dense', inFeatures: 18, outFeatures: 4 }]],
  ['conv2d stride 2 → convtranspose2d 3×3, stride 2, padding 1, output padding 1 (its last row and column in no window); 2×2 pool', [
    { kind: 'conv2d', inChannels: 2, outChannels: 3, inHeight: 6, inWidth: 6, kernelHeight: 3, kernelWidth: 3,
      strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1 },   // → 3 × 3 × 3
    { kind: 'activation', activation: 'tanh' },
    { kind: 'convtranspose2d', inChannels: 3, outChannels: 2, inHeight: 3, inWidth: 3, kernelHeight: 3, kernelWidth: 3,
      strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1, outPadHeight: 1, outPadWidth: 1 },  // → 2 × 6 × 6
    { kind: 'maxpool2d', channels: 2, inHeight: 6, inWidth: 6, kernelHeight: 2, kernelWidth: 2,
      strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 },  // → 2 × 3 × 3
    { kind: 'dense', inFeatures: 18, outFeatures: 4 }]],
  ['convtranspose2d first: 2×3 kernel, stride (2, 1), padding (0, 1), output padding (1, 0)', [
    { kind: 'convtranspose2d', inChannels: 2, outChannels: 2, inHeight: 2, inWidth: 3, kernelHeight: 2, kernelWidth: 3,
      strideHeight: 2, strideWidth: 1, padHeight: 0, padWidth: 1, outPadHeight: 1, outPadWidth: 0 },  // → 2 × 5 × 3
    { kind: 'activation', activation: 'tanh' },
    { kind: 'dense', inFeatures: 30, outFeatures: 4 }]],
];

/**
 * A conv net whose first conv2d is more than one slice of work (slices.ts,
 * 2 MFLOP) at 12 rows, so the async passes pause inside it.
 */
const LARGE_NET: LayerSpec[] = [
  { kind: 'conv2d', inChannels: 3, outChannels: 16, inHeight: 16, inWidth: 16, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 },  // 2·16·27·256 ≈ 0.22 MFLOP a row
  { kind: 'activation', activation: 'relu' },
  { kind: 'maxpool2d', channels: 16, inHeight: 16, inWidth: 16, kernelHeight: 2, kernelWidth: 2,
    strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 },
  { kind: 'conv2d', inChannels: 16, outChannels: 8, inHeight: 8, inWidth: 8, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0 },
  { kind: 'dense', inFeatures: 8 * 6 * 6, outFeatures: 5 }];

/**
 * The same input, down by a conv2d and up again by a convtranspose2d of more
 * than one slice of work at 12 rows (2·16·144·64 ≈ 0.29 MFLOP a row), with
 * output padding.
 */
const LARGE_TRANSPOSED_NET: LayerSpec[] = [
  { kind: 'conv2d', inChannels: 3, outChannels: 16, inHeight: 16, inWidth: 16, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1 },  // → 16 × 8 × 8
  { kind: 'activation', activation: 'relu' },
  { kind: 'convtranspose2d', inChannels: 16, outChannels: 16, inHeight: 8, inWidth: 8, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1, outPadHeight: 1, outPadWidth: 1 },  // → 16 × 16 × 16
  { kind: 'activation', activation: 'relu' },
  { kind: 'maxpool2d', channels: 16, inHeight: 16, inWidth: 16, kernelHeight: 4, kernelWidth: 4,
    strideHeight: 4, strideWidth: 4, padHeight: 0, padWidth: 0 },  // → 16 × 4 × 4
  { kind: 'dense', inFeatures: 16 * 4 * 4, outFeatures: 5 }];

/** The large nets (input 3 × 16 × 16, 5 outputs) for the async, determinism and parity tests. */
const LARGE_NETS: [string, LayerSpec[]][] = [['conv2d', LARGE_NET], ['convtranspose2d', LARGE_TRANSPOSED_NET]];

/**
 * Rows of side × side single-channel images, each one bar (row y 0:
 * horizontal, 1: vertical) plus noise: x noisy, clean without the noise.
 */
function bars(rows: number, side: number): { x: Float64Array; clean: Float64Array; y: Int32Array } {
  const clean = new Float64Array(rows * side * side);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    y[r] = r % 2;
    const at = (r * 7) % side;
    for (let k = 0; k < side; k++) {
      const [h, w] = y[r] === 0 ? [at, k] : [k, at];
      clean[r * side * side + h * side + w] = 1;
    }
  }
  const noise = randomArray(clean.length, 41);
  const x = clean.map((v, i) => v + 0.2 * noise[i]!);
  return { x, clean, y };
}

/** Parameters scaled like torch's default init (±1/√fan-in), so activations stay O(1). */
function initParams(plan: NetworkPlan, layers: LayerSpec[], seed: number): Float64Array {
  const params = randomArray(plan.paramCount, seed) as Float64Array;
  let at = 0;
  for (const l of layers) {
    let n = 0;
    let fanIn = 1;
    if (l.kind === 'dense') { n = l.outFeatures * (l.inFeatures + 1); fanIn = l.inFeatures; }
    if (l.kind === 'conv2d') {
      fanIn = l.inChannels * l.kernelHeight * l.kernelWidth;
      n = l.outChannels * (fanIn + 1);
    }
    if (l.kind === 'convtranspose2d') {
      // torch's fan-in of a ConvTranspose2d weight (inC × outC × kH × kW): outC·kH·kW.
      fanIn = l.outChannels * l.kernelHeight * l.kernelWidth;
      n = l.inChannels * fanIn + l.outChannels;
    }
    for (let i = at; i < at + n; i++) params[i]! /= Math.sqrt(fanIn);
    at += n;
  }
  return params;
}

/**
 * One conv2d or convtranspose2d layer against PyTorch's values: forward,
 * backward (dx, dWeight, dBias), a second backward that writes (not adds) the
 * gradients, and predict one row at a time.
 */
function matchesTorch(e: ReturnType<typeof engine>, dtype: Dtype, spec: LayerSpec, c: ConvCase): void {
  const tol = TOLERANCE[dtype];
  const plan = e.createPlan({ dtype, layers: [spec], maxBatch: c.rows });
  expect(plan.inputSize).toBe(c.inChannels * c.inHeight * c.inWidth);
  expect(plan.outputSize).toBe(c.outChannels * c.outHeight * c.outWidth);
  expect(plan.paramCount).toBe(c.weight.length + c.bias.length);
  plan.setParams(floats(dtype, [...c.weight, ...c.bias]));
  const x = floats(dtype, c.x);
  const y = floats(dtype, new Array<number>(c.y.length).fill(NaN));
  plan.forwardTrain(x, c.rows, y);
  expect(maxRelDiff(y, c.y)).toBeLessThan(tol);
  const dx = floats(dtype, new Array<number>(c.x.length).fill(NaN));
  plan.backward(floats(dtype, c.dy), c.rows, dx);
  expect(maxRelDiff(dx, c.dx)).toBeLessThan(tol);
  const grads = floats(dtype, new Array<number>(plan.paramCount).fill(NaN));
  plan.getGrads(grads);
  expect(maxRelDiff(grads.subarray(0, c.weight.length), c.dWeight)).toBeLessThan(tol);
  expect(maxRelDiff(grads.subarray(c.weight.length), c.dBias)).toBeLessThan(tol);
  // A second backward writes the same gradients (the batch's), not their sum.
  plan.backward(floats(dtype, c.dy), c.rows, null);
  const again = floats(dtype, new Array<number>(plan.paramCount).fill(NaN));
  plan.getGrads(again);
  expect(Array.from(again)).toEqual(Array.from(grads));
  // predict (eval, through the scratch buffers, one row at a time past maxBatch 1) gives the same y.
  const one = e.createPlan({ dtype, layers: [spec], maxBatch: 1 });
  one.setParams(floats(dtype, [...c.weight, ...c.bias]));
  const p = floats(dtype, new Array<number>(c.y.length).fill(NaN));
  one.predict(x, c.rows, p);
  expect(maxRelDiff(p, c.y)).toBeLessThan(tol);
}

describe.each(ENGINES)('conv2d, convtranspose2d and maxpool2d (%s engine)', (name: EngineName) => {
  const e = engine(name);

  for (const dtype of ['float64', 'float32'] as const) {

    FIXTURE.conv2d.forEach((c, i) => {
      it(`conv2d case ${i} (${c.inChannels}→${c.outChannels}, ${c.inHeight}×${c.inWidth}, kernel ${c.kernelHeight}×${c.kernelWidth}, stride ${c.strideHeight}×${c.strideWidth}, padding ${c.padHeight}×${c.padWidth}) matches PyTorch (${dtype})`, () => {
        matchesTorch(e, dtype, convSpec(c), c);
      });
    });

    FIXTURE.convtranspose2d.forEach((c, i) => {
      it(`convtranspose2d case ${i} (${c.inChannels}→${c.outChannels}, ${c.inHeight}×${c.inWidth}, kernel ${c.kernelHeight}×${c.kernelWidth}, stride ${c.strideHeight}×${c.strideWidth}, padding ${c.padHeight}×${c.padWidth}, output padding ${c.outPadHeight}×${c.outPadWidth}) matches PyTorch (${dtype})`, () => {
        matchesTorch(e, dtype, transposedSpec(c), c);
      });
    });

    FIXTURE.maxpool2d.forEach((c, i) => {
      it(`maxpool2d case ${i} (${c.channels} channels, ${c.inHeight}×${c.inWidth}, kernel ${c.kernelHeight}×${c.kernelWidth}, stride ${c.strideHeight}×${c.strideWidth}, padding ${c.padHeight}×${c.padWidth}; ties) matches PyTorch (${dtype})`, () => {
        // After an identity 1×1 conv2d (a pool alone fixes no input width): y and dx are the pool's.
        const conv = identityConv(c.channels, c);
        const pool: LayerSpec = { kind: 'maxpool2d', channels: c.channels, ...window(c) };
        const plan = e.createPlan({ dtype, layers: [conv.spec, pool], maxBatch: c.rows });
        expect(plan.outputSize).toBe(c.channels * c.outHeight * c.outWidth);
        plan.setParams(floats(dtype, conv.params));
        const x = floats(dtype, c.x);
        const y = floats(dtype, new Array<number>(c.y.length).fill(NaN));
        plan.forwardTrain(x, c.rows, y);
        expect(Array.from(y)).toEqual(c.y);  // small integers: exact
        const dx = floats(dtype, new Array<number>(c.x.length).fill(NaN));
        plan.backward(floats(dtype, c.dy), c.rows, dx);
        // Ties: the gradient must land on torch's (the first) maximum, or an element is off by O(1).
        // float32: dy itself is rounded (and overlapping windows add two of them).
        expect(maxRelDiff(dx, c.dx)).toBeLessThan(dtype === 'float64' ? 1e-15 : 1e-6);
        const p = floats(dtype, new Array<number>(c.y.length).fill(NaN));
        plan.predict(x, c.rows, p);
        expect(Array.from(p)).toEqual(c.y);
      });
    });
  }

  it('maxpool2d: a NaN in a window is its maximum and takes the gradient; −∞ windows pick their first element', () => {
    const w: Window2d = { inHeight: 2, inWidth: 4, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2,
      padHeight: 0, padWidth: 0 };
    const conv = identityConv(1, w);
    const plan = e.createPlan({ dtype: 'float64', layers: [conv.spec, { kind: 'maxpool2d', channels: 1, ...w }], maxBatch: 1 });
    plan.setParams(Float64Array.from(conv.params));
    // Windows [5, NaN; 7, 1] and [−∞, −∞; −∞, −∞].
    const x = Float64Array.from([5, NaN, -Infinity, -Infinity, 7, 1, -Infinity, -Infinity]);
    const y = new Float64Array(2);
    plan.forwardTrain(x, 1, y);
    expect(Number.isNaN(y[0])).toBe(true);
    expect(y[1]).toBe(-Infinity);
    const dx = new Float64Array(8);
    plan.backward(Float64Array.from([2, 3]), 1, dx);
    // One channel: the identity conv is exact both ways (1·x + 0), so dx is the pool's.
    expect(Array.from(dx)).toEqual([0, 2, 3, 0, 0, 0, 0, 0]);
  });

  for (const [label, layers] of SMALL_NETS) {
    it(`finite differences: ${label} → dense → cross-entropy (float64)`, () => {
      const rows = 3;
      const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: rows });
      plan.setLoss(CE);
      const params = initParams(plan, layers, 5);
      const x = randomArray(rows * plan.inputSize, 6) as Float64Array;
      const y = Int32Array.from([0, 3, 1]);
      const { analytic, numeric } = planParamGradients(plan, params, x, rows, y);
      expect(maxRelDiff(analytic, numeric)).toBeLessThan(1e-6);
      expect(analytic.some((g) => g !== 0)).toBe(true);
      // Input gradient through the image layers (col2im for conv2d, the gemm by W for convtranspose2d).
      plan.setParams(params);
      const out = new Float64Array(rows * plan.outputSize);
      plan.forwardTrain(x, rows, out);
      const dout = new Float64Array(out.length);
      e.lossBackward(CE, out, rows, plan.outputSize, y, dout);
      const dinput = new Float64Array(x.length);
      plan.backward(dout, rows, dinput);
      const dnum = numericGradient(() => {
        plan.forwardTrain(x, rows, out);
        return e.lossForward(CE, out, rows, plan.outputSize, y);
      }, x);
      expect(maxRelDiff(dinput, dnum)).toBeLessThan(1e-6);
      expect(dinput.some((g) => g !== 0)).toBe(true);
    });
  }

  it('a conv2d after a dense layer gets the input gradient it needs (backward below the first conv)', () => {
    const layers: LayerSpec[] = [{ kind: 'dense', inFeatures: 5, outFeatures: 18 },
      { kind: 'conv2d', inChannels: 2, outChannels: 2, inHeight: 3, inWidth: 3, kernelHeight: 2, kernelWidth: 2,
        strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0 },
      { kind: 'dense', inFeatures: 8, outFeatures: 3 }];
    const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: 4 });
    plan.setLoss(CE);
    const { analytic, numeric } = planParamGradients(plan, initParams(plan, layers, 8),
      randomArray(20, 9) as Float64Array, 4, Int32Array.from([2, 0, 1, 1]));
    expect(maxRelDiff(analytic, numeric)).toBeLessThan(1e-6);
    expect(analytic.subarray(0, 5 * 18).some((g) => g !== 0)).toBe(true);
  });

  describe('spec checks', () => {
    const conv = (over: Record<string, unknown>): LayerSpec => ({ kind: 'conv2d', inChannels: 2, outChannels: 3,
      inHeight: 5, inWidth: 4, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 0,
      padWidth: 0, ...over }) as LayerSpec;
    const pool = (over: Record<string, unknown>): LayerSpec => ({ kind: 'maxpool2d', channels: 3, inHeight: 3,
      inWidth: 2, kernelHeight: 2, kernelWidth: 2, strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0,
      ...over }) as LayerSpec;
    const tconv = (over: Record<string, unknown>): LayerSpec => ({ kind: 'convtranspose2d', inChannels: 2,
      outChannels: 3, inHeight: 5, inWidth: 4, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
      padHeight: 0, padWidth: 0, outPadHeight: 1, outPadWidth: 0, ...over }) as LayerSpec;
    const BAD: [string, LayerSpec[], RegExp, typeof TypeError | typeof RangeError][] = [
      ['kernelHeight 0', [conv({ kernelHeight: 0 })], /kernelHeight/, RangeError],
      ['a fractional strideWidth', [conv({ strideWidth: 1.5 })], /strideWidth/, RangeError],
      ['strideHeight 0', [conv({ strideHeight: 0 })], /strideHeight/, RangeError],
      ['a negative padHeight', [conv({ padHeight: -1 })], /padHeight/, RangeError],
      ['padWidth NaN', [conv({ padWidth: NaN })], /padWidth/, RangeError],
      ['inWidth 0', [conv({ inWidth: 0 })], /inWidth/, RangeError],
      ['outChannels 0', [conv({ outChannels: 0 })], /outChannels/, RangeError],
      ['inChannels as a string', [conv({ inChannels: '2' })], /inChannels/, TypeError],
      ['a missing kernelWidth', [conv({ kernelWidth: undefined })], /kernelWidth/, TypeError],
      ['a kernel taller than the padded image', [conv({ kernelHeight: 8, padHeight: 1 })], /kernelHeight/, RangeError],
      ['a kernel wider than the image', [conv({ kernelWidth: 5 })], /kernelWidth/, RangeError],
      ['conv2d input size unlike the width before it', [{ kind: 'dense', inFeatures: 3, outFeatures: 39 }, conv({})],
        /inChannels/, RangeError],
      ['maxpool2d channels unlike the width before it', [conv({}), pool({ channels: 2 })], /channels/, RangeError],
      ['maxpool2d padding over half the kernel', [conv({}), pool({ padHeight: 2, kernelHeight: 3, inHeight: 3 })],
        /padHeight/, RangeError],
      ['maxpool2d padWidth over half the kernel', [conv({}), pool({ padWidth: 1, kernelWidth: 1 })], /padWidth/, RangeError],
      ['maxpool2d channels as a boolean', [conv({}), pool({ channels: true })], /channels/, TypeError],
      ['maxpool2d strideWidth Infinity', [conv({}), pool({ strideWidth: Infinity })], /strideWidth/, RangeError],
      ['convtranspose2d outPadHeight equal to strideHeight', [tconv({ outPadHeight: 2 })], /outPadHeight/, RangeError],
      ['convtranspose2d outPadWidth with stride 1', [tconv({ strideWidth: 1, outPadWidth: 1 })], /outPadWidth/, RangeError],
      ['convtranspose2d a negative outPadWidth', [tconv({ outPadWidth: -1 })], /outPadWidth/, RangeError],
      ['convtranspose2d a fractional outPadHeight', [tconv({ outPadHeight: 0.5 })], /outPadHeight/, RangeError],
      ['convtranspose2d a missing outPadWidth', [tconv({ outPadWidth: undefined })], /outPadWidth/, TypeError],
      ['convtranspose2d padding that leaves no output rows', [tconv({ inHeight: 1, kernelHeight: 1, strideHeight: 1,
        outPadHeight: 0, padHeight: 1 })], /padHeight/, RangeError],
      ['convtranspose2d padding that leaves no output columns', [tconv({ inWidth: 1, kernelWidth: 2, padWidth: 1 })],
        /padWidth/, RangeError],
      ['convtranspose2d strideHeight 0', [tconv({ strideHeight: 0, outPadHeight: 0 })], /strideHeight/, RangeError],
      ['convtranspose2d kernelWidth 0', [tconv({ kernelWidth: 0 })], /kernelWidth/, RangeError],
      ['convtranspose2d a negative padWidth', [tconv({ padWidth: -2 })], /padWidth/, RangeError],
      ['convtranspose2d outChannels as a string', [tconv({ outChannels: '3' })], /outChannels/, TypeError],
      ['convtranspose2d inChannels 0', [tconv({ inChannels: 0 })], /inChannels/, RangeError],
      ['convtranspose2d input size unlike the width before it', [{ kind: 'dense', inFeatures: 3, outFeatures: 39 },
        tconv({})], /inChannels/, RangeError],
      ['maxpool2d channels unlike a convtranspose2d before it', [tconv({}), pool({ channels: 2 })], /channels/, RangeError],
    ];
    for (const [label, layers, field, Ctor] of BAD) {
      it(`refuses ${label}, naming the layer and the field`, () => {
        const err = thrown(() => e.createPlan({ dtype: 'float64', layers, maxBatch: 2 }));
        expect(err).toBeInstanceOf(Ctor);
        expect(err.code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
        expect(err.message).toMatch(field);
        expect(err.message).toMatch(new RegExp(`layers\\[${layers.length - 1}\\]|layer ${layers.length - 1}`));
      });
    }

    it('needs a dense, conv2d, convtranspose2d or maxpool2d layer to fix the input width; a maxpool2d may come first', () => {
      const err = thrown(() => e.createPlan({ dtype: 'float64', layers: [{ kind: 'activation', activation: 'relu' }], maxBatch: 2 }));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toMatch(/dense, conv2d, convtranspose2d or maxpool2d/);
      const plan = e.createPlan({ dtype: 'float64', layers: [pool({}), { kind: 'activation', activation: 'relu' }], maxBatch: 2 });
      expect([plan.inputSize, plan.outputSize]).toEqual([3 * 3 * 2, 3 * 2 * 1]);
      plan.dispose();
    });

    it('a conv2d alone is a network: input and output widths, parameters', () => {
      const plan = e.createPlan({ dtype: 'float32', layers: [conv({ padHeight: 1, strideWidth: 2 })], maxBatch: 2 });
      expect(plan.inputSize).toBe(2 * 5 * 4);
      expect(plan.outputSize).toBe(3 * 5 * 1);  // ⌊(5 + 2 − 3)/1⌋ + 1 = 5, ⌊(4 − 3)/2⌋ + 1 = 1
      expect(plan.paramCount).toBe(3 * 2 * 3 * 3 + 3);
    });

    it('a convtranspose2d alone (after an activation) fixes the input width: widths, parameters, a kernel larger than its input', () => {
      const plan = e.createPlan({ dtype: 'float32', layers: [{ kind: 'activation', activation: 'relu' },
        tconv({ kernelHeight: 7, kernelWidth: 6, padWidth: 1 })], maxBatch: 2 });
      expect(plan.inputSize).toBe(2 * 5 * 4);
      // (5 − 1)·2 − 0 + 7 + 1 = 16, (4 − 1)·2 − 2 + 6 + 0 = 10
      expect(plan.outputSize).toBe(3 * 16 * 10);
      expect(plan.paramCount).toBe(2 * 3 * 7 * 6 + 3);
      plan.dispose();
    });
  });

  for (const [kind, net] of LARGE_NETS) {
    it(`the async passes (which pause inside a ${kind} layer) give the synchronous results bit for bit`, async () => {
      const rows = 12;
      const make = () => {
        const p = e.createPlan({ dtype: 'float32', layers: net, maxBatch: rows });
        p.setParams(Float32Array.from(initParams(p, net, 21)));
        p.setLoss(CE);
        p.setOptimizer(ADAM);
        return p;
      };
      const a = make();
      const b = make();
      const x = randomArray(rows * a.inputSize, 22, Float32Array);
      const outA = new Float32Array(rows * 5);
      const outB = new Float32Array(rows * 5);
      a.predict(x, rows, outA);
      await b.predictAsync(x, rows, outB, 5);
      expect(Array.from(outB)).toEqual(Array.from(outA));
      a.forwardTrain(x, rows, outA);
      await b.forwardTrainAsync(x, rows, outB);
      expect(Array.from(outB)).toEqual(Array.from(outA));
      const dout = randomArray(rows * 5, 23, Float32Array);
      a.backward(dout, rows, null);
      a.step();
      await b.backwardStepAsync(dout, rows, 0);
      const pa = new Float32Array(a.paramCount);
      const pb = new Float32Array(b.paramCount);
      a.getParams(pa);
      b.getParams(pb);
      expect(Array.from(pb)).toEqual(Array.from(pa));
    });

    it(`gradients are bit-identical from run to run, at 1 and 2 threads, and after reserve (${kind} net)`, () => {
      const rows = 9;
      const x = randomArray(rows * 3 * 16 * 16, 31, Float32Array);
      const y = Int32Array.from({ length: rows }, (_, i) => i % 5);
      const grads: Float32Array[] = [];
      const before = e.getThreads();
      try {
        for (const threads of [1, 2, 2]) {
          e.setThreads(threads);
          const p = e.createPlan({ dtype: 'float32', layers: net, maxBatch: 3 });
          p.setParams(Float32Array.from(initParams(p, net, 32)));
          p.setLoss(CE);
          p.reserve(rows);
          p.computeGradients(x, rows, y);
          const g = new Float32Array(p.paramCount);
          p.getGrads(g);
          grads.push(g);
        }
      } finally {
        e.setThreads(before);
      }
      expect(grads[0]!.some((g) => g !== 0)).toBe(true);
      expect(Array.from(grads[2]!)).toEqual(Array.from(grads[1]!));
      // Across thread counts only up to rounding of a different summation order.
      expect(maxRelDiff(grads[1]!, grads[0]!)).toBeLessThan(1e-4);
    });
  }

  it('trains: the loss of a small conv net falls on bars (horizontal vs vertical)', async () => {
    const rows = 64;
    const side = 6;
    const { x, y } = bars(rows, side);
    const layers: LayerSpec[] = [
      { kind: 'conv2d', inChannels: 1, outChannels: 4, inHeight: side, inWidth: side, kernelHeight: 3, kernelWidth: 3,
        strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 },
      { kind: 'activation', activation: 'relu' },
      { kind: 'maxpool2d', channels: 4, inHeight: side, inWidth: side, kernelHeight: 2, kernelWidth: 2,
        strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 },
      { kind: 'dense', inFeatures: 4 * 3 * 3, outFeatures: 2 }];
    const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: 16 });
    plan.setParams(initParams(plan, layers, 42));
    plan.setLoss(CE);
    plan.setOptimizer(ADAM);
    const first = await plan.trainEpoch(x, rows, y, 16, null);
    let last = first;
    for (let epoch = 0; epoch < 30; epoch++) last = await plan.trainEpoch(x, rows, y, 16, null);
    expect(first.badBatch).toBe(-1);
    expect(last.badBatch).toBe(-1);
    expect(last.loss).toBeLessThan(0.5 * first.loss);
    const out = new Float64Array(rows * 2);
    plan.predict(x, rows, out);
    let correct = 0;
    for (let r = 0; r < rows; r++) correct += Number((out[2 * r + 1]! > out[2 * r]! ? 1 : 0) === y[r]);
    expect(correct).toBeGreaterThanOrEqual(0.9 * rows);
  });

  it('trains: a conv2d → convtranspose2d autoencoder learns to denoise bars (MSE falls)', async () => {
    const rows = 64;
    const side = 6;
    const { x, clean } = bars(rows, side);
    const layers: LayerSpec[] = [
      { kind: 'conv2d', inChannels: 1, outChannels: 4, inHeight: side, inWidth: side, kernelHeight: 3, kernelWidth: 3,
        strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1 },  // → 4 × 3 × 3
      { kind: 'activation', activation: 'relu' },
      { kind: 'convtranspose2d', inChannels: 4, outChannels: 1, inHeight: 3, inWidth: 3, kernelHeight: 3,
        kernelWidth: 3, strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1, outPadHeight: 1, outPadWidth: 1 }];
    const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: 16 });
    expect(plan.outputSize).toBe(side * side);
    plan.setParams(initParams(plan, layers, 43));
    plan.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    plan.setOptimizer(ADAM);
    const first = await plan.trainEpoch(x, rows, clean, 16, null);
    let last = first;
    for (let epoch = 0; epoch < 40; epoch++) last = await plan.trainEpoch(x, rows, clean, 16, null);
    expect(first.badBatch).toBe(-1);
    expect(last.badBatch).toBe(-1);
    expect(last.loss).toBeLessThan(0.5 * first.loss);
  });
});

describe('conv2d, convtranspose2d and maxpool2d: native and JS engines agree', () => {
  for (const [kind, net] of LARGE_NETS) for (const dtype of ['float64', 'float32'] as const) {
    it(`forward, loss, gradients and one Adam step of a ${kind} net (${dtype})`, () => {
      const rows = 7;
      const plans = ENGINES.map((n) => {
        const p = engine(n).createPlan({ dtype, layers: net, maxBatch: rows });
        p.setParams(floats(dtype, initParams(p, net, 51)));
        p.setLoss(CE);
        p.setOptimizer(ADAM);
        return p;
      });
      const x = randomArray(rows * plans[0]!.inputSize, 52, dtype === 'float32' ? Float32Array : Float64Array);
      const y = Int32Array.from({ length: rows }, (_, i) => (3 * i) % 5);
      const tol = dtype === 'float64' ? 1e-12 : 1e-4;
      const outs = plans.map((p) => {
        const out = floats(dtype, new Array<number>(rows * 5).fill(0));
        p.predict(x, rows, out);
        return out;
      });
      expect(maxRelDiff(outs[1]!, outs[0]!)).toBeLessThan(tol);
      const losses = plans.map((p) => p.computeGradients(x, rows, y));
      expect(Math.abs(losses[1]! - losses[0]!)).toBeLessThan(tol);
      const grads = plans.map((p) => {
        const g = floats(dtype, new Array<number>(p.paramCount).fill(0));
        p.getGrads(g);
        return g;
      });
      expect(maxRelDiff(grads[1]!, grads[0]!)).toBeLessThan(tol);
      plans.forEach((p) => p.step());
      const params = plans.map((p) => {
        const g = floats(dtype, new Array<number>(p.paramCount).fill(0));
        p.getParams(g);
        return g;
      });
      expect(maxRelDiff(params[1]!, params[0]!)).toBeLessThan(tol);
    });
  }
});
