// Internal to the losses: the element-wise kernels behind losses.cc's dispatch
// (formulas in losses.h). Arguments are checked by the caller.
#pragma once

#include "losses.h"

namespace fastmlp {

// True for the kinds losses_elementwise.cc computes.
bool is_elementwise_loss(LossKind kind);

// Checks the values an element-wise loss needs in range (bce: pred and target
// in [0, 1]; logits losses: target in [0, 1]; hinge: target ±1; kl-div:
// target ≥ 0); NaN predictions pass, so a diverged network yields a NaN loss.
template <typename T>
void check_elementwise_values(const LossSpec& spec, const T* pred, index_t n,
                              const T* target);

// Σ w·v over the B·C elements, times the reduction's scale; optionally writes
// dpred = scale·w·dv/dpred and values = w·v (unscaled).
template <typename T>
double elementwise_loss(const LossSpec& spec, const T* pred, index_t B, index_t C,
                        const T* target, T* dpred, double* values);

}  // namespace fastmlp
