// Set-up case of bench/predict.mjs: writes the files every inference case
// reads (bench/cases/predict_common.mjs lists them) into args.dir. One model
// per network, seeded, with small non-zero biases (zero biases would let a
// library that drops them pass the output check), saved three ways: fastmlp's
// model file, fastmlp's ONNX export, and raw float32 weights for tfjs and
// brain.js. The reference outputs come from a plain float64 loop over those
// float32 weights, so no library under test is its own judge.
// Args: { dir, nets: [{ name, hidden }] }.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Dense, Sequential, io } from 'fastmlp';
import { fillUniform, runCase } from './harness.mjs';
import { INPUTS, MAX_BATCH, readWeights } from './predict_common.mjs';

const CLASSES = 10;

runCase(async ({ dir, nets }) => {
  fs.mkdirSync(dir, { recursive: true });
  const x = fillUniform(new Float32Array(MAX_BATCH * INPUTS), 4242);   // pixels in [0, 1)
  fs.writeFileSync(path.join(dir, 'input.f32'), x);
  for (const { name, hidden } of nets) {
    const sizes = [INPUTS, ...hidden, CLASSES];
    const model = new Sequential(sizes.slice(1).map((out, l) => new Dense(sizes[l], out,
      { activation: l === sizes.length - 2 ? 'softmax' : 'relu' })), { engine: 'js', seed: 1 });
    const weights = model.getWeights();
    let seed = 99;
    for (const key of Object.keys(weights).filter((k) => k.endsWith('.bias'))) fillUniform(weights[key], seed++, -0.1, 0.1);
    model.setWeights(weights);
    await model.save(path.join(dir, `${name}.safetensors`));
    await io.exportOnnx(model, path.join(dir, `${name}.onnx`));
    const flat = Object.keys(weights).map((k) => weights[k]);
    fs.writeFileSync(path.join(dir, `${name}.weights`), Buffer.concat(flat.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ sizes }));
    const { layers } = readWeights(dir, name);   // read back: the reference uses exactly the file's values
    const logits = forward64(layers, x, MAX_BATCH);
    const ref = new Float64Array(2 * MAX_BATCH * CLASSES);
    ref.set(softmaxRows(logits, CLASSES));
    ref.set(logits.map((v) => Math.max(0, v)), MAX_BATCH * CLASSES);
    fs.writeFileSync(path.join(dir, `${name}.ref`), ref);
    model.dispose();
  }
  return { dir, nets: nets.map((n) => n.name) };
});

/** Logits of the ReLU network in float64: y = relu(x·Wᵀ + b) per hidden layer, x·Wᵀ + b at the end. */
function forward64(layers, x, rows) {
  let a = Float64Array.from(x);
  layers.forEach(({ w, b, inputs, outputs }, l) => {
    const z = new Float64Array(rows * outputs);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outputs; o++) {
        let s = b[o];
        const wo = o * inputs;
        const ar = r * inputs;
        for (let i = 0; i < inputs; i++) s += a[ar + i] * w[wo + i];
        z[r * outputs + o] = l < layers.length - 1 ? Math.max(0, s) : s;
      }
    }
    a = z;
  });
  return a;
}

/** Softmax of each row, max-subtracted (SPEC.md §2). */
function softmaxRows(z, cols) {
  const out = new Float64Array(z.length);
  for (let r = 0; r < z.length / cols; r++) {
    const row = z.subarray(r * cols, (r + 1) * cols);
    const max = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += (out[r * cols + c] = Math.exp(row[c] - max));
    for (let c = 0; c < cols; c++) out[r * cols + c] /= sum;
  }
  return out;
}
