// AVX-512 row kernels of pool2x2 (pool2x2_simd.inc), chosen at run time by
// pool2x2.cc from cpu_features(). Without x86 this file compiles to stubs.
//
// vpermt2ps/pd picks lanes across the whole register, so even/odd come out
// in plain window order (no fix-up permute, unlike AVX2), and a masked load
// or store covers a row's last partial vector.
#include "pool2x2_kernels.h"

#include <algorithm>

#include "gemm_kernels.h"  // FASTMLP_GEMM_X86, FASTMLP_TARGET_AVX512

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
  using V = __m512;
  using M = __mmask16;
  using Tail = __mmask16;
  static constexpr index_t kLanes = 16;
  FASTMLP_TARGET_AVX512 static V load(const T* p) { return _mm512_loadu_ps(p); }
  FASTMLP_TARGET_AVX512 static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static Tail tail(index_t n) { return static_cast<Tail>((1u << n) - 1); }
  FASTMLP_TARGET_AVX512 static V load_tail(const T* p, Tail t) { return _mm512_maskz_loadu_ps(t, p); }
  FASTMLP_TARGET_AVX512 static void store_tail(T* p, Tail t, V v) { _mm512_mask_storeu_ps(p, t, v); }
  FASTMLP_TARGET_AVX512 static V even(V a, V b) {
    return _mm512_permutex2var_ps(
        a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
  }
  FASTMLP_TARGET_AVX512 static V odd(V a, V b) {
    return _mm512_permutex2var_ps(
        a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
  }
  FASTMLP_TARGET_AVX512 static V to_windows(V v) { return v; }
  FASTMLP_TARGET_AVX512 static V from_windows(V v) { return v; }
  FASTMLP_TARGET_AVX512 static V interleave_lo(V e, V o) {
    return _mm512_permutex2var_ps(
        e, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), o);
  }
  FASTMLP_TARGET_AVX512 static V interleave_hi(V e, V o) {
    return _mm512_permutex2var_ps(
        e, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), o);
  }
  FASTMLP_TARGET_AVX512 static M takes(V v, V m) {
    return _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  FASTMLP_TARGET_AVX512 static V select(M t, V v, V m) { return _mm512_mask_blend_ps(t, m, v); }
  FASTMLP_TARGET_AVX512 static V keep(M t, V v) { return _mm512_maskz_mov_ps(t, v); }
  FASTMLP_TARGET_AVX512 static V keep_unless(M t, V v) { return _mm512_maskz_mov_ps(static_cast<M>(~t), v); }
  static M mask_or(M a, M b) { return static_cast<M>(a | b); }
  static M mask_andnot(M a, M b) { return static_cast<M>(~a & b); }
  FASTMLP_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_ps(a, b); }
  FASTMLP_TARGET_AVX512 static V zero() { return _mm512_setzero_ps(); }
};

struct F64 {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  using Tail = __mmask8;
  static constexpr index_t kLanes = 8;
  FASTMLP_TARGET_AVX512 static V load(const T* p) { return _mm512_loadu_pd(p); }
  FASTMLP_TARGET_AVX512 static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static Tail tail(index_t n) { return static_cast<Tail>((1u << n) - 1); }
  FASTMLP_TARGET_AVX512 static V load_tail(const T* p, Tail t) { return _mm512_maskz_loadu_pd(t, p); }
  FASTMLP_TARGET_AVX512 static void store_tail(T* p, Tail t, V v) { _mm512_mask_storeu_pd(p, t, v); }
  // _mm512_set_epi64 lists lanes from the highest down.
  FASTMLP_TARGET_AVX512 static V even(V a, V b) {
    return _mm512_permutex2var_pd(a, _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), b);
  }
  FASTMLP_TARGET_AVX512 static V odd(V a, V b) {
    return _mm512_permutex2var_pd(a, _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1), b);
  }
  FASTMLP_TARGET_AVX512 static V to_windows(V v) { return v; }
  FASTMLP_TARGET_AVX512 static V from_windows(V v) { return v; }
  FASTMLP_TARGET_AVX512 static V interleave_lo(V e, V o) {
    return _mm512_permutex2var_pd(e, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), o);
  }
  FASTMLP_TARGET_AVX512 static V interleave_hi(V e, V o) {
    return _mm512_permutex2var_pd(e, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), o);
  }
  FASTMLP_TARGET_AVX512 static M takes(V v, V m) {
    return static_cast<M>(_mm512_cmp_pd_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q));
  }
  FASTMLP_TARGET_AVX512 static V select(M t, V v, V m) { return _mm512_mask_blend_pd(t, m, v); }
  FASTMLP_TARGET_AVX512 static V keep(M t, V v) { return _mm512_maskz_mov_pd(t, v); }
  FASTMLP_TARGET_AVX512 static V keep_unless(M t, V v) { return _mm512_maskz_mov_pd(static_cast<M>(~t), v); }
  static M mask_or(M a, M b) { return static_cast<M>(a | b); }
  static M mask_andnot(M a, M b) { return static_cast<M>(~a & b); }
  FASTMLP_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_pd(a, b); }
  FASTMLP_TARGET_AVX512 static V zero() { return _mm512_setzero_pd(); }
};

#define FASTMLP_SIMD_TARGET FASTMLP_TARGET_AVX512
#include "pool2x2_simd.inc"
#undef FASTMLP_SIMD_TARGET

}  // namespace

template <>
RowKernels<float> avx512_row_kernels<float>() {
  return {&forward_row<F32>, &backward_row<F32>};
}
template <>
RowKernels<double> avx512_row_kernels<double>() {
  return {&forward_row<F64>, &backward_row<F64>};
}

#else

template <>
RowKernels<float> avx512_row_kernels<float>() {
  return {};
}
template <>
RowKernels<double> avx512_row_kernels<double>() {
  return {};
}

#endif

}  // namespace detail
}  // namespace pool2x2
}  // namespace fastmlp
