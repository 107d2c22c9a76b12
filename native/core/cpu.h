// What the running CPU (and OS: the register state must be saved on context
// switches) supports, read once. Shared by the code that has per-ISA variants
// chosen at run time: gemm's micro-kernels and the optimizer loops.
// g++/clang's __builtin_cpu_supports checks both (XGETBV included); MSVC has
// no such builtin, so there cpuid and xgetbv are read directly (Intel SDM
// vol. 1 §14.3 and §15.2 give the required bits).
#pragma once

#include <cstdlib>
#include <cstring>

#if (defined(__x86_64__) || defined(_M_X64)) && defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace fastmlp {

struct CpuFeatures {
  bool avx2_fma = false;
  bool avx512f = false;
  bool neon = false;  // part of the AArch64 baseline: true in every arm64 build
};

inline CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(__aarch64__) || defined(_M_ARM64)
  f.neon = true;
#elif (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();  // may run before libgcc's own constructor
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
#elif (defined(__x86_64__) || defined(_M_X64)) && defined(_MSC_VER)
  int r[4];
  __cpuid(r, 0);
  const int max_leaf = r[0];
  __cpuid(r, 1);
  const bool osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1,
             fma = (r[2] >> 12) & 1;
  if (!osxsave || !avx || max_leaf < 7) return f;
  const unsigned long long xcr0 = _xgetbv(0);
  __cpuidex(r, 7, 0);
  const bool ymm_state = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM0-15, ZMM16-31
  f.avx2_fma = ymm_state && fma && ((r[1] >> 5) & 1);
  f.avx512f = f.avx2_fma && zmm_state && ((r[1] >> 16) & 1);
#endif
  return f;
}

// The features the library may use: the CPU's, lowered when
// FASTMLP_GEMM_KERNEL asks for a narrower kernel (scalar: none; avx2 or neon:
// no AVX-512), so that tests and benchmarks can run every variant on one
// machine. A request for more than the CPU has changes nothing.
inline const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f = detect_cpu_features();
    if (const char* env = std::getenv("FASTMLP_GEMM_KERNEL")) {
      if (std::strcmp(env, "scalar") == 0) f = CpuFeatures{};
      if (std::strcmp(env, "avx2") == 0 || std::strcmp(env, "neon") == 0) f.avx512f = false;
    }
    return f;
  }();
  return features;
}

}  // namespace fastmlp
