// Element-wise activations and the row-wise softmax / log-softmax, forward
// and backward. Formulas: SPEC.md §2 and PyTorch's definitions (the scalar
// forms are in activation_ops.h). Sigmoid is evaluated stably for large |x|;
// softmax and log-softmax subtract the row maximum before exponentiating.
#pragma once

#include "common.h"
#include "gemm.h"

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
  double min_val = -1.0;         // hardtanh: clamp to [min_val, max_val]
  double max_val = 1.0;          // (relu6 is hardtanh(0, 6) and ignores these)
};

// SELU's fixed constants (Klambauer et al. 2017; torch.nn.SELU).
constexpr double kSeluLambda = 1.0507009873554805;
constexpr double kSeluAlpha = 1.6732632423543772;

// Throws std::invalid_argument when `act` is unknown or one of the parameters
// it uses is out of range: every parameter finite; elu α > 0; softplus β > 0
// and threshold > 0; hardtanh min_val < max_val. (Leaky-relu's slope and swish's β may be any finite
// number, as in PyTorch.)
void validate_activation(Activation act, const ActivationParams& params);

// y (rows, cols) = f(x). y may alias x.
template <typename T>
void activation_forward(Activation act, const ActivationParams& params,
                        const T* x, T* y, index_t rows, index_t cols);

// dx (rows, cols) = dL/dx given dy = dL/dy, the input x and the output y of
// the forward pass. Overwrites dx; dx may alias dy. Derivatives use y where
// it is cheaper (σ' = y(1−y), tanh' = 1−y², relu' = [y > 0]), x otherwise
// (gelu' = Φ(x) + xφ(x), ...); activation_grad_reads_input says which. Softmax applies its Jacobian per row,
// dx_i = y_i (dy_i − Σ_j dy_j y_j); log-softmax dx_i = dy_i − e^{y_i} Σ_j dy_j.
template <typename T>
void activation_backward(Activation act, const ActivationParams& params,
                         const T* x, const T* y, const T* dy, T* dx,
                         index_t rows, index_t cols);

// Element-wise activations fused into gemm (gemm.h, GemmEpilogue::tile_fn),
// so a dense layer and the activation after it make one pass over memory
// instead of two: the forward applies f to each block of Z = X·Wᵀ + b while
// it is in L1, and the backward multiplies each block of dA = dZ_next·W by
// f' before it is ever written out. The tile functions run the same loops
// and functors as activation_forward / activation_backward (for the same
// instruction set), so the results are bit-identical to the unfused calls.
//
// Only the element-wise activations fuse (activation_is_elementwise):
// softmax and log-softmax need whole rows, which a tile is not, and the
// identity has nothing to fuse.
bool activation_is_elementwise(Activation act);

// Whether activation_backward reads x (the forward's input) for `act`; where
// it does not (identity, relu, sigmoid, tanh, softmax, log-softmax) x may be
// any readable buffer of the same shape, so the caller need not keep it.
bool activation_grad_reads_input(Activation act);

// The tile_fn's context: pass &tile as GemmEpilogue::ctx, tile.fn as tile_fn.
// Each block c of the gemm's C is located by its offset from tile.c (the
// first element of C); the other matrices share C's shape and row stride.
template <typename T>
struct ActivationTile {
  GemmTileFn<T> fn = nullptr;
  Activation act = Activation::Identity;
  ActivationParams params;
  const T* c = nullptr;  // C's first element
  T* y_out = nullptr;    // forward: where f(C) goes (C itself for in place)
  const T* x = nullptr;  // backward: the forward's input (Z) ...
  const T* y = nullptr;  // ... and output (f(Z)), which f' reads
};

// Forward: each block of C gets y_out = f(C); C keeps Z. `act` must be
// element-wise (std::invalid_argument otherwise).
template <typename T>
ActivationTile<T> activation_forward_tile(Activation act, const ActivationParams& params,
                                          const T* c, T* y_out);

// Backward: each block of C, holding dL/dy, is overwritten with
// dL/dx = dL/dy ⊙ f'(x, y). `act` must be element-wise.
template <typename T>
ActivationTile<T> activation_backward_tile(Activation act, const ActivationParams& params,
                                           const T* c, const T* x, const T* y);

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
