// predict on a few rows — a served request of one or a handful of samples.
// The native engine then takes gemm's few-rows dot path (native/core/
// gemm_small.h, gemm_dot_kernel.inc: up to 8 rows, summed in another order
// than the other paths), so these check that its answers stay the contract's:
// equal, within rounding, to the JS engine's (parity), to a float64 reference,
// and to the same rows predicted within a larger batch; in both engines and
// both dtypes. Widths are off the vector lengths (37 inputs: a scalar tail of
// k; 23 and 5 outputs: ragged column groups), with a fused element-wise
// activation (tanh), an unfused layer chain and softmax at the end.
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Matrix, Sequential } from '../lib';
import type { Dtype } from '../lib/engine';
import { ENGINES, maxRelDiff, randomArray } from './helpers';

const TOLERANCE: Record<Dtype, number> = { float32: 2e-6, float64: 1e-13 };
const INPUTS = 37;

function model(engine: 'native' | 'js', dtype: Dtype): Sequential {
  const m = new Sequential([
    new Dense(INPUTS, 23, { activation: 'tanh' }),
    new Dense(23, 19),
    new Activation('relu'),
    new Dense(19, 5, { activation: 'softmax' }),
  ], { engine, dtype, seed: 7 });
  // Non-zero biases: a path that dropped them would still pass with zeros.
  const w = m.getWeights();
  let seed = 40;
  for (const key of Object.keys(w)) if (key.endsWith('.bias')) w[key]!.set(randomArray(w[key]!.length, seed++));
  m.setWeights(w);
  return m;
}

/** The model's softmax outputs in float64 from its own weights (Dense: x·Wᵀ + b). */
function reference(m: Sequential, x: Float64Array, rows: number): Float64Array {
  const w = m.getWeights();
  const dense = (a: Float64Array, weight: ArrayLike<number>, bias: ArrayLike<number>, nIn: number, nOut: number) => {
    const out = new Float64Array(rows * nOut);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < nOut; o++) {
        let s = bias[o]!;
        for (let i = 0; i < nIn; i++) s += a[r * nIn + i]! * weight[o * nIn + i]!;
        out[r * nOut + o] = s;
      }
    }
    return out;
  };
  const keys = Object.keys(w).filter((k) => k.endsWith('.weight'));
  const h1 = dense(x, w[keys[0]!]!, w[keys[0]!.replace('weight', 'bias')]!, INPUTS, 23).map(Math.tanh);
  const h2 = dense(h1, w[keys[1]!]!, w[keys[1]!.replace('weight', 'bias')]!, 23, 19).map((v) => Math.max(0, v));
  const z = dense(h2, w[keys[2]!]!, w[keys[2]!.replace('weight', 'bias')]!, 19, 5);
  for (let r = 0; r < rows; r++) {
    const row = z.subarray(r * 5, r * 5 + 5);
    const max = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < 5; c++) sum += (row[c] = Math.exp(row[c]! - max));
    for (let c = 0; c < 5; c++) row[c]! /= sum;
  }
  return z;
}

describe.each(ENGINES)('predict on 1–10 rows (%s engine)', (engine) => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`matches a float64 reference and the same rows inside a 64-row batch (${dtype})`, () => {
      const m = model(engine, dtype);
      const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
      const all = randomArray(64 * INPUTS, 3, Ctor);
      const batch = m.predict(new Matrix(64, INPUTS, all, dtype)).data;
      for (let rows = 1; rows <= 10; rows++) {
        // Rows 5… of the batch, so a request does not start at the array's first row.
        const x = all.slice(5 * INPUTS, (5 + rows) * INPUTS);
        const got = m.predict(new Matrix(rows, INPUTS, x, dtype));
        expect(got.rows).toBe(rows);
        expect(maxRelDiff(got.data, reference(m, Float64Array.from(x), rows), 1)).toBeLessThan(TOLERANCE[dtype]);
        expect(maxRelDiff(got.data, batch.subarray(5 * 5, (5 + rows) * 5), 1)).toBeLessThan(TOLERANCE[dtype]);
      }
      m.dispose();
    });
  }
});

describe('predict on 1–10 rows: native and JS engines agree (parity)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`same weights, same outputs within rounding (${dtype})`, () => {
      const native = model('native', dtype);
      const js = model('js', dtype);
      expect(maxRelDiff(native.getWeights()['0.weight']!, js.getWeights()['0.weight']!, 1)).toBe(0);
      const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
      for (let rows = 1; rows <= 10; rows++) {
        const x = new Matrix(rows, INPUTS, randomArray(rows * INPUTS, 100 + rows, Ctor), dtype);
        expect(maxRelDiff(native.predict(x).data, js.predict(x).data, 1)).toBeLessThan(TOLERANCE[dtype]);
      }
      native.dispose();
      js.dispose();
    });
  }
});
