// Core tests of the regularisation and normalisation layers: the dropout
// generator against lib/rng.ts's first outputs, finite-difference gradients
// of networks with batch norm (training and eval), layer norm, PReLU, dropout
// (mask fixed by reseeding) and L1/L2 penalties, buffers and modes, and the
// one-row batch-norm checks, and a bad batch's statistics undone.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "layer_specs.h"
#include "losses.h"
#include "network.h"
#include "rng.h"

using namespace fastmlp;

namespace fastmlp_test {
namespace {

// Finite differences of compute_gradients' loss (which includes penalties)
// in the network's current mode; the dropout stream restarts each time.
void fd_check(Network<double>& net, const LossSpec& loss) {
  const index_t B = 5;
  net.set_loss(loss);
  auto x = random_vec<double>(static_cast<std::size_t>(B * net.input_size()));
  std::vector<std::int32_t> y(B);
  for (index_t i = 0; i < B; ++i) y[i] = std::int32_t(i % net.output_size());
  auto L = [&] {
    net.set_seed(5);
    return net.compute_gradients(x.data(), B, y.data(), nullptr);
  };
  L();
  std::vector<double> grads(net.grads(), net.grads() + net.param_count());
  const double h = 1e-6;
  for (index_t i = 0; i < net.param_count(); ++i) {
    // params() again before each write: a write through a pointer kept
    // across a predict is not seen by its weight cache (network.h).
    const double keep = net.params()[i];
    net.params()[i] = keep + h;
    const double lp = L();
    net.params()[i] = keep - h;
    const double lm = L();
    net.params()[i] = keep;
    CHECK_NEAR(grads[static_cast<std::size_t>(i)], (lp - lm) / (2 * h), 1e-6);
  }
}

}  // namespace

void test_layers() {
  // The same generator as lib/rng.ts: its first outputs for seed 0 and 42.
  Xoshiro128 r0(0), r42(42);
  CHECK(r0.next_u32() == 3809008728u);
  CHECK(r0.next_u32() == 1133695204u);
  CHECK(r42.next_u32() == 2837322924u);

  LossSpec ce;
  ce.kind = LossKind::CrossEntropy;
  const auto BN = LayerSpec::Kind::BatchNorm, LN = LayerSpec::Kind::LayerNorm;
  LayerSpec drop = kind_spec(LayerSpec::Kind::Dropout);
  drop.p = 0.3;
  LayerSpec prelu = kind_spec(LayerSpec::Kind::PRelu);
  prelu.slopes = 6;
  const std::vector<LayerSpec> layers = {dense_spec(3, 6, 0.01, 0.02), kind_spec(BN, 6), prelu,
                                         drop, kind_spec(LN, 6), dense_spec(6, 4, 0, 0.1)};
  Network<double> net(layers, 5);
  CHECK(net.param_count() == 6 * 4 + 12 + 6 + 12 + 4 * 7);
  CHECK(net.buffer_count() == 12 + kCountSlots);  // running_mean, running_var (6 each), the count's digits
  CHECK(net.buffers()[6] == 1 && net.buffers()[0] == 0 && net.buffers()[12] == 0);
  auto p = random_vec<double>(static_cast<std::size_t>(net.param_count()), 0.2, 1.2);
  std::copy(p.begin(), p.end(), net.params());
  fd_check(net, ce);
  CHECK(net.buffers()[12] > 0);  // num_batches_tracked counted the training forwards
  net.set_training(false);
  fd_check(net, ce);

  // predict is eval mode whatever the mode; eval forward_train equals it.
  const double tracked = net.buffers()[12];
  auto x = random_vec<double>(15);
  std::vector<double> a(20), b(20);
  net.predict(x.data(), 5, a.data());
  const double* out = net.forward_train(x.data(), 5);
  for (int i = 0; i < 20; ++i) CHECK_NEAR(a[i], out[i], 1e-15);
  CHECK(net.buffers()[12] == tracked);
  net.set_training(true);
  net.predict(x.data(), 5, b.data());
  for (int i = 0; i < 20; ++i) CHECK(a[i] == b[i]);

  // Batch norm in training mode needs two rows per batch, also in the last batch of an epoch.
  net.reserve(8);
  CHECK_THROWS(net.forward_train(x.data(), 1), std::invalid_argument);
  std::vector<double> X(21);
  std::vector<std::int32_t> Y(7, 1);
  CHECK_THROWS(net.train_epoch(X.data(), 7, Y.data(), nullptr, 3, nullptr), std::invalid_argument);
  net.set_training(false);
  CHECK(net.train_epoch(X.data(), 7, Y.data(), nullptr, 3, nullptr).batches == 3);

  // A batch whose loss is not finite stops train_epoch before its step and
  // leaves batch norm's running statistics as they were before that batch
  // (its forward had already updated them): equal, bit for bit, to a twin
  // that trained the good batch alone.
  {
    LossSpec mse;
    mse.kind = LossKind::Mse;
    const std::vector<LayerSpec> bn_layers = {dense_spec(3, 4), kind_spec(BN, 4), dense_spec(4, 1)};
    Network<double> epoch_net(bn_layers, 4), twin(bn_layers, 4);
    const auto w = random_vec<double>(static_cast<std::size_t>(epoch_net.param_count()), 0.3, 1.0);
    for (Network<double>* n : {&epoch_net, &twin}) {
      std::copy(w.begin(), w.end(), n->params());
      n->set_loss(mse);
    }
    const auto xs = random_vec<double>(24);                     // two batches of 4 rows
    std::vector<double> ys = {1, -1, 2, 0, 1, 1e300, -1, 0};     // the second overflows
    CHECK(std::isfinite(twin.train_step(xs.data(), 4, nullptr, ys.data())));
    const EpochResult r = epoch_net.train_epoch(xs.data(), 8, nullptr, ys.data(), 4, nullptr);
    CHECK(r.bad_batch == 1 && r.batches == 1);
    for (index_t i = 0; i < twin.buffer_count(); ++i) CHECK(epoch_net.buffers()[i] == twin.buffers()[i]);
    CHECK(epoch_net.buffers()[8] == 1);  // num_batches_tracked: the good batch only
    for (index_t i = 0; i < twin.param_count(); ++i) CHECK(epoch_net.params()[i] == twin.params()[i]);
  }

  // BatchNorm1d options (torch): momentum None is a cumulative average — after
  // n training batches running_mean is the plain mean of their n batch means;
  // track_running_stats false keeps no buffers and normalises with the batch in
  // eval mode too, gradients included, and predict runs all its rows as one batch.
  {
    LayerSpec cum = kind_spec(BN, 3);
    cum.cumulative_average = true;
    cum.affine = false;
    Network<double> cnet({cum, dense_spec(3, 2)}, 4);
    std::vector<double> mean_of_means(3, 0.0);
    for (int step = 0; step < 5; ++step) {
      auto xb = random_vec<double>(12, -1.0 + step, 1.0 + step);
      for (std::size_t i = 0; i < xb.size(); ++i) mean_of_means[i % 3] += xb[i] / 4 / 5;
      cnet.forward_train(xb.data(), 4);
    }
    for (int c = 0; c < 3; ++c) CHECK_NEAR(cnet.buffers()[c], mean_of_means[c], 1e-14);
    CHECK(cnet.buffers()[6] == 5);

    // The count past 2^24 in float32: its digits carry, so it keeps counting
    // and the cumulative average's factor stays 1/(count + 1) (a single float
    // slot stuck at 2^24 gave 1/(2^24 + 1) forever).
    Network<float> fnet({cum, dense_spec(3, 2)}, 4);
    float* digits = fnet.buffers() + 6;
    digits[0] = 16777215.0f;  // count 2^24 - 1
    const auto x1 = random_vec<float>(12, -1.0, 1.0);
    fnet.forward_train(x1.data(), 4);
    CHECK(digits[0] == 0 && digits[1] == 1 && digits[2] == 0);
    CHECK(batch_count(digits) == 16777216.0);
    fnet.forward_train(x1.data(), 4);
    CHECK(batch_count(digits) == 16777217.0);  // one float slot stays at 2^24 here
    // Far past 2^24 the factor is 1/(count + 1): from running_mean 0, count
    // 5·2^24 + 7, a batch moves the mean to batch_mean / (5·2^24 + 8).
    std::fill_n(fnet.buffers(), 3, 0.0f);
    digits[0] = 7.0f;
    digits[1] = 5.0f;
    const auto x2 = random_vec<float>(12, 2.0, 3.0);
    fnet.forward_train(x2.data(), 4);
    CHECK(batch_count(digits) == 5.0 * 16777216.0 + 8.0);
    for (int c = 0; c < 3; ++c) {
      double batch_mean = 0;
      for (int r = 0; r < 4; ++r) batch_mean += x2[static_cast<std::size_t>(r * 3 + c)] / 4.0;
      const double want = batch_mean / (5.0 * 16777216.0 + 8.0);
      CHECK_NEAR(fnet.buffers()[c], want, 1e-6 * want);
    }
    // 5·2^48 + (2^24 - 1)·2^24 + 2^24 - 1, plus one, carries twice: 6·2^48.
    digits[0] = 16777215.0f;
    digits[1] = 16777215.0f;
    digits[2] = 5.0f;
    fnet.forward_train(x1.data(), 4);
    CHECK(digits[0] == 0 && digits[1] == 0 && digits[2] == 6);

    LayerSpec untracked = kind_spec(BN, 4);
    untracked.track_running_stats = false;
    Network<double> unet({dense_spec(3, 4), untracked, dense_spec(4, 3)}, 5);
    CHECK(unet.buffer_count() == 0);
    CHECK(unet.predicts_in_one_pass());
    auto up = random_vec<double>(static_cast<std::size_t>(unet.param_count()), 0.2, 1.2);
    std::copy(up.begin(), up.end(), unet.params());
    fd_check(unet, ce);
    unet.set_training(false);
    fd_check(unet, ce);  // eval: still through the batch statistics
    auto x12 = random_vec<double>(36);
    std::vector<double> pred(36);
    unet.predict(x12.data(), 12, pred.data());  // more rows than max_batch 5: one pass
    CHECK(unet.max_batch() >= 12);
    const double* fwd = unet.forward_train(x12.data(), 12);
    for (int i = 0; i < 36; ++i) CHECK_NEAR(pred[i], fwd[i], 1e-15);
    CHECK_THROWS(unet.predict(x12.data(), 1, pred.data()), std::invalid_argument);
  }

  // Construction checks.
  LayerSpec bad_drop = drop;
  bad_drop.p = 1;
  CHECK_THROWS(Network<double>({dense_spec(3, 6), bad_drop}), std::invalid_argument);
  CHECK_THROWS(Network<double>({dense_spec(3, 6), kind_spec(BN, 5)}), std::invalid_argument);
  LayerSpec bad_prelu = prelu;
  bad_prelu.slopes = 4;
  CHECK_THROWS(Network<double>({dense_spec(3, 6), bad_prelu}), std::invalid_argument);
  CHECK_THROWS(Network<double>({dense_spec(3, 6, -1, 0)}), std::invalid_argument);
}

}  // namespace fastmlp_test
