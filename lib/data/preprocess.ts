// Preprocessing (SPEC.md §5): standardisation with the population σ (note 003),
// min–max scaling to [−1, 1] by default, and one-hot encoding (note 002:
// [3, 0, 2] with 4 classes → rows e3, e0, e2). Scalers are fitted on training
// data only and then applied unchanged to validation and test data.
import type { Dtype } from '../engine';
import { Matrix, allocate, toMatrix, type MatrixLike } from '../matrix';
import { ArgumentRangeError, integer, number, oneOf, options, rangeError, typeError } from '../validate';

const DTYPES = ['float32', 'float64'] as const;

/** A finite matrix of at least one row, in float64 for the statistics. */
function finiteMatrix(value: unknown, name: string): Matrix {
  const m = toMatrix(value, name, 'float64');
  if (m.rows === 0) throw rangeError(name, 'at least one row', value);
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i]!)) {
      throw new ArgumentRangeError(`Expected finite numbers for ${name} but received ${m.data[i]} at row ${Math.floor(i / m.cols)}, column ${i % m.cols}`);
    }
  }
  return m;
}

/** Applies out = (x − shift[c]) · factor[c] + offset per column, keeping x's dtype when it is a Matrix. */
function affine(x: unknown, name: string, width: number, shift: Float64Array, factor: Float64Array, offset: number, dtype: Dtype | null): Matrix {
  const m = finiteMatrix(x, name);
  if (m.cols !== width) throw new ArgumentRangeError(`Expected ${width} columns for ${name} (as fitted) but received ${m.cols}`);
  const outType = dtype ?? (x instanceof Matrix ? x.dtype : 'float32');
  const out = allocate(outType, m.data.length);
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < width; c++) out[r * width + c] = (m.data[r * width + c]! - shift[c]!) * factor[c]! + offset;
  }
  return new Matrix(m.rows, width, out);
}

abstract class Scaler {
  protected width = -1;

  protected requireFitted(method: string): void {
    if (this.width < 0) throw new Error(`${this.constructor.name}.${method}: call fit(x) first`);
  }

  /** Learns the per-column statistics from x (the training rows only); returns this. */
  abstract fit(x: MatrixLike): this;
  /**
   * x scaled with the fitted statistics: a new Matrix of x's dtype when x is a
   * Matrix, else float32. Throws before fit or when x's column count differs.
   */
  abstract transform(x: MatrixLike): Matrix;

  /** fit(x), then transform(x). */
  fitTransform(x: MatrixLike): Matrix {
    return this.fit(x).transform(x);
  }
}

/**
 * z = (x − μ) / σ per column with the population σ (divide by n); a constant
 * column — constant up to rounding, as scikit-learn decides it — gets σ = 1,
 * so it maps to 0 instead of NaN or ±1.
 */
export class StandardScaler extends Scaler {
  mean = new Float64Array(0);
  /** σ per column (1 for constant columns). */
  scale = new Float64Array(0);

  fit(x: MatrixLike): this {
    const m = finiteMatrix(x, 'x');
    const { rows, cols, data } = m;
    const mean = new Float64Array(cols);
    const variance = new Float64Array(cols);
    const equal = new Uint8Array(cols).fill(1);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        mean[c]! += data[r * cols + c]!;
        if (data[r * cols + c] !== data[c]) equal[c] = 0;
      }
    }
    // A column of one repeated value gets that value as its mean, exactly: the
    // rounded sum / n can differ from it in the last bit (seven 0.3s).
    for (let c = 0; c < cols; c++) mean[c] = equal[c] ? data[c]! : mean[c]! / rows;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) variance[c]! += (data[r * cols + c]! - mean[c]!) ** 2 / rows;
    this.mean = mean;
    this.scale = variance.map((v, c) => (isConstant(v, mean[c]!, rows) ? 1 : Math.sqrt(v)));
    this.width = cols;
    return this;
  }

  transform(x: MatrixLike): Matrix {
    this.requireFitted('transform');
    return affine(x, 'x', this.width, this.mean, this.scale.map((s) => 1 / s), 0, null);
  }

  /** x back from z = (x − μ)/σ: z·σ + μ per column (z's dtype when a Matrix, else float32). */
  inverseTransform(z: MatrixLike): Matrix {
    this.requireFitted('inverseTransform');
    return shiftBack(affine(z, 'z', this.width, new Float64Array(this.width), this.scale, 0, 'float64'), this.mean, z);
  }
}

/**
 * Whether a column's variance is 0 up to the rounding of computing it, so that
 * σ = √var would only scale up rounding noise. The bound is scikit-learn 1.2's
 * (`_is_constant_feature` in sklearn/preprocessing/_data.py, after Chan, Golub
 * & LeVeque's error bound for the two-pass variance):
 * var ≤ n·ε·var + (n·|mean|·ε)², ε the float64 machine epsilon.
 */
export function isConstant(variance: number, mean: number, rows: number): boolean {
  const eps = Number.EPSILON;
  return variance <= rows * eps * variance + (rows * mean * eps) ** 2;
}

/** Adds per-column offsets back (the second half of an inverse transform). */
function shiftBack(m: Matrix, add: Float64Array, original: unknown): Matrix {
  const outType = original instanceof Matrix ? original.dtype : 'float32';
  const out = allocate(outType, m.data.length);
  for (let i = 0; i < m.data.length; i++) out[i] = m.data[i]! + add[i % m.cols]!;
  return new Matrix(m.rows, m.cols, out);
}

export interface MinMaxOptions {
  /** Target interval [lo, hi] with lo < hi (default [−1, 1], SPEC.md §5). */
  range?: [number, number];
}

/** x' = lo + (x − min)(hi − lo)/(max − min) per column; a constant column's range counts as 1 (scikit-learn's rule). */
export class MinMaxScaler extends Scaler {
  readonly range: [number, number];
  min = new Float64Array(0);
  max = new Float64Array(0);

  constructor(opts?: MinMaxOptions) {
    super();
    const o = options('MinMaxScaler options', opts, ['range']);
    if (o.range === undefined) {
      this.range = [-1, 1];
    } else {
      if (!Array.isArray(o.range) || o.range.length !== 2) throw typeError('range', 'a pair [lo, hi]', o.range);
      const lo = number('range[0]', o.range[0]);
      const hi = number('range[1]', o.range[1]);
      if (!(lo < hi)) throw rangeError('range', 'lo < hi', o.range);
      this.range = [lo, hi];
    }
  }

  fit(x: MatrixLike): this {
    const { rows, cols, data } = finiteMatrix(x, 'x');
    const min = new Float64Array(cols).fill(Infinity);
    const max = new Float64Array(cols).fill(-Infinity);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = data[r * cols + c]!;
        if (v < min[c]!) min[c] = v;
        if (v > max[c]!) max[c] = v;
      }
    }
    this.min = min;
    this.max = max;
    this.width = cols;
    return this;
  }

  /**
   * max − min per column, with a range of 0 (a constant column) or below 10·ε
   * counted as 1, as scikit-learn 1.2 does (`_handle_zeros_in_scale`): the
   * training rows then map to lo and other values keep their offset from min.
   */
  private ranges(): Float64Array {
    return this.min.map((mn, c) => {
      const span = this.max[c]! - mn;
      return span < 10 * Number.EPSILON ? 1 : span;
    });
  }

  private factors(): Float64Array {
    const [lo, hi] = this.range;
    return this.ranges().map((span) => (hi - lo) / span);
  }

  transform(x: MatrixLike): Matrix {
    this.requireFitted('transform');
    return affine(x, 'x', this.width, this.min, this.factors(), this.range[0], null);
  }

  /** x back from its scaled values: min + (z − lo)·(max − min)/(hi − lo) per column (z's dtype when a Matrix, else float32). */
  inverseTransform(z: MatrixLike): Matrix {
    this.requireFitted('inverseTransform');
    const [lo, hi] = this.range;
    const back = this.ranges().map((span) => span / (hi - lo));
    const lows = new Float64Array(this.width).fill(lo);
    return shiftBack(affine(z, 'z', this.width, lows, back, 0, 'float64'), this.min, z);
  }
}

export interface OneHotOptions {
  /** Columns, an integer ≥ 1 above every label (default: the largest label + 1). */
  classes?: number;
  /** The Matrix's dtype: 'float32' (default) or 'float64'. */
  dtype?: Dtype;
}

/**
 * One row per label with a 1 in the label's column: oneHot([3, 0, 2], 4) → e3, e0, e2.
 * classes (default: max label + 1) comes second, or in the options as the
 * other data helpers take it: oneHot(labels, { classes: 4, dtype: 'float64' }).
 * opts.dtype is the Matrix's, 'float32' (default) or 'float64'.
 */
export function oneHot(labels: ArrayLike<number>, classes?: number | OneHotOptions, opts?: { dtype?: Dtype }): Matrix {
  if (!Array.isArray(labels) && !(ArrayBuffer.isView(labels) && !(labels instanceof DataView))) {
    throw typeError('labels', 'an array of class indices', labels);
  }
  if (typeof classes === 'object' && classes !== null && !Array.isArray(classes)) {
    if (opts !== undefined) throw new ArgumentRangeError('Expected the options once for oneHot (as the second argument) but received a third');
    const both = options('oneHot options', classes, ['classes', 'dtype']);
    return oneHot(labels, both.classes as number | undefined, { dtype: both.dtype as Dtype | undefined });
  }
  const o = options('oneHot options', opts, ['dtype']);
  const dtype = o.dtype === undefined ? 'float32' : oneOf('dtype', o.dtype, DTYPES);
  let top = -1;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new ArgumentRangeError(`Expected class indices (integers ≥ 0) for labels but received ${String(v)} at index ${i}`);
    }
    top = Math.max(top, v);
  }
  const k = classes === undefined ? top + 1 : integer('classes', classes, 1);
  if (top >= k) throw new ArgumentRangeError(`Expected labels below classes = ${k} but received ${top}`);
  const out = new Matrix(labels.length, k, undefined, dtype);
  for (let i = 0; i < labels.length; i++) out.data[i * k + labels[i]!] = 1;
  return out;
}
