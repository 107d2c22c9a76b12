// maxpool2d's 2×2 stride-2 fast path (pool2x2.h), each instruction set this
// machine has, held to the generic window scan bit for bit: values with
// ties (±0 too), NaNs of distinct payloads and signs, ±∞, on every row
// width up to past two AVX-512 vectors plus a tail, odd heights and widths,
// several planes; and maxpool2d_forward/backward (which pick the fast path)
// on whole batches at 1 and 2 threads.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "conv.h"
#include "cpu.h"
#include "pool2x2.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

namespace {

// A quiet NaN with the given payload and sign, so that which NaN a window
// chose shows in the bits.
template <typename T>
T nan_with_payload(unsigned payload, bool negative) {
  T v = std::numeric_limits<T>::quiet_NaN();
  if constexpr (sizeof(T) == 4) {
    std::uint32_t b;
    std::memcpy(&b, &v, 4);
    b |= payload & 0xffffu;
    if (negative) b |= 0x80000000u;
    std::memcpy(&v, &b, 4);
  } else {
    std::uint64_t b;
    std::memcpy(&b, &v, 8);
    b |= payload & 0xffffu;
    if (negative) b |= 0x8000000000000000ull;
    std::memcpy(&v, &b, 8);
  }
  return v;
}

// Mostly a few small values (ties in most windows, +0 and −0 among them),
// with NaNs, ±∞ and plain random numbers.
template <typename T>
std::vector<T> tricky_values(std::size_t n, std::mt19937& gen) {
  const T inf = std::numeric_limits<T>::infinity();
  std::uniform_int_distribution<int> pick(0, 15);
  std::uniform_real_distribution<double> u(-2, 2);
  std::vector<T> v(n > 0 ? n : 1);
  unsigned payload = 1;
  for (auto& x : v) {
    switch (pick(gen)) {
      case 0:
        x = nan_with_payload<T>(payload, payload % 2 == 0);
        ++payload;
        break;
      case 1: x = inf; break;
      case 2: x = -inf; break;
      case 3: x = T(0); break;
      case 4: x = -T(0); break;
      case 5: case 6: x = T(1); break;
      case 7: case 8: x = T(-1); break;
      default: x = static_cast<T>(u(gen)); break;
    }
  }
  return v;
}

Window2d window_2x2(index_t h, index_t w) {
  Window2d win;
  win.in_h = h, win.in_w = w, win.kernel_h = 2, win.kernel_w = 2, win.stride_h = 2, win.stride_w = 2;
  return win;
}

const char* isa_name(pool2x2::Isa isa) {
  switch (isa) {
    case pool2x2::Isa::kPortable: return "portable";
    case pool2x2::Isa::kAvx2: return "avx2";
    case pool2x2::Isa::kAvx512: return "avx512";
  }
  return "?";
}

int g_reported = 0;
void report(bool ok, const std::string& what) {
  CHECK(ok);
  if (!ok && g_reported++ < 10) std::fprintf(stderr, "  differs: %s\n", what.c_str());
}

// One plane shape through one instruction set against the generic scan.
template <typename T>
void compare_isa(pool2x2::Isa isa, index_t planes, index_t h, index_t w, std::mt19937& gen) {
  const Window2d win = window_2x2(h, w);
  const index_t in_size = h * w, out_size = win.out_h() * win.out_w();
  const auto x = tricky_values<T>(static_cast<std::size_t>(planes * in_size), gen);
  // dy with −0 and NaNs too: dx must be 0 + dy, as the generic scan's.
  const auto dy = tricky_values<T>(static_cast<std::size_t>(planes * out_size), gen);
  // Filled with garbage: both must overwrite every element.
  std::vector<T> y_ref(dy.size(), T(7)), y(dy.size(), T(-7)), dx_ref(x.size(), T(7)), dx(x.size(), T(-7));
  maxpool2d_forward_generic(y_ref.data(), x.data(), planes, 1, win);
  maxpool2d_backward_generic(dx_ref.data(), dy.data(), x.data(), planes, 1, win);
  pool2x2::forward(y.data(), x.data(), planes, h, w, isa);
  pool2x2::backward(dx.data(), dy.data(), x.data(), planes, h, w, isa);
  const std::string what = std::string(isa_name(isa)) + " " + (sizeof(T) == 4 ? "float32" : "float64") +
                           " planes " + std::to_string(planes) + " " + std::to_string(h) + "x" +
                           std::to_string(w);
  report(same_bits(y, y_ref), what + " y");
  report(same_bits(dx, dx_ref), what + " dx");
}

// maxpool2d_forward/backward themselves (threads split the rows) against
// the generic scan, on the CNN's pooling shapes and an odd one.
template <typename T>
void compare_entry_points(index_t rows, index_t channels, index_t h, index_t w, std::mt19937& gen) {
  const Window2d win = window_2x2(h, w);
  const index_t in_size = channels * h * w, out_size = channels * win.out_h() * win.out_w();
  const auto x = tricky_values<T>(static_cast<std::size_t>(rows * in_size), gen);
  const auto dy = tricky_values<T>(static_cast<std::size_t>(rows * out_size), gen);
  std::vector<T> y_ref(dy.size(), T(7)), y(dy.size(), T(-7)), dx_ref(x.size(), T(7)), dx(x.size(), T(-7));
  maxpool2d_forward_generic(y_ref.data(), x.data(), rows, channels, win);
  maxpool2d_backward_generic(dx_ref.data(), dy.data(), x.data(), rows, channels, win);
  maxpool2d_forward(y.data(), x.data(), rows, channels, win);
  maxpool2d_backward(dx.data(), dy.data(), x.data(), rows, channels, win);
  const std::string what = std::string("maxpool2d ") + (sizeof(T) == 4 ? "float32" : "float64") + " " +
                           std::to_string(rows) + "x" + std::to_string(channels) + "x" + std::to_string(h) +
                           "x" + std::to_string(w) + " threads " + std::to_string(num_threads());
  report(same_bits(y, y_ref), what + " y");
  report(same_bits(dx, dx_ref), what + " dx");
}

// A window of hand-picked values whose answer is known, so that the
// comparison above cannot pass by both paths being wrong the same way.
template <typename T>
void check_known_windows(pool2x2::Isa isa) {
  const T nan1 = nan_with_payload<T>(1, false), nan2 = nan_with_payload<T>(2, true);
  const T inf = std::numeric_limits<T>::infinity();
  // Four windows side by side (rows 0 and 1 of a 2 × 8 image), and the
  // element each chooses: tie → first; NaNs → the last; −∞ only → first;
  // −0 then +0 → the first (−0).
  const T x[16] = {1, 3, 3, nan1, -inf, -inf, -T(0), T(0),
                   3, 2, nan2, 0, -inf, -inf, T(0), -T(0)};
  const int chosen[4] = {1, 10, 4, 6};
  const T dy[4] = {T(0.5), T(-1), -T(0), T(2)};
  T y[4], dx[16];
  pool2x2::forward(y, x, 1, 2, 8, isa);
  pool2x2::backward(dx, dy, x, 1, 2, 8, isa);
  for (int o = 0; o < 4; ++o) {
    CHECK(std::memcmp(&y[o], &x[chosen[o]], sizeof(T)) == 0);
    for (int i = 0; i < 16; ++i) {
      const bool in_window = (i % 8) / 2 == o;
      if (!in_window) continue;
      const T want = i == chosen[o] ? T(0) + dy[o] : T(0);
      CHECK(std::memcmp(&dx[i], &want, sizeof(T)) == 0);
    }
  }
}

template <typename T>
void test_type() {
  std::mt19937 gen(sizeof(T) == 4 ? 2024 : 2025);
  for (pool2x2::Isa isa : {pool2x2::Isa::kPortable, pool2x2::Isa::kAvx2, pool2x2::Isa::kAvx512}) {
    check_known_windows<T>(isa);
    // Widths 2 .. 70: up to 35 windows a row, past two 16-lane vectors and
    // every tail length; heights odd and even; one plane and several.
    for (index_t w = 2; w <= 70; ++w)
      for (index_t h : {2, 3, 4, 7})
        for (index_t planes : {1, 3}) compare_isa<T>(isa, planes, h, w, gen);
    compare_isa<T>(isa, 8, 26, 26, gen);
    compare_isa<T>(isa, 8, 11, 11, gen);
  }
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    compare_entry_points<T>(64, 32, 26, 26, gen);
    compare_entry_points<T>(64, 64, 11, 11, gen);
    compare_entry_points<T>(5, 3, 9, 14, gen);
  }
}

}  // namespace

int main() {
  std::printf("pool2x2 widest instruction set: %s\n", isa_name(pool2x2::widest_isa()));
  // Every window of this shape takes the fast path; others do not.
  CHECK(pool2x2::applies(window_2x2(6, 6)));
  Window2d padded = window_2x2(6, 6);
  padded.pad_w = 1;
  CHECK(!pool2x2::applies(padded));
  Window2d stride1 = window_2x2(6, 6);
  stride1.stride_h = 1;
  CHECK(!pool2x2::applies(stride1));
  test_type<float>();
  test_type<double>();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
