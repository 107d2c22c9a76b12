// Internal to gemm: the unpacked path for small and skinny products, where
// packing A and B costs more than it saves (the issue's "small/skinny-shape
// path"; OpenBLAS has a dedicated small-matrix kernel for the same reason).
// gemm.cc decides when to take it (use_small_path) and calls gemm_small.
//
// op(A) is read in place by the small kernels (gemm_small_kernel.inc). op(B)
// is read in place when B is not transposed; a transposed B (n×k) is copied,
// transposed, one column strip at a time into a k×NR scratch panel (only B
// is packed: it is the operand the kernel streams in vectors). A ragged last
// strip is handled by masked kernels where the ISA has masked loads and
// stores (AVX-512); elsewhere it is zero-padded to whole vectors in that
// scratch panel (an untransposed B's too, instead of being read past its last
// column) and its C tile goes through a local tile merged element by element.
// Either way no access leaves the caller's matrices.
//
// Loop order: column strips of NR = small_nv·lanes outside, row blocks of
// small_mr inside, the whole k in one kernel call. A strip of B (k×NR) is
// reused by every row block from L1/L2; A is re-read once per strip, from L2
// at these sizes. Single-threaded: waking the pool costs more than these
// products take.
#pragma once

#include <algorithm>

#include "gemm.h"
#include "gemm_kernels.h"
#include "threads.h"

namespace fastmlp {
namespace gemm_detail {

// Whether gemm() takes this path (at the current thread count; op(B) = Bᵀ
// when tb, ldb its row stride): where packing costs more than it saves.
// Measured with fastmlp_gemm_bench, 1 thread, AVX-512 sgemm and dgemm, small
// path against the packed one (README "### gemm"); tests put their shapes on
// both sides of each threshold with it.
// - C within 1 MiB: the small path walks C in column strips of NR, rows ldc
//   apart; over a larger C that ran at a third of the packed path's speed
//   (4096×4096×32 NT 38 vs 121 GFLOP/s; 256×4096×256 NT 0.92×).
// - op(B) = B (read in place): it wins up to about 192³ (64³: 1.45×,
//   8×512×512: 1.9×, 16×512×784: 1.35×; 224³: 0.75×) while B's rows are at
//   most 512 apart: a strip of B read in place from rows 4 KiB or more apart
//   ran at half speed (32×1024×1024 TN, 64×1024×1024 NN).
// - op(B) = Bᵀ (one strip at a time transposed into a scratch panel): it
//   wins while op(A), re-read once per strip, stays within L2
//   (128×512×784 NT 1.08×, 4×1024×1024 NT 1.3×, 128×10×256 NT 1.8×,
//   2048×128×128 NT 1.1×; 1024³ NT, A 4 MiB: 0.98×, dgemm 0.8×).
// With more threads the packed path splits C and the small one does not, so
// it then takes only products too small for the pool to pay (2 threads,
// 96³: the small path on one thread was 2.6× the packed one on two, on this
// loaded machine; 32×256×256 NT already went faster on two).
template <typename T>
bool use_small_path(bool tb, index_t m, index_t n, index_t k, index_t ldb) {
  constexpr double kMiB = 1 << 20;
  const double dm = static_cast<double>(m), dn = static_cast<double>(n),
               dk = static_cast<double>(k), size = sizeof(T);
  // The whole k runs in one kernel call, through a k×NR scratch strip when B
  // is transposed or ragged: a long k (a 1×1×10⁶ dot product) goes to the
  // packed path, whose buffers are bounded by KC.
  if (k > 2048 || dm * dn * size > kMiB) return false;
  if (num_threads() > 1) return dm * dn * dk <= 96.0 * 96.0 * 96.0;
  if (tb) return dm * dk * size <= kMiB;
  return dm * dn * dk <= 192.0 * 192.0 * 192.0 && ldb <= 512;
}

// Scratch elements gemm_small needs: one k×NR strip of B.
template <typename T>
index_t gemm_small_scratch(const KernelConfig<T>& cfg, index_t k) {
  return k * cfg.small_lanes * cfg.small_nv;
}

// C (m×n) = alpha·op(A)·op(B) + beta·C, then the epilogue (bias in the
// kernel or the merge, tile_fn on each finished tile). m, n, k > 0;
// `scratch` holds gemm_small_scratch elements.
template <typename T>
void gemm_small(const KernelConfig<T>& cfg, bool ta, bool tb, index_t m,
                index_t n, index_t k, T alpha, const T* A, index_t lda,
                const T* B, index_t ldb, T beta, T* C, index_t ldc,
                const GemmEpilogue<T>* ep, T* scratch) {
  const index_t L = cfg.small_lanes, MR = cfg.small_mr;
  const index_t NR = L * cfg.small_nv;
  const T ab[2] = {alpha, beta}, ab_tile[2] = {alpha, T(0)};
  const index_t whole = n / L * L;  // columns of B loadable in whole vectors
  const bool masked = cfg.small_tail[0][0][0] != nullptr;
  for (index_t jr = 0, nr; jr < n; jr += nr) {
    // A strip of up to small_nv vectors. Of an untransposed B's ragged end,
    // first its whole vectors (read in place), then the partial one (copied).
    nr = std::min(NR, n - jr);
    if (!masked && !tb && jr + nr > whole && nr > L) nr = nr / L * L;
    const index_t nv = (nr + L - 1) / L, w = nv * L;
    const T* bpanel = B + jr;
    index_t bpld = ldb;
    if (tb && ep && ep->packed_b) {
      // The same strip, packed ahead (gemm_packed.h: NR = nr wide, rows NR
      // apart, zero past column n, as pack_t writes it below).
      bpanel = ep->packed_b + jr * k;
      bpld = NR;
    } else if (tb) {
      // scratch[p*w + j] = B[(jr+j)*ldb + p], zero for j >= nr. One strip
      // at a time: transposing all of B into one k×n panel wrote rows n
      // floats apart, and ran 3× slower than the packed path on
      // 4×1024×1024 NT (measured).
      cfg.pack_t(B + jr * ldb, ldb, nr, k, w, scratch);
      bpanel = scratch;
      bpld = w;
    } else if (w != nr && !masked) {
      for (index_t p = 0; p < k; ++p) {
        const T* src = B + p * ldb + jr;
        T* d = scratch + p * w;
        for (index_t j = 0; j < nr; ++j) d[j] = src[j];
        for (index_t j = nr; j < w; ++j) d[j] = T(0);
      }
      bpanel = scratch;
      bpld = w;
    }
    const T* bias = ep && ep->bias ? ep->bias + jr : nullptr;
    for (index_t ir = 0; ir < m; ir += MR) {
      const index_t mr = std::min(MR, m - ir);
      const SmallKernel<T> kernel = cfg.small[ta][mr - 1][nv - 1];
      const T* a = ta ? A + ir : A + ir * lda;
      T* cc = C + ir * ldc + jr;
      if (w == nr) {
        kernel(k, ab, a, lda, bpanel, bpld, cc, ldc, bias, L);
      } else if (masked) {
        cfg.small_tail[ta][mr - 1][nv - 1](k, ab, a, lda, bpanel, bpld, cc, ldc,
                                           bias, nr - (nv - 1) * L);
      } else {
        // The kernel writes whole vectors: into a local tile, of which the
        // nr valid columns are merged (beta == 0: C not read).
        alignas(64) T tile[kSmallMaxRows * kSmallMaxVectors * 16];
        kernel(k, ab_tile, a, lda, bpanel, bpld, tile, w, nullptr, L);
        for (index_t i = 0; i < mr; ++i)
          for (index_t j = 0; j < nr; ++j) {
            T* cij = cc + i * ldc + j;
            T t = tile[i * w + j];
            if (beta != T(0)) t += beta * *cij;
            *cij = bias ? t + bias[j] : t;
          }
      }
      if (ep && ep->tile_fn) ep->tile_fn(cc, ldc, mr, nr, ep->ctx);
    }
  }
}

// Whether gemm() takes the few-rows dot path (gemm_dot_kernel.inc): C = A·Bᵀ,
// A untransposed, m <= kDotPathMaxRows, and the caller accepts its summation
// order (GemmEpilogue::any_sum_order). Against the small path's transposed
// strips it reads each value of B once per kDotMaxRows rows instead of
// copying it first. Measured through predict, 1 thread, AVX-512, on a loaded
// 2-core machine (bench/cases/predict_fastmlp.mjs, µs per call, small path →
// dot path): 784-512-256-10 at 1, 2, 4, 8, 16 rows 101→35, 108→54, 120→61,
// 157→116, 239→227; 784-2048-2048-10 2489→844, 2831→1222, 2764→1530,
// 3399→2888, 4201→4195: no gain left at 16 rows, so it stops at 8.
constexpr index_t kDotPathMaxRows = 8;

template <typename T>
bool use_dot_path(const KernelConfig<T>& cfg, bool ta, bool tb, index_t m,
                  const GemmEpilogue<T>* ep) {
  return ep != nullptr && ep->any_sum_order && !ta && tb && m >= 1 &&
         m <= kDotPathMaxRows && cfg.dot[kDotMaxRows - 1] != nullptr;
}

// C (m×n) = alpha·A·Bᵀ + beta·C + bias, in blocks of kDotMaxRows rows, then
// tile_fn once on all of C. Single-threaded, as the small path: a few rows
// are too little work to wake the pool for.
template <typename T>
void gemm_dot_rows(const KernelConfig<T>& cfg, index_t m, index_t n, index_t k,
                   T alpha, const T* A, index_t lda, const T* B, index_t ldb,
                   T beta, T* C, index_t ldc, const GemmEpilogue<T>& ep) {
  const T ab[2] = {alpha, beta};
  for (index_t i = 0; i < m; i += kDotMaxRows) {
    const index_t r = std::min<index_t>(kDotMaxRows, m - i);
    cfg.dot[r - 1](n, k, ab, A + i * lda, lda, B, ldb, C + i * ldc, ldc, ep.bias);
  }
  if (ep.tile_fn) ep.tile_fn(C, ldc, m, n, ep.ctx);
}

}  // namespace gemm_detail
}  // namespace fastmlp
