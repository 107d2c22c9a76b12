// A dense–activation–dense network with seeded random parameters in [−1, 1),
// the small test network of the optimizer tests (optim_flush_test,
// optim_overflow_test).
#pragma once

#include <algorithm>
#include <vector>

#include "check.h"
#include "network.h"

namespace fastmlp_test {

template <typename T>
fastmlp::Network<T> two_layer_net(index_t in, index_t hidden, index_t out,
                                  fastmlp::Activation activation, index_t max_batch,
                                  unsigned seed) {
  using fastmlp::LayerSpec;
  std::vector<LayerSpec> layers(3);
  layers[0].kind = LayerSpec::Kind::Dense;
  layers[0].in = in;
  layers[0].out = hidden;
  layers[1].kind = LayerSpec::Kind::Activation;
  layers[1].activation = activation;
  layers[2].kind = LayerSpec::Kind::Dense;
  layers[2].in = hidden;
  layers[2].out = out;
  fastmlp::Network<T> net(layers, max_batch);
  rng.seed(seed);
  const std::vector<T> init = random_vec<T>(static_cast<std::size_t>(net.param_count()));
  std::copy(init.begin(), init.end(), net.params());
  return net;
}

}  // namespace fastmlp_test
