// hardtanh (minVal, maxVal), relu6 and logsigmoid against PyTorch 1.13
// (test/fixtures/activations_clamps_torch.json, made by the script beside it)
// in both engines and dtypes, as an Activation layer and fused after a Dense:
// every kink hit exactly (torch's gradient there is 0), either side of it,
// ±88, ±710, ±1e4, NaN and ±Infinity. Then engine parity, training parity,
// save/load and config round trips, bad parameters, and ONNX export run in
// onnxruntime-node in float32 and float64.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Matrix, Sequential, io, type ActivationOption } from '../lib';
import type { ActivationName, ActivationParams, Dtype, Engine } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

type Num = number | string;
interface ClampCase { name: ActivationName; params: ActivationParams; dtype: Dtype; x: Num[]; dy: number[]; y: Num[]; dx: Num[] }
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'activations_clamps_torch.json'), 'utf8')) as { cases: ClampCase[] };
const decode = (v: Num): number => (typeof v === 'number' ? v : v === '-0' ? -0 : Number(v));
const label = (c: ClampCase) => `${c.name}${Object.keys(c.params).length ? ` ${JSON.stringify(c.params)}` : ''} (${c.dtype})`;
const Float = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);

/**
 * The activation as a layer of its own (never fused): each value its own row
 * of one column, then a 1 × 1 dense holding 1, so predict gives f(x) exactly
 * (∞·1 = ∞) and backward's input gradient is dy·f'(x).
 */
function asLayer(e: Engine, c: ClampCase, x: number[]) {
  const F = Float(c.dtype);
  const n = x.length;
  const plan = e.createPlan({ dtype: c.dtype, maxBatch: n,
    layers: [{ kind: 'activation', activation: c.name, ...c.params }, { kind: 'dense', inFeatures: 1, outFeatures: 1 }] });
  plan.setParams(F.from([1, 0]));
  const y = new F(n);
  plan.predict(F.from(x), n, y);
  plan.forwardTrain(F.from(x), n, new F(n));
  const dx = new F(n);
  plan.backward(F.from(c.dy), n, dx);
  plan.dispose();
  return { y: Array.from(y), dx: Array.from(dx) };
}

/**
 * The activation fused after a Dense (the native engine applies it inside the
 * gemm): dense(1 → n) whose weight column holds x, fed the input 1, so its
 * output is x exactly, and the weight gradient dL/dW = dz·1 is dy·f'(x).
 */
function fused(e: Engine, c: ClampCase, x: number[]) {
  const F = Float(c.dtype);
  const n = x.length;
  const plan = e.createPlan({ dtype: c.dtype, maxBatch: 1,
    layers: [{ kind: 'dense', inFeatures: 1, outFeatures: n }, { kind: 'activation', activation: c.name, ...c.params }] });
  const params = new F(plan.paramCount);
  params.set(x, 0);
  plan.setParams(params);
  const one = F.from([1]);
  const y = new F(n);
  plan.predict(one, 1, y);
  plan.forwardTrain(one, 1, new F(n));
  plan.backward(F.from(c.dy), 1, null);
  const grads = new F(plan.paramCount);
  plan.getGrads(grads);
  plan.dispose();
  return { y: Array.from(y), dx: Array.from(grads.subarray(0, n)) };
}

/**
 * Entries of `got` differing from every reference beyond rtol·|want| plus
 * one ulp of max(1, |x|) (times |dy| for gradients): NaN must meet NaN, an
 * infinity the same infinity. float32: 3e-7 (~2.5 ulp), float64: 1e-12.
 */
function mismatches(c: ClampCase, x: number[], got: number[], wants: number[][], grad: boolean): string[] {
  const [rtol, ulp] = c.dtype === 'float64' ? [1e-12, 2.3e-16] : [3e-7, 1.2e-7];
  const bad: string[] = [];
  got.forEach((g, i) => {
    const atol = ulp * Math.max(1, Number.isFinite(x[i]!) ? Math.abs(x[i]!) : 1) * (grad ? Math.abs(c.dy[i]!) : 1);
    const near = (w: number) => (Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w
      : Math.abs(g - w) <= atol + rtol * Math.abs(w));
    if (!wants.some((w) => near(w[i]!))) bad.push(`x=${x[i]} got ${g} want ${wants.map((w) => w[i]).join(' or ')}`);
  });
  return bad;
}

/** torch's float32 result, or its float64 one rounded to float32 where its float32 kernel rounds worse. */
function references(c: ClampCase, key: 'y' | 'dx'): number[][] {
  const wants = [c[key].map(decode)];
  if (c.dtype === 'float32') {
    const twin = FIXTURE.cases.find((d) => d.dtype === 'float64' && d.name === c.name && JSON.stringify(d.params) === JSON.stringify(c.params));
    if (twin) wants.push(twin[key].map(decode).map(Math.fround));
  }
  return wants;
}

describe.each(ENGINES)('hardtanh, relu6 and logsigmoid against PyTorch (%s engine)', (name) => {
  const e = engine(name);
  it('the fixture covers every kink and both dtypes', () => {
    const names = new Set(FIXTURE.cases.map((c) => `${c.name} ${c.dtype}`));
    for (const n of ['hardtanh', 'relu6', 'logsigmoid']) for (const d of ['float32', 'float64']) expect(names.has(`${n} ${d}`), `${n} ${d}`).toBe(true);
    // torch's gradient at the kinks is 0: the fixture must say so where x is exactly minVal or maxVal.
    const relu6 = FIXTURE.cases.find((c) => c.name === 'relu6' && c.dtype === 'float64')!;
    const at = (v: number) => decode(relu6.dx[relu6.x.map(decode).indexOf(v)]!);
    expect([at(0), at(6)]).toEqual([0, 0]);
  });

  for (const c of FIXTURE.cases) {
    for (const [path, run] of [['as a layer', asLayer], ['fused after a Dense', fused]] as const) {
      it(`${label(c)} ${path}: values and gradients, kinks included`, () => {
        const x = c.x.map(decode);
        const r = run(e, c, x);
        expect(mismatches(c, x, r.y, references(c, 'y'), false), 'values').toEqual([]);
        expect(mismatches(c, x, r.dx, references(c, 'dx'), true), 'gradients').toEqual([]);
      });
    }
  }
});

describe('hardtanh, relu6 and logsigmoid: native and JS engines agree', () => {
  it('on every fixture input, both paths, values and gradients', () => {
    let compared = 0;
    for (const c of FIXTURE.cases) {
      const x = c.x.map(decode);
      for (const run of [asLayer, fused]) {
        const n = run(engine('native'), c, x);
        const j = run(engine('js'), c, x);
        expect(mismatches(c, x, n.y, [j.y], false), `${label(c)} values`).toEqual([]);
        expect(mismatches(c, x, n.dx, [j.dx], true), `${label(c)} gradients`).toEqual([]);
        compared++;
      }
    }
    expect(compared).toBe(2 * FIXTURE.cases.length);
  });

  it.each(['float32', 'float64'] as const)('train alike (%s): the same weights after 20 Adam steps', (dtype) => {
    const x = new Matrix(16, 3, Float(dtype).from(randomArray(48, 4, Float64Array), (v) => 4 * v));
    const y = new Matrix(16, 2, Float(dtype).from(randomArray(32, 5, Float64Array)));
    const build = (eng: 'native' | 'js') => {
      const m = new Sequential([new Dense(3, 8, { activation: { name: 'hardtanh', minVal: -0.5, maxVal: 0.75 } }),
        new Dense(8, 8, { activation: 'relu6' }), new Activation('logsigmoid'), new Dense(8, 2)], { engine: eng, seed: 9, dtype });
      m.compile({ loss: 'mse', optimizer: 'adam' });
      for (let i = 0; i < 20; i++) m.trainStep(x, y);
      return m.getWeights();
    };
    const n = build('native');
    const j = build('js');
    for (const k of Object.keys(n)) expect(maxRelDiff(n[k]!, j[k]!), k).toBeLessThan(dtype === 'float64' ? 1e-9 : 1e-4);
  });
});

describe.each(ENGINES)('hardtanh, relu6 and logsigmoid in models (%s engine)', (eng) => {
  it('save and load keep the activation and its parameters; predict is unchanged', () => {
    const m = new Sequential([new Dense(3, 5, { activation: { name: 'hardtanh', minVal: -0.25, maxVal: 2 } }),
      new Activation('relu6'), new Dense(5, 4, { activation: 'logsigmoid' })], { engine: eng, seed: 2, dtype: 'float64' });
    const x = new Matrix(6, 3, Float64Array.from(randomArray(18, 8, Float64Array), (v) => 5 * v));
    const back = Sequential.fromBuffer(m.toBuffer(), { engine: eng });
    expect(Array.from(back.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    expect(back.layers[0]!.getConfig()).toMatchObject({ activation: 'hardtanh', minVal: -0.25, maxVal: 2 });
    expect((back.layers[0] as Dense).activationConfig).toEqual({ name: 'hardtanh', minVal: -0.25, maxVal: 2 });
    expect((back.layers[1] as Activation).activationConfig).toEqual({ name: 'relu6' });
  });

  it('a Dense before relu6 defaults to He-normal (ReLU family), before hardtanh or logsigmoid to Xavier-uniform', () => {
    const w = (act?: ActivationOption) => new Sequential([new Dense(40, 30, act === undefined ? {} : { activation: act })],
      { engine: eng, seed: 4 }).getWeights()['0.weight'];
    expect(w('relu6')).toEqual(w('relu'));
    expect(new Sequential([new Dense(40, 30), new Activation('relu6')], { engine: eng, seed: 4 }).getWeights()['0.weight']).toEqual(w('relu'));
    expect(w('hardtanh')).toEqual(w());
    expect(w('logsigmoid')).toEqual(w());
    expect(w('relu')).not.toEqual(w());
  });

  it('hardtanh defaults to [−1, 1], as torch.nn.Hardtanh', () => {
    const m = new Sequential([new Dense(1, 4, { activation: 'hardtanh' })], { engine: eng, dtype: 'float64' });
    m.setWeights({ '0.weight': Float64Array.from([-3, -0.5, 0.5, 3]), '0.bias': new Float64Array(4) });
    expect(Array.from(m.predict(new Matrix(1, 1, Float64Array.from([1]))).data)).toEqual([-1, -0.5, 0.5, 1]);
  });

  it('the engine re-checks the range: maxVal ≤ minVal in a plan spec is refused', () => {
    const make = (p: ActivationParams) => engine(eng).createPlan({ dtype: 'float32', maxBatch: 1,
      layers: [{ kind: 'dense', inFeatures: 1, outFeatures: 1 }, { kind: 'activation', activation: 'hardtanh', ...p }] });
    expect(() => make({ minVal: 1, maxVal: 1 })).toThrow(/maxVal/);
    expect(() => make({ minVal: 0, maxVal: Number.NaN })).toThrow(/maxVal/);
    expect(() => make({ minVal: -Infinity, maxVal: 0 })).toThrow(/minVal/);
  });
});

describe('bad hardtanh, relu6 and logsigmoid arguments name the parameter', () => {
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['maxVal = minVal', () => new Dense(2, 2, { activation: { name: 'hardtanh', minVal: 1, maxVal: 1 } }), RangeError,
      /a number > minVal \(1\) for activation\.maxVal but received 1/],
    ['maxVal < the default minVal', () => new Activation({ name: 'hardtanh', maxVal: -2 }), RangeError, /for activation\.maxVal/],
    ['minVal above the default maxVal', () => new Activation({ name: 'hardtanh', minVal: 1.5 }), RangeError, /for activation\.maxVal/],
    ['minVal a string', () => new Activation({ name: 'hardtanh', minVal: '0' as never }), TypeError, /for activation\.minVal/],
    ['maxVal NaN', () => new Activation({ name: 'hardtanh', maxVal: Number.NaN }), RangeError, /for activation\.maxVal/],
    ['maxVal Infinity', () => new Activation({ name: 'hardtanh', maxVal: Infinity }), RangeError, /for activation\.maxVal/],
    ['relu6 takes no minVal', () => new Activation({ name: 'relu6', minVal: 0 } as never), RangeError, /minVal/],
    ['logsigmoid takes no beta', () => new Activation({ name: 'logsigmoid', beta: 1 } as never), RangeError, /beta/],
    ['hardtanh takes no alpha', () => new Activation({ name: 'hardtanh', alpha: 1 } as never), RangeError, /alpha/],
    ['an unknown name lists the new ones', () => new Activation('relu7' as never), RangeError, /hardtanh.*relu6.*logsigmoid/],
  ];
  it.each(cases)('%s', (_label, f, type, message) => {
    expect(f).toThrow(type);
    expect(f).toThrow(message);
  });
});

async function runOnnx(bytes: Uint8Array, x: Matrix): Promise<Float32Array | Float64Array> {
  const session = await ort.InferenceSession.create(bytes);
  const type = x.data instanceof Float64Array ? 'float64' : 'float32';
  const result = await session.run({ input: new ort.Tensor(type, x.data, [x.rows, x.cols]) });
  return result['output']!.data as Float32Array | Float64Array;
}

describe.each(ENGINES)('ONNX export of hardtanh, relu6 and logsigmoid runs in onnxruntime as predict (%s engine)', (eng) => {
  const ACTS: ActivationOption[] = ['hardtanh', { name: 'hardtanh', minVal: -0.5, maxVal: 3 }, 'relu6', 'logsigmoid'];
  describe.each([['float32', 1e-6], ['float64', 1e-12]] as const)('%s', (dtype, tol) => {
    describe.each([17, 21])('opset %i', (opset) => {
      it.each(ACTS.map((a) => [JSON.stringify(a), a] as const))('%s, fused and as a layer', async (_label, act) => {
        // Identity weights first: the activation sees the inputs' whole range (±40, kinks and tails).
        const m = new Sequential([new Dense(4, 4, { activation: act }), new Activation(act), new Dense(4, 3)], { engine: eng, dtype, seed: 3 });
        const w = m.getWeights();
        w['0.weight'] = Float(dtype).from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
        m.setWeights(w);
        const data = Float(dtype).from(randomArray(12 * 4, 23, Float64Array), (v) => 40 * v);
        data.set([0, -1, 1, 6, 3, -0.5, -40, 40], 0);  // the kinks themselves
        const x = new Matrix(12, 4, data);
        const got = await runOnnx(io.exportOnnxBuffer(m, { opset }), x);
        expect(got).toBeInstanceOf(Float(dtype));
        expect(maxRelDiff(got, m.predict(x).data)).toBeLessThan(tol);
      });
    });
  });
});
