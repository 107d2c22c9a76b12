// fastmlp's Sequential on real held-out data, against scikit-learn's
// MLPClassifier on the same splits and preprocessing (figures in
// test/fixtures/classic-reference.json, made by classic_reference.py):
// one hidden layer of 64 ReLU units, Adam lr 1e-3, batch 32, as there.
// scikit-learn's figure is the mean over random_state 0..4; ours is the mean
// over seeds 0..2. Differences left: sklearn adds an L2 term (alpha 1e-4),
// initialises with Glorot-uniform, and stops early on a training-loss plateau.
import { describe, expect, it } from 'vitest';
import { Dense, Sequential, optim } from '../lib';
import { loadSplit, type DatasetName } from './datasets';
import { ENGINES } from './helpers';

/** Epochs per set, roughly where scikit-learn's adam stops (max_iter 200 with its tol rule). */
const EPOCHS: Record<DatasetName, number> = { digits: 60, iris: 200, breast_cancer: 100 };
/** Allowed shortfall: two test rows, and at least 0.02. */
const margin = (testRows: number) => Math.max(0.02, 2 / testRows);

describe.each(ENGINES)('Sequential MLP vs scikit-learn MLPClassifier on the %s engine', (engine) => {
  it.each(['digits', 'iris', 'breast_cancer'] as const)('%s: held-out accuracy on par', async (name) => {
    const s = loadSplit(name);
    const accuracies: number[] = [];
    for (let seed = 0; seed < 3; seed++) {
      const model = new Sequential([
        new Dense(s.reference.features, 64, { activation: 'relu' }),
        new Dense(64, s.reference.classes),
      ], { engine, seed });
      model.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }), metrics: ['accuracy'] });
      await model.fit(s.trainX, s.trainY, { epochs: EPOCHS[name], batchSize: 32, shuffle: true });
      accuracies.push(model.evaluate(s.testX, s.testY)['accuracy']!);
    }
    const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
    const ref = s.reference.mlpClassifierAccuracy.mean;
    console.log(`[${engine}] ${name}: fastmlp ${mean.toFixed(4)} (${accuracies.map((a) => a.toFixed(3)).join(', ')}), ` +
      `scikit-learn MLPClassifier ${ref.toFixed(4)}, ${s.testY.length} test rows`);
    expect(mean).toBeGreaterThanOrEqual(ref - margin(s.testY.length));
  });
});
