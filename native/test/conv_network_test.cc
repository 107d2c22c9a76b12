// conv2d and maxpool2d inside whole plans (network.h): conv → relu → maxpool
// → dense → cross-entropy gradients against central finite differences
// (float64) for every parameter and input; a conv2d first (no input
// gradient) or after a dense layer; predict equal to the training forward;
// gradients written, not accumulated; bit-identical training at a fixed
// thread count, and still right when the thread count grows after the plan is
// built; a NaN conv2d gradient refusing the step; the constructor's refusals
// naming the layer and field; a CNN's training steps, epoch and predict
// allocating nothing once warmed up (operator new counted by conv_test.cc).
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
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

long allocations_so_far();  // conv_test.cc: operator new calls so far

namespace {

LayerSpec conv_spec(index_t in_c, index_t out_c, index_t h, index_t w, index_t kh, index_t kw,
                    index_t sh, index_t sw, index_t ph, index_t pw) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::Conv2d;
  l.in_channels = in_c;
  l.out_channels = out_c;
  l.window.in_h = h, l.window.in_w = w, l.window.kernel_h = kh, l.window.kernel_w = kw;
  l.window.stride_h = sh, l.window.stride_w = sw, l.window.pad_h = ph, l.window.pad_w = pw;
  return l;
}

LayerSpec pool_spec(index_t c, index_t h, index_t w, index_t k, index_t s, index_t p) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::MaxPool2d;
  l.channels = c;
  l.window.in_h = h, l.window.in_w = w, l.window.kernel_h = k, l.window.kernel_w = k;
  l.window.stride_h = s, l.window.stride_w = s, l.window.pad_h = p, l.window.pad_w = p;
  return l;
}

// conv (2→3 channels, 6×5 images, 3×2 kernel, stride 1×2, pad 1×1) → relu →
// maxpool (3×3, stride 2, pad 1) → dense → 4 classes.
std::vector<LayerSpec> cnn_layers() {
  // conv: out 6×3 (⌊(6+2−3)/1⌋+1 = 6, ⌊(5+2−2)/2⌋+1 = 3); pool: 3×2.
  return {conv_spec(2, 3, 6, 5, 3, 2, 1, 2, 1, 1), activation_spec(Activation::Relu),
          pool_spec(3, 6, 3, 3, 2, 1), dense_spec(3 * 3 * 2, 4)};
}

// Five Adam steps: the parameters after them, bit for bit.
template <typename T>
std::vector<T> train_five(const std::vector<T>& x, const std::vector<std::int32_t>& y, index_t rows) {
  const auto layers = cnn_layers();
  Network<T> net(layers, rows);
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
  const auto layers = cnn_layers();
  Network<T> probe(layers, 1);
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

// Built with one thread (one scratch slot), run with two: the scratch grows
// and the gradients are those of a plan built with two.
void test_threads_grow() {
  const auto layers = cnn_layers();
  const index_t rows = 6;
  set_num_threads(1);
  Network<double> one(layers, rows);
  set_num_threads(2);
  Network<double> two(layers, rows);
  init(one, 3);
  init(two, 3);
  one.set_loss(cross_entropy());
  two.set_loss(cross_entropy());
  const auto x = seeded_vec<double>(static_cast<std::size_t>(rows * one.input_size()), 4);
  const std::vector<std::int32_t> y = {0, 1, 2, 3, 0, 1};
  const std::size_t before = one.allocated_bytes();
  one.compute_gradients(x.data(), rows, y.data(), nullptr);
  two.compute_gradients(x.data(), rows, y.data(), nullptr);
  CHECK(one.allocated_bytes() > before);
  CHECK(std::vector<double>(one.grads(), one.grads() + one.param_count()) ==
        std::vector<double>(two.grads(), two.grads() + two.param_count()));
  // Steady state: no further growth.
  const std::size_t after = one.allocated_bytes();
  one.compute_gradients(x.data(), rows, y.data(), nullptr);
  CHECK(one.allocated_bytes() == after);
  set_num_threads(1);
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
  const LayerSpec conv = conv_spec(2, 3, 4, 4, 3, 3, 1, 1, 0, 0);  // 32 → 3·2·2 = 12
  refuses({conv_spec(2, 3, 4, 4, 7, 3, 1, 1, 1, 0)}, "layer 0 (conv2d): expected kernelHeight");
  refuses({conv_spec(2, 3, 4, 4, 3, 3, 0, 1, 0, 0)}, "layer 0 (conv2d): expected strideHeight");
  refuses({conv_spec(0, 3, 4, 4, 3, 3, 1, 1, 0, 0)}, "layer 0 (conv2d): expected inChannels");
  refuses({conv, conv_spec(3, 0, 2, 2, 1, 1, 1, 1, 0, 0)}, "layer 1 (conv2d): expected outChannels");
  refuses({conv, conv_spec(2, 3, 2, 2, 1, 1, 1, 1, 0, 0)},
          "layer 1 (conv2d): expected inChannels*inHeight*inWidth = 12");
  refuses({conv, pool_spec(3, 2, 2, 2, 1, 2)}, "layer 1 (maxpool2d): expected padHeight <= kernelHeight/2");
  refuses({conv, pool_spec(2, 2, 2, 2, 1, 0)}, "layer 1 (maxpool2d): expected channels*inHeight*inWidth = 12");
  refuses({dense_spec(5, 12), pool_spec(3, 2, 2, 3, 1, 0)}, "expected kernelHeight <= inHeight");
  refuses({activation_spec(Activation::Relu)},
          "expected at least one dense, conv2d, convtranspose2d or maxpool2d layer");
  // The first layer that declares its width (dense, conv2d, convtranspose2d
  // or maxpool2d) fixes the input width, so a pooling layer may come first;
  // the layers after it must take its output width.
  refuses({pool_spec(1, 4, 4, 2, 2, 0), conv_spec(1, 1, 4, 4, 1, 1, 1, 1, 0, 0)},
          "layer 1 (conv2d): expected inChannels*inHeight*inWidth = 4");
  Network<double> pooled_first({pool_spec(1, 4, 4, 2, 2, 0), conv_spec(1, 2, 2, 2, 1, 1, 1, 1, 0, 0)}, 2);
  CHECK(pooled_first.input_size() == 16 && pooled_first.output_size() == 8);
  Network<double> ok({conv_spec(1, 2, 4, 4, 1, 1, 1, 1, 0, 0), pool_spec(2, 4, 4, 2, 2, 0)}, 2);
  CHECK(ok.input_size() == 16 && ok.output_size() == 8 && ok.param_count() == 4);
}

// A NaN reaching a conv2d's weight gradient is reported (gradients_finite),
// so step() refuses the update; finite ones are not.
template <typename T>
void test_nonfinite_gradient_flagged() {
  const std::vector<LayerSpec> layers = {conv_spec(1, 2, 3, 3, 2, 2, 1, 1, 0, 0)};
  Network<T> net(layers, 2);
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

// DESIGN.md "no allocation per step", for a plan whose conv2d layers take
// their images in blocks (the budget's choice: 12×12 and 5×5 images): after a
// warm-up, train_step, train_epoch (its last batch shorter) and predict
// allocate nothing.
template <typename T>
void test_step_allocates_nothing() {
  const std::vector<LayerSpec> layers = {
      conv_spec(1, 4, 12, 12, 3, 3, 1, 1, 0, 0), activation_spec(Activation::Relu),
      pool_spec(4, 10, 10, 2, 2, 0), conv_spec(4, 6, 5, 5, 3, 3, 1, 1, 1, 1),
      activation_spec(Activation::Relu), dense_spec(6 * 5 * 5, 3)};
  const index_t rows = 24, batch = 10;
  Network<T> net(layers, rows);
  init(net, 5);
  net.set_loss(cross_entropy());
  OptimizerSpec adam;
  adam.kind = OptimizerKind::Adam;
  adam.lr = 1e-3;
  net.set_optimizer(adam);
  const auto x = seeded_vec<T>(static_cast<std::size_t>(rows * net.input_size()), 6);
  std::vector<std::int32_t> y(static_cast<std::size_t>(rows));
  for (index_t i = 0; i < rows; ++i) y[static_cast<std::size_t>(i)] = std::int32_t(i % 3);
  std::vector<T> out(static_cast<std::size_t>(rows * net.output_size()));
  net.train_step(x.data(), rows, y.data(), nullptr);  // warm-up: sizes everything
  net.predict(x.data(), rows, out.data());
  net.train_epoch(x.data(), rows, y.data(), nullptr, batch, nullptr, nullptr, nullptr);
  const long before = allocations_so_far();
  for (int s = 0; s < 3; ++s) net.train_step(x.data(), rows, y.data(), nullptr);
  net.train_epoch(x.data(), rows, y.data(), nullptr, batch, nullptr, nullptr, nullptr);
  net.predict(x.data(), rows, out.data());
  const long made = allocations_so_far() - before;
  if (made != 0)
    std::fprintf(stderr, "conv network (%s, %d threads): %ld allocations after the warm-up\n",
                 sizeof(T) == 4 ? "float" : "double", num_threads(), made);
  CHECK(made == 0);
}

}  // namespace

void test_conv_network() {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    fd_check(cnn_layers(), "conv relu maxpool dense");
    // conv after dense (dL/dinput through col2im), a 1×1 conv, pooling last.
    fd_check({dense_spec(5, 2 * 3 * 4), activation_spec(Activation::Tanh),
              conv_spec(2, 3, 3, 4, 2, 3, 2, 1, 1, 0), conv_spec(3, 2, 2, 2, 1, 1, 1, 1, 0, 0),
              pool_spec(2, 2, 2, 2, 1, 1), activation_spec(Activation::Identity), dense_spec(2 * 3 * 3, 4)},
             "dense tanh conv conv1x1 maxpool dense");
    check_predict_matches_forward<float>(cnn_layers());
    check_predict_matches_forward<double>(cnn_layers());
    test_step_allocates_nothing<float>();
    test_step_allocates_nothing<double>();
  }
  test_determinism<float>();
  test_determinism<double>();
  test_threads_grow();
  test_nonfinite_gradient_flagged<float>();
  test_nonfinite_gradient_flagged<double>();
  test_refusals();
  set_num_threads(1);
}
