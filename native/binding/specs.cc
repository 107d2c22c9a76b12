#include "specs.h"

#include "errors.h"

namespace fastmlp::binding {

namespace {

Activation parse_activation(const Napi::Value& v) {
  const std::string s = string(v, "activation");
  if (s == "identity") return Activation::Identity;
  if (s == "relu") return Activation::Relu;
  if (s == "sigmoid") return Activation::Sigmoid;
  if (s == "tanh") return Activation::Tanh;
  if (s == "softmax") return Activation::Softmax;
  throw_range_error(v.Env(), "Expected one of identity, relu, sigmoid, tanh, softmax for "
                             "activation but received '" + s + "'");
}

// An optional number: undefined → fallback.
double optional_number(const Napi::Value& v, const char* name, double fallback) {
  return v.IsUndefined() ? fallback : number(v, name);
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
      l.l1 = optional_number(o.Get("l1"), "layers[i].l1", 0);
      l.l2 = optional_number(o.Get("l2"), "layers[i].l2", 0);
    } else if (kind == "activation") {
      l.kind = LayerSpec::Kind::Activation;
      l.activation = parse_activation(o.Get("activation"));
    } else if (kind == "dropout") {
      l.kind = LayerSpec::Kind::Dropout;
      l.p = number(o.Get("p"), "layers[i].p");
    } else if (kind == "batchnorm") {
      l.kind = LayerSpec::Kind::BatchNorm;
      l.features = integer(o.Get("numFeatures"), "layers[i].numFeatures", 1, kMaxDim);
      l.eps = number(o.Get("eps"), "layers[i].eps");
      l.momentum = number(o.Get("momentum"), "layers[i].momentum");
      l.affine = boolean(o.Get("affine"), "layers[i].affine");
    } else if (kind == "layernorm") {
      l.kind = LayerSpec::Kind::LayerNorm;
      l.features = integer(o.Get("normalizedShape"), "layers[i].normalizedShape", 1, kMaxDim);
      l.eps = number(o.Get("eps"), "layers[i].eps");
      l.affine = boolean(o.Get("elementwiseAffine"), "layers[i].elementwiseAffine");
    } else if (kind == "prelu") {
      l.kind = LayerSpec::Kind::PRelu;
      l.slopes = integer(o.Get("numParameters"), "layers[i].numParameters", 1, kMaxDim);
    } else {
      throw_range_error(v.Env(), "Expected 'dense', 'activation', 'dropout', 'batchnorm', "
                                 "'layernorm' or 'prelu' for layers[" +
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
