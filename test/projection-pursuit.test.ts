// Projection pursuit regression (Friedman & Stuetzle 1981; SPEC.md §6, seed 001)
// in both engines: direction recovery on synthetic ridge functions, held-out R²,
// and a comparison with a one-hidden-layer MLP on the same split.
import { describe, expect, it } from 'vitest';
import { Dense, Sequential, metrics, models, optim } from '../lib';
import { evaluateCurve, localLinearSmooth } from '../lib/models/smoother';
import { gaussianSource } from './datasets';
import { ENGINES } from './helpers';

const TRUE_DIRECTION = [1, 2, 0, -1].map((v) => v / Math.sqrt(6));

function ridgeData(n: number, seed: number, f: (x: number[]) => number, noise = 0.1) {
  const g = gaussianSource(seed);
  const x = Array.from({ length: n }, () => [g(), g(), g(), g()]);
  const y = x.map((r) => f(r) + noise * g());
  return { trainX: x.slice(0, n / 2), trainY: y.slice(0, n / 2), testX: x.slice(n / 2), testY: y.slice(n / 2) };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);
const singleIndex = (x: number[]) => {
  const v = dot(x, TRUE_DIRECTION);
  return Math.sin(1.5 * v) + 0.5 * v;
};

function r2(pred: ArrayLike<number>, y: number[]): number {
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  let sse = 0, sst = 0;
  y.forEach((v, i) => { sse += (v - pred[i]!) ** 2; sst += (v - mean) ** 2; });
  return 1 - sse / sst;
}

describe('the local linear smoother', () => {
  it('reproduces a straight line exactly, value and slope', () => {
    const v = Float64Array.from({ length: 50 }, (_, i) => Math.sin(i) * 3);
    const r = Float64Array.from(v, (t) => 2 - 0.5 * t);
    const s = localLinearSmooth(v, r, 0.4);
    for (let i = 0; i < 50; i++) {
      expect(s.fitted[i]).toBeCloseTo(r[i]!, 9);
      expect(s.slope[i]).toBeCloseTo(-0.5, 9);
    }
    expect(evaluateCurve(s.curve, 10)).toBeCloseTo(2 - 5, 9);  // linear beyond the knots
    expect(evaluateCurve(s.curve, 0.123)).toBeCloseTo(2 - 0.0615, 9);
  });
});

describe.each(ENGINES)('ProjectionPursuitRegressor on the %s engine', (engine) => {
  it('recovers the direction of a single-index function and predicts held-out data (R² > 0.95)', () => {
    const d = ridgeData(800, 7, singleIndex);
    const ppr = new models.ProjectionPursuitRegressor({ engine, terms: 1 });
    ppr.fit(d.trainX, d.trainY);
    const [term] = ppr.ridgeTerms!;
    expect(Math.hypot(...term!.direction)).toBeCloseTo(1, 12);
    expect(Math.abs(dot(term!.direction, TRUE_DIRECTION))).toBeGreaterThan(0.995);
    expect(ppr.score(d.testX, d.testY)).toBeGreaterThan(0.95);
  });

  it('finds the two ridge directions of x₁·x₂ = ((x₁+x₂)² − (x₁−x₂)²)/4 with two terms and backfitting', () => {
    const d = ridgeData(800, 8, (x) => x[0]! * x[1]!);
    const one = new models.ProjectionPursuitRegressor({ engine, terms: 1 });
    const two = new models.ProjectionPursuitRegressor({ engine, terms: 2 });
    one.fit(d.trainX, d.trainY);
    const { stageLoss } = two.fit(d.trainX, d.trainY);
    expect(stageLoss[1]!).toBeLessThan(0.2 * stageLoss[0]!);
    const diagonals = [[1, 1, 0, 0], [1, -1, 0, 0]].map((v) => v.map((c) => c / Math.SQRT2));
    for (const t of two.ridgeTerms!) {
      expect(Math.max(...diagonals.map((dg) => Math.abs(dot(t.direction, dg))))).toBeGreaterThan(0.99);
    }
    expect(one.score(d.testX, d.testY)).toBeLessThan(0.7);
    expect(two.score(d.testX, d.testY)).toBeGreaterThan(0.9);
  });

  it('stops adding terms that do not improve the fit (minImprovement)', () => {
    const d = ridgeData(600, 10, singleIndex);
    const ppr = new models.ProjectionPursuitRegressor({ engine, terms: 6, minImprovement: 0.2 });
    const { stageLoss } = ppr.fit(d.trainX, d.trainY);
    const kept = ppr.ridgeTerms!.length;
    expect(kept).toBe(stageLoss.length);
    expect(kept).toBeLessThan(6);
    for (let m = 1; m < kept; m++) expect(stageLoss[m]!).toBeLessThanOrEqual(0.8 * stageLoss[m - 1]!);
    // The same fit without the rule shows the dropped stage gained less than 20 %.
    const all = new models.ProjectionPursuitRegressor({ engine, terms: kept + 1 });
    const full = all.fit(d.trainX, d.trainY).stageLoss;
    expect(full.length).toBe(kept + 1);
    expect(full[kept]!).toBeGreaterThan(0.8 * full[kept - 1]!);
    expect(full.slice(0, kept)).toEqual(stageLoss);
  });

  it('is on par with a one-hidden-layer MLP on the same held-out split', async () => {
    const d = ridgeData(800, 9, singleIndex);
    const ppr = new models.ProjectionPursuitRegressor({ engine, terms: 2 });
    ppr.fit(d.trainX, d.trainY);
    const pprR2 = ppr.score(d.testX, d.testY);
    const mlp = new Sequential([new Dense(4, 32, { activation: 'tanh' }), new Dense(32, 1)],
      { engine, seed: 1, dtype: 'float64' });
    mlp.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 1e-2 }) });
    await mlp.fit(d.trainX, d.trainY, { epochs: 150, batchSize: 32 });
    const mlpR2 = r2(mlp.predict(d.testX).data, d.testY);
    console.log(`[${engine}] single-index function, held-out R²: projection pursuit ${pprR2.toFixed(4)}, MLP 4-32-1 ${mlpR2.toFixed(4)}`);
    expect(mlpR2).toBeGreaterThan(0.9);
    expect(pprR2).toBeGreaterThanOrEqual(mlpR2 - 0.01);
  });

  it('ridgeTerms gives copies: writing into them leaves the fitted model as it was', () => {
    const d = ridgeData(200, 11, singleIndex);
    const ppr = new models.ProjectionPursuitRegressor({ engine, terms: 1 });
    ppr.fit(d.trainX, d.trainY);
    const before = Array.from(ppr.predict(d.testX).data);
    const [term] = ppr.ridgeTerms!;
    term!.direction.fill(0);
    term!.curve.knots.fill(0);
    term!.curve.values.fill(1e6);
    term!.curve.slopes.fill(1e6);
    expect(Array.from(ppr.predict(d.testX).data)).toEqual(before);
    expect(Array.from(ppr.ridgeTerms![0]!.curve.values)).not.toContain(1e6);
  });

  it('refuses x or y whose squares overflow float64 with an error naming them, not an internal error or R² 0', () => {
    const d = ridgeData(40, 5, singleIndex);
    const ppr = new models.ProjectionPursuitRegressor({ engine });
    // Squares past 1.8e308 made ‖ω‖ NaN ("internal error: zero projection direction") or the fit the mean.
    expect(() => ppr.fit(d.trainX, d.trainY.map((v) => v * 1e300))).toThrow(/Expected .* for y but received/);
    expect(() => ppr.fit(d.trainX.map((r) => r.map((v) => v * 1e160)), d.trainY)).toThrow(/Expected .* for x but received/);
    // Large but representable scales still fit.
    const big = d.trainX.map((r) => r.map((v) => v * 1e100));
    ppr.fit(big, d.trainY.map((v) => v * 1e100));
    expect(ppr.score(big, d.trainY.map((v) => v * 1e100))).toBeGreaterThan(0.9);
  });

  it('score is R² as metrics.r2 and scikit-learn\'s r2_score give it, constant y included (1 if exact, else 0)', () => {
    const d = ridgeData(100, 9, singleIndex);
    const ppr = new models.ProjectionPursuitRegressor({ engine });
    ppr.fit(d.trainX, d.trainY);
    expect(ppr.score(d.testX, d.testY)).toBeCloseTo(metrics.r2(ppr.predict(d.testX), d.testY), 12);
    // y with no variance: r2_score(force_finite=True) gives 0 for inexact predictions, not −1e300.
    const constant = new Array<number>(d.testX.length).fill(3);
    expect(ppr.score(d.testX, constant)).toBe(0);
    expect(ppr.score(d.testX, constant)).toBe(metrics.r2(ppr.predict(d.testX), constant));
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => new models.ProjectionPursuitRegressor({ engine, terms: 0 })).toThrow(/terms/);
    expect(() => new models.ProjectionPursuitRegressor({ engine, smoothing: 0 })).toThrow(/smoothing/);
    expect(() => new models.ProjectionPursuitRegressor({ engine, minImprovement: 2 })).toThrow(/minImprovement/);
    expect(() => new models.ProjectionPursuitRegressor({ engine, span: 0.3 } as never)).toThrow(/Unknown option 'span'/);
    const ppr = new models.ProjectionPursuitRegressor({ engine });
    expect(() => ppr.predict([[1, 2]])).toThrow(/call fit/);
    expect(() => ppr.fit([[1, 2], [3, 4]], [1, 2])).toThrow(/at least 3 rows/);
    expect(() => ppr.fit([[1, 2], [3, 4], [5, 6]], [1, NaN, 2])).toThrow(/y\[1\]/);
    expect(() => ppr.fit({ rows: 3, cols: 2, data: 'abcdef' }, [1, 2, 3])).toThrow(TypeError);
    ppr.fit([[1, 2], [3, 1], [5, 6], [0, 1]], [1, 2, 3, 4]);
    expect(() => ppr.predict([[1, 2, 3]])).toThrow(/2 columns for x/);
  });
});
