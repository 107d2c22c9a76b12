// Small helpers over the typed arrays of the TypeScript engine's plan
// (plan.ts and the files it is built from, plan-layers.ts): allocation in the
// plan's dtype, a copy that allocates nothing, and the length and row-count
// checks that the plan's methods make on their arguments.

import type { Dtype, FloatArray } from '../../engine';
import { ArgumentRangeError } from '../../validate';

export function alloc(dtype: Dtype, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

export function isCount(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= min;
}

export function need(arr: ArrayLike<number>, len: number, name: string): void {
  if (arr.length < len) {
    throw new ArgumentRangeError(`Expected at least ${len} elements for ${name} but received ${arr.length}`);
  }
}

/** dst[dOff + i] = src[sOff + i] for i < n, without the view a subarray() would allocate. */
export function copy(src: ArrayLike<number>, sOff: number, dst: FloatArray, dOff: number, n: number): void {
  for (let i = 0; i < n; i++) dst[dOff + i] = src[sOff + i];
}

/** Rows of one call: an integer in [1, max] (the native binding rejects 0 too). */
export function checkRows(rows: unknown, max: number): void {
  if (!isCount(rows, 1) || rows > max) {
    const bound = max === Infinity ? '' : ` and ≤ maxBatch (${max}; call reserve first)`;
    throw new ArgumentRangeError(`Expected an integer ≥ 1${bound} for rows but received ${String(rows)}`);
  }
}

/**
 * True when every value is finite. v − v is 0 for a finite v and NaN for NaN
 * or ±Infinity, so one subtraction and compare per value (no call into
 * Number.isFinite, which V8 would not always inline in this hot loop).
 */
export function allFinite(a: FloatArray): boolean {
  return allFiniteFrom(a, 0, a.length);
}

/** allFinite over a[from..to): a long array in slices (plan-passes.ts). */
export function allFiniteFrom(a: FloatArray, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const v = a[i]!;
    if (v - v !== 0) return false;
  }
  return true;
}
