// Training targets: class indices (Int32Array | number[]) or a dense matrix.
import type { Dtype, LossName, Target } from './engine';
import { isPlainBuffer, markCopy, Matrix, toMatrix, type RowLike } from './matrix';
import { ArgumentRangeError, attachedBuffer, rangeError, typeError } from './validate';

/**
 * What a target may be: class indices (Int32Array, number[]), one value per row
 * (number[], Float32Array, Float64Array) for a one-output loss, or target rows
 * (Matrix, rows, { data, rows, cols }). Read-only arrays are fine: nothing writes to them.
 */
export type TargetLike = Int32Array | Float32Array | Float64Array | readonly number[] | Matrix
  | readonly (RowLike | readonly number[])[]
  | { data: ArrayLike<number>; rows: number; cols: number };

/** Class indices checked to be integers in [0, classes). */
export function toClassIndices(value: ArrayLike<number>, name: string, rows: number, classes: number): Int32Array {
  if (value.length !== rows) throw rangeError(name, `${rows} class indices (one per row)`, value);
  if (ArrayBuffer.isView(value)) attachedBuffer(name, value);
  // The caller's Int32Array is used as is; anything else is copied, as is one
  // over a shared or resizable buffer (as toMatrix copies such an x): the
  // engines may read a target later, from another thread.
  const out = value instanceof Int32Array && isPlainBuffer(value) ? value : markCopy(new Int32Array(rows));
  for (let i = 0; i < rows; i++) {
    const v = value[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= classes) {
      throw new ArgumentRangeError(`Expected class indices (integers in [0, ${classes})) for ${name} but received ${v} at index ${i}`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Converts y for a loss over predictions of rows × cols. Cross-entropy takes
 * class indices or probability rows, nll class indices; the other losses take
 * a matrix (or, with one output column, a flat number[] / typed array of one
 * value per row).
 */
export function toTarget(value: unknown, name: string, loss: LossName | 'custom', rows: number, cols: number,
                         dtype: Dtype): Target {
  const flat = value instanceof Int32Array || value instanceof Float32Array || value instanceof Float64Array ||
    (Array.isArray(value) && (value.length === 0 || typeof value[0] === 'number'));
  if (flat) {
    const arr = value as Int32Array | Float32Array | Float64Array | number[];
    // A custom loss with several outputs gets class indices, as cross-entropy does.
    if (loss === 'cross-entropy' || loss === 'nll' || (loss === 'custom' && cols > 1)) return toClassIndices(arr, name, rows, cols);
    if (cols !== 1) {
      throw typeError(name, `a ${rows} × ${cols} target matrix for loss '${loss}' (class indices need 'cross-entropy' or 'nll')`, value);
    }
    if (arr.length !== rows) throw rangeError(name, `${rows} values (one per row)`, value);
    return toMatrix({ data: arr, rows, cols: 1 }, name, dtype).data;
  }
  const m = toMatrix(value, name, dtype);
  if (m.rows !== rows || m.cols !== cols) {
    throw new ArgumentRangeError(`Expected a ${rows} × ${cols} target for ${name} but received ${m.rows} × ${m.cols}`);
  }
  return m.data;
}
