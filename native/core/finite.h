// "Is any value NaN or ±Infinity?" for gradients and user data, cheap enough
// to run on every step. A float is non-finite exactly when its exponent bits
// are all ones (IEEE 754-2019 §3.4). The test multiplies by zero: x·0 is ±0
// for a finite x (subnormals included) and NaN — exponent bits all ones — for
// NaN or ±Infinity (IEEE 754-2019 §7.2: 0·∞ is invalid), so the bit patterns
// of the products, ORed, have an all-ones exponent exactly when some value is
// not finite: a multiply and an OR per vector of values, on integer lanes the
// compiler may reorder freely (unlike a floating-point sum under strict
// ordering). It replaced an AND-and-compare on the integer patterns, which
// for float64 needs a 64-bit lane compare that the x86-64 baseline (SSE2)
// lacks: native/test/finite_bench.cc times both. (x·0 stays because the core
// is never built with -ffast-math, which could fold it.)
//
// GradientCheck is gemm's tile function (gemm.h GemmEpilogue::tile_fn) that
// ORs that test over each finished block of C right after the micro-kernel
// wrote it, so a weight gradient is checked inside the gemm that writes it
// instead of in a second pass over memory. dense_backward uses it only when it
// cannot prove the product finite more cheaply (dense.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "common.h"
#include "gemm.h"

namespace fastmlp {

template <typename T>
struct FloatBits;
template <>
struct FloatBits<float> {
  using U = std::uint32_t;
  static constexpr U kExponent = 0x7f800000u;
};
template <>
struct FloatBits<double> {
  using U = std::uint64_t;
  static constexpr U kExponent = 0x7ff0000000000000ull;
};

// The bit pattern of x·0: ±0 for a finite x, a NaN for NaN or ±Infinity.
template <typename T>
inline typename FloatBits<T>::U zero_product_bits(T x) {
  const T z = x * T(0);
  typename FloatBits<T>::U bits;
  std::memcpy(&bits, &z, sizeof bits);
  return bits;
}

// True when any of p[0..n) is NaN or ±Infinity. One accumulator per lane of a
// cache line, so the loop is a multiply and an OR per vector whatever the
// vector width (native/test/finite_test.cc checks it against std::isfinite on
// every special value, random bit patterns, all lengths 0..67 at unaligned starts).
template <typename T>
inline bool any_nonfinite(const T* p, index_t n) {
  using U = typename FloatBits<T>::U;
  constexpr index_t kLanes = 64 / sizeof(T);
  U acc[kLanes] = {};
  const index_t whole = n / kLanes * kLanes;
  for (index_t i = 0; i < whole; i += kLanes)
    for (index_t k = 0; k < kLanes; ++k) acc[k] |= zero_product_bits(p[i + k]);
  for (index_t i = whole; i < n; ++i) acc[0] |= zero_product_bits(p[i]);
  U any = 0;
  for (index_t k = 0; k < kLanes; ++k) any |= acc[k];
  return (any & FloatBits<T>::kExponent) == FloatBits<T>::kExponent;
}

// The largest |p[i]| over n values, or +Infinity when any is NaN or ±Infinity.
// On the bit patterns with the sign cleared, as signed integers: their order
// is the order of the magnitudes, and NaN/±Infinity sort above every finite
// value, so one integer max does both jobs. (A float max would need
// -ffast-math to vectorise — maxps differs from a ? : on signed zeros — and
// would let a NaN slip through.)
template <typename T>
inline double max_abs_or_inf(const T* p, index_t n) {
  using U = typename FloatBits<T>::U;
  using S = std::make_signed_t<U>;
  constexpr S kMagnitude = static_cast<S>(~U(0) >> 1);
  constexpr index_t kLanes = 64 / sizeof(T);
  S m[kLanes] = {};
  const index_t whole = n / kLanes * kLanes;
  for (index_t i = 0; i < whole; i += kLanes)
    for (index_t k = 0; k < kLanes; ++k) {
      S bits;
      std::memcpy(&bits, p + i + k, sizeof bits);
      const S a = bits & kMagnitude;
      m[k] = a > m[k] ? a : m[k];
    }
  S top = 0;
  for (index_t k = 0; k < kLanes; ++k) top = m[k] > top ? m[k] : top;
  for (index_t i = whole; i < n; ++i) {
    S bits;
    std::memcpy(&bits, p + i, sizeof bits);
    const S a = bits & kMagnitude;
    top = a > top ? a : top;
  }
  if (static_cast<U>(top) >= FloatBits<T>::kExponent) return std::numeric_limits<double>::infinity();
  T value;
  std::memcpy(&value, &top, sizeof value);
  return static_cast<double>(value);
}

// The tile function's context: set (relaxed) by any thread that finds a
// non-finite value; never cleared by the tiles, so blocks from several
// threads, in any order, OR into one answer.
struct GradientCheck {
  mutable std::atomic<bool> nonfinite{false};

  void flag() const { nonfinite.store(true, std::memory_order_relaxed); }

  bool found() const { return nonfinite.load(std::memory_order_relaxed); }

  // GemmTileFn<T>: checks rows × cols at c (row stride ldc). Two vector ops
  // per vector of values, ORed into one register of lanes for the whole tile
  // (no reduction per row): any_nonfinite's x·0 test over a strided block.
  // Measured ~15 % faster than an AND-and-compare per row.
  template <typename T>
  static void tile(T* c, index_t ldc, index_t rows, index_t cols, const void* ctx) {
    using U = typename FloatBits<T>::U;
    constexpr index_t kLanes = 64 / sizeof(T);  // one cache line per row step
    U acc[kLanes] = {};
    const index_t whole = cols / kLanes * kLanes;
    for (index_t i = 0; i < rows; ++i) {
      const T* row = c + i * ldc;
      for (index_t j = 0; j < whole; j += kLanes)
        for (index_t k = 0; k < kLanes; ++k) acc[k] |= zero_product_bits(row[j + k]);
      for (index_t j = whole; j < cols; ++j) acc[0] |= zero_product_bits(row[j]);
    }
    U any = 0;
    for (index_t k = 0; k < kLanes; ++k) any |= acc[k];
    // Only a finding writes the shared flag: clean tiles touch no shared line.
    if ((any & FloatBits<T>::kExponent) == FloatBits<T>::kExponent)
      static_cast<const GradientCheck*>(ctx)->flag();
  }
};

}  // namespace fastmlp
