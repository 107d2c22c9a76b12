// convtranspose2d inside whole plans (network.h): gradients of every
// parameter and input against central finite differences (float64) with the
// layer first (no input gradient), after a dense layer and before a conv2d;
// predict equal to the training forward; bit-identical training at a fixed
// thread count; a NaN gradient refusing the step; the constructor's
// refusals naming the layer and field.
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "layer_specs.h"
#include "losses.h"
#include "network.h"
#include "optim.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

namespace {

LayerSpec convt_spec(index_t in_c, index_t out_c, index_t h, index_t w, index_t k, index_t s, index_t p,
                     index_t oph, index_t opw) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::ConvTranspose2d;
  l.in_channels = in_c;
  l.out_channels = out_c;
  l.window.in_h = h, l.window.in_w = w, l.window.kernel_h = k, l.window.kernel_w = k;
  l.window.stride_h = s, l.window.stride_w = s, l.window.pad_h = p, l.window.pad_w = p;
  l.out_pad_h = oph, l.out_pad_w = opw;
  return l;
}

LayerSpec conv_spec(index_t in_c, index_t out_c, index_t h, index_t w, index_t k, index_t s) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::Conv2d;
  l.in_channels = in_c;
  l.out_channels = out_c;
  l.window.in_h = h, l.window.in_w = w, l.window.kernel_h = k, l.window.kernel_w = k;
  l.window.stride_h = s, l.window.stride_w = s;
  return l;
}

// convT (2→3 channels, 3×2 → (3−1)·2 − 2 + 3 + 1 = 6 × (2−1)·2 − 2 + 3 + 0 = 3)
// → tanh → conv2d 3×3 stride 2 (6×3 → 2×1) → dense → 4 classes.
std::vector<LayerSpec> generator_layers() {
  return {convt_spec(2, 3, 3, 2, 3, 2, 1, 1, 0), activation_spec(Activation::Tanh),
          conv_spec(3, 2, 6, 3, 3, 2), dense_spec(2 * 2 * 1, 4)};
}

LossSpec cross_entropy() {
  LossSpec ce;
  ce.kind = LossKind::CrossEntropy;
  return ce;
}

template <typename T>
void init(Network<T>& net, unsigned seed) {
  const auto p = seeded_vec<T>(static_cast<std::size_t>(net.param_count()), seed);
  T* dst = net.params();
  for (index_t i = 0; i < net.param_count(); ++i) dst[i] = T(0.6) * p[static_cast<std::size_t>(i)];
}

// Every parameter and input gradient of a cross-entropy network against
// central differences of the loss.
void fd_check(const std::vector<LayerSpec>& layers, const char* what) {
  const index_t B = 3;
  Network<double> net(layers, B);
  init(net, 21);
  const LossSpec loss = cross_entropy();
  net.set_loss(loss);
  const auto x = seeded_vec<double>(static_cast<std::size_t>(B * net.input_size()), 22);
  const std::int32_t y[B] = {0, 3, 2};
  net.compute_gradients(x.data(), B, y, nullptr);
  const std::vector<double> grads(net.grads(), net.grads() + net.param_count());
  std::vector<double> dout(static_cast<std::size_t>(B * net.output_size())), dinp(x.size());
  const double* out = net.forward_train(x.data(), B);
  loss_backward(loss, out, B, net.output_size(), y, static_cast<const double*>(nullptr), dout.data());
  net.backward(dout.data(), B, dinp.data());
  std::vector<double> pred(dout.size());
  const auto L = [&](const std::vector<double>& xx) {
    net.predict(xx.data(), B, pred.data());
    return loss_forward(loss, pred.data(), B, net.output_size(), y, static_cast<const double*>(nullptr));
  };
  const double h = 1e-6;
  int bad = 0;
  for (index_t i = 0; i < net.param_count(); ++i) {
    const double keep = net.params()[i];
    net.params()[i] = keep + h;
    const double lp = L(x);
    net.params()[i] = keep - h;
    const double lm = L(x);
    net.params()[i] = keep;
    const double fd = (lp - lm) / (2 * h), g = grads[static_cast<std::size_t>(i)];
    if (!(std::fabs(fd - g) <= 1e-7 + 1e-6 * std::fabs(fd)) && bad++ < 3)
      std::fprintf(stderr, "%s: parameter %lld gradient %.12g, finite difference %.12g\n", what,
                   static_cast<long long>(i), g, fd);
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    auto xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    const double fd = (L(xp) - L(xm)) / (2 * h);
    if (!(std::fabs(fd - dinp[i]) <= 1e-7 + 1e-6 * std::fabs(fd)) && bad++ < 3)
      std::fprintf(stderr, "%s: input %zu gradient %.12g, finite difference %.12g\n", what, i,
                   dinp[i], fd);
  }
  ++g_checks;
  if (bad > 0) ++g_failures;
  // Written, not accumulated; skipping dL/dinput leaves the same bits.
  net.forward_train(x.data(), B);
  net.backward(dout.data(), B, nullptr);
  CHECK(std::vector<double>(net.grads(), net.grads() + net.param_count()) == grads);
  CHECK(net.gradients_finite());
}

template <typename T>
void test_predict_matches_forward() {
  const auto layers = generator_layers();
  const index_t rows = 7;
  Network<T> net(layers, 3);  // predict runs 3 + 3 + 1
  init(net, 5);
  const auto x = seeded_vec<T>(static_cast<std::size_t>(rows * net.input_size()), 6);
  std::vector<T> pred(static_cast<std::size_t>(rows * net.output_size()));
  net.predict(x.data(), rows, pred.data());
  bool ok = true;
  for (index_t r = 0; r < rows; ++r) {
    const T* out = net.forward_train(x.data() + r * net.input_size(), 1);
    for (index_t j = 0; j < net.output_size(); ++j) {
      const double a = pred[static_cast<std::size_t>(r * net.output_size() + j)], b = out[j];
      ok = ok && std::fabs(a - b) <= (sizeof(T) == 4 ? 1e-5 : 1e-13) * (1 + std::fabs(b));
    }
  }
  CHECK(ok);
}

// Five Adam steps: the parameters after them.
template <typename T>
std::vector<T> train_five(const std::vector<T>& x, const std::vector<std::int32_t>& y, index_t rows) {
  Network<T> net(generator_layers(), rows);
  init(net, 9);
  net.set_loss(cross_entropy());
  OptimizerSpec adam;
  adam.kind = OptimizerKind::Adam;
  adam.lr = 0.01;
  net.set_optimizer(adam);
  for (int s = 0; s < 5; ++s) net.train_step(x.data(), rows, y.data(), nullptr);
  return std::vector<T>(net.params(), net.params() + net.param_count());
}

template <typename T>
void test_determinism() {
  const index_t rows = 11;
  Network<T> probe(generator_layers(), 1);
  const auto x = seeded_vec<T>(static_cast<std::size_t>(rows * probe.input_size()), 31);
  std::vector<std::int32_t> y(static_cast<std::size_t>(rows));
  for (index_t i = 0; i < rows; ++i) y[static_cast<std::size_t>(i)] = std::int32_t(i % 4);
  set_num_threads(2);
  const auto a = train_five(x, y, rows), b = train_five(x, y, rows);
  CHECK(same_bits(a, b));
  // One thread: another order of the partial sums, the same values to rounding.
  set_num_threads(1);
  const auto c = train_five(x, y, rows);
  bool close = true;
  for (std::size_t i = 0; i < a.size(); ++i)
    close = close && std::fabs(double(a[i]) - double(c[i])) <= (sizeof(T) == 4 ? 1e-4 : 1e-10);
  CHECK(close);
}

// A NaN reaching the layer's weight gradient is reported, and step() refuses.
template <typename T>
void test_nonfinite_gradient_flagged() {
  const std::vector<LayerSpec> layers = {convt_spec(1, 2, 2, 2, 2, 2, 0, 1, 1)};
  Network<T> net(layers, 2);
  CHECK(net.output_size() == 2 * 5 * 5);
  init(net, 1);
  const auto x = seeded_vec<T>(static_cast<std::size_t>(2 * net.input_size()), 2);
  auto dout = seeded_vec<T>(static_cast<std::size_t>(2 * net.output_size()), 3);
  net.forward_train(x.data(), 2);
  net.backward(dout.data(), 2);
  CHECK(net.gradients_finite());
  dout[5] = std::numeric_limits<T>::quiet_NaN();
  net.forward_train(x.data(), 2);
  net.backward(dout.data(), 2);
  CHECK(!net.gradients_finite());
  const std::vector<T> before(net.params(), net.params() + net.param_count());
  CHECK(!net.step());
  CHECK(same_bits(before, std::vector<T>(net.params(), net.params() + net.param_count())));
}

// The output-padding row and column lie under no window: the forward gives
// them the bias alone.
void test_out_pad_gets_bias() {
  Network<double> net({convt_spec(1, 1, 2, 2, 2, 2, 0, 1, 1)}, 1);  // 2×2 → 5×5
  double* p = net.params();
  for (index_t i = 0; i < 4; ++i) p[i] = 1;
  p[4] = 0.25;
  const double x[4] = {1, 2, 3, 4};
  const double* y = net.forward_train(x, 1);
  bool ok = true;
  for (index_t i = 0; i < 5; ++i) ok = ok && y[4 * 5 + i] == 0.25 && y[i * 5 + 4] == 0.25;
  CHECK(ok);
  CHECK(y[0] == 1.25 && y[3 * 5 + 3] == 4.25);
}

void refuses(const std::vector<LayerSpec>& layers, const char* needle) {
  ++g_checks;
  try {
    Network<double> net(layers, 2);
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find(needle) != std::string::npos) return;
    std::fprintf(stderr, "network: message '%s' lacks '%s'\n", e.what(), needle);
    ++g_failures;
    return;
  }
  std::fprintf(stderr, "network: accepted layers that should fail with '%s'\n", needle);
  ++g_failures;
}

void test_refusals() {
  const LayerSpec ct = convt_spec(2, 3, 2, 2, 2, 2, 0, 0, 0);  // 8 → 3·4·4 = 48
  refuses({convt_spec(2, 3, 2, 2, 2, 2, 0, 2, 0)}, "layer 0 (convtranspose2d): expected outPadHeight in [0, 1]");
  refuses({convt_spec(2, 3, 2, 2, 2, 1, 0, 0, 1)}, "layer 0 (convtranspose2d): expected outPadWidth in [0, 0]");
  refuses({convt_spec(0, 3, 2, 2, 2, 2, 0, 0, 0)}, "layer 0 (convtranspose2d): expected inChannels");
  refuses({ct, convt_spec(3, 0, 4, 4, 1, 1, 0, 0, 0)}, "layer 1 (convtranspose2d): expected outChannels");
  refuses({ct, convt_spec(3, 1, 4, 4, 1, 1, 2, 0, 0)}, "layer 1 (convtranspose2d): expected outHeight");
  refuses({ct, convt_spec(2, 1, 4, 4, 1, 1, 0, 0, 0)},
          "layer 1 (convtranspose2d): expected inChannels*inHeight*inWidth = 48");
  refuses({dense_spec(3, 9), convt_spec(2, 1, 2, 2, 1, 1, 0, 0, 0)},
          "layer 1 (convtranspose2d): expected inChannels*inHeight*inWidth = 9");
  refuses({activation_spec(Activation::Relu)},
          "expected at least one dense, conv2d, convtranspose2d or maxpool2d layer");
  // It fixes the input width when it comes first after width-free layers.
  Network<double> first({activation_spec(Activation::Relu), ct}, 2);
  CHECK(first.input_size() == 8 && first.output_size() == 48 && first.param_count() == 2 * 3 * 4 + 3);
}

}  // namespace

void test_conv_transpose_network() {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    fd_check(generator_layers(), "convT tanh conv dense");
    // convT after dense (dL/dinput through im2col of dy), a 1×1 convT, outPad.
    fd_check({dense_spec(5, 2 * 2 * 3), activation_spec(Activation::Tanh),
              convt_spec(2, 2, 2, 3, 3, 2, 1, 1, 1), convt_spec(2, 3, 4, 6, 1, 1, 0, 0, 0),
              activation_spec(Activation::Identity), dense_spec(3 * 4 * 6, 4)},
             "dense tanh convT convT1x1 dense");
    test_predict_matches_forward<float>();
    test_predict_matches_forward<double>();
  }
  test_determinism<float>();
  test_determinism<double>();
  test_nonfinite_gradient_flagged<float>();
  test_nonfinite_gradient_flagged<double>();
  test_out_pad_gets_bias();
  test_refusals();
  set_num_threads(1);
}
