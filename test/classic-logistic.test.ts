// Logistic and softmax regression (SPEC.md §6, seed 002 §1.5–1.6) in both
// engines: the gradient rule, L2, and held-out accuracy against scikit-learn's
// LogisticRegression on the same splits (test/fixtures/classic-reference.json,
// made by test/fixtures/classic_reference.py).
import { describe, expect, it } from 'vitest';
import { models } from '../lib';
import { gaussianSource, loadSplit } from './datasets';
import { ENGINES, maxRelDiff } from './helpers';

/** sklearn's C = 1 penalty ½‖W‖² on the summed loss equals λ = 1/n on our mean loss. */
const sklearnL2 = (rows: number) => 1 / rows;
/** Held-out accuracy may trail scikit-learn's by at most this much (≈ 2 % of the test rows). */
const MARGIN = 0.02;

describe.each(ENGINES)('LogisticRegression on the %s engine', (engine) => {
  it('one full-batch step from zero is w = −η·mean((σ(0) − y)x), b = −η·mean(σ(0) − y)', () => {
    const x = [[1, 2], [3, -1], [0, 1]];
    const y = [1, 0, 1];
    const m = new models.LogisticRegression({ engine, dtype: 'float64', lr: 0.3, epochs: 1 });
    const r = m.fit(x, y);
    const expectedW = [0, 1].map((j) => -0.3 * x.reduce((s, row, i) => s + (0.5 - y[i]!) * row[j]!, 0) / 3);
    const expectedB = -0.3 * y.reduce((s, v) => s + (0.5 - v), 0) / 3;
    expect(maxRelDiff(m.weight!, expectedW)).toBeLessThan(1e-12);
    expect(m.bias![0]).toBeCloseTo(expectedB, 12);
    expect(r.loss[0]).toBeCloseTo(Math.log(2), 12);  // BCE at p = 0.5
  });

  it('mini-batch training lowers the BCE and L2 shrinks the weights', () => {
    const g = gaussianSource(5);
    const x = Array.from({ length: 300 }, () => [g(), g()]);
    const y = x.map((r) => (r[0]! - 0.5 * r[1]! + 0.3 * g() > 0 ? 1 : 0));
    const plain = new models.LogisticRegression({ engine, dtype: 'float64', lr: 0.5, epochs: 50, batchSize: 16, seed: 1 });
    const ridge = new models.LogisticRegression({ engine, dtype: 'float64', lr: 0.5, epochs: 50, batchSize: 16, seed: 1, l2: 0.1 });
    const h = plain.fit(x, y).loss;
    ridge.fit(x, y);
    expect(h[h.length - 1]!).toBeLessThan(0.5 * h[0]!);
    expect(plain.score(x, y)).toBeGreaterThan(0.9);
    const norm = (w: ArrayLike<number>) => Math.hypot(...Array.from(w));
    expect(norm(ridge.weight!)).toBeLessThan(0.8 * norm(plain.weight!));
    const proba = plain.predictProba(x).data;
    expect(Array.from(plain.predict(x))).toEqual(Array.from(proba, (p) => (p >= 0.5 ? 1 : 0)));
  });

  it('breast cancer: held-out accuracy on par with scikit-learn LogisticRegression (C = 1)', () => {
    const s = loadSplit('breast_cancer');
    const m = new models.LogisticRegression({ engine, lr: 0.5, epochs: 100, batchSize: 32, l2: sklearnL2(s.trainX.length) });
    m.fit(s.trainX, s.trainY);
    const acc = m.score(s.testX, s.testY);
    console.log(`[${engine}] breast cancer logistic regression: ${acc.toFixed(4)} (scikit-learn ${s.reference.logisticRegressionAccuracy.toFixed(4)})`);
    expect(acc).toBeGreaterThanOrEqual(s.reference.logisticRegressionAccuracy - MARGIN);
  });

  it('without L2 (l2: 0) there is no penalty term to overflow: float64 weights past 1e154 still train', () => {
    // ‖W‖² overflows to ∞ here, and the absent penalty 0·∞ used to make the epoch's loss NaN and abort the fit.
    const m = new models.LogisticRegression({ engine, dtype: 'float64', epochs: 3 });
    const { loss } = m.fit([[1e200, 0], [-1e200, 0]], [1, 0]);
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(Array.from(m.predict([[1e200, 0], [-1e200, 0]]))).toEqual([1, 0]);
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => new models.LogisticRegression({ engine, l2: -1 })).toThrow(/l2/);
    expect(() => new models.LogisticRegression({ engine, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new models.LogisticRegression({ engine, dtype: 'int8' as never })).toThrow(/dtype/);
    expect(() => new models.LogisticRegression({ engine: 'gpu' as never })).toThrow(/engine/);
    const m = new models.LogisticRegression({ engine });
    expect(() => m.predictProba([[1]])).toThrow(/call fit/);
    expect(() => m.fit([[1], [2]], [1, 0.5])).toThrow(/y\[1\]/);
    expect(() => m.fit([[1], [2]], new Int32Array(3))).toThrow(RangeError);
    m.fit([[1], [2]], [0, 1]);
    expect(() => m.predict([[1, 2]])).toThrow(/1 columns for x/);
  });
});

describe.each(ENGINES)('SoftmaxRegression on the %s engine', (engine) => {
  it('probability rows sum to 1 and predict is their argmax', () => {
    const s = loadSplit('iris');
    const m = new models.SoftmaxRegression({ engine, lr: 0.5, epochs: 30 });
    m.fit(s.trainX, s.trainY);
    expect(m.classes).toBe(3);
    const p = m.predictProba(s.testX);
    for (let r = 0; r < p.rows; r++) {
      let sum = 0;
      for (let c = 0; c < 3; c++) sum += p.get(r, c);
      expect(sum).toBeCloseTo(1, 5);
    }
    expect(Array.from(m.predict(s.testX))).toEqual(Array.from(p.argmax()));
  });

  it.each(['iris', 'digits'] as const)('%s: held-out accuracy on par with scikit-learn LogisticRegression (C = 1)', (name) => {
    const s = loadSplit(name);
    const m = new models.SoftmaxRegression({ engine, lr: 0.5, epochs: 100, batchSize: 32, l2: sklearnL2(s.trainX.length) });
    const h = m.fit(s.trainX, s.trainY).loss;
    expect(h[h.length - 1]!).toBeLessThan(h[0]!);
    const acc = m.score(s.testX, s.testY);
    console.log(`[${engine}] ${name} softmax regression: ${acc.toFixed(4)} (scikit-learn ${s.reference.logisticRegressionAccuracy.toFixed(4)})`);
    expect(acc).toBeGreaterThanOrEqual(s.reference.logisticRegressionAccuracy - MARGIN);
  });

  it('logits that overflow to ±∞ (float32 past 3.4e38) give probabilities, not NaN', () => {
    // Unscaled inputs of 1e30 make float32 logits of ±∞ after one step: softmax's max-subtraction
    // alone gives ∞ − ∞ = NaN there; a +∞ logit takes all the probability instead.
    for (const [dtype, big] of [['float32', 1e30], ['float64', 1e200]] as const) {
      const x = [[big, 0], [-big, 0]];
      const s = new models.SoftmaxRegression({ engine, dtype, epochs: 3 });
      expect(s.fit(x, [1, 0]).loss.every(Number.isFinite)).toBe(true);
      expect(Array.from(s.predictProba(x).data)).toEqual([0, 1, 1, 0]);
      expect(Array.from(s.predict(x))).toEqual([1, 0]);
    }
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => new models.SoftmaxRegression({ engine, classes: 1 })).toThrow(/classes/);
    expect(() => new models.SoftmaxRegression(7 as never)).toThrow(TypeError);
    const m = new models.SoftmaxRegression({ engine, classes: 3 });
    expect(() => m.fit([[1], [2]], [0, 3])).toThrow(/y\[1\]/);
    expect(() => m.fit([[1], [2]], [0, -1])).toThrow(RangeError);
    expect(() => new models.SoftmaxRegression({ engine }).fit([[1], [2]], [0, 0])).toThrow(/2 classes/);
    expect(() => new models.SoftmaxRegression({ engine }).fit([[1], [2]], [0, 1e9])).toThrow(/classes option/);
  });
});
