// Perceptron and ADALINE (SPEC.md §6, seed 002 §1.3–1.4) in both engines.
import { describe, expect, it } from 'vitest';
import { models } from '../lib';
import { solveSymmetric } from '../lib/models/linalg';
import { gaussianSource, loadRaw } from './datasets';
import { ENGINES, maxRelDiff } from './helpers';

const CORNERS = [[0, 0], [0, 1], [1, 0], [1, 1]];

/** The least-squares [w, b] of y on [x, 1] from the normal equations (the closed form ADALINE tends to). */
function leastSquares(x: number[][], y: number[]): Float64Array {
  const p = x[0]!.length + 1;
  const a = new Float64Array(p * p);
  const b = new Float64Array(p);
  x.forEach((row, i) => {
    const r = [...row, 1];
    for (let j = 0; j < p; j++) {
      b[j]! += r[j]! * y[i]!;
      for (let k = 0; k < p; k++) a[j * p + k]! += r[j]! * r[k]!;
    }
  });
  return solveSymmetric(a, b, p, 0);
}

function linearData(n: number, seed: number, noise: number): { x: number[][]; y: number[] } {
  const g = gaussianSource(seed);
  const x = Array.from({ length: n }, () => [g(), g(), g()]);
  const y = x.map((r) => 0.7 * r[0]! - 1.3 * r[1]! + 0.2 * r[2]! + 0.5 + noise * g());
  return { x, y };
}

describe.each(ENGINES)('Perceptron on the %s engine', (engine) => {
  it('learns AND and OR from zero weights and stops after a mistake-free epoch', () => {
    for (const y of [[0, 0, 0, 1], [0, 1, 1, 1]]) {
      const p = new models.Perceptron({ engine });
      const r = p.fit(CORNERS, y);
      expect(r.converged).toBe(true);
      expect(r.mistakes[r.mistakes.length - 1]).toBe(0);
      expect(r.mistakes.slice(0, -1).every((m) => m > 0)).toBe(true);
      expect(Array.from(p.predict(CORNERS))).toEqual(y);
      expect(p.score(CORNERS, y)).toBe(1);
    }
  });

  it('replays the rule by hand: w += η(y − ŷ)x per sample, step(0) = 1', () => {
    // AND in data order with η = 1: the first sample (0,0) → ŷ = step(0) = 1, a mistake,
    // so b = −1; (0,1): z = −1 → 0, right; (1,0): right; (1,1): z = −1 → 0, wrong → w = (1,1), b = 0.
    const p = new models.Perceptron({ engine, maxEpochs: 1 });
    const r = p.fit(CORNERS, [0, 0, 0, 1]);
    expect(r).toEqual({ epochs: 1, converged: false, mistakes: [2] });
    expect(Array.from(p.weight!)).toEqual([1, 1]);
    expect(p.bias).toBe(0);
  });

  it('never converges on XOR and says so after maxEpochs', () => {
    const p = new models.Perceptron({ engine, maxEpochs: 50 });
    const r = p.fit(CORNERS, [0, 1, 1, 0]);
    expect(r.converged).toBe(false);
    expect(r.epochs).toBe(50);
    expect(r.mistakes.every((m) => m > 0)).toBe(true);
    expect(p.score(CORNERS, [0, 1, 1, 0])).toBeLessThan(1);
  });

  it('separates iris setosa from versicolor (a linearly separable real subset)', () => {
    const { x, y } = loadRaw('iris');
    const rows = y.map((c, i) => (c < 2 ? i : -1)).filter((i) => i >= 0);
    const sx = rows.map((i) => x[i]!);
    const sy = rows.map((i) => y[i]!);
    const p = new models.Perceptron({ engine, shuffle: true, seed: 3 });
    const r = p.fit(sx, sy);
    expect(r.converged).toBe(true);
    expect(p.score(sx, sy)).toBe(1);
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => new models.Perceptron({ lr: 0, engine })).toThrow(/lr/);
    expect(() => new models.Perceptron({ maxEpochs: 1.5, engine })).toThrow(RangeError);
    expect(() => new models.Perceptron({ epochs: 3 } as never)).toThrow(/Unknown option 'epochs'/);
    expect(() => new models.Perceptron('fast' as never)).toThrow(TypeError);
    const p = new models.Perceptron({ engine });
    expect(() => p.predict(CORNERS)).toThrow(/call fit/);
    expect(() => p.fit(CORNERS, [0, 1, 2, 1])).toThrow(/binary label \(0 or 1\) for y\[2\]/);
    expect(() => p.fit(CORNERS, [0, 1])).toThrow(RangeError);
    expect(() => p.fit('x', [0, 1, 1, 0])).toThrow(TypeError);
    expect(() => p.fit([[0, NaN], [1, 1]], [0, 1])).toThrow(/finite/);
    p.fit(CORNERS, [0, 0, 0, 1]);
    expect(() => p.predict([[1, 2, 3]])).toThrow(/2 columns for x/);
  });
});

describe.each(ENGINES)('Adaline on the %s engine', (engine) => {
  it('batch mode converges to the closed-form least-squares solution', () => {
    const { x, y } = linearData(200, 11, 0.3);
    const expected = leastSquares(x, y);
    const a = new models.Adaline({ engine, dtype: 'float64', mode: 'batch', lr: 0.5, maxEpochs: 20_000, tol: 1e-13 });
    const r = a.fit(x, y);
    expect(r.converged).toBe(true);
    expect(maxRelDiff([...a.weight!, a.bias!], expected)).toBeLessThan(1e-8);
    // The training MSE never increases under a stable step.
    for (let i = 1; i < r.loss.length; i++) expect(r.loss[i]!).toBeLessThanOrEqual(r.loss[i - 1]! + 1e-15);
  });

  it('online Widrow–Hoff steps end near the least-squares solution (small η)', () => {
    const { x, y } = linearData(200, 12, 0.3);
    const expected = leastSquares(x, y);
    const a = new models.Adaline({ engine, dtype: 'float64', lr: 0.002, maxEpochs: 300, tol: 0 });
    a.fit(x, y);
    // LMS with a constant step hovers around the optimum within O(η); here within 0.02.
    expect(maxRelDiff([...a.weight!, a.bias!], expected)).toBeLessThan(0.02);
  });

  it('normalised LMS (x/‖x‖²) converges on inputs where the plain rule with the same η diverges', () => {
    const { x } = linearData(100, 13, 0);
    const wide = x.map((r) => r.map((v) => v * 10));
    const y = wide.map((r) => 0.07 * r[0]! - 0.13 * r[1]! + 0.02 * r[2]! + 0.5);
    const a = new models.Adaline({ engine, dtype: 'float64', normalize: true, lr: 0.5, maxEpochs: 5000, tol: 1e-12 });
    const r = a.fit(wide, y);
    expect(r.converged).toBe(true);
    expect(maxRelDiff([...a.weight!, a.bias!], [0.07, -0.13, 0.02, 0.5])).toBeLessThan(1e-6);
    expect(() => new models.Adaline({ engine, dtype: 'float64', lr: 0.5, maxEpochs: 50 }).fit(wide, y)).toThrow(/diverged/);
  });

  it('thresholds only to predict: classes from z ≥ 0.5 on 0/1 targets', () => {
    const a = new models.Adaline({ engine, mode: 'batch', lr: 0.5, maxEpochs: 5000, tol: 1e-9 });
    a.fit(CORNERS, [0, 0, 0, 1]);
    // Least squares on AND gives z = (−0.25, 0.25, 0.25, 0.75): only (1,1) reaches 0.5.
    const z = Array.from(a.decisionFunction(CORNERS).data);
    expect(maxRelDiff(z, [-0.25, 0.25, 0.25, 0.75])).toBeLessThan(1e-5);
    expect(Array.from(a.predict(CORNERS))).toEqual([0, 0, 0, 1]);
  });

  it('score is the accuracy of predict against y thresholded alike (0/1 targets, or ±1 with threshold 0)', () => {
    const a = new models.Adaline({ engine, mode: 'batch', lr: 0.5, maxEpochs: 5000 });
    a.fit(CORNERS, [0, 0, 0, 1]);
    expect(a.score(CORNERS, [0, 0, 0, 1])).toBe(1);
    expect(a.score(CORNERS, [0, 0, 1, 1])).toBe(0.75);   // predict gives [0, 0, 0, 1]
    // Bipolar targets, Widrow and Hoff's: −1/+1 with the threshold between them.
    const b = new models.Adaline({ engine, mode: 'batch', lr: 0.5, maxEpochs: 5000, threshold: 0 });
    b.fit(CORNERS, [-1, -1, -1, 1]);
    expect(Array.from(b.predict(CORNERS))).toEqual([0, 0, 0, 1]);
    expect(b.score(CORNERS, [-1, -1, -1, 1])).toBe(1);
    expect(b.score(CORNERS, [1, -1, -1, 1])).toBe(0.75);
    expect(() => b.score(CORNERS, [0, 1])).toThrow(/4 values/);
    expect(() => b.score(CORNERS, [0, 1, NaN, 1])).toThrow(/y\[2\]/);
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => new models.Adaline({ engine, mode: 'stochastic' as never })).toThrow(/mode/);
    expect(() => new models.Adaline({ engine, mode: 'batch', normalize: true })).toThrow(RangeError);
    expect(() => new models.Adaline({ engine, tol: -1 })).toThrow(/tol/);
    expect(() => new models.Adaline({ engine, threshold: Infinity })).toThrow(/threshold/);
    const a = new models.Adaline({ engine });
    expect(() => a.decisionFunction(CORNERS)).toThrow(/call fit/);
    expect(() => a.fit(CORNERS, [0, 1, Infinity, 0])).toThrow(/y\[2\]/);
    expect(() => a.fit(CORNERS, 'y')).toThrow(TypeError);
  });
});

describe.each(ENGINES)('classic models before fit on the %s engine', (engine) => {
  it('every method called too early names itself in its error', () => {
    const cases: [object, string[]][] = [
      [new models.Perceptron({ engine }), ['predict', 'decisionFunction', 'score']],
      [new models.Adaline({ engine }), ['predict', 'decisionFunction', 'score']],
      [new models.LogisticRegression({ engine }), ['predict', 'predictProba', 'score']],
      [new models.SoftmaxRegression({ engine }), ['predict', 'predictProba', 'score']],
      [new models.ProjectionPursuitRegressor({ engine }), ['predict', 'score']],
    ];
    for (const [model, methods] of cases) {
      for (const method of methods) {
        const call = () => (model as Record<string, (x: unknown, y?: unknown) => unknown>)[method]!([[1, 2]], [1]);
        expect(call).toThrow(`${model.constructor.name}.${method}: call fit(x, y) first`);
      }
    }
  });
});
