// Updates that overflow (optim_numerics.inc, "Updates that overflow"), per ISA
// variant of the update loops (fastmlp_kernel_test: default, avx2, scalar):
//  1. every optimizer kind and option, float and double: a vector holding
//     ordinary elements and elements whose update overflows from finite
//     values (weight decay on a parameter near the largest finite number;
//     for the adaptive optimizers also a gradient whose square overflows)
//     returns false; the overflowing elements keep parameter and state bit
//     for bit; the others end bit-identical to an update of them alone
//     (which returns true); nothing stored is non-finite. On one thread and
//     on two (the refusal is found in either chunk);
//  2. the brief's case, SGD with lr 1e30 and a gradient of 1e10 (double:
//     lr 1e300), next to gradients whose update stays finite;
//  3. Network: train_step on a batch whose update overflows (weight decay on a
//     huge weight) returns its finite loss, does not count the step, keeps
//     that weight and its state, updates the others, and leaves every value
//     finite; train_epoch stops at such a batch with bad_update.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "network.h"
#include "optim.h"
#include "threads.h"
#include "two_layer_net.h"

using namespace fastmlp;
using namespace fastmlp_test;

namespace {

struct NamedSpec {
  std::string name;
  OptimizerSpec spec;
};

bool adaptive(const OptimizerSpec& s) { return s.kind != OptimizerKind::Sgd; }

// Every kind with every option that changes the loop, all with weight decay
// (coupled; AdamW's decoupled decay with lr·λ = 4, so that 1 − lr·λ = −3).
std::vector<NamedSpec> all_specs() {
  std::vector<NamedSpec> out;
  OptimizerSpec s;
  s.weight_decay = 4;
  s.kind = OptimizerKind::Sgd;
  out.push_back({"sgd", s});
  s.momentum = 0.9;
  out.push_back({"sgd-momentum", s});
  s.dampening = 0.5;
  out.push_back({"sgd-dampening", s});
  s.dampening = 0.0;
  s.nesterov = true;
  out.push_back({"sgd-nesterov", s});
  s = OptimizerSpec{};
  s.weight_decay = 4;
  s.kind = OptimizerKind::Adagrad;
  out.push_back({"adagrad", s});
  for (int options = 0; options < 4; ++options) {
    s = OptimizerSpec{};
    s.weight_decay = 4;
    s.kind = OptimizerKind::RMSprop;
    s.centered = (options & 1) != 0;
    s.momentum = (options & 2) != 0 ? 0.9 : 0.0;
    out.push_back({"rmsprop-" + std::to_string(options), s});
  }
  s = OptimizerSpec{};
  s.weight_decay = 4;
  s.kind = OptimizerKind::Adam;
  out.push_back({"adam", s});
  s.amsgrad = true;
  out.push_back({"adam-amsgrad", s});
  s.amsgrad = false;
  s.kind = OptimizerKind::AdamW;
  s.lr = 1.0;
  out.push_back({"adamw", s});
  s.amsgrad = true;
  out.push_back({"adamw-amsgrad", s});
  s.amsgrad = false;
  s.clip_value = 0.05;  // the clipped loop variant (a norm would mix the elements)
  out.push_back({"adamw-clip", s});
  return out;
}

template <typename T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <typename T>
int nonfinite_count(const std::vector<T>& v) {
  int bad = 0;
  for (T x : v) bad += std::isfinite(x) ? 0 : 1;
  return bad;
}

// A gradient whose square overflows T though it is finite, as are (1 − β)·g
// and the weight-decayed parameter: (0.001·g)·g and (0.01·g)·g overflow.
template <typename T>
T huge_gradient() {
  return std::is_same<T, float>::value ? T(1e21) : T(1e160);
}

// What each element of the mixed vector is.
enum class Role { Ordinary, DecayOverflow, SquareOverflow };

template <typename T>
Role role_of(index_t i) {
  if (i % 29 == 3) return Role::DecayOverflow;
  if (i % 31 == 7) return Role::SquareOverflow;
  return Role::Ordinary;
}

// Three steps of `spec` over n elements mixing the roles, against the same
// steps over the ordinary (and, for SGD, square) elements alone.
template <typename T>
void mixed_update(const NamedSpec& c, index_t n) {
  const OptimizerSpec& s = c.spec;
  const index_t state_slices = optimizer_state_size(s, 1);
  const T big = std::numeric_limits<T>::max() * T(0.75);
  rng.seed(7);
  std::vector<T> param = random_vec<T>(static_cast<std::size_t>(n));
  std::vector<T> state(static_cast<std::size_t>(n * state_slices), T(0));
  std::vector<index_t> kept_index, refused_index;
  for (index_t i = 0; i < n; ++i) {
    const Role r = role_of<T>(i);
    if (r == Role::DecayOverflow) param[i] = (i % 2 ? big : -big);
    // A square overflows only where one is taken (SGD has none) of a gradient
    // not clipped (clip_value clamps it to ±0.05).
    const bool refused = r == Role::DecayOverflow ||
                         (r == Role::SquareOverflow && adaptive(s) && s.clip_value == 0);
    (refused ? refused_index : kept_index).push_back(i);
  }
  const index_t k = static_cast<index_t>(kept_index.size());
  // The elements that update, alone (state slices are n long: re-laid k long).
  std::vector<T> alone_param(kept_index.size()), alone_state(static_cast<std::size_t>(k * state_slices), T(0));
  for (index_t j = 0; j < k; ++j) alone_param[j] = param[kept_index[j]];
  const std::vector<T> param_before = param, state_before = state;

  bool every_mixed_step_refused = true, every_alone_step_applied = true;
  for (int step = 1; step <= 3; ++step) {
    std::vector<T> grad(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) {
      const T wave = T(((i * 7 + step * 13) % 23) - 11) / T(11);
      grad[i] = role_of<T>(i) == Role::SquareOverflow ? huge_gradient<T>() * (wave < 0 ? T(-1) : T(1))
                                                      : T(0.1) * wave;
    }
    std::vector<T> alone_grad(kept_index.size());
    for (index_t j = 0; j < k; ++j) alone_grad[j] = grad[kept_index[j]];
    every_mixed_step_refused &= !optimizer_update(s, param.data(), grad.data(), state.data(), n, step);
    every_alone_step_applied &= optimizer_update(s, alone_param.data(), alone_grad.data(),
                                                 alone_state.data(), k, step);
  }
  int refused_changed = 0, kept_differ = 0;
  for (index_t i : refused_index) {
    refused_changed += same_bits(param[i], param_before[i]) ? 0 : 1;
    for (index_t sl = 0; sl < state_slices; ++sl)
      refused_changed += same_bits(state[sl * n + i], state_before[sl * n + i]) ? 0 : 1;
  }
  for (index_t j = 0; j < k; ++j) {
    const index_t i = kept_index[j];
    kept_differ += same_bits(param[i], alone_param[j]) ? 0 : 1;
    for (index_t sl = 0; sl < state_slices; ++sl)
      kept_differ += same_bits(state[sl * n + i], alone_state[sl * k + j]) ? 0 : 1;
  }
  // The kept elements must have moved, or "bit-identical" proves little.
  int kept_moved = 0;
  for (index_t j = 0; j < k; ++j) kept_moved += same_bits(param[kept_index[j]], param_before[kept_index[j]]) ? 0 : 1;
  if (!every_mixed_step_refused || !every_alone_step_applied || refused_changed || kept_differ ||
      nonfinite_count(param) || nonfinite_count(state))
    std::fprintf(stderr, "%s (%s, n %lld): refused %d applied %d, %d refused values changed, %d kept values differ, "
                 "%d/%d non-finite\n", c.name.c_str(), sizeof(T) == 4 ? "float" : "double",
                 static_cast<long long>(n), every_mixed_step_refused, every_alone_step_applied,
                 refused_changed, kept_differ, nonfinite_count(param), nonfinite_count(state));
  CHECK(every_mixed_step_refused);
  CHECK(every_alone_step_applied);
  CHECK(refused_changed == 0);
  CHECK(kept_differ == 0);
  CHECK(kept_moved > k / 2);
  CHECK(nonfinite_count(param) == 0);
  CHECK(nonfinite_count(state) == 0);
  CHECK(!refused_index.empty());
}

// SGD, lr 1e30 (double 1e300): a gradient of 1e10 would move its parameter
// to −∞; one of 1e-10 moves it by a finite 1e20 (1e290).
template <typename T>
void sgd_huge_learning_rate() {
  OptimizerSpec s;
  s.kind = OptimizerKind::Sgd;
  s.lr = std::is_same<T, float>::value ? 1e30 : 1e300;
  std::vector<T> param(64, T(0.5)), grad(64);
  for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = i % 4 == 0 ? T(1e10) : T(1e-10);
  CHECK(!optimizer_update(s, param.data(), grad.data(), static_cast<T*>(nullptr), 64, 1));
  for (std::size_t i = 0; i < param.size(); ++i) {
    if (i % 4 == 0) CHECK(param[i] == T(0.5));
    else CHECK(param[i] == T(T(0.5) - T(s.lr) * T(1e-10)));
  }
  // And with momentum: the velocity stays as it was too (zero: first step).
  s.momentum = 0.9;
  std::vector<T> velocity(64, T(0));
  std::fill(param.begin(), param.end(), T(0.5));
  CHECK(!optimizer_update(s, param.data(), grad.data(), velocity.data(), 64, 1));
  for (std::size_t i = 0; i < param.size(); i += 4) CHECK(param[i] == T(0.5) && velocity[i] == T(0));
  CHECK(velocity[1] == T(1e-10));
}

// 4-8-2 with tanh, MSE, Adam with weight decay 4 (g += 4θ).
template <typename T>
Network<T> decaying_network() {
  Network<T> net = two_layer_net<T>(4, 8, 2, Activation::Tanh, 16, 3);
  LossSpec mse;
  mse.kind = LossKind::Mse;
  net.set_loss(mse);
  OptimizerSpec s;
  s.kind = OptimizerKind::Adam;
  s.weight_decay = 4;
  net.set_optimizer(s);
  return net;
}

// The first weight of hidden unit 0 at 3/4 of the largest finite value: with
// inputs in [0, 1) its pre-activation stays finite and tanh saturates, so the
// loss and the gradients stay finite, but its decayed gradient g + 4θ overflows.
template <typename T>
void plant_huge_weight(Network<T>& net) {
  net.params()[0] = std::numeric_limits<T>::max() * T(0.75);
}

template <typename T>
void network_refuses_overflowing_update() {
  Network<T> net = decaying_network<T>();
  std::vector<T> x(16 * 4), y(16 * 2);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = T((i * 5) % 11) / T(11);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = T((i * 3) % 7) / T(7);
  net.train_step(x.data(), 16, nullptr, y.data());
  CHECK(net.step_count() == 1);
  plant_huge_weight(net);
  const index_t p = net.param_count();
  const std::vector<T> params_before(net.params(), net.params() + p);
  const std::vector<T> state_before(net.opt_state(), net.opt_state() + net.opt_state_size());
  const double loss = net.train_step(x.data(), 16, nullptr, y.data());
  const std::vector<T> params_after(net.params(), net.params() + p);
  const std::vector<T> state_after(net.opt_state(), net.opt_state() + net.opt_state_size());
  CHECK(std::isfinite(loss));
  CHECK(net.step_count() == 1);  // not counted
  CHECK(nonfinite_count(params_after) == 0);
  CHECK(nonfinite_count(state_after) == 0);
  CHECK(same_bits(params_after[0], params_before[0]));
  CHECK(same_bits(state_after[0], state_before[0]));      // m
  CHECK(same_bits(state_after[p], state_before[p]));      // v
  int moved = 0;
  for (index_t i = 1; i < p; ++i) moved += same_bits(params_after[i], params_before[i]) ? 0 : 1;
  CHECK(moved > p / 2);  // the others were updated

  // train_epoch: two ordinary batches, then one whose update overflows.
  Network<T> e = decaying_network<T>();
  std::vector<T> X(48 * 4), Y(48 * 2);
  for (std::size_t i = 0; i < X.size(); ++i) X[i] = T((i * 5) % 11) / T(11);
  for (std::size_t i = 0; i < Y.size(); ++i) Y[i] = T((i * 3) % 7) / T(7);
  int seen = 0;
  const BatchObserver observe = [&](index_t batch, index_t, double) {
    ++seen;
    if (batch == 1) plant_huge_weight(e);
  };
  const EpochResult r = e.train_epoch(X.data(), 48, nullptr, Y.data(), 16, nullptr, nullptr, &observe);
  CHECK(r.bad_batch == 2);
  CHECK(r.bad_update);
  CHECK(!r.bad_gradients && !r.bad_statistics);
  CHECK(r.batches == 2);
  CHECK(seen == 2);
  CHECK(e.step_count() == 2);
  CHECK(e.params()[0] == std::numeric_limits<T>::max() * T(0.75));
  CHECK(nonfinite_count(std::vector<T>(e.params(), e.params() + p)) == 0);
  CHECK(nonfinite_count(std::vector<T>(e.opt_state(), e.opt_state() + e.opt_state_size())) == 0);
}

}  // namespace

int main() {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const NamedSpec& c : all_specs()) {
      // 1000: one chunk; 3 chunks of the thread pool's grain and a ragged end.
      for (index_t n : {index_t(1000), index_t(3 * 32768 + 77)}) {
        mixed_update<float>(c, n);
        mixed_update<double>(c, n);
      }
    }
  }
  set_num_threads(1);
  sgd_huge_learning_rate<float>();
  sgd_huge_learning_rate<double>();
  network_refuses_overflowing_update<float>();
  network_refuses_overflowing_update<double>();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
