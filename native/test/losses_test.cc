// Core tests of the losses (losses.h), in two parts:
//  - cross-entropy and mse: SPEC.md §7's golden values, soft and one-hot
//    targets, label smoothing against an explicit log-softmax, reductions,
//    gradients by finite differences, bad class indices and validate_loss;
//  - every loss kind: finite differences for each kind, option and reduction
//    in double, SPEC.md §7's worked numbers, loss_values against the
//    reductions, and the argument checks.
// Part of fastmlp_core_test (core_test.cc runs them).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "losses.h"

using namespace fastmlp;
using namespace fastmlp_test;

// ---------------------------------------------------------------------------
// cross-entropy and mse

namespace {

const double kLogits45[] = {
    0.7114,  -0.9152, -0.3899, 0.9435,  -0.1819, -0.6162, -0.0346,
    -0.5723, -1.1487, -1.4400, 0.3388,  -0.9662, -0.2876, -0.1088,
    -0.1857, -1.3066, 1.5789,  -0.3382, -0.6364, 2.9867};

// Finite-difference check of loss_backward in double.
void fd_loss(const LossSpec& spec, index_t B, index_t C,
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

}  // namespace

void fastmlp_test::test_cross_entropy_mse() {
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
// every loss kind

namespace {

constexpr index_t B = 3, C = 4;

// Central differences of loss_forward against loss_backward, away from kinks.
void fd_check(const LossSpec& spec, const std::vector<double>& pred,
              const std::int32_t* idx, const double* target) {
  std::vector<double> g(pred.size());
  loss_backward(spec, pred.data(), B, C, idx, target, g.data());
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const double h = 1e-6;
    auto pp = pred, pm = pred;
    pp[i] += h;
    pm[i] -= h;
    const double fd = (loss_forward(spec, pp.data(), B, C, idx, target) -
                       loss_forward(spec, pm.data(), B, C, idx, target)) / (2 * h);
    CHECK_NEAR(g[i], fd, 1e-6 * std::max(1.0, std::fabs(fd)));
  }
}

// With reduction None, forward is the sum of loss_values; Sum agrees.
void values_check(LossSpec spec, const std::vector<double>& pred,
                  const std::int32_t* idx, const double* target) {
  std::vector<double> v(static_cast<std::size_t>(loss_value_count(spec.kind, B, C)));
  loss_values(spec, pred.data(), B, C, idx, target, v.data());
  double s = 0;
  for (double x : v) s += x;
  spec.reduction = Reduction::Sum;
  CHECK_NEAR(s, loss_forward(spec, pred.data(), B, C, idx, target), 1e-12);
}

void test_every_kind() {
  const auto reg_pred = random_vec<double>(B * C, -2, 2);
  const auto reg_target = random_vec<double>(B * C, -2, 2);
  const auto probs = random_vec<double>(B * C, 0.05, 0.95);
  const auto soft = random_vec<double>(B * C, 0, 1);
  std::vector<double> pm(B * C), bin(B * C);
  for (std::size_t i = 0; i < pm.size(); ++i) {
    bin[i] = soft[i] > 0.5 ? 1 : 0;
    pm[i] = 2 * bin[i] - 1;
  }
  const std::int32_t idx[B] = {0, 3, 2};
  const std::vector<double> weights = {0.5, 2, 1, 3};

  struct Case {
    LossSpec spec;
    const std::vector<double>* pred;
    const std::int32_t* idx;
    const std::vector<double>* target;
  };
  auto spec = [](LossKind k) { return default_loss_spec(k); };
  std::vector<Case> cases;
  for (LossKind k : {LossKind::Mse, LossKind::Mae, LossKind::Huber, LossKind::Tukey,
                     LossKind::Quantile, LossKind::Barron})
    cases.push_back({spec(k), &reg_pred, nullptr, &reg_target});
  LossSpec s = spec(LossKind::Tukey);
  s.delta = 1;
  cases.push_back({s, &reg_pred, nullptr, &reg_target});
  for (double a : {2.0, 0.0, -std::numeric_limits<double>::infinity(), -3.0, 0.5, 5.0}) {
    s = spec(LossKind::Barron);
    s.alpha = a;
    s.scale = 0.7;
    cases.push_back({s, &reg_pred, nullptr, &reg_target});
  }
  s = spec(LossKind::Quantile);
  s.tau = 0.2;
  cases.push_back({s, &reg_pred, nullptr, &reg_target});
  s = spec(LossKind::Bce);
  cases.push_back({s, &probs, nullptr, &soft});
  s.class_weights = weights;
  cases.push_back({s, &probs, nullptr, &bin});
  s = spec(LossKind::BceWithLogits);
  cases.push_back({s, &reg_pred, nullptr, &soft});
  s.pos_weight = 2.5;
  s.class_weights = weights;
  cases.push_back({s, &reg_pred, nullptr, &bin});
  cases.push_back({spec(LossKind::Focal), &reg_pred, nullptr, &bin});
  s = spec(LossKind::Focal);
  s.gamma = 0.5;
  s.alpha = 0.7;
  cases.push_back({s, &reg_pred, nullptr, &soft});
  cases.push_back({spec(LossKind::Hinge), &reg_pred, nullptr, &pm});
  cases.push_back({spec(LossKind::SquaredHinge), &reg_pred, nullptr, &pm});
  cases.push_back({spec(LossKind::KlDiv), &reg_pred, nullptr, &soft});
  for (bool weighted : {false, true}) {
    for (double eps : {0.0, 0.2}) {
      s = spec(LossKind::CrossEntropy);
      s.label_smoothing = eps;
      if (weighted) s.class_weights = weights;
      cases.push_back({s, &reg_pred, idx, nullptr});
      cases.push_back({s, &reg_pred, nullptr, &soft});
    }
    s = spec(LossKind::Nll);
    if (weighted) s.class_weights = weights;
    cases.push_back({s, &reg_pred, idx, nullptr});
  }

  for (const Case& c : cases) {
    const double* t = c.target ? c.target->data() : nullptr;
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      LossSpec sp = c.spec;
      sp.reduction = r;
      fd_check(sp, *c.pred, c.idx, t);
      values_check(sp, *c.pred, c.idx, t);
    }
    if (c.spec.kind == LossKind::KlDiv) {
      LossSpec sp = c.spec;
      sp.reduction = Reduction::BatchMean;
      fd_check(sp, *c.pred, c.idx, t);
      LossSpec sum = c.spec;
      sum.reduction = Reduction::Sum;
      CHECK_NEAR(loss_forward(sp, c.pred->data(), B, C, c.idx, t),
                 loss_forward(sum, c.pred->data(), B, C, c.idx, t) / B, 1e-14);
    }
  }
  for (double smooth : {1.0, 0.0}) {
    s = spec(LossKind::Dice);
    s.smooth = smooth;
    fd_check(s, probs, nullptr, bin.data());
  }
}

void test_worked_numbers() {
  const double p[] = {0.6882, 0.4268, 0.6981, 0.6192}, y[] = {1, 0, 1, 0};
  CHECK_NEAR(loss_forward<double>(default_loss_spec(LossKind::Bce), p, 4, 1, nullptr, y), 0.563768, 1e-6);
  const double logp[] = {-2.1952, -2.0639, -0.3655, -4.2204, -2.9338, -2.2309, -1.6147,
                         -1.2787, -1.6363, -1.5118, -2.1938, -3.0970, -1.5740, -1.3624,
                         -0.9675, -1.9533, -1.1320, -3.2088, -1.2513, -1.5640};
  const std::int32_t t4[] = {1, 0, 3, 2};
  CHECK_NEAR(loss_forward<double>(default_loss_spec(LossKind::Nll), logp, 4, 5, t4, nullptr), 2.2165, 1e-4);
  const double kx[] = {-4.4963, -1.2036, -1.5853, -1.4722, -1.3688, -2.6413, -2.2889,
                       -2.2535, -0.5027, -2.1419, -2.3875, -1.0028, -2.9582, -3.1580,
                       -0.8055, -2.3296, -0.4341, -2.2907, -2.1956, -3.1619};
  const double kt[] = {0.0345, 0.1775, 0.1944, 0.2313, 0.3622, 0.1333, 0.6237,
                       0.1228, 0.0795, 0.0406, 0.3026, 0.1969, 0.0661, 0.2365,
                       0.1979, 0.1164, 0.4287, 0.2206, 0.1695, 0.0648};
  LossSpec kl = default_loss_spec(LossKind::KlDiv);
  kl.reduction = Reduction::BatchMean;
  CHECK_NEAR(loss_forward<double>(kl, kx, 4, 5, nullptr, kt), 0.427552, 1e-6);
  const double a[] = {.72, .12, .06, .63, .85, .61, .08, .68, .40, .05, .79, .13, .09, .99, .93, .04};
  const double b[] = {0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0};
  LossSpec dice = default_loss_spec(LossKind::Dice);
  CHECK_NEAR(loss_forward<double>(dice, a, 4, 4, nullptr, b), 0.423789, 1e-6);
  dice.smooth = 0;
  CHECK_NEAR(loss_forward<double>(dice, a, 4, 4, nullptr, b), 0.458655, 1e-6);
}

void test_bad_arguments() {
  const double p[] = {0.2, 0.7, 1.5, 0.4}, ok[] = {0.2, 0.7, 0.5, 0.4}, y01[] = {0, 1, 1, 0};
  const std::int32_t idx[] = {0, 1};
  double g[4] = {9, 9, 9, 9};
  CHECK_THROWS(loss_backward<double>(default_loss_spec(LossKind::Bce), p, 2, 2, nullptr, y01, g),
               std::invalid_argument);
  CHECK(g[0] == 9);  // nothing written before the check
  const double y2[] = {0, 2, 1, 0};
  CHECK_THROWS(loss_forward<double>(default_loss_spec(LossKind::BceWithLogits), ok, 2, 2, nullptr, y2),
               std::invalid_argument);
  CHECK_THROWS(loss_forward<double>(default_loss_spec(LossKind::Hinge), ok, 2, 2, nullptr, y01),
               std::invalid_argument);
  CHECK_THROWS(loss_forward<double>(default_loss_spec(LossKind::Nll), ok, 2, 2, nullptr, y01),
               std::invalid_argument);
  CHECK_THROWS(loss_forward<double>(default_loss_spec(LossKind::Mae), ok, 2, 2, idx, nullptr),
               std::invalid_argument);
  LossSpec w = default_loss_spec(LossKind::CrossEntropy);
  w.class_weights = {1, 2, 3};
  CHECK_THROWS(loss_forward<double>(w, ok, 2, 2, idx, nullptr), std::invalid_argument);
  w.class_weights = {1, -2};
  CHECK_THROWS(validate_loss_spec(w), std::invalid_argument);
  LossSpec m = default_loss_spec(LossKind::Mse);
  m.class_weights = {1, 1};
  CHECK_THROWS(validate_loss_spec(m), std::invalid_argument);
  m = default_loss_spec(LossKind::Mse);
  m.reduction = Reduction::BatchMean;
  CHECK_THROWS(validate_loss_spec(m), std::invalid_argument);
  LossSpec d = default_loss_spec(LossKind::Dice);
  d.reduction = Reduction::None;
  CHECK_THROWS(validate_loss_spec(d), std::invalid_argument);
  double v[4];
  CHECK_THROWS(loss_values<double>(default_loss_spec(LossKind::Dice), ok, 2, 2, nullptr, y01, v),
               std::invalid_argument);
  using Mutation = void (*)(LossSpec&);
  for (Mutation bad : std::initializer_list<Mutation>{[](LossSpec& s) { s.delta = 0; }, [](LossSpec& s) { s.tau = 1; },
                   [](LossSpec& s) { s.scale = -1; }, [](LossSpec& s) { s.gamma = -1; },
                   [](LossSpec& s) { s.smooth = NAN; }, [](LossSpec& s) { s.pos_weight = 0; },
                   [](LossSpec& s) { s.alpha = NAN; }}) {
    LossSpec s = default_loss_spec(LossKind::Barron);
    bad(s);
    CHECK_THROWS(validate_loss_spec(s), std::invalid_argument);
  }
  LossSpec f = default_loss_spec(LossKind::Focal);
  f.alpha = 1.5;
  CHECK_THROWS(validate_loss_spec(f), std::invalid_argument);
}

}  // namespace

void fastmlp_test::test_loss_kinds() {
  test_every_kind();
  test_worked_numbers();
  test_bad_arguments();
}
