// Single-process gemm timing harness (STYLE.md §13: validate, then time).
//   fastmlp_gemm_bench [threads=1] [shape ...]   default 256 512 1024
// A shape is n (an n×n×n product, NN) or MxNxK with an optional transpose
// suffix, e.g. 128x512x784NT (the forward X·Wᵀ of a 784→512 layer at batch
// 128) or 512x784x128TN (its weight gradient).
//
// First the active kernel is checked against gemm_ref on every transpose
// combination and on awkward sizes (a fast wrong kernel must not produce a
// figure). Then each shape is timed as sgemm and dgemm. When an OpenBLAS
// shared library can be opened at run time (dlopen: never a link-time
// dependency; FASTMLP_BLAS_LIB names another path), its sgemm is timed in the
// same process, interleaved round by round with ours, so that a noisy machine
// (other builds on the same cores) slows both alike; each figure is the best
// round. FASTMLP_GEMM_KERNEL picks our kernel, as in the library.
#include <dlfcn.h>

#include <algorithm>
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
bool validate_one(bool ta, bool tb, index_t m, index_t n, index_t k) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 7 + k));
  std::uniform_real_distribution<double> u(-1, 1);
  const index_t lda = ta ? m : k, ldb = tb ? k : n;
  std::vector<T> A(std::max<index_t>(1, m * k)), B(std::max<index_t>(1, k * n)),
      C(std::max<index_t>(1, m * n)), R;
  for (auto& v : A) v = static_cast<T>(u(rng));
  for (auto& v : B) v = static_cast<T>(u(rng));
  for (auto& v : C) v = static_cast<T>(u(rng));
  R = C;
  fastmlp::gemm<T>(ta, tb, m, n, k, T(0.5), A.data(), std::max<index_t>(1, lda),
                   B.data(), std::max<index_t>(1, ldb), T(-1), C.data(),
                   std::max<index_t>(1, n));
  fastmlp::gemm_ref<T>(ta, tb, m, n, k, T(0.5), A.data(),
                       std::max<index_t>(1, lda), B.data(),
                       std::max<index_t>(1, ldb), T(-1), R.data(),
                       std::max<index_t>(1, n));
  double err = 0;
  for (index_t i = 0; i < m * n; ++i)
    err = std::max(err, std::fabs(static_cast<double>(C[i] - R[i])));
  const double tol = (sizeof(T) == 4 ? 2e-6 : 1e-14) * (k + 2);
  if (!(err <= tol))
    std::printf("validation FAILED: %s %c%c %lldx%lldx%lld max error %g\n",
                sizeof(T) == 4 ? "sgemm" : "dgemm", ta ? 'T' : 'N',
                tb ? 'T' : 'N', static_cast<long long>(m),
                static_cast<long long>(n), static_cast<long long>(k), err);
  return err <= tol;
}

template <typename T>
bool validate() {
  const index_t sizes[][3] = {{97, 83, 101}, {1, 1, 1},   {13, 33, 1},
                              {11, 31, 7},   {25, 65, 300}, {200, 47, 129},
                              {0, 5, 5},     {5, 5, 0}};
  bool ok = true;
  for (int t = 0; t < 4; ++t)
    for (const auto& s : sizes)
      ok = validate_one<T>(t & 1, t & 2, s[0], s[1], s[2]) && ok;
  return ok;
}

struct Shape {
  index_t m, n, k;
  bool ta, tb;
};

// OpenBLAS's cblas_sgemm and thread setter, opened at run time.
using CblasSgemm = void (*)(int order, int ta, int tb, int m, int n, int k,
                            float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c,
                            int ldc);
struct Blas {
  CblasSgemm sgemm = nullptr;
  const char* path = nullptr;
  // OpenBLAS's kernel family (openblas_get_corename): an OpenBLAS older than
  // the CPU falls back to a generic one (Prescott on Emerald Rapids with
  // 0.3.21), several times slower; OPENBLAS_CORETYPE=SkylakeX or Cooperlake
  // then gives the baseline its real speed.
  const char* core = "?";
};

Blas open_blas(int threads) {
  Blas blas;
  const char* env = std::getenv("FASTMLP_BLAS_LIB");
  const char* candidates[] = {env, "libopenblas.so.0", "libopenblas.so"};
  for (const char* path : candidates) {
    if (!path) continue;
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) continue;
    auto sgemm = reinterpret_cast<CblasSgemm>(dlsym(h, "cblas_sgemm"));
    auto set_threads =
        reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
    if (!sgemm) continue;
    if (set_threads) set_threads(threads);
    if (auto corename = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_corename")))
      blas.core = corename();
    blas.sgemm = sgemm;
    blas.path = path;
    return blas;
  }
  return blas;
}

template <typename T>
struct Operands {
  std::vector<T> A, B, C;
  index_t lda, ldb;
  explicit Operands(const Shape& s) : A(s.m * s.k), B(s.k * s.n), C(s.m * s.n) {
    std::mt19937 rng(2);
    std::uniform_real_distribution<double> u(-1, 1);
    for (auto& v : A) v = static_cast<T>(u(rng));
    for (auto& v : B) v = static_cast<T>(u(rng));
    lda = s.ta ? s.m : s.k;
    ldb = s.tb ? s.k : s.n;
  }
};

double seconds_of(const std::chrono::steady_clock::time_point& t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

// Calls f `reps` times back to back and returns the time per call.
template <class F>
double time_per_call(F&& f, int reps) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) f();
  return seconds_of(t0) / reps;
}

// Best time per call of ours (and of BLAS when given), rounds interleaved.
struct Timing {
  double ours = 1e30, blas = 1e30, ours_d = 1e30;
};

Timing time_shape(const Shape& s, const Blas& blas, int rounds) {
  Operands<float> f(s);
  Operands<double> d(s);
  auto ours = [&] {
    fastmlp::gemm<float>(s.ta, s.tb, s.m, s.n, s.k, 1.f, f.A.data(), f.lda,
                         f.B.data(), f.ldb, 0.f, f.C.data(), s.n);
  };
  auto ours_d = [&] {
    fastmlp::gemm<double>(s.ta, s.tb, s.m, s.n, s.k, 1.0, d.A.data(), d.lda,
                          d.B.data(), d.ldb, 0.0, d.C.data(), s.n);
  };
  auto theirs = [&] {
    // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
    blas.sgemm(101, s.ta ? 112 : 111, s.tb ? 112 : 111, int(s.m), int(s.n),
               int(s.k), 1.f, f.A.data(), int(f.lda), f.B.data(), int(f.ldb),
               0.f, f.C.data(), int(s.n));
  };
  // Calls per round: about 20 ms of work at ~100 GFLOP/s, at least one.
  const double flop = 2.0 * s.m * s.n * s.k;
  const int reps = std::max(1, static_cast<int>(2e9 / flop));
  ours();  // warm the packing buffers and the pool
  ours_d();
  if (blas.sgemm) theirs();
  Timing t;
  for (int r = 0; r < rounds; ++r) {
    t.ours = std::min(t.ours, time_per_call(ours, reps));
    if (blas.sgemm) t.blas = std::min(t.blas, time_per_call(theirs, reps));
    t.ours_d = std::min(t.ours_d, time_per_call(ours_d, reps));
  }
  return t;
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
  const int threads = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
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
  fastmlp::set_num_threads(threads);
  if (!validate<float>() || !validate<double>()) return 1;
  const Blas blas = open_blas(threads);
  const int rounds = std::getenv("FASTMLP_BENCH_ROUNDS")
                         ? std::max(1, std::atoi(std::getenv("FASTMLP_BENCH_ROUNDS")))
                         : 7;
  double load[3] = {0, 0, 0};
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf("kernel %s, %d thread(s), baseline %s (core %s), best of %d rounds, load %.2f %.2f %.2f\n",
              fastmlp::gemm_kernel_name(), fastmlp::num_threads(),
              blas.sgemm ? blas.path : "none (no OpenBLAS found)", blas.core, rounds,
              load[0], load[1], load[2]);
  std::printf("%-20s %9s %9s %7s %9s\n", "shape", "sgemm", "openblas", "ratio",
              "dgemm");
  for (const Shape& s : shapes) {
    const Timing t = time_shape(s, blas, rounds);
    const double gflop = 2.0 * s.m * s.n * s.k / 1e9;
    char name[64];
    std::snprintf(name, sizeof name, "%lldx%lldx%lld %c%c",
                  static_cast<long long>(s.m), static_cast<long long>(s.n),
                  static_cast<long long>(s.k), s.ta ? 'T' : 'N', s.tb ? 'T' : 'N');
    if (blas.sgemm)
      std::printf("%-20s %9.1f %9.1f %7.3f %9.1f\n", name, gflop / t.ours,
                  gflop / t.blas, t.blas / t.ours, gflop / t.ours_d);
    else
      std::printf("%-20s %9.1f %9s %7s %9.1f\n", name, gflop / t.ours, "-", "-",
                  gflop / t.ours_d);
    std::fflush(stdout);
  }
  return 0;
}
