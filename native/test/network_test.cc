// Network tests of the core test program: finite-difference gradients of a
// whole network, train_epoch against train_step, input checks, state
// handling, and XOR learned.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "layer_specs.h"
#include "losses.h"
#include "network.h"
#include "optim.h"

using namespace fastmlp;

namespace fastmlp_test {
namespace {

// Uniform ±1/√fan_in, like torch.nn.Linear's default.
template <typename T>
void init_params(Network<T>& net, const std::vector<LayerSpec>& layers,
                 unsigned seed) {
  std::mt19937 r(seed);
  T* p = net.params();
  for (const auto& l : layers) {
    if (l.kind != LayerSpec::Kind::Dense) continue;
    std::uniform_real_distribution<double> u(-1 / std::sqrt(double(l.in)),
                                             1 / std::sqrt(double(l.in)));
    for (index_t i = 0; i < l.out * (l.in + 1); ++i) *p++ = static_cast<T>(u(r));
  }
}

void fd_network(const LossSpec& loss, const std::vector<LayerSpec>& layers,
                const std::int32_t* yi, const double* yd) {
  const index_t B = 4;
  Network<double> net(layers, B);
  init_params(net, layers, 7);
  net.set_loss(loss);
  auto x = random_vec<double>(static_cast<std::size_t>(B * net.input_size()));
  net.compute_gradients(x.data(), B, yi, yd);
  std::vector<double> grads(net.grads(), net.grads() + net.param_count());
  // dLoss/dInput through backward(dinput).
  std::vector<double> dout(static_cast<std::size_t>(B * net.output_size())),
      dinp(x.size());
  const double* out = net.forward_train(x.data(), B);
  loss_backward(loss, out, B, net.output_size(), yi, yd, dout.data());
  net.backward(dout.data(), B, dinp.data());
  std::vector<double> pred(dout.size());
  auto L = [&](const std::vector<double>& xx) {
    net.predict(xx.data(), B, pred.data());
    return loss_forward(loss, pred.data(), B, net.output_size(), yi, yd);
  };
  const double h = 1e-6;
  for (index_t i = 0; i < net.param_count(); ++i) {
    // params() again before each write: a write through a pointer kept
    // across a predict is not seen by its weight cache (network.h).
    const double keep = net.params()[i];
    net.params()[i] = keep + h;
    const double lp = L(x);
    net.params()[i] = keep - h;
    const double lm = L(x);
    net.params()[i] = keep;
    CHECK_NEAR(grads[static_cast<std::size_t>(i)], (lp - lm) / (2 * h), 1e-7);
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    auto xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    CHECK_NEAR(dinp[i], (L(xp) - L(xm)) / (2 * h), 1e-7);
  }
}

template <typename T>
int xor_correct(const std::vector<LayerSpec>& layers, const LossSpec& loss,
                int epochs) {
  Network<T> net(layers, 4);
  init_params(net, layers, 3);
  net.set_loss(loss);
  OptimizerSpec adam;
  adam.kind = OptimizerKind::Adam;
  adam.lr = 0.05;
  net.set_optimizer(adam);
  const T X[] = {0, 0, 0, 1, 1, 0, 1, 1};
  const std::int32_t yi[] = {0, 1, 1, 0};
  const T yd[] = {0, 1, 1, 0};
  const bool ce = loss.kind == LossKind::CrossEntropy;
  for (int e = 0; e < epochs; ++e)
    net.train_epoch(X, 4, ce ? yi : nullptr, ce ? nullptr : yd, 4, nullptr);
  std::vector<T> out(static_cast<std::size_t>(4 * net.output_size()));
  net.predict(X, 4, out.data());
  int ok = 0;
  for (int r = 0; r < 4; ++r) {
    const int cls = ce ? (out[r * 2 + 1] > out[r * 2] ? 1 : 0) : (out[r] > 0.5 ? 1 : 0);
    ok += cls == yi[r];
  }
  return ok;
}

}  // namespace

void test_network() {
  // Construction checks and the SPEC's parameter count (4 → 3 → 3 → 1: 31).
  CHECK_THROWS(Network<double>({}), std::invalid_argument);
  CHECK_THROWS(Network<double>({activation_spec(Activation::Relu)}), std::invalid_argument);
  CHECK_THROWS(Network<double>({dense_spec(3, 4), dense_spec(5, 2)}), std::invalid_argument);
  CHECK_THROWS(Network<double>({dense_spec(0, 4)}), std::invalid_argument);
  CHECK_THROWS(Network<double>({dense_spec(3, 4)}, 0), std::invalid_argument);
  Network<float> small({dense_spec(4, 3), activation_spec(Activation::Relu), dense_spec(3, 3),
                        dense_spec(3, 1)});
  CHECK(small.param_count() == 31 && small.input_size() == 4 &&
        small.output_size() == 1 && small.max_batch() == 32);

  // Finite-difference gradients of a 3-5-4-2 network in double.
  const std::vector<LayerSpec> net_a = {
      dense_spec(3, 5), activation_spec(Activation::Tanh),    dense_spec(5, 4),
      activation_spec(Activation::Relu), activation_spec(Activation::Sigmoid), dense_spec(4, 2),
      activation_spec(Activation::Softmax)};
  const std::vector<LayerSpec> net_b = {dense_spec(3, 5), activation_spec(Activation::Sigmoid),
                                        dense_spec(5, 4), activation_spec(Activation::Relu),
                                        dense_spec(4, 2)};
  auto yd = random_vec<double>(8, 0, 1);
  const std::int32_t yi[] = {1, 0, 0, 1};
  LossSpec mse, ce, ce_ls;
  ce.kind = LossKind::CrossEntropy;
  ce_ls = ce;
  ce_ls.label_smoothing = 0.1;
  ce_ls.reduction = Reduction::Sum;
  fd_network(mse, net_a, nullptr, yd.data());
  fd_network(ce, net_a, yi, nullptr);
  fd_network(ce, net_b, yi, nullptr);
  fd_network(ce_ls, net_b, nullptr, yd.data());
  fd_network(mse, net_b, nullptr, yd.data());

  // train_epoch(order = null) equals a loop of train_step; with an order it
  // equals train_step on the gathered batches.
  const index_t rows = 10, bs = 4;
  auto X = random_vec<double>(rows * 3);
  std::vector<std::int32_t> Y(rows);
  for (index_t i = 0; i < rows; ++i) Y[i] = static_cast<std::int32_t>(i % 2);
  OptimizerSpec adam;
  adam.kind = OptimizerKind::Adam;
  adam.lr = 0.01;
  auto fresh = [&] {
    Network<double> n(net_b, 2);
    init_params(n, net_b, 11);
    n.set_loss(ce);
    n.set_optimizer(adam);
    return n;
  };
  const std::int32_t perm[] = {3, 9, 0, 4, 7, 1, 8, 2, 6, 5};
  for (bool ordered : {false, true}) {
    Network<double> a = fresh(), b = fresh();
    // The recorded outputs: each row's training-mode output before its batch's
    // step, at the row's own index (NaN marks a row never written).
    const index_t nout = a.output_size();
    std::vector<double> recorded(rows * nout, std::nan(""));
    const EpochResult r = a.train_epoch(X.data(), rows, Y.data(), nullptr, bs,
                                        ordered ? perm : nullptr, nullptr, nullptr,
                                        recorded.data());
    b.reserve(bs);
    double total = 0;
    bool outputs_match = true;
    for (index_t r0 = 0; r0 < rows; r0 += bs) {
      const index_t nb = std::min(bs, rows - r0);
      std::vector<double> xb(nb * 3);
      std::vector<std::int32_t> yb(nb);
      for (index_t k = 0; k < nb; ++k) {
        const index_t src = ordered ? perm[r0 + k] : r0 + k;
        std::memcpy(&xb[k * 3], &X[src * 3], 3 * sizeof(double));
        yb[k] = Y[src];
      }
      // forward_train of the same batch before the step (no dropout here, so
      // it draws nothing and the replay's step below sees the same state).
      const double* fwd = b.forward_train(xb.data(), nb);
      for (index_t k = 0; k < nb; ++k) {
        const index_t src = ordered ? perm[r0 + k] : r0 + k;
        outputs_match = outputs_match &&
            std::memcmp(&recorded[src * nout], fwd + k * nout, nout * sizeof(double)) == 0;
      }
      total += b.train_step(xb.data(), nb, yb.data(), nullptr) * nb;
    }
    CHECK(outputs_match);
    CHECK(r.batches == 3 && r.bad_batch == -1);
    CHECK_NEAR(r.mean_loss, total / rows, 1e-14);
    CHECK(a.step_count() == 3 && b.step_count() == 3);
    CHECK(std::memcmp(a.params(), b.params(), a.param_count() * sizeof(double)) == 0);
  }
  // Bad order / labels throw and change nothing.
  {
    Network<double> a = fresh();
    std::vector<double> before(a.params(), a.params() + a.param_count());
    std::int32_t dup[] = {3, 9, 0, 4, 7, 1, 8, 2, 6, 3};
    std::int32_t out_of_range[] = {3, 9, 0, 4, 7, 1, 8, 2, 6, 10};
    CHECK_THROWS(a.train_epoch(X.data(), rows, Y.data(), nullptr, bs, dup),
                 std::invalid_argument);
    CHECK_THROWS(a.train_epoch(X.data(), rows, Y.data(), nullptr, bs, out_of_range),
                 std::invalid_argument);
    std::vector<std::int32_t> badY = Y;
    badY[7] = 2;
    CHECK_THROWS(a.train_epoch(X.data(), rows, badY.data(), nullptr, bs, nullptr),
                 std::invalid_argument);
    CHECK_THROWS(a.train_epoch(X.data(), rows, Y.data(), nullptr, 0, nullptr),
                 std::invalid_argument);
    CHECK(a.step_count() == 0);
    CHECK(std::memcmp(a.params(), before.data(), before.size() * sizeof(double)) == 0);
  }
  // A non-finite loss in batch 2 stops there without updating from it.
  {
    Network<double> a = fresh(), b = fresh();
    auto Xn = X;
    Xn[9 * 3 + 1] = std::nan("");  // row 9 → batch 2
    std::vector<double> recorded(rows * 2, std::nan(""));
    const EpochResult r = a.train_epoch(Xn.data(), rows, Y.data(), nullptr, bs, nullptr,
                                        nullptr, nullptr, recorded.data());
    CHECK(r.bad_batch == 2 && r.batches == 2);
    // The two completed batches' rows are written; the bad batch's are not.
    for (index_t i = 0; i < rows * 2; ++i) CHECK(std::isnan(recorded[i]) == (i >= 2 * bs * 2));
    b.reserve(bs);
    b.train_step(X.data(), bs, Y.data(), nullptr);
    b.train_step(X.data() + bs * 3, bs, Y.data() + bs, nullptr);
    CHECK(std::memcmp(a.params(), b.params(), a.param_count() * sizeof(double)) == 0);
    std::atomic<bool> cancel{true};
    const EpochResult c = a.train_epoch(X.data(), rows, Y.data(), nullptr, bs, nullptr, &cancel);
    CHECK(c.batches == 0 && c.bad_batch == -1);
  }
  // State handling, custom-loss mode, predict chunking.
  {
    Network<double> a = fresh();
    a.train_step(X.data(), 2, Y.data(), nullptr);
    OptimizerSpec slower = adam;
    slower.lr = 0.001;
    a.set_optimizer(slower);
    CHECK(a.step_count() == 1);  // same kind and size: state kept
    OptimizerSpec sgd;
    a.set_optimizer(sgd);
    CHECK(a.step_count() == 0);
    CHECK_THROWS(a.forward_train(X.data(), 3), std::invalid_argument);  // > max_batch
    a.reserve(5);
    CHECK(a.max_batch() == 5);
    CHECK_THROWS(a.backward(X.data(), 5), std::logic_error);  // reserve dropped the forward
    std::vector<double> p1(rows * 2), p2(rows * 2), p3(rows * 2);
    a.predict(X.data(), rows, p1.data());  // chunks of 5
    // The chunks are whole predicts of 5 rows and the rest: bit for bit.
    for (index_t r0 = 0; r0 < rows; r0 += 5)
      a.predict(X.data() + r0 * 3, std::min<index_t>(5, rows - r0), p2.data() + r0 * 2);
    CHECK(p1 == p2);
    // One-row training forwards give the same outputs up to rounding: a predict
    // of a few rows sums each product in another order (gemm's few-rows dot
    // path, GemmEpilogue::any_sum_order), training's forward does not.
    for (index_t r0 = 0; r0 < rows; ++r0) {
      const double* o = a.forward_train(X.data() + r0 * 3, 1);
      p3[r0 * 2] = o[0];
      p3[r0 * 2 + 1] = o[1];
    }
    double worst = 0;
    for (std::size_t i = 0; i < p1.size(); ++i) worst = std::max(worst, std::fabs(p1[i] - p3[i]));
    CHECK(worst <= 1e-14);
    a.clear_loss();
    CHECK(!a.has_loss());
    CHECK_THROWS(a.train_step(X.data(), 2, Y.data(), nullptr), std::logic_error);
    // Custom-loss flow: forward_train, loss gradient outside, backward, step.
    Network<double> b = fresh(), c = fresh();
    b.reserve(4);
    c.reserve(4);
    const double* o = b.forward_train(X.data(), 4);
    std::vector<double> d(8);
    loss_backward<double>(ce, o, 4, 2, Y.data(), nullptr, d.data());
    b.backward(d.data(), 4);
    b.step();
    c.train_step(X.data(), 4, Y.data(), nullptr);
    CHECK(std::memcmp(b.params(), c.params(), b.param_count() * sizeof(double)) == 0);
  }
  // Optimizer state out and back in (model files): a copy resumes exactly.
  {
    Network<double> a = fresh(), b = fresh();
    a.train_step(X.data(), 2, Y.data(), nullptr);
    a.train_step(X.data() + 6, 2, Y.data() + 2, nullptr);
    CHECK(a.opt_state_size() == 2 * a.param_count());  // Adam: m and v
    std::memcpy(b.params(), a.params(), a.param_count() * sizeof(double));
    std::vector<double> st(a.opt_state(), a.opt_state() + a.opt_state_size());
    CHECK_THROWS(b.set_opt_state(st.data(), a.opt_state_size() - 1, 2), std::invalid_argument);
    CHECK_THROWS(b.set_opt_state(st.data(), a.opt_state_size(), -1), std::invalid_argument);
    CHECK(b.step_count() == 0);  // refused calls changed nothing
    b.set_opt_state(st.data(), a.opt_state_size(), a.step_count());
    CHECK(b.step_count() == 2);
    a.train_step(X.data() + 12, 2, Y.data() + 4, nullptr);
    b.train_step(X.data() + 12, 2, Y.data() + 4, nullptr);
    CHECK(std::memcmp(a.params(), b.params(), a.param_count() * sizeof(double)) == 0);
    CHECK(std::memcmp(a.opt_state(), b.opt_state(), a.opt_state_size() * sizeof(double)) == 0);
    // The same restore in uneven ranges (lib/io's stepped load) gives the same state.
    Network<double> c = fresh();
    std::memcpy(c.params(), b.params(), b.param_count() * sizeof(double));
    const index_t size = b.opt_state_size();
    CHECK_THROWS(c.set_opt_state_range(size - 2, b.opt_state(), 3, 1), std::invalid_argument);
    CHECK_THROWS(c.set_opt_state_range(-1, b.opt_state(), 1, 1), std::invalid_argument);
    CHECK_THROWS(c.set_opt_state_range(0, b.opt_state(), 1, -1), std::invalid_argument);
    CHECK(c.step_count() == 0);
    for (index_t off = 0; off < size; off += 7)
      c.set_opt_state_range(off, b.opt_state() + off, std::min<index_t>(7, size - off), b.step_count());
    c.set_opt_state_range(size, b.opt_state(), 0, b.step_count());  // an empty range at the end is fine
    CHECK(c.step_count() == b.step_count());
    CHECK(std::memcmp(c.opt_state(), b.opt_state(), size * sizeof(double)) == 0);
  }

  // XOR, learned (the notes' benchmark a perceptron cannot solve).
  const std::vector<LayerSpec> xor_mse = {dense_spec(2, 8), activation_spec(Activation::Tanh),
                                          dense_spec(8, 1), activation_spec(Activation::Sigmoid)};
  const std::vector<LayerSpec> xor_ce = {dense_spec(2, 8), activation_spec(Activation::Tanh),
                                         dense_spec(8, 2)};
  CHECK(xor_correct<double>(xor_mse, mse, 400) == 4);
  CHECK(xor_correct<double>(xor_ce, ce, 300) == 4);
  CHECK(xor_correct<float>(xor_mse, mse, 400) == 4);
  CHECK(xor_correct<float>(xor_ce, ce, 300) == 4);
}

}  // namespace fastmlp_test
