// Internal to gemm: the micro-kernel interface shared by gemm.cc (selection,
// thread grid), gemm_blocked.cc (the five loops, packing) and the kernel files
// gemm_scalar.cc, gemm_avx2.cc, gemm_avx512.cc and gemm_neon.cc (STYLE.md
// §7). Not part of the core's API.
//
// The ISA files are compiled with the same flags as everything else (no
// -march, no per-file flags: binding.gyp cannot express them portably), so
// each kernel function carries a target attribute instead; gemm.cc calls it
// only after cpuid has said the instructions exist.
#pragma once

#include <cstring>
#include <type_traits>
#include <utility>

#include "common.h"

#if defined(__x86_64__) || defined(_M_X64)
#define FASTMLP_GEMM_X86 1
#else
#define FASTMLP_GEMM_X86 0
#endif

// g++/clang++ need the attribute to emit AVX instructions in a file compiled
// for baseline x86-64; MSVC emits any intrinsic it is given, so it needs none.
#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FASTMLP_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define FASTMLP_TARGET_AVX2
#define FASTMLP_TARGET_AVX512
#endif

// On a FASTMLP_TARGET_* wrapper: inline every call below it, so the loops it
// runs are generated for the wrapper's instruction set (the run-time
// dispatch of optim.cc and activations.cc).
#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_FLATTEN __attribute__((flatten))
#else
#define FASTMLP_FLATTEN
#endif

#if defined(__clang__)
#define FASTMLP_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define FASTMLP_UNROLL _Pragma("GCC unroll 32")
#else
#define FASTMLP_UNROLL
#endif

namespace fastmlp {
namespace gemm_detail {

// C (MR×NR, row stride ldc) = alpha · Ap·Bp + beta · C over kc steps, where Ap
// is an MR-row micro-panel (kc columns of MR values: a[p*MR + i]) and Bp an
// NR-column micro-panel (kc rows of NR values: b[p*NR + j]). beta == 0: C is
// not read (NaNs in C do not propagate). bias, when not null, holds NR values
// added to every row of the tile before it is stored (the fused epilogue).
template <typename T>
using MicroKernel = void (*)(index_t kc, T alpha, const T* a, const T* b,
                             T beta, T* c, index_t ldc, const T* bias);

// Loop order around the micro-kernel (see gemm_blocked.cc). BResident is the BLIS
// order for row-major C: a KC×NR micro-panel of B stays in L1 while A
// micro-panels stream from L2; MC is the L2 block, NC the L3 block. With a
// wide NR (AVX-512: 32 floats) a KC×NR panel no longer fits in L1 at a useful
// KC, so AResident swaps the roles: the KC×MR panel of A stays in L1, B
// micro-panels stream from an L2-sized KC×NC block, and MC is the L3 block.
enum class LoopOrder { BResident, AResident };

// dst[p*w + r] = src[r*ld + p] for r < rows, p < kc; dst[p*w + r] = 0 for
// rows <= r < w. Packing op(A) when A is not transposed, and op(B) when B is,
// is this transpose of `rows` source rows into one micro-panel of width w.
template <typename T>
using PackTransposed = void (*)(const T* src, index_t ld, index_t rows,
                                index_t kc, index_t w, T* dst);

// The portable PackTransposed. It goes through the panel in slabs of kSlab
// k-steps so the kSlab destination rows being scattered into stay in L1: one
// pass per source row over a whole KC×NR panel (48 KiB for 384×32 floats)
// evicted the panel between rows and made packing cost as much as the
// arithmetic on NT shapes (measured). ISA files use it for what their SIMD
// transposes leave over.
template <typename T>
void pack_transposed_rows(index_t r0, const T* src, index_t ld, index_t rows,
                          index_t kc, index_t w, T* dst) {
  // Rows [r0, rows) of the transpose and the zero rows [rows, w); rows below
  // r0 are left to the caller (an ISA file's SIMD transpose).
  constexpr index_t kSlab = 16;
  for (index_t ps = 0; ps < kc; ps += kSlab) {
    const index_t pe = ps + kSlab < kc ? ps + kSlab : kc;
    for (index_t r = r0; r < rows; ++r) {
      const T* s = src + r * ld;
      for (index_t p = ps; p < pe; ++p) dst[p * w + r] = s[p];
    }
    for (index_t r = rows; r < w; ++r)
      for (index_t p = ps; p < pe; ++p) dst[p * w + r] = T(0);
  }
}

template <typename T>
void pack_transposed(const T* src, index_t ld, index_t rows, index_t kc,
                     index_t w, T* dst) {
  pack_transposed_rows<T>(0, src, ld, rows, kc, w, dst);
}

// dst[p*w + j] = src[p*ld + j] for j < cols, p < kc; zero for cols <= j < w.
// Packing op(B) when B is not transposed, and op(A) when A is, is this copy
// of kc source rows into one micro-panel of width w.
template <typename T>
using PackCopy = void (*)(const T* src, index_t ld, index_t cols, index_t kc,
                          index_t w, T* dst);
// All ceil(cols / NR) B micro-panels of a kc×cols block of a row-major B
// (the untransposed pack_b), the last one zero-padded.
template <typename T>
using PackCopyBlock = void (*)(const T* src, index_t ld, index_t cols, index_t kc, T* dst);

// The unpacked kernels for small products (gemm_small_kernel.inc): C tile
// (rows × vectors·lanes, fixed per kernel) = alpha · op(A)·B + beta · C
// (+ bias), op(A) read from the caller's storage (a[i*lda + p], or
// a[p*lda + i] for the transposed table half) and B row-major (b[p*ldb + j]);
// ab = {alpha, beta}. tail: columns in the last vector, for the masked
// kernels (small_tail); the others compute whole vectors and ignore it.
template <typename T>
using SmallKernel = void (*)(index_t k, const T* ab, const T* a, index_t lda,
                             const T* b, index_t ldb, T* c, index_t ldc,
                             const T* bias, index_t tail);
constexpr int kSmallMaxRows = 12, kSmallMaxVectors = 4;

// The few-rows kernels for A·Bᵀ (gemm_dot_kernel.inc): C rows (r × n) =
// alpha · A (r × k, rows lda apart) · Bᵀ (B n × k, rows ldb apart) + beta · C
// (+ bias), r fixed per kernel, each output a dot product along k.
template <typename T>
using DotKernel = void (*)(index_t n, index_t k, const T* ab, const T* a, index_t lda,
                           const T* b, index_t ldb, T* c, index_t ldc, const T* bias);
constexpr int kDotMaxRows = 4;

// The largest MR×NR any kernel may use: edge tiles go through a stack tile of
// this many values (gemm_blocked.cc), and gemm.cc refuses a bigger config.
constexpr index_t kMaxTile = 32 * 32;

template <typename T>
struct KernelConfig {
  const char* name;
  index_t mr, nr;      // micro-tile
  index_t mc, kc, nc;  // cache blocks; mc % mr == 0, nc % nr == 0
  LoopOrder order;
  MicroKernel<T> kernel;
  PackTransposed<T> pack_t;
  // Optional kernels for ragged last tiles (set_edge_kernels in
  // gemm_simd_kernel.inc): edge[r][v] computes (r+1)·edge_mr rows and
  // (v+1)·edge_nr columns of the same packed panels. Null: the full kernel.
  index_t edge_mr = 0, edge_nr = 0;
  MicroKernel<T> edge[3][2] = {{nullptr, nullptr}, {nullptr, nullptr}, {nullptr, nullptr}};
  // Optional ISA copies for the untransposed packs (A panels of width mr,
  // a whole B block in panels of width nr). Null: gemm_blocked.cc's portable
  // copy.
  PackCopy<T> copy_a = nullptr;
  PackCopyBlock<T> copy_b_block = nullptr;
  // The small-product kernels (set_small_kernels): small[ta][r-1][v-1]
  // computes r <= small_mr rows and v <= small_nv vectors of small_lanes.
  index_t small_mr = 0, small_nv = 0, small_lanes = 0;
  SmallKernel<T> small[2][kSmallMaxRows][kSmallMaxVectors] = {};
  // The same with the last vector masked to `tail` columns; null where the
  // ISA has no masked loads and stores.
  SmallKernel<T> small_tail[2][kSmallMaxRows][kSmallMaxVectors] = {};
  // dot[r-1]: the few-rows A·Bᵀ kernel for r rows (set_dot_kernels); null:
  // gemm takes the other paths.
  DotKernel<T> dot[kDotMaxRows] = {};
};

// Each returns false, leaving *cfg alone, when the kernel is not compiled into
// this build (non-x86 targets). They do not check the running CPU: gemm.cc
// does that before it calls them (NEON needs no check: it is part of the
// AArch64 baseline).
bool avx2_config(KernelConfig<float>* cfg);
bool avx2_config(KernelConfig<double>* cfg);
bool avx512_config(KernelConfig<float>* cfg);
bool avx512_config(KernelConfig<double>* cfg);
bool neon_config(KernelConfig<float>* cfg);
bool neon_config(KernelConfig<double>* cfg);
// The portable kernel (gemm_scalar.cc), in every build: the fallback.
void scalar_config(KernelConfig<float>* cfg);
void scalar_config(KernelConfig<double>* cfg);

}  // namespace gemm_detail
}  // namespace fastmlp
