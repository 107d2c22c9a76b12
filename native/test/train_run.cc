// A short, complete training run of the C++ core, small enough for memory
// checkers: networks built and destroyed repeatedly, every optimizer, both
// dtypes, train_step, train_epoch on two threads with a shuffled order and a
// cancellation, predict, reserve (buffers regrown) and rejected inputs (the
// error paths must free what they allocated too). It checks that training
// works (the loss falls) and exits non-zero if not; what it is for is the
// checker around it: ctest runs it under LeakSanitizer in the `asan` preset
// (CMakePresets.json) and under Valgrind memcheck in the `valgrind` test.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "layer_specs.h"
#include "network.h"
#include "threads.h"

using namespace fastmlp;
using fastmlp_test::activation_spec;
using fastmlp_test::dense_spec;

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "train_run: FAILED: %s\n", what);
  }
}

// Two Gaussian blobs per class in 16 dimensions, 4 classes: learnable quickly.
template <typename T>
void make_data(index_t rows, std::vector<T>& x, std::vector<std::int32_t>& y) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 0.3);
  x.resize(static_cast<std::size_t>(rows * 16));
  y.resize(static_cast<std::size_t>(rows));
  for (index_t r = 0; r < rows; ++r) {
    const int c = static_cast<int>(r % 4);
    y[r] = c;
    for (int j = 0; j < 16; ++j) x[r * 16 + j] = static_cast<T>((j % 4 == c ? 1.0 : 0.0) + noise(rng));
  }
}

template <typename T>
void run(OptimizerKind kind) {
  const std::vector<LayerSpec> layers = {dense_spec(16, 32), activation_spec(Activation::Relu),
                                         dense_spec(32, 16), activation_spec(Activation::Tanh),
                                         dense_spec(16, 4)};
  Network<T> net(layers, 8);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-0.25, 0.25);
  for (index_t i = 0; i < net.param_count(); ++i) net.params()[i] = static_cast<T>(u(rng));
  LossSpec loss;
  loss.kind = LossKind::CrossEntropy;
  net.set_loss(loss);
  OptimizerSpec opt;
  opt.kind = kind;
  opt.lr = kind == OptimizerKind::Sgd ? 0.1 : 0.01;
  opt.momentum = kind == OptimizerKind::Sgd ? 0.9 : 0.0;
  net.set_optimizer(opt);

  const index_t rows = 256;
  std::vector<T> x;
  std::vector<std::int32_t> y;
  make_data(rows, x, y);
  net.reserve(32);  // regrow every activation buffer once

  const double first = net.train_step(x.data(), 32, y.data(), nullptr);
  std::vector<std::int32_t> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  EpochResult last;
  for (int epoch = 0; epoch < 8; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    last = net.train_epoch(x.data(), rows, y.data(), nullptr, 32, order.data());
  }
  expect(last.bad_batch == -1 && last.batches == rows / 32, "every batch trained");
  expect(last.mean_loss < first * 0.5, "the loss fell by half");

  // A cancelled epoch stops before its first batch and leaves the network usable.
  std::atomic<bool> cancel{true};
  const EpochResult c = net.train_epoch(x.data(), rows, y.data(), nullptr, 32, nullptr, &cancel);
  expect(c.cancelled && c.batches == 0, "cancel stops the epoch");

  std::vector<T> out(static_cast<std::size_t>(rows * 4));
  net.predict(x.data(), rows, out.data());
  expect(std::isfinite(static_cast<double>(out[0])), "predict is finite");

  // Rejected inputs throw and leak nothing.
  std::vector<std::int32_t> bad(y);
  bad[3] = 9;
  try {
    net.train_epoch(x.data(), rows, bad.data(), nullptr, 32, nullptr);
    expect(false, "a bad class index throws");
  } catch (const std::invalid_argument&) {
  }
  try {
    Network<T> broken({dense_spec(16, 8), dense_spec(9, 2)});
    expect(false, "mismatched layers throw");
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

int main() {
  set_num_threads(2);
  for (int round = 0; round < 3; ++round) {
    for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW}) {
      run<float>(kind);
      run<double>(kind);
    }
  }
  set_num_threads(1);
  std::printf("train_run: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
