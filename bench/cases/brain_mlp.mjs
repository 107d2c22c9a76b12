// brain.js baseline for the MLP case: brain.NeuralNetwork (its CPU class) with
// the same hidden layers, ReLU, its Adam ("praxis: 'adam'"), the same data,
// trained with train() as a brain.js user would (this version's trainAsync
// fails in Node: "thaw is not a constructor"). brain.js updates after every
// sample (no mini-batches: batchSize does not apply) and computes on the main
// thread, blocking it for the whole run. One iteration is the
// untimed warm-up (it also builds the network), then the median epoch.
// Args: { rows, hidden, minTime, maxEpochs, minEpochs }.
import { createRequire } from 'node:module';
import { CLASSES, INPUTS, trainingData } from './data.mjs';
import { now, runCase, timeFit } from './harness.mjs';

const require = createRequire(import.meta.url);

runCase(async ({ rows, hidden = [512, 256], minTime = 2, maxEpochs = 20, minEpochs = 1 }) => {
  const brain = require('brain.js');
  const data = trainingData(rows);
  const samples = Array.from({ length: data.rows }, (_, i) => {
    const output = new Array(CLASSES).fill(0);
    output[data.y[i]] = 1;
    return { input: Array.from(data.x.subarray(i * INPUTS, (i + 1) * INPUTS)), output };
  });
  const net = new brain.NeuralNetwork({ hiddenLayers: hidden, activation: 'relu', praxis: 'adam', learningRate: 1e-3 });
  const train = (iterations, callback) => net.train(samples, {
    iterations, errorThresh: 1e-9, log: false, ...(callback ? { callbackPeriod: 1, callback } : {}),
  });

  const w0 = now();
  train(1);
  const warmupSec = now() - w0;
  const epochs = Math.max(minEpochs, Math.min(maxEpochs, Math.ceil(minTime / warmupSec)));
  let blockedSec = 0;
  const timing = await timeFit(async (onEpochEnd) => {
    const t0 = now();
    const result = train(epochs, () => onEpochEnd());
    blockedSec = now() - t0;
    return { history: { loss: [result.error] } };
  }, { rows: data.rows, epochs });
  return {
    ...timing,
    // train() is one synchronous call: the event loop waits for all of it (the
    // delay monitor, whose timer cannot fire meanwhile, under-reports this).
    eventLoopP99Ms: blockedSec * 1000,
    eventLoopMaxMs: blockedSec * 1000,
    dataset: data.source,
    warmupSec,
    version: require('brain.js/package.json').version,
    threadsInUse: 1,
  };
});
