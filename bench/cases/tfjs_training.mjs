// Shared by the TensorFlow.js training cases (tfjs_mlp.mjs, tfjs_cnn.mjs): the
// backend set-up, the labels, and fit timed like fastmlp's cases (one untimed
// warm-up epoch, then the median epoch of a run sized to about minTime).
// backend 'cpu' is tfjs's pure-JS kernels; 'wasm' is tfjs-backend-wasm
// (XNNPACK compiled to WebAssembly), loaded from the .wasm files inside its npm
// package, so nothing is fetched. In Node that backend is single-threaded
// (tfjs turns wasm threads off there); threadsInUse reports what it used.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { CLASSES } from './data.mjs';
import { now, timeFit } from './harness.mjs';

const require = createRequire(import.meta.url);

/** tfjs with `backend` active and prod mode on; facts() → what the result should record about it. */
export async function loadTfjs(backend) {
  const tf = await import('@tensorflow/tfjs');
  let wasm;
  if (backend === 'wasm') {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
    // The package's main script sits in dist/ beside the .wasm binaries; a
    // path prefix (not a URL) makes the backend read them from disk.
    wasm.setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialize`);
  // tfjs's documented fast setting: skips debug-time checks (and the banner
  // suggesting tfjs-node on stderr).
  tf.enableProdMode();
  const facts = async () => ({
    version: tf.version.tfjs,
    backend: tf.getBackend(),
    ...(wasm ? { threadsInUse: wasm.getThreadsCount(), wasmSimd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') }
      : { threadsInUse: 1 }),
  });
  return { tf, facts };
}

/**
 * One-hot labels as a [rows, CLASSES] tensor, built here: tfjs-backend-wasm's
 * oneHot kernel ignores the float32 dtype (its 1s arrive as 1.4e-45), which
 * silently breaks the loss.
 */
export function oneHotLabels(tf, data) {
  const oneHot = new Float32Array(data.rows * CLASSES);
  data.y.forEach((label, i) => { oneHot[i * CLASSES + label] = 1; });
  return tf.tensor2d(oneHot, [data.rows, CLASSES]);
}

/**
 * Compiles `model` with Adam (lr 1e-3) and softmax cross-entropy on logits (as
 * fastmlp's 'cross-entropy' and torch's CrossEntropyLoss: tfjs's fused loss
 * rather than a softmax layer + log loss), then times model.fit: one untimed
 * warm-up epoch, then at least minEpochs epochs (a slow backend's epoch lasts
 * seconds, and one epoch alone is a noisy median).
 */
export async function timeTfjsFit(tf, model, x, y, { rows, batchSize, minTime, maxEpochs, minEpochs }) {
  model.compile({
    optimizer: tf.train.adam(1e-3),
    loss: (labels, logits) => tf.losses.softmaxCrossEntropy(labels, logits),
  });
  const fitOptions = { batchSize, shuffle: true, verbose: 0 };
  const w0 = now();
  await model.fit(x, y, { ...fitOptions, epochs: 1 });
  const warmupSec = now() - w0;
  const epochs = Math.max(minEpochs, Math.min(maxEpochs, Math.ceil(minTime / warmupSec)));
  // tfjs computes on the main thread: the loop delay shows how long it blocks.
  const timing = await timeFit(
    (onEpochEnd) => model.fit(x, y, { ...fitOptions, epochs, callbacks: { onEpochEnd } }), { rows, epochs });
  return { ...timing, warmupSec };
}
