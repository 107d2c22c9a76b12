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
// says which); FASTMLP_GEMM_KERNEL=scalar|avx2|avx512 in the environment asks
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

template <typename T>
void gemm_ref(bool transA, bool transB, index_t m, index_t n, index_t k,
              T alpha, const T* A, index_t lda, const T* B, index_t ldb,
              T beta, T* C, index_t ldc);

// Name of the instruction set the running micro-kernel uses:
// "avx512", "avx2", "neon" or "scalar" (portable C++).
const char* gemm_kernel_name();

}  // namespace fastmlp
