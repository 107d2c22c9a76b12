// An autoencoder on the bundled 8×8 digits (SPEC.md §6, seed 002 §4.1): an MLP
// 64-32-8-32-64 trained with MSE to reproduce its input through an 8-unit code.
// Prints the reconstruction error on held-out images, next to the error of the
// best 8-component PCA reconstruction (the optimum of a LINEAR 8-unit
// autoencoder) and of predicting the mean image.
// Run: node examples/autoencoder.mjs [native|js]
import { Sequential, Dense, optim, backend } from 'fastmlp';
import { loadDigits } from './digits-data.mjs';

const { trainX, testX } = loadDigits();
const engine = process.argv[2] ?? 'auto';
const CODE = 8;

const model = new Sequential([
  new Dense(64, 32, { activation: 'tanh' }),
  new Dense(32, CODE, { activation: 'tanh' }),   // the code
  new Dense(CODE, 32, { activation: 'tanh' }),
  new Dense(32, 64, { activation: 'sigmoid' }),  // pixels are in [0, 1]
], { engine, seed: 7 });
model.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 3e-3 }) });
const info = backend(engine);
console.log(`engine ${info.engine} (${info.isa}); ${trainX.length} training and ${testX.length} test images`);

const t0 = performance.now();
const { history } = await model.fit(trainX, trainX, { epochs: 150, batchSize: 32 });
console.log(`trained 150 epochs in ${((performance.now() - t0) / 1000).toFixed(2)} s; ` +
  `training MSE ${history.loss[0].toFixed(4)} → ${history.loss.at(-1).toFixed(4)}`);

const mse = (a, b) => a.reduce((s, row, i) => s + row.reduce((t, v, j) => t + (v - b[i][j]) ** 2, 0), 0) / (a.length * 64);
const recon = model.predict(testX).toArray();
console.log(`held-out reconstruction MSE: autoencoder ${mse(recon, testX).toFixed(4)}`);

// Baselines from the training set: the mean image, and PCA with CODE components
// (power iteration with deflation on the 64 × 64 covariance; fine at this size).
const mean = Array.from({ length: 64 }, (_, j) => trainX.reduce((s, r) => s + r[j], 0) / trainX.length);
const centred = trainX.map((r) => r.map((v, j) => v - mean[j]));
const cov = Array.from({ length: 64 }, (_, i) => Array.from({ length: 64 }, (_, j) =>
  centred.reduce((s, r) => s + r[i] * r[j], 0) / centred.length));
const components = [];
for (let c = 0; c < CODE; c++) {
  let v = Array.from({ length: 64 }, (_, i) => Math.sin(i + c + 1));
  for (let it = 0; it < 300; it++) {
    let w = cov.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));
    for (const u of components) {
      const d = w.reduce((s, x, j) => s + x * u[j], 0);
      w = w.map((x, j) => x - d * u[j]);
    }
    const n = Math.hypot(...w);
    v = w.map((x) => x / n);
  }
  components.push(v);
}
const pcaRecon = testX.map((r) => {
  const c = r.map((v, j) => v - mean[j]);
  const out = [...mean];
  for (const u of components) {
    const d = c.reduce((s, x, j) => s + x * u[j], 0);
    for (let j = 0; j < 64; j++) out[j] += d * u[j];
  }
  return out;
});
console.log(`held-out reconstruction MSE: PCA (${CODE} components) ${mse(pcaRecon, testX).toFixed(4)}, ` +
  `mean image ${mse(testX.map(() => mean), testX).toFixed(4)}`);
