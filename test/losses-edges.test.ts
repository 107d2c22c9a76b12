// Losses at their edges against PyTorch 1.13 (test/fixtures/
// losses_edges_torch.json, made by the script beside it), in both engines:
// logits of ±1e4, bce probabilities exactly 0 and 1, residuals exactly 0 and
// ±δ, one-row batches, rows of equal huge logits. Each case both through
// losses.create (forward/backward) and inside a training plan (the fused
// loss of trainStep, computed in the plan's dtype), in float64 and float32.
// losses-torch.test.ts covers the ordinary range.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Matrix, losses } from '../lib';
import type { Dtype, Engine, LossSpec } from '../lib/engine';
import type { LossOptions } from '../lib/losses';
import { ENGINES, engine } from './helpers';

type Num = number | string;
interface Result { value: Num[]; grad: Num[] }
interface Case {
  loss: string; options: Record<string, unknown>; pred: number[][]; target: number[] | number[][];
  targetKind: 'indices' | 'dense'; float64: Result; float32: Result;
}
const FIXTURE = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'losses_edges_torch.json'), 'utf8')) as { cases: Case[] };
const decode = (v: Num): number => (typeof v === 'number' ? v : Number(v));

function lossOf(c: Case, name: 'native' | 'js') {
  const o: Record<string, unknown> = { ...c.options, engine: name };
  if (o.alpha === '-Infinity') o.alpha = -Infinity;
  return losses.create(c.loss as never, o as LossOptions);
}

function target(c: Case, dtype: Dtype) {
  return c.targetKind === 'indices' ? Int32Array.from(c.target as number[]) : Matrix.from(c.target as number[][], dtype);
}

/**
 * The loss and dLoss/dPred inside a plan: a dense layer (rows → cols) fed the
 * identity matrix, its weight column i holding prediction row i, so its
 * output is the prediction exactly (sums of x·1 and zeros) and its weight
 * gradient dW[:, i] = Σ_r dz[r, :]·I[r, i] is the loss gradient of row i.
 */
function throughPlan(e: Engine, spec: LossSpec, c: Case, dtype: Dtype) {
  const F = dtype === 'float32' ? Float32Array : Float64Array;
  const rows = c.pred.length;
  const cols = c.pred[0]!.length;
  const plan = e.createPlan({ dtype, maxBatch: rows, layers: [{ kind: 'dense', inFeatures: rows, outFeatures: cols }] });
  plan.setLoss(spec);
  const params = new F(plan.paramCount);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) params[j * rows + i] = c.pred[i]![j]!;
  plan.setParams(params);
  const eye = new F(rows * rows);
  for (let i = 0; i < rows; i++) eye[i * rows + i] = 1;
  const t = target(c, dtype);
  const value = plan.computeGradients(eye, rows, t instanceof Matrix ? t.data : t);
  const grads = new F(plan.paramCount);
  plan.getGrads(grads);
  const grad: number[] = [];
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) grad.push(grads[j * rows + i]!);
  plan.dispose();
  return { value, grad };
}

/** Entries of `got` farther than the tolerance from `want`; NaN must meet NaN, ±Infinity itself. */
function mismatches(got: ArrayLike<number>, want: number[], rtol: number, atol: number): string[] {
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok) bad.push(`[${i}] got ${g} want ${w}`);
  }
  return bad;
}

const label = (c: Case) => `${c.loss} ${JSON.stringify(c.options)} ${c.targetKind}` +
  ` ${JSON.stringify(c.pred).slice(0, 40)}`;

describe.each(ENGINES)('losses at the edges against PyTorch (%s engine)', (name) => {
  const e = engine(name);
  for (const c of FIXTURE.cases) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${label(c)} (${dtype})`, () => {
        const ref = c[dtype];
        const want = ref.value.map(decode);
        const wantGrad = ref.grad.map(decode);
        // float64: 1e-12 relative; float32: torch computes in float32, the
        // losses.create path in double from float32 inputs, so 1e-5.
        const rtol = dtype === 'float64' ? 1e-12 : 1e-5;
        const atol = dtype === 'float64' ? 1e-14 : 1e-6;
        // bce's gradient divides by max(p(1 − p), 1e−12); torch's 1e−12 is a
        // float constant (9.99999996e−13), so at p = 0 or 1 it is 4e−9 larger.
        const gradRtol = c.loss === 'bce' ? Math.max(rtol, 5e-9) : rtol;
        const loss = lossOf(c, name);
        const pred = Matrix.from(c.pred, dtype);
        const v = loss.forward(pred, target(c, dtype) as never);
        expect(mismatches(typeof v === 'number' ? [v] : v, want, rtol, atol), 'forward').toEqual([]);
        expect(mismatches(loss.backward(pred, target(c, dtype) as never).data, wantGrad, gradRtol, atol), 'backward').toEqual([]);
        if (c.options.reduction === 'none') return;  // not a training reduction
        const fused = throughPlan(e, loss.spec, c, dtype);
        expect(mismatches([fused.value], want, rtol, atol), 'plan loss').toEqual([]);
        expect(mismatches(fused.grad, wantGrad, gradRtol, atol), 'plan gradient').toEqual([]);
      });
    }
  }
});

describe('losses at the edges: native and JS engines agree', () => {
  it('on every edge case and dtype, through losses.create and inside a plan', () => {
    let compared = 0;
    for (const c of FIXTURE.cases) {
      for (const dtype of ['float64', 'float32'] as const) {
        const n = lossOf(c, 'native');
        const j = lossOf(c, 'js');
        const pred = Matrix.from(c.pred, dtype);
        const vn = n.forward(pred, target(c, dtype) as never);
        const vj = j.forward(pred, target(c, dtype) as never);
        const asArray = (v: number | Float64Array) => (typeof v === 'number' ? [v] : Array.from(v));
        // Both compute in double; float32 gradients round once, at the end.
        const [rtol, atol] = dtype === 'float64' ? [1e-12, 1e-14] : [1.2e-7, 1e-30];
        expect(mismatches(asArray(vn), asArray(vj), rtol, atol), label(c)).toEqual([]);
        expect(mismatches(n.backward(pred, target(c, dtype) as never).data,
          Array.from(j.backward(pred, target(c, dtype) as never).data), rtol, atol), label(c)).toEqual([]);
        if (c.options.reduction !== 'none') {
          const fn = throughPlan(engine('native'), n.spec, c, dtype);
          const fj = throughPlan(engine('js'), j.spec, c, dtype);
          expect(mismatches([fn.value], [fj.value], rtol, atol), `${label(c)} plan loss`).toEqual([]);
          expect(mismatches(fn.grad, fj.grad, rtol, atol), `${label(c)} plan gradient`).toEqual([]);
        }
        compared++;
      }
    }
    expect(compared).toBe(2 * FIXTURE.cases.length);
  });
});
