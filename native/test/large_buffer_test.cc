// LargeBuffer (large_buffer.h) keeps the invariant that replaced
// std::vector's zero-fill: every buffer is zero when made, whatever its size
// and whatever memory it gets (memory another buffer wrote and gave back
// included), mapped buffers are 2 MiB aligned, and moving one in frees the
// old one. Then the network's buffers that are replaced instead of filled —
// optimizer state on reset and on a change of optimizer, activations on
// reserve — give the same training as a network built fresh in that state.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "check.h"
#include "layer_specs.h"
#include "large_buffer.h"
#include "network.h"

using namespace fastmlp;
using fastmlp_test::g_checks;
using fastmlp_test::g_failures;
using fastmlp_test::dense_spec;

namespace {

template <typename T>
bool all_zero(const LargeBuffer<T>& b) {
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i] != T(0)) return false;
  return true;
}

template <typename T>
void fill_ones(LargeBuffer<T>& b) {
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = T(1);
}

template <typename T>
void test_sizes() {
  const std::size_t threshold = LargeBuffer<T>::kMapThreshold / sizeof(T);
  const std::size_t sizes[] = {0, 1, 3, 1000, threshold - 1, threshold, threshold + 1,
                               3 * threshold + 7, (std::size_t(9) << 20) / sizeof(T)};
  for (std::size_t n : sizes) {
    // Twice: the second buffer may get the memory the first wrote and freed.
    for (int round = 0; round < 2; ++round) {
      LargeBuffer<T> b(n);
      CHECK(b.size() == n);
      CHECK(b.empty() == (n == 0));
      CHECK(all_zero(b));
      CHECK(b.end() - b.begin() == static_cast<std::ptrdiff_t>(n));
#if defined(__linux__)
      CHECK(b.mapped() == (n * sizeof(T) >= LargeBuffer<T>::kMapThreshold));
      if (b.mapped()) CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % LargeBuffer<T>::kHugePage == 0);
#endif
      fill_ones(b);
      if (n > 0) CHECK(b[n - 1] == T(1) && b[0] == T(1));
    }
  }
}

template <typename T>
void test_moves() {
  const std::size_t big = (std::size_t(5) << 20) / sizeof(T) + 11;
  LargeBuffer<T> a(big);
  fill_ones(a);
  a = LargeBuffer<T>(big);  // the written memory is freed, the new one is zero
  CHECK(a.size() == big && all_zero(a));
  LargeBuffer<T> b(std::move(a));
  CHECK(a.size() == 0 && a.data() == nullptr && b.size() == big);
  LargeBuffer<T> c(17);
  fill_ones(c);
  c.swap(b);
  CHECK(c.size() == big && b.size() == 17 && b[16] == T(1) && all_zero(c));
  b = LargeBuffer<T>();
  CHECK(b.size() == 0 && b.data() == nullptr);
  CHECK_THROWS(LargeBuffer<T>(static_cast<std::size_t>(-1) / 2), std::bad_alloc);
}

// A net whose parameters (1.3 M floats), gradients, Adam state and
// activations at 64 rows are all mapped buffers (≥ 4 MiB).
std::vector<LayerSpec> big_net() {
  LayerSpec relu;
  relu.kind = LayerSpec::Kind::Activation;
  relu.activation = Activation::Relu;
  return {dense_spec(256, 1024), relu, dense_spec(1024, 1024), relu, dense_spec(1024, 10)};
}

Network<float> fresh_net(index_t max_batch, const std::vector<float>& params) {
  Network<float> n(big_net(), max_batch);
  std::memcpy(n.params(), params.data(), params.size() * sizeof(float));
  LossSpec ce;
  ce.kind = LossKind::CrossEntropy;
  n.set_loss(ce);
  return n;
}

void test_network_replacements() {
  std::mt19937 g(3);
  std::uniform_real_distribution<float> u(-0.03f, 0.03f), ux(0.f, 1.f);
  const index_t rows = 64;
  std::vector<float> params(static_cast<std::size_t>(Network<float>(big_net(), 1).param_count()));
  for (auto& v : params) v = u(g);
  std::vector<float> x(rows * 256);
  for (auto& v : x) v = ux(g);
  std::vector<std::int32_t> y(rows);
  for (index_t i = 0; i < rows; ++i) y[i] = std::int32_t(i % 10);
  OptimizerSpec adam;
  adam.kind = OptimizerKind::Adam;
  adam.lr = 1e-3;
  OptimizerSpec momentum;
  momentum.kind = OptimizerKind::Sgd;
  momentum.lr = 0.01;
  momentum.momentum = 0.9;

  // The reference: a fresh network of 64 rows, Adam, one step.
  Network<float> ref = fresh_net(rows, params);
  ref.set_optimizer(adam);
  const double ref_loss = ref.train_step(x.data(), rows, y.data(), nullptr);

  // Trained at 8 rows, then grown to 64 (fresh activations), its state reset
  // (a fresh zero state) and its weights put back: the same step as ref.
  Network<float> a = fresh_net(8, params);
  a.set_optimizer(adam);
  for (int i = 0; i < 3; ++i) a.train_step(x.data(), 8, y.data(), nullptr);
  CHECK(a.step_count() == 3);
  a.reset_optimizer_state();
  CHECK(a.step_count() == 0 && a.opt_state_size() == 2 * a.param_count());
  bool zero = true;
  for (index_t i = 0; i < a.opt_state_size(); ++i) zero = zero && a.opt_state()[i] == 0.f;
  CHECK(zero);
  a.reserve(rows);
  std::memcpy(a.params(), params.data(), params.size() * sizeof(float));
  CHECK(a.train_step(x.data(), rows, y.data(), nullptr) == ref_loss);
  CHECK(std::memcmp(a.params(), ref.params(), params.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.opt_state(), ref.opt_state(), ref.opt_state_size() * sizeof(float)) == 0);

  // Adam → momentum SGD (a new state layout: a fresh zero state) → Adam again
  // (fresh again): still the same step as ref, though both states were written.
  Network<float> b = fresh_net(rows, params);
  b.set_optimizer(adam);
  b.train_step(x.data(), rows, y.data(), nullptr);
  b.set_optimizer(momentum);
  CHECK(b.step_count() == 0 && b.opt_state_size() == b.param_count());
  b.train_step(x.data(), rows, y.data(), nullptr);
  b.set_optimizer(adam);
  CHECK(b.step_count() == 0 && b.opt_state_size() == 2 * b.param_count());
  std::memcpy(b.params(), params.data(), params.size() * sizeof(float));
  CHECK(b.train_step(x.data(), rows, y.data(), nullptr) == ref_loss);
  CHECK(std::memcmp(b.params(), ref.params(), params.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(b.opt_state(), ref.opt_state(), ref.opt_state_size() * sizeof(float)) == 0);
}

}  // namespace

int main() {
  test_sizes<float>();
  test_sizes<double>();
  test_sizes<std::int32_t>();
  test_moves<float>();
  test_moves<double>();
  test_network_replacements();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
