// The classic models give the same results on the native and the JS engine
// (the engines differ only in gemm summation order, so float64 agrees to
// rounding and float32 to its precision).
import { describe, expect, it } from 'vitest';
import { models } from '../lib';
import { gaussianSource, loadSplit } from './datasets';
import { maxRelDiff } from './helpers';

describe('classic models: native and JS engines agree', () => {
  it.each(['float32', 'float64'] as const)('Perceptron and Adaline weights (%s)', (dtype) => {
    const s = loadSplit('breast_cancer');  // not separable: every epoch updates
    const p = ['native', 'js'].map((engine) => {
      const m = new models.Perceptron({ engine: engine as 'native' | 'js', dtype, lr: 0.1, maxEpochs: 5 });
      return { fit: m.fit(s.trainX, s.trainY), w: [...m.weight!, m.bias!] };
    });
    expect(p[0]!.fit.converged).toBe(false);
    expect(p[0]!.fit.mistakes).toEqual(p[1]!.fit.mistakes);
    expect(maxRelDiff(p[0]!.w, p[1]!.w)).toBeLessThan(dtype === 'float64' ? 1e-12 : 1e-4);

    for (const mode of ['online', 'batch'] as const) {
      const a = ['native', 'js'].map((engine) => {
        const m = new models.Adaline({ engine: engine as 'native' | 'js', dtype, mode, lr: 0.01, maxEpochs: 20 });
        return { loss: m.fit(s.trainX, s.trainY).loss, w: [...m.weight!, m.bias!] };
      });
      expect(maxRelDiff(a[0]!.w, a[1]!.w)).toBeLessThan(dtype === 'float64' ? 1e-12 : 1e-4);
      expect(maxRelDiff(a[0]!.loss, a[1]!.loss)).toBeLessThan(dtype === 'float64' ? 1e-12 : 1e-4);
    }
  });

  it.each(['float32', 'float64'] as const)('logistic and softmax regression probabilities (%s)', (dtype) => {
    const tol = dtype === 'float64' ? 1e-10 : 1e-4;
    const bc = loadSplit('breast_cancer');
    const [ln, lj] = (['native', 'js'] as const).map((engine) => {
      const m = new models.LogisticRegression({ engine, dtype, lr: 0.5, epochs: 20, batchSize: 32, l2: 0.01 });
      m.fit(bc.trainX, bc.trainY);
      return m.predictProba(bc.testX).data;
    });
    expect(maxRelDiff(ln!, lj!)).toBeLessThan(tol);
    const digits = loadSplit('digits');
    const [sn, sj] = (['native', 'js'] as const).map((engine) => {
      const m = new models.SoftmaxRegression({ engine, dtype, lr: 0.5, epochs: 10, batchSize: 64 });
      m.fit(digits.trainX, digits.trainY);
      return m.predictProba(digits.testX).data;
    });
    expect(maxRelDiff(sn!, sj!)).toBeLessThan(tol);
  });

  it('projection pursuit directions and predictions', () => {
    const g = gaussianSource(17);
    const x = Array.from({ length: 300 }, () => [g(), g(), g()]);
    const y = x.map((r) => Math.tanh(r[0]! - r[2]!) + 0.3 * (r[1]! + r[2]!) ** 2 + 0.1 * g());
    const [n, j] = (['native', 'js'] as const).map((engine) => {
      const m = new models.ProjectionPursuitRegressor({ engine, terms: 2 });
      m.fit(x, y);
      return { dirs: m.ridgeTerms!.flatMap((t) => Array.from(t.direction)), pred: m.predict(x).data };
    });
    expect(maxRelDiff(n!.dirs, j!.dirs)).toBeLessThan(1e-8);
    expect(maxRelDiff(n!.pred, j!.pred)).toBeLessThan(1e-8);
  });
});
