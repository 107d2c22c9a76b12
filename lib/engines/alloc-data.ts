// Engine.allocData's and Engine.copyData's argument checks, one place for both engines (lib/engine.ts).
import type { FloatArray } from '../engine';
import { allocationSize, ArgumentRangeError, integer, oneOf, typeError } from '../validate';

/** Engine.allocData's largest length, as the native binding's (V8's typed-array limit in Node 20). */
const MAX_DATA_LENGTH = 2 ** 32;

/**
 * Engine.allocData's argument checks, shared by both engines: dtype, then a
 * length in [0, 2^32] whose bytes this machine can hold. Returns the length.
 */
export function checkDataRequest(dtype: unknown, length: unknown): number {
  const d = oneOf('dtype', dtype, ['float32', 'float64'] as const);
  const n = integer('length', length, 0, MAX_DATA_LENGTH);
  return allocationSize('length', n, d === 'float32' ? 4 : 8);
}

const FLOAT_ARRAY = 'a Float32Array or Float64Array';

/**
 * Engine.copyData's argument checks, shared by both engines (the binding
 * checks again): target a float array, source one of its type and length.
 */
export function checkCopyRequest(target: unknown, source: unknown): void {
  if (!(target instanceof Float32Array) && !(target instanceof Float64Array)) throw typeError('target', FLOAT_ARRAY, target);
  const float32 = target instanceof Float32Array;
  // instanceof, not the constructor: a subclass of Float32Array is one (toMatrix keeps it as x's data).
  if (!(float32 ? source instanceof Float32Array : source instanceof Float64Array)) {
    throw typeError('source', `${float32 ? 'a Float32Array' : 'a Float64Array'} (as target)`, source);
  }
  const n = (source as FloatArray).length;
  if (n !== target.length) {
    throw new ArgumentRangeError(`Expected ${target.length} elements (as target) for source but received ${n}`);
  }
}
