// Single-process activation timing harness (STYLE.md §13: validate, then time).
//   fastmlp_activation_bench [rows=128] [cols=512]
// For every activation, float32 and float64: first checks the float32 forward
// and backward against the float64 ones (relative 1e-4), then reports the
// best of several runs of activation_forward and activation_backward over a
// rows×cols batch, in millions of elements per second. The baseline is
// bench/activations_torch.py (PyTorch's CPU kernels, same shape, 1 thread).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "activations.h"

using fastmlp::Activation;
using fastmlp::ActivationParams;
using fastmlp::index_t;

namespace {

struct Case {
  const char* name;
  Activation act;
  ActivationParams params;
};

template <typename T>
std::vector<T> inputs(index_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-6, 6);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(u(rng));
  return v;
}

bool validate(const Case& c, index_t rows, index_t cols) {
  const index_t n = rows * cols;
  auto xd = inputs<double>(n, 1), dyd = inputs<double>(n, 2);
  std::vector<float> xf(xd.begin(), xd.end()), dyf(dyd.begin(), dyd.end());
  std::vector<double> yd(n), dxd(n);
  std::vector<float> yf(n), dxf(n);
  fastmlp::activation_forward(c.act, c.params, xd.data(), yd.data(), rows, cols);
  fastmlp::activation_backward(c.act, c.params, xd.data(), yd.data(), dyd.data(), dxd.data(), rows, cols);
  fastmlp::activation_forward(c.act, c.params, xf.data(), yf.data(), rows, cols);
  fastmlp::activation_backward(c.act, c.params, xf.data(), yf.data(), dyf.data(), dxf.data(), rows, cols);
  double err = 0;
  for (index_t i = 0; i < n; ++i) {
    err = std::max(err, std::fabs(yf[i] - yd[i]) / std::max(1.0, std::fabs(yd[i])));
    err = std::max(err, std::fabs(dxf[i] - dxd[i]) / std::max(1.0, std::fabs(dxd[i])));
  }
  if (!(err <= 1e-4)) std::printf("%s: validation FAILED, max error %g\n", c.name, err);
  return err <= 1e-4;
}

// Best seconds of `reps` timed calls of f (after one warm-up call).
template <typename F>
double best_seconds(F&& f, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

template <typename T>
void time_case(const Case& c, index_t rows, index_t cols, double out[2]) {
  const index_t n = rows * cols;
  auto x = inputs<T>(n, 3), dy = inputs<T>(n, 4);
  std::vector<T> y(n), dx(n);
  const int reps = 200;
  const double fwd = best_seconds([&] {
    fastmlp::activation_forward(c.act, c.params, x.data(), y.data(), rows, cols);
  }, reps);
  const double bwd = best_seconds([&] {
    fastmlp::activation_backward(c.act, c.params, x.data(), y.data(), dy.data(), dx.data(), rows, cols);
  }, reps);
  out[0] = n / fwd / 1e6;
  out[1] = n / bwd / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const index_t rows = argc > 1 ? std::atoll(argv[1]) : 128;
  const index_t cols = argc > 2 ? std::atoll(argv[2]) : 512;
  ActivationParams gelu_tanh;
  gelu_tanh.approximate = fastmlp::GeluApproximation::Tanh;
  const Case cases[] = {
      {"identity", Activation::Identity, {}}, {"relu", Activation::Relu, {}},
      {"leaky-relu", Activation::LeakyRelu, {}}, {"sigmoid", Activation::Sigmoid, {}},
      {"tanh", Activation::Tanh, {}},          {"elu", Activation::Elu, {}},
      {"selu", Activation::Selu, {}},          {"softplus", Activation::Softplus, {}},
      {"gelu", Activation::Gelu, {}},          {"gelu-tanh", Activation::Gelu, gelu_tanh},
      {"silu", Activation::Silu, {}},          {"swish", Activation::Swish, {}},
      {"softmax", Activation::Softmax, {}},    {"log-softmax", Activation::LogSoftmax, {}}};
  bool ok = true;
  for (const Case& c : cases) ok = validate(c, rows, cols) && ok;
  if (!ok) return 1;
  std::printf("activation %lldx%lld, Melem/s (best of 200)\n", static_cast<long long>(rows),
              static_cast<long long>(cols));
  std::printf("%-12s %10s %10s %10s %10s\n", "", "f32 fwd", "f32 bwd", "f64 fwd", "f64 bwd");
  for (const Case& c : cases) {
    double f[2], d[2];
    time_case<float>(c, rows, cols, f);
    time_case<double>(c, rows, cols, d);
    std::printf("%-12s %10.0f %10.0f %10.0f %10.0f\n", c.name, f[0], f[1], d[0], d[1]);
  }
  return 0;
}
