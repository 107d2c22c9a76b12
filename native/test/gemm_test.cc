// gemm against gemm_ref on the sizes where blocked code goes wrong: 1,
// primes, one below and above every kernel's MR and NR, k = 1, k just past a
// KC block, empty products; every transpose combination, padded leading
// dimensions, both dtypes, the fused epilogue and thread counts 1–3.
//
// The micro-kernel is chosen once per process, so ctest runs this program
// once per kernel with FASTMLP_GEMM_KERNEL=scalar|avx2|avx512 (CMakeLists.txt);
// the first check makes sure the override took effect where the CPU allows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "gemm.h"
#include "gemm_small.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

namespace {

// What the override should give on this CPU: the requested kernel when the
// CPU has it, else the next narrower one.
std::string expected_kernel(const char* env) {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f");
  std::string want = env ? env : "avx512";
  if (want != "scalar" && want != "avx2") want = "avx512";
  if (want == "avx512" && !avx512) want = "avx2";
  if (want == "avx2" && !avx2) want = "scalar";
  return want;
#elif defined(__aarch64__) || defined(_M_ARM64)
  return env && std::strcmp(env, "scalar") == 0 ? "scalar" : "neon";
#else
  (void)env;
  return "scalar";
#endif
}

template <typename T>
double tolerance(index_t k) {
  return (sizeof(T) == 4 ? 4e-7 : 1e-15) * static_cast<double>(k + 4);
}

// Operands with leading dimensions `pad` wider than needed. Returns the
// largest |gemm - gemm_ref| over C, or +inf when gemm wrote outside C's
// m×n window (the padding must come back untouched).
template <typename T>
double gemm_error(bool ta, bool tb, index_t m, index_t n, index_t k, T alpha,
                  T beta, index_t pad, const GemmEpilogue<T>* ep = nullptr) {
  const index_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const index_t a_rows = ta ? k : m, b_rows = tb ? n : k;
  const auto A = seeded_vec<T>(static_cast<std::size_t>(a_rows * std::max<index_t>(lda, 1)), 11);
  const auto B = seeded_vec<T>(static_cast<std::size_t>(b_rows * std::max<index_t>(ldb, 1)), 12);
  auto C = seeded_vec<T>(static_cast<std::size_t>(m * std::max<index_t>(ldc, 1)), 13);
  if (beta == T(0))  // BLAS: C is not read, so NaN there must not leak out
    for (index_t i = 0; i < m * n; i += 3) C[static_cast<std::size_t>(i / n * ldc + i % n)] =
        std::numeric_limits<T>::quiet_NaN();
  auto R = C;
  const index_t lda1 = std::max<index_t>(lda, 1), ldb1 = std::max<index_t>(ldb, 1),
                ldc1 = std::max<index_t>(ldc, 1);
  if (ep)
    gemm<T>(ta, tb, m, n, k, alpha, A.data(), lda1, B.data(), ldb1, beta, C.data(), ldc1, *ep);
  else
    gemm<T>(ta, tb, m, n, k, alpha, A.data(), lda1, B.data(), ldb1, beta, C.data(), ldc1);
  gemm_ref<T>(ta, tb, m, n, k, alpha, A.data(), lda1, B.data(), ldb1, beta, R.data(), ldc1);
  double err = 0;
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < ldc; ++j) {
      const T got = C[static_cast<std::size_t>(i * ldc + j)];
      T want = R[static_cast<std::size_t>(i * ldc + j)];
      if (j >= n) {  // padding: must be bit-for-bit what it was
        if (std::memcmp(&got, &want, sizeof(T)) != 0) return INFINITY;
        continue;
      }
      if (ep && ep->bias) want += ep->bias[j];
      if (ep && ep->tile_fn) ep->tile_fn(&want, 1, 1, 1, ep->ctx);
      const double e = std::fabs(static_cast<double>(got) - static_cast<double>(want));
      if (!(e <= err)) err = std::isnan(e) ? INFINITY : e;
    }
  return err;
}

template <typename T>
void check_case(bool ta, bool tb, index_t m, index_t n, index_t k, T alpha,
                T beta, index_t pad, const GemmEpilogue<T>* ep = nullptr) {
  const double err = gemm_error<T>(ta, tb, m, n, k, alpha, beta, pad, ep);
  const bool ok = err <= tolerance<T>(k);
  CHECK(ok);
  if (!ok)
    std::fprintf(stderr, "  %s %c%c m=%lld n=%lld k=%lld alpha=%g beta=%g pad=%lld%s: error %g\n",
                 sizeof(T) == 4 ? "sgemm" : "dgemm", ta ? 'T' : 'N', tb ? 'T' : 'N',
                 static_cast<long long>(m), static_cast<long long>(n),
                 static_cast<long long>(k), static_cast<double>(alpha),
                 static_cast<double>(beta), static_cast<long long>(pad),
                 ep ? " +epilogue" : "", err);
}

// Sizes around every kernel's MR (6, 12) and NR (8, 16, 32), primes, 1.
const index_t kEdges[] = {1, 2, 5, 6, 7, 11, 12, 13, 15, 16, 17, 31, 32, 33, 47, 97};

template <typename T>
void test_awkward_sizes() {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    for (index_t m : kEdges)
      for (index_t n : kEdges) {
        check_case<T>(ta, tb, m, n, 1, T(1), T(0), 0);          // k = 1
        check_case<T>(ta, tb, m, n, 37, T(0.5), T(-1.5), 3);    // general alpha/beta
        // Past a KC block (384 at most), with beta = 1 as accumulating layers use.
        if (m * n >= 64) check_case<T>(ta, tb, m, n, 389, T(1), T(1), 1);
      }
    // Large k makes even 1×1 and 2×3 products big enough for the packed path.
    for (index_t m : {1, 2, 13})
      for (index_t n : {1, 3, 33}) check_case<T>(ta, tb, m, n, 4099, T(1), T(0), 0);
    // Empty products and k = 0 (C = beta·C; A and B not read).
    check_case<T>(ta, tb, 0, 7, 5, T(1), T(0), 0);
    check_case<T>(ta, tb, 7, 0, 5, T(1), T(0), 0);
    check_case<T>(ta, tb, 5, 7, 0, T(1), T(2), 1);
    check_case<T>(ta, tb, 9, 11, 13, T(0), T(0.5), 0);  // alpha = 0
  }
}

// An element-wise activation as the forward pass fuses it (ReLU).
template <typename T>
void relu_tile(T* c, index_t ldc, index_t rows, index_t cols, const void*) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) c[i * ldc + j] = std::max(c[i * ldc + j], T(0));
}

template <typename T>
void test_epilogue() {
  const auto bias = seeded_vec<T>(1000, 21);
  GemmEpilogue<T> only_bias;
  only_bias.bias = bias.data();
  GemmEpilogue<T> bias_relu = only_bias;
  bias_relu.tile_fn = &relu_tile<T>;
  GemmEpilogue<T> only_relu;
  only_relu.tile_fn = &relu_tile<T>;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      for (const GemmEpilogue<T>* ep : {&only_bias, &bias_relu, &only_relu}) {
        check_case<T>(ta, tb, 3, 5, 4, T(1), T(0), 0, ep);          // unpacked path
        check_case<T>(ta, tb, 5, 7, 0, T(1), T(0.5), 0, ep);        // k = 0
        check_case<T>(ta, tb, 130, 97, 200, T(1), T(0), 2, ep);     // edge tiles
        check_case<T>(ta, tb, 64, 300, 800, T(0.5), T(1), 0, ep);   // several k blocks
        // One row block, several k and column blocks (A packed whole, C
        // accumulated block column by block column; k > 2048 keeps even the
        // transposed-B cases off the small path). One thread only: two split
        // the columns below the size where this order applies. With the full
        // epilogue only: the reference product is the slow part under ASan.
        if (threads == 1 && ep == &bias_relu)
          check_case<T>(ta, tb, 13, 1000, 2100, T(0.5), T(1), 1, ep);
        check_case<T>(ta, tb, 257, 513, 65, T(1), T(-0.5), 0, ep);  // threads split C
      }
    }
  }
}

// The unpacked small-product path (gemm_small.h) on both sides of its
// thresholds. Each shape is first checked to take the path it is meant to
// (gemm_detail::use_small_path), so a changed threshold cannot silently turn
// these into tests of the packed path only.
template <typename T>
void small_case(bool want_small, bool ta, bool tb, index_t m, index_t n,
                index_t k, index_t pad = 0, int threads = 1) {
  set_num_threads(threads);
  const index_t ldb = (tb ? k : n) + pad;
  const bool small = gemm_detail::use_small_path<T>(tb, m, n, k, ldb);
  CHECK(small == want_small);
  if (small != want_small)
    std::fprintf(stderr, "  %c%c %lldx%lldx%lld pad %lld, %d threads: small path %d\n",
                 ta ? 'T' : 'N', tb ? 'T' : 'N', static_cast<long long>(m),
                 static_cast<long long>(n), static_cast<long long>(k),
                 static_cast<long long>(pad), threads, small);
  check_case<T>(ta, tb, m, n, k, T(1), T(0), pad);
  check_case<T>(ta, tb, m, n, k, T(-0.5), T(1), pad);
  set_num_threads(1);
}

template <typename T>
void test_small_path() {
  const auto bias = seeded_vec<T>(600, 41);
  GemmEpilogue<T> bias_relu;
  bias_relu.bias = bias.data();
  bias_relu.tile_fn = &relu_tile<T>;
  // Ragged rows (1 … MR+1 of every kernel) and columns (partial vectors of
  // 2, 4, 8 and 16 lanes, and strips of 1–4 vectors), every transpose
  // combination, padded leading dimensions (sub-matrix views), beta 0 (C
  // NaN-filled), 1 and another value, with and without the fused epilogue.
  const index_t rows[] = {1, 3, 6, 7, 8, 9, 12, 13, 25};
  const index_t cols[] = {1, 2, 3, 4, 5, 8, 12, 15, 16, 17, 24, 31, 33, 47, 48, 64, 65};
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    for (index_t m : rows)
      for (index_t n : cols)
        for (index_t k : {1, 2, 19}) {
          CHECK(gemm_detail::use_small_path<T>(tb, m, n, k, (tb ? k : n) + 5));
          check_case<T>(ta, tb, m, n, k, T(1), T(0), 5);
          check_case<T>(ta, tb, m, n, k, T(0.75), T(1), 0);
          check_case<T>(ta, tb, m, n, k, T(-1.25), T(0.5), 2, &bias_relu);
        }
    // Both sides of each threshold, one thread: C within 1 MiB; op(B) = B
    // read in place up to 192³ and rows of B at most 512 apart; op(B) = Bᵀ
    // while A is within 1 MiB; never past k = 2048.
    small_case<T>(true, ta, tb, 192, 192, 192);
    small_case<T>(tb, ta, tb, 193, 192, 192);
    small_case<T>(true, ta, tb, 8, 500, 300, 12);  // ldb = 512 (NN) / 312 (NT)
    small_case<T>(tb, ta, tb, 8, 500, 300, 13);    // ldb = 513 (NN) / 313 (NT)
    const index_t m_fit = (index_t(1) << 20) / static_cast<index_t>(sizeof(T)) / 2048;
    small_case<T>(tb, ta, tb, m_fit, 60, 2048);    // A (m×k) exactly 1 MiB
    small_case<T>(false, ta, tb, m_fit + 1, 60, 2048);
    const index_t m_c = (index_t(1) << 20) / static_cast<index_t>(sizeof(T)) / 256;
    small_case<T>(true, ta, tb, m_c, 256, 8);      // C (m×n) exactly 1 MiB
    small_case<T>(false, ta, tb, m_c + 1, 256, 8);
    small_case<T>(false, ta, tb, 3, 5, 2049);
    small_case<T>(true, ta, tb, 3, 5, 2048);
    // Two threads: only products the pool would not speed up.
    small_case<T>(true, ta, tb, 96, 96, 96, 0, 2);
    small_case<T>(false, ta, tb, 97, 96, 96, 0, 2);
    // The epilogue on the larger small shapes.
    check_case<T>(ta, tb, 100, 130, 150, T(1), T(0), 3, &bias_relu);
    check_case<T>(ta, tb, 37, 530, 61, T(1), T(-1), 0, &bias_relu);
  }
  // Bit-identical from run to run (no state carried between calls: the
  // scratch strip is rewritten before it is read).
  const index_t m = 45, n = 77, k = 130;
  const auto A = seeded_vec<T>(static_cast<std::size_t>(m * k), 51);
  const auto B = seeded_vec<T>(static_cast<std::size_t>(k * n), 52);
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    std::vector<T> C1(static_cast<std::size_t>(m * n)), C2(C1.size());
    gemm<T>(ta, tb, m, n, k, T(1), A.data(), ta ? m : k, B.data(), tb ? k : n, T(0), C1.data(), n);
    gemm<T>(ta, tb, 7, 9, k, T(1), B.data(), ta ? 7 : k, A.data(), tb ? k : 9, T(0), C2.data(), 9);
    gemm<T>(ta, tb, m, n, k, T(1), A.data(), ta ? m : k, B.data(), tb ? k : n, T(0), C2.data(), n);
    CHECK(std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(T)) == 0);
  }
}

// The few-rows dot path (gemm_small.h use_dot_path, gemm_dot_kernel.inc):
// taken only for A·Bᵀ with at most kDotPathMaxRows rows and only when the
// caller allows another summation order; through gemm() on the kernel this
// process runs, and on the portable kernel's table directly. k around the
// vector widths (the scalar tail), n around the kernels' NJ, rows around the
// 4-row blocks, padded operands, alpha/beta, bias and tile_fn.
template <typename T>
void test_dot_path() {
  gemm_detail::KernelConfig<T> portable;
  gemm_detail::scalar_config(&portable);
  GemmEpilogue<T> plain;
  GemmEpilogue<T> any = plain;
  any.any_sum_order = true;
  for (index_t m = 1; m <= gemm_detail::kDotPathMaxRows + 1; ++m) {
    const bool want = m <= gemm_detail::kDotPathMaxRows;
    CHECK(gemm_detail::use_dot_path<T>(portable, false, true, m, &any) == want);
    CHECK(!gemm_detail::use_dot_path<T>(portable, false, true, m, &plain));
    CHECK(!gemm_detail::use_dot_path<T>(portable, true, true, m, &any));
    CHECK(!gemm_detail::use_dot_path<T>(portable, false, false, m, &any));
  }
  const auto bias = seeded_vec<T>(2048, 61);  // n up to 2048 below
  GemmEpilogue<T> bias_relu = any;
  bias_relu.bias = bias.data();
  bias_relu.tile_fn = &relu_tile<T>;
  for (index_t m : {1, 2, 3, 4, 5, 8, 9})
    for (index_t n : {1, 3, 4, 5, 17})
      for (index_t k : {1, 7, 15, 16, 17, 33, 100}) {
        check_case<T>(false, true, m, n, k, T(1), T(0), 0, &any);
        check_case<T>(false, true, m, n, k, T(0.5), T(-1), 3, &bias_relu);
      }
  check_case<T>(false, true, 1, 2048, 2100, T(1), T(0), 0, &bias_relu);  // k past the small path's limit
  // The portable table, called as gemm does (whatever kernel this process runs).
  const index_t m = 7, n = 13, k = 37, ld = k + 2;
  const auto A = seeded_vec<T>(static_cast<std::size_t>(m * ld), 62);
  const auto B = seeded_vec<T>(static_cast<std::size_t>(n * ld), 63);
  std::vector<T> C(static_cast<std::size_t>(m * n)), R(C.size());
  gemm_detail::gemm_dot_rows<T>(portable, m, n, k, T(1), A.data(), ld, B.data(), ld, T(0), C.data(), n, plain);
  gemm_ref<T>(false, true, m, n, k, T(1), A.data(), ld, B.data(), ld, T(0), R.data(), n);
  double err = 0;
  for (std::size_t i = 0; i < R.size(); ++i) err = std::max(err, std::fabs(static_cast<double>(C[i] - R[i])));
  CHECK(err <= tolerance<T>(k));
}

// Results depend on the thread count only through the block split, and for a
// given count are identical from run to run (no racing reductions).
template <typename T>
void test_threads_deterministic() {
  const index_t m = 301, n = 523, k = 700;
  const auto A = seeded_vec<T>(static_cast<std::size_t>(m * k), 31);
  const auto B = seeded_vec<T>(static_cast<std::size_t>(k * n), 32);
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<T> C1(static_cast<std::size_t>(m * n)), C2(C1.size()), R(C1.size());
    gemm<T>(false, true, m, n, k, T(1), A.data(), k, B.data(), k, T(0), C1.data(), n);
    gemm<T>(false, true, m, n, k, T(1), A.data(), k, B.data(), k, T(0), C2.data(), n);
    CHECK(std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(T)) == 0);
    gemm_ref<T>(false, true, m, n, k, T(1), A.data(), k, B.data(), k, T(0), R.data(), n);
    double err = 0;
    for (std::size_t i = 0; i < R.size(); ++i)
      err = std::max(err, std::fabs(static_cast<double>(C1[i] - R[i])));
    CHECK(err <= tolerance<T>(k));
  }
  set_num_threads(1);
}

}  // namespace

int main() {
  const char* env = std::getenv("FASTMLP_GEMM_KERNEL");
  std::printf("gemm kernel: %s (requested %s)\n", gemm_kernel_name(), env ? env : "default");
  CHECK(expected_kernel(env) == gemm_kernel_name());
  set_num_threads(1);
  test_awkward_sizes<float>();
  test_awkward_sizes<double>();
  test_epilogue<float>();
  test_epilogue<double>();
  test_small_path<float>();
  test_small_path<double>();
  test_dot_path<float>();
  test_dot_path<double>();
  test_threads_deterministic<float>();
  test_threads_deterministic<double>();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
