#include "train_epoch_worker.h"

#include <chrono>
#include <cstring>
#include <string>

#include "network_wrap.h"

namespace fastmlp::binding {
namespace {

struct BatchEvent {
  index_t batch;
  index_t rows;
  double loss;
  double seconds;  // since the epoch started, measured on the worker (for samples/s)
};

// Runs on the main thread. The TypeScript caller's callback never throws (it
// catches and records its own errors), so an exception here can only come
// from a terminating environment, where there is nobody left to tell.
void deliver_batch(Napi::Env env, Napi::Function callback, BatchEvent* event) {
  std::unique_ptr<BatchEvent> owned(event);
  if (env == nullptr || callback == nullptr) return;
  try {
    callback.Call({Napi::Number::New(env, double(owned->batch)),
                   Napi::Number::New(env, double(owned->rows)),
                   Napi::Number::New(env, owned->loss),
                   Napi::Number::New(env, owned->seconds)});
  } catch (const Napi::Error&) {
  }
}

}  // namespace

template <typename T>
TrainEpochWorker<T>::TrainEpochWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap,
                                      Baton baton, Napi::Value on_batch, Napi::Value outputs)
    : Napi::AsyncWorker(env, "fastmlp.trainEpoch"),
      baton_(std::move(baton)),
      deferred_(Napi::Promise::Deferred::New(env)),
      self_(Napi::Persistent(self)),
      wrap_(wrap),
      cancel_(std::make_shared<std::atomic<bool>>(false)) {
  // If the environment goes away (a worker_thread terminated mid-epoch), stop
  // the epoch at the next batch instead of training to the end for nobody.
  cleanup_ = env.AddCleanupHook(&TrainEpochWorker::on_env_cleanup, cancel_.get());
  if (on_batch.IsFunction()) {
    progress_ = Napi::ThreadSafeFunction::New(env, on_batch.As<Napi::Function>(),
                                              "fastmlp.trainEpoch.progress", 0, 1);
    has_progress_ = true;
  }
  if (baton_.has_outputs) outputs_ = Napi::Persistent(outputs.As<Napi::TypedArray>());
  wrap_->set_busy(true, cancel_);
}

template <typename T>
TrainEpochWorker<T>::~TrainEpochWorker() {
  release_progress();
}

template <typename T>
void TrainEpochWorker<T>::release_progress() {
  if (has_progress_) {
    has_progress_ = false;
    progress_.Release();
  }
}

template <typename T>
void TrainEpochWorker<T>::on_env_cleanup(std::atomic<bool>* cancel) {
  cancel->store(true);
}

template <typename T>
void TrainEpochWorker<T>::Execute() {
  try {
    const Baton& b = baton_;
    BatchObserver observer;
    const auto started = std::chrono::steady_clock::now();
    if (has_progress_) {
      observer = [this, started](index_t batch, index_t rows, double loss) {
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
        auto* event = new BatchEvent{batch, rows, loss, elapsed.count()};
        if (progress_.NonBlockingCall(event, deliver_batch) != napi_ok) delete event;
      };
    }
    result_ = b.net->train_epoch(b.x.data(), b.rows, b.y_idx.empty() ? nullptr : b.y_idx.data(),
                                 b.y.empty() ? nullptr : b.y.data(), b.batch,
                                 b.has_order ? b.order.data() : nullptr, cancel_.get(),
                                 has_progress_ ? &observer : nullptr,
                                 b.has_outputs ? baton_.outputs.data() : nullptr);
  } catch (...) {
    failure_ = std::current_exception();
  }
  // Every event is queued by now; releasing lets the function finalise once
  // the queue drains.
  release_progress();
}

template <typename T>
void TrainEpochWorker<T>::finish() {
  cleanup_.Remove(Env());
  wrap_->set_busy(false, nullptr);
  wrap_->sync_external_memory(Env());  // the epoch may have grown its gather buffers
}

template <typename T>
void TrainEpochWorker<T>::OnOK() {
  Napi::Env env = Env();
  finish();
  if (failure_) {
    try {
      std::rethrow_exception(failure_);
    } catch (...) {
      deferred_.Reject(error_from_current_exception(env).Value());
    }
    return;
  }
  if (baton_.has_outputs) {
    // Still the array that was checked when the epoch started? JS may have
    // transferred (detached) or shrunk its buffer while the worker ran.
    Napi::TypedArray target = outputs_.Value();
    const std::size_t n = baton_.outputs.size();
    if (target.ElementLength() != n || target.ArrayBuffer().IsDetached()) {
      Napi::Error e = Napi::RangeError::New(
          env, "Expected outputs to keep its " + std::to_string(n) +
                   " elements until trainEpoch settled but its buffer was transferred or resized "
                   "during the epoch (the epoch trained; its outputs were dropped)");
      e.Set("code", Napi::String::New(env, kCodeInvalidArgument));
      deferred_.Reject(e.Value());
      return;
    }
    std::memcpy(target.As<Napi::TypedArrayOf<T>>().Data(), baton_.outputs.data(), n * sizeof(T));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, result_.mean_loss));
  out.Set("batches", Napi::Number::New(env, double(result_.batches)));
  out.Set("badBatch", Napi::Number::New(env, double(result_.bad_batch)));
  out.Set("cancelled", Napi::Boolean::New(env, result_.cancelled));
  deferred_.Resolve(out);
}

template <typename T>
void TrainEpochWorker<T>::OnError(const Napi::Error& e) {
  finish();
  deferred_.Reject(e.Value());
}

template class TrainEpochWorker<float>;
template class TrainEpochWorker<double>;

}  // namespace fastmlp::binding
