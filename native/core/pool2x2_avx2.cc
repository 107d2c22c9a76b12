// AVX2 row kernels of pool2x2 (pool2x2_simd.inc), chosen at run time by
// pool2x2.cc from cpu_features(). Without x86 this file compiles to stubs.
//
// The de-interleave: _mm256_shuffle_ps works within each 128-bit half, so
// even(a, b) of 16 floats holds windows 0 1 4 5 | 2 3 6 7 ("window order");
// a 64-bit-chunk permute puts a row of outputs into that order and back, and
// unpacklo/unpackhi undo the shuffle exactly (interleave). Doubles likewise:
// unpacklo_pd gives windows 0 2 | 1 3.
#include "pool2x2_kernels.h"

#include <algorithm>

#include "gemm_kernels.h"  // FASTMLP_GEMM_X86, FASTMLP_TARGET_AVX2

#if FASTMLP_GEMM_X86
#include <immintrin.h>
#endif

namespace fastmlp {
namespace pool2x2 {
namespace detail {

#if FASTMLP_GEMM_X86
namespace {

struct F32 {
  using T = float;
  using V = __m256;
  using M = __m256;
  using Tail = __m256i;
  static constexpr index_t kLanes = 8;
  FASTMLP_TARGET_AVX2 static V load(const T* p) { return _mm256_loadu_ps(p); }
  FASTMLP_TARGET_AVX2 static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  FASTMLP_TARGET_AVX2 static Tail tail(index_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  FASTMLP_TARGET_AVX2 static V load_tail(const T* p, Tail t) { return _mm256_maskload_ps(p, t); }
  FASTMLP_TARGET_AVX2 static void store_tail(T* p, Tail t, V v) { _mm256_maskstore_ps(p, t, v); }
  FASTMLP_TARGET_AVX2 static V even(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); }
  FASTMLP_TARGET_AVX2 static V odd(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); }
  // 64-bit chunks 0 2 1 3: its own inverse.
  FASTMLP_TARGET_AVX2 static V to_windows(V v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  FASTMLP_TARGET_AVX2 static V from_windows(V v) { return to_windows(v); }
  FASTMLP_TARGET_AVX2 static V interleave_lo(V e, V o) { return _mm256_unpacklo_ps(e, o); }
  FASTMLP_TARGET_AVX2 static V interleave_hi(V e, V o) { return _mm256_unpackhi_ps(e, o); }
  FASTMLP_TARGET_AVX2 static M takes(V v, V m) {
    return _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  FASTMLP_TARGET_AVX2 static V select(M t, V v, V m) { return _mm256_blendv_ps(m, v, t); }
  FASTMLP_TARGET_AVX2 static V keep(M t, V v) { return _mm256_and_ps(t, v); }
  FASTMLP_TARGET_AVX2 static V keep_unless(M t, V v) { return _mm256_andnot_ps(t, v); }
  FASTMLP_TARGET_AVX2 static M mask_or(M a, M b) { return _mm256_or_ps(a, b); }
  FASTMLP_TARGET_AVX2 static M mask_andnot(M a, M b) { return _mm256_andnot_ps(a, b); }
  FASTMLP_TARGET_AVX2 static V add(V a, V b) { return _mm256_add_ps(a, b); }
  FASTMLP_TARGET_AVX2 static V zero() { return _mm256_setzero_ps(); }
};

struct F64 {
  using T = double;
  using V = __m256d;
  using M = __m256d;
  using Tail = __m256i;
  static constexpr index_t kLanes = 4;
  FASTMLP_TARGET_AVX2 static V load(const T* p) { return _mm256_loadu_pd(p); }
  FASTMLP_TARGET_AVX2 static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  FASTMLP_TARGET_AVX2 static Tail tail(index_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  FASTMLP_TARGET_AVX2 static V load_tail(const T* p, Tail t) { return _mm256_maskload_pd(p, t); }
  FASTMLP_TARGET_AVX2 static void store_tail(T* p, Tail t, V v) { _mm256_maskstore_pd(p, t, v); }
  FASTMLP_TARGET_AVX2 static V even(V a, V b) { return _mm256_unpacklo_pd(a, b); }
  FASTMLP_TARGET_AVX2 static V odd(V a, V b) { return _mm256_unpackhi_pd(a, b); }
  FASTMLP_TARGET_AVX2 static V to_windows(V v) { return _mm256_permute4x64_pd(v, _MM_SHUFFLE(3, 1, 2, 0)); }
  FASTMLP_TARGET_AVX2 static V from_windows(V v) { return to_windows(v); }
  FASTMLP_TARGET_AVX2 static V interleave_lo(V e, V o) { return _mm256_unpacklo_pd(e, o); }
  FASTMLP_TARGET_AVX2 static V interleave_hi(V e, V o) { return _mm256_unpackhi_pd(e, o); }
  FASTMLP_TARGET_AVX2 static M takes(V v, V m) {
    return _mm256_or_pd(_mm256_cmp_pd(v, m, _CMP_GT_OQ), _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
  }
  FASTMLP_TARGET_AVX2 static V select(M t, V v, V m) { return _mm256_blendv_pd(m, v, t); }
  FASTMLP_TARGET_AVX2 static V keep(M t, V v) { return _mm256_and_pd(t, v); }
  FASTMLP_TARGET_AVX2 static V keep_unless(M t, V v) { return _mm256_andnot_pd(t, v); }
  FASTMLP_TARGET_AVX2 static M mask_or(M a, M b) { return _mm256_or_pd(a, b); }
  FASTMLP_TARGET_AVX2 static M mask_andnot(M a, M b) { return _mm256_andnot_pd(a, b); }
  FASTMLP_TARGET_AVX2 static V add(V a, V b) { return _mm256_add_pd(a, b); }
  FASTMLP_TARGET_AVX2 static V zero() { return _mm256_setzero_pd(); }
};

#define FASTMLP_SIMD_TARGET FASTMLP_TARGET_AVX2
#include "pool2x2_simd.inc"
#undef FASTMLP_SIMD_TARGET

}  // namespace

template <>
RowKernels<float> avx2_row_kernels<float>() {
  return {&forward_row<F32>, &backward_row<F32>};
}
template <>
RowKernels<double> avx2_row_kernels<double>() {
  return {&forward_row<F64>, &backward_row<F64>};
}

#else

template <>
RowKernels<float> avx2_row_kernels<float>() {
  return {};
}
template <>
RowKernels<double> avx2_row_kernels<double>() {
  return {};
}

#endif

}  // namespace detail
}  // namespace pool2x2
}  // namespace fastmlp
