// Every built-in loss, option and reduction against PyTorch (values and
// autograd gradients stored by test/fixtures/losses_torch.py), against central
// finite differences of the loss itself, and native against JS — in both engines.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Matrix, losses } from '../lib';
import type { LossOptions } from '../lib/losses';
import { ENGINES, maxRelDiff, numericGradient } from './helpers';

interface Case {
  loss: string;
  options: Record<string, unknown>;
  source: string;
  pred: number[][];
  target: number[] | number[][];
  targetKind: 'indices' | 'dense';
  value: number | number[];
  grad: number[][];
}

const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'losses-torch.json'), 'utf8')) as { cases: Case[] };
const CASES = fixture.cases;

function label(c: Case): string {
  const opts = Object.entries(c.options).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`).join(' ');
  const t = c.targetKind === 'indices' ? 'indices' : `dense ${JSON.stringify((c.target as number[][])[0]).slice(0, 16)}`;
  return `${c.loss} ${opts} (${t})`;
}

function optionsOf(c: Case, engine: 'native' | 'js'): LossOptions {
  const o: Record<string, unknown> = { ...c.options, engine };
  if (o.alpha === '-Infinity') o.alpha = -Infinity;
  return o as LossOptions;
}

function inputs(c: Case, dtype: 'float32' | 'float64' = 'float64') {
  const pred = Matrix.from(c.pred, dtype);
  const target = c.targetKind === 'indices' ? Int32Array.from(c.target as number[]) : Matrix.from(c.target as number[][], dtype);
  return { pred, target };
}

const flat = (m: number[][]) => m.flat();

describe('the PyTorch fixture', () => {
  it('covers every loss and every reduction it allows', () => {
    const names = new Set(CASES.map((c) => c.loss));
    expect([...names].sort()).toEqual([...losses.names].filter((n) => n !== 'l1' && n !== 'pinball').sort());
    for (const n of names) {
      const reductions = new Set(CASES.filter((c) => c.loss === n).map((c) => c.options.reduction));
      const expected = n === 'dice' ? ['mean'] : n === 'kl-div' ? ['batchmean', 'mean', 'none', 'sum'] : ['mean', 'none', 'sum'];
      expect([...reductions].sort(), n).toEqual(expected);
    }
  });
});

describe.each(ENGINES)('losses against PyTorch (%s engine)', (engine) => {
  for (const c of CASES) {
    it(label(c), () => {
      const loss = losses.create(c.loss as never, optionsOf(c, engine));
      const { pred, target } = inputs(c);
      const value = loss.forward(pred, target as never);
      if (Array.isArray(c.value)) {
        expect(value).toBeInstanceOf(Float64Array);
        expect(maxRelDiff(value as Float64Array, c.value)).toBeLessThan(1e-9);
      } else {
        expect(typeof value).toBe('number');
        expect(Math.abs((value as number) - c.value) / Math.max(1, Math.abs(c.value))).toBeLessThan(1e-9);
      }
      expect(maxRelDiff(loss.backward(pred, target as never).data, flat(c.grad))).toBeLessThan(1e-9);

      // float32 inputs: the arithmetic is in double, so only the inputs' rounding remains.
      const f = inputs(c, 'float32');
      const v32 = loss.forward(f.pred, f.target as never);
      const ref = Array.isArray(c.value) ? c.value : [c.value];
      expect(maxRelDiff(typeof v32 === 'number' ? [v32] : v32, ref)).toBeLessThan(1e-4);
      expect(maxRelDiff(loss.backward(f.pred, f.target as never).data, flat(c.grad))).toBeLessThan(1e-3);
    });
  }
});

describe.each(ENGINES)('loss gradients against finite differences (%s engine)', (engine) => {
  for (const c of CASES) {
    it(label(c), () => {
      const loss = losses.create(c.loss as never, optionsOf(c, engine));
      const { pred, target } = inputs(c);
      // For 'none' the gradient is that of the sum of the values.
      const scalar = () => {
        const v = loss.forward(pred, target as never);
        return typeof v === 'number' ? v : v.reduce((s, x) => s + x, 0);
      };
      const numeric = numericGradient(scalar, pred.data);
      expect(maxRelDiff(loss.backward(pred, target as never).data, numeric)).toBeLessThan(1e-6);
    });
  }
});

describe('losses: native and JS engines agree', () => {
  it('on every fixture case, values and gradients to 1e-12', () => {
    let compared = 0;
    for (const c of CASES) {
      const n = losses.create(c.loss as never, optionsOf(c, 'native'));
      const j = losses.create(c.loss as never, optionsOf(c, 'js'));
      for (const dtype of ['float64', 'float32'] as const) {
        const { pred, target } = inputs(c, dtype);
        const a = n.forward(pred, target as never), b = j.forward(pred, target as never);
        expect(maxRelDiff(typeof a === 'number' ? [a] : a, typeof b === 'number' ? [b] : b), label(c)).toBeLessThan(1e-12);
        const tol = dtype === 'float64' ? 1e-12 : 1e-6;  // float32 gradients round once, at the end
        expect(maxRelDiff(n.backward(pred, target as never).data, j.backward(pred, target as never).data), label(c)).toBeLessThan(tol);
        compared++;
      }
    }
    expect(compared).toBe(2 * CASES.length);
  });
});
