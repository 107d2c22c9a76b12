// Losses with PyTorch's conventions (losses.h; SPEC.md §3).
//
// All loss arithmetic is carried out in double whatever T is: the loss is
// returned as a double, the TypeScript engine evaluates it in JS numbers, and
// the extra cost is one pass over a (B, C) output, tiny next to the network.
// Gradients are rounded to T once, at the end.
//
// Cross-entropy follows torch.nn.CrossEntropyLoss:
//   ℓ_b = Σ_j q_bj (lse(z_b) − z_bj),  lse(z) = m + log Σ_j e^{z_j − m},
//   q = (1−ε)·t + ε/C  (t one-hot for class indices, or the given soft row),
//   mean = Σ_b ℓ_b / B,  sum = Σ_b ℓ_b.
// Its gradient is ∂ℓ_b/∂z_bj = softmax(z_b)_j · Σ_k q_bk − q_bj, which is the
// familiar softmax − q whenever the target row sums to 1 (always true for
// class indices); for soft rows that do not sum to 1 this is still the exact
// gradient, as autograd would compute it.
#include "losses.h"

#include <cmath>

namespace fastmlp {
namespace {

void check_loss_args(const LossSpec& spec, const void* pred, index_t B,
                     index_t C, const std::int32_t* target_idx,
                     const void* target) {
  validate_loss(spec, target_idx != nullptr, target != nullptr);
  require(B >= 1 && C >= 1, "loss: expected B >= 1 and C >= 1 but received " +
                                std::to_string(B) + ", " + std::to_string(C));
  require(pred != nullptr, "loss: pred is null");
  if (target_idx != nullptr) {
    // All indices are checked before anything is read or written, so a bad
    // label leaves dpred (and the caller's state) untouched.
    for (index_t b = 0; b < B; ++b) {
      const std::int32_t t = target_idx[b];
      if (t < 0 || t >= C)
        throw std::invalid_argument(
            "cross-entropy: expected class index in [0, " + std::to_string(C) +
            ") for target[" + std::to_string(b) + "] but received " +
            std::to_string(t));
    }
  }
}

// Mean squared error; dpred (if non-null) = 2(pred − target)·scale.
template <typename T>
double mse(const LossSpec& spec, const T* pred, index_t B, index_t C,
           const T* target, T* dpred) {
  const index_t n = B * C;
  const double scale =
      spec.reduction == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
  double total = 0;
  for (index_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(pred[i]) - static_cast<double>(target[i]);
    total += r * r;
    if (dpred) dpred[i] = static_cast<T>(2.0 * r * scale);
  }
  return total * scale;
}

// Cross-entropy from logits, one row at a time (two passes over the row: max,
// then exponentials; the gradient reuses the exponentials).
template <typename T>
double cross_entropy(const LossSpec& spec, const T* pred, index_t B, index_t C,
                     const std::int32_t* target_idx, const T* target,
                     T* dpred) {
  const double eps = spec.label_smoothing;
  const double uniform = eps / static_cast<double>(C);
  const double scale =
      spec.reduction == Reduction::Mean ? 1.0 / static_cast<double>(B) : 1.0;
  double total = 0;
  for (index_t b = 0; b < B; ++b) {
    const T* z = pred + b * C;
    double m = static_cast<double>(z[0]);
    for (index_t j = 1; j < C; ++j) {
      const double v = static_cast<double>(z[j]);
      // `!(v <= m)` also takes NaN, so a NaN logit poisons the loss.
      if (!(v <= m)) m = v;
    }
    double s = 0;
    for (index_t j = 0; j < C; ++j) s += std::exp(static_cast<double>(z[j]) - m);
    const double lse = m + std::log(s);

    double row = 0;
    double qsum = 1.0;
    if (target_idx != nullptr) {
      const index_t y = target_idx[b];
      // Σ_j q_j(lse − z_j) with q = (1−ε)·e_y + ε/C.
      row = (1.0 - eps) * (lse - static_cast<double>(z[y]));
      if (eps != 0.0) {
        double all = 0;
        for (index_t j = 0; j < C; ++j) all += lse - static_cast<double>(z[j]);
        row += uniform * all;
      }
    } else {
      const T* t = target + b * C;
      qsum = 0;
      for (index_t j = 0; j < C; ++j) {
        const double q = (1.0 - eps) * static_cast<double>(t[j]) + uniform;
        qsum += q;
        row += q * (lse - static_cast<double>(z[j]));
      }
    }
    total += row;

    if (dpred != nullptr) {
      T* g = dpred + b * C;
      for (index_t j = 0; j < C; ++j) {
        const double p = std::exp(static_cast<double>(z[j]) - lse);
        double q;
        if (target_idx != nullptr) {
          q = (j == target_idx[b] ? 1.0 - eps : 0.0) + uniform;
        } else {
          q = (1.0 - eps) * static_cast<double>(target[b * C + j]) + uniform;
        }
        g[j] = static_cast<T>((p * qsum - q) * scale);
      }
    }
  }
  return total * scale;
}

template <typename T>
double loss_impl(const LossSpec& spec, const T* pred, index_t B, index_t C,
                 const std::int32_t* target_idx, const T* target, T* dpred) {
  check_loss_args(spec, pred, B, C, target_idx, target);
  switch (spec.kind) {
    case LossKind::Mse:
      return mse(spec, pred, B, C, target, dpred);
    case LossKind::CrossEntropy:
      return cross_entropy(spec, pred, B, C, target_idx, target, dpred);
  }
  throw std::invalid_argument("loss: unknown loss kind");
}

}  // namespace

void validate_loss(const LossSpec& spec, bool has_indices, bool has_dense) {
  require(spec.kind == LossKind::Mse || spec.kind == LossKind::CrossEntropy,
          "loss: unknown loss kind");
  require(spec.reduction == Reduction::Mean || spec.reduction == Reduction::Sum,
          "loss: expected reduction 'mean' or 'sum'");
  require(std::isfinite(spec.label_smoothing) && spec.label_smoothing >= 0.0 &&
              spec.label_smoothing <= 1.0,
          "loss: expected label_smoothing in [0, 1] but received " +
              std::to_string(spec.label_smoothing));
  require(has_indices != has_dense,
          has_indices ? "loss: expected either class indices or a dense "
                        "target, not both"
                      : "loss: expected a target (class indices or a dense "
                        "matrix) but received none");
  require(!(spec.kind == LossKind::Mse && has_indices),
          "mse: expected a dense target (B, C) but received class indices");
}

template <typename T>
double loss_forward(const LossSpec& spec, const T* pred, index_t B, index_t C,
                    const std::int32_t* target_idx, const T* target) {
  return loss_impl<T>(spec, pred, B, C, target_idx, target, nullptr);
}

template <typename T>
void loss_backward(const LossSpec& spec, const T* pred, index_t B, index_t C,
                   const std::int32_t* target_idx, const T* target, T* dpred) {
  require(dpred != nullptr, "loss_backward: dpred is null");
  loss_impl<T>(spec, pred, B, C, target_idx, target, dpred);
}

template <typename T>
double loss_forward_backward(const LossSpec& spec, const T* pred, index_t B,
                             index_t C, const std::int32_t* target_idx,
                             const T* target, T* dpred) {
  require(dpred != nullptr, "loss_forward_backward: dpred is null");
  return loss_impl<T>(spec, pred, B, C, target_idx, target, dpred);
}

template double loss_forward<float>(const LossSpec&, const float*, index_t,
                                    index_t, const std::int32_t*, const float*);
template double loss_forward<double>(const LossSpec&, const double*, index_t,
                                     index_t, const std::int32_t*,
                                     const double*);
template void loss_backward<float>(const LossSpec&, const float*, index_t,
                                   index_t, const std::int32_t*, const float*,
                                   float*);
template void loss_backward<double>(const LossSpec&, const double*, index_t,
                                    index_t, const std::int32_t*,
                                    const double*, double*);
template double loss_forward_backward<float>(const LossSpec&, const float*,
                                             index_t, index_t,
                                             const std::int32_t*, const float*,
                                             float*);
template double loss_forward_backward<double>(const LossSpec&, const double*,
                                              index_t, index_t,
                                              const std::int32_t*,
                                              const double*, double*);

}  // namespace fastmlp
