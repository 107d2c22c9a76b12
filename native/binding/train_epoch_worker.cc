#include "train_epoch_worker.h"

#include "network_wrap.h"

namespace fastmlp::binding {

template <typename T>
TrainEpochWorker<T>::TrainEpochWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap,
                                      Baton baton)
    : Napi::AsyncWorker(env, "fastmlp.trainEpoch"),
      baton_(std::move(baton)),
      deferred_(Napi::Promise::Deferred::New(env)),
      self_(Napi::Persistent(self)),
      wrap_(wrap),
      cancel_(std::make_shared<std::atomic<bool>>(false)) {
  // If the environment goes away (a worker_thread terminated mid-epoch), stop
  // the epoch at the next batch instead of training to the end for nobody.
  cleanup_ = env.AddCleanupHook(&TrainEpochWorker::on_env_cleanup, cancel_.get());
  wrap_->set_busy(true);
}

template <typename T>
void TrainEpochWorker<T>::on_env_cleanup(std::atomic<bool>* cancel) {
  cancel->store(true);
}

template <typename T>
void TrainEpochWorker<T>::Execute() {
  try {
    const Baton& b = baton_;
    result_ = b.net->train_epoch(b.x.data(), b.rows, b.y_idx.empty() ? nullptr : b.y_idx.data(),
                                 b.y.empty() ? nullptr : b.y.data(), b.batch,
                                 b.has_order ? b.order.data() : nullptr, cancel_.get());
  } catch (...) {
    failure_ = std::current_exception();
  }
}

template <typename T>
void TrainEpochWorker<T>::finish() {
  cleanup_.Remove(Env());
  wrap_->set_busy(false);
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
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, result_.mean_loss));
  out.Set("batches", Napi::Number::New(env, double(result_.batches)));
  out.Set("badBatch", Napi::Number::New(env, double(result_.bad_batch)));
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
