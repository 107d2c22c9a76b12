// fastmlp inference case of bench/predict.mjs: the model loaded from its file
// with Sequential.load, one thread, and each call as a service makes it: wrap
// the request's Float32Array in a Matrix, predict, read result.data.
// Args (beside predict_common's): { engine: 'native' | 'js', mode: 'sync' | 'async' }.
import * as path from 'node:path';
import { Matrix, Sequential, backend, setThreads } from 'fastmlp';
import { runCase } from './harness.mjs';
import { INPUTS, inferenceCase } from './predict_common.mjs';

runCase((args) => inferenceCase(args, async ({ dir, net, engine, mode, batch }) => {
  setThreads(1);
  const model = await Sequential.load(path.join(dir, `${net}.safetensors`), { engine });
  const info = { threadsInUse: backend(engine).threads, engine: model.engine };
  if (mode === 'async') {
    // batchSize = the call's rows: one chunk, one trip to the worker thread.
    return { info, predict: async (x) => (await model.predictAsync(new Matrix(batch, INPUTS, x), { batchSize: batch })).data };
  }
  return { info, predict: (x) => model.predict(new Matrix(batch, INPUTS, x)).data };
}));
