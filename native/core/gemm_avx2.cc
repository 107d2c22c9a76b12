// AVX2+FMA gemm micro-kernels (float 6×16, double 6×8: the BLIS haswell
// shapes), compiled for baseline x86-64 with a target attribute and chosen at
// run time by cpuid (gemm.cc). Without x86 this file compiles to the stub at
// the end. The kernel itself is gemm_simd_kernel.inc, shared with gemm_avx512.cc.
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
  FASTMLP_TARGET_AVX2 static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void prefetch(const char* p) { _mm_prefetch(p, _MM_HINT_T0); }
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
  FASTMLP_TARGET_AVX2 static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void prefetch(const char* p) { _mm_prefetch(p, _MM_HINT_T0); }
  FASTMLP_TARGET_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
};

#define FASTMLP_SIMD_TARGET FASTMLP_TARGET_AVX2
#include "gemm_simd_kernel.inc"
#include "gemm_pack_avx.inc"
#include "gemm_small_kernel.inc"
#include "gemm_dot_kernel.inc"
#undef FASTMLP_SIMD_TARGET

}  // namespace

// BLIS haswell blocks (BResident order, see gemm_kernels.h): the KC×NR B
// micro-panel fills half of a 32 KiB L1 (float 256·16·4 = 16 KiB; double
// 256·8·8 = 16 KiB), the MC×KC A block about half of L2, NC the L3 block.
bool avx2_config(KernelConfig<float>* cfg) {
  *cfg = {"avx2", 6, 16, 168, 256, 4080, LoopOrder::BResident,
          &kernel<F32, 6, 2>, &pack_t_f32};
  set_edge_kernels<F32, 6, 2>(cfg);
  set_small_kernels<F32, 6, 2>(cfg);
  set_dot_kernels<F32, 2>(cfg);
  return true;
}

bool avx2_config(KernelConfig<double>* cfg) {
  *cfg = {"avx2", 6, 8, 72, 256, 4080, LoopOrder::BResident,
          &kernel<F64, 6, 2>, &pack_transposed<double>};
  set_edge_kernels<F64, 6, 2>(cfg);
  set_small_kernels<F64, 6, 2>(cfg);
  set_dot_kernels<F64, 2>(cfg);
  return true;
}

#else  // not x86: no AVX2 kernels in this build

bool avx2_config(KernelConfig<float>*) { return false; }
bool avx2_config(KernelConfig<double>*) { return false; }

#endif

}  // namespace gemm_detail
}  // namespace fastmlp
