// AVX2+FMA gemm micro-kernels (float 6×16, double 6×8: the BLIS haswell
// shapes), compiled for baseline x86-64 with a target attribute and chosen at
// run time by cpuid (gemm.cc). Without x86 this file compiles to the stub at
// the end. The kernel is the AVX-512 one (gemm_avx512.cc) on ymm registers.
//
// Register budget (16 ymm): 6×16 floats is 12 accumulators, 2 for the B row
// and 1 for the broadcast of A = 15. Each k step is 12 FMAs against 2 loads and
// 6 broadcasts; 12 independent accumulators cover the FMA latency (4–5
// cycles) of two ports.
#include "gemm_kernels.h"

#if FASTMLP_GEMM_X86
#include <immintrin.h>
#endif

namespace fastmlp {
namespace gemm_detail {

#if FASTMLP_GEMM_X86
namespace {

// The two element types behind one set of names, so the kernel is written
// once. Everything that touches a ymm register carries the target attribute:
// a helper without it could not be inlined into (or called from) the kernel.
struct F32 {
  using T = float;
  using V = __m256;
  static constexpr int kLanes = 8;
  FASTMLP_TARGET_AVX2 static V zero() { return _mm256_setzero_ps(); }
  FASTMLP_TARGET_AVX2 static V set1(T x) { return _mm256_set1_ps(x); }
  FASTMLP_TARGET_AVX2 static V load(const T* p) { return _mm256_loadu_ps(p); }
  FASTMLP_TARGET_AVX2 static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  FASTMLP_TARGET_AVX2 static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  FASTMLP_TARGET_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};

struct F64 {
  using T = double;
  using V = __m256d;
  static constexpr int kLanes = 4;
  FASTMLP_TARGET_AVX2 static V zero() { return _mm256_setzero_pd(); }
  FASTMLP_TARGET_AVX2 static V set1(T x) { return _mm256_set1_pd(x); }
  FASTMLP_TARGET_AVX2 static V load(const T* p) { return _mm256_loadu_pd(p); }
  FASTMLP_TARGET_AVX2 static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  FASTMLP_TARGET_AVX2 static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  FASTMLP_TARGET_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
};

// C tile (MR × NV·lanes) = alpha·Ap·Bp + beta·C. The accumulator array has
// compile-time bounds and every loop over it is fully unrolled, so g++ keeps
// it in registers (checked in the assembly: no spills in the k loop).
template <class O, int MR, int NV>
FASTMLP_TARGET_AVX2 void kernel(index_t kc, typename O::T alpha,
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

// PackTransposed for floats, as in gemm_avx512.cc: 8×8 blocks transposed in registers (the usual
// unpack / shuffle / 128-bit permute network: 24 shuffles per 64 values, where
// the scalar copy needs 64 loads and 64 scattered stores). The k loop is
// outside the row loop so the 8 destination rows being written (8·w floats)
// stay in L1 while every source row is read sequentially.
FASTMLP_TARGET_AVX2 void transpose_8x8(const float* src, index_t ld,
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

FASTMLP_TARGET_AVX2 void pack_t_f32(const float* src, index_t ld,
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

// BLIS haswell blocks (BResident order, see gemm_kernels.h): the KC×NR B
// micro-panel fills half of a 32 KiB L1 (float 256·16·4 = 16 KiB; double
// 256·8·8 = 16 KiB), the MC×KC A block about half of L2, NC the L3 block.
bool avx2_config(KernelConfig<float>* cfg) {
  *cfg = {"avx2", 6, 16, 168, 256, 4080, LoopOrder::BResident,
          &kernel<F32, 6, 2>, &pack_t_f32};
  return true;
}

bool avx2_config(KernelConfig<double>* cfg) {
  *cfg = {"avx2", 6, 8, 72, 256, 4080, LoopOrder::BResident,
          &kernel<F64, 6, 2>, &pack_transposed<double>};
  return true;
}

#else  // not x86: no AVX2 kernels in this build

bool avx2_config(KernelConfig<float>*) { return false; }
bool avx2_config(KernelConfig<double>*) { return false; }

#endif

}  // namespace gemm_detail
}  // namespace fastmlp
