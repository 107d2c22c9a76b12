// The losses beyond mse and cross-entropy: SPEC.md §7's worked numbers, the
// options and aliases, class-weight helpers, and bad input — in both engines.
import { describe, expect, it } from 'vitest';
import { Matrix, losses } from '../lib';
import type { LossFunction } from '../lib/losses';
import { ENGINES, engine as engineOf } from './helpers';

// SPEC.md §7.
const BCE_P = [[0.6882], [0.4268], [0.6981], [0.6192]];
const BCE_Y = [1, 0, 1, 0];
const NLL_X = [[-2.1952, -2.0639, -0.3655, -4.2204, -2.9338], [-2.2309, -1.6147, -1.2787, -1.6363, -1.5118],
  [-2.1938, -3.0970, -1.5740, -1.3624, -0.9675], [-1.9533, -1.1320, -3.2088, -1.2513, -1.5640]];
const KL_X = [[-4.4963, -1.2036, -1.5853, -1.4722, -1.3688], [-2.6413, -2.2889, -2.2535, -0.5027, -2.1419],
  [-2.3875, -1.0028, -2.9582, -3.1580, -0.8055], [-2.3296, -0.4341, -2.2907, -2.1956, -3.1619]];
const KL_T = [[0.0345, 0.1775, 0.1944, 0.2313, 0.3622], [0.1333, 0.6237, 0.1228, 0.0795, 0.0406],
  [0.3026, 0.1969, 0.0661, 0.2365, 0.1979], [0.1164, 0.4287, 0.2206, 0.1695, 0.0648]];
const CUSTOM_Z = [[1.5, 0.5, -0.5], [-0.5, 1.5, 0.5], [0.5, -0.5, 1.5]];
const DICE_A = [[0.72, 0.12, 0.06, 0.63], [0.85, 0.61, 0.08, 0.68], [0.40, 0.05, 0.79, 0.13], [0.09, 0.99, 0.93, 0.04]];
const DICE_B = [[0, 0, 1, 1], [1, 1, 1, 0], [0, 0, 0, 1], [0, 0, 1, 0]];

/** A user-written cross-entropy (the notes' "custom loss"), independent of the built-in one. */
const customCrossEntropy: LossFunction = {
  forward(pred, target) {
    const y = target as number[];
    let total = 0;
    for (let r = 0; r < pred.rows; r++) {
      const row = Array.from(pred.data.subarray(r * pred.cols, (r + 1) * pred.cols));
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      total += lse - row[y[r]!]!;
    }
    return total / pred.rows;
  },
  backward() { throw new Error('not used here'); },
};

describe.each(ENGINES)('SPEC.md §7 worked numbers (%s engine)', (engine) => {
  it('bce 0.563768', () => {
    expect(losses.create('bce', { engine }).forward(Matrix.from(BCE_P, 'float64'), BCE_Y)).toBeCloseTo(0.563768, 6);
    expect(losses.create('bce', { engine }).forward(Matrix.from(BCE_P), BCE_Y)).toBeCloseTo(0.563768, 5);
  });
  it('nll 2.2165', () => {
    expect(losses.create('nll', { engine }).forward(Matrix.from(NLL_X, 'float64'), [1, 0, 3, 2])).toBeCloseTo(2.2165, 4);
  });
  it('kl-div batchmean 0.427552', () => {
    const kl = losses.create('kl-div', { reduction: 'batchmean', engine });
    expect(kl.forward(Matrix.from(KL_X, 'float64'), Matrix.from(KL_T, 'float64'))).toBeCloseTo(0.427552, 5);
    // 'mean' divides by every element instead (PyTorch's 'mean'): 5 columns.
    const mean = losses.create('kl-div', { engine }).forward(Matrix.from(KL_X, 'float64'), Matrix.from(KL_T, 'float64'));
    expect(mean).toBeCloseTo(0.427552 / 5, 6);
  });
  it('cross-entropy 0.407606, built in and user-written', () => {
    const z = Matrix.from(CUSTOM_Z, 'float64');
    expect(losses.create('cross-entropy', { engine }).forward(z, [0, 1, 2])).toBeCloseTo(0.407606, 6);
    expect(customCrossEntropy.forward(z, [0, 1, 2])).toBeCloseTo(0.407606, 6);
  });
  it('soft dice 0.423789 (s = 1) and 0.458655 (s = 0)', () => {
    const a = Matrix.from(DICE_A, 'float64'), b = Matrix.from(DICE_B, 'float64');
    expect(losses.create('dice', { engine }).forward(a, b)).toBeCloseTo(0.423789, 6);
    expect(losses.create('dice', { smooth: 0, engine }).forward(a, b)).toBeCloseTo(0.458655, 6);
  });
});

describe.each(ENGINES)('loss options (%s engine)', (engine) => {
  const p = Matrix.from([[0.5, -2], [3, 0.1]], 'float64');
  const t = Matrix.from([[0, 0], [0, 0]], 'float64');

  it("'l1' is 'mae' and 'pinball' is 'quantile'", () => {
    expect(losses.create('l1', { engine }).name).toBe('mae');
    expect(losses.create('l1', { engine }).forward(p, t)).toBeCloseTo((0.5 + 2 + 3 + 0.1) / 4, 12);
    expect(losses.create('pinball', { tau: 0.9, engine }).forward(p, t))
      .toBeCloseTo(losses.create('quantile', { tau: 0.9, engine }).forward(p, t), 15);
  });

  it('huber is quadratic inside δ and linear outside; tukey saturates at δ²/6', () => {
    const h = losses.create('huber', { reduction: 'none', engine }).forward(p, t);
    expect(Array.from(h)).toEqual([0.125, 1.5, 2.5, 0.005000000000000001]);
    const k = losses.create('tukey', { delta: 1, reduction: 'none', engine }).forward(p, t);
    expect(k[1]).toBeCloseTo(1 / 6, 15);
    expect(k[2]).toBeCloseTo(1 / 6, 15);
    expect(losses.create('tukey', { engine }).spec.delta).toBe(4.685);
  });

  it('barron at α = 2 is ½(x/c)², at α = 1 √((x/c)² + 1) − 1, and −∞ is allowed', () => {
    const x = Matrix.from([[1.5]], 'float64'), z = Matrix.from([[0]], 'float64');
    expect(losses.create('barron', { alpha: 2, c: 0.5, engine }).forward(x, z)).toBeCloseTo(0.5 * 9, 12);
    expect(losses.create('barron', { engine }).forward(x, z)).toBeCloseTo(Math.sqrt(2.25 + 1) - 1, 12);
    expect(losses.create('barron', { alpha: -Infinity, engine }).forward(x, z)).toBeCloseTo(1 - Math.exp(-1.125), 12);
    // Near the α = 0 special case the general form stays continuous.
    const at0 = losses.create('barron', { alpha: 0, engine }).forward(x, z);
    expect(losses.create('barron', { alpha: 1e-9, engine }).forward(x, z)).toBeCloseTo(at0, 8);
  });

  it('focal with γ = 0 and α = 0.5 is half of bce-with-logits', () => {
    const z = Matrix.from([[2, -1], [0.5, 3]], 'float64'), y = Matrix.from([[1, 0], [0, 1]], 'float64');
    const focal = losses.create('focal', { gamma: 0, alpha: 0.5, engine }).forward(z, y);
    expect(focal).toBeCloseTo(0.5 * losses.create('bce-with-logits', { engine }).forward(z, y), 14);
    // γ > 0 down-weights the well-classified elements: smaller than that.
    expect(losses.create('focal', { alpha: 0.5, engine }).forward(z, y)).toBeLessThan(focal);
  });

  it('bce stays finite at p = 0 and 1 (logs clamped at −100) and bce-with-logits is stable', () => {
    const bce = losses.create('bce', { engine });
    expect(bce.forward(Matrix.from([[0], [1]], 'float64'), [1, 0])).toBe(100);
    const v = losses.create('bce-with-logits', { engine }).forward(Matrix.from([[800], [-800]], 'float64'), [0, 1]);
    expect(v).toBe(800);
  });

  it('class weights: cross-entropy and nll take PyTorch’s weighted mean Σ w_y ℓ / Σ w_y', () => {
    const logp = Matrix.from(NLL_X, 'float64');
    const y = [1, 0, 3, 2];
    const w = [1, 2, 3, 4, 5];
    const expected = -(2 * NLL_X[0]![1]! + 1 * NLL_X[1]![0]! + 4 * NLL_X[2]![3]! + 3 * NLL_X[3]![2]!) / (2 + 1 + 4 + 3);
    expect(losses.create('nll', { classWeights: w, engine }).forward(logp, y)).toBeCloseTo(expected, 12);
    // Equal weights change nothing.
    const z = Matrix.from(CUSTOM_Z, 'float64');
    expect(losses.create('cross-entropy', { classWeights: [3, 3, 3], engine }).forward(z, [0, 1, 2])).toBeCloseTo(0.407606, 6);
  });

  it('class weights are copied at creation', () => {
    const w = new Float64Array([1, 2, 3, 4, 5]);
    const nll = losses.create('nll', { classWeights: w, engine });
    const before = nll.forward(Matrix.from(NLL_X, 'float64'), [1, 0, 3, 2]);
    w.fill(100);
    expect(nll.forward(Matrix.from(NLL_X, 'float64'), [1, 0, 3, 2])).toBe(before);
    nll.classWeights!.fill(7);
    expect(nll.forward(Matrix.from(NLL_X, 'float64'), [1, 0, 3, 2])).toBe(before);
  });

  it("reduction 'none' gives one value per element, or per row for cross-entropy and nll", () => {
    const z = Matrix.from(CUSTOM_Z, 'float64');
    const rows = losses.create('cross-entropy', { reduction: 'none', engine }).forward(z, [0, 1, 2]);
    expect(rows).toHaveLength(3);
    expect(rows.reduce((s, v) => s + v, 0) / 3).toBeCloseTo(0.407606, 6);
    expect(losses.create('mse', { reduction: 'none', engine }).forward(p, t)).toHaveLength(4);
  });

  it('rejects bad input with named errors', () => {
    const probs = Matrix.from([[0.2, 0.7], [0.9, 0.4]]);
    const bin = Matrix.from([[0, 1], [1, 0]]);
    expect(() => losses.create('bce', { engine }).forward(Matrix.from([[1.2, 0.5], [0.1, 0.2]]), bin)).toThrow(/\[0, 1\] for pred/);
    expect(() => losses.create('bce', { engine }).forward(Matrix.from([[-0.1, 0.5], [0.1, 0.2]]), bin)).toThrow(RangeError);
    expect(() => losses.create('bce', { engine }).forward(probs, Matrix.from([[0, 2], [1, 0]]))).toThrow(/for target/);
    expect(() => losses.create('bce-with-logits', { engine }).forward(probs, Matrix.from([[0, -1], [1, 0]]))).toThrow(/for target/);
    expect(() => losses.create('focal', { engine }).forward(probs, Matrix.from([[0, 1.5], [1, 0]]))).toThrow(/for target/);
    expect(() => losses.create('hinge', { engine }).forward(probs, bin)).toThrow(/-1 or 1/);
    expect(() => losses.create('squared-hinge', { engine }).forward(probs, Matrix.from([[1, -1], [2, 1]]))).toThrow(/-1 or 1/);
    expect(() => losses.create('kl-div', { engine }).forward(probs, Matrix.from([[0.5, -0.5], [1, 0]]))).toThrow(/>= 0/);
    // Wrong target kinds and shapes.
    expect(() => losses.create('nll', { engine }).forward(probs, [0, 2])).toThrow(/class indices/);
    expect(() => losses.create('nll', { engine }).forward(probs, bin)).toThrow(/class indices/);
    expect(() => losses.create('bce', { engine }).forward(probs, [0, 1])).toThrow(/target matrix/);
    expect(() => losses.create('huber', { engine }).forward(probs, Matrix.from([[0, 1, 1]]))).toThrow(/2 × 2 target/);
    // Options: ranges, and options given to a loss that does not take them.
    expect(() => losses.create('huber', { delta: 0 })).toThrow(/delta/);
    expect(() => losses.create('tukey', { delta: -1 })).toThrow(/delta/);
    expect(() => losses.create('quantile', { tau: 1 })).toThrow(/tau/);
    expect(() => losses.create('barron', { alpha: NaN })).toThrow(/alpha/);
    expect(() => losses.create('barron', { alpha: Infinity })).toThrow(/alpha/);
    expect(() => losses.create('barron', { c: 0 })).toThrow(/\bc\b/);
    expect(() => losses.create('focal', { alpha: 1.5 })).toThrow(/alpha/);
    expect(() => losses.create('focal', { alpha: -Infinity })).toThrow(/alpha/);
    expect(() => losses.create('focal', { gamma: -1 })).toThrow(/gamma/);
    expect(() => losses.create('dice', { smooth: -1 })).toThrow(/smooth/);
    expect(() => losses.create('bce-with-logits', { posWeight: 0 })).toThrow(/posWeight/);
    expect(() => losses.create('mse', { delta: 1 })).toThrow(/delta applies to 'huber', 'tukey' only/);
    expect(() => losses.create('mse', { classWeights: [1] })).toThrow(/classWeights applies/);
    expect(() => losses.create('dice', { reduction: 'sum' })).toThrow(/dice/);
    expect(() => losses.create('cross-entropy', { reduction: 'batchmean' })).toThrow(/kl-div only/);
    expect(() => losses.create('nll', { classWeights: [1, -1] })).toThrow(/classWeights\[1\]/);
    expect(() => losses.create('nll', { classWeights: [1, NaN] })).toThrow(RangeError);
    expect(() => losses.create('nll', { classWeights: 'abc' as never })).toThrow(TypeError);
    expect(() => losses.create('nll', { classWeights: [] })).toThrow(/at least one/);
    expect(() => losses.create('nll', { classWeights: [1, 2, 3], engine }).forward(probs, [0, 1])).toThrow(/3 columns/);
  });

  it('the engine re-checks a spec passed to it directly', () => {
    const e = engineOf(engine);
    const pred = new Float64Array([0.2, 0.7, 0.9, 0.4]);
    const y = new Int32Array([0, 1]);
    const base = { kind: 'nll' as const, reduction: 'mean' as const, labelSmoothing: 0 };
    expect(() => e.lossForward({ ...base, classWeights: new Float64Array([1, -1]) }, pred, 2, 2, y)).toThrow(RangeError);
    expect(() => e.lossForward({ ...base, classWeights: new Float64Array([1, 1, 1]) }, pred, 2, 2, y)).toThrow(RangeError);
    expect(() => e.lossForward({ ...base, kind: 'huber', delta: -1 }, pred, 2, 2, pred)).toThrow(RangeError);
    expect(() => e.lossForward({ ...base, kind: 'dice', reduction: 'none' }, pred, 2, 2, pred)).toThrow(RangeError);
    expect(() => e.lossValues({ ...base, kind: 'dice' }, pred, 2, 2, pred, new Float64Array(4))).toThrow(RangeError);
    expect(() => e.lossValues({ ...base, reduction: 'none' }, pred, 2, 2, y, new Float64Array(3))).toThrow(RangeError);
    expect(() => e.lossForward({ ...base, kind: 'bce' }, new Float64Array([2, 0, 0, 0]), 2, 2, pred)).toThrow(RangeError);
    expect(() => e.lossForward({ ...base, kind: 'cosh' as never }, pred, 2, 2, pred)).toThrow(RangeError);
  });
});

describe('class-weight helpers', () => {
  const labels = [0, 0, 0, 1, 2, 2];

  it('inverseFrequencyWeights is N / (K · n_c), 0 for an absent class', () => {
    expect(Array.from(losses.inverseFrequencyWeights(labels, 3))).toEqual([6 / 9, 6 / 3, 6 / 6]);
    expect(Array.from(losses.inverseFrequencyWeights(new Int32Array([1, 1]), 3))).toEqual([0, 2 / (3 * 2), 0]);
  });

  it('classBalancedWeights is (1 − β)/(1 − β^{n_c}) (Cui et al. 2019)', () => {
    const w = losses.classBalancedWeights(labels, 3, 0.9);
    expect(w[0]).toBeCloseTo(0.1 / (1 - 0.9 ** 3), 14);
    expect(w[1]).toBeCloseTo(1, 14);
    expect(w[2]).toBeCloseTo(0.1 / (1 - 0.81), 14);
    expect(Array.from(losses.classBalancedWeights(labels, 3, 0))).toEqual([1, 1, 1]);
    // Rarer classes weigh more.
    expect(w[1]! > w[2]! && w[2]! > w[0]!).toBe(true);
  });

  it('validate their arguments', () => {
    expect(() => losses.inverseFrequencyWeights([0, 3], 3)).toThrow(/class indices/);
    expect(() => losses.inverseFrequencyWeights([0, 1.5], 3)).toThrow(RangeError);
    expect(() => losses.inverseFrequencyWeights([], 3)).toThrow(/at least one label/);
    expect(() => losses.inverseFrequencyWeights('x' as never, 3)).toThrow(TypeError);
    expect(() => losses.inverseFrequencyWeights([0], 0)).toThrow(/numClasses/);
    expect(() => losses.classBalancedWeights(labels, 3, 1)).toThrow(/beta/);
    expect(() => losses.classBalancedWeights(labels, 3, -0.1)).toThrow(/beta/);
  });
});
