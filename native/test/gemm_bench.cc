// Single-process gemm timing harness (STYLE.md §13: validate, then time).
//   fastmlp_gemm_bench [threads=1] [n ...]      default n = 256 512 1024
// For each n, checks gemm against gemm_ref on a 97×83×101 product, then
// reports the best of several runs of an n×n×n sgemm and dgemm in GFLOP/s.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "gemm.h"
#include "threads.h"

using fastmlp::index_t;

namespace {

template <typename T>
bool validate() {
  const index_t m = 97, n = 83, k = 101;
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> A(m * k), B(k * n), C(m * n), R(m * n);
  for (auto& v : A) v = static_cast<T>(u(rng));
  for (auto& v : B) v = static_cast<T>(u(rng));
  fastmlp::gemm<T>(false, false, m, n, k, T(1), A.data(), k, B.data(), n,
                   T(0), C.data(), n);
  fastmlp::gemm_ref<T>(false, false, m, n, k, T(1), A.data(), k, B.data(), n,
                       T(0), R.data(), n);
  double err = 0;
  for (index_t i = 0; i < m * n; ++i)
    err = std::max(err, std::fabs(static_cast<double>(C[i] - R[i])));
  const double tol = sizeof(T) == 4 ? 1e-4 : 1e-12;
  if (err > tol) std::printf("validation FAILED: max error %g\n", err);
  return err <= tol;
}

template <typename T>
double gflops(index_t n, int reps) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> A(n * n), B(n * n), C(n * n);
  for (auto& v : A) v = static_cast<T>(u(rng));
  for (auto& v : B) v = static_cast<T>(u(rng));
  double best = 1e30;
  for (int r = 0; r < reps + 1; ++r) {  // first run warms the packing buffers
    const auto t0 = std::chrono::steady_clock::now();
    fastmlp::gemm<T>(false, false, n, n, n, T(1), A.data(), n, B.data(), n,
                     T(0), C.data(), n);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (r > 0) best = std::min(best, s);
  }
  return 2.0 * static_cast<double>(n) * n * n / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  std::vector<index_t> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {256, 512, 1024};
  fastmlp::set_num_threads(threads < 1 ? 1 : threads);
  if (!validate<float>() || !validate<double>()) return 1;
  std::printf("kernel %s, %d thread(s)\n", fastmlp::gemm_kernel_name(),
              fastmlp::num_threads());
  for (index_t n : sizes) {
    const int reps = n <= 512 ? 10 : 4;
    std::printf("n=%5lld  sgemm %7.2f GFLOP/s  dgemm %7.2f GFLOP/s\n",
                static_cast<long long>(n), gflops<float>(n, reps),
                gflops<double>(n, reps));
  }
  return 0;
}
