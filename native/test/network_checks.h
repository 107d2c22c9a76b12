// Whole-plan checks the image-layer tests share (conv_network_test.cc,
// conv_transpose_network_test.cc): seeded parameters, every parameter and
// input gradient of a cross-entropy network against central differences, and
// predict against the training forward.
#pragma once

#include <cmath>
#include <cstdio>
#include <vector>

#include "check.h"
#include "losses.h"
#include "network.h"

namespace fastmlp_test {

using fastmlp::index_t;
using fastmlp::LayerSpec;
using fastmlp::LossKind;
using fastmlp::LossSpec;
using fastmlp::Network;

inline LossSpec cross_entropy() {
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
// central differences of the loss (through predict's eval forward: the image
// layers have no mode).
inline void fd_check(const std::vector<LayerSpec>& layers, const char* what) {
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
  fastmlp::loss_backward(loss, out, B, net.output_size(), y, static_cast<const double*>(nullptr), dout.data());
  net.backward(dout.data(), B, dinp.data());
  std::vector<double> pred(dout.size());
  const auto L = [&](const std::vector<double>& xx) {
    net.predict(xx.data(), B, pred.data());
    return fastmlp::loss_forward(loss, pred.data(), B, net.output_size(), y, static_cast<const double*>(nullptr));
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
  // The gradients are written, not accumulated, and skipping dL/dinput (the
  // first layer's backward in training) leaves them the same bits.
  net.forward_train(x.data(), B);
  net.backward(dout.data(), B, nullptr);
  CHECK(std::vector<double>(net.grads(), net.grads() + net.param_count()) == grads);
  CHECK(net.gradients_finite());
}

// predict (chunks of max_batch rows, the scratch ping-pong) against the
// training forward, row by row.
template <typename T>
void check_predict_matches_forward(const std::vector<LayerSpec>& layers) {
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

}  // namespace fastmlp_test
