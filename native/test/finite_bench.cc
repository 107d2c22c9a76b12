// Not a test: GB/s of the whole-array finiteness test (finite.h any_nonfinite,
// what Engine.anyNonFinite and the training step's gradient checks run),
// against the two other ways it can be written, in one process and
// alternated round by round so that a loaded machine slows all of them alike:
//   bits     the exponent-bits AND-and-compare on the integer pattern (the
//            test any_nonfinite used before; kept here as the baseline)
//   mulzero  x·0 OR-reduced per lane (what any_nonfinite uses now)
//   hiword   float64 only: the bits test on the high 32-bit word, which holds
//            the whole exponent (a 32-bit compare SSE2 has, where a 64-bit
//            one needs SSE4.1's pcmpeqq)
// Sizes 1e6 (cache-resident after the first pass on most machines) and 47e6
// (memory-bound: 188 MB of float32, 376 MB of float64). All values finite, so
// every test reads the whole array; one more row times an array of subnormals
// (x·0 on a subnormal can take a microcode assist on some x86 cores).
//   fastmlp_finite_bench [rounds=9]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "finite.h"

using namespace fastmlp;

namespace {

// The test any_nonfinite ran before (the baseline being compared against).
template <typename T>
bool any_nonfinite_bits(const T* p, index_t n) {
  using U = typename FloatBits<T>::U;
  constexpr U kExp = FloatBits<T>::kExponent;
  U bad = 0;
  for (index_t i = 0; i < n; ++i) {
    U bits;
    std::memcpy(&bits, p + i, sizeof bits);
    bad |= (bits & kExp) == kExp ? ~U(0) : U(0);
  }
  return bad != 0;
}

// float64: the exponent test on the high words only (little-endian layout).
bool any_nonfinite_hiword(const double* p, index_t n) {
  constexpr std::uint32_t kExp = 0x7ff00000u;
  std::uint32_t bad = 0;
  for (index_t i = 0; i < n; ++i) {
    std::uint64_t bits;
    std::memcpy(&bits, p + i, sizeof bits);
    const auto hi = static_cast<std::uint32_t>(bits >> 32);
    bad |= (hi & kExp) == kExp ? ~0u : 0u;
  }
  return bad != 0;
}

volatile bool g_sink;

template <typename F>
double best_seconds(F&& f, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    g_sink = f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
  }
  return best;
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const std::size_t n = x.size();
  return n % 2 == 1 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

// Rounds of alternated passes (bits, mulzero, hiword, each timed as the best
// of a few back-to-back calls): a loaded machine slows neighbours alike, so
// the ratio of each round's pair is steadier than either figure. Printed: the
// median GB/s of each test and the median of the per-round mulzero/bits ratios.
template <typename T>
void bench(const char* dtype, std::size_t n, int rounds, bool subnormal) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = subnormal ? std::numeric_limits<T>::denorm_min() * T(1 + i % 7)
                     : static_cast<T>(std::sin(double(i)) * 100.0);
  const T* p = v.data();
  const auto len = static_cast<index_t>(n);
  const int reps = n > 10000000 ? 2 : 10;
  const double gb = double(n * sizeof(T)) / 1e9;
  std::vector<double> bits, mul, hi, ratio;
  for (int r = 0; r < rounds; ++r) {
    bits.push_back(gb / best_seconds([&] { return any_nonfinite_bits(p, len); }, reps));
    mul.push_back(gb / best_seconds([&] { return any_nonfinite(p, len); }, reps));
    if constexpr (sizeof(T) == 8) hi.push_back(gb / best_seconds([&] { return any_nonfinite_hiword(p, len); }, reps));
    ratio.push_back(mul.back() / bits.back());
  }
  std::printf("%-8s %9zu %-10s bits %6.1f  mulzero %6.1f", dtype, n, subnormal ? "subnormal" : "finite",
              median(bits), median(mul));
  if (!hi.empty()) std::printf("  hiword %6.1f", median(hi));
  std::printf(" GB/s; mulzero/bits %.2f (median of %d alternated rounds)\n", median(ratio), rounds);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 9;
  for (std::size_t n : {std::size_t(1000000), std::size_t(47000000)}) {
    bench<float>("float32", n, rounds, false);
    bench<double>("float64", n, rounds, false);
  }
  bench<float>("float32", 1000000, rounds, true);
  bench<double>("float64", 1000000, rounds, true);
  return 0;
}
