// Element-wise activations and the row-wise softmax / log-softmax, forward
// and backward. Formulas: SPEC.md §2 and PyTorch's definitions (the scalar
// forms are in activation_ops.h). Sigmoid is evaluated stably for large |x|;
// softmax and log-softmax subtract the row maximum before exponentiating.
#pragma once

#include "common.h"

namespace fastmlp {

enum class GeluApproximation { None, Tanh };

// Parameters of the parameterised activations, with PyTorch's names and
// defaults; each activation reads only its own and ignores the rest.
struct ActivationParams {
  double negative_slope = 0.01;  // leaky-relu
  double alpha = 1.0;            // elu (selu's α and λ are fixed constants)
  double beta = 1.0;             // softplus, swish
  double threshold = 20.0;       // softplus: linear where β·x > threshold
  GeluApproximation approximate = GeluApproximation::None;  // gelu
};

// SELU's fixed constants (Klambauer et al. 2017; torch.nn.SELU).
constexpr double kSeluLambda = 1.0507009873554805;
constexpr double kSeluAlpha = 1.6732632423543772;

// Throws std::invalid_argument when `act` is unknown or one of the parameters
// it uses is out of range: every parameter finite; elu α > 0; softplus β > 0
// and threshold > 0. (Leaky-relu's slope and swish's β may be any finite
// number, as in PyTorch.)
void validate_activation(Activation act, const ActivationParams& params);

// y (rows, cols) = f(x). y may alias x.
template <typename T>
void activation_forward(Activation act, const ActivationParams& params,
                        const T* x, T* y, index_t rows, index_t cols);

// dx (rows, cols) = dL/dx given dy = dL/dy, the input x and the output y of
// the forward pass. Overwrites dx; dx may alias dy. Derivatives use y where
// it is cheaper (σ' = y(1−y), tanh' = 1−y²), x otherwise (relu' = [x > 0],
// gelu' = Φ(x) + xφ(x), ...). Softmax applies its Jacobian per row,
// dx_i = y_i (dy_i − Σ_j dy_j y_j); log-softmax dx_i = dy_i − e^{y_i} Σ_j dy_j.
template <typename T>
void activation_backward(Activation act, const ActivationParams& params,
                         const T* x, const T* y, const T* dy, T* dx,
                         index_t rows, index_t cols);

// The same with default parameters.
template <typename T>
void activation_forward(Activation act, const T* x, T* y, index_t rows,
                        index_t cols) {
  activation_forward(act, ActivationParams{}, x, y, rows, cols);
}
template <typename T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy,
                         T* dx, index_t rows, index_t cols) {
  activation_backward(act, ActivationParams{}, x, y, dy, dx, rows, cols);
}

}  // namespace fastmlp
