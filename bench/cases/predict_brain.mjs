// brain.js inference case of bench/predict.mjs, where it applies: brain.js
// runs one sample per call (run(input)), and its NeuralNetwork applies the
// hidden activation to the output layer too — it has no softmax — so its
// answer is checked against relu(logits) of the same weights (the reference's
// second half) and only batch 1 is timed. The network is sized and given the
// same weights (one Float32Array row per unit, as brain.js stores them).
import { createRequire } from 'node:module';
import { runCase } from './harness.mjs';
import { inferenceCase, readWeights } from './predict_common.mjs';

const require = createRequire(import.meta.url);

runCase((args) => inferenceCase({ ...args, reference: 'relu' }, async ({ dir, net, batch }) => {
  if (batch !== 1) throw new Error('brain.js runs one sample per call');
  const brain = require('brain.js');
  const { sizes, layers } = readWeights(dir, net);
  const model = new brain.NeuralNetwork({ activation: 'relu', hiddenLayers: sizes.slice(1, -1) });
  model.sizes = sizes;
  model.initialize();
  layers.forEach(({ w, b, inputs, outputs }, l) => {
    for (let o = 0; o < outputs; o++) model.weights[l + 1][o] = w.slice(o * inputs, (o + 1) * inputs);
    model.biases[l + 1] = b.slice();
  });
  return {
    info: { version: require('brain.js/package.json').version, threadsInUse: 1, output: 'relu(logits)' },
    predict: (x) => model.run(x),
  };
}));
