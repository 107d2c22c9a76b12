// Element-wise losses (losses.h has the table). Each kernel maps one element
// (prediction p, target t) to its value v and dv/dp; one loop applies the
// per-column class weight and the reduction. Arithmetic is in double whatever
// T is (see losses.cc); gradients are rounded to T once.
#include "losses_elementwise.h"

#include <cmath>
#include <limits>
#include <string>

#include "js_number.h"

namespace fastmlp {
namespace {

struct Term {
  double value;
  double grad;  // dvalue/dpred
};

double sign(double r) { return r > 0 ? 1.0 : (r < 0 ? -1.0 : 0.0); }

// σ(x) without overflow for large |x|.
double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// log(1 + e^{−|z|}) + max(−z, 0) = log(1 + e^{−z}), without overflow.
double log1p_exp_neg(double z) {
  return std::log1p(std::exp(-std::fabs(z))) + std::max(-z, 0.0);
}

Term mse(double p, double t) {
  const double r = p - t;
  return {r * r, 2 * r};
}

// torch.nn.L1Loss: the gradient at r = 0 is sign(0) = 0.
Term mae(double p, double t) {
  const double r = p - t;
  return {std::fabs(r), sign(r)};
}

Term huber(double p, double t, double delta) {
  const double r = p - t, a = std::fabs(r);
  if (a <= delta) return {0.5 * r * r, r};
  return {delta * (a - 0.5 * delta), delta * sign(r)};
}

// Tukey's biweight ρ; its derivative ψ(r) = r(1 − r²/δ²)² inside, 0 outside.
Term tukey(double p, double t, double delta) {
  const double r = p - t, d2 = delta * delta;
  if (std::fabs(r) > delta) return {d2 / 6, 0};
  const double u = 1 - r * r / d2;
  return {d2 / 6 * (1 - u * u * u), r * u * u};
}

// Pinball loss of u = t − p; at the kink u = 0 the gradient is the midpoint
// of the two slopes, 0.5 − τ (0 for the median, as L1's sign(0)). A NaN u
// stays NaN, as torch.maximum(τu, (τ−1)u) gives: it used to fall through to
// the kink's 0, so a NaN prediction scored a finite loss.
Term quantile(double p, double t, double tau) {
  const double u = t - p;
  if (u > 0) return {tau * u, -tau};
  if (u < 0) return {(tau - 1) * u, 1 - tau};
  if (u == 0) return {0, 0.5 - tau};
  return {u, u};
}

// Barron 2019, "A General and Adaptive Robust Loss Function", eq. 1 and its
// limits: α = 2 → ½z, α = 0 → log(½z + 1), α = −∞ → 1 − e^{−z/2}, with
// z = (x/c)². The general case is written as (b/α)·expm1((α/2)·log1p(z/b)),
// b = |α − 2|, which stays accurate for α near 0; its derivative in x is
// (x/c²)·(z/b + 1)^{α/2 − 1}.
Term barron(double p, double t, double alpha, double c) {
  const double x = p - t, c2 = c * c, z = x * x / c2;
  if (alpha == 2) return {0.5 * z, x / c2};
  if (alpha == 0) return {std::log1p(0.5 * z), 2 * x / (x * x + 2 * c2)};
  if (alpha == -std::numeric_limits<double>::infinity()) {
    const double e = std::exp(-0.5 * z);
    return {-std::expm1(-0.5 * z), x / c2 * e};
  }
  const double b = std::fabs(alpha - 2), l = std::log1p(z / b);
  return {b / alpha * std::expm1(0.5 * alpha * l), x / c2 * std::exp((0.5 * alpha - 1) * l)};
}

// torch.nn.BCELoss: each log clamped at −100 so p = 0 or 1 stays finite; its
// gradient (p − t) / max(p(1 − p), 1e-12), as PyTorch's backward.
Term bce(double p, double t) {
  const double lp = std::max(std::log(p), -100.0), lq = std::max(std::log1p(-p), -100.0);
  return {-(t * lp + (1 - t) * lq), (p - t) / std::max(p * (1 - p), 1e-12)};
}

// torch.nn.BCEWithLogitsLoss with pos_weight: (1 − t)z + (1 + (pw − 1)t)·log(1 + e^{−z});
// derivative (1 − t) − (1 + (pw − 1)t)·σ(−z), which is σ(z) − t for pw = 1.
Term bce_logits(double z, double t, double pw) {
  const double lw = 1 + (pw - 1) * t;
  return {(1 - t) * z + lw * log1p_exp_neg(z), (1 - t) - lw * sigmoid(-z)};
}

// torch.nn.KLDivLoss pointwise term with log-prob input x: t(log t − x), 0 at t = 0.
Term kl_div(double x, double t) {
  return {t > 0 ? t * (std::log(t) - x) : 0.0, -t};
}

// max(0, m) of the margin m = 1 − t·p; a NaN m stays NaN, as torch.clamp(m, min=0)
// gives (it used to score 0: a NaN prediction looked perfectly classified).
Term hinge(double p, double t) {
  const double m = 1 - t * p;
  if (m > 0) return {m, -t};
  return m <= 0 ? Term{0, 0} : Term{m, m};
}

Term squared_hinge(double p, double t) {
  const double m = 1 - t * p;
  if (m > 0) return {m * m, -2 * t * m};
  return m <= 0 ? Term{0, 0} : Term{m, m};
}

// Lin et al. 2017 on logits z with binary (or soft) targets t, as
// torchvision.ops.sigmoid_focal_loss: ce = bce-with-logits(z, t),
// 1 − p_t = (1 − p)t + p(1 − t), α_t = αt + (1 − α)(1 − t),
// v = α_t (1 − p_t)^γ ce. dv/dz = α_t[(p − t)(1 − p_t)^γ
//   − γ(1 − p_t)^{γ−1} · p(1 − p)(2t − 1) · ce].
Term focal(double z, double t, double alpha, double gamma) {
  const double p = sigmoid(z), q = sigmoid(-z);
  const double ce = std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::fabs(z)));
  const double one_minus_pt = q * t + p * (1 - t);
  const double at = alpha * t + (1 - alpha) * (1 - t);
  const double mod = std::pow(one_minus_pt, gamma);
  double dmod = 0;
  if (gamma != 0 && one_minus_pt > 0)
    dmod = -gamma * std::pow(one_minus_pt, gamma - 1) * p * q * (2 * t - 1);
  return {at * mod * ce, at * ((p - t) * mod + ce * dmod)};
}

template <typename T, typename F>
double run(const LossSpec& spec, const T* pred, index_t B, index_t C, const T* target,
           T* dpred, double* values, F term) {
  double scale = 1.0;
  if (spec.reduction == Reduction::Mean) scale = 1.0 / static_cast<double>(B * C);
  if (spec.reduction == Reduction::BatchMean) scale = 1.0 / static_cast<double>(B);
  const bool weighted = !spec.class_weights.empty();
  double total = 0;
  for (index_t b = 0; b < B; ++b) {
    for (index_t c = 0; c < C; ++c) {
      const index_t i = b * C + c;
      const Term v = term(static_cast<double>(pred[i]), static_cast<double>(target[i]));
      const double w = weighted ? spec.class_weights[static_cast<std::size_t>(c)] : 1.0;
      total += w * v.value;
      if (values) values[i] = w * v.value;
      if (dpred) dpred[i] = static_cast<T>(w * v.grad * scale);
    }
  }
  return total * scale;
}

}  // namespace

bool is_elementwise_loss(LossKind kind) {
  return kind != LossKind::CrossEntropy && kind != LossKind::Nll && kind != LossKind::Dice;
}

// The messages read as the TypeScript engine's (lib/engines/js/losses-elementwise.ts),
// numbers as JS writes them (js_number.h): they reach users through the binding.
[[noreturn]] static void bad_value(const char* what, const char* name, const char* kind, double v, index_t i) {
  throw std::invalid_argument(std::string("Expected ") + what + " for " + name + " of loss '" + kind +
                              "' but received " + js_number(v) + " at index " + std::to_string(i));
}

template <typename T>
void check_elementwise_values(const LossSpec& spec, const T* pred, index_t n,
                              const T* target) {
  for (index_t i = 0; i < n; ++i) {
    const double p = static_cast<double>(pred[i]), t = static_cast<double>(target[i]);
    switch (spec.kind) {
      case LossKind::Bce:
        if (p < 0 || p > 1) bad_value("probabilities in [0, 1]", "pred", "bce", p, i);
        if (!(t >= 0 && t <= 1)) bad_value("targets in [0, 1]", "target", "bce", t, i);
        break;
      case LossKind::BceWithLogits:
      case LossKind::Focal:
        if (!(t >= 0 && t <= 1))
          bad_value("targets in [0, 1]", "target", spec.kind == LossKind::Focal ? "focal" : "bce-with-logits", t, i);
        break;
      case LossKind::Hinge:
      case LossKind::SquaredHinge:
        if (t != 1 && t != -1)
          bad_value("labels -1 or 1", "target", spec.kind == LossKind::Hinge ? "hinge" : "squared-hinge", t, i);
        break;
      case LossKind::KlDiv:
        if (!(t >= 0)) bad_value("probabilities (>= 0)", "target", "kl-div", t, i);
        break;
      default:
        return;  // no range to check
    }
  }
}

template <typename T>
double elementwise_loss(const LossSpec& spec, const T* pred, index_t B, index_t C,
                        const T* target, T* dpred, double* values) {
  const double delta = spec.delta, tau = spec.tau, alpha = spec.alpha, c = spec.scale;
  const double pw = spec.pos_weight, gamma = spec.gamma;
  auto go = [&](auto term) { return run(spec, pred, B, C, target, dpred, values, term); };
  switch (spec.kind) {
    case LossKind::Mse: return go(mse);
    case LossKind::Mae: return go(mae);
    case LossKind::Huber: return go([=](double p, double t) { return huber(p, t, delta); });
    case LossKind::Tukey: return go([=](double p, double t) { return tukey(p, t, delta); });
    case LossKind::Quantile: return go([=](double p, double t) { return quantile(p, t, tau); });
    case LossKind::Barron: return go([=](double p, double t) { return barron(p, t, alpha, c); });
    case LossKind::Bce: return go(bce);
    case LossKind::BceWithLogits: return go([=](double z, double t) { return bce_logits(z, t, pw); });
    case LossKind::KlDiv: return go(kl_div);
    case LossKind::Hinge: return go(hinge);
    case LossKind::SquaredHinge: return go(squared_hinge);
    case LossKind::Focal: return go([=](double z, double t) { return focal(z, t, alpha, gamma); });
    default: break;
  }
  throw std::invalid_argument("loss: not an element-wise loss");
}

template void check_elementwise_values<float>(const LossSpec&, const float*, index_t, const float*);
template void check_elementwise_values<double>(const LossSpec&, const double*, index_t, const double*);
template double elementwise_loss<float>(const LossSpec&, const float*, index_t, index_t,
                                        const float*, float*, double*);
template double elementwise_loss<double>(const LossSpec&, const double*, index_t, index_t,
                                         const double*, double*, double*);

}  // namespace fastmlp
