// Matrix: a row-major float32/float64 matrix, one row per observation
// (SPEC.md §1). Conversions from the input forms the API accepts live here too.
import type { Dtype, FloatArray } from './engine';
import { allocationSize, ArgumentRangeError, integer, oneOf, ownedBuffer, rangeError, typeError } from './validate';

/** One row of an array of rows: plain numbers or a float typed array (rows of one array may mix them). */
export type RowLike = number[] | Float32Array | Float64Array;

export type MatrixLike = Matrix | RowLike[] | { data: ArrayLike<number>; rows: number; cols: number };

/**
 * The rows a model reads (x of fit, predict, evaluate, trainStep): a Matrix, an
 * array of rows (number[], Float32Array or Float64Array, mixed too; read-only
 * is fine), or { data, rows, cols } with data row after row.
 */
export type InputLike = Matrix | readonly (RowLike | readonly number[])[] | { data: ArrayLike<number>; rows: number; cols: number };

const DTYPES = ['float32', 'float64'] as const;

export function allocate(dtype: Dtype, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

export function dtypeOf(data: FloatArray): Dtype {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/** A dense row-major matrix over a Float32Array or Float64Array: the data type of x, outputs and ops. */
export class Matrix {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** The values, row after row: element (r, c) is data[r * cols + c]. */
  readonly data: FloatArray;

  /**
   * new Matrix(rows, cols) — zeros (float32);
   * new Matrix(rows, cols, data) — wraps a Float32Array/Float64Array of rows·cols
   * values without copying, or copies a number[] into a Float32Array.
   */
  constructor(rows: number, cols: number, data?: FloatArray | number[], dtype: Dtype = 'float32') {
    this.rows = integer('rows', rows, 0);
    this.cols = integer('cols', cols, 0);
    oneOf('dtype', dtype, DTYPES);
    const length = allocationSize('rows × cols', rows * cols, dtype === 'float64' ? 8 : 4);
    if (data === undefined) {
      this.data = allocate(dtype, length);
    } else if (data instanceof Float32Array || data instanceof Float64Array) {
      ownedBuffer('data', data);   // wrapped without a copy: engines read it later
      this.data = data;
    } else if (Array.isArray(data)) {
      if (data.length !== length) throw rangeError('data', `${length} values (rows ${rows} × cols ${cols})`, data);
      this.data = allocate(dtype, length);
      this.data.set(data);
    } else {
      throw typeError('data', 'a Float32Array, Float64Array or number[]', data);
    }
    if (this.data.length !== length) {
      throw rangeError('data', `${length} values (rows ${rows} × cols ${cols})`, data);
    }
  }

  /** 'float32' or 'float64', from data's type. */
  get dtype(): Dtype {
    return dtypeOf(this.data);
  }

  /** From an array of rows (number[] or Float32Array/Float64Array, all of the same length). */
  static from(rows: RowLike[], dtype: Dtype = 'float32'): Matrix {
    return toMatrix(rows, 'rows', dtype);
  }

  /** A rows × cols matrix of zeros (float32 unless dtype says 'float64'). */
  static zeros(rows: number, cols: number, dtype: Dtype = 'float32'): Matrix {
    return new Matrix(rows, cols, undefined, dtype);
  }

  /** The value at (row, col), both checked against the shape. */
  get(row: number, col: number): number {
    this.checkIndex(row, col);
    return this.data[row * this.cols + col]!;
  }

  /** Writes the value at (row, col), both checked against the shape. */
  set(row: number, col: number, value: number): void {
    this.checkIndex(row, col);
    this.data[row * this.cols + col] = value;
  }

  /** A view (no copy) of one row. */
  row(index: number): FloatArray {
    integer('index', index, 0, this.rows - 1);
    return this.data.subarray(index * this.cols, (index + 1) * this.cols);
  }

  /** Index of the largest value in each row (first one on ties). */
  argmax(): Int32Array {
    const out = new Int32Array(this.rows);
    for (let r = 0; r < this.rows; r++) {
      const base = r * this.cols;
      let best = 0;
      for (let c = 1; c < this.cols; c++) if (this.data[base + c]! > this.data[base + best]!) best = c;
      out[r] = best;
    }
    return out;
  }

  /** A copy as nested arrays, one number[] per row (e.g. for JSON). */
  toArray(): number[][] {
    const out: number[][] = [];
    for (let r = 0; r < this.rows; r++) out.push(Array.from(this.data.subarray(r * this.cols, (r + 1) * this.cols)));
    return out;
  }

  private checkIndex(row: number, col: number): void {
    integer('row', row, 0, this.rows - 1);
    integer('col', col, 0, this.cols - 1);
  }
}

/**
 * Converts any accepted matrix form to a Matrix of the wanted dtype. A Matrix's
 * data of that dtype is wrapped again without a copy; anything else is copied
 * once (isCopy tells which). The result is always a Matrix built here from
 * values read once: a Proxy or an object with accessors could answer rows or
 * data differently on a second read, after the checks.
 */
export function toMatrix(value: unknown, name: string, dtype: Dtype): Matrix {
  if (value instanceof Matrix) {
    const { rows, cols, data } = value as { rows: unknown; cols: unknown; data: unknown };
    integer(`${name}.rows`, rows, 0);
    integer(`${name}.cols`, cols, 0);
    if (!(data instanceof Float32Array || data instanceof Float64Array)) throw typeError(`${name}.data`, 'a Float32Array or Float64Array', data);
    // Its buffer may have been transferred since it was built.
    ownedBuffer(`${name}.data`, data);
    const length = (rows as number) * (cols as number);
    if (data.length !== length) throw rangeError(`${name}.data`, `${length} values (rows × cols)`, data);
    if (dtypeOf(data) === dtype) return new Matrix(rows as number, cols as number, data);
    return copied(rows as number, cols as number, dtype === 'float32' ? Float32Array.from(data) : Float64Array.from(data));
  }
  if (Array.isArray(value)) {
    const rows = value.length;
    if (rows === 0) throw rangeError(name, 'at least one row', value);
    const first: unknown = value[0];
    if (!isRow(first)) throw typeError(name, ACCEPTED, value);
    const cols = first.length;
    const data = allocate(dtype, rows * cols);
    for (let r = 0; r < rows; r++) {
      const row: unknown = value[r];
      if (Array.isArray(row)) {
        if (row.length !== cols) throw rangeError(`${name}[${r}]`, `${cols} values (as in row 0)`, row);
        for (let c = 0; c < cols; c++) {
          const v = row[c];
          if (typeof v !== 'number') throw typeError(`${name}[${r}][${c}]`, 'a number', v);
          data[r * cols + c] = v;
        }
      } else if (row instanceof Float32Array || row instanceof Float64Array) {
        // A transferred row reads as empty: say so rather than "received length 0".
        if (row.length !== cols) {
          if (isDetachedView(row)) ownedBuffer(`${name}[${r}]`, row);
          throw rangeError(`${name}[${r}]`, `${cols} values (as in row 0)`, row);
        }
        // Copied now (one set per row), so a shared or resizable buffer is fine here.
        data.set(row, r * cols);
      } else {
        throw typeError(`${name}[${r}]`, 'an array of numbers, a Float32Array or a Float64Array', row);
      }
    }
    return copied(rows, cols, data);
  }
  if (typeof value === 'object' && value !== null && 'data' in value && 'rows' in value && 'cols' in value) {
    const { data, rows, cols } = value as { data: unknown; rows: unknown; cols: unknown };
    integer(`${name}.rows`, rows, 0);
    integer(`${name}.cols`, cols, 0);
    const isNumeric = ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array);
    if (!isNumeric && !Array.isArray(data)) throw typeError(`${name}.data`, 'a typed array or number[]', data);
    const src = data as ArrayLike<number>;
    // A transferred buffer reads as empty: say so rather than "received length 0".
    if (ArrayBuffer.isView(data) && isDetachedView(data)) ownedBuffer(`${name}.data`, data);
    const length = (rows as number) * (cols as number);
    if (src.length !== length) throw rangeError(`${name}.data`, `${length} values (rows × cols)`, data);
    if ((dtype === 'float32' && src instanceof Float32Array) || (dtype === 'float64' && src instanceof Float64Array)) {
      // Wrapped without a copy when its buffer is a plain one. Over a
      // SharedArrayBuffer or a resizable buffer it is copied, as a source of
      // the other dtype is: the engines never keep or read that memory later.
      if (isPlainBuffer(src)) return new Matrix(rows as number, cols as number, src);
      return copied(rows as number, cols as number, src instanceof Float32Array ? new Float32Array(src) : new Float64Array(src));
    }
    const out = allocate(dtype, length);
    for (let i = 0; i < length; i++) {
      const v = src[i];
      if (typeof v !== 'number') throw typeError(`${name}.data[${i}]`, 'a number', v);
      out[i] = v;
    }
    return copied(rows as number, cols as number, out);
  }
  throw typeError(name, ACCEPTED, value);
}

/**
 * The arrays the conversions of caller input allocated (toMatrix, and the
 * targets' class indices): a caller never saw them, so they are not the
 * caller's to change or transfer while a call still reads them.
 */
const copies = new WeakSet<FloatArray | Int32Array>();

export function markCopy<A extends FloatArray | Int32Array>(array: A): A {
  copies.add(array);
  return array;
}

/** True when array, from toMatrix or toTarget, is a copy they made rather than the caller's own typed array. */
export function isCopy(array: FloatArray | Int32Array): boolean {
  return copies.has(array);
}

function copied(rows: number, cols: number, data: FloatArray): Matrix {
  return new Matrix(rows, cols, markCopy(data));
}

const ACCEPTED = 'a Matrix, an array of rows (number[] or Float32Array/Float64Array) or { data, rows, cols }';

/** A row toMatrix takes from an array of rows: a number[] or a float typed array. */
function isRow(value: unknown): value is ArrayLike<number> {
  return Array.isArray(value) || value instanceof Float32Array || value instanceof Float64Array;
}

/** Not a SharedArrayBuffer nor a resizable one: a view the engines may keep and read later without a copy. */
export function isPlainBuffer(view: ArrayBufferView): boolean {
  const buf = view.buffer as ArrayBuffer & { resizable?: boolean };
  return !(typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer) && buf.resizable !== true;
}

function isDetachedView(view: ArrayBufferView): boolean {
  try {
    ownedBuffer('view', view);
    return false;
  } catch (e) {
    return e instanceof RangeError;   // ownedBuffer's only RangeError: a detached buffer
  }
}

/**
 * Throws a RangeError naming the first NaN/±Infinity in m. anyNonFinite, an
 * engine's fast whole-array test (Engine.anyNonFinite), lets the common case
 * (all finite) skip the per-value loop, which finds the index on the error path.
 */
export function requireFinite(m: Matrix, name: string, anyNonFinite?: (data: FloatArray) => boolean): void {
  if (anyNonFinite !== undefined && !anyNonFinite(m.data)) return;
  const d = m.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i]!)) {
      const r = Math.floor(i / m.cols);
      throw new ArgumentRangeError(`Expected finite values in ${name} but received ${d[i]} at row ${r}, column ${i - r * m.cols}`);
    }
  }
}
