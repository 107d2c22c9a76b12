#include "train_epoch_worker.h"

#include <chrono>
#include <memory>
#include <utility>

#include "network_wrap.h"

namespace fastmlp::binding {

// The then() callbacks for an onBatch that returned a native Promise: one pair
// per epoch, created with the TSFN on the main thread, shared by the events. A
// pair per event (two functions, two finalizers per batch) cost 29 % of the
// samples/s with a trivial async observer on 64-16-10 batch 4 and 11 % on
// digits batch 32; shared, ~1-2 % (bench/fit-backpressure.mjs OBSERVER=async,
// README "Backpressure"). A Promise calls one
// of them once per then(), so each call frees one slot; which event's does not
// matter to a counter. Each function holds its own share of the gate, so a
// promise settling after the epoch frees nothing freed.
struct SettleCallbacks {
  Napi::FunctionReference fulfilled;
  Napi::FunctionReference rejected;  // a rejection stops the epoch, as a throw does
};

namespace {

struct BatchEvent {
  index_t batch;
  index_t rows;
  double loss;
  double seconds;  // since the epoch started, measured on the worker (for samples/s)
  std::shared_ptr<ProgressGate> gate;  // told when this event leaves the pipeline
  // Shared with the worker, which outlives every event it posts and is
  // deleted on the main thread: the references are never freed elsewhere.
  std::shared_ptr<const SettleCallbacks> settle;
};

// An event whose callback returned a promise (or any thenable): its slot in
// the gate stays taken until the promise settles, so an asynchronous observer
// holds the worker back exactly as a slow synchronous one does. Without this
// the callback "returns" at once, the gate counts the event delivered, and a
// slow async observer (5 ms per 1 ms batch) lets the caller's pending work
// grow with the epoch. The TypeScript side (lib/engines/native.ts) calls the
// next onBatch only when the previous promise settled, so slots are freed in
// order and the ProgressGate bound (kCapacity batches of lag) holds for the
// observer's own calls. A rejection stops the epoch like a throw; the reason
// is the caller's to report (native.ts records it). A promise that never
// settles keeps its slot: the worker then waits only until the epoch is
// cancelled (abort, dispose, process exit, environment teardown), as the
// gate's wait always ends on cancel.
class HeldSlot {
 public:
  explicit HeldSlot(std::shared_ptr<ProgressGate> gate) : gate_(std::move(gate)) {}
  // Main thread only (promise reactions). Once: a thenable may call both of
  // its callbacks, or one twice.
  void free(bool stop_epoch) {
    if (freed_) return;
    freed_ = true;
    if (stop_epoch) gate_->cancel();
    gate_->release();
  }

 private:
  std::shared_ptr<ProgressGate> gate_;
  bool freed_ = false;
};

// True when result is a thenable, whose settling now frees the event's slot.
// A then() that throws counts as a rejection. (Reading `then` may throw too:
// the caller handles that as a throwing callback.) Native Promises — what
// lib/engines/native.ts returns — take the epoch's shared callbacks; other
// thenables, which may call back twice, a guarded pair of their own.
bool hold_until_settled(Napi::Env env, Napi::Value result, const BatchEvent& event) {
  if (!result.IsObject() && !result.IsFunction()) return false;
  Napi::Value then = result.As<Napi::Object>().Get("then");
  if (!then.IsFunction()) return false;
  if (result.IsPromise()) {
    try {
      then.As<Napi::Function>().Call(result, {event.settle->fulfilled.Value(), event.settle->rejected.Value()});
      return true;
    } catch (const Napi::Error&) {
      // A patched Promise.prototype.then that threw: free the slot below, as for a throw.
      event.gate->cancel();
      return false;
    }
  }
  auto slot = std::make_shared<HeldSlot>(event.gate);
  try {
    then.As<Napi::Function>().Call(
        result, {Napi::Function::New(env, [slot](const Napi::CallbackInfo&) { slot->free(false); }),
                 Napi::Function::New(env, [slot](const Napi::CallbackInfo&) { slot->free(true); })});
  } catch (const Napi::Error&) {
    slot->free(true);
  }
  return true;
}

// Runs on the main thread, or with a null env when the function is finalised
// with events still queued. The TypeScript caller's callback never throws (it
// catches and records its own errors), so an exception here can only come
// from a terminating environment: nobody is left to tell, so the epoch stops.
// Either way the event's slot in the gate is freed — now, or when the promise
// the callback returned settles — so a worker waiting for room wakes.
void deliver_batch(Napi::Env env, Napi::Function callback, BatchEvent* event) {
  std::unique_ptr<BatchEvent> owned(event);
  if (env == nullptr || callback == nullptr) {
    owned->gate->cancel();
  } else {
    try {
      Napi::Value result = callback.Call({Napi::Number::New(env, double(owned->batch)),
                                          Napi::Number::New(env, double(owned->rows)),
                                          Napi::Number::New(env, owned->loss),
                                          Napi::Number::New(env, owned->seconds)});
      if (hold_until_settled(env, result, *owned)) return;
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
    auto settle = std::make_shared<SettleCallbacks>();
    settle->fulfilled = Napi::Persistent(
        Napi::Function::New(env, [gate = gate_](const Napi::CallbackInfo&) { gate->release(); }));
    settle->rejected = Napi::Persistent(Napi::Function::New(env, [gate = gate_](const Napi::CallbackInfo&) {
      gate->cancel();
      gate->release();
    }));
    settle_ = std::move(settle);
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
  // While waiting for room: see ProgressGate::acquire.
  gate_->acquire([this] { probe_.probe_now(); });
  auto* event = new BatchEvent{batch, rows, loss, seconds, gate_, settle_};
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
    // Every batch: probe the environment now and then (env_probe.h; with or
    // without onBatch), then post the batch's event when JS asked for them.
    observer = [this, started](index_t batch, index_t rows, double loss) {
      probe_.probe_if_due();
      if (!has_progress_) return;
      // Measured before any wait for room: the batch's own end.
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
      post_batch(batch, rows, loss, elapsed.count());
    };
    const EpochData<T>& d = *b.data;
    result_ = b.net->train_epoch(d.x, b.rows, d.y == nullptr ? d.y_idx.data() : nullptr, d.y, b.batch,
                                 b.has_order ? b.order.data() : nullptr, cancel_.get(),
                                 &observer,
                                 b.has_outputs ? baton_.outputs.data() : nullptr);
  } catch (...) {
    failure_ = std::current_exception();
  }
  // Every event is queued by now (at most ProgressGate::kCapacity of them);
  // releasing lets the function finalise once the queue drains.
  release_progress();
  probe_.release();
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
  if (result_.bad_update) out.Set("badUpdate", Napi::Boolean::New(env, true));
  deferred_.Resolve(out);
}

template class TrainEpochWorker<float>;
template class TrainEpochWorker<double>;

}  // namespace fastmlp::binding
