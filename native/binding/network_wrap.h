// JS class `Network`: owns one core Network<float|double> (shared with any
// epoch or predictAsync running on a worker thread, so neither GC nor env
// teardown can free it under the worker). While one runs the object is busy and
// every other method throws ERR_FASTMLP_BUSY instead of racing the worker. dispose() drops
// this object's share of the core Network: freed at once when idle, or by the
// epoch's worker when it finishes (its baton holds the other share); after it
// every method throws ERR_FASTMLP_DISPOSED.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "../core/network.h"
#include "args.h"

namespace fastmlp::binding {

enum class TrainingPass;  // pass_worker.h

class NetworkWrap : public Napi::ObjectWrap<NetworkWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NetworkWrap(const Napi::CallbackInfo& info);

  // While an epoch runs: busy, and the epoch's cancel flag for cancelEpoch().
  ~NetworkWrap() override;

  // Tells V8 how much native memory this network holds (napi_adjust_external_
  // memory), so dropped models are collected under memory pressure instead of
  // only when the JS heap fills up. Call when idle, after anything that may grow.
  void sync_external_memory(Napi::Env env);

  // What keeps the network busy: an epoch (trainEpoch), a predictAsync call or
  // one training pass (forwardTrainAsync, backwardStepAsync), for the refusal
  // message and so cancelEpoch() stops nothing but an epoch.
  enum class BusyWith { Nothing, Epoch, Predict, Pass };
  void set_busy(bool busy, std::shared_ptr<std::atomic<bool>> cancel, BusyWith what = BusyWith::Epoch) {
    busy_ = busy;
    busy_with_ = busy ? what : BusyWith::Nothing;
    epoch_cancel_ = std::move(cancel);
  }
  bool disposed() const { return disposed_; }
  // forwardTrainAsync's worker, when its pass is done: backward may follow.
  void set_last_forward_rows(index_t rows) { last_forward_rows_ = rows; }

 private:
  template <typename F> decltype(auto) visit(F&& f);
  void require_idle(Napi::Env env) const;   // also refuses a disposed network
  // What keeps a busy network busy, for the refusals' messages: "predicting
  // (predictAsync is running)" or "training (an epoch is running)".
  const char* busy_reason() const;
  void require_live(Napi::Env env) const;
  index_t in_size() const;
  index_t out_size() const;
  // The NetworkWrap behind v, or a TypeError naming `name` when v is anything
  // else: only objects this class constructed carry its type tag, so a look-alike
  // (Object.create(Network.prototype), another addon's wrapped object) is refused
  // before its native pointer is ever read.
  static NetworkWrap& unwrap_network(Napi::Env env, const Napi::Value& v, const char* name);
  // rows (integer ≥ 1) at argument i
  static index_t rows_arg(const Napi::CallbackInfo& info, std::size_t i);
  // Checks class indices (0 ≤ idx < outputs) before anything runs, so a bad one
  // fails the whole call up front instead of part-way through an epoch.
  void check_target(Napi::Env env, const TargetArg& t, index_t rows) const;
  // computeGradients (kStep false) and trainStep (true): one batch's loss.
  template <bool kStep> Napi::Value batch_loss(const Napi::CallbackInfo& info);

  Napi::Value GetDtype(const Napi::CallbackInfo& info);
  Napi::Value GetInputSize(const Napi::CallbackInfo& info);
  Napi::Value GetOutputSize(const Napi::CallbackInfo& info);
  Napi::Value GetParamCount(const Napi::CallbackInfo& info);
  Napi::Value GetMaxBatch(const Napi::CallbackInfo& info);
  Napi::Value GetStepCount(const Napi::CallbackInfo& info);
  Napi::Value GetOptimizerStateSize(const Napi::CallbackInfo& info);
  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value GetPenalty(const Napi::CallbackInfo& info);
  Napi::Value GetBufferCount(const Napi::CallbackInfo& info);
  Napi::Value GetTraining(const Napi::CallbackInfo& info);

  Napi::Value Reserve(const Napi::CallbackInfo& info);
  Napi::Value SetLoss(const Napi::CallbackInfo& info);
  Napi::Value SetOptimizer(const Napi::CallbackInfo& info);
  Napi::Value ResetOptimizer(const Napi::CallbackInfo& info);
  Napi::Value GetParams(const Napi::CallbackInfo& info);
  Napi::Value SetParams(const Napi::CallbackInfo& info);
  Napi::Value GetGrads(const Napi::CallbackInfo& info);
  Napi::Value GetBuffers(const Napi::CallbackInfo& info);
  Napi::Value SetBuffers(const Napi::CallbackInfo& info);
  Napi::Value ReadParams(const Napi::CallbackInfo& info);
  Napi::Value WriteParams(const Napi::CallbackInfo& info);
  Napi::Value ReadOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value WriteOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value CopyStateFrom(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value SetSeed(const Napi::CallbackInfo& info);
  Napi::Value GetDropoutState(const Napi::CallbackInfo& info);
  Napi::Value SetDropoutState(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value ForwardTrain(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value ForwardTrainAsync(const Napi::CallbackInfo& info);
  Napi::Value BackwardStepAsync(const Napi::CallbackInfo& info);
  index_t backward_rows_arg(const Napi::CallbackInfo& info) const;
  Napi::Value queue_pass(Napi::Env env, TrainingPass pass, const FloatArg& in, index_t rows, double loss,
                         Napi::Value out);
  Napi::Value ComputeGradients(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value PredictAsync(const Napi::CallbackInfo& info);
  Napi::Value SetPredictCache(const Napi::CallbackInfo& info);
  Napi::Value GetPredictCacheBytes(const Napi::CallbackInfo& info);
  Napi::Value TrainEpoch(const Napi::CallbackInfo& info);
  Napi::Value CancelEpoch(const Napi::CallbackInfo& info);
  Napi::Value ReleaseEpochData(const Napi::CallbackInfo& info);
  void release_epoch_data();
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);

  Dtype dtype_ = Dtype::Float32;
  std::shared_ptr<Network<float>> f32_;
  std::shared_ptr<Network<double>> f64_;
  bool busy_ = false;
  BusyWith busy_with_ = BusyWith::Nothing;
  bool disposed_ = false;
  // Fixed at construction, so they stay readable after dispose().
  index_t in_ = 0, out_ = 0, param_count_ = 0;
  // What the other getters read from the core network, kept by dispose() (which
  // frees that network) so reading them afterwards returns the last values
  // instead of dereferencing a null pointer.
  struct Disposed {
    bool training = false;
    double penalty = 0;
    index_t buffer_count = 0, opt_state_size = 0;
  } at_dispose_;
  std::int64_t external_bytes_ = 0;  // reported to V8 so far
  std::shared_ptr<std::atomic<bool>> epoch_cancel_;  // set while an epoch or predictAsync runs
  index_t last_forward_rows_ = 0;  // rows of the last forwardTrain; backward must match
  // runEpoch's keepData: the last such epoch's EpochData<T> (type-erased; the
  // dtype is fixed), reused by the next keepData epoch over the same x and y
  // objects (weak references, compared by identity) and rows. Dropped by
  // releaseEpochData, dispose, or an epoch without keepData.
  std::shared_ptr<const void> kept_data_;
  Napi::ObjectReference kept_x_, kept_y_;
  index_t kept_rows_ = 0;
};

}  // namespace fastmlp::binding
