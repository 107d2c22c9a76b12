#include "predict_worker.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.h"
#include "network_wrap.h"

namespace fastmlp::binding {

template <typename T>
PredictWorker<T>::PredictWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap, Baton baton,
                                Napi::Value out)
    : Napi::AsyncWorker(env, "fastmlp.predictAsync"),
      baton_(std::move(baton)),
      deferred_(Napi::Promise::Deferred::New(env)),
      self_(Napi::Persistent(self)),
      wrap_(wrap),
      cancel_(std::make_shared<std::atomic<bool>>(false)) {
  // A worker_thread terminated mid-call: stop at the next chunk, nobody waits.
  // (Node 20 drains pending thread-pool work before it runs cleanup hooks, so
  // there terminate() waits for the call instead; measured, see the test.)
  cleanup_ = env.AddCleanupHook(&PredictWorker::on_env_cleanup, cancel_.get());
  out_ = Napi::Persistent(out.As<Napi::TypedArray>());
  wrap_->set_busy(true, cancel_, NetworkWrap::BusyWith::Predict);
}

template <typename T>
void PredictWorker<T>::on_env_cleanup(std::atomic<bool>* cancel) {
  cancel->store(true);
}

template <typename T>
void PredictWorker<T>::Execute() {
  try {
    const index_t in = baton_.net->input_size();
    const index_t out = baton_.net->output_size();
    for (index_t r0 = 0; r0 < baton_.rows; r0 += baton_.chunk) {
      if (cancel_->load()) return;
      const index_t n = std::min(baton_.chunk, baton_.rows - r0);
      baton_.net->predict(baton_.x.data() + r0 * in, n, baton_.out.data() + r0 * out);
    }
    completed_ = true;
  } catch (...) {
    failure_ = std::current_exception();
  }
}

template <typename T>
void PredictWorker<T>::finish() {
  cleanup_.Remove(Env());
  wrap_->set_busy(false, nullptr, NetworkWrap::BusyWith::Nothing);
}

template <typename T>
void PredictWorker<T>::OnOK() {
  Napi::Env env = Env();
  finish();
  if (wrap_->disposed()) {
    Napi::Error e = Napi::Error::New(
        env, "predictAsync was cancelled: the network was disposed (dispose() freed its memory) before it finished");
    e.Set("code", Napi::String::New(env, kCodeDisposed));
    deferred_.Reject(e.Value());
    return;
  }
  if (!failure_ && !completed_) {  // stopped early by a terminating environment
    Napi::Error e = Napi::Error::New(env, "predictAsync was cancelled before it finished");
    e.Set("code", Napi::String::New(env, kCodeDisposed));
    deferred_.Reject(e.Value());
    return;
  }
  if (failure_) {
    try {
      std::rethrow_exception(failure_);
    } catch (...) {
      deferred_.Reject(error_from_current_exception(env).Value());
    }
    return;
  }
  // Still the array that was checked at the call? JS may have transferred
  // (detached) or shrunk its buffer while the worker ran.
  Napi::TypedArray target = out_.Value();
  const std::size_t n = baton_.out.size();
  if (target.ElementLength() != n || target.ArrayBuffer().IsDetached()) {
    Napi::Error e = Napi::RangeError::New(
        env, "Expected out to keep its " + std::to_string(n) +
                 " elements until predictAsync settled but its buffer was transferred or resized");
    e.Set("code", Napi::String::New(env, kCodeInvalidArgument));
    deferred_.Reject(e.Value());
    return;
  }
  if (n > 0) std::memcpy(target.As<Napi::TypedArrayOf<T>>().Data(), baton_.out.data(), n * sizeof(T));
  deferred_.Resolve(env.Undefined());
}

template <typename T>
void PredictWorker<T>::OnError(const Napi::Error& e) {
  finish();
  deferred_.Reject(e.Value());
}

template class PredictWorker<float>;
template class PredictWorker<double>;

}  // namespace fastmlp::binding
