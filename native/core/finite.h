// "Is any value NaN or ±Infinity?" for gradients, cheap enough to run on
// every step. A float is non-finite exactly when its exponent bits are all
// ones (IEEE 754-2019 §3.4), so the test is an AND and a compare on the bit
// pattern: integer work the compiler vectorises and may reorder freely,
// unlike a floating-point reduction under strict ordering.
//
// GradientCheck is gemm's tile function (gemm.h GemmEpilogue::tile_fn) that
// ORs that test over each finished block of C while it is still in L1, so the
// dense layers' weight gradients are checked inside the gemm that writes them
// instead of in a second pass over memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

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

// True when any of p[0..n) is NaN or ±Infinity.
template <typename T>
inline bool any_nonfinite(const T* p, index_t n) {
  using U = typename FloatBits<T>::U;
  constexpr U kExp = FloatBits<T>::kExponent;
  U bad = 0;
  for (index_t i = 0; i < n; ++i) {
    U bits;
    std::memcpy(&bits, p + i, sizeof bits);
    bad |= static_cast<U>((bits & kExp) == kExp);
  }
  return bad != 0;
}

// The tile function's context: set (relaxed) by any thread that finds a
// non-finite value; never cleared by the tiles, so blocks from several
// threads, in any order, OR into one answer.
struct GradientCheck {
  mutable std::atomic<bool> nonfinite{false};

  void flag() const { nonfinite.store(true, std::memory_order_relaxed); }

  bool found() const { return nonfinite.load(std::memory_order_relaxed); }

  // GemmTileFn<T>: checks rows × cols at c (row stride ldc).
  template <typename T>
  static void tile(T* c, index_t ldc, index_t rows, index_t cols, const void* ctx) {
    bool bad = false;
    for (index_t i = 0; i < rows; ++i) bad |= any_nonfinite(c + i * ldc, cols);
    // Only a finding writes the shared flag: clean tiles touch no shared line.
    if (bad) static_cast<const GradientCheck*>(ctx)->flag();
  }
};

}  // namespace fastmlp
