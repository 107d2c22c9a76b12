// LayerSpec builders shared by the core tests and harnesses: a dense layer, an
// activation, and a layer of another kind by its width (norms, dropout).
#pragma once

#include "network.h"

namespace fastmlp_test {

inline fastmlp::LayerSpec dense_spec(fastmlp::index_t in, fastmlp::index_t out, double l1 = 0,
                                     double l2 = 0) {
  fastmlp::LayerSpec l;
  l.in = in;
  l.out = out;
  l.l1 = l1;
  l.l2 = l2;
  return l;
}

inline fastmlp::LayerSpec activation_spec(fastmlp::Activation a,
                                          const fastmlp::ActivationParams& params = {}) {
  fastmlp::LayerSpec l;
  l.kind = fastmlp::LayerSpec::Kind::Activation;
  l.activation = a;
  l.act_params = params;
  return l;
}

inline fastmlp::LayerSpec kind_spec(fastmlp::LayerSpec::Kind kind, fastmlp::index_t features = 0) {
  fastmlp::LayerSpec l;
  l.kind = kind;
  l.features = features;
  return l;
}

}  // namespace fastmlp_test
