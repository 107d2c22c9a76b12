// Activations at their edges against PyTorch 1.13 (test/fixtures/
// activations_edges_torch.json, made by the script beside it), in both
// engines and both dtypes: 0 and −0, kinks, softplus' threshold, ±20, ±88,
// ±100, ±710, ±1e4, NaN, ±Infinity, softmax/log-softmax rows with −Infinity logits and rows
// of equal huge values. activations.test.ts covers the ordinary range.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ActivationName, ActivationParams, Dtype, Engine } from '../lib/engine';
import { ENGINES, engine } from './helpers';

type Num = number | string;
interface EdgeCase {
  name: ActivationName; params: ActivationParams; dtype: Dtype; cols: number;
  x: Num[]; dy: number[]; y: Num[]; dx: Num[];
}
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'activations_edges_torch.json'), 'utf8')) as { cases: EdgeCase[] };
const decode = (v: Num): number => (typeof v === 'number' ? v : v === '-0' ? -0 : Number(v));

/**
 * f(x) and the vector-Jacobian product dy·∂f/∂x of one row of `cols` values,
 * taken through a plan dense(1 → cols) → activation fed the input 1: the
 * dense weight column holds x (so its output is x·1 + 0 = x exactly, even
 * for ±Infinity, where an identity matrix would mix in 0·∞ = NaN), and the
 * weight gradient dL/dW = dz·1 is the activation's input gradient.
 */
function applyRow(e: Engine, c: EdgeCase, x: number[], dy: number[]) {
  const F = c.dtype === 'float32' ? Float32Array : Float64Array;
  const plan = e.createPlan({
    dtype: c.dtype, maxBatch: 1,
    layers: [{ kind: 'dense', inFeatures: 1, outFeatures: c.cols }, { kind: 'activation', activation: c.name, ...c.params }],
  });
  const params = new F(plan.paramCount); // weight (cols × 1), then bias (cols), zero
  params.set(x, 0);
  plan.setParams(params);
  const one = F.from([1]);
  const y = new F(c.cols);
  plan.predict(one, 1, y);
  plan.forwardTrain(one, 1, new F(c.cols));
  plan.backward(F.from(dy), 1, null);
  const grads = new F(plan.paramCount);
  plan.getGrads(grads);
  plan.dispose();
  return { y: Array.from(y), dx: Array.from(grads.subarray(0, c.cols)) };
}

/** Every value of a case, row by row (element-wise cases have one value per row). */
function applyCase(e: Engine, c: EdgeCase) {
  const x = c.x.map(decode);
  const y: number[] = [];
  const dx: number[] = [];
  for (let r = 0; r < x.length; r += c.cols) {
    const out = applyRow(e, c, x.slice(r, r + c.cols), c.dy.slice(r, r + c.cols));
    y.push(...out.y);
    dx.push(...out.dx);
  }
  return { x, y, dx };
}

/**
 * The entries where `got` differs from every reference in `wants` beyond a
 * mixed tolerance; NaN must meet NaN and an infinity the same infinity.
 * `atol[i]` is the entry's absolute tolerance.
 */
function mismatches(x: number[], got: number[], wants: number[][], rtol: number, atol: number[]): string[] {
  const bad: string[] = [];
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const near = (w: number) => (Number.isNaN(w) ? Number.isNaN(g)
      : !Number.isFinite(w) ? g === w
        : Math.abs(g - w) <= atol[i]! + rtol * Math.abs(w));
    if (!wants.some((want) => near(want[i]!))) bad.push(`x=${x[i]} got ${g} want ${wants.map((w) => w[i]).join(' or ')}`);
  }
  return bad;
}

const label = (c: EdgeCase) => `${c.name}${Object.keys(c.params).length ? ` ${JSON.stringify(c.params)}` : ''}` +
  `${c.cols > 1 ? ` [${c.x.join(', ')}]` : ''} (${c.dtype})`;

/**
 * Relative: 1e-12 (float64), 3e-7 (float32, ~2.5 ulp). Absolute: one unit in
 * the last place of 1 scaled by max(1, |x|) (and |dy| for gradients), the
 * rounding of results that cancel — eˣ − 1 near 0, 1 − tanh²x, 1 + erf(x/√2)
 * — which PyTorch computes less accurately than expm1 (its elu uses
 * exp(x) − 1). gelu-tanh's derivative cancels terms that grow like x³ (its
 * ½x(1 − tanh²u)·k(1 + 3κx²)), so its gradients get x² more.
 */
function tolerances(c: EdgeCase, x: number[]) {
  const [rtol, ulp] = c.dtype === 'float64' ? [1e-12, 2.3e-16] : [3e-7, 1.2e-7];
  const scale = x.map((v) => ulp * Math.max(1, Number.isFinite(v) ? Math.abs(v) : 1));
  const gradScale = scale.map((s, i) => s * Math.abs(c.dy[i]!) * (c.name === 'gelu' ? Math.max(1, x[i]! ** 2) : 1));
  return { rtol, scale, gradScale };
}

/** The float64 case computing the same function as a float32 one (same x where both exist). */
function float64Twin(c: EdgeCase): EdgeCase | undefined {
  return FIXTURE.cases.find((d) => d.dtype === 'float64' && d.name === c.name && d.cols === c.cols &&
    JSON.stringify(d.params) === JSON.stringify(c.params) && JSON.stringify(d.x) === JSON.stringify(c.x));
}

describe.each(ENGINES)('activations at the edges against PyTorch (%s engine)', (name) => {
  const e = engine(name);
  for (const c of FIXTURE.cases) {
    it(label(c), () => {
      const r = applyCase(e, c);
      // float32 results may also match PyTorch's float64 value where its
      // float32 kernel rounds worse (elu near 0, silu(−88.8) flushed to 0).
      const { rtol, scale, gradScale } = tolerances(c, r.x);
      const wantsY = [c.y.map(decode)];
      const wantsDx = [c.dx.map(decode)];
      const twin = c.dtype === 'float32' ? float64Twin(c) : undefined;
      if (twin) {
        wantsY.push(twin.y.map(decode).map(Math.fround));
        wantsDx.push(twin.dx.map(decode).map(Math.fround));
      }
      expect(mismatches(r.x, r.y, wantsY, rtol, scale), 'values').toEqual([]);
      // The gradient at a NaN input is compared nowhere: PyTorch's own differs
      // by dtype (elu: NaN in float64, dy·1 in float32; relu: dy), and the
      // loss it feeds is NaN whatever it is.
      const keep = <T,>(a: T[]) => a.filter((_v, i) => !Number.isNaN(r.x[i]!));
      expect(mismatches(keep(r.x), keep(r.dx), wantsDx.map(keep), rtol, keep(gradScale)), 'gradients').toEqual([]);
    });
  }
});

describe('activations at the edges: native and JS engines agree', () => {
  it('on every edge case, values and gradients', () => {
    let compared = 0;
    for (const c of FIXTURE.cases) {
      const n = applyCase(engine('native'), c);
      const j = applyCase(engine('js'), c);
      // The tolerances of the PyTorch comparison: native float32 kernels and
      // tanh/exp round differently from JS's double arithmetic rounded once.
      const { rtol, scale, gradScale } = tolerances(c, n.x);
      expect(mismatches(n.x, n.y, [j.y], rtol, scale), `${label(c)} values`).toEqual([]);
      const keep = <T,>(a: T[]) => a.filter((_v, i) => !Number.isNaN(n.x[i]!));
      expect(mismatches(keep(n.x), keep(n.dx), [keep(j.dx)], rtol, keep(gradScale)), `${label(c)} gradients`).toEqual([]);
      compared++;
    }
    expect(compared).toBe(FIXTURE.cases.length);
  });
});
