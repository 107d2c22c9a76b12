// One training pass on a worker thread (pass_worker.h).
#include "pass_worker.h"

#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"

namespace fastmlp::binding {

template <typename T>
PassWorker<T>::PassWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap, Baton baton, Napi::Value out)
    : PlanWorker(env, baton.pass == TrainingPass::Forward ? "fastmlp.forwardTrainAsync" : "fastmlp.backwardStepAsync",
                 self, wrap),
      baton_(std::move(baton)) {
  if (baton_.pass == TrainingPass::Forward) out_ = Napi::Persistent(out.As<Napi::TypedArray>());
  mark_busy(NetworkWrap::BusyWith::Pass);
}

template <typename T>
void PassWorker<T>::Execute() {
  try {
    Network<T>& net = *baton_.net;
    if (baton_.pass == TrainingPass::Forward) {
      const T* y = net.forward_train(baton_.in.data(), baton_.rows);
      std::memcpy(baton_.out.data(), y, sizeof(T) * baton_.out.size());
    } else {
      net.backward(baton_.in.data(), baton_.rows, nullptr);
      // As training.ts does after a synchronous backward: the penalty joins
      // the loss, and a step only for a finite sum (step() itself refuses
      // gradients that are not all finite).
      baton_.total = baton_.loss + net.penalty();
      if (std::isfinite(baton_.total)) net.step();
    }
  } catch (...) {
    failure_ = std::current_exception();
  }
  probe_.release();  // one pass, no probe (pass_worker.h); let go of the environment's function here, as the other workers do
}

template <typename T>
void PassWorker<T>::OnOK() {
  Napi::Env env = Env();
  finish();
  const bool forward = baton_.pass == TrainingPass::Forward;
  if (wrap_->disposed()) {
    Napi::Error e = Napi::Error::New(env, std::string(forward ? "forwardTrainAsync" : "backwardStepAsync") +
                                              " was cancelled: the network was disposed (dispose() freed its memory)");
    e.Set("code", Napi::String::New(env, kCodeDisposed));
    deferred_.Reject(e.Value());
    return;
  }
  wrap_->sync_external_memory(env);  // training: predict's weight cache was freed
  if (reject_failure()) return;
  if (forward) {
    if (!copy_back(out_, baton_.out, "out", "forwardTrainAsync")) return;
    wrap_->set_last_forward_rows(baton_.rows);
    deferred_.Resolve(env.Undefined());
  } else {
    deferred_.Resolve(Napi::Number::New(env, baton_.total));
  }
}

template class PassWorker<float>;
template class PassWorker<double>;

}  // namespace fastmlp::binding
