// AVX-512F gemm micro-kernels (float 12×32, double 12×16), compiled for
// baseline x86-64 with a target attribute and chosen at run time by cpuid
// (gemm.cc). Without x86 this file compiles to the stub at the end.
//
// Register budget (32 zmm): MR·NR/lanes accumulators, NR/lanes for the B row
// and one broadcast of A. 12×32 uses 24 + 2 + 1. Each k step issues 24 FMAs
// against 2 B loads and 12 A broadcasts, so the two FMA ports, not the two
// load ports, bound it, and 24 independent accumulators cover the 4-cycle FMA
// latency of two ports several times over. 14×32 (28 accumulators) also fits;
// it was no faster in a best-of-3 comparison (on a shared, noisy machine) and
// pads ragged m more (gemm.cc computes edge tiles in full).
#include "gemm_kernels.h"

#if FASTMLP_GEMM_X86
#include <immintrin.h>
#endif

namespace fastmlp {
namespace gemm_detail {

#if FASTMLP_GEMM_X86
namespace {

// The two element types behind one set of names, so the kernel is written
// once. Everything that touches a zmm register carries the target attribute:
// a helper without it could not be inlined into (or called from) the kernel.
struct F32 {
  using T = float;
  using V = __m512;
  static constexpr int kLanes = 16;
  FASTMLP_TARGET_AVX512 static V zero() { return _mm512_setzero_ps(); }
  FASTMLP_TARGET_AVX512 static V set1(T x) { return _mm512_set1_ps(x); }
  FASTMLP_TARGET_AVX512 static V load(const T* p) { return _mm512_loadu_ps(p); }
  FASTMLP_TARGET_AVX512 static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  FASTMLP_TARGET_AVX512 static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  FASTMLP_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};

struct F64 {
  using T = double;
  using V = __m512d;
  static constexpr int kLanes = 8;
  FASTMLP_TARGET_AVX512 static V zero() { return _mm512_setzero_pd(); }
  FASTMLP_TARGET_AVX512 static V set1(T x) { return _mm512_set1_pd(x); }
  FASTMLP_TARGET_AVX512 static V load(const T* p) { return _mm512_loadu_pd(p); }
  FASTMLP_TARGET_AVX512 static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  FASTMLP_TARGET_AVX512 static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  FASTMLP_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
};

// C tile (MR × NV·lanes) = alpha·Ap·Bp + beta·C. The accumulator array has
// compile-time bounds and every loop over it is fully unrolled, so g++ keeps
// it in registers (no spills in the k loop, checked with objdump).
template <class O, int MR, int NV>
FASTMLP_TARGET_AVX512 void kernel(index_t kc, typename O::T alpha,
                                  const typename O::T* __restrict a,
                                  const typename O::T* __restrict b,
                                  typename O::T beta,
                                  typename O::T* __restrict c, index_t ldc) {
  using T = typename O::T;
  using V = typename O::V;
  constexpr int L = O::kLanes, NR = NV * L;
  V acc[MR][NV];
  FASTMLP_UNROLL
  for (int i = 0; i < MR; ++i) {
    FASTMLP_UNROLL
    for (int j = 0; j < NV; ++j) acc[i][j] = O::zero();
  }
  // The C tile is needed right after the k loop (read, or at least owned for
  // the write); ask for its lines now so that miss overlaps the arithmetic.
  for (int i = 0; i < MR; ++i) {
    const char* row = reinterpret_cast<const char*>(c + i * ldc);
    _mm_prefetch(row, _MM_HINT_T0);
    _mm_prefetch(row + NR * sizeof(T) - 1, _MM_HINT_T0);
  }
  // Two k steps per trip halve the loop overhead next to 2·MR·NV FMAs.
  index_t p = 0;
  for (; p + 2 <= kc; p += 2, a += 2 * MR, b += 2 * NR) {
    FASTMLP_UNROLL
    for (int u = 0; u < 2; ++u) {
      V bv[NV];
      FASTMLP_UNROLL
      for (int j = 0; j < NV; ++j) bv[j] = O::load(b + u * NR + j * L);
      FASTMLP_UNROLL
      for (int i = 0; i < MR; ++i) {
        const V ai = O::set1(a[u * MR + i]);
        FASTMLP_UNROLL
        for (int j = 0; j < NV; ++j) acc[i][j] = O::fma(ai, bv[j], acc[i][j]);
      }
    }
  }
  if (p < kc) {
    V bv[NV];
    FASTMLP_UNROLL
    for (int j = 0; j < NV; ++j) bv[j] = O::load(b + j * L);
    FASTMLP_UNROLL
    for (int i = 0; i < MR; ++i) {
      const V ai = O::set1(a[i]);
      FASTMLP_UNROLL
      for (int j = 0; j < NV; ++j) acc[i][j] = O::fma(ai, bv[j], acc[i][j]);
    }
  }
  const V va = O::set1(alpha);
  if (beta == T(0)) {  // BLAS: C is write-only
    FASTMLP_UNROLL
    for (int i = 0; i < MR; ++i) {
      FASTMLP_UNROLL
      for (int j = 0; j < NV; ++j) O::store(c + i * ldc + j * L, O::mul(va, acc[i][j]));
    }
  } else if (beta == T(1)) {  // accumulating k blocks after the first
    FASTMLP_UNROLL
    for (int i = 0; i < MR; ++i) {
      FASTMLP_UNROLL
      for (int j = 0; j < NV; ++j) {
        T* cp = c + i * ldc + j * L;
        O::store(cp, O::fma(va, acc[i][j], O::load(cp)));
      }
    }
  } else {
    const V vb = O::set1(beta);
    FASTMLP_UNROLL
    for (int i = 0; i < MR; ++i) {
      FASTMLP_UNROLL
      for (int j = 0; j < NV; ++j) {
        T* cp = c + i * ldc + j * L;
        O::store(cp, O::fma(va, acc[i][j], O::mul(vb, O::load(cp))));
      }
    }
  }
}

// PackTransposed for floats: 8×8 blocks transposed in registers (the usual
// unpack / shuffle / 128-bit permute network: 24 shuffles per 64 values, where
// the scalar copy needs 64 loads and 64 scattered stores). The k loop is
// outside the row loop so the 8 destination rows being written (8·w floats)
// stay in L1 while every source row is read sequentially.
FASTMLP_TARGET_AVX512 void transpose_8x8(const float* src, index_t ld,
                                         float* dst, index_t w) {
  __m256 r[8], t[8], s[8];
  FASTMLP_UNROLL
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld);
  FASTMLP_UNROLL
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  FASTMLP_UNROLL
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  FASTMLP_UNROLL
  for (int q = 0; q < 4; ++q) {
    _mm256_storeu_ps(dst + q * w, _mm256_permute2f128_ps(s[q], s[q + 4], 0x20));
    _mm256_storeu_ps(dst + (q + 4) * w, _mm256_permute2f128_ps(s[q], s[q + 4], 0x31));
  }
}

FASTMLP_TARGET_AVX512 void pack_t_f32(const float* src, index_t ld,
                                      index_t rows, index_t kc, index_t w,
                                      float* dst) {
  const index_t rows8 = rows / 8 * 8, kc8 = kc / 8 * 8;
  for (index_t p = 0; p < kc8; p += 8)
    for (index_t r = 0; r < rows8; r += 8)
      transpose_8x8(src + r * ld + p, ld, dst + p * w + r, w);
  for (index_t r = 0; r < rows8; ++r)
    for (index_t p = kc8; p < kc; ++p) dst[p * w + r] = src[r * ld + p];
  pack_transposed_rows<float>(rows8, src, ld, rows, kc, w, dst);
}

}  // namespace

// Block sizes (AResident order, see gemm_kernels.h). KC·MR·size fills about
// half of the 32 KiB L1 with the resident A micro-panel (float 384·12·4 =
// 18 KiB; double 256·12·8 = 24 KiB); NC·KC·size is the B block kept in L2
// (float 384·480·4 = 720 KiB, of a 1 MiB Skylake-SP L2); MC is the L3 block.
// Starting points are BLIS's skx blocks (KC 384 for sgemm, 256 for dgemm;
// its sgemm L2 block, 480, becomes our NC because the roles are mirrored);
// the double L2 block is halved to keep the same bytes.
bool avx512_config(KernelConfig<float>* cfg) {
  *cfg = {"avx512", 12, 32, 3072, 384, 480, LoopOrder::AResident,
          &kernel<F32, 12, 2>, &pack_t_f32};
  return true;
}

bool avx512_config(KernelConfig<double>* cfg) {
  *cfg = {"avx512", 12, 16, 1536, 256, 240, LoopOrder::AResident,
          &kernel<F64, 12, 2>, &pack_transposed<double>};
  return true;
}

#else  // not x86: no AVX-512 kernels in this build

bool avx512_config(KernelConfig<float>*) { return false; }
bool avx512_config(KernelConfig<double>*) { return false; }

#endif

}  // namespace gemm_detail
}  // namespace fastmlp
