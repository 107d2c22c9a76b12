// TensorFlow.js inference case of bench/predict.mjs: the same network as a
// tf.sequential of dense layers (ReLU, softmax last) holding the same weights
// (tfjs keeps a kernel in × out, so each out × in weight is transposed); each
// call makes a tensor of the request's rows, runs model.predict and reads the
// output with dataSync, inside tf.tidy so no tensor outlives the call.
// backend 'cpu' (pure JS) or 'wasm' (XNNPACK in WebAssembly, one thread in
// Node; its .wasm files read from the package, nothing fetched).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { runCase } from './harness.mjs';
import { INPUTS, inferenceCase, readWeights } from './predict_common.mjs';

const require = createRequire(import.meta.url);

runCase((args) => inferenceCase(args, async ({ dir, net, backend }) => {
  const tf = await import('@tensorflow/tfjs');
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialize`);
  tf.enableProdMode();
  const { layers } = readWeights(dir, net);
  const model = tf.sequential({
    layers: layers.map(({ inputs, outputs }, l) => tf.layers.dense({
      units: outputs, activation: l === layers.length - 1 ? 'softmax' : 'relu', ...(l === 0 ? { inputShape: [INPUTS] } : {}),
    })),
  });
  model.setWeights(layers.flatMap(({ w, b, inputs, outputs }) => [transpose(tf, w, outputs, inputs), tf.tensor1d(b)]));
  return {
    info: { version: tf.version.tfjs, backend: tf.getBackend(), threadsInUse: 1 },
    predict: (x) => tf.tidy(() => model.predict(tf.tensor2d(x, [x.length / INPUTS, INPUTS])).dataSync()),
  };
}));

/** The in × out kernel tfjs wants from an out × in (torch-layout) weight. */
function transpose(tf, w, rows, cols) {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return tf.tensor2d(t, [cols, rows]);
}
