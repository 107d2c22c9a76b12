// TensorFlow.js baseline for the MLP case: the same 784-{hidden}-10 (ReLU)
// network, softmax cross-entropy on logits, Adam (lr 1e-3), the same batch,
// float32, the same data (data.mjs), trained with model.fit as a tfjs user
// would, timed like mlp.mjs (tfjs_training.mjs: one untimed warm-up epoch,
// then the median epoch). backend 'cpu' is tfjs's pure-JS kernels (DESIGN.md:
// the JS engine should be ≥ 3× it); 'wasm' is tfjs-backend-wasm.
// Args: { backend: 'cpu' | 'wasm', rows, hidden, batchSize, minTime, maxEpochs, minEpochs }.
import { CLASSES, INPUTS, trainingData } from './data.mjs';
import { runCase } from './harness.mjs';
import { loadTfjs, oneHotLabels, timeTfjsFit } from './tfjs_training.mjs';

runCase(async ({ backend, rows, hidden = [512, 256], batchSize = 128, minTime = 2, maxEpochs = 20, minEpochs = 1 }) => {
  const { tf, facts } = await loadTfjs(backend);
  const data = trainingData(rows);
  const x = tf.tensor2d(data.x, [data.rows, INPUTS]);
  const y = oneHotLabels(tf, data);
  const dense = (units, activation, extra = {}) => tf.layers.dense({
    units, activation, ...extra, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
  });
  const model = tf.sequential({
    layers: [...hidden.map((h, i) => dense(h, 'relu', i === 0 ? { inputShape: [INPUTS] } : {})), dense(CLASSES, 'linear')],
  });
  const timing = await timeTfjsFit(tf, model, x, y, { rows: data.rows, batchSize, minTime, maxEpochs, minEpochs });
  return { ...timing, dataset: data.source, ...(await facts()) };
});
