// Native train_step timing: 784-2048-2048-10, batch 256, Adam, cross-entropy,
// 1 thread. Prints the median and fastest step (ms) over `steps` timed steps
// after 5 warm-up steps, the step count and the last loss. Built against two
// core libraries (before/after a change) and run in alternating pairs, it
// measured the gradient check's cost (see the README's Errors section).
// Not a test.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "network.h"
#include "threads.h"
using namespace fastmlp;
int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 30;
  set_num_threads(1);
  std::vector<LayerSpec> ls(5);
  ls[0].kind = LayerSpec::Kind::Dense; ls[0].in = 784; ls[0].out = 2048;
  ls[1].kind = LayerSpec::Kind::Activation; ls[1].activation = Activation::Relu;
  ls[2].kind = LayerSpec::Kind::Dense; ls[2].in = 2048; ls[2].out = 2048;
  ls[3].kind = LayerSpec::Kind::Activation; ls[3].activation = Activation::Relu;
  ls[4].kind = LayerSpec::Kind::Dense; ls[4].in = 2048; ls[4].out = 10;
  const index_t B = 256;
  Network<float> n(ls, B);
  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(-0.03f, 0.03f);
  for (index_t i = 0; i < n.param_count(); ++i) n.params()[i] = u(g);
  LossSpec ce; ce.kind = LossKind::CrossEntropy;
  n.set_loss(ce);
  OptimizerSpec adam; adam.kind = OptimizerKind::Adam; adam.lr = 1e-4;
  n.set_optimizer(adam);
  std::vector<float> x(B * 784);
  std::uniform_real_distribution<float> ux(0.f, 1.f);
  for (auto& v : x) v = ux(g);
  std::vector<std::int32_t> y(B);
  for (index_t i = 0; i < B; ++i) y[i] = std::int32_t(i % 10);
  for (int i = 0; i < 5; ++i) n.train_step(x.data(), B, y.data(), nullptr);
  std::vector<double> t;
  double loss = 0;
  for (int i = 0; i < steps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    loss = n.train_step(x.data(), B, y.data(), nullptr);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  std::printf("%.4f %.4f %lld %.6f\n", t[t.size() / 2], t[0], static_cast<long long>(n.step_count()), loss);
  return 0;
}
