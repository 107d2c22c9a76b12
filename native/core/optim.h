// Optimizer updates over flat parameter buffers, PyTorch's conventions
// (torch.optim docs; SPEC.md §4; ε outside the square root). g is the
// gradient after clipping (below); λ the coupled weight decay:
//  SGD:     g += λθ; v = μv + (1−dampening)g (v = g on the first step);
//           nesterov: g = g + μv, else g = v (when μ ≠ 0); θ −= lr·g
//  Adagrad: g += λθ; clr = lr / (1 + (t−1)·lr_decay);
//           G = G + g² (G starts at initial_accumulator_value); θ −= clr·g/(√G + ε)
//  (maximize: g = −g first, as torch.optim's maximize)
//  RMSprop: g += λθ; s = αs + (1−α)g²; centered: a = αa + (1−α)g, d = √(s − a²) + ε,
//           else d = √s + ε; momentum μ > 0: b = μb + g/d, θ −= lr·b; else θ −= lr·g/d
//  Adam:    g += λθ; m = β1m + (1−β1)g; v = β2v + (1−β2)g²;
//           amsgrad: v̂max = max(v̂max, v), used in place of v below;
//           θ −= lr · (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
//  AdamW:   θ −= lr·λθ (decoupled), then Adam with no coupled decay.
// Gradient clipping, over all n parameters before the update and without
// touching `grad` (it scales and clamps each gradient as it is read):
//  clip_norm > 0:  g ·= min(1, clip_norm / (‖g‖₂ + 1e-6))  (torch.nn.utils.clip_grad_norm_)
//  clip_value > 0: g = clamp(g, −clip_value, clip_value)    (torch.nn.utils.clip_grad_value_)
// in that order (norm first, as Keras applies clipnorm before clipvalue).
// Decaying state (SGD's velocity, RMSprop's averages and buffer, Adam's m, v
// and max v) is stored as 0 where it would be subnormal (optim_numerics.inc
// explains why and proves that the parameters do not change).
#pragma once

#include <vector>

#include "common.h"

namespace fastmlp {

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::Sgd;
  double lr = 0.01;
  double momentum = 0.0;   // SGD and RMSprop
  double dampening = 0.0;  // SGD
  bool nesterov = false;   // SGD
  double weight_decay = 0.0;
  double beta1 = 0.9;      // Adam/AdamW
  double beta2 = 0.999;    // Adam/AdamW
  double eps = 1e-8;       // Adam/AdamW/RMSprop/Adagrad (Adagrad's torch default is 1e-10)
  bool amsgrad = false;    // Adam/AdamW
  double alpha = 0.99;     // RMSprop
  bool centered = false;   // RMSprop
  double lr_decay = 0.0;   // Adagrad
  double initial_accumulator_value = 0.0;  // Adagrad
  double clip_norm = 0.0;  // 0: off
  double clip_value = 0.0; // 0: off
  // Gradient ascent, as torch.optim's `maximize` (SGD, Adagrad, RMSprop,
  // Adam, AdamW in torch 1.13): the update reads −g in place of g, before the
  // weight decay is added. Done by negating the clipping scale (make_clip):
  // the clamp bounds are symmetric, so clamp(−c·g) = −clamp(c·g) exactly.
  bool maximize = false;
  // Stores decaying state values below the smallest normal number as 0 (see
  // optim_numerics.inc, "Subnormal state"), and squares a tiny gradient whose
  // square would be subnormal as 0 ("Tiny gradients"). Only tests and benchmarks
  // turn it off, to compare with PyTorch's behaviour; the public API has no
  // such option.
  bool flush_subnormal = true;
};

// Throws std::invalid_argument for out-of-range hyper-parameters
// (lr < 0, momentum < 0, betas outside [0,1), eps <= 0, nesterov without
// momentum or with dampening, ...). Non-finite values are rejected.
void validate_optimizer(const OptimizerSpec& spec);

// How many T of optimizer state the spec needs for n parameters, laid out as
//  SGD      [velocity] when momentum ≠ 0, else nothing
//  Adagrad  [sum of squares]
//  RMSprop  [square avg][grad avg if centered][momentum buffer if momentum > 0]
//  Adam(W)  [m][v][max v if amsgrad]
index_t optimizer_state_size(const OptimizerSpec& spec, index_t n);

// True when state built for `a` means the same for `b` (same kind and slice
// layout), so switching from a to b may keep the state and the step count —
// as changing hyper-parameters in a torch param_group does.
bool optimizer_state_compatible(const OptimizerSpec& a, const OptimizerSpec& b);

// One update of n parameters. `state` holds optimizer_state_size() values
// (zero-initialised before the first step); `step` counts from 1.
// Returns true when every element was updated. An element whose new
// parameter or state would be NaN or ±Infinity (an update that overflows, from
// finite values) keeps its parameter and state exactly as they were; the
// others are updated, and the result is false (optim_numerics.inc,
// "Updates that overflow", says why not all-or-nothing).
template <typename T>
bool optimizer_update(const OptimizerSpec& spec, T* param, const T* grad,
                      T* state, index_t n, std::int64_t step);

}  // namespace fastmlp
