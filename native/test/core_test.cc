// Self-contained tests of the fastmlp C++ core (no framework: CHECK macros
// from check.h, nonzero exit status on any failure). References, as STYLE.md
// §12: a naive implementation (gemm_ref), finite differences, and worked
// numbers from SPEC.md §7 and hand computations. This file covers threads,
// gemm, activations, losses and optimizers; network_test.cc the network.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "activations.h"
#include "check.h"
#include "gemm.h"
#include "losses.h"
#include "optim.h"
#include "threads.h"
#include "vec_math.h"

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

// ---------------------------------------------------------------------------
// activations

static void test_activations() {
  const double xs[] = {-800, -40, -3.5, -1, -1e-3, 0, 1e-3, 0.7, 2, 35, 800};
  std::vector<double> x(std::begin(xs), std::end(xs)), nx(x.size()), y(x.size()),
      ny(x.size()), y2(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) nx[i] = -x[i];
  const index_t n = static_cast<index_t>(x.size());
  activation_forward(Activation::Sigmoid, x.data(), y.data(), 1, n);
  activation_forward(Activation::Sigmoid, nx.data(), ny.data(), 1, n);
  for (index_t i = 0; i < n; ++i) {
    CHECK(std::isfinite(y[i]) && y[i] >= 0 && y[i] <= 1);
    CHECK_NEAR(ny[i], 1 - y[i], 1e-15);  // σ(−x) = 1 − σ(x)
  }
  // tanh x = 2σ(2x) − 1
  std::vector<double> x2(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) x2[i] = 2 * x[i];
  activation_forward(Activation::Tanh, x.data(), y.data(), 1, n);
  activation_forward(Activation::Sigmoid, x2.data(), y2.data(), 1, n);
  for (index_t i = 0; i < n; ++i) CHECK_NEAR(y[i], 2 * y2[i] - 1, 1e-14);
  // relu, in place, NaN kept.
  std::vector<float> r = {-2.f, 0.f, 3.f, std::nanf("")};
  activation_forward(Activation::Relu, r.data(), r.data(), 2, 2);
  CHECK(r[0] == 0.f && r[1] == 0.f && r[2] == 3.f && std::isnan(r[3]));
  // softmax: rows sum to 1, shift invariance, no overflow.
  auto s = random_vec<double>(4 * 6, -5, 5);
  s[3] = 1000;
  std::vector<double> sy(s.size()), shifted(s.size()), sy2(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) shifted[i] = s[i] + 123.25;
  activation_forward(Activation::Softmax, s.data(), sy.data(), 4, 6);
  activation_forward(Activation::Softmax, shifted.data(), sy2.data(), 4, 6);
  for (int r0 = 0; r0 < 4; ++r0) {
    double sum = 0;
    for (int j = 0; j < 6; ++j) sum += sy[r0 * 6 + j];
    CHECK_NEAR(sum, 1, 1e-14);
  }
  for (std::size_t i = 0; i < s.size(); ++i) CHECK_NEAR(sy[i], sy2[i], 1e-12);

  // Finite differences of L = Σ dy·f(x) in double, for every activation and
  // a non-default choice of each parameter.
  struct Case {
    Activation act;
    ActivationParams p;
  };
  ActivationParams slope, alpha, sp, tanh_gelu, beta;
  slope.negative_slope = 0.2;
  alpha.alpha = 0.5;
  sp.beta = 2;
  sp.threshold = 3;
  tanh_gelu.approximate = GeluApproximation::Tanh;
  beta.beta = 1.5;
  const Case cases[] = {
      {Activation::Identity, {}}, {Activation::Relu, {}},
      {Activation::Sigmoid, {}},  {Activation::Tanh, {}},
      {Activation::Softmax, {}},  {Activation::LogSoftmax, {}},
      {Activation::LeakyRelu, {}}, {Activation::LeakyRelu, slope},
      {Activation::Elu, {}},      {Activation::Elu, alpha},
      {Activation::Selu, {}},     {Activation::Softplus, {}},
      {Activation::Softplus, sp}, {Activation::Gelu, {}},
      {Activation::Gelu, tanh_gelu}, {Activation::Silu, {}},
      {Activation::Swish, {}},    {Activation::Swish, beta}};
  for (const Case& c : cases) {
    const Activation a = c.act;
    validate_activation(a, c.p);
    const index_t rows = 3, cols = 5, m = rows * cols;
    auto xv = random_vec<double>(m, -3, 3);
    for (auto& v : xv) {
      if (std::fabs(v) < 1e-3) v = 0.5;  // keep away from the kinks at 0
      // and from softplus' switch to linear at β·x = threshold
      if (a == Activation::Softplus && std::fabs(c.p.beta * v - c.p.threshold) < 1e-3) v = 0.25;
    }
    auto dy = random_vec<double>(m);
    std::vector<double> yv(m), dx(m), dx_alias = dy, tmp(m);
    activation_forward(a, c.p, xv.data(), yv.data(), rows, cols);
    activation_backward(a, c.p, xv.data(), yv.data(), dy.data(), dx.data(), rows, cols);
    activation_backward(a, c.p, xv.data(), yv.data(), dx_alias.data(), dx_alias.data(),
                        rows, cols);
    auto L = [&](const std::vector<double>& xx) {
      activation_forward(a, c.p, xx.data(), tmp.data(), rows, cols);
      double l = 0;
      for (index_t i = 0; i < m; ++i) l += dy[i] * tmp[i];
      return l;
    };
    for (index_t i = 0; i < m; ++i) {
      const double h = 1e-6;
      auto xp = xv, xm = xv;
      xp[i] += h;
      xm[i] -= h;
      CHECK_NEAR(dx[i], (L(xp) - L(xm)) / (2 * h), 1e-8);
      CHECK(dx[i] == dx_alias[i]);
    }
  }
  // Parameters out of range are rejected before anything runs.
  ActivationParams bad;
  bad.alpha = 0;
  CHECK_THROWS(validate_activation(Activation::Elu, bad), std::invalid_argument);
  bad = {};
  bad.beta = -1;
  CHECK_THROWS(validate_activation(Activation::Softplus, bad), std::invalid_argument);
  bad = {};
  bad.negative_slope = std::nan("");
  CHECK_THROWS(validate_activation(Activation::LeakyRelu, bad), std::invalid_argument);
  // Large |x| stays finite: elu/selu/gelu/silu/softplus at ±800 in float.
  std::vector<float> big = {-800.f, 800.f}, out(2);
  for (Activation a : {Activation::Elu, Activation::Selu, Activation::Gelu,
                       Activation::Silu, Activation::Softplus, Activation::LogSoftmax}) {
    activation_forward(a, big.data(), out.data(), 1, 2);
    CHECK(std::isfinite(out[0]) && std::isfinite(out[1]));
  }
}

// vec_math.h against libm: a few ulp over the whole range, exact edges.
template <typename T>
static void check_vec_math(double lo, double hi, double max_ulp) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(lo, hi);
  double worst = 0;
  auto ulps = [](T got, double want) {
    const T w = static_cast<T>(want);
    const double ulp = static_cast<double>(std::nextafter(w, std::numeric_limits<T>::infinity()) - w);
    return std::fabs(static_cast<double>(got) - want) / ulp;
  };
  for (int i = 0; i < 200000; ++i) {
    const T x = static_cast<T>(i % 4 == 0 ? u(rng) * 1e-4 : u(rng));
    const double xd = static_cast<double>(x);
    worst = std::max(worst, ulps(vec_math::exp(x), std::exp(xd)));
    worst = std::max(worst, ulps(vec_math::expm1(x), std::expm1(xd)));
    if (std::fabs(xd) < 30) worst = std::max(worst, ulps(vec_math::tanh(x), std::tanh(xd)));
    const double s = xd >= 0 ? 1 / (1 + std::exp(-xd)) : std::exp(xd) / (1 + std::exp(xd));
    if (s > 1e-30) worst = std::max(worst, ulps(vec_math::sigmoid(x), s));
    if (std::fabs(xd) < 8) worst = std::max(worst, ulps(vec_math::erf(x), std::erf(xd)));
    const T u = static_cast<T>(std::fabs(std::sin(xd)));
    if (u > 0) worst = std::max(worst, ulps(vec_math::log1p_unit(u), std::log1p(static_cast<double>(u))));
  }
  CHECK(worst <= max_ulp);
  const T inf = std::numeric_limits<T>::infinity();
  CHECK(vec_math::exp(T(0)) == T(1) && vec_math::expm1(T(0)) == T(0));
  CHECK(vec_math::exp(inf) == inf && vec_math::exp(-inf) == T(0));
  CHECK(vec_math::expm1(-inf) == T(-1) && vec_math::tanh(-inf) == T(-1));
  CHECK(vec_math::sigmoid(inf) == T(1) && vec_math::sigmoid(-inf) == T(0));
  CHECK(std::isnan(vec_math::exp(std::numeric_limits<T>::quiet_NaN())));
  CHECK(std::isnan(vec_math::tanh(std::numeric_limits<T>::quiet_NaN())));
  CHECK(std::isnan(vec_math::sigmoid(std::numeric_limits<T>::quiet_NaN())));
  CHECK(std::isnan(vec_math::erf(std::numeric_limits<T>::quiet_NaN())));
  CHECK(vec_math::erf(inf) == T(1) && vec_math::erf(-inf) == T(-1) && vec_math::erf(T(0)) == T(0));
}

static void test_vec_math() {
  check_vec_math<float>(-86, 88.7, 4);
  check_vec_math<double>(-707, 709.7, 4);
}

// ---------------------------------------------------------------------------
// losses

static const double kLogits45[] = {
    0.7114,  -0.9152, -0.3899, 0.9435,  -0.1819, -0.6162, -0.0346,
    -0.5723, -1.1487, -1.4400, 0.3388,  -0.9662, -0.2876, -0.1088,
    -0.1857, -1.3066, 1.5789,  -0.3382, -0.6364, 2.9867};

// Finite-difference check of loss_backward in double.
static void fd_loss(const LossSpec& spec, index_t B, index_t C,
                    const std::int32_t* idx, const double* target) {
  auto p = random_vec<double>(static_cast<std::size_t>(B * C), -2, 2);
  std::vector<double> g(p.size()), g2(p.size());
  loss_backward(spec, p.data(), B, C, idx, target, g.data());
  const double l = loss_forward_backward(spec, p.data(), B, C, idx, target, g2.data());
  // A few ulps, relative: the two paths may sum in different orders (on
  // aarch64 they differ by 1–2 ulps of a loss near 18; 1e-15 absolute is < 1 ulp there).
  CHECK_NEAR(l, loss_forward(spec, p.data(), B, C, idx, target), 1e-14 * std::max(1.0, std::fabs(l)));
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double h = 1e-6;
    auto pp = p, pm = p;
    pp[i] += h;
    pm[i] -= h;
    const double fd = (loss_forward(spec, pp.data(), B, C, idx, target) -
                       loss_forward(spec, pm.data(), B, C, idx, target)) / (2 * h);
    CHECK_NEAR(g[i], fd, 1e-8);
    CHECK(g[i] == g2[i]);
  }
}

static void test_losses() {
  LossSpec ce;
  ce.kind = LossKind::CrossEntropy;
  const std::int32_t y4[] = {1, 0, 3, 2};
  // SPEC.md §7 golden values.
  CHECK_NEAR(loss_forward<double>(ce, kLogits45, 4, 5, y4, nullptr), 2.383066, 1e-5);
  std::vector<float> lf(std::begin(kLogits45), std::end(kLogits45));
  CHECK_NEAR(loss_forward<float>(ce, lf.data(), 4, 5, y4, nullptr), 2.383066, 1e-5);
  const double custom[] = {1.5, 0.5, -0.5, -0.5, 1.5, 0.5, 0.5, -0.5, 1.5};
  const std::int32_t y3[] = {0, 1, 2};
  CHECK_NEAR(loss_forward<double>(ce, custom, 3, 3, y3, nullptr), 0.407606, 1e-6);
  // One-hot soft targets give the same value; reduction sum = B · mean.
  std::vector<double> onehot(20, 0.0);
  for (int b = 0; b < 4; ++b) onehot[b * 5 + y4[b]] = 1;
  CHECK_NEAR(loss_forward<double>(ce, kLogits45, 4, 5, nullptr, onehot.data()),
             2.383066, 1e-5);
  LossSpec ce_sum = ce;
  ce_sum.reduction = Reduction::Sum;
  CHECK_NEAR(loss_forward<double>(ce_sum, kLogits45, 4, 5, y4, nullptr),
             4 * 2.383065969279931, 1e-9);
  // Label smoothing: q = (1−ε)e_y + ε/C, checked against explicit log-softmax.
  LossSpec ls = ce;
  ls.label_smoothing = 0.2;
  double expect = 0;
  for (int b = 0; b < 4; ++b) {
    const double* z = kLogits45 + b * 5;
    double s = 0;
    for (int j = 0; j < 5; ++j) s += std::exp(z[j]);
    for (int j = 0; j < 5; ++j)
      expect -= ((j == y4[b] ? 0.8 : 0.0) + 0.2 / 5) * (z[j] - std::log(s));
  }
  CHECK_NEAR(loss_forward<double>(ls, kLogits45, 4, 5, y4, nullptr), expect / 4, 1e-12);
  CHECK_NEAR(loss_forward<double>(ls, kLogits45, 4, 5, nullptr, onehot.data()),
             expect / 4, 1e-12);
  // mse by hand: differences 1, 0, −2, 3 → 14 (sum), 3.5 (mean).
  LossSpec mse;
  const double mp[] = {1, 2, 3, 4}, mt[] = {0, 2, 5, 1};
  CHECK_NEAR(loss_forward<double>(mse, mp, 2, 2, nullptr, mt), 3.5, 1e-15);
  LossSpec mse_sum = mse;
  mse_sum.reduction = Reduction::Sum;
  CHECK_NEAR(loss_forward<double>(mse_sum, mp, 2, 2, nullptr, mt), 14, 1e-15);

  // Gradients by finite differences.
  auto dense = random_vec<double>(4 * 5, 0, 1);  // soft rows, not normalised
  auto dense_norm = dense;
  for (int b = 0; b < 4; ++b) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += dense_norm[b * 5 + j];
    for (int j = 0; j < 5; ++j) dense_norm[b * 5 + j] /= s;
  }
  for (Reduction red : {Reduction::Mean, Reduction::Sum}) {
    for (double eps : {0.0, 0.1}) {
      LossSpec s;
      s.kind = LossKind::CrossEntropy;
      s.reduction = red;
      s.label_smoothing = eps;
      fd_loss(s, 4, 5, y4, nullptr);
      fd_loss(s, 4, 5, nullptr, dense.data());
      fd_loss(s, 4, 5, nullptr, dense_norm.data());
    }
    LossSpec m;
    m.reduction = red;
    fd_loss(m, 4, 5, nullptr, dense.data());
  }

  // Bad indices throw before anything is written.
  const std::int32_t bad1[] = {1, 0, 5, 2}, bad2[] = {1, -1, 3, 2};
  std::vector<double> g(20, 42.0);
  CHECK_THROWS(loss_backward<double>(ce, kLogits45, 4, 5, bad1, nullptr, g.data()),
               std::invalid_argument);
  CHECK_THROWS(loss_forward<double>(ce, kLogits45, 4, 5, bad2, nullptr),
               std::invalid_argument);
  CHECK(g[0] == 42.0 && g[19] == 42.0);
  // validate_loss
  LossSpec bad = ce;
  for (double e : {-0.1, 1.1, std::nan("")}) {
    bad.label_smoothing = e;
    CHECK_THROWS(validate_loss(bad, true, false), std::invalid_argument);
  }
  bad.label_smoothing = 1.0;
  validate_loss(bad, true, false);  // ε = 1 is allowed
  CHECK_THROWS(validate_loss(mse, true, false), std::invalid_argument);
  CHECK_THROWS(validate_loss(ce, true, true), std::invalid_argument);
  CHECK_THROWS(validate_loss(ce, false, false), std::invalid_argument);
  CHECK_THROWS(loss_forward<double>(mse, mp, 2, 2, y3, nullptr), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// optimizers: two steps on θ = [1, −2, 0.5] with g1 = [0.1, −0.2, 0.3],
// g2 = [0.4, 0, −0.1].

template <typename T>
static std::vector<double> two_steps(const OptimizerSpec& s) {
  std::vector<T> th = {T(1), T(-2), T(0.5)};
  const T g1[] = {T(0.1), T(-0.2), T(0.3)}, g2[] = {T(0.4), T(0), T(-0.1)};
  std::vector<T> state(static_cast<std::size_t>(optimizer_state_size(s, 3)), T(0));
  optimizer_update<T>(s, th.data(), g1, state.data(), 3, 1);
  optimizer_update<T>(s, th.data(), g2, state.data(), 3, 2);
  return {double(th[0]), double(th[1]), double(th[2])};
}

template <typename T>
static void check3(const std::vector<double>& got, double a, double b, double c,
                   double tol) {
  CHECK_NEAR(got[0], a, tol);
  CHECK_NEAR(got[1], b, tol);
  CHECK_NEAR(got[2], c, tol);
}

template <typename T>
static void test_optim_t(double tol) {
  OptimizerSpec sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;
  // v1 = g1; θ1 = θ − 0.1·g1 = [0.99, −1.98, 0.47]
  // v2 = 0.9·v1 + g2 = [0.49, −0.18, 0.17]; θ2 = [0.941, −1.962, 0.453]
  check3<T>(two_steps<T>(sgd), 0.941, -1.962, 0.453, tol);
  // Nesterov: d1 = g1 + 0.9·v1 = 1.9·g1 → θ1 = [0.981, −1.962, 0.443]
  // d2 = g2 + 0.9·v2 = [0.841, −0.162, 0.053] → θ2 = [0.8969, −1.9458, 0.4377]
  OptimizerSpec nes = sgd;
  nes.nesterov = true;
  check3<T>(two_steps<T>(nes), 0.8969, -1.9458, 0.4377, tol);
  // Dampening 0.5 (not applied on step 1): v2 = 0.9·g1 + 0.5·g2
  // = [0.29, −0.18, 0.22] → θ2 = [0.961, −1.962, 0.448]
  OptimizerSpec damp = sgd;
  damp.dampening = 0.5;
  check3<T>(two_steps<T>(damp), 0.961, -1.962, 0.448, tol);
  // Plain SGD with weight decay 0.1: θ −= 0.1·(g + 0.1θ) twice.
  // step 1: [0.98, −1.96, 0.465]; step 2: g + 0.1θ = [0.498, −0.196, −0.0535]
  // → [0.9302, −1.9404, 0.47035]
  OptimizerSpec wd;
  wd.lr = 0.1;
  wd.weight_decay = 0.1;
  check3<T>(two_steps<T>(wd), 0.9302, -1.9404, 0.47035, tol);
  // Adam lr 0.1 (β 0.9/0.999, ε 1e-8), the header formula evaluated by hand:
  // step 1: m̂ = g1, v̂ = g1² → θ1 ≈ θ − 0.1·sign(g1) = [0.90000001, −1.900000005, 0.4000000033]
  // step 2: m = [0.049, −0.018, 0.017], v = [1.6999e-4, 3.996e-5, 9.991e-5],
  //         m̂ = m/0.19, v̂ = v/0.001999 → θ2 = [0.8115623640, −1.8329941843, 0.3599781479]
  OptimizerSpec adam;
  adam.kind = OptimizerKind::Adam;
  adam.lr = 0.1;
  check3<T>(two_steps<T>(adam), 0.8115623640, -1.8329941843, 0.3599781479, tol);
  // Adam with coupled decay 0.01 (g += 0.01θ): [0.8107428784, −1.8268369469, 0.3584399480]
  OptimizerSpec adam_wd = adam;
  adam_wd.weight_decay = 0.01;
  check3<T>(two_steps<T>(adam_wd), 0.8107428784, -1.8268369469, 0.3584399480, tol);
  // AdamW, decay 0.01 decoupled (θ ·= 1 − 0.1·0.01 before each Adam step):
  // [0.8096633640, −1.8290961843, 0.3590786479]
  OptimizerSpec adamw = adam_wd;
  adamw.kind = OptimizerKind::AdamW;
  check3<T>(two_steps<T>(adamw), 0.8096633640, -1.8290961843, 0.3590786479, tol);
}

// Adagrad, RMSprop, amsgrad and clipping on the same two steps; expected
// values from torch 1.13 (torch.optim.* and torch.nn.utils.clip_grad_*_ in
// float64, the gradients set by hand).
template <typename T>
static void test_optim_more_t(double tol) {
  OptimizerSpec ada;
  ada.kind = OptimizerKind::Adagrad;
  ada.lr = 0.1;
  ada.lr_decay = 0.5;
  ada.initial_accumulator_value = 0.1;
  ada.weight_decay = 0.1;
  ada.eps = 1e-10;
  check3<T>(two_steps<T>(ada), 0.8933786584, -1.8980442938, 0.4338560227, tol);
  OptimizerSpec rms;
  rms.kind = OptimizerKind::RMSprop;
  rms.lr = 0.01;
  check3<T>(two_steps<T>(rms), 0.8029573273, -1.9000000500, 0.4317660701, tol);
  OptimizerSpec rms_cm = rms;
  rms_cm.alpha = 0.9;
  rms_cm.centered = true;
  rms_cm.momentum = 0.5;
  check3<T>(two_steps<T>(rms_cm), 0.9167806820, -1.9500000083, 0.4606533840, tol);
  // amsgrad differs from Adam where v shrinks (θ[1]: g2 = 0).
  OptimizerSpec ams;
  ams.kind = OptimizerKind::Adam;
  ams.lr = 0.1;
  ams.amsgrad = true;
  check3<T>(two_steps<T>(ams), 0.8115623640, -1.8330276956, 0.3599781479, tol);
  // Plain SGD, lr 1: ‖g1‖ = 0.374 is scaled to 0.2, ‖g2‖ = 0.412 likewise.
  OptimizerSpec clip_norm;
  clip_norm.lr = 1.0;
  clip_norm.clip_norm = 0.2;
  check3<T>(two_steps<T>(clip_norm), 0.7525198650, -1.8930957889, 0.3881506908, tol);
  OptimizerSpec clip_value;
  clip_value.lr = 1.0;
  clip_value.clip_value = 0.15;
  check3<T>(two_steps<T>(clip_value), 0.75, -1.85, 0.45, tol);
}

static void test_optim() {
  test_optim_t<double>(1e-9);
  test_optim_t<float>(2e-6);
  test_optim_more_t<double>(1e-9);
  test_optim_more_t<float>(2e-6);
  {
    OptimizerSpec r;
    r.kind = OptimizerKind::RMSprop;
    CHECK(optimizer_state_size(r, 10) == 10);
    r.centered = true;
    CHECK(optimizer_state_size(r, 10) == 20);
    r.momentum = 0.9;
    CHECK(optimizer_state_size(r, 10) == 30);
    OptimizerSpec a;
    a.kind = OptimizerKind::Adam;
    a.amsgrad = true;
    CHECK(optimizer_state_size(a, 10) == 30);
    a.kind = OptimizerKind::Adagrad;
    CHECK(optimizer_state_size(a, 10) == 10);
    // Same size, different slices: centered's gradient average vs a momentum buffer.
    OptimizerSpec c, m;
    c.kind = m.kind = OptimizerKind::RMSprop;
    c.centered = true;
    m.momentum = 0.9;
    CHECK(!optimizer_state_compatible(c, m));
    OptimizerSpec c2 = c;
    c2.lr = 0.5;
    c2.alpha = 0.5;
    CHECK(optimizer_state_compatible(c, c2));
  }
  OptimizerSpec s;
  CHECK(optimizer_state_size(s, 10) == 0);
  s.momentum = 0.5;
  CHECK(optimizer_state_size(s, 10) == 10);
  s.kind = OptimizerKind::AdamW;
  CHECK(optimizer_state_size(s, 10) == 20);
  auto bad = [](auto edit) {
    OptimizerSpec o;
    edit(o);
    CHECK_THROWS(validate_optimizer(o), std::invalid_argument);
  };
  bad([](OptimizerSpec& o) { o.lr = -1; });
  bad([](OptimizerSpec& o) { o.lr = std::nan(""); });
  bad([](OptimizerSpec& o) { o.momentum = -0.1; });
  bad([](OptimizerSpec& o) { o.weight_decay = -0.1; });
  bad([](OptimizerSpec& o) { o.nesterov = true; });
  bad([](OptimizerSpec& o) { o.nesterov = true; o.momentum = 0.9; o.dampening = 0.1; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::Adam; o.beta1 = 1; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::Adam; o.beta2 = -0.1; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::Adam; o.eps = 0; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::AdamW; o.eps = INFINITY; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::Adagrad; o.lr_decay = -1; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::Adagrad; o.initial_accumulator_value = -1; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::Adagrad; o.eps = 0; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::RMSprop; o.alpha = 1.5; });
  bad([](OptimizerSpec& o) { o.kind = OptimizerKind::RMSprop; o.momentum = -1; });
  bad([](OptimizerSpec& o) { o.clip_norm = -1; });
  bad([](OptimizerSpec& o) { o.clip_value = INFINITY; });
  bad([](OptimizerSpec& o) { o.kind = static_cast<OptimizerKind>(42); });
  validate_optimizer(OptimizerSpec{});
}

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  test_threads();
  test_gemm<float>();
  test_gemm<double>();
  test_activations();
  test_vec_math();
  test_losses();
  test_optim();
  test_network();
  test_loss_kinds();
  test_layers();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
