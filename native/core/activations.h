// Element-wise activations (and row-wise softmax), forward and backward.
// Formulas: SPEC.md §2. Sigmoid is evaluated stably for large |x|
// (σ(x) = 1/(1+e^-x) for x ≥ 0, e^x/(1+e^x) otherwise); softmax subtracts the
// row maximum before exponentiating.
#pragma once

#include "common.h"

namespace fastmlp {

// y (rows, cols) = f(x). y may alias x.
template <typename T>
void activation_forward(Activation act, const T* x, T* y, index_t rows,
                        index_t cols);

// dx (rows, cols) = dL/dx given dy = dL/dy, the input x and the output y of
// the forward pass. Overwrites dx; dx may alias dy. Derivatives use y where
// it is cheaper (σ' = y(1−y), tanh' = 1−y², relu' = [x > 0]); softmax uses
// its Jacobian: dx_i = y_i (dy_i − Σ_j dy_j y_j) per row.
template <typename T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy,
                         T* dx, index_t rows, index_t cols);

}  // namespace fastmlp
