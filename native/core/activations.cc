// Activations, forward and backward (SPEC.md §2, PyTorch's definitions).
//
// Element-wise activations are scalar functors (activation_ops.h) plugged
// into one loop template, so each formula is written once and every loop is
// the same plain, branch-light pass over contiguous memory: one switch per
// call picks the functor, never a call per element. Softmax and log-softmax
// are row-wise and have their own loops.
#include "activations.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu.h"
#include "gemm_kernels.h"  // FASTMLP_TARGET_*, FASTMLP_FLATTEN and FASTMLP_GEMM_X86

// The loops are compiled three times — AVX-512, AVX2 and the baseline ISA —
// and one is picked per call from cpu_features() (cpu.h), as optim.cc does,
// so every compiler gets the wide versions and FASTMLP_GEMM_KERNEL can force
// a narrower one. (g++'s target_clones did this before, but clang 14 rejects
// it on function templates, so clang builds ran the baseline loops only:
// GELU float32 ~11x slower than g++'s.) The results are the same in every
// version and for every batch split: only the vector width changes, because
// FMA contraction is off in this file (with it, the AVX-512 loop body and
// its scalar tail would round differently, a row's activations would depend
// on where the batch was cut, and g++ — which contracts across statements —
// and clang — within one expression — would disagree). clang fixes an
// expression's contraction when it parses it, so its pragma must come before
// the functors and vec_math.h; g++ decides per function after inlining, so
// its pragma only needs to cover the loops below (placed before the standard
// headers it would also mark every library function).
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

#include "activation_ops.h"
#include "vec_math.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace fastmlp {
namespace {

using namespace act_ops;

template <typename Op, typename T>
void unary_forward(const Op op, const T* x, T* y, index_t n) {
  for (index_t i = 0; i < n; ++i) y[i] = op.fwd(x[i]);
}

// dx = dy · f'(x, y); dx may alias dy (each element is read before written).
template <typename Op, typename T>
void unary_backward(const Op op, const T* x, const T* y, const T* dy, T* dx, index_t n) {
  for (index_t i = 0; i < n; ++i) dx[i] = dy[i] * op.grad(x[i], y[i]);
}

// The row maximum. std::max skips a NaN after the first element, but the
// NaN still reaches the whole row through e^{NaN − m} in the row's sum (and
// a NaN first element stays the maximum), so the row becomes NaN, as in
// PyTorch, without a separate NaN pass.
template <typename T>
T row_max(const T* xr, index_t cols) {
  T m = xr[0];
  for (index_t j = 1; j < cols; ++j) m = std::max(m, xr[j]);
  return m;
}

// Softmax over each row: y_j = e^{x_j − m} / Σ_i e^{x_i − m}, m = max_i x_i.
// Subtracting the maximum (notes 002) keeps every exponent ≤ 0, so nothing
// overflows and at least one term is exactly 1 (the sum is ≥ 1).
template <typename T>
void softmax_forward(const T* x, T* y, index_t rows, index_t cols) {
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = row_max(xr, cols);
    for (index_t j = 0; j < cols; ++j) yr[j] = vec_math::exp(xr[j] - m);
    // Summed apart from the exponentials, so that loop vectorises (a float
    // sum cannot be reordered without -ffast-math).
    T sum = T(0);
    for (index_t j = 0; j < cols; ++j) sum += yr[j];
    const T inv = T(1) / sum;
    for (index_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

// Not dispatched (activation_backward calls it directly): its baseline build
// measured faster (1650 against 950 Melem/s at 128×512 float32) than the
// AVX-512 one.
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

// Log-softmax over each row: y_j = (x_j − m) − log Σ_i e^{x_i − m}. The same
// max shift as softmax; y is computed from x − m directly rather than as
// log(softmax), which would lose the tail (log of an underflowed 0 = −∞).
template <typename T>
void log_softmax_forward(const T* x, T* y, index_t rows, index_t cols) {
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = row_max(xr, cols);
    // exp(x − m) goes through y, so that loop vectorises (the sum is
    // serial) — unless y is x, whose values are still needed below.
    T sum = T(0);
    if (yr != xr) {
      for (index_t j = 0; j < cols; ++j) yr[j] = vec_math::exp(xr[j] - m);
      for (index_t j = 0; j < cols; ++j) sum += yr[j];
    } else {
      for (index_t j = 0; j < cols; ++j) sum += vec_math::exp(xr[j] - m);
    }
    const T log_sum = std::log(sum);
    for (index_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) - log_sum;
  }
}

// ∂y_j/∂x_i = δ_ij − softmax_i, so dx_i = dy_i − e^{y_i} Σ_j dy_j. The sum
// is taken before any dx is written, so dx may alias dy.
template <typename T>
void log_softmax_backward(const T* y, const T* dy, T* dx, index_t rows, index_t cols) {
  for (index_t r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* dyr = dy + r * cols;
    T* dxr = dx + r * cols;
    T sum = T(0);
    for (index_t j = 0; j < cols; ++j) sum += dyr[j];
    for (index_t j = 0; j < cols; ++j) dxr[j] = dyr[j] - vec_math::exp(yr[j]) * sum;
  }
}

// run() compiled for the widest instruction set the CPU has (and
// FASTMLP_GEMM_KERNEL allows). `flatten` inlines the loop run() calls, and
// the functors and vec_math calls inside it, into the wrapper, so the whole
// loop is generated for the wrapper's target.
#if FASTMLP_GEMM_X86

template <typename F>
FASTMLP_TARGET_AVX512 FASTMLP_FLATTEN void run_avx512(const F& run) {
  run();
}

template <typename F>
FASTMLP_TARGET_AVX2 FASTMLP_FLATTEN void run_avx2(const F& run) {
  run();
}
#endif  // FASTMLP_GEMM_X86

template <typename F>
void run_widest(const F& run) {
#if FASTMLP_GEMM_X86
  const CpuFeatures& cpu = cpu_features();
  if (cpu.avx512f) return run_avx512(run);
  if (cpu.avx2_fma) return run_avx2(run);
#endif
  run();
}

void check_shape(index_t rows, index_t cols, const void* a, const void* b,
                 const char* fn) {
  require_or(rows >= 0 && cols >= 0, [&] {
    return std::string(fn) + ": expected rows, cols >= 0 but received " +
           std::to_string(rows) + ", " + std::to_string(cols);
  });
  require_or(rows * cols == 0 || (a != nullptr && b != nullptr),
             [&] { return std::string(fn) + ": null buffer"; });
}

void require_param(bool ok, const char* act, const char* name, double v,
                   const char* what) {
  if (!ok)
    throw std::invalid_argument(std::string("Expected ") + what + " for " + act +
                                " " + name + " but received " +
                                std::to_string(v));
}

// Calls f(op) with the element-wise functor for `act`, or returns false for
// the identity and the row-wise activations. One switch per call; the loop
// inside f is instantiated once per functor type.
template <typename T, typename F>
bool with_unary_op(Activation act, const ActivationParams& p, F&& f) {
  switch (act) {
    case Activation::Relu: f(Relu<T>{}); return true;
    case Activation::Sigmoid: f(Sigmoid<T>{}); return true;
    case Activation::Tanh: f(Tanh<T>{}); return true;
    case Activation::LeakyRelu: f(LeakyRelu<T>{T(p.negative_slope)}); return true;
    case Activation::Elu: f(ScaledElu<T>{T(1), T(p.alpha)}); return true;
    case Activation::Selu: f(ScaledElu<T>{T(kSeluLambda), T(kSeluAlpha)}); return true;
    case Activation::Softplus: f(Softplus<T>{T(p.beta), T(p.threshold)}); return true;
    case Activation::Gelu:
      if (p.approximate == GeluApproximation::Tanh) f(GeluTanh<T>{});
      else f(GeluErf<T>{});
      return true;
    case Activation::Silu: f(Swish<T>{T(1)}); return true;
    case Activation::Swish: f(Swish<T>{T(p.beta)}); return true;
    case Activation::Hardtanh: f(Hardtanh<T>{T(p.min_val), T(p.max_val)}); return true;
    case Activation::Relu6: f(Hardtanh<T>{T(0), T(6)}); return true;
    case Activation::LogSigmoid: f(LogSigmoid<T>{}); return true;
    case Activation::Identity:
    case Activation::Softmax:
    case Activation::LogSoftmax:
      return false;
  }
  throw std::invalid_argument("activation: unknown activation");
}

// The tile functions behind activation_forward_tile / activation_backward_tile
// (gemm calls them on each finished block of C), with the functor that
// activation_forward / activation_backward use (with_unary_op), one switch
// per block. Blocks are narrow (a micro-kernel's NR: 32 floats on AVX-512)
// and many, so the rows go in fixed chunks of 64 bytes, which the compiler
// turns into straight-line vector code, then a scalar tail: the general loop
// (unary_forward) checks aliasing and trip count on every row, which on a
// 12×32 block cost more than the activation itself (measured: the fused
// step ran slower than the unfused one on 784-512-256-10). The values go
// through a local chunk, so C may be written in place.
template <typename T>
constexpr index_t kTileChunk = 64 / sizeof(T);

template <typename Op, typename T>
FASTMLP_VEC_INLINE void forward_row(const Op op, const T* c, T* y, index_t cols) {
  index_t j = 0;
  for (; j + kTileChunk<T> <= cols; j += kTileChunk<T>) {
    T v[kTileChunk<T>];
    for (index_t u = 0; u < kTileChunk<T>; ++u) v[u] = op.fwd(c[j + u]);
    for (index_t u = 0; u < kTileChunk<T>; ++u) y[j + u] = v[u];
  }
  for (; j < cols; ++j) y[j] = op.fwd(c[j]);
}

// dc = dc · f'(x, y), the product in unary_backward's order.
template <typename Op, typename T>
FASTMLP_VEC_INLINE void backward_row(const Op op, const T* x, const T* y, T* dc,
                                     index_t cols) {
  index_t j = 0;
  for (; j + kTileChunk<T> <= cols; j += kTileChunk<T>) {
    T v[kTileChunk<T>];
    for (index_t u = 0; u < kTileChunk<T>; ++u) v[u] = dc[j + u] * op.grad(x[j + u], y[j + u]);
    for (index_t u = 0; u < kTileChunk<T>; ++u) dc[j + u] = v[u];
  }
  for (; j < cols; ++j) dc[j] = dc[j] * op.grad(x[j], y[j]);
}

template <typename T, bool kBackward>
void activation_tile(T* c, index_t ldc, index_t rows, index_t cols, const void* ctx) {
  const auto& t = *static_cast<const ActivationTile<T>*>(ctx);
  const index_t off = c - t.c;  // the block's position, the same in every matrix
  with_unary_op<T>(t.act, t.params, [&](auto op) {
    if constexpr (kBackward) {
      const T* x = t.x + off;
      const T* y = t.y + off;
      for (index_t i = 0; i < rows; ++i)
        backward_row(op, x + i * ldc, y + i * ldc, c + i * ldc, cols);
    } else {
      T* y = t.y_out + off;
      for (index_t i = 0; i < rows; ++i) forward_row(op, c + i * ldc, y + i * ldc, cols);
    }
  });
}

// activation_tile compiled for each instruction set, as run_widest's loops;
// the variant is picked once per gemm call (widest_tile_fn), not per block.
#if FASTMLP_GEMM_X86
template <typename T, bool kBackward>
FASTMLP_TARGET_AVX512 FASTMLP_FLATTEN void activation_tile_avx512(
    T* c, index_t ldc, index_t rows, index_t cols, const void* ctx) {
  activation_tile<T, kBackward>(c, ldc, rows, cols, ctx);
}

template <typename T, bool kBackward>
FASTMLP_TARGET_AVX2 FASTMLP_FLATTEN void activation_tile_avx2(
    T* c, index_t ldc, index_t rows, index_t cols, const void* ctx) {
  activation_tile<T, kBackward>(c, ldc, rows, cols, ctx);
}
#endif  // FASTMLP_GEMM_X86

template <typename T, bool kBackward>
GemmTileFn<T> widest_tile_fn() {
#if FASTMLP_GEMM_X86
  const CpuFeatures& cpu = cpu_features();
  if (cpu.avx512f) return &activation_tile_avx512<T, kBackward>;
  if (cpu.avx2_fma) return &activation_tile_avx2<T, kBackward>;
#endif
  return &activation_tile<T, kBackward>;
}

void require_elementwise(Activation act, const char* fn) {
  require_or(activation_is_elementwise(act), [&] {
    return std::string(fn) + ": expected an element-wise activation (not identity, "
                             "softmax or log-softmax)";
  });
}

// What a forward and a backward tile share: the checked activation, the
// tile function for the widest instruction set, and C; the callers add the
// matrices their direction reads or writes.
template <typename T, bool kBackward>
ActivationTile<T> tile_of(Activation act, const ActivationParams& params, const T* c,
                          const char* fn) {
  require_elementwise(act, fn);
  ActivationTile<T> t;
  t.fn = widest_tile_fn<T, kBackward>();
  t.act = act;
  t.params = params;
  t.c = c;
  return t;
}

}  // namespace

bool activation_is_elementwise(Activation act) {
  return with_unary_op<float>(act, ActivationParams{}, [](auto) {});
}

bool activation_grad_reads_input(Activation act) {
  switch (act) {
    case Activation::Identity:
    case Activation::Relu:
    case Activation::Sigmoid:
    case Activation::Tanh:
    case Activation::Softmax:
    case Activation::LogSoftmax:
    case Activation::Hardtanh:
    case Activation::Relu6:
      return false;
    default:
      return true;
  }
}

template <typename T>
ActivationTile<T> activation_forward_tile(Activation act, const ActivationParams& params,
                                          const T* c, T* y_out) {
  ActivationTile<T> t = tile_of<T, false>(act, params, c, "activation_forward_tile");
  t.y_out = y_out;
  return t;
}

template <typename T>
ActivationTile<T> activation_backward_tile(Activation act, const ActivationParams& params,
                                           const T* c, const T* x, const T* y) {
  ActivationTile<T> t = tile_of<T, true>(act, params, c, "activation_backward_tile");
  t.x = x;
  t.y = y;
  return t;
}

void validate_activation(Activation act, const ActivationParams& p) {
  switch (act) {
    case Activation::Identity:
    case Activation::Relu:
    case Activation::Sigmoid:
    case Activation::Tanh:
    case Activation::Softmax:
    case Activation::LogSoftmax:
    case Activation::Selu:
    case Activation::Silu:
    case Activation::Relu6:
    case Activation::LogSigmoid:
      return;
    case Activation::Hardtanh:
      require_param(std::isfinite(p.min_val), "hardtanh", "minVal", p.min_val, "a finite number");
      require_param(std::isfinite(p.max_val) && p.max_val > p.min_val, "hardtanh", "maxVal",
                    p.max_val, "a finite number > minVal");
      return;
    case Activation::LeakyRelu:
      require_param(std::isfinite(p.negative_slope), "leaky-relu", "negativeSlope",
                    p.negative_slope, "a finite number");
      return;
    case Activation::Elu:
      require_param(std::isfinite(p.alpha) && p.alpha > 0, "elu", "alpha", p.alpha,
                    "a finite number > 0");
      return;
    case Activation::Softplus:
      require_param(std::isfinite(p.beta) && p.beta > 0, "softplus", "beta", p.beta,
                    "a finite number > 0");
      require_param(std::isfinite(p.threshold) && p.threshold > 0, "softplus",
                    "threshold", p.threshold, "a finite number > 0");
      return;
    case Activation::Gelu:
      require(p.approximate == GeluApproximation::None ||
                  p.approximate == GeluApproximation::Tanh,
              "gelu: unknown approximation");
      return;
    case Activation::Swish:
      require_param(std::isfinite(p.beta), "swish", "beta", p.beta, "a finite number");
      return;
  }
  throw std::invalid_argument("activation: unknown activation");
}

template <typename T>
void activation_forward(Activation act, const ActivationParams& p, const T* x,
                        T* y, index_t rows, index_t cols) {
  check_shape(rows, cols, x, y, "activation_forward");
  const index_t n = rows * cols;
  if (n == 0) return;
  if (with_unary_op<T>(act, p, [&](auto op) {
        run_widest([&] { unary_forward(op, x, y, n); });
      }))
    return;
  switch (act) {
    case Activation::Identity:
      if (x != y) std::memmove(y, x, static_cast<std::size_t>(n) * sizeof(T));
      return;
    case Activation::Softmax:
      return run_widest([&] { softmax_forward(x, y, rows, cols); });
    case Activation::LogSoftmax:
      return run_widest([&] { log_softmax_forward(x, y, rows, cols); });
    default:
      break;
  }
  throw std::invalid_argument("activation_forward: unknown activation");
}

template <typename T>
void activation_backward(Activation act, const ActivationParams& p, const T* x,
                         const T* y, const T* dy, T* dx, index_t rows,
                         index_t cols) {
  check_shape(rows, cols, dy, dx, "activation_backward");
  const index_t n = rows * cols;
  if (n == 0) return;
  switch (act) {
    case Activation::Identity:
      if (dx != dy)
        std::memmove(dx, dy, static_cast<std::size_t>(n) * sizeof(T));
      return;
    case Activation::Softmax:
      require(y != nullptr, "activation_backward: softmax needs y");
      return softmax_backward(y, dy, dx, rows, cols);
    case Activation::LogSoftmax:
      require(y != nullptr, "activation_backward: log-softmax needs y");
      return run_widest([&] { log_softmax_backward(y, dy, dx, rows, cols); });
    default:
      break;
  }
  // Element-wise: the functors read x, y or both, so both must be present.
  require(x != nullptr && y != nullptr, "activation_backward: needs x and y");
  with_unary_op<T>(act, p, [&](auto op) {
    run_widest([&] { unary_backward(op, x, y, dy, dx, n); });
  });
}

template ActivationTile<float> activation_forward_tile<float>(Activation,
                                                             const ActivationParams&,
                                                             const float*, float*);
template ActivationTile<double> activation_forward_tile<double>(Activation,
                                                               const ActivationParams&,
                                                               const double*, double*);
template ActivationTile<float> activation_backward_tile<float>(Activation,
                                                              const ActivationParams&,
                                                              const float*, const float*,
                                                              const float*);
template ActivationTile<double> activation_backward_tile<double>(Activation,
                                                                const ActivationParams&,
                                                                const double*, const double*,
                                                                const double*);
template void activation_forward<float>(Activation, const ActivationParams&,
                                        const float*, float*, index_t, index_t);
template void activation_forward<double>(Activation, const ActivationParams&,
                                         const double*, double*, index_t,
                                         index_t);
template void activation_backward<float>(Activation, const ActivationParams&,
                                         const float*, const float*,
                                         const float*, float*, index_t,
                                         index_t);
template void activation_backward<double>(Activation, const ActivationParams&,
                                          const double*, const double*,
                                          const double*, double*, index_t,
                                          index_t);

}  // namespace fastmlp
