// Single-process gemm timing harness (STYLE.md §13: validate, then time).
//   fastmlp_gemm_bench [threads=1] [shape ...]   default 256 512 1024
// A shape is n (an n×n×n product, NN) or MxNxK with an optional transpose
// suffix, e.g. 128x512x784NT (the forward X·Wᵀ of a 784→512 layer at batch
// 128) or 512x784x128TN (its weight gradient). Checks gemm against gemm_ref
// on a 97×83×101 product, then reports the best of several runs of each
// shape as sgemm and dgemm GFLOP/s. FASTMLP_GEMM_KERNEL picks the kernel.
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

struct Shape {
  index_t m, n, k;
  bool ta, tb;
};

template <typename T>
double gflops(const Shape& s, int reps) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> A(s.m * s.k), B(s.k * s.n), C(s.m * s.n);
  for (auto& v : A) v = static_cast<T>(u(rng));
  for (auto& v : B) v = static_cast<T>(u(rng));
  const index_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
  double best = 1e30;
  for (int r = 0; r < reps + 1; ++r) {  // first run warms the packing buffers
    const auto t0 = std::chrono::steady_clock::now();
    fastmlp::gemm<T>(s.ta, s.tb, s.m, s.n, s.k, T(1), A.data(), lda, B.data(),
                     ldb, T(0), C.data(), s.n);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (r > 0) best = std::min(best, s);
  }
  return 2.0 * static_cast<double>(s.m) * s.n * s.k / best / 1e9;
}

bool parse_shape(const char* arg, Shape* s) {
  long long m = 0, n = 0, k = 0;
  char t[3] = "NN";
  int used = 0;
  if (std::sscanf(arg, "%lldx%lldx%lld%n", &m, &n, &k, &used) == 3) {
    if (arg[used] != '\0' && std::sscanf(arg + used, "%2[NT]", t) != 1) return false;
  } else if (std::sscanf(arg, "%lld", &m) == 1) {
    n = k = m;
  } else {
    return false;
  }
  *s = {m, n, k, t[0] == 'T', t[1] == 'T'};
  return m > 0 && n > 0 && k > 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  std::vector<Shape> shapes;
  for (int i = 2; i < argc; ++i) {
    Shape s;
    if (!parse_shape(argv[i], &s)) {
      std::fprintf(stderr, "bad shape '%s' (want n or MxNxK[NN|NT|TN|TT])\n", argv[i]);
      return 2;
    }
    shapes.push_back(s);
  }
  if (shapes.empty())
    for (index_t n : {256, 512, 1024}) shapes.push_back({n, n, n, false, false});
  fastmlp::set_num_threads(threads < 1 ? 1 : threads);
  if (!validate<float>() || !validate<double>()) return 1;
  std::printf("kernel %s, %d thread(s)\n", fastmlp::gemm_kernel_name(),
              fastmlp::num_threads());
  for (const Shape& s : shapes) {
    const double work = static_cast<double>(s.m) * s.n * s.k;
    const int reps = work <= 512.0 * 512 * 512 ? 10 : 4;
    std::printf("%5lldx%5lldx%5lld %c%c  sgemm %7.2f GFLOP/s  dgemm %7.2f GFLOP/s\n",
                static_cast<long long>(s.m), static_cast<long long>(s.n),
                static_cast<long long>(s.k), s.ta ? 'T' : 'N', s.tb ? 'T' : 'N',
                gflops<float>(s, reps), gflops<double>(s, reps));
  }
  return 0;
}
