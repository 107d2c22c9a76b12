// Optimizer update timing harness: the median milliseconds of one
// optimizer_update over 5.8 M float32 parameters (the 784-2048-2048-10
// network), one thread, for each update loop. Used to measure optim.cc's
// software prefetch; only interleaved runs of two builds are worth comparing
// (the machine's speed drifts by ±5 % over minutes). Not a CMake target; built
// by hand against the core library (one line):
//   g++ -O2 -std=c++17 -Inative/core native/test/optim_bench.cc
//   build-cmake/libfastmlp_core.a -lpthread -o /tmp/optim_bench
// Arguments (any order): `subnormal` starts every state value at 1e-39 (a
// subnormal float) with all gradients 0 — the state of dead units, which
// optim.cc flushes to 0 — instead of zero state and varied gradients;
// `keep` turns the flush off (spec.flush_subnormal = false, PyTorch's
// behaviour); any other word runs only the cases whose name contains it.
// Compile with -DOPTIM_BENCH_NO_FLUSH_FIELD against an optim.h from before
// the flush existed to time the old loops.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "optim.h"
#include "threads.h"

using namespace fastmlp;

int main(int argc, char** argv) {
  set_num_threads(1);
  bool subnormal_state = false, keep_subnormal = false;
  std::vector<std::string> only;
  for (int a = 1; a < argc; ++a) {
    if (std::strcmp(argv[a], "subnormal") == 0) subnormal_state = true;
    else if (std::strcmp(argv[a], "keep") == 0) keep_subnormal = true;
    else only.push_back(argv[a]);
  }
  const index_t n = 5800000;
  struct Case {
    const char* name;
    OptimizerSpec spec;
  };
  std::vector<Case> cases;
  OptimizerSpec s;
  s.kind = OptimizerKind::Sgd;
  cases.push_back({"sgd", s});
  s.momentum = 0.9;
  cases.push_back({"sgd-momentum", s});
  s.nesterov = true;
  cases.push_back({"sgd-nesterov", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adagrad;
  cases.push_back({"adagrad", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::RMSprop;
  cases.push_back({"rmsprop", s});
  s.centered = true;
  cases.push_back({"rmsprop-centered", s});
  s.centered = false;
  s.momentum = 0.9;
  cases.push_back({"rmsprop-momentum", s});
  s.centered = true;
  cases.push_back({"rmsprop-centered-momentum", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adam;
  cases.push_back({"adam", s});
  s.kind = OptimizerKind::AdamW;
  s.weight_decay = 0.01;
  cases.push_back({"adamw", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adam;
  s.amsgrad = true;
  cases.push_back({"adam-amsgrad", s});

  // Every state layout fits in 3n; gradients are small and varied, so the
  // parameters stay finite over all the steps.
  const float initial_state = subnormal_state ? 1e-39f : 0.0f;
  std::vector<float> param(n, 0.5f), grad(n, 0.0f), state(3 * n, initial_state);
  if (!subnormal_state)
    for (index_t i = 0; i < n; ++i) grad[i] = float((i % 97) - 48) * 1e-3f;
  std::printf("optimizer_update, %lld floats, 1 thread, median ms of 41, %s state%s\n",
              static_cast<long long>(n), subnormal_state ? "subnormal" : "ordinary",
              keep_subnormal ? ", flush off" : "");
  for (Case c : cases) {
    bool wanted = only.empty();
    for (const std::string& word : only) wanted = wanted || std::strstr(c.name, word.c_str());
    if (!wanted) continue;
#ifndef OPTIM_BENCH_NO_FLUSH_FIELD
    c.spec.flush_subnormal = !keep_subnormal;
#endif
    // Each case from fresh parameters and state (another case's state
    // means something else and drove half the parameters to NaN).
    std::fill(param.begin(), param.end(), 0.5f);
    std::fill(state.begin(), state.end(), initial_state);
    std::vector<double> ms;
    for (int r = 0; r < 41; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      optimizer_update(c.spec, param.data(), grad.data(), state.data(), n, r + 2);
      ms.push_back(std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%-26s %8.3f\n", c.name, ms[ms.size() / 2]);
  }
  return 0;
}
