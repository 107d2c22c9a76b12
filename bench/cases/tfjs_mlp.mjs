// TensorFlow.js baseline for the MLP case: the same 784-{hidden}-10 (ReLU)
// network, softmax cross-entropy on logits, Adam (lr 1e-3), the same batch,
// float32, the same data (data.mjs), trained with model.fit as a tfjs user
// would, timed like mlp.mjs: one untimed warm-up epoch, then the median epoch.
// backend 'cpu' is tfjs's pure-JS kernels (DESIGN.md: the JS engine should be
// ≥ 3× it); 'wasm' is tfjs-backend-wasm (XNNPACK compiled to WebAssembly),
// loaded from the .wasm files inside its npm package, so nothing is fetched.
// In Node that backend is single-threaded (tfjs turns wasm threads off there).
// Args: { backend: 'cpu' | 'wasm', rows, hidden, batchSize, minTime, maxEpochs, minEpochs }.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { CLASSES, INPUTS, trainingData } from './data.mjs';
import { now, runCase, timeFit } from './harness.mjs';

const require = createRequire(import.meta.url);

runCase(async ({ backend, rows, hidden = [512, 256], batchSize = 128, minTime = 2, maxEpochs = 20, minEpochs = 1 }) => {
  const tf = await import('@tensorflow/tfjs');
  let wasmInfo = {};
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // The package's main script sits in dist/ beside the .wasm binaries; a
    // path prefix (not a URL) makes the backend read them from disk.
    wasm.setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`);
    wasmInfo = { getThreadsCount: wasm.getThreadsCount };
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialize`);
  // tfjs's documented fast setting: skips debug-time checks (and the banner
  // suggesting tfjs-node on stderr).
  tf.enableProdMode();

  const data = trainingData(rows);
  const x = tf.tensor2d(data.x, [data.rows, INPUTS]);
  // One-hot labels built here: tfjs-backend-wasm's oneHot kernel ignores the
  // float32 dtype (its 1s arrive as 1.4e-45), which silently breaks the loss.
  const oneHot = new Float32Array(data.rows * CLASSES);
  data.y.forEach((label, i) => { oneHot[i * CLASSES + label] = 1; });
  const y = tf.tensor2d(oneHot, [data.rows, CLASSES]);
  const dense = (units, activation, extra = {}) => tf.layers.dense({
    units, activation, ...extra, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
  });
  const model = tf.sequential({
    layers: [...hidden.map((h, i) => dense(h, 'relu', i === 0 ? { inputShape: [INPUTS] } : {})), dense(CLASSES, 'linear')],
  });
  // Loss on logits, as fastmlp's 'cross-entropy' and torch's CrossEntropyLoss:
  // tfjs's fused softmax cross-entropy rather than a softmax layer + log loss.
  model.compile({
    optimizer: tf.train.adam(1e-3),
    loss: (labels, logits) => tf.losses.softmaxCrossEntropy(labels, logits),
  });
  const fitOptions = { batchSize, shuffle: true, verbose: 0 };

  const w0 = now();
  await model.fit(x, y, { ...fitOptions, epochs: 1 });
  const warmupSec = now() - w0;
  // At least minEpochs timed epochs: a slow backend's epoch lasts seconds,
  // and one epoch alone is a noisy median.
  const epochs = Math.max(minEpochs, Math.min(maxEpochs, Math.ceil(minTime / warmupSec)));

  // tfjs computes on the main thread: the loop delay shows how long it blocks.
  const timing = await timeFit(
    (onEpochEnd) => model.fit(x, y, { ...fitOptions, epochs, callbacks: { onEpochEnd } }), { rows: data.rows, epochs });
  return {
    ...timing,
    dataset: data.source,
    warmupSec,
    version: tf.version.tfjs,
    backend: tf.getBackend(),
    ...(backend === 'wasm' ? {
      threadsInUse: wasmInfo.getThreadsCount(),
      wasmSimd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    } : { threadsInUse: 1 }),
  };
});
