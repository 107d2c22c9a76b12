// The benchmark's OpenBLAS family check (bench/lib/baselines.mjs): an OpenBLAS
// older than the CPU falls back to generic SSE kernels (0.3.21 chose Prescott on
// an Emerald Rapids Xeon: PyTorch's MLP training ran ~5× slower), which would
// make every baseline look slow. The bench then gives OpenBLAS the family it
// would pick if it knew the CPU — and only then: a deliberate choice stays.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the bench, without type declarations
import { openblasCoreChoice, openblasCoreFor } from '../bench/lib/baselines.mjs';

const AVX512_BF16 = 'fpu sse2 avx fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 amx_tile'.split(' ');
const AVX512 = 'fpu sse2 avx fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl'.split(' ');
const AVX2 = 'fpu sse2 avx fma avx2'.split(' ');
const SSE = 'fpu sse2 sse4_2'.split(' ');

describe('openblasCoreFor', () => {
  it('names the widest family the CPU can run', () => {
    expect(openblasCoreFor(AVX512_BF16)).toBe('Cooperlake');
    expect(openblasCoreFor(AVX512)).toBe('SkylakeX');
    expect(openblasCoreFor(AVX2)).toBe('Haswell');
    expect(openblasCoreFor(SSE)).toBeUndefined();
  });

  it('needs all four AVX-512 subsets that the SkylakeX kernels use', () => {
    expect(openblasCoreFor(AVX512.filter((f) => f !== 'avx512vl'))).toBe('Haswell');
  });
});

describe('openblasCoreChoice', () => {
  it('corrects a generic fallback on a CPU with AVX-512 or AVX2', () => {
    expect(openblasCoreChoice('Prescott', AVX512_BF16)).toEqual({ detected: 'Prescott', forced: 'Cooperlake' });
    expect(openblasCoreChoice('Nehalem', AVX512)).toEqual({ detected: 'Nehalem', forced: 'SkylakeX' });
    expect(openblasCoreChoice('Sandybridge', AVX2)).toEqual({ detected: 'Sandybridge', forced: 'Haswell' });
  });

  it("keeps OpenBLAS's own choice of an FMA family", () => {
    for (const core of ['SkylakeX', 'Cooperlake', 'Haswell', 'Zen', 'SapphireRapids']) {
      expect(openblasCoreChoice(core, AVX512_BF16).forced).toBeUndefined();
    }
  });

  it('forces nothing on a CPU without FMA, or when OpenBLAS could not be asked', () => {
    expect(openblasCoreChoice('Prescott', SSE).forced).toBeUndefined();
    expect(openblasCoreChoice(undefined, AVX512).forced).toBeUndefined();
  });
});
