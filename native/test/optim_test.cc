// Core tests of the optimizers (optim.h): two steps of each optimizer and
// option on θ = [1, −2, 0.5], float and double, against values worked by hand
// from the header's formulas (SGD with momentum, Nesterov and dampening;
// weight decay; Adam, Adam with coupled decay, AdamW) and from torch 1.13
// (Adagrad, RMSprop, amsgrad, clipping); the state layout's sizes and
// compatibility; and the option checks. Part of fastmlp_core_test
// (core_test.cc runs them); the subnormal flush and overflowing updates have
// their own programs (optim_flush_test.cc, optim_overflow_test.cc).
#include <cmath>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "optim.h"

using namespace fastmlp;
using namespace fastmlp_test;

// Two steps on θ = [1, −2, 0.5] with g1 = [0.1, −0.2, 0.3], g2 = [0.4, 0, −0.1].

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

void fastmlp_test::test_optim() {
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
