// The classic models' fitted parameters against scikit-learn 1.2's on the same
// data (test/fixtures/classic-sklearn-weights.json, made by
// test/fixtures/classic_sklearn_weights.py, which says why the settings match):
// the perceptron step for step, and logistic/softmax regression with
// l2 = 1/(C·n) converging to LogisticRegression(C)'s minimiser.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { models } from '../lib';
import { loadRaw } from './datasets';
import { ENGINES, maxRelDiff } from './helpers';

const sk = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'classic-sklearn-weights.json'), 'utf8'));

/** Every column minus its mean, over its population σ (numpy's x.std()), as the fixture script. */
function standardise(x: number[][]): number[][] {
  const n = x.length;
  const d = x[0]!.length;
  const out = x.map((r) => r.slice());
  for (let j = 0; j < d; j++) {
    const mean = x.reduce((s, r) => s + r[j]!, 0) / n;
    const sigma = Math.sqrt(x.reduce((s, r) => s + (r[j]! - mean) ** 2, 0) / n);
    for (const r of out) r[j] = (r[j]! - mean) / sigma;
  }
  return out;
}

describe.each(ENGINES)('classic models vs scikit-learn on the %s engine', (engine) => {
  it('Perceptron makes the same updates as sklearn Perceptron(eta0=1, shuffle=False): equal weights after 30 epochs', () => {
    const raw = loadRaw('breast_cancer');
    const x = standardise(raw.x);
    const p = new models.Perceptron({ engine, dtype: 'float64', maxEpochs: sk.perceptron.epochs });
    const r = p.fit(x, raw.y);
    expect(r.converged).toBe(false);   // not separable: every one of the 30 epochs updates, as sklearn's
    expect(maxRelDiff(p.weight!, sk.perceptron.weight)).toBeLessThan(1e-9);
    expect(p.bias).toBe(sk.perceptron.bias);
    expect(p.score(x, raw.y)).toBe(sk.perceptron.accuracy);
  });

  it('LogisticRegression with l2 = 1/(C·n) reaches sklearn LogisticRegression(C = 1)\'s weights', () => {
    const raw = loadRaw('iris');
    const rows = raw.y.flatMap((c, i) => (c > 0 ? [i] : []));
    const x = standardise(rows.map((i) => raw.x[i]!));
    const y = rows.map((i) => (raw.y[i] === 2 ? 1 : 0));
    const m = new models.LogisticRegression({ engine, dtype: 'float64', lr: 1, epochs: 3000, l2: 1 / (sk.logistic.C * y.length) });
    m.fit(x, y);
    expect(maxRelDiff(m.weight!, sk.logistic.weight)).toBeLessThan(1e-4);
    expect(Math.abs(m.bias![0]! - sk.logistic.bias)).toBeLessThan(1e-4);
    expect(maxRelDiff(m.predictProba(x).data, sk.logistic.proba)).toBeLessThan(1e-5);
  });

  it('SoftmaxRegression with l2 = 1/(C·n) reaches sklearn\'s multinomial LogisticRegression(C = 1)', () => {
    const raw = loadRaw('iris');
    const x = standardise(raw.x);
    const m = new models.SoftmaxRegression({ engine, dtype: 'float64', lr: 1, epochs: 3000, l2: 1 / (sk.softmax.C * raw.y.length) });
    m.fit(x, raw.y);
    // Both start from zero, where the gradient of Σ bias is 0, so both keep Σ bias = 0: the same parameters.
    expect(maxRelDiff(m.weight!, sk.softmax.weight)).toBeLessThan(1e-3);
    expect(maxRelDiff(m.bias!, sk.softmax.bias)).toBeLessThan(1e-3);
    expect(maxRelDiff(m.predictProba(x).data, sk.softmax.proba)).toBeLessThan(1e-4);
  });
});
