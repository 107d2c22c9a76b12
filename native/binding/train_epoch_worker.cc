#include "train_epoch_worker.h"

#include <chrono>

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
    : PlanWorker(env, "fastmlp.trainEpoch", self, wrap), baton_(std::move(baton)) {
  if (on_batch.IsFunction()) {
    progress_ = Napi::ThreadSafeFunction::New(env, on_batch.As<Napi::Function>(),
                                              "fastmlp.trainEpoch.progress", 0, 1);
    has_progress_ = true;
  }
  if (baton_.has_outputs) outputs_ = Napi::Persistent(outputs.As<Napi::TypedArray>());
  mark_busy(NetworkWrap::BusyWith::Epoch);
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
    const EpochData<T>& d = *b.data;
    result_ = b.net->train_epoch(d.x, b.rows, d.y == nullptr ? d.y_idx.data() : nullptr, d.y, b.batch,
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
  PlanWorker::finish();
  wrap_->sync_external_memory(Env());  // the epoch may have grown its gather buffers
}

template <typename T>
void TrainEpochWorker<T>::OnOK() {
  Napi::Env env = Env();
  finish();
  if (reject_failure()) return;
  if (baton_.has_outputs &&
      !copy_back(outputs_, baton_.outputs, "outputs", "trainEpoch",
                 " during the epoch (the epoch trained; its outputs were dropped)"))
    return;
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, result_.mean_loss));
  out.Set("batches", Napi::Number::New(env, double(result_.batches)));
  out.Set("badBatch", Napi::Number::New(env, double(result_.bad_batch)));
  out.Set("cancelled", Napi::Boolean::New(env, result_.cancelled));
  deferred_.Resolve(out);
}

template class TrainEpochWorker<float>;
template class TrainEpochWorker<double>;

}  // namespace fastmlp::binding
