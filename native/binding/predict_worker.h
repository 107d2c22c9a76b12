// Runs Network::predict on a libuv worker thread for the plan's predictAsync
// (STYLE.md §5, the same baton rules as train_epoch_worker.h): the input is
// copied into the baton on the main thread, Execute touches only the baton,
// and the promise settles on the main thread.
//
// Buffers: x is copied (the caller may transfer, resize or rewrite it as soon
// as the call returns); the worker writes into the baton's own output vector,
// and OnOK copies it into the caller's typed array — kept alive by a reference
// — after checking it is still attached and of its length. The worker never
// writes into memory JS could detach meanwhile.
//
// Chunks: rows go through predict `chunk` rows at a time (a multiple of the
// network's max_batch, so the forward passes are exactly predict's and the
// output equals it bit for bit); between chunks the worker checks the cancel
// flag that dispose() (or a terminating environment) sets.
//
// dispose() while the worker runs: the baton holds a share of the core
// Network, so nothing it reads is freed under it; it stops at its next chunk
// and the promise rejects with ERR_FASTMLP_DISPOSED (also when it had already
// finished: a call that overlapped dispose() never resolves).
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "../core/network.h"
#include "plan_worker.h"

namespace fastmlp::binding {

template <typename T>
class PredictWorker : public PlanWorker {
 public:
  struct Baton {
    std::shared_ptr<Network<T>> net;
    std::vector<T> x;    // rows × in, the caller's input copied
    std::vector<T> out;  // rows × out, written by the worker
    index_t rows = 0;
    index_t chunk = 0;   // rows per predict call
  };

  // out: the caller's typed array that baton.out is copied into (checked by
  // the caller for dtype and length).
  PredictWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap, Baton baton, Napi::Value out);

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  Baton baton_;
  Napi::Reference<Napi::TypedArray> out_;  // alive until OnOK copies into it
  bool completed_ = false;  // every chunk ran (not stopped by the cancel flag)
};

}  // namespace fastmlp::binding
