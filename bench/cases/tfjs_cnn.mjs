// TensorFlow.js baseline for the CNN case (cnn.mjs): tf.layers conv2d(32, 3,
// relu) → maxPooling2d(2) → conv2d(64, 3, relu) → maxPooling2d(2) → flatten →
// dense(128, relu) → dense(10), the same shapes; softmax cross-entropy on
// logits, Adam (lr 1e-3), batch 64, float32, the same data (data.mjs), trained
// with model.fit as a tfjs user would and timed like cnn.mjs
// (tfjs_training.mjs). tfjs's layers are channels-last: a 28×28×1 image is the
// same 784 values as fastmlp's and torch's 1×28×28 row; only the flatten order
// of the 64×5×5 maps differs, which permutes the dense weights and costs nothing.
// A backend without a kernel that training needs gives { skipped: reason } (tfjs-backend-wasm
// 4.22 registers no Conv2DBackpropFilter: its model.fit of a conv layer throws).
// Args: { backend: 'cpu' | 'wasm', rows, batchSize, minTime, maxEpochs, minEpochs }.
import { CLASSES, trainingData } from './data.mjs';
import { runCase } from './harness.mjs';
import { loadTfjs, oneHotLabels, timeTfjsFit } from './tfjs_training.mjs';

const IMAGE_SIZE = 28;
// The kernels of this net's forward and backward passes that a backend may lack.
const TRAINING_KERNELS = ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPool', 'MaxPoolGrad'];

runCase(async ({ backend, rows, batchSize = 64, minTime = 2, maxEpochs = 20, minEpochs = 1 }) => {
  const { tf, facts } = await loadTfjs(backend);
  const missing = TRAINING_KERNELS.filter((kernel) => !tf.getKernel(kernel, backend));
  if (missing.length) {
    return { skipped: `tfjs ${tf.version.tfjs} ${backend} backend has no ${missing.join(', ')} kernel: it cannot train a conv layer`,
      ...(await facts()) };
  }
  const data = trainingData(rows);
  const x = tf.tensor4d(data.x, [data.rows, IMAGE_SIZE, IMAGE_SIZE, 1]);
  const y = oneHotLabels(tf, data);
  const init = () => tf.initializers.glorotUniform({ seed: 1 });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1], filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init() }),
      tf.layers.dense({ units: CLASSES, activation: 'linear', kernelInitializer: init() }),
    ],
  });
  const flat = model.layers[4].outputShape[1];
  if (flat !== 64 * 5 * 5) throw new Error(`expected 1600 values after flatten, got ${flat}`);
  const timing = await timeTfjsFit(tf, model, x, y, { rows: data.rows, batchSize, minTime, maxEpochs, minEpochs });
  return { ...timing, dataset: data.source, ...(await facts()) };
});
