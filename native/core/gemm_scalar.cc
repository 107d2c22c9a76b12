// The portable gemm micro-kernels (float 6×16, double 6×8) and their
// configuration: the kernel gemm.cc falls back to where neither the CPU nor
// the build offers a SIMD one, or when FASTMLP_GEMM_KERNEL=scalar asks for
// it. Plain C++ that the compiler vectorises for the baseline ISA, beside
// the per-ISA files gemm_avx2.cc, gemm_avx512.cc and gemm_neon.cc (STYLE.md
// §7); the interface they share is gemm_kernels.h.
#include <cstring>

#include "gemm_kernels.h"

#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define FASTMLP_NOINLINE __declspec(noinline)
#else
#define FASTMLP_NOINLINE
#endif

namespace fastmlp {
namespace gemm_detail {
namespace {

// Portable kernel, in two parts. tile_accumulate keeps the MR×NR
// accumulators in a local array with compile-time bounds, so g++ -O3 unrolls
// the i/j loops and keeps them in vector registers (vectorised over j). It is
// kept out of line on purpose: when g++ inlines it into the store loop below
// (runtime ldc, three beta cases) its SLP vectoriser chooses a much worse
// shape for the hot loop (measured ~2× slower).
template <typename T, int MR, int NR>
FASTMLP_NOINLINE void tile_accumulate(index_t kc, const T* __restrict a,
                                      const T* __restrict b,
                                      T* __restrict out) {
  T acc[MR][NR];
  FASTMLP_UNROLL
  for (int i = 0; i < MR; ++i) {
    FASTMLP_UNROLL
    for (int j = 0; j < NR; ++j) acc[i][j] = T(0);
  }
  for (index_t p = 0; p < kc; ++p, a += MR, b += NR) {
    FASTMLP_UNROLL
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i];
      FASTMLP_UNROLL
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
  }
  FASTMLP_UNROLL
  for (int i = 0; i < MR; ++i) {
    FASTMLP_UNROLL
    for (int j = 0; j < NR; ++j) out[i * NR + j] = acc[i][j];
  }
}

template <typename T, int MR, int NR>
void kernel_scalar(index_t kc, T alpha, const T* a, const T* b, T beta,
                   T* __restrict c, index_t ldc, const T* __restrict bias) {
  alignas(64) T acc[MR * NR];
  tile_accumulate<T, MR, NR>(kc, a, b, acc);
  for (int i = 0; i < MR; ++i) {
    T* cr = c + i * ldc;
    const T* ar = acc + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < NR; ++j) cr[j] = alpha * ar[j];
    } else if (beta == T(1)) {
      for (int j = 0; j < NR; ++j) cr[j] += alpha * ar[j];
    } else {
      for (int j = 0; j < NR; ++j) cr[j] = alpha * ar[j] + beta * cr[j];
    }
    if (bias)
      for (int j = 0; j < NR; ++j) cr[j] += bias[j];
  }
}

// The portable small-product kernels: gemm_small_kernel.inc over a "vector"
// of N plain values (loops of constant length the compiler may vectorise
// for the baseline ISA; 32³ 16 → 26 GFLOP/s over the packed scalar kernel).
template <typename TT, int N>
struct PortableOps {
  using T = TT;
  struct V {
    T v[N];
  };
  static constexpr int kLanes = N;
  static V zero() { return set1(T(0)); }
  static V set1(T x) {
    V r;
    for (int i = 0; i < N; ++i) r.v[i] = x;
    return r;
  }
  static V load(const T* p) {
    V r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
  }
  static void store(T* p, V x) { std::memcpy(p, x.v, sizeof x.v); }
  static V fma(V a, V b, V c) {
    for (int i = 0; i < N; ++i) c.v[i] += a.v[i] * b.v[i];
    return c;
  }
};

#define FASTMLP_SIMD_TARGET
#include "gemm_small_kernel.inc"
#include "gemm_dot_kernel.inc"
#undef FASTMLP_SIMD_TARGET

}  // namespace

// Block sizes follow the BLIS analytical model: KC so that a B micro-panel
// (KC×NR) fits in half of a 32 KiB L1, MC so that the A block (MC×KC) fits in
// about half of a 256 KiB–1 MiB L2, NC large (L3).
void scalar_config(KernelConfig<float>* cfg) {
  *cfg = {"scalar", 6, 16, 120, 256, 4080, LoopOrder::BResident,
          &kernel_scalar<float, 6, 16>, &pack_transposed<float>};
  set_small_kernels<PortableOps<float, 8>, 6, 2>(cfg);
  set_dot_kernels<PortableOps<float, 8>, 2>(cfg);
}

void scalar_config(KernelConfig<double>* cfg) {
  *cfg = {"scalar", 6, 8, 96, 256, 2040, LoopOrder::BResident,
          &kernel_scalar<double, 6, 8>, &pack_transposed<double>};
  set_small_kernels<PortableOps<double, 4>, 6, 2>(cfg);
  set_dot_kernels<PortableOps<double, 4>, 2>(cfg);
}

}  // namespace gemm_detail
}  // namespace fastmlp
