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
// row and column, and ep's bias and packed_b to its first column.
// `packed_a`, when not null, is all of op(A) already packed by
// pack_shared_a (see SharedA below), which the block reads instead of packing
// A itself. Instantiated for float and double.
template <typename T>
void gemm_blocked(const KernelConfig<T>& cfg, bool ta, bool tb, index_t m,
                  index_t n, index_t k, T alpha, const T* A, index_t lda,
                  const T* B, index_t ldb, T beta, T* C, index_t ldc,
                  const GemmEpilogue<T>* ep, const T* packed_a = nullptr);

// All of op(A) packed once for every block of a thread grid with one row of
// blocks (gemm.cc). Each such block holds all m rows of C, so in the
// AResident order each one packed the whole of A again: at two threads the
// four blocks of a batch-256 forward or input-gradient product packed A four
// times. Shared, A is packed once, its pieces split across the threads:
// fastmlp_gemm_bench, 2 threads, old/new alternated twice, GFLOP/s:
// 256×4096×4096 NT 187–188 → 192–194, NN 190–192 → 190–194, 256×1024×1024
// NT 186 → 189–190, 256×512×784 NT 191–195 → 196 (OpenBLAS 182–199). The
// training step, whose A blocks are smaller, moved by less than its noise.
// Layout (that of gemm_blocked's packs): the k block starting at column pc
// (width min(KC, k − pc)) at pc·mc_pad, its MR-row micro-panel ir at
// + ir·kc, rows past m zero. `units` pieces, each some micro-panels of one k
// block, may be packed in any order on any threads.
struct SharedA {
  bool usable = false;      // the grid may share A (AResident order, m ≤ MC, A not too big)
  index_t mc_pad = 0;       // m rounded up to MR
  index_t kc = 0;           // the k block width gemm_blocked uses for this k
  index_t units = 0;        // pieces for pack_shared_a
  std::size_t values = 0;   // buffer length: mc_pad · k
};

template <typename T>
SharedA shared_a_layout(const KernelConfig<T>& cfg, index_t m, index_t k);

// Packs piece `unit` (0 ≤ unit < layout.units) of op(A) into dst.
template <typename T>
void pack_shared_a(const KernelConfig<T>& cfg, const SharedA& layout, bool ta, const T* A,
                   index_t lda, index_t m, index_t k, index_t unit, T* dst);

// The calling thread's buffer for a shared A, grown to at least n values
// (64-byte aligned), apart from the buffers its own blocks pack into.
template <typename T>
T* thread_shared_a(std::size_t n);

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
