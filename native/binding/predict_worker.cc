#include "predict_worker.h"

#include <algorithm>

#include "errors.h"
#include "network_wrap.h"

namespace fastmlp::binding {

template <typename T>
PredictWorker<T>::PredictWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap, Baton baton,
                                Napi::Value out)
    : PlanWorker(env, "fastmlp.predictAsync", self, wrap), baton_(std::move(baton)) {
  // (Node 20 drains pending thread-pool work before it runs cleanup hooks, so
  // a worker_thread's terminate() would wait for the whole call: Execute
  // probes the environment between chunks instead, env_probe.h.)
  out_ = Napi::Persistent(out.As<Napi::TypedArray>());
  mark_busy(NetworkWrap::BusyWith::Predict);
}

template <typename T>
void PredictWorker<T>::Execute() {
  try {
    const index_t in = baton_.net->input_size();
    const index_t out = baton_.net->output_size();
    bool stopped = false;
    for (index_t r0 = 0; r0 < baton_.rows; r0 += baton_.chunk) {
      probe_.probe_if_due();
      stopped = cancel_->load();
      if (stopped) break;
      const index_t n = std::min(baton_.chunk, baton_.rows - r0);
      baton_.net->predict(baton_.x.data() + r0 * in, n, baton_.out.data() + r0 * out);
    }
    completed_ = !stopped;
  } catch (...) {
    failure_ = std::current_exception();
  }
  probe_.release();
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
  wrap_->sync_external_memory(env);  // a predict may have built the weight cache (its second pass with the same weights)
  if (reject_failure()) return;
  if (copy_back(out_, baton_.out, "out", "predictAsync")) deferred_.Resolve(env.Undefined());
}

template class PredictWorker<float>;
template class PredictWorker<double>;

}  // namespace fastmlp::binding
