// NEON (AArch64 Advanced SIMD) gemm micro-kernels: float 8×12, double 6×8.
// NEON is part of the AArch64 baseline, so no target attribute and no run-time
// check are needed: gemm.cc uses these kernels on every arm64 CPU unless
// FASTMLP_GEMM_KERNEL=scalar. Elsewhere this file compiles to the stub at the
// end. The kernel itself is gemm_simd_kernel.inc, shared with the x86 files.
//
// Register budget (32 × 128-bit): float 8×12 is 8·3 = 24 accumulators, 3 for
// the B row and one broadcast of A = 28 (the BLIS armv8a sgemm shape); double
// 6×8 is 6·4 = 24 accumulators + 4 + 1 = 29 (BLIS armv8a dgemm). Each k step
// issues 24 FMAs against 3 (4) B loads and 8 (6) A broadcasts.
//
// Tested on x86 machines by cross-compiling the core and gemm tests and running
// them under qemu-user (scripts/check-arm64.sh, run by .ci/run).
#include "gemm_kernels.h"

#if defined(__aarch64__) || defined(_M_ARM64)
#define FASTMLP_GEMM_NEON 1
#include <arm_neon.h>
#else
#define FASTMLP_GEMM_NEON 0
#endif

namespace fastmlp {
namespace gemm_detail {

#if FASTMLP_GEMM_NEON
namespace {

inline void prefetch_line(const char* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 1, 3);  // for writing, keep in all cache levels
#else
  (void)p;
#endif
}

// The two element types behind one set of names, so the kernel is written
// once. vfmaq(c, a, b) computes c + a·b with one rounding.
struct F32 {
  using T = float;
  using V = float32x4_t;
  static constexpr int kLanes = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V set1(T x) { return vdupq_n_f32(x); }
  static V load(const T* p) { return vld1q_f32(p); }
  static void store(T* p, V v) { vst1q_f32(p, v); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static void prefetch(const char* p) { prefetch_line(p); }
};

struct F64 {
  using T = double;
  using V = float64x2_t;
  static constexpr int kLanes = 2;
  static V zero() { return vdupq_n_f64(0.0); }
  static V set1(T x) { return vdupq_n_f64(x); }
  static V load(const T* p) { return vld1q_f64(p); }
  static void store(T* p, V v) { vst1q_f64(p, v); }
  static V mul(V a, V b) { return vmulq_f64(a, b); }
  static V add(V a, V b) { return vaddq_f64(a, b); }
  static V fma(V a, V b, V c) { return vfmaq_f64(c, a, b); }
  static void prefetch(const char* p) { prefetch_line(p); }
};

#define FASTMLP_SIMD_TARGET
#include "gemm_simd_kernel.inc"
#include "gemm_small_kernel.inc"
#include "gemm_dot_kernel.inc"
#undef FASTMLP_SIMD_TARGET

}  // namespace

// BResident order (see gemm_kernels.h). Blocks start from BLIS's armv8a
// (Cortex-A57) configuration: sgemm MC 120, KC 640, NC 3072 (KC×NR = 30 KiB
// of a typical 64 KiB L1 on newer cores); dgemm MC 120, KC 240, NC 3072. MC
// must be a multiple of MR: 120 = 15·8 = 20·6.
bool neon_config(KernelConfig<float>* cfg) {
  *cfg = {"neon", 8, 12, 120, 640, 3072, LoopOrder::BResident,
          &kernel<F32, 8, 3>, &pack_transposed<float>};
  cfg->copy_a = &pack_copy<float, 8>;
  cfg->copy_b_block = &pack_copy_block<float, 12>;
  set_small_kernels<F32, 8, 3>(cfg);
  set_dot_kernels<F32, 4>(cfg);
  return true;
}

bool neon_config(KernelConfig<double>* cfg) {
  *cfg = {"neon", 6, 8, 120, 240, 3072, LoopOrder::BResident,
          &kernel<F64, 6, 4>, &pack_transposed<double>};
  cfg->copy_a = &pack_copy<double, 6>;
  cfg->copy_b_block = &pack_copy_block<double, 8>;
  set_small_kernels<F64, 6, 4>(cfg);
  set_dot_kernels<F64, 4>(cfg);
  return true;
}

#else  // not AArch64: no NEON kernels in this build

bool neon_config(KernelConfig<float>*) { return false; }
bool neon_config(KernelConfig<double>*) { return false; }

#endif

}  // namespace gemm_detail
}  // namespace fastmlp
