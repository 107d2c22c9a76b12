// onnxruntime-node inference case of bench/predict.mjs: the model exported by
// fastmlp's own io.exportOnnx, a session on one intra-op thread (and one
// inter-op thread, sequential execution), every graph optimisation on; each
// call wraps the request's Float32Array in a Tensor and awaits session.run.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { runCase } from './harness.mjs';
import { INPUTS, inferenceCase } from './predict_common.mjs';

const require = createRequire(import.meta.url);

runCase((args) => inferenceCase(args, async ({ dir, net, batch }) => {
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(path.join(dir, `${net}.onnx`), {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const [input] = session.inputNames;
  const [output] = session.outputNames;
  return {
    info: { version: require('onnxruntime-node/package.json').version, threadsInUse: 1 },
    predict: async (x) => (await session.run({ [input]: new ort.Tensor('float32', x, [batch, INPUTS]) }))[output].data,
  };
}));
