// op(A) packed once for all the blocks of a one-row-block thread grid
// (gemm_blocked.h, SharedA; gemm.cc runs it when every block holds all m
// rows of C).
//
// - The layout: usable only in the AResident order with m within one MC
//   block and A within the whole-A limit; its pieces cover every panel of
//   every k block exactly once.
// - gemm_blocked with the shared packing gives the result without it bit for
//   bit, whatever order the pieces were packed in, on every transpose,
//   ragged m and k, k past a KC block, through both AResident paths (one
//   column block, several); and the packing is really read: pieces packed
//   from another matrix A2 give A2's product, bit for bit.
// - gemm at 2 and 3 threads on such products equals gemm at 1 thread bit for
//   bit (the shared packing holds the values each block packed before).
//
// The running kernel is used with its own blocks when it runs the AResident
// order (AVX-512), and, whatever its order (AVX2, NEON and the portable one
// run BResident), with small AResident blocks, so the shared packing is
// checked with every micro-kernel's panel shapes.
// Run once per micro-kernel (CMakeLists.txt), as gemm_test.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "check.h"
#include "gemm.h"
#include "gemm_blocked.h"
#include "gemm_kernels.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

namespace {

// The running kernel in the AResident order with small blocks (KC 64, NC
// four micro-panels, MC at least 300 rows), so that every path of the order
// runs on small operands, whatever the kernel's own blocks.
template <typename T>
gemm_detail::KernelConfig<T> small_a_resident(gemm_detail::KernelConfig<T> cfg) {
  cfg.order = gemm_detail::LoopOrder::AResident;
  cfg.kc = 64;
  cfg.nc = 4 * cfg.nr;
  cfg.mc = std::max(cfg.mc, (300 + cfg.mr - 1) / cfg.mr * cfg.mr);
  return cfg;
}

template <typename T>
void test_layout() {
  using gemm_detail::LoopOrder;
  const gemm_detail::KernelConfig<T> cfg = small_a_resident(gemm_detail::kernel_config<T>());
  const gemm_detail::SharedA s = gemm_detail::shared_a_layout(cfg, 250, 1000);
  CHECK(s.usable);
  CHECK(s.mc_pad == (250 + cfg.mr - 1) / cfg.mr * cfg.mr);
  CHECK(s.kc >= 1 && s.kc <= cfg.kc);
  CHECK(s.values == static_cast<std::size_t>(s.mc_pad * 1000));
  CHECK(s.units >= (1000 + cfg.kc - 1) / cfg.kc);
  // Not usable: more rows than one MC block, the BResident order, an A past
  // the whole-A limit (4 Mi values), empty operands.
  CHECK(!gemm_detail::shared_a_layout(cfg, cfg.mc + 1, 100).usable);
  gemm_detail::KernelConfig<T> b_resident = cfg;
  b_resident.order = LoopOrder::BResident;
  CHECK(!gemm_detail::shared_a_layout(b_resident, 250, 1000).usable);
  const index_t rows = std::min<index_t>(cfg.mc, 1024) / cfg.mr * cfg.mr;
  CHECK(gemm_detail::shared_a_layout(cfg, rows, (index_t(1) << 22) / rows).usable);
  CHECK(!gemm_detail::shared_a_layout(cfg, rows, (index_t(1) << 22) / rows + 1).usable);
  CHECK(!gemm_detail::shared_a_layout(cfg, 0, 100).usable);
  CHECK(!gemm_detail::shared_a_layout(cfg, 10, 0).usable);
}

// All pieces of op(A) packed, in a scrambled order, into a fresh buffer
// filled with NaN first (a piece that misses a value leaves a NaN that
// reaches C).
template <typename T>
std::vector<T> pack_all(const gemm_detail::KernelConfig<T>& cfg, const gemm_detail::SharedA& s,
                        bool ta, const std::vector<T>& A, index_t lda, index_t m, index_t k) {
  std::vector<T> packed(s.values, std::numeric_limits<T>::quiet_NaN());
  std::vector<index_t> units(static_cast<std::size_t>(s.units));
  std::iota(units.begin(), units.end(), index_t(0));
  std::shuffle(units.begin(), units.end(), std::mt19937(7));
  for (index_t u : units) gemm_detail::pack_shared_a(cfg, s, ta, A.data(), lda, m, k, u, packed.data());
  return packed;
}

// gemm_blocked on one block, with and without the shared packing.
template <typename T>
void blocked_case(const gemm_detail::KernelConfig<T>& cfg, bool ta, bool tb, index_t m, index_t n,
                  index_t k, T beta) {
  const gemm_detail::SharedA s = gemm_detail::shared_a_layout(cfg, m, k);
  CHECK(s.usable);
  if (!s.usable) return;
  const index_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
  const auto A = seeded_vec<T>(static_cast<std::size_t>((ta ? k : m) * lda), 11);
  const auto A2 = seeded_vec<T>(A.size(), 12);
  const auto B = seeded_vec<T>(static_cast<std::size_t>((tb ? n : k) * ldb), 13);
  const auto C0 = seeded_vec<T>(static_cast<std::size_t>(m * ldc), 14);
  // C after gemm_blocked with `a` passed and A packed by the block itself
  // (packed null) or read from `packed`.
  const auto product = [&](const std::vector<T>& a, const T* packed) {
    std::vector<T> c = C0;
    gemm_detail::gemm_blocked<T>(cfg, ta, tb, m, n, k, T(1), a.data(), lda, B.data(), ldb, beta,
                                 c.data(), ldc, nullptr, packed);
    return c;
  };
  const std::vector<T> own = product(A, nullptr), own2 = product(A2, nullptr);
  CHECK(same_bits(own, product(A, pack_all(cfg, s, ta, A, lda, m, k).data())));
  // Packed from A2, read with A passed: the product is A2's.
  CHECK(same_bits(own2, product(A, pack_all(cfg, s, ta, A2, lda, m, k).data())));
  CHECK(!same_bits(own, own2));
}

template <typename T>
void test_blocked(const gemm_detail::KernelConfig<T>& cfg) {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    blocked_case<T>(cfg, ta, tb, 1, 40, 7, T(0));
    blocked_case<T>(cfg, ta, tb, 13, 100, cfg.kc, T(0));
    blocked_case<T>(cfg, ta, tb, 50, 70, cfg.kc + 1, T(0.5));
    blocked_case<T>(cfg, ta, tb, 250, 100, cfg.kc + 100, T(0));
    // More columns than one NC block (which grows to about 1.5·NC when the
    // last k block is short) and several k blocks: the whole-A path.
    blocked_case<T>(cfg, ta, tb, 13, 4 * cfg.nc + 5, 2 * cfg.kc + 9, T(1));
  }
}

// gemm through its thread grid: one row of blocks, so A is shared. C is over
// 1 MiB, so that one thread takes the blocked path too (the small path, one
// thread only, sums in another order); the one-thread result is gemm_test's
// to check against gemm_ref, here it is the reference.
template <typename T>
void gemm_threads_case(bool ta, bool tb, index_t m, index_t n, index_t k) {
  const auto A = seeded_vec<T>(static_cast<std::size_t>(m * k), 21);
  const auto B = seeded_vec<T>(static_cast<std::size_t>(k * n), 22);
  const index_t lda = ta ? m : k, ldb = tb ? k : n;
  std::vector<T> one(static_cast<std::size_t>(m * n));
  set_num_threads(1);
  gemm<T>(ta, tb, m, n, k, T(1), A.data(), lda, B.data(), ldb, T(0), one.data(), n);
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    std::vector<T> many(one.size());
    gemm<T>(ta, tb, m, n, k, T(1), A.data(), lda, B.data(), ldb, T(0), many.data(), n);
      CHECK(same_bits(one, many));
  }
  set_num_threads(1);
}

template <typename T>
void test_gemm_threads() {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    gemm_threads_case<T>(ta, tb, 256, 1040, 400);  // a batch of 256, two k blocks of AVX-512's
    gemm_threads_case<T>(ta, tb, 250, 1100, 70);
  }
}

template <typename T>
void run_all() {
  test_layout<T>();
  const gemm_detail::KernelConfig<T>& running = gemm_detail::kernel_config<T>();
  if (running.order == gemm_detail::LoopOrder::AResident) test_blocked<T>(running);
  test_blocked<T>(small_a_resident(running));
  test_gemm_threads<T>();
}

}  // namespace

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  run_all<float>();
  run_all<double>();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
