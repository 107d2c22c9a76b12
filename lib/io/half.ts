// Half-precision tensors (safetensors dtypes F16 and BF16) widened to float32
// on read. Every value of either format is exactly representable in float32,
// so the widening is exact; it is done on the bit patterns (integers in, a
// Uint32Array view of the output out), never through a JS number, because a
// NaN that passes through a double may lose its payload or sign.
//
// F16 is IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10
// mantissa bits (IEEE 754-2008 §3.6, table 3.5). BF16 ("brain float") is the
// top 16 bits of a binary32 (Google's bfloat16 description; PyTorch's
// torch.bfloat16), so widening it is a shift.
//
// NaNs: a signalling F16 NaN (mantissa's top bit clear) comes out quiet, with
// its payload kept, as IEEE 754 §6.2 asks of a format conversion and as
// torch's float16 → float32 conversion does on x86 (F16C's vcvtph2ps; checked
// bit for bit by test/half-precision.test.ts against torch's output for all
// 65,536 patterns). BF16 NaNs are widened as their bits are, as torch does.

/** Float32 bit pattern of the F16 value with bit pattern h (0 ≤ h < 65536). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) {
    // ±Inf (mantissa 0) or NaN: the exponent saturates; a NaN is made quiet (0x400000).
    return (sign | 0x7f800000 | (mantissa === 0 ? 0 : 0x400000 | (mantissa << 13))) >>> 0;
  }
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;  // 112 = 127 − 15
  if (mantissa === 0) return sign >>> 0;  // ±0
  // A subnormal, mantissa·2^-24: normalise it, since float32 holds it as a normal number.
  let e = 113;  // the float32 exponent of 2^-14, the F16 subnormals' scale (127 − 14)
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

/** Float32 bit pattern of the BF16 value with bit pattern h: its 16 bits on top, zeros below. */
export function bf16BitsToF32Bits(h: number): number {
  return (h << 16) >>> 0;
}

/**
 * Writes into `out` the float32 values of the out.length little-endian
 * half-precision values at the start of `bytes` (any alignment).
 */
export function widenHalfInto(bytes: Uint8Array, out: Float32Array, code: 'F16' | 'BF16'): void {
  const count = out.length;
  if (bytes.length < count * 2) throw new RangeError(`Expected ${count * 2} bytes for ${count} ${code} values but received ${bytes.length}`);
  const outBits = new Uint32Array(out.buffer, out.byteOffset, count);
  if (code === 'BF16') {
    for (let i = 0, j = 0; i < count; i++, j += 2) outBits[i] = (bytes[j]! << 16 | bytes[j + 1]! << 24) >>> 0;
  } else {
    for (let i = 0, j = 0; i < count; i++, j += 2) outBits[i] = f16BitsToF32Bits(bytes[j]! | bytes[j + 1]! << 8);
  }
}
