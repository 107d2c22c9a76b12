// Scalar forms of the element-wise activations (SPEC.md §2), one small functor
// each with a forward `fwd(x) → y` and a derivative `grad(x, y) → dy/dx` that
// may use whichever of the input x or the output y is cheaper. activations.cc
// plugs them into one loop template (the ggml unary-ops pattern), so the loop
// is written once, holds no virtual call, and the compiler sees each functor's
// body inline. Parameters live in the functor (converted to T once), not in
// the loop. exp, expm1, tanh, σ, log1p and float erf come from vec_math.h
// (branch-free, no library call), so the loops over them vectorise; double
// erf is still a libm call. Everything here is always inlined
// (FASTMLP_VEC_INLINE, vec_math.h), so that the per-ISA loops in
// activations.cc are generated whole for their instruction set by g++ and
// clang alike.
//
// Definitions and the derivative at kinks follow PyTorch's documentation
// (torch.nn.LeakyReLU, ELU, SELU, Softplus, GELU, SiLU):
//   leaky-relu  x if x > 0 else a·x                 f' = 1 or a (a at 0)
//   elu         x if x > 0 else α(eˣ − 1)           f' = 1 or α·eˣ (α at 0)
//   selu        λ·elu(x; α), fixed λ, α             f' = λ or λα·eˣ
//   softplus    log(1 + e^{βx})/β, x when βx > t    f' = σ(βx), 1 above t
//   gelu        x·Φ(x), Φ(x) = ½(1 + erf(x/√2))     f' = Φ(x) + x·φ(x)
//   gelu tanh   ½x(1 + tanh(k(x + 0.044715x³))), k = √(2/π)   (Hendrycks & Gimpel 2016)
//   silu        x·σ(x)                              f' = σ(x)(1 + x(1 − σ(x)))
//   swish       x·σ(βx)  (Ramachandran et al. 2017) f' = σ(βx)(1 + βx(1 − σ(βx)))
//   hardtanh    clamp(x, lo, hi)                    f' = 1 if lo < x < hi else 0 (0 at lo and hi)
//   relu6       hardtanh(x, 0, 6) (torch.nn.ReLU6 calls F.hardtanh(x, 0, 6))
//   logsigmoid  log σ(x) = min(x, 0) − log(1 + e^{−|x|})   f' = σ(−x)
#pragma once

#include <cmath>

#include "vec_math.h"

namespace fastmlp {
namespace act_ops {

// Stable logistic function (vec_math.h): e^{−|x|} ≤ 1 never overflows.
template <typename T>
FASTMLP_VEC_INLINE T stable_sigmoid(T x) {
  return vec_math::sigmoid(x);
}

template <typename T>
struct Relu {
  // max(0, x), but NaN stays NaN (as torch.relu): a NaN that reached a
  // hidden layer must still show up in the loss, or training would carry on
  // with broken weights.
  FASTMLP_VEC_INLINE T fwd(T x) const { return x > T(0) ? x : (x <= T(0) ? T(0) : x); }
  // 1 if x > 0 else 0, so the derivative at the kink is 0 (SPEC.md §2).
  // Read from y, the same bits: y > 0 exactly when x > 0 (y is 0 for
  // x ≤ 0 and NaN for NaN). So the network need not keep x (network.cc).
  FASTMLP_VEC_INLINE T grad(T, T y) const { return y > T(0) ? T(1) : T(0); }
};

template <typename T>
struct Sigmoid {
  FASTMLP_VEC_INLINE T fwd(T x) const { return stable_sigmoid(x); }
  FASTMLP_VEC_INLINE T grad(T, T y) const { return y * (T(1) - y); }  // σ' = σ(1−σ)
};

template <typename T>
struct Tanh {
  FASTMLP_VEC_INLINE T fwd(T x) const { return vec_math::tanh(x); }
  FASTMLP_VEC_INLINE T grad(T, T y) const { return T(1) - y * y; }  // tanh' = 1 − tanh²
};

template <typename T>
struct LeakyRelu {
  T slope;
  // a·NaN is NaN, so NaN propagates without a special case.
  FASTMLP_VEC_INLINE T fwd(T x) const { return x > T(0) ? x : slope * x; }
  FASTMLP_VEC_INLINE T grad(T x, T) const { return x > T(0) ? T(1) : slope; }
};

// ELU and SELU share one form: scale·(x if x > 0 else α(eˣ − 1)); ELU has
// scale 1. expm1 keeps the tiny negative tail accurate near 0.
template <typename T>
struct ScaledElu {
  T scale, alpha;
  FASTMLP_VEC_INLINE T fwd(T x) const { return x > T(0) ? scale * x : scale * alpha * vec_math::expm1(x); }
  FASTMLP_VEC_INLINE T grad(T x, T) const { return x > T(0) ? scale : scale * alpha * vec_math::exp(x); }
};

template <typename T>
struct Softplus {
  T beta, threshold;
  // Above the threshold log(1 + e^{βx})/β equals x to within rounding and
  // e^{βx} could overflow, so PyTorch returns x there; we do the same.
  // log(1 + e^{βx}) is computed as max(βx, 0) + log(1 + e^{−|βx|}), equal
  // in exact arithmetic; the log1p argument stays in (0, 1], where
  // vec_math::log1p_unit needs no library call.
  FASTMLP_VEC_INLINE T fwd(T x) const {
    const T bx = beta * x;
    const T abx = bx < T(0) ? -bx : bx;
    const T pos = bx > T(0) ? bx : T(0);
    const T soft = (pos + vec_math::log1p_unit(vec_math::exp(-abx))) / beta;
    return bx > threshold ? x : soft;
  }
  FASTMLP_VEC_INLINE T grad(T x, T) const {
    const T bx = beta * x;
    return bx > threshold ? T(1) : stable_sigmoid(bx);
  }
};

// erf: vec_math's branch-free form for float (the loop vectorises: measured
// faster than libm's erff); libm's for double, whose rational approximation
// beats a 28-term series on two-lane vectors (measured).
template <typename T>
FASTMLP_VEC_INLINE T gelu_erf(T x) {
  if constexpr (sizeof(T) == 4) return vec_math::erf(x);
  else return std::erf(x);
}

template <typename T>
struct GeluErf {
  // 1/√2 and 1/√(2π): Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^{−x²/2}/√(2π).
  static constexpr double kInvSqrt2 = 0.70710678118654752440;
  static constexpr double kInvSqrt2Pi = 0.39894228040143267794;
  FASTMLP_VEC_INLINE T fwd(T x) const { return x * T(0.5) * (T(1) + gelu_erf(x * T(kInvSqrt2))); }
  FASTMLP_VEC_INLINE T grad(T x, T) const {
    const T cdf = T(0.5) * (T(1) + gelu_erf(x * T(kInvSqrt2)));
    const T pdf = vec_math::exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
    return cdf + x * pdf;
  }
};

template <typename T>
struct GeluTanh {
  static constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
  static constexpr double kKappa = 0.044715;
  FASTMLP_VEC_INLINE T fwd(T x) const {
    const T inner = T(kSqrt2OverPi) * (x + T(kKappa) * x * x * x);
    return T(0.5) * x * (T(1) + vec_math::tanh(inner));
  }
  // d/dx of ½x(1 + tanh u), u = k(x + κx³):
  //   ½(1 + tanh u) + ½x(1 − tanh² u)·k(1 + 3κx²)
  FASTMLP_VEC_INLINE T grad(T x, T) const {
    const T x2 = x * x;
    const T t = vec_math::tanh(T(kSqrt2OverPi) * (x + T(kKappa) * x2 * x));
    const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kKappa) * x2);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
  }
};

// x·σ(βx); silu is β = 1. The derivative uses x (σ(βx) is recomputed): y
// alone cannot give σ(βx) back.
template <typename T>
struct Swish {
  T beta;
  FASTMLP_VEC_INLINE T fwd(T x) const { return x * stable_sigmoid(beta * x); }
  FASTMLP_VEC_INLINE T grad(T x, T) const {
    const T s = stable_sigmoid(beta * x);
    return s * (T(1) + beta * x * (T(1) - s));
  }
};

// clamp(x, lo, hi); relu6 is lo = 0, hi = 6. NaN stays NaN (both compares
// are false), as torch.nn.Hardtanh. The derivative is 0 at the kinks
// themselves, as torch's hardtanh_backward (which passes the gradient only
// where lo < x < hi). It reads y, whose position relative to lo and hi is
// x's: y equals lo exactly when x ≤ lo, hi when x ≥ hi, and x in between
// (and NaN for NaN, whose gradient torch passes through: neither compare
// holds), so the network need not keep x.
template <typename T>
struct Hardtanh {
  T lo, hi;
  FASTMLP_VEC_INLINE T fwd(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
  FASTMLP_VEC_INLINE T grad(T, T y) const { return (y <= lo || y >= hi) ? T(0) : T(1); }
};

// log σ(x) = −softplus(−x), computed as min(x, 0) − log(1 + e^{−|x|}) so
// that e^{−|x|} ≤ 1 never overflows and log1p_unit's argument stays in
// (0, 1] (as Softplus above). f' = 1 − σ(x) = σ(−x), from x: the output
// alone (1 − e^y) would cancel for large x.
template <typename T>
struct LogSigmoid {
  FASTMLP_VEC_INLINE T fwd(T x) const {
    const T ax = x < T(0) ? -x : x;
    const T neg = x < T(0) ? x : T(0);
    return neg - vec_math::log1p_unit(vec_math::exp(-ax));
  }
  FASTMLP_VEC_INLINE T grad(T x, T) const { return stable_sigmoid(-x); }
};

}  // namespace act_ops
}  // namespace fastmlp
