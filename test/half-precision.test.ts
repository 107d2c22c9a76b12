// Half-precision safetensors (F16, BF16) read as float32, checked against
// PyTorch's own float32 conversion, bit for bit. Fixtures made once by
// test/fixtures/half_precision_torch.py (tests never run Python):
//  - torch_mlp_f16/bf16.safetensors: a torch state_dict cast to half, plus a
//    tensor of every special value and an int64 tensor;
//  - fastmlp_mlp_f16.safetensors: a fastmlp model file with its tensors cast
//    to float16 by torch (checksum recomputed);
//  - half_precision_torch.json: torch's float32 bits of every tensor, torch's
//    outputs with the half weights, and the SHA-256 of torch's conversion of
//    all 65,536 bit patterns of each format.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, io } from '../lib';
import { bf16BitsToF32Bits, f16BitsToF32Bits } from '../lib/io/half';
import { ENGINES, maxRelDiff } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');
const recorded = JSON.parse(readFileSync(path.join(FIXTURES, 'half_precision_torch.json'), 'utf8'));
const FORMATS = [['F16', 'f16'], ['BF16', 'bf16']] as const;

function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** A safetensors buffer of the given (name, dtype code, shape, raw bytes) tensors, in order. */
function safetensors(tensors: [string, string, number[], Uint8Array][], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, dtype, shape, bytes] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...tensors.map((t) => t[3])]);
}

/** Every 16-bit pattern 0…65535, little-endian: the input torch converted for allPatternsSha256. */
function allPatterns(): Uint8Array {
  return new Uint8Array(Uint16Array.from({ length: 65536 }, (_, i) => i).buffer);
}

/** The value of F16 bits h by the definition (sign · 2^(e−15) · 1.m, or 2^−14 · 0.m), for finite h. */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return sign * (e === 0 ? m * 2 ** -24 : 2 ** (e - 15) * (1 + m / 1024));
}

describe('half-precision tensors widen to float32 exactly as torch does', () => {
  it.each(FORMATS)('%s: every special value (±0, subnormals, extremes, ±Inf, NaNs with payloads) bit for bit', (code, key) => {
    const w = io.weightsFromBuffer(readFileSync(path.join(FIXTURES, `torch_mlp_${key}.safetensors`)), { skipNonFloat: true });
    expect(w['specials']).toBeInstanceOf(Float32Array);
    expect(bitsOf(w['specials'] as Float32Array)).toEqual(recorded[key].bits.specials);
    for (const name of ['0.weight', '0.bias', '2.weight', '2.bias']) {
      expect(bitsOf(w[name] as Float32Array), `${code} ${name}`).toEqual(recorded[key].bits[name]);
    }
  });

  it.each(FORMATS)('%s: all 65,536 bit patterns convert to the float32 bits torch produced (SHA-256 of the table)', (code) => {
    const w = io.weightsFromBuffer(safetensors([['all', code, [65536], allPatterns()]]));
    const out = w['all'] as Float32Array;
    const digest = createHash('sha256').update(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)).digest('hex');
    expect(digest).toBe(recorded.allPatternsSha256[code]);
    // The per-value functions are what the tensor decoder uses.
    const one = code === 'F16' ? f16BitsToF32Bits : bf16BitsToF32Bits;
    expect(bitsOf(out).every((b, h) => b === one(h))).toBe(true);
  });

  it('F16: every finite pattern equals its value by the format\'s definition, and NaNs keep sign and payload', () => {
    const out = io.weightsFromBuffer(safetensors([['all', 'F16', [65536], allPatterns()]]))['all'] as Float32Array;
    const bits = new Uint32Array(out.buffer);
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const exponent = (h >> 10) & 0x1f;
      if (exponent !== 0x1f) {
        if (!Object.is(out[h], f16Value(h))) wrong.push(h);
      } else if ((h & 0x3ff) === 0) {
        if (out[h] !== (h & 0x8000 ? -Infinity : Infinity)) wrong.push(h);
      } else if (!Number.isNaN(out[h]) || bits[h]! >>> 31 !== h >> 15 || ((bits[h]! >>> 13) & 0x1ff) !== (h & 0x1ff)) {
        wrong.push(h);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('reads a half tensor at any byte offset (after a skipped 1-byte tensor) and checks its length', () => {
    const half = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]);  // F16 1, −2, 2^-24
    const w = io.weightsFromBuffer(safetensors([['flag', 'BOOL', [1], new Uint8Array([1])], ['h', 'F16', [3], half]]),
      { skipNonFloat: true });
    expect(Object.keys(w)).toEqual(['h']);
    expect(Array.from(w['h']!)).toEqual([1, -2, 2 ** -24]);
    const bf = io.weightsFromBuffer(safetensors([['b', 'BF16', [2], new Uint8Array([0x80, 0x3f, 0xc0, 0xff])]]));
    expect(Array.from(bf['b']!)).toEqual([1, NaN]);
    expect(() => io.weightsFromBuffer(safetensors([['h', 'F16', [2], new Uint8Array(6)]])))
      .toThrow(/tensor 'h' of shape \[2\] \(F16\) needs 4 bytes but its offsets span 6/);
    expect(() => io.weightsFromBuffer(safetensors([['h', 'BF16', [2, 2], new Uint8Array(6)]])))
      .toThrow(/tensor 'h' of shape \[2, 2\] \(BF16\) needs 8 bytes but its offsets span 6/);
  });

  it('skipNonFloat still skips integer tensors only, and their absence is still refused without it', () => {
    const file = readFileSync(path.join(FIXTURES, 'torch_mlp_f16.safetensors'));
    expect(() => io.weightsFromBuffer(file)).toThrow(/'count' has dtype "I64"; fastmlp reads F32, F64, F16 and BF16 only .*skipNonFloat/);
    expect(Object.keys(io.weightsFromBuffer(file, { skipNonFloat: true })).sort())
      .toEqual(['0.bias', '0.weight', '2.bias', '2.weight', 'specials']);
    expect(() => io.weightsFromBuffer(file, { skipNonFloat: 'yes' } as never)).toThrow(TypeError);
    expect(() => io.weightsFromBuffer(file, { skipNonFloat: 'yes' } as never)).toThrow(/skipNonFloat/);
  });
});

describe.each(ENGINES)('half-precision files into models (%s engine)', (engine) => {
  it.each(FORMATS)('a torch state_dict in %s loads with setWeights (float32 and float64) and predicts as torch did', async (_code, key) => {
    const weights = await io.readWeights(path.join(FIXTURES, `torch_mlp_${key}.safetensors`), { skipNonFloat: true });
    delete weights['specials'];  // not a parameter, and not finite
    for (const [dtype, out, tol] of [['float32', 'y32', 1e-6], ['float64', 'y64', 1e-13]] as const) {
      const m = new Sequential([new Dense(4, 8, { activation: 'relu' }), new Dense(8, 3)], { engine, dtype, seed: 0 });
      // fastmlp fuses ReLU into Dense 0, so torch's '2.*' are fastmlp's '1.*'.
      m.setWeights({ '0.weight': weights['0.weight']!, '0.bias': weights['0.bias']!,
        '1.weight': weights['2.weight']!, '1.bias': weights['2.bias']! });
      const y = m.predict(Matrix.from(recorded[key].x, dtype));
      expect(maxRelDiff(y.data, (recorded[key][out] as number[][]).flat()), `${dtype}`).toBeLessThan(tol);
    }
  });

  it('Sequential.load reads a fastmlp model file cast to float16, into float32 and float64 models', async () => {
    const file = path.join(FIXTURES, 'fastmlp_mlp_f16.safetensors');
    const m = await Sequential.load(file, { engine });
    const expected = recorded.fastmlp_f16.bits as Record<string, number[]>;
    const got = m.getWeights();
    for (const name of Object.keys(expected)) expect(bitsOf(got[name] as Float32Array), name).toEqual(expected[name]);

    // The architecture is outside the checksum: the same tensors in a float64 model.
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + n));
    const arch = JSON.parse(header.__metadata__['fastmlp.architecture']);
    header.__metadata__['fastmlp.architecture'] = JSON.stringify({ ...arch, dtype: 'float64' });
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const m64 = Sequential.fromBuffer(Buffer.concat([len, json, bytes.subarray(8 + n)]), { engine });
    expect(m64.dtype).toBe('float64');
    const got64 = m64.getWeights();
    for (const name of Object.keys(expected)) expect(Array.from(got64[name]!), name).toEqual(Array.from(got[name]!));

    // Saving writes float32 (fastmlp writes F32/F64 only): the values come back exactly.
    const again = io.weightsFromBuffer(m.toBuffer());
    for (const name of Object.keys(expected)) expect(bitsOf(again[name] as Float32Array), name).toEqual(expected[name]);
  });
});

describe('engine parity', () => {
  it('both engines load the float16 model file to the same weights and predictions', async () => {
    const file = path.join(FIXTURES, 'fastmlp_mlp_f16.safetensors');
    const [a, b] = await Promise.all(ENGINES.map((engine) => Sequential.load(file, { engine })));
    expect(a!.getWeights()).toEqual(b!.getWeights());
    const x = Matrix.from([[0.5, -1, 2, 0.25, -0.75], [1, 1, -1, 0, 3]]);
    expect(maxRelDiff(a!.predict(x).data, b!.predict(x).data)).toBeLessThan(1e-6);
  });
});
