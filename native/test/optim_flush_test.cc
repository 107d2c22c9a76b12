// Subnormal optimizer state (optim_numerics.inc, "Subnormal state"), per ISA
// variant of the update loops (fastmlp_kernel_test: default, avx2, scalar):
//  1. no optimizer kind or option ever stores a subnormal state value, with
//     gradients that are 0, ordinary, or tiny enough to make (1 − β)·g
//     subnormal;
//  2. with zero gradients on some rows (dead units) and state started just
//     above the smallest normal number, so that it decays through the range,
//     the parameters are bit-identical with and without the flush after every
//     step, and the state differs only where the unflushed one is subnormal
//     (stored 0 instead);
//  3. the same in fused training (Network::train_step) of a network with dead
//     ReLU units, both dtypes;
//  4. Adagrad's sum, which only grows, is kept as it is;
//  5. tiny gradients (|g| ~1e-20 float, ~1e-160 double: g² subnormal), whose
//     squares the core drops (optim_numerics.inc, "Tiny gradients"): from
//     zero state, and after ordinary steps (state ≥ 2⁻¹⁰²), the parameters
//     are bit-identical with and without the flush (which switches the drop
//     too), the state differs only where the unflushed one is subnormal
//     (Adagrad's sum: below steps·N), and after ordinary steps not at all.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "check.h"
#include "network.h"
#include "optim.h"
#include "two_layer_net.h"

using namespace fastmlp;
using namespace fastmlp_test;

namespace {

struct NamedSpec {
  std::string name;
  OptimizerSpec spec;
};

// Every kind with every option that changes which state exists or decays.
std::vector<NamedSpec> decaying_specs() {
  std::vector<NamedSpec> out;
  OptimizerSpec s;
  s.kind = OptimizerKind::Sgd;
  s.momentum = 0.9;
  out.push_back({"sgd-momentum", s});
  s.dampening = 0.5;
  out.push_back({"sgd-dampening", s});
  s.dampening = 0.0;
  s.nesterov = true;
  out.push_back({"sgd-nesterov", s});
  for (int options = 0; options < 4; ++options) {
    s = OptimizerSpec{};
    s.kind = OptimizerKind::RMSprop;
    s.centered = (options & 1) != 0;
    s.momentum = (options & 2) != 0 ? 0.9 : 0.0;
    out.push_back({"rmsprop-" + std::to_string(options), s});
  }
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adam;
  s.lr = 1e-3;
  out.push_back({"adam", s});
  s.amsgrad = true;
  out.push_back({"adam-amsgrad", s});
  s.amsgrad = false;
  s.kind = OptimizerKind::AdamW;
  s.weight_decay = 0.01;
  out.push_back({"adamw", s});
  s.clip_norm = 0.5;  // the clipped loop variant
  out.push_back({"adamw-clip", s});
  return out;
}

template <typename T>
bool subnormal(T x) {
  return x != T(0) && std::abs(x) < std::numeric_limits<T>::min();
}

template <typename T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Rows of `width` values: row r % 3 == 0 has a zero gradient (dead), 1 an
// ordinary one, 2 (only when `tiny`) one whose (1 − β)·g is subnormal.
template <typename T>
std::vector<T> gradients(index_t n, index_t width, bool tiny, int step) {
  std::vector<T> g(n);
  const T small = std::numeric_limits<T>::min() * T(4);
  for (index_t i = 0; i < n; ++i) {
    const index_t row = i / width;
    const T wave = T(((i * 7 + step * 13) % 23) - 11) / T(11);
    if (row % 3 == 0) g[i] = T(0);
    else if (row % 3 == 1 || !tiny) g[i] = T(0.05) * wave;
    else g[i] = small * wave;
  }
  return g;
}

// State started just above the smallest normal number (signed for the slices
// that may be negative), so that it enters the subnormal range within a few
// steps of β = 0.9 (m, buffers) and ~50 of β2 = 0.999 (v).
template <typename T>
std::vector<T> near_normal_floor(index_t size) {
  std::vector<T> state(size);
  const T floor = std::numeric_limits<T>::min();
  for (index_t i = 0; i < size; ++i) state[i] = floor * T(1.05 + 0.01 * (i % 5));
  return state;
}

template <typename T>
void no_subnormal_stored(const NamedSpec& c) {
  const index_t n = 600, width = 50;
  std::vector<T> param = random_vec<T>(n);
  std::vector<T> state = near_normal_floor<T>(optimizer_state_size(c.spec, n));
  int stored = 0;
  for (int step = 1; step <= 120; ++step) {
    const std::vector<T> grad = gradients<T>(n, width, true, step);
    optimizer_update(c.spec, param.data(), grad.data(), state.data(), n, step + 1);
    for (T x : state) stored += subnormal(x) ? 1 : 0;
  }
  if (stored != 0) std::fprintf(stderr, "%s: %d subnormal state values stored\n", c.name.c_str(), stored);
  CHECK(stored == 0);
}

template <typename T>
void parameters_unchanged_by_flush(const NamedSpec& c) {
  const index_t n = 600, width = 50;
  OptimizerSpec kept = c.spec;
  kept.flush_subnormal = false;
  std::vector<T> param_flush = random_vec<T>(n), param_kept = param_flush;
  std::vector<T> state_flush = near_normal_floor<T>(optimizer_state_size(c.spec, n));
  std::vector<T> state_kept = state_flush;
  int param_diffs = 0, state_bad = 0, state_flushed = 0;
  for (int step = 1; step <= 120; ++step) {
    const std::vector<T> grad = gradients<T>(n, width, false, step);
    optimizer_update(c.spec, param_flush.data(), grad.data(), state_flush.data(), n, step + 1);
    optimizer_update(kept, param_kept.data(), grad.data(), state_kept.data(), n, step + 1);
    for (index_t i = 0; i < n; ++i) param_diffs += same_bits(param_flush[i], param_kept[i]) ? 0 : 1;
    for (std::size_t i = 0; i < state_flush.size(); ++i) {
      if (same_bits(state_flush[i], state_kept[i])) continue;
      if (state_flush[i] == T(0) && subnormal(state_kept[i])) ++state_flushed;
      else ++state_bad;
    }
  }
  if (param_diffs || state_bad)
    std::fprintf(stderr, "%s: %d parameter and %d state differences\n", c.name.c_str(),
                 param_diffs, state_bad);
  CHECK(param_diffs == 0);
  CHECK(state_bad == 0);
  // The scenario must reach the range, or it proves nothing.
  CHECK(state_flushed > 0);
}

// 6-10-3 with ReLU; hidden units 0..3 have bias −50, so with inputs in
// [0, 1) and weights in [−1, 1) they never fire: their weight rows, biases
// and outgoing weight columns get gradient exactly 0.
template <typename T>
Network<T> dead_unit_network(const OptimizerSpec& spec) {
  Network<T> net = two_layer_net<T>(6, 10, 3, Activation::Relu, 12, 99);
  for (index_t unit = 0; unit < 4; ++unit) net.params()[60 + unit] = T(-50);
  LossSpec ce;
  ce.kind = LossKind::CrossEntropy;
  net.set_loss(ce);
  net.set_optimizer(spec);
  const std::vector<T> state = near_normal_floor<T>(net.opt_state_size());
  net.set_opt_state(state.data(), net.opt_state_size(), 10);
  return net;
}

template <typename T>
void fused_training_unchanged_by_flush(const NamedSpec& c) {
  OptimizerSpec kept = c.spec;
  kept.flush_subnormal = false;
  Network<T> flushed = dead_unit_network<T>(c.spec), unflushed = dead_unit_network<T>(kept);
  std::vector<T> x(12 * 6);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = T((i * 5) % 11) / T(11);
  std::vector<std::int32_t> y(12);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::int32_t(i % 3);
  const index_t p = flushed.param_count(), s = flushed.opt_state_size();
  int param_diffs = 0, state_bad = 0, state_flushed = 0, stored = 0;
  for (int step = 0; step < 100; ++step) {
    flushed.train_step(x.data(), 12, y.data(), nullptr);
    unflushed.train_step(x.data(), 12, y.data(), nullptr);
    for (index_t i = 0; i < p; ++i)
      param_diffs += same_bits(flushed.params()[i], unflushed.params()[i]) ? 0 : 1;
    for (index_t i = 0; i < s; ++i) {
      const T a = flushed.opt_state()[i], b = unflushed.opt_state()[i];
      stored += subnormal(a) ? 1 : 0;
      if (same_bits(a, b)) continue;
      if (a == T(0) && subnormal(b)) ++state_flushed;
      else ++state_bad;
    }
  }
  if (param_diffs || state_bad || stored)
    std::fprintf(stderr, "%s fused: %d parameter and %d state differences, %d subnormal stored\n",
                 c.name.c_str(), param_diffs, state_bad, stored);
  CHECK(param_diffs == 0);
  CHECK(state_bad == 0);
  CHECK(stored == 0);
  CHECK(state_flushed > 0);
}

// A zero gradient leaves Adagrad's sum as it is, subnormal or not: it does
// not decay, so it is not flushed (optim_numerics.inc).
template <typename T>
void adagrad_sum_kept() {
  OptimizerSpec s;
  s.kind = OptimizerKind::Adagrad;
  const index_t n = 40;
  std::vector<T> param = random_vec<T>(n), grad(n, T(0));
  std::vector<T> sum(n, std::numeric_limits<T>::denorm_min() * T(1000));
  const std::vector<T> before = sum, param_before = param;
  for (int step = 2; step <= 5; ++step)
    optimizer_update(s, param.data(), grad.data(), sum.data(), n, step);
  CHECK(sum == before);
  CHECK(param == param_before);
}

// Rows: 0 tiny gradient (g² subnormal, nonzero), 1 ordinary, 2 tiny from
// step `tiny_from` on (ordinary before, so that its state is normal).
template <typename T>
std::vector<T> tiny_gradients(index_t n, index_t width, int step, int tiny_from) {
  std::vector<T> g(n);
  const T tiny = std::is_same<T, float>::value ? T(1e-20) : T(1e-160);
  for (index_t i = 0; i < n; ++i) {
    const index_t row = i / width;
    const T wave = T(((i * 7 + step * 13) % 23) - 11) / T(11);
    const T signed_tiny = tiny * (wave < 0 ? T(-1) : T(1)) * (T(1) + T(i % 5) / T(8));
    if (row % 3 == 0) g[i] = signed_tiny;
    else if (row % 3 == 1 || step < tiny_from) g[i] = T(0.05) * wave;
    else g[i] = signed_tiny;
  }
  return g;
}

template <typename T>
void tiny_gradients_unchanged(const NamedSpec& c) {
  const index_t n = 600, width = 50;
  OptimizerSpec kept = c.spec;
  kept.flush_subnormal = false;
  rng.seed(21);
  std::vector<T> param_on = random_vec<T>(n), param_off = param_on;
  std::vector<T> state_on(static_cast<std::size_t>(optimizer_state_size(c.spec, n)), T(0));
  std::vector<T> state_off = state_on;
  int param_diffs = 0, state_bad = 0, row2_state_diffs = 0, subnormal_off = 0;
  for (int step = 1; step <= 60; ++step) {
    const std::vector<T> grad = tiny_gradients<T>(n, width, step, 21);
    optimizer_update(c.spec, param_on.data(), grad.data(), state_on.data(), n, step);
    optimizer_update(kept, param_off.data(), grad.data(), state_off.data(), n, step);
    for (index_t i = 0; i < n; ++i) param_diffs += same_bits(param_on[i], param_off[i]) ? 0 : 1;
    for (std::size_t k = 0; k < state_on.size(); ++k) {
      subnormal_off += subnormal(state_off[k]) ? 1 : 0;
      if (same_bits(state_on[k], state_off[k])) continue;
      // Rows 2 (tiny after 20 ordinary steps: state far above 2⁻¹⁰²) never differ.
      if ((static_cast<index_t>(k) % n) / width % 3 == 2) ++row2_state_diffs;
      // Adagrad's sum is never flushed: it lacks the dropped squares, each
      // below the smallest normal N, so it is lower by less than step·N.
      const bool allowed = c.spec.kind == OptimizerKind::Adagrad
                               ? state_on[k] == T(0) && state_off[k] < T(step) * std::numeric_limits<T>::min()
                               : state_on[k] == T(0) && subnormal(state_off[k]);
      if (!allowed) ++state_bad;
    }
  }
  if (param_diffs || state_bad || row2_state_diffs)
    std::fprintf(stderr, "%s tiny gradients: %d parameter, %d state, %d row-2 state differences\n",
                 c.name.c_str(), param_diffs, state_bad, row2_state_diffs);
  CHECK(param_diffs == 0);
  CHECK(state_bad == 0);
  CHECK(row2_state_diffs == 0);
  // The unflushed run does meet subnormal state (the squares are there).
  CHECK(subnormal_off > 0);
}

}  // namespace

int main() {
  for (const NamedSpec& c : decaying_specs()) {
    no_subnormal_stored<float>(c);
    no_subnormal_stored<double>(c);
    parameters_unchanged_by_flush<float>(c);
    parameters_unchanged_by_flush<double>(c);
    fused_training_unchanged_by_flush<float>(c);
    fused_training_unchanged_by_flush<double>(c);
  }
  adagrad_sum_kept<float>();
  adagrad_sum_kept<double>();
  std::vector<NamedSpec> squaring;
  for (const NamedSpec& c : decaying_specs())
    if (c.spec.kind != OptimizerKind::Sgd) squaring.push_back(c);
  OptimizerSpec adagrad;
  adagrad.kind = OptimizerKind::Adagrad;
  squaring.push_back({"adagrad", adagrad});
  for (const NamedSpec& c : squaring) {
    tiny_gradients_unchanged<float>(c);
    tiny_gradients_unchanged<double>(c);
  }
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
