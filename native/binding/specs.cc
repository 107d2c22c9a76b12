#include "specs.h"

#include "errors.h"

#include <cmath>
#include <limits>

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
      {"swish", Activation::Swish},       {"hardtanh", Activation::Hardtanh},
      {"relu6", Activation::Relu6},       {"logsigmoid", Activation::LogSigmoid}};
  const std::string s = string(v, "activation");
  for (const auto& n : kNames)
    if (s == n.name) return n.act;
  throw_range_error(v.Env(), "Expected one of identity, relu, sigmoid, tanh, softmax, "
                             "log-softmax, leaky-relu, elu, selu, softplus, gelu, silu, "
                             "swish, hardtanh, relu6, logsigmoid for activation but received '" + s + "'");
}

// An optional number field: absent (undefined) keeps the default. Ranges are
// checked by the core's validate_activation when the network is built.
void optional_number(const Napi::Object& o, const char* key, double& out) {
  const Napi::Value v = o.Get(key);
  if (!v.IsUndefined()) out = number(v, key);
}

// The activation parameters of an activation layer spec (lib/engine.ts
// ActivationParams: negativeSlope, alpha, beta, threshold, approximate, minVal, maxVal).
ActivationParams parse_activation_params(const Napi::Object& o) {
  ActivationParams p;
  optional_number(o, "negativeSlope", p.negative_slope);
  optional_number(o, "alpha", p.alpha);
  optional_number(o, "beta", p.beta);
  optional_number(o, "threshold", p.threshold);
  optional_number(o, "minVal", p.min_val);
  optional_number(o, "maxVal", p.max_val);
  const Napi::Value approx = o.Get("approximate");
  if (!approx.IsUndefined()) {
    const std::string a = string(approx, "approximate");
    if (a == "none") p.approximate = GeluApproximation::None;
    else if (a == "tanh") p.approximate = GeluApproximation::Tanh;
    else throw_range_error(o.Env(), "Expected 'none' or 'tanh' for approximate but received '" + a + "'");
  }
  return p;
}

// An optional finite number field: `fallback` when undefined.
double optional_number(const Napi::Object& o, const char* key, const char* name, double fallback) {
  const Napi::Value v = o.Get(key);
  return v.IsUndefined() ? fallback : number(v, name);
}

bool optional_boolean(const Napi::Object& o, const char* key, const char* name, bool fallback) {
  const Napi::Value v = o.Get(key);
  return v.IsUndefined() ? fallback : boolean(v, name);
}

// An optional number: undefined → fallback.
double optional_number(const Napi::Value& v, const char* name, double fallback) {
  return v.IsUndefined() ? fallback : number(v, name);
}

// The geometry fields of a conv2d, convtranspose2d or maxpool2d spec
// (lib/engine.ts Window2d).
// Sizes and strides ≥ 1, padding ≥ 0 here; how they fit together (the kernel
// within the padded input, pooling's padding at most half the kernel) is the
// core's check (conv.h validate_window), a RangeError naming the field.
Window2d parse_window(const Napi::Object& o, const std::string& at) {
  Window2d w;
  w.in_h = integer(o.Get("inHeight"), (at + ".inHeight").c_str(), 1, kMaxDim);
  w.in_w = integer(o.Get("inWidth"), (at + ".inWidth").c_str(), 1, kMaxDim);
  w.kernel_h = integer(o.Get("kernelHeight"), (at + ".kernelHeight").c_str(), 1, kMaxDim);
  w.kernel_w = integer(o.Get("kernelWidth"), (at + ".kernelWidth").c_str(), 1, kMaxDim);
  w.stride_h = integer(o.Get("strideHeight"), (at + ".strideHeight").c_str(), 1, kMaxDim);
  w.stride_w = integer(o.Get("strideWidth"), (at + ".strideWidth").c_str(), 1, kMaxDim);
  w.pad_h = integer(o.Get("padHeight"), (at + ".padHeight").c_str(), 0, kMaxDim);
  w.pad_w = integer(o.Get("padWidth"), (at + ".padWidth").c_str(), 0, kMaxDim);
  return w;
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
    // Messages name the layer as the caller wrote it: layers[3].inHeight.
    const std::string at = "layers[" + std::to_string(i) + "]";
    Napi::Object o = object(arr.Get(i), at.c_str());
    const std::string kind = string(o.Get("kind"), (at + ".kind").c_str());
    LayerSpec l;
    if (kind == "dense") {
      l.kind = LayerSpec::Kind::Dense;
      l.in = integer(o.Get("inFeatures"), (at + ".inFeatures").c_str(), 1, kMaxDim);
      l.out = integer(o.Get("outFeatures"), (at + ".outFeatures").c_str(), 1, kMaxDim);
      l.l1 = optional_number(o.Get("l1"), (at + ".l1").c_str(), 0);
      l.l2 = optional_number(o.Get("l2"), (at + ".l2").c_str(), 0);
    } else if (kind == "activation") {
      l.kind = LayerSpec::Kind::Activation;
      l.activation = parse_activation(o.Get("activation"));
      l.act_params = parse_activation_params(o);
    } else if (kind == "dropout") {
      l.kind = LayerSpec::Kind::Dropout;
      l.p = number(o.Get("p"), (at + ".p").c_str());
    } else if (kind == "batchnorm") {
      l.kind = LayerSpec::Kind::BatchNorm;
      l.features = integer(o.Get("numFeatures"), (at + ".numFeatures").c_str(), 1, kMaxDim);
      l.eps = number(o.Get("eps"), (at + ".eps").c_str());
      // momentum null: torch's momentum=None, a cumulative moving average.
      const Napi::Value momentum = o.Get("momentum");
      l.cumulative_average = momentum.IsNull();
      if (!l.cumulative_average) l.momentum = number(momentum, (at + ".momentum").c_str());
      const Napi::Value track = o.Get("trackRunningStats");
      l.track_running_stats = track.IsUndefined() || boolean(track, (at + ".trackRunningStats").c_str());
      l.affine = boolean(o.Get("affine"), (at + ".affine").c_str());
    } else if (kind == "layernorm") {
      l.kind = LayerSpec::Kind::LayerNorm;
      l.features = integer(o.Get("normalizedShape"), (at + ".normalizedShape").c_str(), 1, kMaxDim);
      l.eps = number(o.Get("eps"), (at + ".eps").c_str());
      l.affine = boolean(o.Get("elementwiseAffine"), (at + ".elementwiseAffine").c_str());
    } else if (kind == "prelu") {
      l.kind = LayerSpec::Kind::PRelu;
      l.slopes = integer(o.Get("numParameters"), (at + ".numParameters").c_str(), 1, kMaxDim);
    } else if (kind == "conv2d") {
      l.kind = LayerSpec::Kind::Conv2d;
      l.in_channels = integer(o.Get("inChannels"), (at + ".inChannels").c_str(), 1, kMaxDim);
      l.out_channels = integer(o.Get("outChannels"), (at + ".outChannels").c_str(), 1, kMaxDim);
      l.window = parse_window(o, at);
    } else if (kind == "convtranspose2d") {
      // outPad < stride and outHeight/outWidth ≥ 1 are the core's checks
      // (conv_transpose.h validate_conv_transpose), a RangeError naming the field.
      l.kind = LayerSpec::Kind::ConvTranspose2d;
      l.in_channels = integer(o.Get("inChannels"), (at + ".inChannels").c_str(), 1, kMaxDim);
      l.out_channels = integer(o.Get("outChannels"), (at + ".outChannels").c_str(), 1, kMaxDim);
      l.window = parse_window(o, at);
      l.out_pad_h = integer(o.Get("outPadHeight"), (at + ".outPadHeight").c_str(), 0, kMaxDim);
      l.out_pad_w = integer(o.Get("outPadWidth"), (at + ".outPadWidth").c_str(), 0, kMaxDim);
    } else if (kind == "maxpool2d") {
      l.kind = LayerSpec::Kind::MaxPool2d;
      l.channels = integer(o.Get("channels"), (at + ".channels").c_str(), 1, kMaxDim);
      l.window = parse_window(o, at);
    } else {
      throw_range_error(v.Env(), "Expected 'dense', 'activation', 'dropout', 'batchnorm', "
                                 "'layernorm', 'prelu', 'conv2d', 'convtranspose2d' or 'maxpool2d' for layers[" +
                                     std::to_string(i) + "].kind but received '" + kind + "'");
    }
    layers.push_back(l);
  }
  return layers;
}

namespace {

struct LossKindName {
  const char* name;
  LossKind kind;
};
// The names of lib/engine.ts LossName ('l1' and 'pinball' are aliases lib/ resolves).
constexpr LossKindName kLossKinds[] = {
    {"mse", LossKind::Mse},       {"cross-entropy", LossKind::CrossEntropy},
    {"mae", LossKind::Mae},       {"huber", LossKind::Huber},
    {"tukey", LossKind::Tukey},   {"quantile", LossKind::Quantile},
    {"barron", LossKind::Barron}, {"bce", LossKind::Bce},
    {"bce-with-logits", LossKind::BceWithLogits}, {"nll", LossKind::Nll},
    {"kl-div", LossKind::KlDiv},  {"hinge", LossKind::Hinge},
    {"squared-hinge", LossKind::SquaredHinge},    {"dice", LossKind::Dice},
    {"focal", LossKind::Focal}};

// Class weights: a Float64Array/Float32Array or an array of numbers, copied
// (the network keeps its own), each finite and >= 0; null/undefined: none.
std::vector<double> parse_class_weights(const Napi::Value& v) {
  std::vector<double> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (v.IsTypedArray()) {
    const FloatArg a = float_array(v, "loss.classWeights");
    out.resize(a.length);
    for (std::size_t i = 0; i < a.length; ++i)
      out[i] = a.dtype == Dtype::Float32 ? double(a.as<float>()[i]) : a.as<double>()[i];
  } else if (v.IsArray()) {
    auto arr = v.As<Napi::Array>();
    out.resize(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); ++i) out[i] = number(arr.Get(i), "loss.classWeights[i]");
  } else {
    throw_type_error(v.Env(), "Expected a Float64Array or an array of numbers for loss.classWeights but received " + describe(v));
  }
  for (double w : out)
    if (!(std::isfinite(w) && w >= 0))
      throw_range_error(v.Env(), "Expected finite weights >= 0 for loss.classWeights but received " + std::to_string(w));
  return out;
}

}  // namespace

LossSpec parse_loss(const Napi::Value& v) {
  Napi::Object o = object(v, "loss");
  const std::string kind = string(o.Get("kind"), "loss.kind");
  const LossKindName* found = nullptr;
  for (const auto& k : kLossKinds)
    if (kind == k.name) found = &k;
  if (!found)
    throw_range_error(v.Env(), "Expected a built-in loss name for loss.kind but received '" + kind + "'");
  LossSpec spec = default_loss_spec(found->kind);
  const std::string reduction = string(o.Get("reduction"), "loss.reduction");
  if (reduction == "mean") spec.reduction = Reduction::Mean;
  else if (reduction == "sum") spec.reduction = Reduction::Sum;
  else if (reduction == "none") spec.reduction = Reduction::None;
  else if (reduction == "batchmean") spec.reduction = Reduction::BatchMean;
  else throw_range_error(v.Env(), "Expected 'mean', 'sum', 'none' or 'batchmean' for loss.reduction but received '" + reduction + "'");
  spec.label_smoothing = optional_number(o, "labelSmoothing", "loss.labelSmoothing", 0.0);
  spec.delta = optional_number(o, "delta", "loss.delta", spec.delta);
  spec.tau = optional_number(o, "tau", "loss.tau", spec.tau);
  spec.scale = optional_number(o, "scale", "loss.scale", spec.scale);
  spec.gamma = optional_number(o, "gamma", "loss.gamma", spec.gamma);
  spec.smooth = optional_number(o, "smooth", "loss.smooth", spec.smooth);
  spec.pos_weight = optional_number(o, "posWeight", "loss.posWeight", spec.pos_weight);
  // Barron's α may be −Infinity (its Welsch limit); any other value must be finite.
  const Napi::Value alpha = o.Get("alpha");
  if (alpha.IsNumber() && alpha.As<Napi::Number>().DoubleValue() == -std::numeric_limits<double>::infinity())
    spec.alpha = -std::numeric_limits<double>::infinity();
  else
    spec.alpha = optional_number(o, "alpha", "loss.alpha", spec.alpha);
  spec.class_weights = parse_class_weights(o.Get("classWeights"));
  // The core's range checks (std::invalid_argument) become RangeErrors here.
  try {
    validate_loss_spec(spec);
  } catch (const std::invalid_argument& e) {
    throw_range_error(v.Env(), e.what());
  }
  return spec;
}

OptimizerSpec parse_optimizer(const Napi::Value& v) {
  Napi::Object o = object(v, "optimizer");
  OptimizerSpec spec;
  const std::string kind = string(o.Get("kind"), "optimizer.kind");
  if (kind == "sgd") spec.kind = OptimizerKind::Sgd;
  else if (kind == "adam") spec.kind = OptimizerKind::Adam;
  else if (kind == "adamw") spec.kind = OptimizerKind::AdamW;
  else if (kind == "adagrad") spec.kind = OptimizerKind::Adagrad;
  else if (kind == "rmsprop") spec.kind = OptimizerKind::RMSprop;
  else throw_range_error(v.Env(), "Expected 'sgd', 'adagrad', 'rmsprop', 'adam' or 'adamw' for "
                                  "optimizer.kind but received '" + kind + "'");
  spec.lr = number(o.Get("lr"), "optimizer.lr");
  spec.momentum = number(o.Get("momentum"), "optimizer.momentum");
  spec.dampening = number(o.Get("dampening"), "optimizer.dampening");
  spec.nesterov = boolean(o.Get("nesterov"), "optimizer.nesterov");
  spec.weight_decay = number(o.Get("weightDecay"), "optimizer.weightDecay");
  spec.beta1 = number(o.Get("beta1"), "optimizer.beta1");
  spec.beta2 = number(o.Get("beta2"), "optimizer.beta2");
  spec.eps = number(o.Get("eps"), "optimizer.eps");
  // Fields that engine.ts marks optional keep optim.h's defaults when absent.
  spec.amsgrad = optional_boolean(o, "amsgrad", "optimizer.amsgrad", spec.amsgrad);
  spec.alpha = optional_number(o, "alpha", "optimizer.alpha", spec.alpha);
  spec.centered = optional_boolean(o, "centered", "optimizer.centered", spec.centered);
  spec.lr_decay = optional_number(o, "lrDecay", "optimizer.lrDecay", spec.lr_decay);
  spec.initial_accumulator_value = optional_number(
      o, "initialAccumulatorValue", "optimizer.initialAccumulatorValue", spec.initial_accumulator_value);
  spec.clip_norm = optional_number(o, "clipNorm", "optimizer.clipNorm", spec.clip_norm);
  spec.clip_value = optional_number(o, "clipValue", "optimizer.clipValue", spec.clip_value);
  spec.maximize = optional_boolean(o, "maximize", "optimizer.maximize", spec.maximize);
  return spec;
}

}  // namespace fastmlp::binding
