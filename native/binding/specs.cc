#include "specs.h"

#include "errors.h"

namespace fastmlp::binding {

namespace {

// Names as in lib/engine.ts ActivationName.
Activation parse_activation(const Napi::Value& v) {
  static const struct { const char* name; Activation act; } kNames[] = {
      {"identity", Activation::Identity}, {"relu", Activation::Relu},
      {"sigmoid", Activation::Sigmoid},   {"tanh", Activation::Tanh},
      {"softmax", Activation::Softmax},   {"log-softmax", Activation::LogSoftmax},
      {"leaky-relu", Activation::LeakyRelu}, {"elu", Activation::Elu},
      {"selu", Activation::Selu},         {"softplus", Activation::Softplus},
      {"gelu", Activation::Gelu},         {"silu", Activation::Silu},
      {"swish", Activation::Swish}};
  const std::string s = string(v, "activation");
  for (const auto& n : kNames)
    if (s == n.name) return n.act;
  throw_range_error(v.Env(), "Expected one of identity, relu, sigmoid, tanh, softmax, "
                             "log-softmax, leaky-relu, elu, selu, softplus, gelu, silu, "
                             "swish for activation but received '" + s + "'");
}

// An optional number field: absent (undefined) keeps the default. Ranges are
// checked by the core's validate_activation when the network is built.
void optional_number(const Napi::Object& o, const char* key, double& out) {
  const Napi::Value v = o.Get(key);
  if (!v.IsUndefined()) out = number(v, key);
}

// The activation parameters of an activation layer spec (lib/engine.ts
// ActivationParams: negativeSlope, alpha, beta, threshold, approximate).
ActivationParams parse_activation_params(const Napi::Object& o) {
  ActivationParams p;
  optional_number(o, "negativeSlope", p.negative_slope);
  optional_number(o, "alpha", p.alpha);
  optional_number(o, "beta", p.beta);
  optional_number(o, "threshold", p.threshold);
  const Napi::Value approx = o.Get("approximate");
  if (!approx.IsUndefined()) {
    const std::string a = string(approx, "approximate");
    if (a == "none") p.approximate = GeluApproximation::None;
    else if (a == "tanh") p.approximate = GeluApproximation::Tanh;
    else throw_range_error(o.Env(), "Expected 'none' or 'tanh' for approximate but received '" + a + "'");
  }
  return p;
}

}  // namespace

Dtype parse_dtype(const Napi::Value& v, const char* name) {
  const std::string s = string(v, name);
  if (s == "float32") return Dtype::Float32;
  if (s == "float64") return Dtype::Float64;
  throw_range_error(v.Env(), std::string("Expected 'float32' or 'float64' for ") + name +
                                 " but received '" + s + "'");
}

std::vector<LayerSpec> parse_layers(const Napi::Value& v) {
  if (!v.IsArray())
    throw_type_error(v.Env(), "Expected an array for layers but received " + describe(v));
  auto arr = v.As<Napi::Array>();
  std::vector<LayerSpec> layers;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Object o = object(arr.Get(i), "layers[i]");
    const std::string kind = string(o.Get("kind"), "layers[i].kind");
    LayerSpec l;
    if (kind == "dense") {
      l.kind = LayerSpec::Kind::Dense;
      l.in = integer(o.Get("inFeatures"), "layers[i].inFeatures", 1, kMaxDim);
      l.out = integer(o.Get("outFeatures"), "layers[i].outFeatures", 1, kMaxDim);
    } else if (kind == "activation") {
      l.kind = LayerSpec::Kind::Activation;
      l.activation = parse_activation(o.Get("activation"));
      l.act_params = parse_activation_params(o);
    } else {
      throw_range_error(v.Env(), "Expected 'dense' or 'activation' for layers[" +
                                     std::to_string(i) + "].kind but received '" + kind + "'");
    }
    layers.push_back(l);
  }
  return layers;
}

LossSpec parse_loss(const Napi::Value& v) {
  Napi::Object o = object(v, "loss");
  LossSpec spec;
  const std::string kind = string(o.Get("kind"), "loss.kind");
  if (kind == "mse") spec.kind = LossKind::Mse;
  else if (kind == "cross-entropy") spec.kind = LossKind::CrossEntropy;
  else throw_range_error(v.Env(), "Expected 'mse' or 'cross-entropy' for loss.kind but received '" + kind + "'");
  const std::string reduction = string(o.Get("reduction"), "loss.reduction");
  if (reduction == "mean") spec.reduction = Reduction::Mean;
  else if (reduction == "sum") spec.reduction = Reduction::Sum;
  else throw_range_error(v.Env(), "Expected 'mean' or 'sum' for loss.reduction but received '" + reduction + "'");
  spec.label_smoothing = number(o.Get("labelSmoothing"), "loss.labelSmoothing");
  return spec;
}

OptimizerSpec parse_optimizer(const Napi::Value& v) {
  Napi::Object o = object(v, "optimizer");
  OptimizerSpec spec;
  const std::string kind = string(o.Get("kind"), "optimizer.kind");
  if (kind == "sgd") spec.kind = OptimizerKind::Sgd;
  else if (kind == "adam") spec.kind = OptimizerKind::Adam;
  else if (kind == "adamw") spec.kind = OptimizerKind::AdamW;
  else throw_range_error(v.Env(), "Expected 'sgd', 'adam' or 'adamw' for optimizer.kind but received '" + kind + "'");
  spec.lr = number(o.Get("lr"), "optimizer.lr");
  spec.momentum = number(o.Get("momentum"), "optimizer.momentum");
  spec.dampening = number(o.Get("dampening"), "optimizer.dampening");
  spec.nesterov = boolean(o.Get("nesterov"), "optimizer.nesterov");
  spec.weight_decay = number(o.Get("weightDecay"), "optimizer.weightDecay");
  spec.beta1 = number(o.Get("beta1"), "optimizer.beta1");
  spec.beta2 = number(o.Get("beta2"), "optimizer.beta2");
  spec.eps = number(o.Get("eps"), "optimizer.eps");
  return spec;
}

}  // namespace fastmlp::binding
