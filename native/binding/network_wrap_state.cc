// Network's state copied in and out (network_wrap.h): parameters, gradients,
// layer buffers, optimizer state, the dropout stream, and copyStateFrom (plan
// to plan). Every check runs before the first byte is written.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "errors.h"
#include "network_wrap_impl.h"

namespace fastmlp::binding {

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

Napi::Value NetworkWrap::GetParams(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.param_count(); });
  const FloatArg out = float_array(arg(info, 0), "out", dtype_, std::size_t(count));
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    std::memcpy(out.as<T>(), std::as_const(n).params(), sizeof(T) * std::size_t(count));
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

// The ranged copies: [offset, offset + array.length) of the parameters or of
// the optimizer state, so that lib/io saves and loads a large model in ~1 MB
// steps with the event loop let in between (a whole-buffer copy, with the
// page faults of a fresh destination, held it for tens of ms). offset is an
// integer in [0, count]; the array, of the plan's dtype, must end by count.
namespace {

struct Range {
  index_t offset;
  FloatArg array;
};

Range range_args(const Napi::CallbackInfo& info, index_t count, Dtype dtype, const char* name) {
  const index_t offset = integer(arg(info, 0), "offset", 0, count);
  const FloatArg a = float_array(arg(info, 1), name);
  if (a.dtype != dtype)
    throw_type_error(info.Env(), std::string("Expected a ") + dtype_name(dtype) + " for " + name +
                                     " but received " + dtype_name(a.dtype));
  if (a.length > std::size_t(count - offset))
    throw_range_error(info.Env(), std::string("Expected at most ") + std::to_string(count - offset) +
                                      " elements for " + name + " (from offset " + std::to_string(offset) +
                                      " of " + std::to_string(count) + ") but received " +
                                      std::to_string(a.length));
  return {offset, a};
}

}  // namespace

// readParams(offset, out)
Napi::Value NetworkWrap::ReadParams(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.param_count(); });
  const Range r = range_args(info, count, dtype_, "out");
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    if (r.array.length > 0) std::memcpy(r.array.as<T>(), std::as_const(n).params() + r.offset, sizeof(T) * r.array.length);
  });
  return info.Env().Undefined();
}

// writeParams(offset, src)
Napi::Value NetworkWrap::WriteParams(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.param_count(); });
  const Range r = range_args(info, count, dtype_, "src");
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    if (r.array.length > 0) std::memcpy(n.params() + r.offset, r.array.as<T>(), sizeof(T) * r.array.length);
  });
  return info.Env().Undefined();
}

// readOptimizerState(offset, out)
Napi::Value NetworkWrap::ReadOptimizerState(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.opt_state_size(); });
  const Range r = range_args(info, count, dtype_, "out");
  visit([&](auto& n) {
    using T = element_t<decltype(n)>;
    if (r.array.length > 0) std::memcpy(r.array.as<T>(), n.opt_state() + r.offset, sizeof(T) * r.array.length);
  });
  return info.Env().Undefined();
}

// writeOptimizerState(offset, src, stepCount): a range of a state taken by
// readOptimizerState/getOptimizerState, and the step count (every range of
// one restore passes the same count).
Napi::Value NetworkWrap::WriteOptimizerState(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const index_t count = visit([](auto& n) { return n.opt_state_size(); });
  const Range r = range_args(info, count, dtype_, "src");
  const index_t steps = integer(arg(info, 2), "stepCount", 0, index_t(1) << 53);
  guard(info.Env(), [&] {
    visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      n.set_opt_state_range(r.offset, r.array.as<T>(), index_t(r.array.length), steps);
    });
  });
  return info.Env().Undefined();
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
    throw_error(env, std::string("Cannot copy from source: it is ") + source.busy_reason() +
                         "; wait for it to finish",
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
    const Network<T>* from = nullptr;  // read only: its predict cache stays valid
    if constexpr (std::is_same_v<T, float>) from = source.f32_.get(); else from = source.f64_.get();
    std::memcpy(n.params(), from->params(), sizeof(T) * std::size_t(param_count_));
    if (buffers > 0) std::memcpy(n.buffers(), from->buffers(), sizeof(T) * std::size_t(buffers));
  });
  return env.Undefined();
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

}  // namespace fastmlp::binding
