// Native train_step timing, Adam, cross-entropy. Prints the median and
// fastest step (ms) over `steps` timed steps after 5 warm-up steps, the step
// count, the last loss, and the median process CPU time of a step (ms, all
// threads: on a shared machine it leaves out the time the process waited
// for a core, though not the memory bandwidth others take). Built against
// two core libraries (before/after a change) and run in alternating pairs,
// it measured the gradient check's cost (the README's Errors section); at
// commit 3a57f56, with an --unfused flag, the fused optimizer step's (the
// README's Benchmarks). Not a test.
//   fastmlp_step_bench [steps] [--small] [--threads N] [--dead F]
//   default: 30 steps, 784-2048-2048-10 batch 256, 1 thread;
//   --small: 784-512-256-10 batch 128;
//   --dead F: the first F (0..1) of the first hidden layer's units are dead
//   ReLUs (bias −100; their weight rows, bias and outgoing weight columns get
//   gradient 0) whose Adam state has decayed as in a long run, m = 0 and
//   v = 1e-39 (subnormal), set after the warm-up — what optim.cc's subnormal
//   flush is about (measured before/after it, README Optimizers).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>
#include "network.h"
#include "threads.h"
using namespace fastmlp;
int main(int argc, char** argv) {
  int steps = 30, threads = 1;
  bool small = false;
  double dead = 0.0;
  for (int a = 1; a < argc; ++a) {
    if (std::strcmp(argv[a], "--small") == 0) small = true;
    else if (std::strcmp(argv[a], "--dead") == 0 && a + 1 < argc) dead = std::atof(argv[++a]);
    else if (std::strcmp(argv[a], "--threads") == 0 && a + 1 < argc) threads = std::atoi(argv[++a]);
    else steps = std::atoi(argv[a]);
  }
  set_num_threads(threads);
  const index_t h1 = small ? 512 : 2048, h2 = small ? 256 : 2048;
  std::vector<LayerSpec> ls(5);
  ls[0].kind = LayerSpec::Kind::Dense; ls[0].in = 784; ls[0].out = h1;
  ls[1].kind = LayerSpec::Kind::Activation; ls[1].activation = Activation::Relu;
  ls[2].kind = LayerSpec::Kind::Dense; ls[2].in = h1; ls[2].out = h2;
  ls[3].kind = LayerSpec::Kind::Activation; ls[3].activation = Activation::Relu;
  ls[4].kind = LayerSpec::Kind::Dense; ls[4].in = h2; ls[4].out = 10;
  const index_t B = small ? 128 : 256;
  Network<float> n(ls, B);
  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(-0.03f, 0.03f);
  for (index_t i = 0; i < n.param_count(); ++i) n.params()[i] = u(g);
  // Layout: W1 (h1 × 784), b1 (h1), W2 (h2 × h1), b2, W3, b3.
  const index_t dead_units = static_cast<index_t>(dead * static_cast<double>(h1));
  const index_t w2_at = h1 * 784 + h1;
  for (index_t unit = 0; unit < dead_units; ++unit) n.params()[h1 * 784 + unit] = -100.f;
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
  if (dead_units > 0) {
    const index_t p = n.param_count();
    std::vector<float> state(n.opt_state(), n.opt_state() + n.opt_state_size());  // [m][v]
    const auto decayed = [&](index_t i) { state[i] = 0.f; state[p + i] = 1e-39f; };
    for (index_t unit = 0; unit < dead_units; ++unit) {
      for (index_t j = 0; j < 784; ++j) decayed(unit * 784 + j);
      decayed(h1 * 784 + unit);
      for (index_t o = 0; o < h2; ++o) decayed(w2_at + o * h1 + unit);
    }
    n.set_opt_state(state.data(), n.opt_state_size(), n.step_count());
  }
  const auto cpu_ms = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
  };
  std::vector<double> t, cpu;
  double loss = 0;
  for (int i = 0; i < steps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    const double c = cpu_ms();
    loss = n.train_step(x.data(), B, y.data(), nullptr);
    cpu.push_back(cpu_ms() - c);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf("%.4f %.4f %lld %.6f %.4f\n", t[t.size() / 2], t[0], static_cast<long long>(n.step_count()),
              loss, cpu[cpu.size() / 2]);
  return 0;
}
