// Every activation of SPEC.md §2 in both engines: golden values and gradients
// from PyTorch (test/fixtures/activations_torch.json, made by the script
// beside it), finite differences for every parameter choice, the SPEC
// identities, and engine parity. Bad activation arguments are in
// activations-api.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ActivationName, ActivationParams, Dtype, Engine, LayerSpec, LossSpec } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, numericGradient, planParamGradients, randomArray } from './helpers';

interface GoldenCase { name: ActivationName; params: ActivationParams; y: number[]; dx: number[] }
interface Golden { rows: number; cols: number; x: number[]; dy: number[]; cases: GoldenCase[] }

const GOLDEN: Golden = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'activations_torch.json'), 'utf8'));
const label = (c: { name: string; params: ActivationParams }) =>
  Object.keys(c.params).length === 0 ? c.name : `${c.name} ${JSON.stringify(c.params)}`;
const Float = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);

/**
 * f(x) and dy·f'(x) through an engine's plan: the activation, then a dense
 * layer holding the identity (exact in floating point), so predict gives f(x)
 * and backward's dLoss/dInput gives the activation's vector-Jacobian product.
 */
function apply(e: Engine, dtype: Dtype, act: ActivationName, params: ActivationParams,
               x: ArrayLike<number>, dy: ArrayLike<number>, rows: number, cols: number) {
  const F = Float(dtype);
  const plan = e.createPlan({
    dtype, maxBatch: rows,
    layers: [{ kind: 'activation', activation: act, ...params }, { kind: 'dense', inFeatures: cols, outFeatures: cols }],
  });
  const eye = new F(plan.paramCount);
  for (let i = 0; i < cols; i++) eye[i * cols + i] = 1;
  plan.setParams(eye);
  const xs = F.from(x);
  const y = new F(rows * cols);
  plan.predict(xs, rows, y);
  const out = new F(rows * cols);
  plan.forwardTrain(xs, rows, out);
  const dx = new F(rows * cols);
  plan.backward(F.from(dy), rows, dx);
  return { y, dx, train: out };
}

/** Largest |a − b| / (atol + |b|) scaled so that ≤ 1 means within rtol: a mixed tolerance. */
function within(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / (atol + rtol * Math.abs(b[i]!));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

describe.each(ENGINES)('activations against PyTorch (%s engine)', (name) => {
  const e = engine(name);
  const { rows, cols } = GOLDEN;

  it('the fixture covers every activation', () => {
    const names = new Set(GOLDEN.cases.map((c) => c.name));
    for (const n of ['identity', 'sigmoid', 'tanh', 'relu', 'leaky-relu', 'elu', 'selu', 'softplus', 'gelu',
      'silu', 'swish', 'softmax', 'log-softmax']) expect(names.has(n as ActivationName), n).toBe(true);
  });

  for (const c of GOLDEN.cases) {
    it(`${label(c)}: values and gradients in float64, incl. |x| up to 1000`, () => {
      const r = apply(e, 'float64', c.name, c.params, GOLDEN.x, GOLDEN.dy, rows, cols);
      // Relative 1e-12, plus an absolute 1e-14 for results of a cancellation
      // such as gelu's 1 + erf(x/√2) at x = −7.5 (≈ 3e−14, any last-bit
      // difference of erf changes it entirely).
      expect(within(r.y, c.y, 1e-12, 1e-14)).toBeLessThanOrEqual(1);
      expect(within(r.dx, c.dx, 1e-12, 1e-14)).toBeLessThanOrEqual(1);
      expect(Array.from(r.train)).toEqual(Array.from(r.y)); // training and eval forward agree
    });

    it(`${label(c)}: values and gradients in float32`, () => {
      const r = apply(e, 'float32', c.name, c.params, GOLDEN.x, GOLDEN.dy, rows, cols);
      // float32 precision: relative 2e−5, plus an absolute 1e−6 for results of
      // a cancellation (gelu's 1 + erf(x/√2) for x ≤ −5 is below float32's
      // resolution near 1, as in PyTorch's own float32 kernels).
      expect(within(r.y, c.y, 2e-5, 1e-6)).toBeLessThanOrEqual(1);
      expect(within(r.dx, c.dx, 2e-5, 1e-6)).toBeLessThanOrEqual(1);
    });
  }
});

/** Every activation, each with its defaults and with non-default parameters. */
const CATALOGUE: { name: ActivationName; params: ActivationParams }[] = [
  { name: 'identity', params: {} }, { name: 'relu', params: {} }, { name: 'sigmoid', params: {} },
  { name: 'tanh', params: {} }, { name: 'softmax', params: {} }, { name: 'log-softmax', params: {} },
  { name: 'leaky-relu', params: {} }, { name: 'leaky-relu', params: { negativeSlope: 0.25 } },
  { name: 'leaky-relu', params: { negativeSlope: -0.5 } },
  { name: 'elu', params: {} }, { name: 'elu', params: { alpha: 0.3 } }, { name: 'selu', params: {} },
  { name: 'softplus', params: {} }, { name: 'softplus', params: { beta: 3, threshold: 2 } },
  { name: 'gelu', params: {} }, { name: 'gelu', params: { approximate: 'tanh' } }, { name: 'silu', params: {} },
  { name: 'swish', params: {} }, { name: 'swish', params: { beta: 0.5 } }, { name: 'swish', params: { beta: -1.25 } },
];

describe.each(ENGINES)('activation gradients by finite differences (%s engine, float64)', (name) => {
  const e = engine(name);
  const MSE: LossSpec = { kind: 'mse', reduction: 'mean', labelSmoothing: 0 };

  for (const c of CATALOGUE) {
    it(`${label(c)}: element by element, away from kinks, incl. large |x|`, () => {
      const rows = 4;
      const cols = 8;
      const x = randomArray(rows * cols, 31) as Float64Array;
      for (let i = 0; i < x.length; i++) x[i] = x[i]! * 8; // [−8, 8)
      x[3] = 35; x[12] = -35; x[21] = 300; x[30] = -300;
      // Skip kinks: 0 (relu family) and softplus' switch to linear at βx = threshold.
      const beta = c.params.beta ?? 1;
      const threshold = c.params.threshold ?? 20;
      for (let i = 0; i < x.length; i++) {
        if (Math.abs(x[i]!) < 1e-3 || (c.name === 'softplus' && Math.abs(beta * x[i]! - threshold) < 1e-3)) x[i] = 0.5;
      }
      const dy = randomArray(rows * cols, 32);
      const { dx } = apply(e, 'float64', c.name, c.params, x, dy, rows, cols);
      // L(x) = Σ dy·f(x), so dL/dx = the vector-Jacobian product backward gives.
      const L = () => {
        const { y } = apply(e, 'float64', c.name, c.params, x, dy, rows, cols);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += dy[i]! * y[i]!;
        return s;
      };
      expect(maxRelDiff(dx, numericGradient(L, x, 1e-6))).toBeLessThan(1e-6);
    });

    it(`${label(c)}: through dense → activation → dense, parameters and input`, () => {
      const rows = 5;
      const layers: LayerSpec[] = [
        { kind: 'dense', inFeatures: 3, outFeatures: 6 },
        { kind: 'activation', activation: c.name, ...c.params },
        { kind: 'dense', inFeatures: 6, outFeatures: 2 },
      ];
      const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: rows });
      plan.setLoss(MSE);
      const params = randomArray(plan.paramCount, 41) as Float64Array;
      for (let i = 0; i < params.length; i++) params[i] = params[i]! * 2;
      const x = randomArray(rows * 3, 42) as Float64Array;
      const y = randomArray(rows * 2, 43) as Float64Array;
      const { analytic, numeric } = planParamGradients(plan, params, x, rows, y);
      expect(maxRelDiff(analytic, numeric)).toBeLessThan(1e-6);
    });
  }
});

describe.each(ENGINES)('SPEC.md §2 identities (%s engine)', (name) => {
  const e = engine(name);
  const rows = 3;
  const cols = 7;
  const x = randomArray(rows * cols, 51) as Float64Array;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * 40; // up to |x| = 40: the stable forms matter
  const zero = new Float64Array(rows * cols);
  const f = (act: ActivationName, xs: ArrayLike<number>, params: ActivationParams = {}) =>
    apply(e, 'float64', act, params, xs, zero, rows, cols).y;

  it('σ(−x) = 1 − σ(x)', () => {
    const s = f('sigmoid', x);
    const sn = f('sigmoid', x.map((v) => -v));
    for (let i = 0; i < x.length; i++) expect(Math.abs(sn[i]! - (1 - s[i]!))).toBeLessThan(1e-15);
  });

  it('tanh x = 2σ(2x) − 1', () => {
    const t = f('tanh', x);
    const s2 = f('sigmoid', x.map((v) => 2 * v));
    for (let i = 0; i < x.length; i++) expect(Math.abs(t[i]! - (2 * s2[i]! - 1))).toBeLessThan(1e-15);
  });

  it('softmax(x + c) = softmax(x), rows sum to 1, and log-softmax = log(softmax)', () => {
    const s = f('softmax', x);
    for (const c of [-1000, 3.5, 1000]) {
      expect(maxRelDiff(f('softmax', x.map((v) => v + c)), s)).toBeLessThan(1e-12);
    }
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += s[r * cols + j]!;
      expect(Math.abs(sum - 1)).toBeLessThan(1e-14);
    }
    const ls = f('log-softmax', x);
    for (let i = 0; i < x.length; i++) {
      if (s[i]! > 1e-300) expect(Math.abs(ls[i]! - Math.log(s[i]!))).toBeLessThan(1e-12 * Math.max(1, Math.abs(ls[i]!)));
    }
  });

  it('a NaN anywhere in a softmax or log-softmax row makes that row NaN, as in PyTorch; other rows are untouched', () => {
    for (const act of ['softmax', 'log-softmax'] as const) {
      for (const j of [0, 3, cols - 1]) {
        const xs = Float64Array.from(x);
        xs[cols + j] = NaN; // row 1
        const y = f(act, xs);
        for (let k = 0; k < cols; k++) expect(Number.isNaN(y[cols + k]!), `${act} NaN at ${j}`).toBe(true);
        for (const r of [0, 2]) for (let k = 0; k < cols; k++) expect(Number.isFinite(y[r * cols + k]!)).toBe(true);
      }
    }
    // Element-wise activations pass a NaN on (relu too, as torch.relu). The
    // identity dense layer after them (see apply) spreads it over its row
    // (NaN·0 = NaN), so only rows are checked here.
    for (const act of ['relu', 'leaky-relu', 'elu', 'softplus', 'gelu', 'silu', 'sigmoid', 'tanh'] as const) {
      const xs = Float64Array.from(x);
      xs[5] = NaN; // row 0
      const y = f(act, xs);
      expect(Number.isNaN(y[5]!), act).toBe(true);
      for (let i = cols; i < y.length; i++) expect(Number.isFinite(y[i]!), act).toBe(true);
    }
  });

  it('silu is swish with β = 1, selu is λ·elu(α), leaky-relu with slope 0 is relu', () => {
    expect(Array.from(f('silu', x))).toEqual(Array.from(f('swish', x, { beta: 1 })));
    const selu = f('selu', x);
    const elu = f('elu', x, { alpha: 1.6732632423543772 });
    for (let i = 0; i < x.length; i++) expect(Math.abs(selu[i]! - 1.0507009873554805 * elu[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(selu[i]!)));
    expect(Array.from(f('leaky-relu', x, { negativeSlope: 0 })).map((v) => v + 0)).toEqual(Array.from(f('relu', x)));
  });
});

describe('activations: engine parity', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`every activation: forward and backward agree (${dtype})`, () => {
      const rows = 6;
      const cols = 9;
      const F = Float(dtype);
      const x = randomArray(rows * cols, 61, F);
      for (let i = 0; i < x.length; i++) x[i] = x[i]! * 12;
      const dy = randomArray(rows * cols, 62, F);
      for (const c of CATALOGUE) {
        const a = apply(engine('native'), dtype, c.name, c.params, x, dy, rows, cols);
        const b = apply(engine('js'), dtype, c.name, c.params, x, dy, rows, cols);
        const tol = dtype === 'float32' ? 1e-5 : 1e-13;
        expect(maxRelDiff(a.y, b.y), label(c)).toBeLessThan(tol);
        expect(maxRelDiff(a.dx, b.dx), label(c)).toBeLessThan(tol);
      }
    });
  }
});
