// ES-module entry: re-exports the CommonJS build, so `import` and `require`
// users share one copy of every class (no dual-package hazard: a Matrix made
// through one entry is an instanceof Matrix through the other).
// test/package.test.ts checks these names against the CommonJS exports.
import cjs from '../dist/index.js';

export const {
  Matrix, Layer, Dense, Activation, Dropout, BatchNorm1d, LayerNorm, PReLU, Conv2d, ConvTranspose2d, MaxPool2d, Sequential, backend, setThreads,
  optim, losses, ops, metrics, models, io, layerFromConfig, registerLayer, schedules, callbacks, data, init,
  AbortError,
} = cjs;
export default cjs;
