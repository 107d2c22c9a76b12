// Built-in losses: the worked numbers of SPEC.md §7, PyTorch's conventions,
// finite-difference gradients, and argument checks — in both engines.
import { describe, expect, it } from 'vitest';
import { Matrix, losses } from '../lib';
import { ENGINES, maxRelDiff, numericGradient, randomArray } from './helpers';

// SPEC.md §7: cross-entropy from logits (4×5), targets [1, 0, 3, 2] → 2.383066.
const LOGITS = [[0.7114, -0.9152, -0.3899, 0.9435, -0.1819], [-0.6162, -0.0346, -0.5723, -1.1487, -1.4400],
  [0.3388, -0.9662, -0.2876, -0.1088, -0.1857], [-1.3066, 1.5789, -0.3382, -0.6364, 2.9867]];

describe.each(ENGINES)('losses (%s engine)', (engine) => {
  it('cross-entropy of the worked example is 2.383066', () => {
    const ce = losses.create('cross-entropy', { engine });
    expect(ce.forward(Matrix.from(LOGITS), [1, 0, 3, 2])).toBeCloseTo(2.383066, 5);
    expect(ce.forward(Matrix.from(LOGITS, 'float64'), new Int32Array([1, 0, 3, 2]))).toBeCloseTo(2.383066, 5);
  });

  it('cross-entropy with sum reduction is rows × the mean', () => {
    const sum = losses.create('cross-entropy', { reduction: 'sum', engine });
    expect(sum.forward(Matrix.from(LOGITS, 'float64'), [1, 0, 3, 2])).toBeCloseTo(4 * 2.383066, 5);
  });

  it('one-hot targets equal class indices, and label smoothing follows q = (1−ε)t + ε/C', () => {
    const x = Matrix.from(LOGITS, 'float64');
    const onehot = Matrix.from([[0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 0, 0]], 'float64');
    const ce = losses.create('cross-entropy', { engine });
    expect(ce.forward(x, onehot)).toBeCloseTo(ce.forward(x, [1, 0, 3, 2]), 12);
    // Reference: −Σ q·log softmax, averaged over rows, computed here in float64.
    const eps = 0.1;
    let expected = 0;
    LOGITS.forEach((row, r) => {
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      row.forEach((v, c) => { expected -= ((1 - eps) * onehot.get(r, c) + eps / 5) * (v - lse); });
    });
    const smooth = losses.create('cross-entropy', { labelSmoothing: eps, engine });
    expect(smooth.forward(x, [1, 0, 3, 2])).toBeCloseTo(expected / 4, 10);
    expect(smooth.forward(x, onehot)).toBeCloseTo(expected / 4, 10);
  });

  it('mse is the mean over every element (sum: the sum)', () => {
    const p = Matrix.from([[1, 2], [3, 4]], 'float64');
    const t = Matrix.from([[0, 2], [1, 8]], 'float64');
    expect(losses.create('mse', { engine }).forward(p, t)).toBeCloseTo((1 + 0 + 4 + 16) / 4, 12);
    expect(losses.create('mse', { reduction: 'sum', engine }).forward(p, t)).toBeCloseTo(21, 12);
    expect(Array.from(losses.create('mse', { engine }).backward(p, t).data)).toEqual([0.5, 0, 1, -2]);
  });

  it('cross-entropy gradient is (softmax − onehot) / rows', () => {
    const g = losses.create('cross-entropy', { engine }).backward(Matrix.from([[0, 0]], 'float64'), [1]);
    expect(Array.from(g.data)).toEqual([0.5, -0.5]);
  });

  const cases: [string, object, () => unknown][] = [
    ['mse mean', { }, () => new Matrix(3, 4, randomArray(12, 9), 'float64')],
    ['mse sum', { reduction: 'sum' }, () => new Matrix(3, 4, randomArray(12, 9), 'float64')],
    ['cross-entropy indices', {}, () => [2, 0, 3]],
    ['cross-entropy sum', { reduction: 'sum' }, () => [1, 1, 0]],
    ['cross-entropy soft targets', {}, () => new Matrix(3, 4, new Float64Array([0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25]), 'float64')],
    ['cross-entropy smoothing', { labelSmoothing: 0.2 }, () => [3, 2, 1]],
    // Rows that do not sum to 1: the exact gradient is softmax·Σq − q, as PyTorch's autograd gives.
    ['cross-entropy unnormalised soft targets', { labelSmoothing: 0.1 }, () => new Matrix(3, 4, new Float64Array([0.2, 0.3, 0.1, 0, 0.5, 0.5, 0.5, 0.5, 2, 0, 0, 1]), 'float64')],
  ];
  for (const [label, opts, target] of cases) {
    it(`backward matches finite differences: ${label}`, () => {
      const loss = losses.create(label.startsWith('mse') ? 'mse' : 'cross-entropy', { ...opts, engine });
      const pred = new Matrix(3, 4, randomArray(12, 5), 'float64');
      const t = target() as never;
      const numeric = numericGradient(() => loss.forward(pred, t), pred.data);
      expect(maxRelDiff(loss.backward(pred, t).data, numeric)).toBeLessThan(1e-7);
    });
  }

  it('is stable for large logits', () => {
    const v = losses.create('cross-entropy', { engine }).forward(Matrix.from([[1000, 0], [-1000, 0]], 'float64'), [0, 1]);
    expect(v).toBeCloseTo(0, 12);
  });

  it('rejects bad input with named errors', () => {
    const ce = losses.create('cross-entropy', { engine });
    const p = Matrix.from([[1, 2], [3, 4]]);
    expect(() => ce.forward(p, [0, 2])).toThrow(/class indices/);
    expect(() => ce.forward(p, [0, -1])).toThrow(RangeError);
    expect(() => ce.forward(p, [0, 0.5])).toThrow(RangeError);
    expect(() => ce.forward(p, [0])).toThrow(/2 class indices/);
    expect(() => ce.forward(p, Matrix.from([[1, 0, 0], [0, 1, 0]]))).toThrow(/2 × 2 target/);
    expect(() => ce.forward('x' as never, [0, 1])).toThrow(TypeError);
    expect(() => losses.create('mse', { engine }).forward(p, [0, 1])).toThrow(/target matrix/);
    expect(() => losses.create('cosh' as never)).toThrow(/name/);
    expect(() => losses.create('mse', { reduction: 'average' as never })).toThrow(/reduction/);
    expect(() => losses.create('mse', { reduction: 'batchmean' })).toThrow(/kl-div only/);
    expect(() => losses.create('cross-entropy', { labelSmoothing: 1.5 })).toThrow(/labelSmoothing/);
    expect(() => losses.create('mse', { labelSmoothing: 0.1 })).toThrow(/'cross-entropy' only/);
    expect(() => losses.create('mse', { weight: 1 } as never)).toThrow(/Unknown option 'weight'/);
  });
});

describe('losses across engines', () => {
  it('agree on values and gradients', () => {
    const pred = new Matrix(6, 5, randomArray(30, 3), 'float64');
    const y = [0, 4, 2, 2, 1, 3];
    const n = losses.create('cross-entropy', { engine: 'native', labelSmoothing: 0.05 });
    const j = losses.create('cross-entropy', { engine: 'js', labelSmoothing: 0.05 });
    expect(n.forward(pred, y)).toBeCloseTo(j.forward(pred, y), 12);
    expect(maxRelDiff(n.backward(pred, y).data, j.backward(pred, y).data)).toBeLessThan(1e-12);
  });
});
