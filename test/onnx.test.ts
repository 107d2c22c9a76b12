// ONNX export, checked by running the exported graph in onnxruntime-node and
// comparing with model.predict, in both engines and dtypes. Activations that
// other areas add (their exporter-table entries exist already) are checked
// through a stand-in layer whose config names them, against SPEC.md §2 formulas.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Activation, BatchNorm1d, Dense, Dropout, Layer, LayerNorm, Matrix, PReLU, Sequential, io, type Dtype, type LayerConfig,
} from '../lib';
import { buildOnnx } from '../lib/io/onnx-export';
import { ENGINES, maxRelDiff, randomArray } from './helpers';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-onnx-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function runOnnx(bytes: Uint8Array | string, x: Matrix): Promise<Float32Array | Float64Array> {
  const session = await ort.InferenceSession.create(bytes as Uint8Array);
  const type = x.dtype === 'float32' ? 'float32' : 'float64';
  const result = await session.run({ input: new ort.Tensor(type, x.data, [x.rows, x.cols]) });
  expect(Object.keys(result)).toEqual(['output']);
  return result['output']!.data as Float32Array | Float64Array;
}

function inputs(rows: number, cols: number, dtype: Dtype): Matrix {
  const data = randomArray(rows * cols, 17, dtype === 'float32' ? Float32Array : Float64Array);
  for (let i = 0; i < data.length; i++) data[i]! *= 3;
  return new Matrix(rows, cols, data);
}

const TOL: Record<Dtype, number> = { float32: 2e-6, float64: 1e-12 };

describe.each(ENGINES)('ONNX export (%s engine)', (engine) => {
  describe.each(['float32', 'float64'] as const)('%s', (dtype) => {
    it.each([17, 21])('an MLP with every built-in activation runs in onnxruntime as model.predict (opset %i)', async (opset) => {
      const m = new Sequential([
        new Dense(6, 9, { activation: 'relu' }), new Activation('tanh'), new Dense(9, 7, { activation: 'sigmoid' }),
        new Activation('identity'), new Dense(7, 5), new Activation('softmax'),
      ], { engine, dtype, seed: 8 });
      const x = inputs(11, 6, dtype);
      const got = await runOnnx(io.exportOnnxBuffer(m, { opset }), x);
      expect(got).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
      expect(maxRelDiff(got, m.predict(x).data)).toBeLessThan(TOL[dtype]);
    });

    it('a model ending in a plain Dense (the Gemm is the output) and a trained model', async () => {
      const m = new Sequential([new Dense(3, 4, { activation: 'tanh' }), new Dense(4, 2)], { engine, dtype, seed: 2 });
      m.compile({ loss: 'mse', optimizer: 'adam' });
      const x = inputs(8, 3, dtype);
      for (let i = 0; i < 5; i++) m.trainStep(x, new Matrix(8, 2, undefined, dtype));
      const got = await runOnnx(io.exportOnnxBuffer(m), x);
      expect(maxRelDiff(got, m.predict(x).data)).toBeLessThan(TOL[dtype]);
    });
  });

  it('exportOnnx writes a file onnxruntime loads', async () => {
    const m = new Sequential([new Dense(2, 3, { activation: 'relu' })], { engine, seed: 1 });
    const file = path.join(dir, `${engine}.onnx`);
    await io.exportOnnx(m, file);
    expect((await readFile(file)).equals(io.exportOnnxBuffer(m))).toBe(true);
    const x = inputs(4, 2, 'float32');
    expect(maxRelDiff(await runOnnx(file, x), m.predict(x).data)).toBeLessThan(TOL.float32);
  });
});

describe.each(ENGINES)('ONNX export of every activation and layer kind (%s engine, trained, float32)', (engine) => {
  // The real layers (not stand-ins): onnxruntime's output must equal model.predict
  // after a few training steps, so batch norm's running statistics and PReLU's
  // slopes have moved from their initial values.
  const ACTS = [
    'relu', 'sigmoid', 'tanh', 'softmax', 'log-softmax', { name: 'leaky-relu', negativeSlope: 0.2 },
    { name: 'elu', alpha: 0.7 }, 'selu', { name: 'softplus', beta: 2 }, 'gelu', { name: 'gelu', approximate: 'tanh' },
    'silu', { name: 'swish', beta: 1.5 },
    // A threshold the inputs cross: above it softplus is x itself (the exporter once ignored the threshold).
    { name: 'softplus', threshold: 0.5 }, { name: 'softplus', beta: 2, threshold: 1 },
  ] as const;
  it.each(ACTS.map((a) => [JSON.stringify(a), a] as const))('activation %s', async (_name, act) => {
    const m = new Sequential([new Dense(4, 6, { activation: act }), new Activation(act), new Dense(6, 3)],
      { engine, dtype: 'float32', seed: 5 });
    m.compile({ loss: 'mse', optimizer: 'adam' });
    const x = inputs(8, 4, 'float32');
    for (let i = 0; i < 5; i++) m.trainStep(x, new Matrix(8, 3, new Float32Array(24).fill(0.5)));
    expect(maxRelDiff(await runOnnx(io.exportOnnxBuffer(m), x), m.predict(x).data)).toBeLessThan(1e-5);
  });

  it('Dropout, BatchNorm1d, LayerNorm and PReLU', async () => {
    const m = new Sequential([
      new Dense(4, 8), new BatchNorm1d(8), new PReLU({ numParameters: 8 }), new Dropout(0.3),
      new Dense(8, 6), new LayerNorm(6), new PReLU(), new Dense(6, 3),
    ], { engine, dtype: 'float32', seed: 6 });
    m.compile({ loss: 'mse', optimizer: 'adam' });
    const x = inputs(16, 4, 'float32');
    for (let i = 0; i < 10; i++) m.trainStep(x, new Matrix(16, 3, new Float32Array(48).fill(0.25)));
    expect(maxRelDiff(await runOnnx(io.exportOnnxBuffer(m), x), m.predict(x).data)).toBeLessThan(1e-5);
  });
});

/** An identity in the plan that exports as the layer its config names: to test exporter entries. */
class ExportsAs extends Layer {
  constructor(private readonly config: LayerConfig) { super(); }
  toSpecs() { return []; }
  outFeatures(n: number) { return n; }
  describe() { return `ExportsAs(${JSON.stringify(this.config)})`; }
  override getConfig() { return this.config; }
}

// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), enough for the tolerance below.
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const rowwise = (f: (row: number[]) => number[]) => f;
const logSoftmax = rowwise((row) => {
  const mx = Math.max(...row);
  const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
  return row.map((v) => v - lse);
});

const CASES: [string, LayerConfig, number[] | null, ((v: number) => number) | ((row: number[]) => number[]), boolean][] = [
  ['leaky-relu (negativeSlope 0.1)', { type: 'Activation', activation: 'leaky-relu', negativeSlope: 0.1 }, null, (v: number) => (v > 0 ? v : 0.1 * v), false],
  ['elu', { type: 'Activation', activation: 'elu' }, null, (v: number) => (v > 0 ? v : Math.expm1(v)), false],
  ['selu', { type: 'Activation', activation: 'selu' }, null,
    (v: number) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)), false],
  ['softplus', { type: 'Activation', activation: 'softplus' }, null, (v: number) => Math.log1p(Math.exp(v)), false],
  ['softplus (beta 2)', { type: 'Activation', activation: 'softplus', beta: 2 }, null, (v: number) => Math.log1p(Math.exp(2 * v)) / 2, false],
  ['gelu (erf), opsets 17 and 20', { type: 'Activation', activation: 'gelu' }, [17, 20], (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2)), false],
  ['gelu (tanh), opsets 17 and 20', { type: 'Activation', activation: 'gelu', approximate: 'tanh' }, [17, 20],
    (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), false],
  ['silu', { type: 'Activation', activation: 'silu' }, null, (v: number) => v * sigmoid(v), false],
  ['swish (beta 1.5)', { type: 'Activation', activation: 'swish', beta: 1.5 }, null, (v: number) => v * sigmoid(1.5 * v), false],
  ['log-softmax', { type: 'Activation', activation: 'log-softmax' }, null, logSoftmax, true],
  ['dropout (removed)', { type: 'Dropout', p: 0.5 }, null, (v: number) => v, false],
];

describe('ONNX exporter table entries for activations added by other areas', () => {
  it.each(CASES)('%s matches its formula in onnxruntime', async (_name, config, opsets, f, byRow) => {
    // float32: onnxruntime's CPU provider has no float64 kernels for Elu, Selu, Softplus, Erf.
    const m = new Sequential([new Dense(4, 5), new ExportsAs(config)], { engine: 'js', dtype: 'float32', seed: 3 });
    const x = inputs(9, 4, 'float32');
    const z = m.predict(x);  // the plan skips ExportsAs: z is the Dense output
    const expected = byRow
      ? z.toArray().flatMap((row) => (f as (r: number[]) => number[])(row))
      : Array.from(z.data, (v) => (f as (v: number) => number)(v));
    for (const opset of opsets ?? [17]) {
      const got = await runOnnx(io.exportOnnxBuffer(m, { opset }), x);
      expect(maxRelDiff(got, expected)).toBeLessThan(2e-6);
    }
  });
});

describe('ONNX exporter table entries for layers with parameters added by other areas', () => {
  // Built from a description (config + state_dict), as exportOnnxBuffer does from a model.
  const n = 4;
  const rows = 7;
  const x = inputs(rows, n, 'float32');
  const vec = (seed: number, shift = 0, scale = 1) => Float32Array.from(randomArray(n, seed), (v) => shift + scale * v);
  const run = (config: LayerConfig, weights: Record<string, Float32Array>) =>
    runOnnx(buildOnnx({ dtype: 'float32', inputSize: n, outputSize: n, layers: [{ config, outFeatures: n }], weights }, 17), x);
  const each = (f: (v: number, row: number, col: number) => number) => Array.from(x.data, (v, i) => f(v, Math.floor(i / n), i % n));

  it.each([true, false])('BatchNorm1d (eval mode, running statistics; affine %s)', async (affine) => {
    const w = { '0.weight': vec(1), '0.bias': vec(2), '0.running_mean': vec(3), '0.running_var': vec(4, 1.5, 1) };
    const weights: Record<string, Float32Array> = affine ? w : { '0.running_mean': w['0.running_mean'], '0.running_var': w['0.running_var'] };
    const got = await run({ type: 'BatchNorm1d', numFeatures: n, eps: 1e-3, affine }, weights);
    const expected = each((v, _r, c) => {
      const norm = (v - w['0.running_mean'][c]!) / Math.sqrt(w['0.running_var'][c]! + 1e-3);
      return affine ? norm * w['0.weight'][c]! + w['0.bias'][c]! : norm;
    });
    expect(maxRelDiff(got, expected)).toBeLessThan(2e-6);
  });

  it('LayerNorm (per row, population variance, eps 1e-5)', async () => {
    const w = { '0.weight': vec(5), '0.bias': vec(6) };
    const got = await run({ type: 'LayerNorm', normalizedShape: n }, w);
    const stats = x.toArray().map((row) => {
      const mean = row.reduce((a, b) => a + b, 0) / n;
      return { mean, std: Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / n + 1e-5) };
    });
    const expected = each((v, r, c) => ((v - stats[r]!.mean) / stats[r]!.std) * w['0.weight'][c]! + w['0.bias'][c]!);
    expect(maxRelDiff(got, expected)).toBeLessThan(5e-6);
  });

  it.each([1, n])('PReLU with %i learnable slope(s)', async (count) => {
    const slope = Float32Array.from(randomArray(count, 7), (v) => 0.25 + 0.1 * v);
    const got = await run({ type: 'PReLU', numParameters: count }, { '0.weight': slope });
    const expected = each((v, _r, c) => (v > 0 ? v : slope[count === 1 ? 0 : c]! * v));
    expect(maxRelDiff(got, expected)).toBeLessThan(1e-7);
  });

  it('a missing parameter is named', () => {
    expect(() => buildOnnx({ dtype: 'float32', inputSize: n, outputSize: n,
      layers: [{ config: { type: 'LayerNorm' }, outFeatures: n }], weights: {} }, 17)).toThrow(/no parameter '0.weight'/);
  });
});

describe('ONNX export argument checks', () => {
  const m = new Sequential([new Dense(2, 2)], { engine: 'js' });
  it('names the bad argument', async () => {
    expect(() => io.exportOnnxBuffer({} as Sequential)).toThrow(/Expected a Sequential for model but received an object/);
    expect(() => io.exportOnnxBuffer(m, { opset: 12 })).toThrow(/Expected an integer in \[17, 21\] for opset but received 12/);
    expect(() => io.exportOnnxBuffer(m, { opst: 17 } as never)).toThrow(/Unknown option 'opst'/);
    await expect(io.exportOnnx(m, 5 as unknown as string)).rejects.toThrow(/for path but received 5/);
  });

  it('refuses a layer or activation it has no mapping for, naming it', () => {
    const odd = new Sequential([new Dense(2, 2), new ExportsAs({ type: 'Conv3d' })], { engine: 'js' });
    expect(() => io.exportOnnxBuffer(odd)).toThrow(/no ONNX mapping for layer 1 of type 'Conv3d'/);
    const act = new Sequential([new Dense(2, 2), new ExportsAs({ type: 'Activation', activation: 'step' })], { engine: 'js' });
    expect(() => io.exportOnnxBuffer(act)).toThrow(/no ONNX mapping for activation "step"/);
    const inherited = new Sequential([new Dense(2, 2), new ExportsAs({ type: 'constructor' })], { engine: 'js' });
    expect(() => io.exportOnnxBuffer(inherited)).toThrow(/no ONNX mapping for layer 1 of type 'constructor'/);
    const inheritedAct = new Sequential([new Dense(2, 2), new ExportsAs({ type: 'Activation', activation: 'toString' })], { engine: 'js' });
    expect(() => io.exportOnnxBuffer(inheritedAct)).toThrow(/no ONNX mapping for activation "toString"/);
  });
});
