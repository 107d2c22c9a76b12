// Single-process maxpool2d timing on a small CNN's pooling shapes (the MNIST
// CNN of bench/: 64 × 32 × 26×26 and 64 × 64 × 11×11, 2×2 windows at
// stride 2), one thread unless FASTMLP_THREADS says otherwise.
//   fastmlp_pool_bench [float32|float64] [reps=200]
// Prints the median, over 15 batches of reps calls, of the time of one
// maxpool2d_forward and of one maxpool2d_backward, in microseconds. Built
// against an older core too, it compares two builds (the API is unchanged).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "conv.h"
#include "threads.h"

using fastmlp::index_t;
using fastmlp::Window2d;

namespace {

template <typename F>
double median_us(F&& f, int reps) {
  std::vector<double> t;
  for (int b = 0; b < 15; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) f();
    const auto t1 = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / reps);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

template <typename T>
void run(index_t rows, index_t channels, index_t hw, int reps) {
  Window2d w;
  w.in_h = w.in_w = hw, w.kernel_h = w.kernel_w = 2, w.stride_h = w.stride_w = 2;
  const index_t in = rows * channels * hw * hw, out = rows * channels * w.out_h() * w.out_w();
  std::mt19937 gen(1);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> x(static_cast<std::size_t>(in)), dx(x.size()), y(static_cast<std::size_t>(out)), dy(y.size());
  for (auto& v : x) v = static_cast<T>(u(gen));
  for (auto& v : dy) v = static_cast<T>(u(gen));
  const double f = median_us([&] { fastmlp::maxpool2d_forward(y.data(), x.data(), rows, channels, w); }, reps);
  const double b =
      median_us([&] { fastmlp::maxpool2d_backward(dx.data(), dy.data(), x.data(), rows, channels, w); }, reps);
  std::printf("%lld x %lld x %lldx%lld  forward %8.1f us  backward %8.1f us\n", static_cast<long long>(rows),
              static_cast<long long>(channels), static_cast<long long>(hw), static_cast<long long>(hw), f, b);
}

}  // namespace

int main(int argc, char** argv) {
  const bool f64 = argc > 1 && std::strcmp(argv[1], "float64") == 0;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 200;
  const char* threads = std::getenv("FASTMLP_THREADS");
  fastmlp::set_num_threads(threads != nullptr ? std::atoi(threads) : 1);
  if (f64) {
    run<double>(64, 32, 26, reps);
    run<double>(64, 64, 11, reps);
  } else {
    run<float>(64, 32, 26, reps);
    run<float>(64, 64, 11, reps);
  }
  return 0;
}
