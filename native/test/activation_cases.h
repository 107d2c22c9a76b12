// Every element-wise activation, the parameterised ones off their
// defaults, for the tests that check a fused activation against the unfused
// one (fuse_test.cc, conv_fuse_test.cc).
#pragma once

#include <vector>

#include "activations.h"

namespace fastmlp_test {

struct ActCase {
  fastmlp::Activation act;
  fastmlp::ActivationParams params;
  const char* name;
};

inline std::vector<ActCase> elementwise_cases() {
  fastmlp::ActivationParams leaky, elu, softplus, swish, gelu_tanh;
  leaky.negative_slope = 0.2;
  elu.alpha = 0.7;
  softplus.beta = 2.0;
  softplus.threshold = 3.0;  // so some inputs take the linear branch
  swish.beta = 1.5;
  gelu_tanh.approximate = fastmlp::GeluApproximation::Tanh;
  fastmlp::ActivationParams hardtanh;
  hardtanh.min_val = -0.25;
  hardtanh.max_val = 0.5;  // narrow, so both clamps are taken
  return {{fastmlp::Activation::Relu, {}, "relu"},
          {fastmlp::Activation::Sigmoid, {}, "sigmoid"},
          {fastmlp::Activation::Tanh, {}, "tanh"},
          {fastmlp::Activation::LeakyRelu, leaky, "leaky-relu"},
          {fastmlp::Activation::Elu, elu, "elu"},
          {fastmlp::Activation::Selu, {}, "selu"},
          {fastmlp::Activation::Softplus, softplus, "softplus"},
          {fastmlp::Activation::Gelu, {}, "gelu"},
          {fastmlp::Activation::Gelu, gelu_tanh, "gelu-tanh"},
          {fastmlp::Activation::Silu, {}, "silu"},
          {fastmlp::Activation::Swish, swish, "swish"},
          {fastmlp::Activation::Hardtanh, hardtanh, "hardtanh"},
          {fastmlp::Activation::Relu6, {}, "relu6"},
          {fastmlp::Activation::LogSigmoid, {}, "logsigmoid"}};
}

}  // namespace fastmlp_test
