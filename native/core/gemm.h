// General matrix multiply, BLAS semantics on row-major storage:
//   C (m×n) = alpha · op(A) (m×k) · op(B) (k×n) + beta · C
// op(X) = X, or Xᵀ when the trans flag is set. A is stored m×k (k×m when
// transA), B is stored k×n (n×k when transB); lda/ldb/ldc are the row strides
// of the stored matrices. beta == 0 means C is written without being read
// (NaNs in C do not propagate), as in BLAS.
//
// gemm() is the cache-blocked implementation (BLIS five-loop structure: pack
// A into MR-row micro-panels and B into NR-column micro-panels, call a
// micro-kernel per MR×NR tile; see Van Zee & van de Geijn, "BLIS", TOMS 2015).
// The micro-kernel is chosen once, at first use, by cpuid (gemm_kernel_name()
// says which); FASTMLP_GEMM_KERNEL=scalar|avx2|avx512|neon in the environment asks
// for a given one (a kernel the CPU lacks falls back to a narrower one), so
// tests and benchmarks can compare kernels on one machine.
// gemm_ref() is the naive reference the tests compare against.
#pragma once

#include "common.h"

namespace fastmlp {

template <typename T>
void gemm(bool transA, bool transB, index_t m, index_t n, index_t k, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C,
          index_t ldc);

// Work fused into gemm's last pass over C (a dense layer's bias and
// activation; in backward, the activation's derivative):
//   C(i,j) = alpha·(op(A)·op(B))(i,j) + beta·C(i,j) + bias[j], then tile_fn
// The bias (length n, may be null) is added by the micro-kernel while the
// tile is still in registers; tile_fn (may be null) is then called once on
// each finished block of C (rows×cols at c, row stride ldc) while it is in
// L1, so an element-wise activation costs no extra trip through memory (it
// may rewrite the block in place or write f(block) elsewhere). tile_fn must
// be element-wise (it sees blocks in no fixed order, from several threads at
// once) and must not throw. A tile_fn that needs the block's position in C
// (to read matching blocks of other matrices) gets it from c's offset from
// C's first element: (c − C) / ldc rows and (c − C) % ldc columns in.
template <typename T>
using GemmTileFn = void (*)(T* c, index_t ldc, index_t rows, index_t cols,
                            const void* ctx);

template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;
  GemmTileFn<T> tile_fn = nullptr;
  const void* ctx = nullptr;
  // The caller accepts a different order of the k-sum than the other paths
  // use (the same terms, rounded differently in the last bits): with a few
  // rows of A·Bᵀ gemm may then take the dot-product path (gemm_small.h,
  // gemm_dot_rows), which reads B once in place instead of transposing it.
  // Predict sets it; training's forward leaves it false so its numbers do
  // not depend on this path.
  bool any_sum_order = false;
  // op(B) = Bᵀ already packed by gemm_pack_bt (gemm_packed.h) from this very
  // B (same n, k and kernel): the paths that pack B read its panels instead
  // (the same values in the same order, so the result is bit for bit the
  // one without it); the dot path reads B in place either way. Predict's
  // weight cache (predict_cache.h) sets it. Only with transB.
  const T* packed_b = nullptr;
};

template <typename T>
void gemm(bool transA, bool transB, index_t m, index_t n, index_t k, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C,
          index_t ldc, const GemmEpilogue<T>& epilogue);

template <typename T>
void gemm_ref(bool transA, bool transB, index_t m, index_t n, index_t k,
              T alpha, const T* A, index_t lda, const T* B, index_t ldb,
              T beta, T* C, index_t ldc);

// Name of the instruction set the running micro-kernel uses:
// "avx512", "avx2", "neon" or "scalar" (portable C++).
const char* gemm_kernel_name();

}  // namespace fastmlp
