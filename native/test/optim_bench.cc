// Optimizer update timing harness: the median milliseconds of one
// optimizer_update over 5.8 M float32 (or float64) parameters (the 784-2048-2048-10
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
// `tiny=P` gives P % of the elements (spread evenly) gradients of ±1e-20
// (float; ±1e-160 in double): nonzero, but their squares are subnormal, so
// (1 − β2)·g·g, (1 − α)·g·g and g·g take a microcode assist on x86 on every
// step; the rest keep the varied ordinary gradients. `double` runs the same
// on float64 arrays.
// Compile with -DOPTIM_BENCH_NO_FLUSH_FIELD against an optim.h from before
// the flush existed to time the old loops.
#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "optim.h"
#include "threads.h"

using namespace fastmlp;

struct Options {
  bool subnormal_state = false, keep_subnormal = false;
  int tiny_percent = 0;
  std::vector<std::string> only;
};

template <typename T>
int run(const Options& o);

int main(int argc, char** argv) {
  set_num_threads(1);
  Options o;
  bool use_double = false;
  for (int a = 1; a < argc; ++a) {
    if (std::strcmp(argv[a], "subnormal") == 0) o.subnormal_state = true;
    else if (std::strcmp(argv[a], "keep") == 0) o.keep_subnormal = true;
    else if (std::strcmp(argv[a], "double") == 0) use_double = true;
    else if (std::strncmp(argv[a], "tiny=", 5) == 0) o.tiny_percent = std::atoi(argv[a] + 5);
    else o.only.push_back(argv[a]);
  }
  return use_double ? run<double>(o) : run<float>(o);
}

template <typename T>
int run(const Options& o) {
  const bool subnormal_state = o.subnormal_state, keep_subnormal = o.keep_subnormal;
  const std::vector<std::string>& only = o.only;
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
  const bool is_float = sizeof(T) == 4;
  const T initial_state = subnormal_state ? T(is_float ? 1e-39 : 1e-309) : T(0);
  const T tiny = T(is_float ? 1e-20 : 1e-160);
  std::vector<T> param(n, T(0.5)), grad(n, T(0)), state(3 * n, initial_state);
  if (!subnormal_state)
    for (index_t i = 0; i < n; ++i) {
      // Evenly spread: element i is tiny when its share of 100 crosses an integer.
      const bool is_tiny = (i * o.tiny_percent) / 100 != ((i + 1) * o.tiny_percent) / 100;
      grad[i] = is_tiny ? (i % 2 ? tiny : -tiny) : T((i % 97) - 48) * T(1e-3);
    }
  std::printf("optimizer_update, %lld %s, 1 thread, median ms of 41, %s state, %d %% tiny gradients%s\n",
              static_cast<long long>(n), is_float ? "floats" : "doubles",
              subnormal_state ? "subnormal" : "ordinary", o.tiny_percent,
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
    std::fill(param.begin(), param.end(), T(0.5));
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
