// Stand-alone operations on matrices.
import { getEngine, type EngineChoice } from './backend';
import type { Dtype } from './engine';
import { Matrix, allocate } from './matrix';
import { ArgumentRangeError, ArgumentTypeError, boolean, options, ownedBuffer, rangeError, typeError } from './validate';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  engine?: EngineChoice;
  /**
   * Destination for the product: an m × n Matrix of the inputs' dtype, which
   * must not share memory with a or b. Its previous contents are never read
   * (BLAS beta = 0), and matmul returns this same object. Like numpy's and
   * PyTorch's `out=`, it saves the allocation, zero-fill and first-touch page
   * faults of a fresh result on every call.
   */
  out?: Matrix;
}

/** op(a) · op(b), where op transposes when asked; both matrices of one dtype. */
export function matmul(a: Matrix, b: Matrix, opts?: MatmulOptions): Matrix {
  operand('a', a);
  operand('b', b);
  const o = options('matmul options', opts, ['transA', 'transB', 'engine', 'out']);
  const transA = o.transA === undefined ? false : boolean('transA', o.transA);
  const transB = o.transB === undefined ? false : boolean('transB', o.transB);
  const engine = getEngine(o.engine ?? 'auto');
  if (a.dtype !== b.dtype) throw new ArgumentTypeError(`Expected a and b of one dtype but received ${a.dtype} and ${b.dtype}`);
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb) {
    throw new ArgumentRangeError(`Expected op(a) columns to equal op(b) rows for matmul but received ${m} × ${k} and ${kb} × ${n}`);
  }
  if (o.out === undefined) {
    const c = allocate(a.dtype, m * n);
    engine.gemm(transA, transB, m, n, k, 1, a.data, b.data, 0, c);
    return new Matrix(m, n, c);
  }
  const out = destination(o.out, m, n, a.dtype);
  if (overlaps(out, a)) throw aliasError('a');
  if (overlaps(out, b)) throw aliasError('b');
  // beta = 0: gemm overwrites out without reading it, so NaN/Inf left in it cannot leak.
  engine.gemm(transA, transB, m, n, k, 1, a.data, b.data, 0, out.data);
  return out;
}

/**
 * A Matrix the engines may read: its buffer still attached, plain (not shared
 * or resizable, as lib/validate.ts's ownedBuffer requires of every wrapped
 * array), of a float type and exactly rows × cols long — a Matrix whose fields were altered
 * after construction is caught here, not by an engine.
 */
function operand(name: string, value: unknown): asserts value is Matrix {
  if (!(value instanceof Matrix)) throw typeError(name, 'a Matrix', value);
  if (!(value.data instanceof Float32Array || value.data instanceof Float64Array)) {
    throw typeError(`${name}.data`, 'a Float32Array or Float64Array', value.data);
  }
  ownedBuffer(`${name}.data`, value.data);
  if (value.data.length !== value.rows * value.cols) {
    throw rangeError(`${name}.data`, `${value.rows * value.cols} values (rows ${value.rows} × cols ${value.cols})`, value.data);
  }
}

/** Checks `out` is an m × n Matrix of the product's dtype. */
function destination(value: unknown, m: number, n: number, dtype: Dtype): Matrix {
  if (!(value instanceof Matrix)) throw typeError('out', `a ${m} × ${n} Matrix`, value);
  operand('out', value);
  if (value.dtype !== dtype) {
    throw new ArgumentTypeError(`Expected a ${dtype} Matrix (the dtype of a and b) for out but received a ${value.dtype} Matrix`);
  }
  if (value.rows !== m || value.cols !== n) {
    throw new ArgumentRangeError(`Expected a ${m} × ${n} Matrix (the shape of the product) for out but received a ${value.rows} × ${value.cols} Matrix`);
  }
  return value;
}

/**
 * True when out and x share memory: the same Matrix or typed array, or views of
 * one ArrayBuffer whose byte ranges intersect. gemm writes C while it still
 * reads A and B (BLAS forbids aliasing them), so such a call would return
 * garbage; disjoint views of one buffer are fine.
 */
function overlaps(out: Matrix, x: Matrix): boolean {
  if (out === x || out.data === x.data) return true;
  if (out.data.buffer !== x.data.buffer) return false;
  const outStart = out.data.byteOffset;
  const xStart = x.data.byteOffset;
  return outStart < xStart + x.data.byteLength && xStart < outStart + out.data.byteLength;
}

function aliasError(name: 'a' | 'b'): RangeError {
  return new ArgumentRangeError(`Expected a Matrix that shares no memory with ${name} for out but received one that overlaps ${name} ` +
    '(gemm cannot write its result over its own input; pass a separate Matrix)');
}
