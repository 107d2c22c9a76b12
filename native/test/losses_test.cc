// Tests of every loss kind in the core (losses.h): finite differences for
// each kind, option and reduction in double, SPEC.md §7's worked numbers,
// loss_values against the reductions, and the argument checks.
#include <cmath>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "losses.h"

using namespace fastmlp;
using namespace fastmlp_test;

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
