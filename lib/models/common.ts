// What the classic models of SPEC.md §6 share: option and input checks, target
// conversion, and the affine map Z = X·Wᵀ + b computed with the engine's gemm
// (so both engines do the heavy products). Weights are out × in, as Dense's.
import { getEngine, type EngineChoice } from '../backend';
import type { Dtype, Engine, FloatArray } from '../engine';
import { Matrix, allocate, requireFinite, toMatrix } from '../matrix';
import { ArgumentRangeError, integer, oneOf, rangeError, typeError } from '../validate';

export interface ModelOptions {
  /** 'native', 'js' or 'auto' (default), as Sequential's. */
  engine?: EngineChoice;
  /** 'float32' (default) or 'float64'. */
  dtype?: Dtype;
}

export const MODEL_OPTION_KEYS = ['engine', 'dtype'] as const;
const DTYPES = ['float32', 'float64'] as const;

export function resolveModelOptions(o: Partial<Record<string, unknown>>): { engine: Engine; dtype: Dtype } {
  const dtype = o['dtype'] === undefined ? 'float32' : oneOf('dtype', o['dtype'], DTYPES);
  return { engine: getEngine(o['engine'] ?? 'auto'), dtype };
}

/** x as a finite Matrix of the model's dtype with at least one row (and `cols` columns when known). */
export function inputMatrix(x: unknown, name: string, dtype: Dtype, cols: number | null): Matrix {
  const m = toMatrix(x, name, dtype);
  if (m.rows === 0) throw new ArgumentRangeError(`Expected at least one row for ${name} but received 0`);
  if (m.cols === 0) throw new ArgumentRangeError(`Expected at least one column for ${name} but received 0`);
  if (cols !== null && m.cols !== cols) throw new ArgumentRangeError(`Expected ${cols} columns for ${name} but received ${m.cols}`);
  requireFinite(m, name);
  return m;
}

function flatNumbers(y: unknown, name: string, rows: number): ArrayLike<number> {
  const ok = Array.isArray(y) || y instanceof Int32Array || y instanceof Float32Array || y instanceof Float64Array ||
    y instanceof Uint8Array;
  if (!ok) throw typeError(name, 'an array or typed array of one value per row', y);
  const arr = y as ArrayLike<unknown>;
  if (arr.length !== rows) throw rangeError(name, `${rows} values (one per row of x)`, y);
  for (let i = 0; i < rows; i++) {
    const v = arr[i];
    if (typeof v !== 'number') throw typeError(`${name}[${i}]`, 'a number', v);
    if (!Number.isFinite(v)) throw rangeError(`${name}[${i}]`, 'a finite number', v);
  }
  return arr as ArrayLike<number>;
}

/** Binary labels: every value 0 or 1. */
export function binaryTargets(y: unknown, name: string, rows: number): Float64Array {
  const arr = flatNumbers(y, name, rows);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = arr[i]!;
    if (v !== 0 && v !== 1) throw rangeError(`${name}[${i}]`, 'a binary label (0 or 1)', v);
    out[i] = v;
  }
  return out;
}

/** Real-valued targets, one per row. */
export function realTargets(y: unknown, name: string, rows: number): Float64Array {
  return Float64Array.from(flatNumbers(y, name, rows));
}

/** Class indices: integers in [0, classes); classes null means "infer max + 1". */
export function classTargets(y: unknown, name: string, rows: number, classes: number | null): Int32Array {
  const arr = flatNumbers(y, name, rows);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = arr[i]!;
    const limit = classes ?? 2 ** 31 - 1;
    if (!Number.isInteger(v) || v < 0 || v >= limit) {
      throw rangeError(`${name}[${i}]`, `a class index (an integer in [0, ${classes ?? '∞'}))`, v);
    }
    out[i] = v;
  }
  return out;
}

/** Z (rows × out) = X (rows × in) · Wᵀ (W out × in) + b, on the engine's gemm. */
export function affine(engine: Engine, x: FloatArray, rows: number, inputs: number, weight: FloatArray,
                       bias: FloatArray, outputs: number, z: FloatArray): void {
  engine.gemm(false, true, rows, outputs, inputs, 1, x, weight, 0, z);
  for (let r = 0; r < rows; r++) {
    const base = r * outputs;
    for (let j = 0; j < outputs; j++) z[base + j]! += bias[j]!;
  }
}

/** Rows `order[from..to)` of x (rows × cols) copied contiguously into out. */
export function gatherRows(x: FloatArray, cols: number, order: Int32Array, from: number, to: number, out: FloatArray): void {
  for (let i = from; i < to; i++) {
    const src = order[i]! * cols;
    out.set(x.subarray(src, src + cols), (i - from) * cols);
  }
}

export function identityOrder(n: number): Int32Array {
  const o = new Int32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/** Fraction of equal entries. */
export function accuracy(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let hits = 0;
  for (let i = 0; i < truth.length; i++) if (pred[i] === truth[i]) hits++;
  return hits / truth.length;
}

export function requireFitted(fitted: boolean, model: string, method: string): void {
  if (!fitted) throw new Error(`${model}.${method}: call fit(x, y) first`);
}

export function zeros(dtype: Dtype, n: number): FloatArray {
  return allocate(dtype, n);
}

export function positiveInteger(name: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : integer(name, value, 1);
}

// The online rules (perceptron, Widrow–Hoff) touch one sample at a time: a dot
// product and an axpy of length `inputs`. Done through engine.gemm, each sample
// would cross into C++ twice: on breast cancer (569 × 30, 100 epochs) the
// perceptron took 86 ms that way on the native engine and 22 ms on the JS one,
// against 6–30 ms with these loops. So both engines run them here, and gemm is
// kept for the whole-data products (batch steps, losses, predictions).

/** Σ x[j]·w[j] over one sample. */
export function dot(x: FloatArray, w: FloatArray): number {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += x[j]! * w[j]!;
  return s;
}

/** w += alpha·x (one sample's update). */
export function axpy(alpha: number, x: FloatArray, w: FloatArray): void {
  for (let j = 0; j < w.length; j++) w[j]! += alpha * x[j]!;
}
