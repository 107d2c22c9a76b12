// Activations, forward and backward (SPEC.md §2, PyTorch's definitions).
//
// Element-wise activations are small scalar functors plugged into one loop
// template (the ggml unary-ops pattern), so each is written once and the loop
// is the same for all of them. Softmax is row-wise and has its own loops.
#include "activations.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace fastmlp {
namespace {

// ---------------------------------------------------------------------------
// Scalar forms. fwd(x) → y; grad(x, y) → dy/dx, using whichever of x or y is
// cheaper.

struct IdentityOp {
  template <typename T>
  static T fwd(T x) { return x; }
  template <typename T>
  static T grad(T, T) { return T(1); }
};

struct ReluOp {
  // max(0, x), but NaN stays NaN (as torch.relu): a NaN that reached a
  // hidden layer must still show up in the loss, or training would carry on
  // with broken weights.
  template <typename T>
  static T fwd(T x) { return x > T(0) ? x : (x <= T(0) ? T(0) : x); }
  // 1 if x > 0 else 0, so the derivative at the kink is 0 (SPEC.md §2).
  template <typename T>
  static T grad(T x, T) { return x > T(0) ? T(1) : T(0); }
};

struct SigmoidOp {
  // Stable in both tails: for x ≥ 0, e^-x ≤ 1 cannot overflow; for x < 0
  // use the algebraically equal e^x/(1+e^x), where e^x ≤ 1.
  template <typename T>
  static T fwd(T x) {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
  }
  template <typename T>
  static T grad(T, T y) { return y * (T(1) - y); }  // σ' = σ(1−σ)
};

struct TanhOp {
  template <typename T>
  static T fwd(T x) { return std::tanh(x); }
  template <typename T>
  static T grad(T, T y) { return T(1) - y * y; }  // tanh' = 1 − tanh²
};

template <typename Op, typename T>
void unary_forward(const T* x, T* y, index_t n) {
  for (index_t i = 0; i < n; ++i) y[i] = Op::fwd(x[i]);
}

// dx = dy · f'(x); dx may alias dy (each element is read before written).
template <typename Op, typename T>
void unary_backward(const T* x, const T* y, const T* dy, T* dx, index_t n) {
  for (index_t i = 0; i < n; ++i) dx[i] = dy[i] * Op::grad(x[i], y[i]);
}

// ---------------------------------------------------------------------------
// Softmax over each row: y_j = e^{x_j − m} / Σ_i e^{x_i − m}, m = max_i x_i.
// Subtracting the maximum (notes 002) keeps every exponent ≤ 0, so nothing
// overflows and at least one term is exactly 1 (the sum is ≥ 1).
template <typename T>
void softmax_forward(const T* x, T* y, index_t rows, index_t cols) {
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    T m = xr[0];
    for (index_t j = 1; j < cols; ++j) m = std::max(m, xr[j]);
    // A NaN in the row would be dropped by std::max; let it propagate.
    for (index_t j = 0; j < cols; ++j)
      if (std::isnan(xr[j])) m = xr[j];
    T sum = T(0);
    for (index_t j = 0; j < cols; ++j) {
      const T e = std::exp(xr[j] - m);
      yr[j] = e;
      sum += e;
    }
    const T inv = T(1) / sum;
    for (index_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

// Vector-Jacobian product with ∂y_j/∂x_i = y_j(δ_ij − y_i):
// dx_i = Σ_j dy_j y_j(δ_ij − y_i) = y_i (dy_i − Σ_j dy_j y_j).
// The dot product is taken before any dx is written, so dx may alias dy.
template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, index_t rows,
                      index_t cols) {
  for (index_t r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* dyr = dy + r * cols;
    T* dxr = dx + r * cols;
    T dot = T(0);
    for (index_t j = 0; j < cols; ++j) dot += dyr[j] * yr[j];
    for (index_t j = 0; j < cols; ++j) dxr[j] = yr[j] * (dyr[j] - dot);
  }
}

void check_shape(index_t rows, index_t cols, const void* a, const void* b,
                 const char* fn) {
  require(rows >= 0 && cols >= 0,
          std::string(fn) + ": expected rows, cols >= 0 but received " +
              std::to_string(rows) + ", " + std::to_string(cols));
  require(rows * cols == 0 || (a != nullptr && b != nullptr),
          std::string(fn) + ": null buffer");
}

}  // namespace

template <typename T>
void activation_forward(Activation act, const T* x, T* y, index_t rows,
                        index_t cols) {
  check_shape(rows, cols, x, y, "activation_forward");
  const index_t n = rows * cols;
  if (n == 0) return;
  switch (act) {
    case Activation::Identity:
      if (x != y) std::memmove(y, x, static_cast<std::size_t>(n) * sizeof(T));
      return;
    case Activation::Relu:
      return unary_forward<ReluOp>(x, y, n);
    case Activation::Sigmoid:
      return unary_forward<SigmoidOp>(x, y, n);
    case Activation::Tanh:
      return unary_forward<TanhOp>(x, y, n);
    case Activation::Softmax:
      return softmax_forward(x, y, rows, cols);
  }
  throw std::invalid_argument("activation_forward: unknown activation");
}

template <typename T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy,
                         T* dx, index_t rows, index_t cols) {
  check_shape(rows, cols, dy, dx, "activation_backward");
  const index_t n = rows * cols;
  if (n == 0) return;
  switch (act) {
    case Activation::Identity:
      if (dx != dy)
        std::memmove(dx, dy, static_cast<std::size_t>(n) * sizeof(T));
      return;
    case Activation::Relu:
      require(x != nullptr, "activation_backward: relu needs x");
      return unary_backward<ReluOp>(x, x, dy, dx, n);
    case Activation::Sigmoid:
      require(y != nullptr, "activation_backward: sigmoid needs y");
      return unary_backward<SigmoidOp>(y, y, dy, dx, n);
    case Activation::Tanh:
      require(y != nullptr, "activation_backward: tanh needs y");
      return unary_backward<TanhOp>(y, y, dy, dx, n);
    case Activation::Softmax:
      require(y != nullptr, "activation_backward: softmax needs y");
      return softmax_backward(y, dy, dx, rows, cols);
  }
  throw std::invalid_argument("activation_backward: unknown activation");
}

template void activation_forward<float>(Activation, const float*, float*,
                                        index_t, index_t);
template void activation_forward<double>(Activation, const double*, double*,
                                         index_t, index_t);
template void activation_backward<float>(Activation, const float*,
                                         const float*, const float*, float*,
                                         index_t, index_t);
template void activation_backward<double>(Activation, const double*,
                                          const double*, const double*,
                                          double*, index_t, index_t);

}  // namespace fastmlp
