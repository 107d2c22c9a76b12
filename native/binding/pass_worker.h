// Runs one training pass of a Network on a libuv worker thread, for a batch
// whose loss is computed in TypeScript (a custom loss): forwardTrainAsync (the
// forward pass, activations kept for backward) and backwardStepAsync (the
// backward pass from the loss gradient, then the optimizer step when the
// batch's loss plus the L1/L2 penalty is finite). The same arithmetic as
// forwardTrain, backward and step on the main thread, so the same bits; the
// event loop runs meanwhile. Baton rules as predict_worker.h: the input is
// copied on the main thread, Execute touches only the baton, the output is
// copied into the caller's typed array (kept alive by a reference) in OnOK.
//
// dispose() while a pass runs: the baton holds a share of the core Network;
// the promise rejects with ERR_FASTMLP_DISPOSED once the pass returns. A pass
// is one batch, so it does not probe for a terminating environment.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "plan_worker.h"

namespace fastmlp::binding {

enum class TrainingPass { Forward, BackwardStep };

template <typename T>
class PassWorker : public PlanWorker {
 public:
  struct Baton {
    std::shared_ptr<Network<T>> net;
    TrainingPass pass = TrainingPass::Forward;
    std::vector<T> in;   // forward: x (rows × in); backward: dout (rows × out)
    std::vector<T> out;  // forward: the outputs (rows × out), written by the worker
    index_t rows = 0;
    double loss = 0;     // backward: the batch's loss from TypeScript
    double total = 0;    // backward: loss + penalty, written by the worker
  };

  // out: forward's destination typed array (checked by the caller), else undefined.
  PassWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap, Baton baton, Napi::Value out);

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  Baton baton_;
  Napi::Reference<Napi::TypedArray> out_;
};

}  // namespace fastmlp::binding
