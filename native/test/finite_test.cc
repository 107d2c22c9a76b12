// any_nonfinite (finite.h: the x·0 test) against std::isfinite, the answer it
// must give for every input; the training step's gradient checks and
// Engine.anyNonFinite both rest on it, and its result is a boolean, so any
// correct test gives the same one — this proves this one correct:
//  - every float32 pattern with an all-ones exponent (±Infinity and all
//    2·(2^23 − 1) NaN payloads, quiet and signalling), one at a time and
//    dropped into a finite block at a varying position;
//  - float64 NaN payloads: every single bit and every pair of bits of the
//    fraction, plus 2^20 random ones, both signs;
//  - random bit patterns of both widths (finite, subnormal, non-finite alike),
//    one at a time and in blocks;
//  - every exponent (all 256 / 2048) with fractions 0, 1, all-ones and random:
//    subnormals, the smallest and largest normals, ±0;
//  - every length 0..67 at every start offset 0..7 (unaligned, the loop's
//    whole-vector part and its remainder), a non-finite value at each position
//    and none at all, over finite fills of -0, subnormals and ±max;
//  - GradientCheck::tile (the same x·0 test over strided blocks) on a sample.
// Not a kernel test: nothing here depends on the gemm micro-kernel.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "finite.h"

using namespace fastmlp;
using fastmlp_test::g_checks;
using fastmlp_test::g_failures;

namespace {

template <typename T>
T from_bits(typename FloatBits<T>::U u) {
  T x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

template <typename T>
bool reference_any_nonfinite(const T* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return true;
  return false;
}

// Failures are counted one CHECK per mismatch, but only the first few are
// printed (a broken test would otherwise print millions of lines).
int g_printed = 0;

template <typename T>
void expect(const T* p, index_t n, const char* what, unsigned long long detail) {
  const bool want = reference_any_nonfinite(p, std::size_t(n));
  const bool got = any_nonfinite(p, n);
  ++g_checks;
  if (got != want) {
    ++g_failures;
    if (g_printed++ < 20)
      std::fprintf(stderr, "any_nonfinite<%s> %s (0x%llx, n=%lld): got %d, std::isfinite says %d\n",
                   sizeof(T) == 4 ? "float" : "double", what, detail, static_cast<long long>(n), got, want);
  }
}

// A finite block of `len` values with x at `pos` (a copy; its start offset in
// the backing array is `start`, so the loads are unaligned for start > 0).
template <typename T>
void expect_in_block(std::vector<T>& backing, const std::vector<T>& fill, std::size_t start, std::size_t len,
                     std::size_t pos, T x, const char* what, unsigned long long detail) {
  T* p = backing.data() + start;
  for (std::size_t i = 0; i < len; ++i) p[i] = fill[i % fill.size()];
  if (pos < len) p[pos] = x;
  expect(p, static_cast<index_t>(len), what, detail);
}

template <typename T>
std::vector<T> finite_specials() {
  using L = std::numeric_limits<T>;
  return {T(0), -T(0), L::denorm_min(), -L::denorm_min(), L::min() - L::denorm_min(), -(L::min() - L::denorm_min()),
          L::min(), -L::min(), L::max(), -L::max(), L::epsilon(), T(1), T(-1), T(0.5), T(3)};
}

template <typename T>
std::vector<T> nonfinite_specials() {
  using L = std::numeric_limits<T>;
  using U = typename FloatBits<T>::U;
  const U exp = FloatBits<T>::kExponent;
  const U sign = U(1) << (sizeof(U) * 8 - 1);
  return {L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN(), L::signaling_NaN(),
          from_bits<T>(exp | 1), from_bits<T>(sign | exp | 1), from_bits<T>(~U(0)), from_bits<T>(~sign)};
}

// Lengths 0..67 at start offsets 0..7: clean blocks over several finite
// fills, then each non-finite special at every position.
template <typename T>
void check_lengths_and_offsets() {
  const std::vector<T> specials = finite_specials<T>();
  const std::vector<std::vector<T>> fills = {specials, {-T(0)}, {std::numeric_limits<T>::denorm_min()},
                                             {std::numeric_limits<T>::max(), -std::numeric_limits<T>::max()}};
  std::vector<T> backing(8 + 68);
  for (std::size_t start = 0; start < 8; ++start)
    for (std::size_t len = 0; len <= 67; ++len) {
      for (const auto& fill : fills) expect_in_block(backing, fill, start, len, len, T(0), "clean block", len);
      for (T bad : nonfinite_specials<T>())
        for (std::size_t pos = 0; pos < len; ++pos)
          expect_in_block(backing, specials, start, len, pos, bad, "special in block", pos);
    }
}

// Every exponent with a few fractions, alone and in a block.
template <typename T>
void check_every_exponent(std::mt19937_64& gen) {
  using U = typename FloatBits<T>::U;
  constexpr int kFractionBits = sizeof(T) == 4 ? 23 : 52;
  constexpr U kFraction = (U(1) << kFractionBits) - 1;
  const std::vector<T> fill = finite_specials<T>();
  std::vector<T> backing(8 + 40);
  for (U e = 0; e <= (FloatBits<T>::kExponent >> kFractionBits); ++e)
    for (U f : {U(0), U(1), kFraction, U(gen()) & kFraction, U(gen()) & kFraction})
      for (U s : {U(0), U(1)}) {
        const U bits = (s << (sizeof(U) * 8 - 1)) | (e << kFractionBits) | f;
        const T x = from_bits<T>(bits);
        expect(&x, 1, "exponent sweep", bits);
        expect_in_block(backing, fill, std::size_t(e % 8), 37, std::size_t(f % 37), x, "exponent sweep in block", bits);
      }
}

// float32: all 2^24 patterns with an all-ones exponent, alone and in blocks.
void check_all_float32_nonfinite() {
  const std::vector<float> fill = finite_specials<float>();
  std::vector<float> backing(8 + 40);
  for (std::uint32_t low = 0; low < (1u << 24); ++low) {
    // The sign, then the fraction (23 bits): 0 is ±Infinity, the rest NaN payloads.
    const std::uint32_t bits = ((low >> 23) << 31) | 0x7f800000u | (low & 0x7fffffu);
    const float x = from_bits<float>(bits);
    expect(&x, 1, "float32 inf/nan", bits);
    expect_in_block(backing, fill, low % 8, 19 + low % 23, (low * 7) % 19, x, "float32 inf/nan in block", bits);
  }
}

// float64: NaN payloads with every single fraction bit and every pair, plus
// random ones, both signs.
void check_float64_nan_payloads(std::mt19937_64& gen) {
  constexpr std::uint64_t kExp = 0x7ff0000000000000ull, kSign = std::uint64_t(1) << 63, kFraction = (std::uint64_t(1) << 52) - 1;
  std::vector<std::uint64_t> payloads;
  for (int i = 0; i < 52; ++i) {
    payloads.push_back(1ull << i);
    for (int j = i + 1; j < 52; ++j) payloads.push_back((1ull << i) | (1ull << j));
  }
  for (int i = 0; i < (1 << 20); ++i) payloads.push_back((gen() & kFraction) | 1);  // | 1: a NaN, not Infinity
  const std::vector<double> fill = finite_specials<double>();
  std::vector<double> backing(8 + 40);
  std::size_t k = 0;
  for (std::uint64_t f : payloads)
    for (std::uint64_t s : {std::uint64_t(0), kSign}) {
      const std::uint64_t bits = s | kExp | f;
      const double x = from_bits<double>(bits);
      expect(&x, 1, "float64 nan payload", bits);
      ++k;
      expect_in_block(backing, fill, k % 8, 11 + k % 29, (k * 5) % 11, x, "float64 nan payload in block", bits);
    }
}

// Random bit patterns, one at a time and as whole random blocks (most are
// finite; ~1/256 of float32 and ~1/2048 of float64 patterns are not).
template <typename T>
void check_random_patterns(std::mt19937_64& gen) {
  using U = typename FloatBits<T>::U;
  for (int i = 0; i < (1 << 21); ++i) {
    const U bits = U(gen());
    const T x = from_bits<T>(bits);
    expect(&x, 1, "random pattern", bits);
  }
  std::vector<T> block(8 + 300);
  for (int i = 0; i < 20000; ++i) {
    const std::size_t start = std::size_t(gen() % 8), len = std::size_t(gen() % 300);
    for (std::size_t j = 0; j < len; ++j) block[start + j] = from_bits<T>(U(gen()));
    expect(block.data() + start, static_cast<index_t>(len), "random block", i);
  }
}

// GradientCheck::tile: a rows × cols block at stride ldc, one value poisoned
// (or none); its flag must match std::isfinite over the block.
template <typename T>
void check_tile(std::mt19937_64& gen) {
  const std::vector<T> bads = nonfinite_specials<T>();
  const std::vector<T> fill = finite_specials<T>();
  for (int i = 0; i < 3000; ++i) {
    const index_t rows = index_t(1 + gen() % 9), cols = index_t(1 + gen() % 40), ldc = cols + index_t(gen() % 5);
    std::vector<T> c(std::size_t(rows * ldc));
    for (std::size_t j = 0; j < c.size(); ++j) c[j] = fill[(j + i) % fill.size()];
    // Padding between rows is outside the block: a NaN there must not count.
    if (ldc > cols) c[std::size_t(cols)] = std::numeric_limits<T>::quiet_NaN();
    const bool poison = i % 2 == 0;
    if (poison) c[std::size_t(index_t(gen() % rows) * ldc + index_t(gen() % cols))] = bads[i % bads.size()];
    bool want = false;
    for (index_t r = 0; r < rows; ++r)
      for (index_t k = 0; k < cols; ++k) want = want || !std::isfinite(c[std::size_t(r * ldc + k)]);
    GradientCheck check;
    GradientCheck::tile<T>(c.data(), ldc, rows, cols, &check);
    CHECK(check.found() == want);
    CHECK(want == poison);
  }
}

template <typename T>
void run_both_widths(std::mt19937_64& gen, const char* name) {
  check_lengths_and_offsets<T>();
  check_every_exponent<T>(gen);
  check_random_patterns<T>(gen);
  check_tile<T>(gen);
  std::printf("any_nonfinite<%s>: lengths 0..67 × offsets 0..7, every exponent, random patterns, tiles ok\n", name);
}

}  // namespace

int main() {
  std::mt19937_64 gen(20261126);
  run_both_widths<float>(gen, "float");
  run_both_widths<double>(gen, "double");
  check_all_float32_nonfinite();
  std::printf("any_nonfinite<float>: all 2^24 patterns with an all-ones exponent ok\n");
  check_float64_nan_payloads(gen);
  std::printf("any_nonfinite<double>: NaN payloads (single bits, pairs, 2^20 random) ok\n");
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
