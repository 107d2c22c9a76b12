// Internal to gemm: the five BLIS loops on one block of C (gemm_blocked.cc),
// which gemm.cc's thread grid runs once per block, and the calling thread's
// packing buffer for B, which gemm.cc lends the small-product path as its
// scratch strip. Not part of the core's API.
#pragma once

#include <cstddef>

#include "gemm.h"
#include "gemm_kernels.h"

namespace fastmlp {
namespace gemm_detail {

// C (m×n) = alpha·op(A)·op(B) + beta·C, then the epilogue `ep` (may be null),
// on the calling thread with the kernel of `cfg`, through the five loops
// and the thread's own packing buffers (grow-only: steady-state calls
// allocate nothing). The pointers are already offset to the block's first
// row and column, and ep's bias and packed_b to its first column. Instantiated for float
// and double.
template <typename T>
void gemm_blocked(const KernelConfig<T>& cfg, bool ta, bool tb, index_t m,
                  index_t n, index_t k, T alpha, const T* A, index_t lda,
                  const T* B, index_t ldb, T beta, T* C, index_t ldc,
                  const GemmEpilogue<T>* ep);

// The kernel configuration gemm runs (chosen once by cpuid, gemm.cc), for
// the code that packs operands ahead of gemm (gemm_packed.cc).
template <typename T>
const KernelConfig<T>& kernel_config();

// The calling thread's B packing buffer, grown to at least n values (64-byte
// aligned). It stays valid until the thread's next gemm call.
template <typename T>
T* thread_pack_b(std::size_t n);

}  // namespace gemm_detail
}  // namespace fastmlp
