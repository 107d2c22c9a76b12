// The calls that run a Network (network_wrap.h): predict and predictAsync,
// the training passes (forwardTrain, backward, computeGradients, step,
// trainStep), and epochs on a worker thread (runEpoch, cancelEpoch,
// releaseEpochData).
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "data_block.h"
#include "errors.h"
#include "network_wrap_impl.h"
#include "pass_worker.h"
#include "predict_worker.h"
#include "specs.h"
#include "train_epoch_worker.h"

namespace fastmlp::binding {

namespace {

// A dense target's data, or null for class indices (the core takes either).
template <typename T>
const T* dense_or_null(const TargetArg& t) {
  return t.has_dense ? t.dense.as<T>() : nullptr;
}

}  // namespace

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
  sync_external_memory(info.Env());  // a predict may have built the weight cache (its second pass with the same weights)
  return info.Env().Undefined();
}

// setPredictCache(enabled): internal, for tests and benchmarks — predict's
// weight cache (core/predict_cache.h) on or off (freed). Not part of lib's API.
Napi::Value NetworkWrap::SetPredictCache(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  const Napi::Value v = arg(info, 0);
  if (!v.IsBoolean()) throw_type_error(info.Env(), "Expected a boolean for enabled but received " + describe(v));
  const bool on = v.As<Napi::Boolean>().Value();
  visit([&](auto& n) { n.set_predict_cache(on); });
  sync_external_memory(info.Env());
  return info.Env().Undefined();
}

// predictCacheBytes(): internal, for tests — what the weight cache holds now.
Napi::Value NetworkWrap::GetPredictCacheBytes(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  return Napi::Number::New(info.Env(), double(visit([](auto& n) { return n.predict_cache_bytes(); })));
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
      // One chunk when batch statistics span the whole input (untracked batch norm).
      baton.chunk = n.predicts_in_one_pass() ? rows : std::min(rows, (batch + pass - 1) / pass * pass);
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
  sync_external_memory(info.Env());  // training starts: predict's weight cache was freed
  return info.Env().Undefined();
}

// backward's and backwardStepAsync's rows (argument 1): those of the last forwardTrain.
index_t NetworkWrap::backward_rows_arg(const Napi::CallbackInfo& info) const {
  const index_t rows = rows_arg(info, 1);
  if (rows != last_forward_rows_)
    throw_range_error(info.Env(), "Expected rows to equal the last forwardTrain's rows (" +
                                      std::to_string(last_forward_rows_) + ") but received " +
                                      std::to_string(rows));
  return rows;
}

// backward(dout, rows, dinput?): gradients of the last forwardTrain.
Napi::Value NetworkWrap::Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = backward_rows_arg(info);
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

// forwardTrainAsync(x, rows, out) → Promise<void>: forwardTrain on a worker
// thread (pass_worker.h); x is copied now, out is written when it resolves.
Napi::Value NetworkWrap::ForwardTrainAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const Napi::Value out = arg(info, 2);
  float_array(out, "out", dtype_, std::size_t(rows * out_size()));
  const index_t cap = visit([](auto& n) { return n.max_batch(); });
  if (rows < 1 || rows > cap)
    throw_range_error(env, "Expected rows in [1, " + std::to_string(cap) + "] (maxBatch) but received " +
                               std::to_string(rows));
  last_forward_rows_ = 0;  // the activations are being replaced: no backward until this pass is done
  return queue_pass(env, TrainingPass::Forward, x, rows, 0, out);
}

// backwardStepAsync(dout, rows, loss) → Promise<number>: on a worker thread,
// backward from dout (the gradients of the last forwardTrain or
// forwardTrainAsync), then step() when loss + penalty is finite; resolves
// with loss + penalty.
Napi::Value NetworkWrap::BackwardStepAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = backward_rows_arg(info);
  const FloatArg dout = float_array(arg(info, 0), "dout", dtype_, std::size_t(rows * out_size()));
  const double loss = number(arg(info, 2), "loss");
  return queue_pass(env, TrainingPass::BackwardStep, dout, rows, loss, env.Undefined());
}

// The two calls above, once their arguments are checked: a PassWorker over a
// copy of `in` (x or dout), writing into `out` (forward's typed array).
Napi::Value NetworkWrap::queue_pass(Napi::Env env, TrainingPass pass, const FloatArg& in, index_t rows,
                                    double loss, Napi::Value out) {
  return guard(env, [&]() -> Napi::Value {
    return visit([&]([[maybe_unused]] auto& n) -> Napi::Value {
      using T = element_t<decltype(n)>;
      typename PassWorker<T>::Baton baton;
      if constexpr (std::is_same_v<T, float>) baton.net = f32_; else baton.net = f64_;
      baton.pass = pass;
      baton.in.assign(in.as<T>(), in.as<T>() + in.length);
      if (pass == TrainingPass::Forward) baton.out.resize(std::size_t(rows * out_size()));
      baton.rows = rows;
      baton.loss = loss;
      auto* worker = new PassWorker<T>(env, Value(), this, std::move(baton), out);
      Napi::Promise promise = worker->Promise();
      worker->Queue();
      return promise;
    });
  });
}

// computeGradients(x, rows, y) → loss: forward, loss and backward on one
// batch; trainStep(x, rows, y) → loss: the same, then the optimizer step.
// One set of argument checks for both (batch_loss).
template <bool kStep>
Napi::Value NetworkWrap::batch_loss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_idle(env);
  const index_t rows = rows_arg(info, 1);
  const FloatArg x = float_array(arg(info, 0), "x", dtype_, std::size_t(rows * in_size()));
  const TargetArg y = target_array(arg(info, 2), "y", dtype_);
  check_target(env, y, rows);
  const double loss = guard(env, [&] {
    return visit([&](auto& n) {
      using T = element_t<decltype(n)>;
      if constexpr (kStep) return n.train_step(x.as<T>(), rows, y.indices, dense_or_null<T>(y));
      else return n.compute_gradients(x.as<T>(), rows, y.indices, dense_or_null<T>(y));
    });
  });
  last_forward_rows_ = rows;
  sync_external_memory(env);  // training: predict's weight cache was freed
  return Napi::Number::New(env, loss);
}

Napi::Value NetworkWrap::ComputeGradients(const Napi::CallbackInfo& info) { return batch_loss<false>(info); }

Napi::Value NetworkWrap::Step(const Napi::CallbackInfo& info) {
  require_idle(info.Env());
  guard(info.Env(), [&] { visit([](auto& n) { n.step(); }); });
  sync_external_memory(info.Env());  // a write: predict's weight cache was freed
  return info.Env().Undefined();
}

Napi::Value NetworkWrap::TrainStep(const Napi::CallbackInfo& info) { return batch_loss<true>(info); }

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

}  // namespace fastmlp::binding
