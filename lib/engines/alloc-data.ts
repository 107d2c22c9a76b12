// Engine.allocData's argument checks, one place for both engines (lib/engine.ts).
import { allocationSize, integer, oneOf } from '../validate';

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
