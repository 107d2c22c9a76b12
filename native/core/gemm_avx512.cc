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
// pads ragged m more (gemm_blocked.cc computes edge tiles in full).
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
  FASTMLP_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void prefetch(const char* p) { _mm_prefetch(p, _MM_HINT_T0); }
  FASTMLP_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  // The first n lanes (n <= 16); masked-off lanes are neither read nor written.
  FASTMLP_TARGET_AVX512 static V load_n(const T* p, index_t n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  }
  FASTMLP_TARGET_AVX512 static void store_n(T* p, V v, index_t n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
  }
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
  FASTMLP_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static void prefetch(const char* p) { _mm_prefetch(p, _MM_HINT_T0); }
  FASTMLP_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  FASTMLP_TARGET_AVX512 static V load_n(const T* p, index_t n) {
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p);
  }
  FASTMLP_TARGET_AVX512 static void store_n(T* p, V v, index_t n) {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), v);
  }
};

#define FASTMLP_SIMD_TARGET FASTMLP_TARGET_AVX512
#include "gemm_simd_kernel.inc"
#include "gemm_pack_avx.inc"
#include "gemm_small_kernel.inc"
#include "gemm_dot_kernel.inc"
#undef FASTMLP_SIMD_TARGET
#include "gemm_avx512_asm.inc"

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
#ifdef FASTMLP_GEMM_ASM_KERNEL
  cfg->kernel = &kernel_f32_12x32_asm;
#endif
  set_edge_kernels<F32, 12, 2>(cfg);
  set_small_kernels<F32, 12, 2>(cfg);
  set_dot_kernels<F32, 4>(cfg);
  return true;
}

bool avx512_config(KernelConfig<double>* cfg) {
  *cfg = {"avx512", 12, 16, 1536, 256, 240, LoopOrder::AResident,
          &kernel<F64, 12, 2>, &pack_transposed<double>};
  set_edge_kernels<F64, 12, 2>(cfg);
  set_small_kernels<F64, 12, 2>(cfg);
  set_dot_kernels<F64, 4>(cfg);
  return true;
}

#else  // not x86: no AVX-512 kernels in this build

bool avx512_config(KernelConfig<float>*) { return false; }
bool avx512_config(KernelConfig<double>*) { return false; }

#endif

}  // namespace gemm_detail
}  // namespace fastmlp
