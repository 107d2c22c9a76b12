// One CNN training case (MNIST-style): Conv2d(1→32, 3, relu) → MaxPool2d(2) →
// Conv2d(32→64, 3, relu) → MaxPool2d(2) → Dense(1600→128, relu) → Dense(128→10),
// cross-entropy, Adam (lr 1e-3), float32, trained with model.fit exactly as a
// user would. One warm-up epoch is not timed; it also sizes the timed run so
// that it lasts about minTime seconds (as mlp.mjs).
// Args: { engine, threads, rows, batchSize = 64, minTime, maxEpochs, minEpochs = 1 }; minEpochs
// keeps the median from resting on one epoch when an epoch outlasts minTime (the JS engine).
import { Conv2d, Dense, Matrix, MaxPool2d, Sequential, backend, optim, setThreads } from 'fastmlp';
import { CLASSES, INPUTS, trainingData } from './data.mjs';
import { runCase, timeFastmlpFit } from './harness.mjs';

// 28×28 grey images: 28 → conv 3 → 26 → pool 2 → 13 → conv 3 → 11 → pool 2 → 5.
const IMAGE_SIZE = 28;
const FLAT = 64 * 5 * 5;

runCase(async ({ engine, threads, rows, batchSize = 64, minTime = 2, maxEpochs = 20, minEpochs = 1 }) => {
  setThreads(threads);
  const data = trainingData(rows);
  const x = new Matrix(data.rows, INPUTS, data.x);
  const model = new Sequential([
    new Conv2d(1, 32, 3, { inputSize: IMAGE_SIZE, activation: 'relu' }),
    new MaxPool2d(2),
    new Conv2d(32, 64, 3, { activation: 'relu' }),
    new MaxPool2d(2),
    new Dense(FLAT, 128, { activation: 'relu' }),
    new Dense(128, CLASSES),
  ], { engine, seed: 1 });
  model.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }) });
  const timing = await timeFastmlpFit(model, x, data.y, { batchSize, minTime, maxEpochs, minEpochs });
  return {
    ...timing,
    dataset: data.source,
    threadsInUse: backend(engine).threads,   // confirms setThreads took effect
  };
});
