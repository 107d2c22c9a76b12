#include "network_wrap.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "data_block.h"
#include "errors.h"
#include "specs.h"
#include "predict_worker.h"
#include "train_epoch_worker.h"

namespace fastmlp::binding {

namespace {

template <typename N> struct element_of;
template <typename T> struct element_of<Network<T>> { using type = T; };
template <typename N> using element_t = typename element_of<std::decay_t<N>>::type;

// Marks the objects this class constructs (napi_type_tag_object, N-API 8), so
// copyStateFrom can tell a real Network from a look-alike before unwrapping it:
// napi_unwrap alone would hand back another class's pointer. Random 128 bits.
constexpr napi_type_tag kNetworkTypeTag = {0x6a1f3c9e52d84b07ULL, 0xb39e0d51c7a24f68ULL};

// The dtype as lib/engine.ts spells it.
const char* dtype_label(Dtype d) { return d == Dtype::Float32 ? "float32" : "float64"; }

template <typename T>
const T* dense_or_null(const TargetArg& t) {
  return t.has_dense ? t.dense.as<T>() : nullptr;
}

}  // namespace

Napi::Function NetworkWrap::Define(Napi::Env env) {
  return DefineClass(env, "Network", {
      InstanceAccessor<&NetworkWrap::GetDtype>("dtype"),
      InstanceAccessor<&NetworkWrap::GetInputSize>("inputSize"),
      InstanceAccessor<&NetworkWrap::GetOutputSize>("outputSize"),
      InstanceAccessor<&NetworkWrap::GetParamCount>("paramCount"),
      InstanceAccessor<&NetworkWrap::GetMaxBatch>("maxBatch"),
      InstanceAccessor<&NetworkWrap::GetStepCount>("stepCount"),
      InstanceAccessor<&NetworkWrap::GetOptimizerStateSize>("optimizerStateSize"),
      InstanceMethod<&NetworkWrap::GetOptimizerState>("getOptimizerState"),
      InstanceMethod<&NetworkWrap::SetOptimizerState>("setOptimizerState"),
      InstanceAccessor<&NetworkWrap::GetPenalty>("penalty"),
      InstanceMethod<&NetworkWrap::Reserve>("reserve"),
      InstanceMethod<&NetworkWrap::SetLoss>("setLoss"),
      InstanceMethod<&NetworkWrap::SetOptimizer>("setOptimizer"),
      InstanceMethod<&NetworkWrap::ResetOptimizer>("resetOptimizer"),
      InstanceMethod<&NetworkWrap::GetParams>("getParams"),
      InstanceMethod<&NetworkWrap::SetParams>("setParams"),
      InstanceMethod<&NetworkWrap::GetGrads>("getGrads"),
      InstanceAccessor<&NetworkWrap::GetBufferCount>("bufferCount"),
      InstanceAccessor<&NetworkWrap::GetTraining>("training"),
      InstanceMethod<&NetworkWrap::GetBuffers>("getBuffers"),
      InstanceMethod<&NetworkWrap::SetBuffers>("setBuffers"),
      InstanceMethod<&NetworkWrap::CopyStateFrom>("copyStateFrom"),
      InstanceMethod<&NetworkWrap::SetTraining>("setTraining"),
      InstanceMethod<&NetworkWrap::SetSeed>("setSeed"),
      InstanceMethod<&NetworkWrap::GetDropoutState>("getDropoutState"),
      InstanceMethod<&NetworkWrap::SetDropoutState>("setDropoutState"),
      InstanceMethod<&NetworkWrap::Predict>("predict"),
      InstanceMethod<&NetworkWrap::PredictAsync>("predictAsync"),
      InstanceMethod<&NetworkWrap::ForwardTrain>("forwardTrain"),
      InstanceMethod<&NetworkWrap::Backward>("backward"),
      InstanceMethod<&NetworkWrap::ComputeGradients>("computeGradients"),
      InstanceMethod<&NetworkWrap::Step>("step"),
      InstanceMethod<&NetworkWrap::TrainStep>("trainStep"),
      InstanceMethod<&NetworkWrap::TrainEpoch>("runEpoch"),
      InstanceMethod<&NetworkWrap::CancelEpoch>("cancelEpoch"),
      InstanceMethod<&NetworkWrap::ReleaseEpochData>("releaseEpochData"),
      InstanceMethod<&NetworkWrap::Dispose>("dispose"),
      InstanceAccessor<&NetworkWrap::GetDisposed>("disposed"),
  });
}

// new Network({ dtype, layers, maxBatch })
NetworkWrap::NetworkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetworkWrap>(info) {
  Napi::Env env = info.Env();
  Napi::Object spec = object(arg(info, 0), "spec");
  dtype_ = parse_dtype(spec.Get("dtype"), "spec.dtype");
  const auto layers = parse_layers(spec.Get("layers"));
  const index_t max_batch = integer(spec.Get("maxBatch"), "spec.maxBatch", 1, kMaxDim);
  guard(env, [&] {
    if (dtype_ == Dtype::Float32) f32_ = std::make_shared<Network<float>>(layers, max_batch);
    else f64_ = std::make_shared<Network<double>>(layers, max_batch);
  });
  // (visit() is defined below, so not used here.)
  in_ = f32_ ? f32_->input_size() : f64_->input_size();
  out_ = f32_ ? f32_->output_size() : f64_->output_size();
  param_count_ = f32_ ? f32_->param_count() : f64_->param_count();
  sync_external_memory(env);
  // Last: only a fully built Network (core network allocated) is ever taken for one.
  info.This().As<Napi::Object>().TypeTag(&kNetworkTypeTag);
}

NetworkWrap::~NetworkWrap() {
  if (external_bytes_ != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -external_bytes_);
}

void NetworkWrap::sync_external_memory(Napi::Env env) {
  const auto bytes = disposed_ ? std::int64_t(0)
                               : static_cast<std::int64_t>(dtype_ == Dtype::Float32 ? f32_->allocated_bytes()
                                                                                    : f64_->allocated_bytes());
  if (bytes != external_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes - external_bytes_);
    external_bytes_ = bytes;
  }
}

template <typename F>
decltype(auto) NetworkWrap::visit(F&& f) {
  return dtype_ == Dtype::Float32 ? f(*f32_) : f(*f64_);
}

void NetworkWrap::require_live(Napi::Env env) const {
  if (disposed_)
    throw_error(env, "This network has been disposed (dispose() freed its memory); create a new one",
                kCodeDisposed);
}

void NetworkWrap::require_idle(Napi::Env env) const {
  require_live(env);
  if (busy_)
    throw_error(env, busy_with_ == BusyWith::Predict
                         ? "This network is predicting (predictAsync is running); wait for it to finish"
                         : "This network is training (an epoch is running); wait for it to finish",
                kCodeBusy);
}

index_t NetworkWrap::in_size() const { return in_; }
index_t NetworkWrap::out_size() const { return out_; }

NetworkWrap& NetworkWrap::unwrap_network(Napi::Env env, const Napi::Value& v, const char* name) {
  void* wrap = nullptr;
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kNetworkTypeTag) ||
      napi_unwrap(env, v, &wrap) != napi_ok || wrap == nullptr)
    throw_type_error(env, std::string("Expected a network plan of the native engine for ") + name +
                              " but received " + describe(v));
  return *static_cast<NetworkWrap*>(wrap);
}

index_t NetworkWrap::rows_arg(const Napi::CallbackInfo& info, std::size_t i) {
  return integer(arg(info, i), "rows", 1, kMaxDim);
}

void NetworkWrap::check_target(Napi::Env env, const TargetArg& t, index_t rows) const {
  require_target_shape(env, t, "y", rows, out_size());
  if (!t.indices) return;
  const index_t classes = out_size();
  for (std::size_t i = 0; i < t.index_count; ++i)
    if (t.indices[i] < 0 || t.indices[i] >= classes)
      throw_range_error(env, "Expected class indices in [0, " + std::to_string(classes) +
                                 ") for y but received " + std::to_string(t.indices[i]) +
                                 " at index " + std::to_string(i));
}

Napi::Value NetworkWrap::GetDtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_label(dtype_));
}
Napi::Value NetworkWrap::GetInputSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(in_size()));
}
Napi::Value NetworkWrap::GetOutputSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(out_size()));
}
Napi::Value NetworkWrap::GetParamCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(param_count_));
}
Napi::Value NetworkWrap::GetMaxBatch(const Napi::CallbackInfo& info) {
  require_live(info.Env());
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.max_batch(); })));
}
Napi::Value NetworkWrap::GetStepCount(const Napi::CallbackInfo& info) {
  require_live(info.Env());
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.step_count(); })));
}
Napi::Value NetworkWrap::GetPenalty(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), visit([](auto& n) { return n.penalty(); }));
}

Napi::Value NetworkWrap::GetOptimizerStateSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.opt_state_size(); })));
}

// getOptimizerState(out): copies the flat optimizer state (length optimizerStateSize).
Napi::Value NetworkWrap::GetOptimizerState(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.opt_state_size(); });
  const FloatArg out = float_array(arg(info, 0), "out", dtype_, std::size_t(count));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    std::copy(n.opt_state(), n.opt_state() + count, out.as<T>());
  });
  return info.Env().Undefined();
}

// setOptimizerState(src, stepCount): restores a state saved by getOptimizerState.
Napi::Value NetworkWrap::SetOptimizerState(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.opt_state_size(); });
  const FloatArg src = float_array(arg(info, 0), "src", dtype_, std::size_t(count));
  // 2^53: the largest step count a JS number holds exactly.
  const index_t steps = integer(arg(info, 1), "stepCount", 0, index_t(1) << 53);
  guard(info.Env(), [&] {
    visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      n.set_opt_state(src.as<T>(), count, steps);
    });
  });
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::Reserve(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t rows = rows_arg(info, 0);
  guard(info.Env(), [&] { visit([&](auto& n) { n.reserve(rows); }); });
  sync_external_memory(info.Env());
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::SetLoss(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const Napi::Value v = arg(info, 0);
  if (v.IsNull()) {
    visit([](auto& n) { n.clear_loss(); });
  } else {
    const LossSpec spec = parse_loss(v);
    guard(info.Env(), [&] { visit([&](auto& n) { n.set_loss(spec); }); });
  }
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::SetOptimizer(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const OptimizerSpec spec = parse_optimizer(arg(info, 0));
  guard(info.Env(), [&] { visit([&](auto& n) { n.set_optimizer(spec); }); });
  sync_external_memory(info.Env());
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::ResetOptimizer(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  visit([](auto& n) { n.reset_optimizer_state(); });
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::GetParams(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.param_count(); });
  const FloatArg out = float_array(arg(info, 0), "out", dtype_, std::size_t(count));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    std::memcpy(out.as<T>(), n.params(), sizeof(T) * std::size_t(count));
  });
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::SetParams(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.param_count(); });
  const FloatArg src = float_array(arg(info, 0), "src", dtype_, std::size_t(count));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    std::memcpy(n.params(), src.as<T>(), sizeof(T) * std::size_t(count));
  });
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::GetBufferCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.buffer_count(); })));
}

Napi::Value NetworkWrap::GetTraining(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), visit([](auto& n) { return n.training(); }));
}

Napi::Value NetworkWrap::GetBuffers(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.buffer_count(); });
  const FloatArg out = float_array(arg(info, 0), "out", dtype_, std::size_t(count));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    if (count > 0) std::memcpy(out.as<T>(), n.buffers(), sizeof(T) * std::size_t(count));
  });
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::SetBuffers(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.buffer_count(); });
  const FloatArg src = float_array(arg(info, 0), "src", dtype_, std::size_t(count));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    if (count > 0) std::memcpy(n.buffers(), src.as<T>(), sizeof(T) * std::size_t(count));
  });
  return info.Env().Undefined();
}

// copyStateFrom(source): source's parameters and buffers memcpy'd into this
// network, for fit's per-epoch predict snapshot (no JS array in between). Only
// flat counts are compared — the binding knows nothing of layers; lib/engine.ts
// documents the contract. Every check runs before the first byte is copied.
Napi::Value NetworkWrap::CopyStateFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  NetworkWrap& source = unwrap_network(env, arg(info, 0), "source");
  if (&source == this)
    throw_range_error(env, "Expected another plan than this one for source but received the same plan");
  if (source.disposed_)
    throw_error(env, "Cannot copy from source: it has been disposed (dispose() freed its memory)", kCodeDisposed);
  if (source.busy_)
    throw_error(env, "Cannot copy from source: it is training (an epoch is running); wait for it to finish",
                kCodeBusy);
  if (source.dtype_ != dtype_)
    throw_type_error(env, std::string("Expected a ") + dtype_label(dtype_) + " plan for source but received a " +
                              dtype_label(source.dtype_) + " plan");
  const index_t buffers = visit([](auto& n) { return n.buffer_count(); });
  const index_t source_buffers = source.visit([](auto& n) { return n.buffer_count(); });
  if (source.in_ != in_ || source.out_ != out_ || source.param_count_ != param_count_ || source_buffers != buffers)
    throw_range_error(env, "Expected a plan of the same layout for source (inputSize " + std::to_string(in_) +
                               ", outputSize " + std::to_string(out_) + ", paramCount " +
                               std::to_string(param_count_) + ", bufferCount " + std::to_string(buffers) +
                               ") but received inputSize " + std::to_string(source.in_) + ", outputSize " +
                               std::to_string(source.out_) + ", paramCount " + std::to_string(source.param_count_) +
                               ", bufferCount " + std::to_string(source_buffers));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    Network<T>* from = nullptr;
    if constexpr (std::is_same_v<T, float>) from = source.f32_.get(); else from = source.f64_.get();
    std::memcpy(n.params(), from->params(), sizeof(T) * std::size_t(param_count_));
    if (buffers > 0) std::memcpy(n.buffers(), from->buffers(), sizeof(T) * std::size_t(buffers));
  });
  return env.Undefined();
}

// setTraining(true | false): the mode of forwardTrain, trainStep and trainEpoch.
Napi::Value NetworkWrap::SetTraining(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const bool training = boolean(arg(info, 0), "training");
  visit([&](auto& n) { n.set_training(training); });
  return info.Env().Undefined();
}

// setSeed(seed): restarts the dropout mask stream; seed an integer in [0, 2^53).
Napi::Value NetworkWrap::SetSeed(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t seed = integer(arg(info, 0), "seed", 0, (index_t(1) << 53) - 1);
  visit([&](auto& n) { n.set_seed(static_cast<std::uint64_t>(seed)); });
  return info.Env().Undefined();
}

// getDropoutState(): the dropout mask stream's four 32-bit state words.
Napi::Value NetworkWrap::GetDropoutState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  std::uint32_t words[4];
  visit([&](auto& n) { n.dropout_rng().get_state(words); });
  Napi::Array out = Napi::Array::New(env, 4);
  for (std::uint32_t i = 0; i < 4; i++) out.Set(i, Napi::Number::New(env, double(words[i])));
  return out;
}

// setDropoutState(words): restores getDropoutState's four words (integers in
// [0, 2^32), not all zero); a refused state changes nothing.
Napi::Value NetworkWrap::SetDropoutState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const Napi::Value v = arg(info, 0);
  if (!v.IsArray())
    throw_type_error(env, "Expected an array of four 32-bit words for words but received " + describe(v));
  const Napi::Array list = v.As<Napi::Array>();
  if (list.Length() != 4)
    throw_range_error(env, "Expected an array of four 32-bit words for words but received " + describe(v));
  std::uint32_t words[4];
  for (std::uint32_t i = 0; i < 4; i++) {
    const std::string name = "words[" + std::to_string(i) + "]";
    words[i] = static_cast<std::uint32_t>(integer(list.Get(i), name.c_str(), 0, (index_t(1) << 32) - 1));
  }
  if ((words[0] | words[1] | words[2] | words[3]) == 0)
    throw_range_error(env, "Expected four 32-bit words, not all zero, for words but received [0, 0, 0, 0]");
  visit([&](auto& n) { n.dropout_rng().set_state(words); });
  return env.Undefined();
}

Napi::Value NetworkWrap::GetGrads(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.param_count(); });
  const FloatArg out = float_array(arg(info, 0), "out", dtype_, std::size_t(count));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    std::memcpy(out.as<T>(), n.grads(), sizeof(T) * std::size_t(count));
  });
  return info.Env().Undefined();
}

// predict(x, rows, out): eval mode, any number of rows.
Napi::Value NetworkWrap::Predict(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const FloatArg out = float_array(arg(info, 2), "out", dtype_, std::size_t(rows * out_size()));
  guard(info.Env(), [&] {
    visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      n.predict(x.as<T>(), rows, out.as<T>());
    });
  });
  return info.Env().Undefined();
}

// predictAsync(x, rows, out, batchSize) → Promise<void>: predict on a worker
// thread (predict_worker.h), batchSize rows per chunk rounded up to a multiple
// of maxBatch so the forward passes — and so the output, bit for bit — are
// predict's. x is copied now; out is written when the promise resolves.
Napi::Value NetworkWrap::PredictAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const Napi::Value out_v = arg(info, 2);
  const FloatArg out = float_array(out_v, "out", dtype_, std::size_t(rows * out_size()));
  const index_t batch = integer(arg(info, 3), "batchSize", 1, kMaxDim);
  return guard(env, [&]() -> Napi::Value {
    return visit([&](auto& n) -> Napi::Value {
      using T = element_t<decltype(n)>;
      typename PredictWorker<T>::Baton baton;
      if constexpr (std::is_same_v<T, float>) baton.net = f32_; else baton.net = f64_;
      baton.x.assign(x.as<T>(), x.as<T>() + x.length);
      baton.out.resize(out.length);
      baton.rows = rows;
      const index_t pass = n.max_batch();
      baton.chunk = std::min(rows, (batch + pass - 1) / pass * pass);
      auto* worker = new PredictWorker<T>(env, Value(), this, std::move(baton), out_v);
      Napi::Promise promise = worker->Promise();
      worker->Queue();
      return promise;
    });
  });
}

// forwardTrain(x, rows, out): one batch, activations kept for backward.
Napi::Value NetworkWrap::ForwardTrain(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const FloatArg out = float_array(arg(info, 2), "out", dtype_, std::size_t(rows * out_size()));
  guard(info.Env(), [&] {
    visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      const T* y = n.forward_train(x.as<T>(), rows);
      std::memcpy(out.as<T>(), y, sizeof(T) * std::size_t(rows * out_size()));
    });
  });
  last_forward_rows_ = rows;
  return info.Env().Undefined();
}

// backward(dout, rows, dinput?): gradients of the last forwardTrain.
Napi::Value NetworkWrap::Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = rows_arg(info, 1);
  if (rows != last_forward_rows_)
    throw_range_error(env, "Expected rows to equal the last forwardTrain's rows (" +
                               std::to_string(last_forward_rows_) + ") but received " +
                               std::to_string(rows));
  const FloatArg dout = float_array(arg(info, 0), "dout", dtype_, std::size_t(rows * out_size()));
  const Napi::Value dv = arg(info, 2);
  FloatArg din;
  if (!dv.IsUndefined() && !dv.IsNull())
    din = float_array(dv, "dinput", dtype_, std::size_t(rows * in_size()));
  guard(env, [&] {
    visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      n.backward(dout.as<T>(), rows, din.data ? din.as<T>() : nullptr);
    });
  });
  return env.Undefined();
}

// computeGradients(x, rows, y) → loss; trainStep(x, rows, y) → loss.
Napi::Value NetworkWrap::ComputeGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const TargetArg y = target_array(arg(info, 2), "y", dtype_);
  check_target(env, y, rows);
  const double loss = guard(env, [&] {
    return visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      return n.compute_gradients(x.as<T>(), rows, y.indices, dense_or_null<T>(y));
    });
  });
  last_forward_rows_ = rows;
  return Napi::Number::New(env, loss);
}

Napi::Value NetworkWrap::Step(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  guard(info.Env(), [&] { visit([](auto& n) { n.step(); }); });
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const TargetArg y = target_array(arg(info, 2), "y", dtype_);
  check_target(env, y, rows);
  const double loss = guard(env, [&] {
    return visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      return n.train_step(x.as<T>(), rows, y.indices, dense_or_null<T>(y));
    });
  });
  last_forward_rows_ = rows;
  return Napi::Number::New(env, loss);
}

// runEpoch(x, rows, y, batchSize, order | null, onBatch?, outputs?, keepData?) → (the plan's trainEpoch in TS)
//   Promise<{ loss, batches, badBatch, cancelled }>; onBatch(batch, rows, loss, seconds).
//   keepData (EpochHooks.keepData): the caller keeps x and y unchanged until
//   releaseEpochData; their copy is kept and reused by later keepData epochs
//   over the same two arrays instead of being made again. When x (or a dense
//   y) is allocData's, the epoch reads its addon-owned memory and no copy is made.
Napi::Value NetworkWrap::TrainEpoch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const TargetArg y = target_array(arg(info, 2), "y", dtype_);
  check_target(env, y, rows);
  const index_t batch = integer(arg(info, 3), "batchSize", 1, kMaxDim);
  const Napi::Value ov = arg(info, 4);
  const std::int32_t* order = nullptr;
  if (!ov.IsNull() && !ov.IsUndefined()) order = int32_array(ov, "order", std::size_t(rows));
  const Napi::Value on_batch = arg(info, 5);
  if (!on_batch.IsNull() && !on_batch.IsUndefined() && !on_batch.IsFunction())
    throw_type_error(env, "Expected a function or null for onBatch");
  if (dtype_ == Dtype::Float32 ? !f32_->has_loss() : !f64_->has_loss())
    throw_error(env, "trainEpoch needs a built-in loss (setLoss) on this network", kCodeInvalidArgument);
  // outputs (optional): where each batch's training-mode outputs go (EpochHooks.outputs).
  const Napi::Value outputs_v = arg(info, 6);
  const bool has_outputs = !outputs_v.IsNull() && !outputs_v.IsUndefined();
  FloatArg outputs;
  if (has_outputs) outputs = float_array(outputs_v, "outputs", dtype_, std::size_t(rows * out_size()));
  const Napi::Value keep_v = arg(info, 7);
  const bool keep = !keep_v.IsNull() && !keep_v.IsUndefined() && boolean(keep_v, "keepData");
  // The same two arrays (by identity, while they live) and rows as the kept copy: reuse it.
  const auto same_object = [](Napi::ObjectReference& ref, const Napi::Value& v) {
    if (ref.IsEmpty() || !v.IsObject()) return false;
    const Napi::Object kept = ref.Value();
    return !kept.IsEmpty() && kept.StrictEquals(v);
  };
  const bool reuse = keep && kept_data_ && kept_rows_ == rows && same_object(kept_x_, arg(info, 0)) &&
                     same_object(kept_y_, arg(info, 2));

  return guard(env, [&]() -> Napi::Value {
    return visit([&](auto& n) -> Napi::Value {
      using T = element_t<decltype(n)>;
      typename TrainEpochWorker<T>::Baton baton;
      if constexpr (std::is_same_v<T, float>) baton.net = f32_; else baton.net = f64_;
      if (reuse) {
        baton.data = std::static_pointer_cast<const EpochData<T>>(kept_data_);
      } else {
        auto data = std::make_shared<EpochData<T>>();
        // keepData over allocData's memory: share it, no copy (data_block.h).
        if (keep) data->x_owner = find_data_block(arg(info, 0), x.data, x.length * sizeof(T));
        if (data->x_owner) {
          data->x = x.as<T>();
        } else {
          data->x_copy.assign(x.as<T>(), x.as<T>() + x.length);
          data->x = data->x_copy.data();
        }
        if (y.indices) {
          data->y_idx.assign(y.indices, y.indices + y.index_count);
        } else {
          if (keep) data->y_owner = find_data_block(arg(info, 2), y.dense.data, y.dense.length * sizeof(T));
          if (data->y_owner) {
            data->y = y.dense.as<T>();
          } else {
            data->y_copy.assign(y.dense.as<T>(), y.dense.as<T>() + y.dense.length);
            data->y = data->y_copy.data();
          }
        }
        baton.data = std::move(data);
      }
      if (keep) {
        kept_data_ = baton.data;
        kept_x_ = Napi::Weak(arg(info, 0).As<Napi::Object>());
        kept_y_ = Napi::Weak(arg(info, 2).As<Napi::Object>());
        kept_rows_ = rows;
      } else {
        release_epoch_data();
      }
      if (order) {
        baton.order.assign(order, order + rows);
        baton.has_order = true;
      }
      baton.rows = rows;
      baton.batch = batch;
      if (has_outputs) {
        // Rows the epoch does not reach keep the caller's values, as in the JS engine.
        baton.outputs.assign(outputs.as<T>(), outputs.as<T>() + outputs.length);
        baton.has_outputs = true;
      }
      n.reserve(std::min(batch, rows));
      auto* worker = new TrainEpochWorker<T>(env, Value(), this, std::move(baton), on_batch,
                                             has_outputs ? outputs_v : Napi::Value());
      Napi::Promise promise = worker->Promise();
      worker->Queue();
      return promise;
    });
  });
}

// cancelEpoch() → true when an epoch was running: it stops before its next batch
// (the batch in flight completes, so the parameters stay consistent).
Napi::Value NetworkWrap::CancelEpoch(const Napi::CallbackInfo& info) {
  if (!epoch_cancel_ || busy_with_ != BusyWith::Epoch) return Napi::Boolean::New(info.Env(), false);
  epoch_cancel_->store(true);
  return Napi::Boolean::New(info.Env(), true);
}

// releaseEpochData(): drops the copy of x and y kept by keepData epochs (an
// epoch running on it keeps its own reference until it ends). Idempotent.
Napi::Value NetworkWrap::ReleaseEpochData(const Napi::CallbackInfo& info) {
  release_epoch_data();
  return info.Env().Undefined();
}

void NetworkWrap::release_epoch_data() {
  kept_data_.reset();
  kept_x_.Reset();
  kept_y_.Reset();
  kept_rows_ = 0;
}

// dispose(): frees the network's memory now, or — while an epoch or a
// predictAsync runs — cancels it (before its next batch or chunk) and lets the
// worker free the network when it finishes: the worker's baton holds a
// shared_ptr, so the batch in flight never sees freed memory. Idempotent. The classic-level pattern: close()
// while operations are pending must not crash (its segfault tests).
Napi::Value NetworkWrap::Dispose(const Napi::CallbackInfo& info) {
  if (disposed_) return info.Env().Undefined();
  if (epoch_cancel_) epoch_cancel_->store(true);
  disposed_ = true;
  release_epoch_data();
  f32_.reset();
  f64_.reset();
  sync_external_memory(info.Env());  // reports 0 bytes now
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::GetDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed_);
}

}  // namespace fastmlp::binding
