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
// Each update is one pass over contiguous memory, split across the thread
// pool. Per-element arithmetic is in T so that it vectorises 4 (float) or 2
// (double) wide even in the SSE2 baseline build (computing float updates in
// double made Adam ~35 % of a 784-512-256-10 training step); float32 results
// stay within a few roundings of the TypeScript engine's, which the parity
// tests bound at 1e-5.
#include "optim.h"

#include <cmath>

#include "threads.h"

namespace fastmlp {
namespace {

void require_finite(double v, const char* name) {
  require(std::isfinite(v), std::string("optimizer: expected a finite ") +
                                name + " but received " + std::to_string(v));
}

template <typename T>
void sgd_update(const OptimizerSpec& s, T* param, const T* grad, T* velocity,
                index_t n, std::int64_t step) {
  const T lr = T(s.lr), wd = T(s.weight_decay), mu = T(s.momentum);
  if (s.momentum == 0.0) {
    for (index_t i = 0; i < n; ++i) param[i] -= lr * (grad[i] + wd * param[i]);
    return;
  }
  const T keep = T(1.0 - s.dampening);
  const bool first = step == 1;
  for (index_t i = 0; i < n; ++i) {
    T g = grad[i] + wd * param[i];
    // PyTorch creates the buffer as a copy of g on the first step: no
    // dampening is applied to it.
    const T v = first ? g : mu * velocity[i] + keep * g;
    velocity[i] = v;
    g = s.nesterov ? g + mu * v : v;
    param[i] -= lr * g;
  }
}

template <typename T>
void adam_update(const OptimizerSpec& s, T* param, const T* grad, T* m, T* v,
                 index_t n, std::int64_t step, bool decoupled) {
  // Scalars in double (β^t for large t), the per-element work in T.
  const double t = static_cast<double>(step);
  const double bc1 = 1.0 - std::pow(s.beta1, t);
  const double bc2 = 1.0 - std::pow(s.beta2, t);
  const T b1 = T(s.beta1), b2 = T(s.beta2), eps = T(s.eps);
  const T step_size = T(s.lr / bc1);
  const T inv_bc2_sqrt = T(1.0 / std::sqrt(bc2));
  // AdamW: θ ← θ(1 − lr·λ) first; Adam: g ← g + λθ.
  const T decay = T(decoupled ? 1.0 - s.lr * s.weight_decay : 1.0);
  const T coupled = T(decoupled ? 0.0 : s.weight_decay);
  for (index_t i = 0; i < n; ++i) {
    const T p = param[i] * decay;
    const T g = grad[i] + coupled * p;
    const T mi = b1 * m[i] + (T(1) - b1) * g;
    const T vi = b2 * v[i] + (T(1) - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - step_size * mi / (std::sqrt(vi) * inv_bc2_sqrt + eps);
  }
}

// Chunks of the flat buffers per thread: the update is memory-bound on large
// networks, so a second core adds bandwidth; small ones stay on one thread.
constexpr index_t kUpdateGrain = 1 << 15;

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
  if (spec.kind != OptimizerKind::Sgd && spec.kind != OptimizerKind::Adam &&
      spec.kind != OptimizerKind::AdamW)
    throw std::invalid_argument("optimizer: unknown optimizer kind");
  // state = [velocity (n)] for SGD with momentum, [m (n) | v (n)] for Adam(W).
  parallel_for(n, kUpdateGrain, [&](index_t begin, index_t end) {
    const index_t count = end - begin;
    if (spec.kind == OptimizerKind::Sgd)
      sgd_update(spec, param + begin, grad + begin, state ? state + begin : nullptr, count, step);
    else
      adam_update(spec, param + begin, grad + begin, state + begin, state + n + begin, count,
                  step, spec.kind == OptimizerKind::AdamW);
  });
}

template void optimizer_update<float>(const OptimizerSpec&, float*,
                                      const float*, float*, index_t,
                                      std::int64_t);
template void optimizer_update<double>(const OptimizerSpec&, double*,
                                       const double*, double*, index_t,
                                       std::int64_t);

}  // namespace fastmlp
