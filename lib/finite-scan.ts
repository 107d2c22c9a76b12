// "Does this array hold a NaN or ±Infinity?" as one fast pass, for the
// finiteness checks of user data (requireFinite in lib/matrix.ts, fit's
// chunked checks in lib/fit-input.ts, the target checks in
// lib/target-checks.ts). Those checks ask this first and walk the values one by
// one only when it says yes, to name the first offending row and column (or
// index) exactly: the common case, all finite, then costs one pass at memory
// speed instead of a Number.isFinite per value.
//
// Each engine has its own test (Engine.anyNonFinite: the native engine's bit
// test in native/core/finite.h, the JS engine's sum below), and the checks of a
// model's data are given its engine's (lib/model-data.ts): a JS-engine model
// runs no native code. The answer is the same whichever test runs; only the
// speed differs.
import type { FloatArray } from './engine';

/**
 * True when data holds a NaN or ±Infinity. knownFinite, where given, says
 * without reading data that it holds none (a model's test knows fit's copies
 * the native engine tested as it made them: lib/fit-memory.ts knownFinite);
 * false means "unknown", never "not finite".
 */
export interface NonFiniteTest {
  (data: FloatArray): boolean;
  readonly knownFinite?: (data: FloatArray) => boolean;
}

/**
 * The JS engine's test. v·0 is ±0 for a finite v and NaN for NaN/±Infinity,
 * so a sum of them is 0 exactly when all are finite: four independent sums and
 * no branch run about twice as fast as Number.isFinite per value (10,000 × 784
 * float32: ~5 ms against ~10 ms here).
 */
export function anyNonFiniteSum(data: FloatArray): boolean {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n = data.length, whole = n - (n & 3);
  let i = 0;
  for (; i < whole; i += 4) {
    s0 += data[i]! * 0; s1 += data[i + 1]! * 0; s2 += data[i + 2]! * 0; s3 += data[i + 3]! * 0;
  }
  for (; i < n; i++) s0 += data[i]! * 0;
  return s0 + s1 + s2 + s3 !== 0;
}

/** data[from, to) as a view (data itself when that is all of it: no view to allocate). */
export function span(data: FloatArray, from: number, to: number): FloatArray {
  return from === 0 && to === data.length ? data : data.subarray(from, to);
}
