// exp, expm1, tanh, the logistic function, erf and log1p on [0, 1] for the
// activation loops, written
// without branches or library calls so that g++/clang vectorise the loops
// that call them (libm's exp is an opaque call per element: measured
// 50–150 Melem/s for sigmoid/elu/silu against PyTorch's 500–2000).
//
// Method (Cody & Waite 1980; the Cephes/fdlibm reduction): x = n·ln2 + r with
// n = round(x/ln2), |r| ≤ ln2/2, r computed in two steps with ln2 split into
// a high part exact in a few bits and a low part; then
//   expm1(r) = q(r) = r + r²/2! + … + r^K/K!    (Taylor; K = 7 for float,
//              13 for double: the first omitted term is < 2^-24 resp. 2^-57)
//   exp(x)   = 2ⁿ·(1 + q),  expm1(x) = 2ⁿ·q + (2ⁿ − 1)
// The expm1 form keeps full relative precision near 0 (n = 0 gives q
// exactly). 2ⁿ is built in the exponent bits; n comes from the magic-number
// rounding trick (adding 1.5·2^mantissa_bits rounds to an integer), which
// needs no float→int conversion, so the double version vectorises on plain
// SSE2 too. Accuracy: a few ulp (tested against libm in core_test.cc).
// Range: exp results below 2^−125 (float; x < −86.6) or 2^−1021 (double;
// x < −707.7) flush to 0 (expm1 to −1); above the largest finite value they
// are +∞; NaN propagates.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

// Always inlined: activations.cc runs its loops through per-ISA wrappers
// marked `flatten`, and a function left out of line is compiled for the
// baseline ISA and stops the loop from vectorising. g++'s flatten inlines the
// whole call tree; clang 14's only the calls written in the wrapper, and its
// cost model then kept erf (float) and log1p_unit (double) as calls: GELU
// float32 ran at ~33 Melem/s against ~360 with g++.
#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_VEC_INLINE inline __attribute__((always_inline))
#else
#define FASTMLP_VEC_INLINE inline
#endif

namespace fastmlp {
namespace vec_math {

template <typename T>
struct Consts;

template <>
struct Consts<float> {
  using Bits = std::int32_t;
  static constexpr int kMantissa = 23;
  static constexpr Bits kBias = 127;
  static constexpr float kMagic = 12582912.0f;  // 1.5·2^23
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr float kLn2Hi = 0.693359375f;     // Cephes expf split
  static constexpr float kLn2Lo = -2.12194440e-4f;
  static constexpr float kMax = 88.7228317f;        // log(FLT_MAX)
  static constexpr float kMin = -86.6433640f;       // −125·ln2
};

template <>
struct Consts<double> {
  using Bits = std::int64_t;
  static constexpr int kMantissa = 52;
  static constexpr Bits kBias = 1023;
  static constexpr double kMagic = 6755399441055744.0;  // 1.5·2^52
  static constexpr double kLog2e = 1.44269504088896338700;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // fdlibm split
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kMax = 709.782712893383973096;   // log(DBL_MAX)
  static constexpr double kMin = -707.703271351704160;     // −1021·ln2
};

// q(r) = e^r − 1 for |r| ≤ ln2/2, Horner form of the Taylor series.
FASTMLP_VEC_INLINE float expm1_reduced(float r) {
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  return r + r * r * p;
}

FASTMLP_VEC_INLINE double expm1_reduced(double r) {
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  return r + r * r * p;
}

// Splits x (already clamped to [kMin, kMax]) into half = 2ⁿ⁻¹ and
// q = e^r − 1, so e^x = 2·half·(1 + q). Half the scale keeps n = 128 (float)
// or 1024 (double), reached at x = kMax, inside the exponent range.
template <typename T>
FASTMLP_VEC_INLINE void exp_parts(T x, T& half, T& q) {
  using C = Consts<T>;
  using Bits = typename C::Bits;
  // t's low mantissa bits hold n = round(x·log2 e) (magic-number rounding).
  const T t = x * C::kLog2e + C::kMagic;
  const T n = t - C::kMagic;
  const T r = (x - n * C::kLn2Hi) - n * C::kLn2Lo;
  q = expm1_reduced(r);
  // Unsigned arithmetic: wraps instead of overflowing (a NaN x gives garbage
  // bits here, and a NaN q makes the result NaN whatever half is).
  using UBits = std::make_unsigned_t<Bits>;
  UBits tb, mb;
  std::memcpy(&tb, &t, sizeof(T));
  const T magic = C::kMagic;
  std::memcpy(&mb, &magic, sizeof(T));
  const UBits sb = ((tb - mb) + static_cast<UBits>(C::kBias - 1)) << C::kMantissa;
  std::memcpy(&half, &sb, sizeof(T));
}

template <typename T>
FASTMLP_VEC_INLINE T clamp_arg(T x) {
  // min/max compile to vector min/max; a NaN x passes through both.
  const T lo = x < Consts<T>::kMin ? Consts<T>::kMin : x;
  return lo > Consts<T>::kMax ? Consts<T>::kMax : lo;
}

template <typename T>
FASTMLP_VEC_INLINE T exp(T x) {
  T half, q;
  exp_parts(clamp_arg(x), half, q);
  const T e = T(2) * (half + half * q);
  const T big = x > Consts<T>::kMax ? std::numeric_limits<T>::infinity() : e;
  return x < Consts<T>::kMin ? T(0) : big;
}

template <typename T>
FASTMLP_VEC_INLINE T expm1(T x) {
  T half, q;
  exp_parts(clamp_arg(x), half, q);
  const T e = T(2) * (half * q + (half - T(0.5)));  // 2ⁿ·q + 2ⁿ − 1; exact q for n = 0
  const T big = x > Consts<T>::kMax ? std::numeric_limits<T>::infinity() : e;
  return x < Consts<T>::kMin ? T(-1) : big;
}

// Stable logistic function: with e = e^{−|x|} ≤ 1, σ(x) = 1/(1+e) for x ≥ 0
// and e/(1+e) otherwise; neither can overflow.
template <typename T>
FASTMLP_VEC_INLINE T sigmoid(T x) {
  const T ax = x < T(0) ? -x : x;
  const T e = exp(-ax);
  const T inv = T(1) / (T(1) + e);
  return x >= T(0) ? inv : e * inv;
}

// tanh x = sign(x)·(−m)/(2 + m) with m = expm1(−2|x|) ∈ (−1, 0]: no
// cancellation near 0 (m ≈ −2|x|), and exactly ±1 once m rounds to −1.
template <typename T>
FASTMLP_VEC_INLINE T tanh(T x) {
  const T ax = x < T(0) ? -x : x;
  const T m = expm1(T(-2) * ax);
  const T t = -m / (T(2) + m);
  return x < T(0) ? -t : t;
}


// log(1 + u) for u ∈ [0, 1] (the range softplus needs): with w = u/(2+u) ∈
// [0, 1/3], log(1+u) = 2·atanh w = 2(w + w³/3 + w⁵/5 + …), a series of one
// sign whose terms shrink by w² ≤ 1/9; 19 terms (double) or 9 (float) leave
// less than half an ulp. No branches, so callers vectorise.
template <typename T>
FASTMLP_VEC_INLINE T log1p_unit(T u) {
  constexpr int kTerms = sizeof(T) == 4 ? 9 : 19;
  const T w = u / (T(2) + u);
  const T w2 = w * w;
  T p = T(2) / T(2 * kTerms - 1);
#pragma GCC unroll 20
  for (int k = kTerms - 2; k >= 0; --k) p = p * w2 + T(2) / T(2 * k + 1);
  return w * p;
}

// erf with the method of lib/engines/js/activation-ops.ts, shared so that the
// engines agree: |x| < 0.5, the Taylor series Σ (−1)ⁿ x^{2n+1}/(n!(2n+1))·2/√π
// (13 terms); otherwise ±(1 − erfc|x|) with erfc(z) = t·exp(−z² + g(s)),
// t = 2/(2+z), s = 2t − 1, g a 28-term Chebyshev series (the change of
// variable after Numerical Recipes §6.2.2; coefficients computed by
// test/fixtures/erf_chebyshev.py). Both branches are computed and one is
// selected, and the fixed-length loops are unrolled, so callers vectorise.
// Accuracy: ~2 ulp in double; float rounds the same coefficients.
constexpr double kErfcChebyshev[28] = {
    -6.5132685989085472e-1, 6.4196979235649026e-1, 1.9476473204185836e-2,
    -9.5615147868086316e-3, -9.4659534448203687e-4, 3.6683949785276145e-4,
    4.2523324806907772e-5, -2.0278578112534243e-5, -1.6242900046470255e-6,
    1.3036558355805232e-6, 1.5626441722066143e-8, -8.5238095914926543e-8,
    6.5290544390988515e-9, 5.0593434955514687e-9, -9.9136415649303231e-10,
    -2.2736512229318417e-10, 9.6467911020149618e-11, 2.394038083065756e-12,
    -6.8860275265362771e-12, 8.9448792717303675e-13, 3.1309214081271424e-13,
    -1.1270822525221732e-13, 3.8108713588528985e-16, 7.1061255369225764e-15,
    -1.5230878975373304e-15, -9.4648714121844619e-17, 1.218683266906788e-16,
    -3.0494735135424695e-17,
};
constexpr double kErfTaylor[13] = {
    1.0, -0.3333333333333333, 0.1,
    -0.023809523809523808, 0.004629629629629629, -0.0007575757575757576,
    0.00010683760683760684, -1.3227513227513228e-05, 1.4589169000933706e-06,
    -1.4503852223150468e-07, 1.3122532963802806e-08, -1.0892221037148573e-09,
    8.35070279514724e-11,
};

template <typename T>
FASTMLP_VEC_INLINE T erf(T x) {
  // float needs fewer terms: the dropped Chebyshev coefficients sum to < 1e−10
  // and the dropped Taylor terms to < 1e−10 relative, far below 2^−24.
  constexpr int kCheb = sizeof(T) == 4 ? 16 : 28;
  constexpr int kTaylor = sizeof(T) == 4 ? 8 : 13;
  const T ax = x < T(0) ? -x : x;
  const T x2 = x * x;
  T p = T(kErfTaylor[kTaylor - 1]);
#pragma GCC unroll 16
  for (int n = kTaylor - 2; n >= 0; --n) p = p * x2 + T(kErfTaylor[n]);
  const T small = T(1.12837916709551257390) * x * p;  // 2/√π
  const T t = T(2) / (T(2) + ax);
  const T s = T(2) * t - T(1);
  T b1 = T(0), b2 = T(0);
#pragma GCC unroll 32
  for (int j = kCheb - 1; j >= 1; --j) {
    const T b = T(2) * s * b1 - b2 + T(kErfcChebyshev[j]);
    b2 = b1;
    b1 = b;
  }
  const T erfc = t * exp(-ax * ax + (s * b1 - b2 + T(kErfcChebyshev[0])));
  const T r = T(1) - erfc;  // NaN stays NaN here
  const T big = x < T(0) ? -r : r;
  return ax < T(0.5) ? small : big;
}

}  // namespace vec_math
}  // namespace fastmlp
