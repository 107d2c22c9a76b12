// gemm's entry points (gemm.h): C = alpha·op(A)·op(B) + beta·C, with an
// optional fused epilogue, and gemm_ref, the naive triple loop the tests
// compare against. Here: the argument checks, BLAS's cases where A and B are
// not read, the kernel chosen once by cpuid, and the way a product is run:
//  - small and skinny products by the unpacked path (gemm_small.h), where
//    packing would cost more than it saves;
//  - the others split into a thread grid of sub-blocks of C, each run on one
//    thread through the five BLIS loops with its own packing buffers
//    (gemm_blocked.cc, which describes them); a grid of one row of blocks
//    first packs op(A) once for all of them (gemm_blocked.h, SharedA).
// The micro-kernels live in gemm_scalar.cc (portable) and the per-ISA files
// gemm_avx2.cc, gemm_avx512.cc and gemm_neon.cc; gemm_kernels.h is their
// interface.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstddef>

#include "cpu.h"
#include "gemm_blocked.h"
#include "gemm_kernels.h"
#include "gemm_small.h"
#include "threads.h"

namespace fastmlp {
namespace {

using gemm_detail::KernelConfig;
using gemm_detail::kMaxTile;

// The kernel is chosen once, at first use: the widest one the CPU supports,
// or, when FASTMLP_GEMM_KERNEL names one (scalar|avx2|avx512|neon), that one, so
// tests and benchmarks can compare kernels on one machine. A request the CPU
// (or build) cannot honour falls back to the next narrower kernel; an unknown
// name is ignored.
template <typename T>
KernelConfig<T> select_config() {
  // cpu_features() has already lowered what the CPU has to what
  // FASTMLP_GEMM_KERNEL allows.
  const CpuFeatures& cpu = cpu_features();
  KernelConfig<T> cfg;
  if (cpu.avx512f && gemm_detail::avx512_config(&cfg)) return cfg;
  if (cpu.avx2_fma && gemm_detail::avx2_config(&cfg)) return cfg;
  if (cpu.neon && gemm_detail::neon_config(&cfg)) return cfg;
  gemm_detail::scalar_config(&cfg);
  return cfg;
}

template <typename T>
const KernelConfig<T>& active_config() {
  static const KernelConfig<T> cfg = select_config<T>();
  // Edge tiles go through a stack tile of kMaxTile elements.
  static_assert(kMaxTile >= 12 * 32, "tile buffer too small");
  if (cfg.mr * cfg.nr > kMaxTile || cfg.mc % cfg.mr != 0 || cfg.nc % cfg.nr != 0 ||
      (cfg.edge_mr > 0 && (cfg.edge_mr * 3 != cfg.mr || cfg.edge_nr * 2 != cfg.nr)) ||
      cfg.small_mr < 1 || cfg.small_nv < 1 || cfg.small_lanes * cfg.small_nv > 64)
    throw std::logic_error("gemm: inconsistent kernel configuration");
  return cfg;
}

// C (m×n) = beta·C, with beta == 0 writing zeros without reading C.
template <typename T>
void scale_c(index_t m, index_t n, T beta, T* C, index_t ldc) {
  if (beta == T(1)) return;
  for (index_t i = 0; i < m; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) {
      std::fill(c, c + n, T(0));
    } else {
      for (index_t j = 0; j < n; ++j) c[j] *= beta;
    }
  }
}

// The epilogue over all of C (the paths that do not go through run_tile in
// gemm_blocked.cc).
template <typename T>
void apply_epilogue(index_t m, index_t n, T* C, index_t ldc,
                    const GemmEpilogue<T>* ep) {
  if (!ep) return;
  if (ep->bias)
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < n; ++j) C[i * ldc + j] += ep->bias[j];
  if (ep->tile_fn) ep->tile_fn(C, ldc, m, n, ep->ctx);
}

// Each thread should get at least this many multiply-adds, so that waking the
// pool (a few microseconds) stays small next to the work.
constexpr double kWorkPerThread = 1 << 18;

// The messages are built only on failure: building them eagerly (string
// concatenations, heap allocations) cost about as much as a whole 16³
// product (measured with fastmlp_gemm_bench).
void check_args(bool ta, bool tb, index_t m, index_t n, index_t k,
                const void* A, index_t lda, const void* B, index_t ldb,
                const void* C, index_t ldc) {
  if (!(m >= 0 && n >= 0 && k >= 0))
    require(false, "gemm: expected m, n, k >= 0 but received " + std::to_string(m) +
                       ", " + std::to_string(n) + ", " + std::to_string(k));
  const index_t a_cols = std::max<index_t>(1, ta ? m : k);
  const index_t b_cols = std::max<index_t>(1, tb ? k : n);
  const index_t c_cols = std::max<index_t>(1, n);
  if (lda < a_cols)
    require(false, "gemm: expected lda >= " + std::to_string(a_cols) +
                       " but received " + std::to_string(lda));
  if (ldb < b_cols)
    require(false, "gemm: expected ldb >= " + std::to_string(b_cols) +
                       " but received " + std::to_string(ldb));
  if (ldc < c_cols)
    require(false, "gemm: expected ldc >= " + std::to_string(c_cols) +
                       " but received " + std::to_string(ldc));
  const bool any_c = m > 0 && n > 0;
  require(!any_c || C != nullptr, "gemm: C is null");
  require(!any_c || k == 0 || (A != nullptr && B != nullptr),
          "gemm: A or B is null");
}

template <typename T>
void gemm_impl(bool transA, bool transB, index_t m, index_t n, index_t k,
               T alpha, const T* A, index_t lda, const T* B, index_t ldb,
               T beta, T* C, index_t ldc, const GemmEpilogue<T>* ep) {
  check_args(transA, transB, m, n, k, A, lda, B, ldb, C, ldc);
  if (m == 0 || n == 0) return;
  // BLAS: with k == 0 or alpha == 0, A and B are not referenced.
  if (k == 0 || alpha == T(0)) {
    scale_c(m, n, beta, C, ldc);
    apply_epilogue(m, n, C, ldc, ep);
    return;
  }
  const KernelConfig<T>& cfg = active_config<T>();
  if (gemm_detail::use_dot_path<T>(cfg, transA, transB, m, ep)) {
    gemm_detail::gemm_dot_rows(cfg, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, *ep);
    return;
  }
  if (gemm_detail::use_small_path<T>(transB, m, n, k, ldb)) {
    T* scratch = gemm_detail::thread_pack_b<T>(static_cast<std::size_t>(
        gemm_detail::gemm_small_scratch(cfg, k)));
    gemm_detail::gemm_small(cfg, transA, transB, m, n, k, alpha, A, lda, B,
                            ldb, beta, C, ldc, ep, scratch);
    return;
  }
  const double work = static_cast<double>(m) * static_cast<double>(n) *
                      static_cast<double>(k);

  // Thread grid tm × tn over C, block edges on MR/NR multiples. Among grids
  // using the most threads, pick the one with the least packing per thread
  // (k·(m/tm + n/tn): the sub-block perimeter).
  const index_t m_units = (m + cfg.mr - 1) / cfg.mr;
  const index_t n_units = (n + cfg.nr - 1) / cfg.nr;
  const index_t max_blocks =
      static_cast<index_t>(std::max(1.0, work / kWorkPerThread));
  const index_t nt = std::min<index_t>(num_threads(), max_blocks);
  // Two blocks per thread, handed out from a shared counter: on a busy
  // machine a worker that wakes late then leaves its share to the others
  // instead of the caller running a whole second half alone (measured: 2T
  // runs at 1T speed under load). Which thread runs a block does not change
  // its arithmetic, so results stay bit-identical for a given thread count.
  const index_t target = nt > 1 ? std::min<index_t>(2 * nt, max_blocks) : 1;
  index_t tm = 1, tn = 1;
  double best_perim = static_cast<double>(m) + static_cast<double>(n);
  for (index_t a = 1; a <= target; ++a) {
    const index_t b = target / a;
    if (a > m_units || b > n_units || b < 1) continue;
    const double perim =
        static_cast<double>(m) / a + static_cast<double>(n) / b;
    const index_t used = a * b, best_used = tm * tn;
    if (used > best_used || (used == best_used && perim < best_perim)) {
      best_perim = perim;
      tm = a;
      tn = b;
    }
  }

  // One row of blocks: each would pack all of A, so A is packed once first,
  // its pieces shared out like the blocks (gemm_blocked.h, SharedA).
  const T* shared_a = nullptr;
  if (tm == 1 && tn > 1) {
    const gemm_detail::SharedA layout = gemm_detail::shared_a_layout(cfg, m, k);
    if (layout.usable) {
      T* dst = gemm_detail::thread_shared_a<T>(layout.values);
      std::atomic<index_t> next{0};
      parallel_for(std::min(nt, layout.units), 1, [&](index_t, index_t) {
        for (index_t u; (u = next.fetch_add(1, std::memory_order_relaxed)) < layout.units;)
          gemm_detail::pack_shared_a(cfg, layout, transA, A, lda, m, k, u, dst);
      });
      shared_a = dst;
    }
  }
  auto run_block = [&](index_t t) {
    const index_t bi = t / tn, bj = t % tn;
    const index_t m0 = std::min(m, bi * m_units / tm * cfg.mr);
    const index_t m1 = std::min(m, (bi + 1) * m_units / tm * cfg.mr);
    const index_t n0 = std::min(n, bj * n_units / tn * cfg.nr);
    const index_t n1 = std::min(n, (bj + 1) * n_units / tn * cfg.nr);
    if (m1 <= m0 || n1 <= n0) return;
    const T* a = transA ? A + m0 : A + m0 * lda;
    const T* b = transB ? B + n0 * ldb : B + n0;
    // The sub-block's own view of the epilogue: bias and prepacked B
    // (gemm_packed.h: column n0 starts n0·k in) from its first column.
    GemmEpilogue<T> sub;
    if (ep) {
      sub = *ep;
      if (sub.bias) sub.bias += n0;
      if (sub.packed_b) sub.packed_b += n0 * k;
    }
    gemm_detail::gemm_blocked(cfg, transA, transB, m1 - m0, n1 - n0, k, alpha, a, lda,
                              b, ldb, beta, C + m0 * ldc + n0, ldc, ep ? &sub : nullptr,
                              shared_a);
  };
  const index_t blocks = tm * tn;
  if (blocks == 1) {
    run_block(0);
  } else {
    std::atomic<index_t> next{0};
    parallel_for(std::min(nt, blocks), 1, [&](index_t, index_t) {
      for (index_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < blocks;)
        run_block(t);
    });
  }
}

}  // namespace

template <typename T>
void gemm(bool transA, bool transB, index_t m, index_t n, index_t k, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C,
          index_t ldc) {
  gemm_impl<T>(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
               nullptr);
}

template <typename T>
void gemm(bool transA, bool transB, index_t m, index_t n, index_t k, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C,
          index_t ldc, const GemmEpilogue<T>& epilogue) {
  require(epilogue.packed_b == nullptr || transB, "gemm: packed_b needs transB");
  const bool any = epilogue.bias != nullptr || epilogue.tile_fn != nullptr ||
                   epilogue.packed_b != nullptr;
  gemm_impl<T>(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
               any ? &epilogue : nullptr);
}

template <typename T>
void gemm_ref(bool transA, bool transB, index_t m, index_t n, index_t k,
              T alpha, const T* A, index_t lda, const T* B, index_t ldb,
              T beta, T* C, index_t ldc) {
  check_args(transA, transB, m, n, k, A, lda, B, ldb, C, ldc);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {  // BLAS: A and B not referenced
    scale_c(m, n, beta, C, ldc);
    return;
  }
  for (index_t i = 0; i < m; ++i) {
    for (index_t j = 0; j < n; ++j) {
      T s = T(0);
      for (index_t p = 0; p < k; ++p) {
        const T a = transA ? A[p * lda + i] : A[i * lda + p];
        const T b = transB ? B[j * ldb + p] : B[p * ldb + j];
        s += a * b;
      }
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * s : alpha * s + beta * c;
    }
  }
}

const char* gemm_kernel_name() { return active_config<float>().name; }

template <typename T>
const gemm_detail::KernelConfig<T>& gemm_detail::kernel_config() {
  return active_config<T>();
}
template const gemm_detail::KernelConfig<float>& gemm_detail::kernel_config<float>();
template const gemm_detail::KernelConfig<double>& gemm_detail::kernel_config<double>();

template void gemm<float>(bool, bool, index_t, index_t, index_t, float,
                          const float*, index_t, const float*, index_t, float,
                          float*, index_t);
template void gemm<double>(bool, bool, index_t, index_t, index_t, double,
                           const double*, index_t, const double*, index_t,
                           double, double*, index_t);
template void gemm<float>(bool, bool, index_t, index_t, index_t, float,
                          const float*, index_t, const float*, index_t, float,
                          float*, index_t, const GemmEpilogue<float>&);
template void gemm<double>(bool, bool, index_t, index_t, index_t, double,
                           const double*, index_t, const double*, index_t,
                           double, double*, index_t,
                           const GemmEpilogue<double>&);
template void gemm_ref<float>(bool, bool, index_t, index_t, index_t, float,
                              const float*, index_t, const float*, index_t,
                              float, float*, index_t);
template void gemm_ref<double>(bool, bool, index_t, index_t, index_t, double,
                               const double*, index_t, const double*, index_t,
                               double, double*, index_t);

}  // namespace fastmlp
