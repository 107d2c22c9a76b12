// Optimizer updates over flat buffers (optim.h), PyTorch's formulas:
//  - torch.optim.SGD: https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
//    (momentum buffer = g on the first step, no dampening then; nesterov
//    uses g + μv).
//  - torch.optim.Adam / AdamW: .../torch.optim.Adam.html, .../torch.optim.AdamW.html
//    (ε added outside the square root; AdamW decays θ by lr·λ before the
//    Adam step). The Adam step is evaluated in PyTorch's own arrangement,
//    θ −= (lr/bc1) · m / (√v/√bc2 + ε), bc_i = 1 − β_iᵗ, which equals the
//    header's formula up to rounding.
//
// Each update is one pass over contiguous memory. The arithmetic is done in
// double and rounded to T on store: the loop is memory-bound, so this is free,
// and it keeps float32 results within one rounding of the TypeScript engine
// (which computes in JS numbers).
#include "optim.h"

#include <cmath>

namespace fastmlp {
namespace {

void require_finite(double v, const char* name) {
  require(std::isfinite(v), std::string("optimizer: expected a finite ") +
                                name + " but received " + std::to_string(v));
}

template <typename T>
void sgd_update(const OptimizerSpec& s, T* param, const T* grad, T* state,
                index_t n, std::int64_t step) {
  const double lr = s.lr, wd = s.weight_decay, mu = s.momentum;
  if (mu == 0.0) {
    for (index_t i = 0; i < n; ++i) {
      const double p = static_cast<double>(param[i]);
      const double g = static_cast<double>(grad[i]) + wd * p;
      param[i] = static_cast<T>(p - lr * g);
    }
    return;
  }
  const double keep = 1.0 - s.dampening;
  const bool first = step == 1;
  for (index_t i = 0; i < n; ++i) {
    const double p = static_cast<double>(param[i]);
    double g = static_cast<double>(grad[i]) + wd * p;
    // PyTorch creates the buffer as a copy of g on the first step: no
    // dampening is applied to it.
    const double v =
        first ? g : mu * static_cast<double>(state[i]) + keep * g;
    state[i] = static_cast<T>(v);
    g = s.nesterov ? g + mu * v : v;
    param[i] = static_cast<T>(p - lr * g);
  }
}

// state = [m (n) | v (n)]
template <typename T>
void adam_update(const OptimizerSpec& s, T* param, const T* grad, T* state,
                 index_t n, std::int64_t step, bool decoupled) {
  const double lr = s.lr, b1 = s.beta1, b2 = s.beta2, eps = s.eps;
  const double t = static_cast<double>(step);
  const double bc1 = 1.0 - std::pow(b1, t);
  const double bc2 = 1.0 - std::pow(b2, t);
  const double step_size = lr / bc1;
  const double bc2_sqrt = std::sqrt(bc2);
  // AdamW: θ ← θ(1 − lr·λ) first; Adam: g ← g + λθ.
  const double decay = decoupled ? 1.0 - lr * s.weight_decay : 1.0;
  const double coupled = decoupled ? 0.0 : s.weight_decay;
  T* m = state;
  T* v = state + n;
  for (index_t i = 0; i < n; ++i) {
    const double p = static_cast<double>(param[i]) * decay;
    const double g = static_cast<double>(grad[i]) + coupled * p;
    const double mi = b1 * static_cast<double>(m[i]) + (1.0 - b1) * g;
    const double vi = b2 * static_cast<double>(v[i]) + (1.0 - b2) * g * g;
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
    const double denom = std::sqrt(vi) / bc2_sqrt + eps;
    param[i] = static_cast<T>(p - step_size * mi / denom);
  }
}

}  // namespace

void validate_optimizer(const OptimizerSpec& s) {
  require(s.kind == OptimizerKind::Sgd || s.kind == OptimizerKind::Adam ||
              s.kind == OptimizerKind::AdamW,
          "optimizer: unknown optimizer kind");
  require_finite(s.lr, "lr");
  require_finite(s.momentum, "momentum");
  require_finite(s.dampening, "dampening");
  require_finite(s.weight_decay, "weight_decay");
  require_finite(s.beta1, "beta1");
  require_finite(s.beta2, "beta2");
  require_finite(s.eps, "eps");
  require(s.lr >= 0, "optimizer: expected lr >= 0 but received " +
                         std::to_string(s.lr));
  require(s.weight_decay >= 0,
          "optimizer: expected weight_decay >= 0 but received " +
              std::to_string(s.weight_decay));
  if (s.kind == OptimizerKind::Sgd) {
    require(s.momentum >= 0, "sgd: expected momentum >= 0 but received " +
                                 std::to_string(s.momentum));
    require(s.dampening >= 0 && s.dampening <= 1,
            "sgd: expected dampening in [0, 1] but received " +
                std::to_string(s.dampening));
    // As torch.optim.SGD: Nesterov momentum requires a momentum and zero
    // dampening.
    require(!s.nesterov || (s.momentum > 0 && s.dampening == 0),
            "sgd: nesterov requires momentum > 0 and dampening = 0");
  } else {
    require(s.beta1 >= 0 && s.beta1 < 1,
            "adam: expected beta1 in [0, 1) but received " +
                std::to_string(s.beta1));
    require(s.beta2 >= 0 && s.beta2 < 1,
            "adam: expected beta2 in [0, 1) but received " +
                std::to_string(s.beta2));
    require(s.eps > 0, "adam: expected eps > 0 but received " +
                           std::to_string(s.eps));
  }
}

index_t optimizer_state_size(const OptimizerSpec& spec, index_t n) {
  switch (spec.kind) {
    case OptimizerKind::Sgd:
      return spec.momentum != 0.0 ? n : 0;
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW:
      return 2 * n;
  }
  throw std::invalid_argument("optimizer: unknown optimizer kind");
}

template <typename T>
void optimizer_update(const OptimizerSpec& spec, T* param, const T* grad,
                      T* state, index_t n, std::int64_t step) {
  require(n >= 0, "optimizer_update: expected n >= 0");
  require(step >= 1, "optimizer_update: expected step >= 1 but received " +
                         std::to_string(step));
  if (n == 0) return;
  require(param != nullptr && grad != nullptr,
          "optimizer_update: null param or grad");
  require(optimizer_state_size(spec, n) == 0 || state != nullptr,
          "optimizer_update: null state");
  switch (spec.kind) {
    case OptimizerKind::Sgd:
      return sgd_update(spec, param, grad, state, n, step);
    case OptimizerKind::Adam:
      return adam_update(spec, param, grad, state, n, step, false);
    case OptimizerKind::AdamW:
      return adam_update(spec, param, grad, state, n, step, true);
  }
  throw std::invalid_argument("optimizer: unknown optimizer kind");
}

template void optimizer_update<float>(const OptimizerSpec&, float*,
                                      const float*, float*, index_t,
                                      std::int64_t);
template void optimizer_update<double>(const OptimizerSpec&, double*,
                                       const double*, double*, index_t,
                                       std::int64_t);

}  // namespace fastmlp
