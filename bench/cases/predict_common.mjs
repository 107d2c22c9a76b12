// Shared by the inference cases of bench/predict.mjs: the files the set-up
// case writes (weights, input rows, reference outputs), the per-call timing
// loop, and the check that a library computed the right answer before its
// calls are timed (a fast wrong answer must not look like a win).
//
// Files in the run's directory, all little-endian:
//   <net>.json      { sizes: [784, h1, h2, 10] }
//   <net>.weights   float32: W1 (h1 × 784, row-major, out × in as torch), b1, W2, b2, W3, b3
//   <net>.onnx      fastmlp's own io.exportOnnx of the same model
//   <net>.safetensors  fastmlp's model file of the same model
//   <net>.ref       float64: softmax outputs for the MAX_BATCH input rows, computed
//                   with a plain float64 loop (no library), then relu(logits) after it
//   input.f32       float32: MAX_BATCH × 784 input rows
import * as fs from 'node:fs';
import * as path from 'node:path';
import { median, now } from './harness.mjs';

export const INPUTS = 784;
export const MAX_BATCH = 256;

/** The network's layer sizes and its weights as [{ w (out × in), b }] per layer. */
export function readWeights(dir, net) {
  const { sizes } = JSON.parse(fs.readFileSync(path.join(dir, `${net}.json`), 'utf8'));
  const all = floats(fs.readFileSync(path.join(dir, `${net}.weights`)), Float32Array);
  const layers = [];
  let at = 0;
  for (let l = 1; l < sizes.length; l++) {
    const w = all.subarray(at, at + sizes[l] * sizes[l - 1]);
    at += w.length;
    const b = all.subarray(at, at + sizes[l]);
    at += b.length;
    layers.push({ w, b, inputs: sizes[l - 1], outputs: sizes[l] });
  }
  if (at !== all.length) throw new Error(`${net}.weights holds ${all.length} values, the sizes ${sizes} need ${at}`);
  return { sizes, layers };
}

/** The first `rows` input rows (a fresh copy, as a request's body would be). */
export function readInput(dir, rows) {
  const x = floats(fs.readFileSync(path.join(dir, 'input.f32')), Float32Array);
  return x.slice(0, rows * INPUTS);
}

/** The reference outputs of the first `rows` rows: softmax (kind 'softmax') or relu(logits) ('relu'). */
export function readReference(dir, net, rows, classes, kind = 'softmax') {
  const ref = floats(fs.readFileSync(path.join(dir, `${net}.ref`)), Float64Array);
  const offset = kind === 'relu' ? MAX_BATCH * classes : 0;
  return ref.subarray(offset, offset + rows * classes);
}

/** The largest |a − b| over two equal-length arrays; Infinity on a length mismatch or a NaN. */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

// Per-call timing: warm-up calls first (JIT tiers, lazily built kernels,
// thread pools), then single calls, each timed on its own, until minTime
// seconds and at least minCalls calls have passed. Each call is timed alone
// (not in repeated groups as harness.measure does) because the p99 of single
// calls is one of the figures: a call that met a GC or a late thread shows.
const WARMUP_SEC = 0.3;
const MIN_WARMUP_CALLS = 3;

/**
 * Times `call` (sync or async; awaited either way) at `batch` rows per call.
 * Returns median and p99 latency in µs, samples/s over the whole timed
 * stretch (batch × calls / seconds), and the call count.
 */
export async function timeCalls(call, { batch, minTime, minCalls }) {
  const warmEnd = now() + WARMUP_SEC;
  for (let i = 0; i < MIN_WARMUP_CALLS || now() < warmEnd; i++) await call();
  const times = [];
  const t0 = now();
  while (times.length < minCalls || now() - t0 < minTime) {
    const c0 = now();
    await call();
    times.push(now() - c0);
  }
  const total = now() - t0;
  const sorted = [...times].sort((a, b) => a - b);
  // Nearest-rank p99: the smallest time with at least 99 % of calls at or below it.
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
  return {
    medianUs: median(times) * 1e6,
    p99Us: p99 * 1e6,
    samplesPerSec: (batch * times.length) / total,
    calls: times.length,
  };
}

function floats(buffer, Type) {
  const bytes = new Uint8Array(buffer.byteLength);
  bytes.set(buffer);   // an aligned copy: Buffer slices may start at any byte
  return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

/**
 * Runs one inference case: `prepare(args)` builds the library's model and
 * returns { predict(x: Float32Array) → output array or its promise, info }.
 * The output of the case's batch is checked against the reference first; a
 * difference above the tolerance fails the case instead of timing it.
 * Args: { dir, net, batch, minTime, minCalls, reference? ('softmax' | 'relu') }.
 */
export async function inferenceCase(args, prepare) {
  const { dir, net, batch, minTime = 1, minCalls = 5, reference = 'softmax' } = args;
  const { predict, info = {}, classes = 10 } = await prepare(args);
  const x = readInput(dir, batch);
  const ref = readReference(dir, net, batch, classes, reference);
  const diff = maxAbsDiff(await predict(x), ref);
  // float32 against a float64 reference: softmax outputs agree to ~1e-6; logits
  // (brain.js's ReLU output) to ~1e-5 of their size. 1e-3 of the largest value
  // only catches wrong answers (a dropped bias, a transposed weight, ~1e-1).
  const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
  if (!(diff <= 1e-3 * scale)) throw new Error(`wrong outputs: max abs diff ${diff} from the reference`);
  const timing = await timeCalls(() => predict(x), { batch, minTime, minCalls });
  return { ...timing, maxAbsDiff: diff, ...info };
}
