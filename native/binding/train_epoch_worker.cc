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
  std::shared_ptr<ProgressGate> gate;  // told when this event leaves the pipeline
};

// Runs on the main thread, or with a null env when the function is finalised
// with events still queued. The TypeScript caller's callback never throws (it
// catches and records its own errors), so an exception here can only come
// from a terminating environment: nobody is left to tell, so the epoch stops.
// Either way the event's slot in the gate is freed, so a worker waiting for
// room always wakes.
void deliver_batch(Napi::Env env, Napi::Function callback, BatchEvent* event) {
  std::unique_ptr<BatchEvent> owned(event);
  if (env == nullptr || callback == nullptr) {
    owned->gate->cancel();
  } else {
    try {
      callback.Call({Napi::Number::New(env, double(owned->batch)),
                     Napi::Number::New(env, double(owned->rows)),
                     Napi::Number::New(env, owned->loss),
                     Napi::Number::New(env, owned->seconds)});
    } catch (const Napi::Error&) {
      owned->gate->cancel();
    }
  }
  owned->gate->release();
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
    gate_ = std::make_shared<ProgressGate>(cancel_);
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

// Worker thread, after each batch: waits for room (ProgressGate), then posts.
// The TSFN's own queue stays unbounded (max_queue_size 0): the gate is the
// bound, and a NonBlockingCall never waits inside Node where only JS could
// wake it.
template <typename T>
void TrainEpochWorker<T>::post_batch(index_t batch, index_t rows, double loss, double seconds) {
  if (!has_progress_) return;  // the environment went away earlier in this epoch
  gate_->acquire();
  auto* event = new BatchEvent{batch, rows, loss, seconds, gate_};
  const napi_status status = progress_.NonBlockingCall(event, deliver_batch);
  if (status == napi_ok) return;
  delete event;
  gate_->release();
  gate_->cancel();  // nobody will see later batches either
  // napi_closing released this thread's hold already; the function may be gone.
  if (status == napi_closing) has_progress_ = false;
}

template <typename T>
void TrainEpochWorker<T>::Execute() {
  try {
    const Baton& b = baton_;
    BatchObserver observer;
    const auto started = std::chrono::steady_clock::now();
    if (has_progress_) {
      observer = [this, started](index_t batch, index_t rows, double loss) {
        // Measured before any wait for room: the batch's own end.
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
        post_batch(batch, rows, loss, elapsed.count());
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
  // Every event is queued by now (at most ProgressGate::kCapacity of them);
  // releasing lets the function finalise once the queue drains.
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
  // Only when set: results compared whole keep their four fields otherwise.
  if (result_.bad_statistics) out.Set("badStatistics", Napi::Boolean::New(env, true));
  deferred_.Resolve(out);
}

template class TrainEpochWorker<float>;
template class TrainEpochWorker<double>;

}  // namespace fastmlp::binding
