// One MLP training case: 784-{hidden}-10 (ReLU), cross-entropy, Adam, float32,
// trained with model.fit exactly as a user would. One warm-up epoch is not
// timed; it also sizes the timed run so that it lasts about minTime seconds.
// Args: { engine, threads, rows, hidden = [512, 256], batchSize, minTime, maxEpochs, optimizer };
// optimizer is Adam (lr 1e-3) by default, or a name ('sgd', 'adagrad', ...) with its defaults.
import { Dense, Matrix, Sequential, backend, optim, setThreads } from 'fastmlp';
import { CLASSES, INPUTS, trainingData } from './data.mjs';
import { runCase, timeFastmlpFit } from './harness.mjs';

runCase(async ({ engine, threads, rows, hidden = [512, 256], batchSize = 128, minTime = 2, maxEpochs = 20, optimizer = 'adam' }) => {
  setThreads(threads);
  const data = trainingData(rows);
  const x = new Matrix(data.rows, INPUTS, data.x);
  const widths = [INPUTS, ...hidden];
  const model = new Sequential([
    ...hidden.map((h, i) => new Dense(widths[i], h, { activation: 'relu' })),
    new Dense(widths.at(-1), CLASSES),
  ], { engine, seed: 1 });
  model.compile({ loss: 'cross-entropy', optimizer: optimizer === 'adam' ? new optim.Adam({ lr: 1e-3 }) : optimizer });
  const timing = await timeFastmlpFit(model, x, data.y, { batchSize, minTime, maxEpochs });
  return {
    ...timing,
    dataset: data.source,
    threadsInUse: backend(engine).threads,   // confirms setThreads took effect
  };
});
