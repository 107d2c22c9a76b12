// The fused optimizer step (network.h set_fused_optimizer) against the
// unfused one, bit for bit: two networks built alike, one forced unfused,
// trained side by side with train_step and train_epoch; after every step
// their loss, parameters, gradients, optimizer state, running statistics and
// step count must have the same bits. Covered:
//  - every optimizer configuration (SGD ± momentum, dampening, nesterov;
//    Adagrad with lr decay and an initial accumulator; RMSprop ± centered,
//    momentum; Adam, AdamW, amsgrad; weight decay; clip_value; and clip_norm
//    and L1/L2 penalties, which must fall back to the unfused step);
//  - float and double, 1 and 2 threads, and (ctest) every gemm kernel;
//  - ragged shapes (widths not multiples of 32, batches not multiples of
//    12), a deep stack whose dZ buffers the ping-pong would overwrite, a
//    batch longer than the kernels' k block, a batch-norm + PReLU + dropout
//    model;
//  - steps that must change nothing: a NaN loss, and float32 gradients that
//    overflow while the loss is finite (the deferred weights' bound fails).
// Each case also checks that the fused path really ran (fused_weight_count).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "gemm.h"
#include "network.h"
#include "threads.h"

using namespace fastmlp;
using fastmlp_test::g_checks;
using fastmlp_test::g_failures;

namespace {

template <typename T>
bool same_bits(const T* a, const T* b, index_t n) {
  return n == 0 || std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(T)) == 0;
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Everything a step may change, compared bit for bit.
template <typename T>
bool same_state(Network<T>& a, Network<T>& b) {
  return a.param_count() == b.param_count() &&
         same_bits(a.params(), b.params(), a.param_count()) &&
         same_bits(a.grads(), b.grads(), a.param_count()) &&
         a.opt_state_size() == b.opt_state_size() &&
         same_bits(a.opt_state(), b.opt_state(), a.opt_state_size()) &&
         same_bits(a.buffers(), b.buffers(), a.buffer_count()) &&
         a.step_count() == b.step_count();
}

LayerSpec dense(index_t in, index_t out) {
  LayerSpec L;
  L.kind = LayerSpec::Kind::Dense;
  L.in = in;
  L.out = out;
  return L;
}

LayerSpec act(Activation a) {
  LayerSpec L;
  L.kind = LayerSpec::Kind::Activation;
  L.activation = a;
  return L;
}

struct Shape {
  const char* name;
  std::vector<LayerSpec> layers;
  index_t batch, rows;  // train_step batch; train_epoch over `rows` rows
};

std::vector<Shape> shapes() {
  std::vector<Shape> s;
  // 29 rows: dZ blocks of 12-row tiles leave 5; widths 70, 45 leave ragged
  // column tiles; the last layer (45 → 5) is never deferred (29 > 5).
  s.push_back({"ragged",
               {dense(37, 70), act(Activation::Relu), dense(70, 45), act(Activation::Tanh),
                dense(45, 5)},
               29, 98});
  // Four deferred layers in a row: each dZ must survive the layers after it.
  s.push_back({"deep",
               {dense(20, 64), act(Activation::Relu), dense(64, 66), act(Activation::Sigmoid),
                dense(66, 64), act(Activation::Gelu), dense(64, 50), dense(50, 3)},
               13, 40});
  // Batch norm (its parameters and running statistics), PReLU, dropout;
  // the first layer is not deferred (24 rows > 16 outputs), so the ranges
  // before and between the deferred weights are updated too.
  LayerSpec bn;
  bn.kind = LayerSpec::Kind::BatchNorm;
  bn.features = 64;
  LayerSpec prelu;
  prelu.kind = LayerSpec::Kind::PRelu;
  prelu.slopes = 64;
  LayerSpec drop;
  drop.kind = LayerSpec::Kind::Dropout;
  drop.p = 0.3;
  s.push_back({"bn-prelu-dropout",
               {dense(30, 16), act(Activation::Elu), dense(16, 64), bn, prelu, drop, dense(64, 70),
                act(Activation::Tanh), dense(70, 4)},
               24, 60});
  return s;
}

// A batch longer than every kernel's k block (KC ≤ 384): the weight gradient
// sums in two k blocks, and only the last may update.
Shape long_batch() {
  return {"long-batch", {dense(50, 450), act(Activation::Relu), dense(450, 3)}, 397, 397};
}

struct Config {
  std::string name;
  OptimizerSpec spec;
};

std::vector<Config> configs() {
  std::vector<Config> c;
  OptimizerSpec s;
  s.lr = 0.05;
  c.push_back({"sgd", s});
  s.weight_decay = 0.01;
  s.clip_value = 0.02;
  c.push_back({"sgd wd clip_value", s});
  s = OptimizerSpec{};
  s.momentum = 0.9;
  s.dampening = 0.1;
  c.push_back({"sgd momentum dampening", s});
  s.dampening = 0;
  s.nesterov = true;
  s.weight_decay = 0.001;
  c.push_back({"sgd nesterov wd", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adagrad;
  s.lr_decay = 0.01;
  s.initial_accumulator_value = 0.1;
  s.eps = 1e-10;
  c.push_back({"adagrad", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::RMSprop;
  s.lr = 0.001;
  c.push_back({"rmsprop", s});
  s.centered = true;
  c.push_back({"rmsprop centered", s});
  s.centered = false;
  s.momentum = 0.5;
  c.push_back({"rmsprop momentum", s});
  s.centered = true;
  s.weight_decay = 0.01;
  c.push_back({"rmsprop centered momentum wd", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adam;
  s.lr = 0.01;
  c.push_back({"adam", s});
  s.weight_decay = 0.01;
  s.clip_value = 0.05;
  c.push_back({"adam wd clip_value", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adam;
  s.amsgrad = true;
  c.push_back({"adam amsgrad", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::AdamW;
  s.weight_decay = 0.05;
  c.push_back({"adamw", s});
  s.amsgrad = true;
  c.push_back({"adamw amsgrad", s});
  s = OptimizerSpec{};
  s.kind = OptimizerKind::Adam;
  s.clip_norm = 0.5;  // needs every gradient first: unfused
  c.push_back({"adam clip_norm", s});
  return c;
}

template <typename T>
void build(Network<T>& n, const OptimizerSpec& spec, bool fused) {
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  for (index_t i = 0; i < n.param_count(); ++i) n.params()[i] = T(u(gen));
  LossSpec ce;
  ce.kind = LossKind::CrossEntropy;
  n.set_loss(ce);
  n.set_optimizer(spec);
  n.set_seed(5);
  n.set_fused_optimizer(fused);
}

// Whether the configuration may take the fused path at all.
bool fusable(const OptimizerSpec& spec, const std::vector<LayerSpec>& layers) {
  if (spec.clip_norm > 0) return false;
  for (const LayerSpec& L : layers)
    if (L.l1 > 0 || L.l2 > 0) return false;
  return true;
}

template <typename T>
void run_case(const Shape& shape, const Config& config, int steps, bool epoch) {
  const index_t in = shape.layers.front().in;
  index_t classes = 0;
  for (const LayerSpec& L : shape.layers)
    if (L.kind == LayerSpec::Kind::Dense) classes = L.out;
  Network<T> a(shape.layers, shape.batch), b(shape.layers, shape.batch);
  build(a, config.spec, true);
  build(b, config.spec, false);
  std::mt19937 gen(3);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> X(static_cast<std::size_t>(shape.rows * in));
  for (auto& v : X) v = T(u(gen));
  std::vector<std::int32_t> y(static_cast<std::size_t>(shape.rows));
  for (index_t i = 0; i < shape.rows; ++i) y[static_cast<std::size_t>(i)] = std::int32_t((i * 7) % classes);

  const bool expect_fused = fusable(config.spec, shape.layers);
  bool ok = true, fused_seen = false;
  for (int s = 0; s < steps; ++s) {
    const index_t r0 = (s * shape.batch) % (shape.rows - shape.batch + 1);
    const double la = a.train_step(X.data() + r0 * in, shape.batch, y.data() + r0, nullptr);
    const double lb = b.train_step(X.data() + r0 * in, shape.batch, y.data() + r0, nullptr);
    ok = ok && same_double(la, lb) && same_state(a, b);
    fused_seen = fused_seen || a.fused_weight_count() > 0;
    CHECK(b.fused_weight_count() == 0);
  }
  if (epoch) {
    // Shuffled, with a last partial batch (rows % batch ≠ 0).
    std::vector<std::int32_t> order(static_cast<std::size_t>(shape.rows));
    for (index_t i = 0; i < shape.rows; ++i) order[static_cast<std::size_t>(i)] = std::int32_t(i);
    std::shuffle(order.begin(), order.end(), gen);
    std::vector<T> outa(static_cast<std::size_t>(shape.rows * classes)), outb(outa.size());
    const EpochResult ra = a.train_epoch(X.data(), shape.rows, y.data(), nullptr, shape.batch,
                                         order.data(), nullptr, nullptr, outa.data());
    const EpochResult rb = b.train_epoch(X.data(), shape.rows, y.data(), nullptr, shape.batch,
                                         order.data(), nullptr, nullptr, outb.data());
    ok = ok && same_double(ra.mean_loss, rb.mean_loss) && ra.batches == rb.batches &&
         ra.bad_batch == rb.bad_batch && same_state(a, b) &&
         same_bits(outa.data(), outb.data(), static_cast<index_t>(outa.size()));
    fused_seen = fused_seen || a.fused_weight_count() > 0;
  }
  if (!ok || fused_seen != expect_fused)
    std::fprintf(stderr, "%s / %s (%s, %d threads): same=%d fused=%d expected fused=%d\n",
                 shape.name, config.name.c_str(), sizeof(T) == 4 ? "float" : "double",
                 num_threads(), int(ok), int(fused_seen), int(expect_fused));
  CHECK(ok);
  CHECK(fused_seen == expect_fused);
}

// L1/L2 penalties: the unfused step (unless folded in, which it is not).
template <typename T>
void run_penalty_case() {
  Shape s = shapes()[0];
  s.name = "ragged with l1/l2";
  s.layers[0].l1 = 1e-4;
  s.layers[2].l2 = 1e-3;
  Config c{"adam", OptimizerSpec{}};
  c.spec.kind = OptimizerKind::Adam;
  run_case<T>(s, c, 3, true);
}

// A NaN input: the loss is NaN and neither network changes.
template <typename T>
void run_nan_loss() {
  const Shape shape = shapes()[0];
  Config c{"adam", OptimizerSpec{}};
  c.spec.kind = OptimizerKind::Adam;
  Network<T> a(shape.layers, shape.batch), b(shape.layers, shape.batch);
  build(a, c.spec, true);
  build(b, c.spec, false);
  std::vector<T> X = fastmlp_test::random_vec<T>(static_cast<std::size_t>(shape.batch * 37));
  std::vector<std::int32_t> y(static_cast<std::size_t>(shape.batch), 1);
  a.train_step(X.data(), shape.batch, y.data(), nullptr);
  b.train_step(X.data(), shape.batch, y.data(), nullptr);
  const std::vector<T> before(a.params(), a.params() + a.param_count());
  X[5] = std::numeric_limits<T>::quiet_NaN();
  const double la = a.train_step(X.data(), shape.batch, y.data(), nullptr);
  const double lb = b.train_step(X.data(), shape.batch, y.data(), nullptr);
  CHECK(std::isnan(la) && std::isnan(lb));
  CHECK(a.step_count() == 1);
  CHECK(same_bits(before.data(), a.params(), a.param_count()));
  CHECK(same_state(a, b));  // gradients included: both computed them
}

// float32 gradients that overflow while the loss stays finite (SGD lr 1e6
// on targets i·1e3, gradfinite_test's repro with layers wide enough to be
// deferred): at the first such step both networks refuse the update, with
// the same bits everywhere, and train_epoch stops at the same batch.
void run_overflow() {
  std::vector<LayerSpec> ls = {dense(4, 40), act(Activation::Relu), dense(40, 40),
                               act(Activation::Relu), dense(40, 1)};
  LayerSpec bn;
  bn.kind = LayerSpec::Kind::BatchNorm;
  bn.features = 40;
  ls.insert(ls.begin() + 1, bn);
  OptimizerSpec sgd;
  sgd.lr = 1e6;
  const auto make = [&](bool fused) {
    Network<float> n(ls, 16);
    std::mt19937 gen(7);
    std::uniform_real_distribution<double> u(-0.5, 0.5);
    for (index_t i = 0; i < n.param_count(); ++i) n.params()[i] = float(u(gen));
    LossSpec mse;
    n.set_loss(mse);
    n.set_optimizer(sgd);
    n.set_fused_optimizer(fused);
    return n;
  };
  const index_t rows = 96;
  std::vector<float> X = fastmlp_test::random_vec<float>(static_cast<std::size_t>(rows * 4));
  std::vector<float> Y(static_cast<std::size_t>(rows));
  for (index_t i = 0; i < rows; ++i) Y[static_cast<std::size_t>(i)] = float(i) * 1e3f;

  Network<float> a = make(true), b = make(false);
  bool ok = true, fused_seen = false, refused = false;
  for (index_t s = 0; s < rows / 16 && !refused; ++s) {
    const double la = a.train_step(X.data() + s * 64, 16, nullptr, Y.data() + s * 16);
    const double lb = b.train_step(X.data() + s * 64, 16, nullptr, Y.data() + s * 16);
    ok = ok && same_double(la, lb) && same_state(a, b) &&
         a.gradients_finite() == b.gradients_finite();
    fused_seen = fused_seen || a.fused_weight_count() > 0;
    refused = std::isfinite(la) && !a.gradients_finite();
  }
  CHECK(ok);
  CHECK(fused_seen);
  CHECK(refused);  // the case the loss check alone misses

  Network<float> e = make(true), f = make(false);
  const EpochResult re = e.train_epoch(X.data(), rows, nullptr, Y.data(), 16, nullptr);
  const EpochResult rf = f.train_epoch(X.data(), rows, nullptr, Y.data(), 16, nullptr);
  CHECK(re.bad_batch >= 1 && re.bad_batch == rf.bad_batch);
  CHECK(re.bad_gradients == rf.bad_gradients && re.batches == rf.batches);
  CHECK(same_double(re.mean_loss, rf.mean_loss));
  CHECK(same_state(e, f));
}

template <typename T>
void run_all() {
  const std::vector<Config> all = configs();
  const std::vector<Shape> sh = shapes();
  for (const Config& c : all) run_case<T>(sh[0], c, 3, true);
  // The other shapes with a few configurations of each state layout.
  for (std::size_t k : {std::size_t(2), std::size_t(4), std::size_t(8), std::size_t(11)}) {
    run_case<T>(sh[1], all[k], 2, true);
    run_case<T>(sh[2], all[k], 2, true);
  }
  run_case<T>(long_batch(), all[9], 2, false);
  run_penalty_case<T>();
  run_nan_loss<T>();
}

}  // namespace

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    run_all<float>();
    run_all<double>();
  }
  set_num_threads(1);
  run_overflow();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
