// The JS class Network (network_wrap.h): its method table, construction,
// argument guards, read-only properties, settings (loss, optimizer, mode,
// seed) and dispose. Copies of its state live in network_wrap_state.cc, the
// calls that run it (predict, training steps, epochs) in network_wrap_run.cc.
#include "network_wrap.h"

#include "errors.h"
#include "network_wrap_impl.h"
#include "specs.h"

namespace fastmlp::binding {

namespace {

// Marks the objects this class constructs (napi_type_tag_object, N-API 8), so
// copyStateFrom can tell a real Network from a look-alike before unwrapping it:
// napi_unwrap alone would hand back another class's pointer. Random 128 bits.
constexpr napi_type_tag kNetworkTypeTag = {0x6a1f3c9e52d84b07ULL, 0xb39e0d51c7a24f68ULL};

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
      InstanceMethod<&NetworkWrap::ReadParams>("readParams"),
      InstanceMethod<&NetworkWrap::WriteParams>("writeParams"),
      InstanceMethod<&NetworkWrap::ReadOptimizerState>("readOptimizerState"),
      InstanceMethod<&NetworkWrap::WriteOptimizerState>("writeOptimizerState"),
      InstanceMethod<&NetworkWrap::CopyStateFrom>("copyStateFrom"),
      InstanceMethod<&NetworkWrap::SetTraining>("setTraining"),
      InstanceMethod<&NetworkWrap::SetSeed>("setSeed"),
      InstanceMethod<&NetworkWrap::GetDropoutState>("getDropoutState"),
      InstanceMethod<&NetworkWrap::SetDropoutState>("setDropoutState"),
      InstanceMethod<&NetworkWrap::Predict>("predict"),
      InstanceMethod<&NetworkWrap::PredictAsync>("predictAsync"),
      InstanceMethod<&NetworkWrap::SetPredictCache>("setPredictCache"),
      InstanceMethod<&NetworkWrap::GetPredictCacheBytes>("predictCacheBytes"),
      InstanceMethod<&NetworkWrap::ForwardTrain>("forwardTrain"),
      InstanceMethod<&NetworkWrap::Backward>("backward"),
      InstanceMethod<&NetworkWrap::ForwardTrainAsync>("forwardTrainAsync"),
      InstanceMethod<&NetworkWrap::BackwardStepAsync>("backwardStepAsync"),
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

void NetworkWrap::require_live(Napi::Env env) const {
  if (disposed_)
    throw_error(env, "This network has been disposed (dispose() freed its memory); create a new one",
                kCodeDisposed);
}

void NetworkWrap::require_idle(Napi::Env env) const {
  require_live(env);
  if (busy_)
    throw_error(env, std::string("This network is ") + busy_reason() + "; wait for it to finish", kCodeBusy);
}

const char* NetworkWrap::busy_reason() const {
  switch (busy_with_) {
    case BusyWith::Predict: return "predicting (predictAsync is running)";
    case BusyWith::Pass: return "training (a forward or backward pass is running)";
    default: return "training (an epoch is running)";
  }
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
// stepCount and penalty are written by a running epoch's or pass's worker
// (penalty is summed layer by layer during backward): busy refuses, as for
// every other read of the network's state.
Napi::Value NetworkWrap::GetStepCount(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.step_count(); })));
}
Napi::Value NetworkWrap::GetPenalty(const Napi::CallbackInfo& info) {
  if (disposed_) return Napi::Number::New(info.Env(), at_dispose_.penalty);
  require_idle(info.Env());
  return Napi::Number::New(info.Env(), visit([](auto& n) { return n.penalty(); }));
}

Napi::Value NetworkWrap::GetOptimizerStateSize(const Napi::CallbackInfo& info) {
  if (disposed_) return Napi::Number::New(info.Env(), double(at_dispose_.opt_state_size));
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.opt_state_size(); })));
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

Napi::Value NetworkWrap::GetBufferCount(const Napi::CallbackInfo& info) {
  if (disposed_) return Napi::Number::New(info.Env(), double(at_dispose_.buffer_count));
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.buffer_count(); })));
}

Napi::Value NetworkWrap::GetTraining(const Napi::CallbackInfo& info) {
  if (disposed_) return Napi::Boolean::New(info.Env(), at_dispose_.training);
  return Napi::Boolean::New(info.Env(), visit([](auto& n) { return n.training(); }));
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

// dispose(): frees the network's memory now, or — while an epoch or a
// predictAsync runs — cancels it (before its next batch or chunk) and lets the
// worker free the network when it finishes: the worker's baton holds a
// shared_ptr, so the batch in flight never sees freed memory. Idempotent. The classic-level pattern: close()
// while operations are pending must not crash (its segfault tests).
Napi::Value NetworkWrap::Dispose(const Napi::CallbackInfo& info) {
  if (disposed_) return info.Env().Undefined();
  if (epoch_cancel_) epoch_cancel_->store(true);
  // A running epoch's worker may be writing the penalty: read it only when idle.
  at_dispose_ = visit([&](auto& n) {
    return Disposed{n.training(), busy_ ? 0.0 : double(n.penalty()), n.buffer_count(), n.opt_state_size()};
  });
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
