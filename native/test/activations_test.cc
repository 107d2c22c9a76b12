// Core tests of the activations (activations.h) and of vec_math.h, the
// vectorisable exp/tanh/erf they are built on: symmetries and identities
// (σ(−x) = 1 − σ(x), tanh x = 2σ(2x) − 1, softmax rows and shift invariance),
// finite differences of every activation's backward in double with a
// non-default choice of each parameter, the parameter checks, finite values
// at ±800, and vec_math against libm (a few ulp over the whole range, exact
// edges). Part of fastmlp_core_test (core_test.cc runs them).
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "activations.h"
#include "check.h"
#include "vec_math.h"

using namespace fastmlp;
using namespace fastmlp_test;

void fastmlp_test::test_activations() {
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
  ActivationParams ht;
  ht.min_val = -0.5;
  ht.max_val = 2;
  const Case cases[] = {
      {Activation::Identity, {}}, {Activation::Relu, {}},
      {Activation::Sigmoid, {}},  {Activation::Tanh, {}},
      {Activation::Softmax, {}},  {Activation::LogSoftmax, {}},
      {Activation::LeakyRelu, {}}, {Activation::LeakyRelu, slope},
      {Activation::Elu, {}},      {Activation::Elu, alpha},
      {Activation::Selu, {}},     {Activation::Softplus, {}},
      {Activation::Softplus, sp}, {Activation::Gelu, {}},
      {Activation::Gelu, tanh_gelu}, {Activation::Silu, {}},
      {Activation::Swish, {}},    {Activation::Swish, beta},
      {Activation::Hardtanh, {}}, {Activation::Hardtanh, ht},
      {Activation::Relu6, {}},    {Activation::LogSigmoid, {}}};
  for (const Case& c : cases) {
    const Activation a = c.act;
    validate_activation(a, c.p);
    const index_t rows = 3, cols = 5, m = rows * cols;
    auto xv = random_vec<double>(m, -3, 3);
    for (auto& v : xv) {
      if (std::fabs(v) < 1e-3) v = 0.5;  // keep away from the kinks at 0
      // and from softplus' switch to linear at β·x = threshold
      if (a == Activation::Softplus && std::fabs(c.p.beta * v - c.p.threshold) < 1e-3) v = 0.25;
      // and from hardtanh's kinks at min_val and max_val
      if (a == Activation::Hardtanh &&
          (std::fabs(v - c.p.min_val) < 1e-3 || std::fabs(v - c.p.max_val) < 1e-3))
        v = 0.25;
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
  bad = {};
  bad.min_val = 1;
  bad.max_val = 1;
  CHECK_THROWS(validate_activation(Activation::Hardtanh, bad), std::invalid_argument);
  // Hardtanh's derivative at its kinks is 0, as torch's hardtanh_backward
  // (the gradient passes only strictly inside (min_val, max_val)); relu6's
  // kinks are 0 and 6.
  {
    const double kx[] = {-1, 1, -1.5, 0.5, 2, 0, 6, 3};
    double ky[8], kg[8];
    const double ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    activation_forward(Activation::Hardtanh, kx, ky, 1, 5);
    activation_backward(Activation::Hardtanh, kx, ky, ones, kg, 1, 5);
    CHECK(ky[0] == -1 && ky[1] == 1 && ky[2] == -1 && ky[3] == 0.5 && ky[4] == 1);
    CHECK(kg[0] == 0 && kg[1] == 0 && kg[2] == 0 && kg[3] == 1 && kg[4] == 0);
    activation_forward(Activation::Relu6, kx + 5, ky, 1, 3);
    activation_backward(Activation::Relu6, kx + 5, ky, ones, kg, 1, 3);
    CHECK(ky[0] == 0 && ky[1] == 6 && ky[2] == 3);
    CHECK(kg[0] == 0 && kg[1] == 0 && kg[2] == 1);
  }
  // Large |x| stays finite: elu/selu/gelu/silu/softplus at ±800 in float.
  std::vector<float> big = {-800.f, 800.f}, out(2);
  for (Activation a : {Activation::Elu, Activation::Selu, Activation::Gelu,
                       Activation::Silu, Activation::Softplus, Activation::LogSoftmax,
                       Activation::LogSigmoid}) {
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

void fastmlp_test::test_vec_math() {
  check_vec_math<float>(-86, 88.7, 4);
  check_vec_math<double>(-707, 709.7, 4);
}
