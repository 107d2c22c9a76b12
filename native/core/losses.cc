// Losses with PyTorch's conventions (losses.h; SPEC.md §3): argument checks,
// the dispatch, and the row and set losses (cross-entropy, nll, dice); the
// element-wise ones are in losses_elementwise.cc.
//
// All loss arithmetic is carried out in double whatever T is: the loss is
// returned as a double, the TypeScript engine evaluates it in JS numbers, and
// the extra cost is one pass over a (B, C) output, tiny next to the network.
// Gradients are rounded to T once, at the end.
//
// Cross-entropy follows torch.nn.CrossEntropyLoss (documented semantics of
// weight and label_smoothing). Per row b, with lse(z) = m + log Σ_j e^{z_j − m},
// every variant is ℓ_b = Σ_k a_k (lse − z_k) for a coefficient row a:
//   class index y:  a_k = (1−ε)·w_y·[k = y] + (ε/C)·w_k
//   soft row t:     a_k = w_k·((1−ε)·t_k + ε/C)
// (w = 1 without class weights). 'mean' divides Σ_b ℓ_b by Σ_b w_{y_b} for
// class indices (B when unweighted) and by B for soft rows, as PyTorch does.
// The gradient is ∂ℓ_b/∂z_k = softmax(z_b)_k · Σ_j a_j − a_k: the familiar
// softmax − q when a is a distribution, and the exact gradient otherwise.
#include "losses.h"

#include <cmath>
#include <limits>

#include "js_number.h"
#include "losses_elementwise.h"

namespace fastmlp {
namespace {

const char* kind_name(LossKind k) {
  switch (k) {
    case LossKind::Mse: return "mse";
    case LossKind::CrossEntropy: return "cross-entropy";
    case LossKind::Mae: return "mae";
    case LossKind::Huber: return "huber";
    case LossKind::Tukey: return "tukey";
    case LossKind::Quantile: return "quantile";
    case LossKind::Barron: return "barron";
    case LossKind::Bce: return "bce";
    case LossKind::BceWithLogits: return "bce-with-logits";
    case LossKind::Nll: return "nll";
    case LossKind::KlDiv: return "kl-div";
    case LossKind::Hinge: return "hinge";
    case LossKind::SquaredHinge: return "squared-hinge";
    case LossKind::Dice: return "dice";
    case LossKind::Focal: return "focal";
  }
  return "unknown";
}

bool takes_class_weights(LossKind k) {
  return k == LossKind::CrossEntropy || k == LossKind::Nll || k == LossKind::Bce ||
         k == LossKind::BceWithLogits;
}

void require_range(bool ok, const char* field, double v, const char* what) {
  if (!ok)
    throw std::invalid_argument(std::string("Expected ") + what + " for loss." + field +
                                " but received " + js_number(v));
}

template <typename T>
void check_loss_args(const LossSpec& spec, const T* pred, index_t B, index_t C,
                     const std::int32_t* target_idx, const T* target) {
  validate_loss(spec, target_idx != nullptr, target != nullptr);
  require_or(B >= 1 && C >= 1, [&] {
    return "loss: expected B >= 1 and C >= 1 but received " + std::to_string(B) + ", " + std::to_string(C);
  });
  require(pred != nullptr, "loss: pred is null");
  if (!spec.class_weights.empty())
    require(static_cast<index_t>(spec.class_weights.size()) == C,
            std::string(kind_name(spec.kind)) + ": expected " + std::to_string(C) +
                " class weights (one per column) but received " +
                std::to_string(spec.class_weights.size()));
  if (target_idx != nullptr) {
    // All indices are checked before anything is read or written, so a bad
    // label leaves dpred (and the caller's state) untouched.
    for (index_t b = 0; b < B; ++b) {
      const std::int32_t t = target_idx[b];
      if (t < 0 || t >= C)
        throw std::invalid_argument(
            "Expected class indices in [0, " + std::to_string(C) + ") for target of loss '" +
            kind_name(spec.kind) + "' but received " + std::to_string(t) + " at target[" +
            std::to_string(b) + "]");
    }
  }
  if (is_elementwise_loss(spec.kind)) check_elementwise_values(spec, pred, B * C, target);
}

double weight(const LossSpec& spec, index_t c) {
  return spec.class_weights.empty() ? 1.0 : spec.class_weights[static_cast<std::size_t>(c)];
}

// Cross-entropy from logits; see the file comment. Two passes over a row (max,
// then exponentials); the gradient reuses the log-sum-exp.
template <typename T>
double cross_entropy(const LossSpec& spec, const T* pred, index_t B, index_t C,
                     const std::int32_t* target_idx, const T* target, T* dpred,
                     double* values) {
  const double eps = spec.label_smoothing, uniform = eps / static_cast<double>(C);
  double wsum = 0;  // Σ_k w_k, for the smoothing term of class-index rows
  for (index_t k = 0; k < C; ++k) wsum += weight(spec, k);
  double denom = static_cast<double>(B);
  if (target_idx != nullptr && !spec.class_weights.empty()) {
    denom = 0;
    for (index_t b = 0; b < B; ++b) denom += weight(spec, target_idx[b]);
  }
  const double scale = spec.reduction == Reduction::Mean ? 1.0 / denom : 1.0;
  // a_k for row b (see the file comment).
  auto coef = [&](index_t b, index_t k) {
    if (target_idx != nullptr)
      return (k == target_idx[b] ? (1.0 - eps) * weight(spec, k) : 0.0) + uniform * weight(spec, k);
    return weight(spec, k) * ((1.0 - eps) * static_cast<double>(target[b * C + k]) + uniform);
  };
  double total = 0;
  for (index_t b = 0; b < B; ++b) {
    const T* z = pred + b * C;
    double m = static_cast<double>(z[0]);
    for (index_t j = 1; j < C; ++j) {
      const double v = static_cast<double>(z[j]);
      if (!(v <= m)) m = v;  // `!(v <= m)` also takes NaN, so a NaN logit poisons the loss
    }
    double s = 0;
    for (index_t j = 0; j < C; ++j) s += std::exp(static_cast<double>(z[j]) - m);
    // lse − z_j as log s − (z_j − m), never m + log s first: that sum rounds
    // at the magnitude of m, losing |m|·ε (1.7e-12 relative at logits of 1e4)
    // in every loss term and probability; torch's log_softmax subtracts alike.
    const double log_s = std::log(s);
    auto lse_minus = [&](index_t j) { return log_s - (static_cast<double>(z[j]) - m); };

    double row = 0, asum = 0;
    if (target_idx != nullptr) {
      const index_t y = target_idx[b];
      const double wy = weight(spec, y);
      row = (1.0 - eps) * wy * lse_minus(y);
      asum = (1.0 - eps) * wy + uniform * wsum;
      if (eps != 0.0) {
        double all = 0;
        for (index_t j = 0; j < C; ++j) all += weight(spec, j) * lse_minus(j);
        row += uniform * all;
      }
    } else {
      for (index_t j = 0; j < C; ++j) {
        const double a = coef(b, j);
        asum += a;
        row += a * lse_minus(j);
      }
    }
    total += row;
    if (values != nullptr) values[b] = row;
    if (dpred != nullptr) {
      T* g = dpred + b * C;
      for (index_t j = 0; j < C; ++j) {
        const double p = std::exp((static_cast<double>(z[j]) - m) - log_s);
        g[j] = static_cast<T>((p * asum - coef(b, j)) * scale);
      }
    }
  }
  return total * scale;
}

// torch.nn.NLLLoss: ℓ_b = −w_y·x_{b,y}; 'mean' divides by Σ_b w_{y_b}.
template <typename T>
double nll(const LossSpec& spec, const T* pred, index_t B, index_t C,
           const std::int32_t* target_idx, T* dpred, double* values) {
  double denom = 0, total = 0;
  for (index_t b = 0; b < B; ++b) denom += weight(spec, target_idx[b]);
  const double scale = spec.reduction == Reduction::Mean ? 1.0 / denom : 1.0;
  for (index_t b = 0; b < B; ++b) {
    const index_t y = target_idx[b];
    const double w = weight(spec, y), v = -w * static_cast<double>(pred[b * C + y]);
    total += v;
    if (values != nullptr) values[b] = v;
    if (dpred != nullptr) {
      for (index_t j = 0; j < C; ++j) dpred[b * C + j] = T(0);
      dpred[b * C + y] = static_cast<T>(-w * scale);
    }
  }
  return total * scale;
}

// Soft dice over the whole batch: D = 1 − N/M with N = 2Σab + s and
// M = Σa² + Σb² + s, so ∂D/∂a_i = (2a_i·N − 2b_i·M) / M².
template <typename T>
double dice(const LossSpec& spec, const T* a, index_t n, const T* b, T* dpred) {
  double ab = 0, aa = 0, bb = 0;
  for (index_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  const double num = 2 * ab + spec.smooth, den = aa + bb + spec.smooth;
  if (dpred != nullptr) {
    for (index_t i = 0; i < n; ++i)
      dpred[i] = static_cast<T>((2 * static_cast<double>(a[i]) * num -
                                 2 * static_cast<double>(b[i]) * den) / (den * den));
  }
  return 1.0 - num / den;
}

template <typename T>
double loss_impl(const LossSpec& spec, const T* pred, index_t B, index_t C,
                 const std::int32_t* target_idx, const T* target, T* dpred,
                 double* values) {
  check_loss_args(spec, pred, B, C, target_idx, target);
  switch (spec.kind) {
    case LossKind::CrossEntropy:
      return cross_entropy(spec, pred, B, C, target_idx, target, dpred, values);
    case LossKind::Nll:
      return nll(spec, pred, B, C, target_idx, dpred, values);
    case LossKind::Dice:
      require(values == nullptr, "dice: there are no per-element values (reduction 'mean' only)");
      return dice(spec, pred, B * C, target, dpred);
    default:
      return elementwise_loss(spec, pred, B, C, target, dpred, values);
  }
}

}  // namespace

LossSpec default_loss_spec(LossKind kind) {
  LossSpec s;
  s.kind = kind;
  if (kind == LossKind::Tukey) s.delta = 4.685;
  if (kind == LossKind::Focal) s.alpha = 0.25;
  return s;
}

void validate_loss_spec(const LossSpec& spec) {
  require(static_cast<int>(spec.kind) >= 0 && static_cast<int>(spec.kind) <= static_cast<int>(LossKind::Focal),
          "loss: unknown loss kind");
  const char* name = kind_name(spec.kind);
  require(spec.reduction == Reduction::Mean || spec.reduction == Reduction::Sum ||
              spec.reduction == Reduction::None || spec.reduction == Reduction::BatchMean,
          "loss: unknown reduction");
  require_or(spec.reduction != Reduction::BatchMean || spec.kind == LossKind::KlDiv,
             [&] { return std::string(name) + ": reduction 'batchmean' applies to kl-div only"; });
  require(spec.kind != LossKind::Dice || spec.reduction == Reduction::Mean,
          "dice: expected reduction 'mean' (dice is one value for the whole batch)");
  require_range(spec.label_smoothing >= 0.0 && spec.label_smoothing <= 1.0, "label_smoothing",
                spec.label_smoothing, "a number in [0, 1]");
  require_range(std::isfinite(spec.delta) && spec.delta > 0, "delta", spec.delta, "a finite number > 0");
  require_range(spec.tau > 0 && spec.tau < 1, "tau", spec.tau, "a number in (0, 1)");
  require_range(std::isfinite(spec.scale) && spec.scale > 0, "scale", spec.scale, "a finite number > 0");
  require_range(std::isfinite(spec.gamma) && spec.gamma >= 0, "gamma", spec.gamma, "a finite number >= 0");
  require_range(std::isfinite(spec.smooth) && spec.smooth >= 0, "smooth", spec.smooth, "a finite number >= 0");
  require_range(std::isfinite(spec.pos_weight) && spec.pos_weight > 0, "pos_weight", spec.pos_weight,
                "a finite number > 0");
  if (spec.kind == LossKind::Focal)
    require_range(spec.alpha >= 0 && spec.alpha <= 1, "alpha", spec.alpha, "a number in [0, 1]");
  else
    require_range(!std::isnan(spec.alpha) && spec.alpha < std::numeric_limits<double>::infinity(),
                  "alpha", spec.alpha, "a number or -Infinity");
  require_or(spec.class_weights.empty() || takes_class_weights(spec.kind), [&] {
    return std::string(name) + ": class weights apply to cross-entropy, nll, bce and bce-with-logits only";
  });
  for (double w : spec.class_weights)
    require_range(std::isfinite(w) && w >= 0, "class_weights", w, "finite weights >= 0");
}

void validate_loss(const LossSpec& spec, bool has_indices, bool has_dense) {
  validate_loss_spec(spec);
  const char* name = kind_name(spec.kind);
  require(has_indices != has_dense,
          has_indices ? "loss: expected either class indices or a dense "
                        "target, not both"
                      : "loss: expected a target (class indices or a dense "
                        "matrix) but received none");
  require_or(!has_indices || spec.kind == LossKind::CrossEntropy || spec.kind == LossKind::Nll,
             [&] { return std::string(name) + ": expected a dense target (B, C) but received class indices"; });
  require(!has_dense || spec.kind != LossKind::Nll,
          "nll: expected class indices but received a dense target");
}

index_t loss_value_count(LossKind kind, index_t B, index_t C) {
  if (kind == LossKind::Dice) return 0;
  if (kind == LossKind::CrossEntropy || kind == LossKind::Nll) return B;
  return B * C;
}

template <typename T>
double loss_forward(const LossSpec& spec, const T* pred, index_t B, index_t C,
                    const std::int32_t* target_idx, const T* target) {
  return loss_impl<T>(spec, pred, B, C, target_idx, target, nullptr, nullptr);
}

template <typename T>
void loss_backward(const LossSpec& spec, const T* pred, index_t B, index_t C,
                   const std::int32_t* target_idx, const T* target, T* dpred) {
  require(dpred != nullptr, "loss_backward: dpred is null");
  loss_impl<T>(spec, pred, B, C, target_idx, target, dpred, nullptr);
}

template <typename T>
double loss_forward_backward(const LossSpec& spec, const T* pred, index_t B,
                             index_t C, const std::int32_t* target_idx,
                             const T* target, T* dpred) {
  require(dpred != nullptr, "loss_forward_backward: dpred is null");
  return loss_impl<T>(spec, pred, B, C, target_idx, target, dpred, nullptr);
}

template <typename T>
void loss_values(const LossSpec& spec, const T* pred, index_t B, index_t C,
                 const std::int32_t* target_idx, const T* target, double* out) {
  require(out != nullptr, "loss_values: out is null");
  loss_impl<T>(spec, pred, B, C, target_idx, target, nullptr, out);
}

#define FASTMLP_LOSS_INSTANTIATE(T)                                                           \
  template double loss_forward<T>(const LossSpec&, const T*, index_t, index_t,                \
                                  const std::int32_t*, const T*);                             \
  template void loss_backward<T>(const LossSpec&, const T*, index_t, index_t,                 \
                                 const std::int32_t*, const T*, T*);                          \
  template double loss_forward_backward<T>(const LossSpec&, const T*, index_t, index_t,       \
                                           const std::int32_t*, const T*, T*);                \
  template void loss_values<T>(const LossSpec&, const T*, index_t, index_t,                   \
                               const std::int32_t*, const T*, double*);
FASTMLP_LOSS_INSTANTIATE(float)
FASTMLP_LOSS_INSTANTIATE(double)
#undef FASTMLP_LOSS_INSTANTIATE

}  // namespace fastmlp
