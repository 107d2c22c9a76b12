// Self-contained tests of the fastmlp C++ core (no framework: CHECK macros
// from check.h, nonzero exit status on any failure). References, as STYLE.md
// §12: a naive implementation (gemm_ref), finite differences, and worked
// numbers from SPEC.md §7 and hand computations. This file holds the
// program's main, which runs every part in a fixed order (the parts share
// check.h's seeded generator), and the tests of the thread pool and of gemm
// against gemm_ref; the other parts are one file each: activations_test.cc
// (activations, vec_math.h), losses_test.cc (every loss), optim_test.cc
// (optimizers), network_test.cc (the network) and layers_test.cc (the
// regularisation and normalisation layers).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "gemm.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

// ---------------------------------------------------------------------------
// threads

static void test_threads() {
  CHECK_THROWS(set_num_threads(0), std::invalid_argument);
  CHECK_THROWS(set_num_threads(-3), std::invalid_argument);
  for (int t : {1, 2, 3}) {
    set_num_threads(t);
    CHECK(num_threads() == t);
    std::vector<std::atomic<int>> hits(1000);
    parallel_for(1000, 7, [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
    });
    bool once = true;
    for (auto& h : hits) once = once && h.load() == 1;
    CHECK(once);
    CHECK_THROWS(parallel_for(100, 1,
                              [](index_t b, index_t) {
                                if (b == 0) throw std::runtime_error("x");
                              }),
                 std::runtime_error);
    // Nested loops run serially inside; two callers at once both finish.
    std::atomic<long> sum{0};
    auto work = [&] {
      for (int r = 0; r < 50; ++r)
        parallel_for(64, 1, [&](index_t b, index_t e) {
          parallel_for(e - b, 1, [&](index_t bb, index_t ee) { sum += ee - bb; });
        });
    };
    std::thread other(work);
    work();
    other.join();
    CHECK(sum.load() == 2 * 50 * 64);
  }
}

// ---------------------------------------------------------------------------
// gemm against gemm_ref

template <typename T>
static void gemm_case(bool ta, bool tb, index_t m, index_t n, index_t k,
                      T alpha, T beta, index_t pad, bool nan_c) {
  const index_t lda = std::max<index_t>(1, (ta ? m : k) + pad),
                ldb = std::max<index_t>(1, (tb ? k : n) + pad),
                ldc = std::max<index_t>(1, n + pad);
  const index_t arows = ta ? k : m, brows = tb ? n : k;
  auto A = random_vec<T>(static_cast<std::size_t>(std::max<index_t>(1, arows * lda)));
  auto B = random_vec<T>(static_cast<std::size_t>(std::max<index_t>(1, brows * ldb)));
  auto C = random_vec<T>(static_cast<std::size_t>(std::max<index_t>(1, m * ldc)));
  if (nan_c) std::fill(C.begin(), C.end(), std::numeric_limits<T>::quiet_NaN());
  // Padding columns of C carry a sentinel that must survive.
  for (index_t i = 0; i < m; ++i)
    for (index_t j = n; j < ldc; ++j) C[i * ldc + j] = T(777);
  auto R = C;
  gemm<T>(ta, tb, m, n, k, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  gemm_ref<T>(ta, tb, m, n, k, alpha, A.data(), lda, B.data(), ldb, beta, R.data(), ldc);
  const double eps = std::numeric_limits<T>::epsilon();
  const double tol = 4 * eps * static_cast<double>(k + 2) *
                     (1 + std::fabs(double(alpha)) + std::fabs(double(beta)));
  double worst = 0;
  bool sentinel = true, finite = true;
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < ldc; ++j) {
      const T c = C[i * ldc + j], r = R[i * ldc + j];
      if (j >= n) { sentinel = sentinel && c == T(777); continue; }
      finite = finite && std::isfinite(c);
      worst = std::max(worst, std::fabs(double(c) - double(r)));
    }
  ++g_checks;
  if (!(worst <= tol && sentinel && finite)) {
    ++g_failures;
    std::fprintf(stderr, "gemm<%s> ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g"
                 " pad=%lld nan=%d: err %g (tol %g) sentinel %d finite %d\n",
                 sizeof(T) == 4 ? "float" : "double", ta, tb, (long long)m,
                 (long long)n, (long long)k, double(alpha), double(beta),
                 (long long)pad, nan_c, worst, tol, sentinel, finite);
  }
}

template <typename T>
static void test_gemm() {
  std::uniform_int_distribution<int> dim(1, 70), padd(0, 5), pick(0, 4);
  const T alphas[] = {T(1), T(0.5), T(-1.5), T(2), T(1)};
  const T betas[] = {T(0), T(1), T(2), T(-0.5), T(0)};
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int c = 0; c < 4; ++c) {
      const bool ta = c & 1, tb = c & 2;
      for (int it = 0; it < 120; ++it) {
        const int s = pick(rng);
        gemm_case<T>(ta, tb, dim(rng), dim(rng), dim(rng), alphas[s], betas[s],
                     padd(rng), betas[s] == T(0) && it % 2 == 0);
      }
      for (index_t d : {1, 2, 3, 5, 6, 7, 8, 15, 16, 17, 33, 64, 70})
        gemm_case<T>(ta, tb, d, d + 1, d + 2, T(1), T(0), 0, true);
      // Large enough for the blocked path's KC/MC edges and for threads.
      gemm_case<T>(ta, tb, 300, 290, 310, T(1), T(0), 3, true);
      gemm_case<T>(ta, tb, 257, 301, 263, T(0.5), T(2), 0, false);
      gemm_case<T>(ta, tb, 300, 9, 280, T(1), T(1), 1, false);   // skinny n
      gemm_case<T>(ta, tb, 11, 300, 290, T(-1), T(0), 0, true);  // skinny m
      // Crosses every kernel's MC (scalar 120, avx2 168), KC (256/384) and
      // AVX-512's L2 block of B (NC 480 floats, 240 doubles).
      gemm_case<T>(ta, tb, 181, 500, 400, T(0.5), T(-2), 2, false);
      // Degenerate sizes and alpha = 0 (A, B not referenced: C = beta·C).
      gemm_case<T>(ta, tb, 5, 7, 0, T(1), T(2), 1, false);
      gemm_case<T>(ta, tb, 5, 7, 0, T(1), T(0), 1, true);
      gemm_case<T>(ta, tb, 9, 11, 13, T(0), T(0.5), 0, false);
      gemm_case<T>(ta, tb, 0, 7, 5, T(1), T(0), 0, false);
      gemm_case<T>(ta, tb, 7, 0, 5, T(1), T(0), 0, false);
    }
  }
  set_num_threads(2);
  T dummy = 0;
  CHECK_THROWS(gemm<T>(false, false, -1, 2, 2, T(1), &dummy, 2, &dummy, 2, T(0), &dummy, 2),
               std::invalid_argument);
  CHECK_THROWS(gemm<T>(false, false, 2, 2, 3, T(1), &dummy, 2, &dummy, 2, T(0), &dummy, 2),
               std::invalid_argument);  // lda < k
  // CTest runs this program once per kernel with FASTMLP_GEMM_KERNEL set
  // (CMakeLists.txt); a kernel the CPU lacks falls back to a narrower one.
  const std::string name = gemm_kernel_name();
  CHECK(name == "avx512" || name == "avx2" || name == "neon" || name == "scalar");
  if (const char* want = std::getenv("FASTMLP_GEMM_KERNEL")) {
    const std::string w = want;
    if (w == "scalar") CHECK(name == "scalar");
    if (w == "avx2") CHECK(name == "avx2" || name == "scalar");
    if (w == "avx512") CHECK(name != "neon");
  }
}

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  test_threads();
  test_gemm<float>();
  test_gemm<double>();
  test_activations();
  test_vec_math();
  test_cross_entropy_mse();
  test_optim();
  test_network();
  test_loss_kinds();
  test_layers();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
