// What the two asynchronous plan calls share (TrainEpochWorker: trainEpoch,
// PredictWorker: predictAsync), per STYLE.md §5: a Napi::AsyncWorker that
// marks its NetworkWrap busy for as long as it runs (mark_busy … finish), keeps the JS object
// alive, owns the promise, and raises a cancel flag when the environment
// goes away (a worker_thread terminated or exiting mid-call) so Execute can
// stop early: Execute calls probe_.probe_if_due() between batches or chunks
// (env_probe.h). An environment cleanup hook cannot do this: Node runs them
// only after the thread pool's jobs, Execute included, have returned.
// Subclasses own their baton; Execute touches only it and records a C++
// exception in failure_; OnOK runs finish() first, then settles.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "env_probe.h"
#include "errors.h"
#include "network_wrap.h"

namespace fastmlp::binding {

class PlanWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  PlanWorker(Napi::Env env, const char* name, Napi::Object self, NetworkWrap* wrap)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        self_(Napi::Persistent(self)),
        wrap_(wrap),
        cancel_(std::make_shared<std::atomic<bool>>(false)),
        probe_(env, cancel_) {}

  // The last step of a subclass's constructor, once nothing can throw: the
  // network refuses other calls until finish().
  void mark_busy(NetworkWrap::BusyWith what) { wrap_->set_busy(true, cancel_, what); }

  // On the main thread, before the promise settles: the network is idle again.
  virtual void finish() {
    wrap_->set_busy(false, nullptr, NetworkWrap::BusyWith::Nothing);
  }

  void OnError(const Napi::Error& e) override {
    finish();
    deferred_.Reject(e.Value());
  }

  // Rejects with the exception Execute recorded; false when there was none.
  bool reject_failure() {
    if (!failure_) return false;
    try {
      std::rethrow_exception(failure_);
    } catch (...) {
      deferred_.Reject(error_from_current_exception(Env()).Value());
    }
    return true;
  }

  // Copies the worker's result into the caller's typed array, which a
  // reference kept alive: only if it is still attached and of the result's
  // length (JS may have transferred or resized its buffer while the worker
  // ran, and the worker never writes into memory JS could detach). Otherwise
  // rejects with a RangeError, "Expected <name> to keep its n elements until
  // <call> settled but its buffer was transferred or resized<tail>", and
  // returns false.
  template <typename T>
  bool copy_back(Napi::Reference<Napi::TypedArray>& target_ref, const std::vector<T>& from,
                 const char* name, const char* call, const char* tail = "") {
    Napi::Env env = Env();
    Napi::TypedArray target = target_ref.Value();
    const std::size_t n = from.size();
    if (target.ElementLength() != n || target.ArrayBuffer().IsDetached()) {
      Napi::Error e = Napi::RangeError::New(
          env, std::string("Expected ") + name + " to keep its " + std::to_string(n) +
                   " elements until " + call +
                   " settled but its buffer was transferred or resized" + tail);
      e.Set("code", Napi::String::New(env, kCodeInvalidArgument));
      deferred_.Reject(e.Value());
      return false;
    }
    if (n > 0) std::memcpy(target.As<Napi::TypedArrayOf<T>>().Data(), from.data(), n * sizeof(T));
    return true;
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;  // keeps the JS object (and so `wrap_`) alive
  NetworkWrap* wrap_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::exception_ptr failure_;
  EnvProbe probe_;  // Execute: probe_if_due() between batches, release() at its end
};

}  // namespace fastmlp::binding
