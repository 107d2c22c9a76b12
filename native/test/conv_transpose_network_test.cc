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
#include "network_checks.h"
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
    check_predict_matches_forward<float>(generator_layers());
    check_predict_matches_forward<double>(generator_layers());
  }
  test_determinism<float>();
  test_determinism<double>();
  test_nonfinite_gradient_flagged<float>();
  test_nonfinite_gradient_flagged<double>();
  test_out_pad_gets_bias();
  test_refusals();
  set_num_threads(1);
}
