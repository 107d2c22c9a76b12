// Optimizer updates over flat parameter buffers, PyTorch's conventions
// (torch.optim docs; SPEC.md §4):
//  SGD:   g += λθ; v = μv + (1−dampening)g (v = g on the first step);
//         nesterov: g = g + μv, else g = v (when μ ≠ 0); θ −= lr·g
//  Adam:  g += λθ; m = β1m + (1−β1)g; v = β2v + (1−β2)g²;
//         θ −= lr · (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
//  AdamW: θ −= lr·λθ (decoupled), then Adam with no coupled decay.
#pragma once

#include <vector>

#include "common.h"

namespace fastmlp {

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::Sgd;
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// Throws std::invalid_argument for out-of-range hyper-parameters
// (lr < 0, momentum < 0, betas outside [0,1), eps <= 0, nesterov without
// momentum or with dampening, ...). Non-finite values are rejected.
void validate_optimizer(const OptimizerSpec& spec);

// How many T of optimizer state the spec needs for n parameters
// (SGD without momentum 0, SGD with momentum n, Adam/AdamW 2n).
index_t optimizer_state_size(const OptimizerSpec& spec, index_t n);

// One update of n parameters. `state` holds optimizer_state_size() values
// (zero-initialised before the first step); `step` counts from 1.
template <typename T>
void optimizer_update(const OptimizerSpec& spec, T* param, const T* grad,
                      T* state, index_t n, std::int64_t step);

}  // namespace fastmlp
