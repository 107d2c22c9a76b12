// Runs Network::train_epoch on a libuv worker thread (STYLE.md §5: a baton of
// owned data, converted from JS on the main thread; Execute touches only the
// baton; the promise is settled on the main thread).
//
// Progress: when JS passes an onBatch function, each completed batch is posted
// to it through a thread-safe function, at most ProgressGate::kCapacity events
// in flight: a callback slower than the batches makes the worker wait
// (backpressure, progress_gate.h) instead of queueing without bound. A callback
// that returns a promise keeps its event in flight until the promise settles
// (train_epoch_worker.cc, HeldSlot), so async observers get the same bound. Events may
// arrive after the promise settles; the TypeScript side waits until it has
// seen `batches` of them.
//
// The inputs are copied into the baton: the caller's ArrayBuffers could be
// transferred or resized by JS while the epoch runs, and a copy is ~1 % of the
// epoch's arithmetic (one pass over X versus six flops per weight per row) —
// but it holds the event loop, so keepData epochs over allocData's arrays
// (fit's private copies) share their addon-owned memory instead (EpochData).
//
// Recorded outputs (EpochHooks.outputs) take the same care the other way: the
// worker writes into the baton's copy, and OnOK — on the main thread, after a
// reference kept the caller's typed array alive for the whole epoch — copies
// it back once the array is checked to be still attached and of its length.
// A transferred ArrayBuffer could otherwise be freed by its new owner while
// the worker writes into it; the copy back is rows × outputs values, small
// next to the epoch.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "../core/network.h"
#include "plan_worker.h"
#include "progress_gate.h"

namespace fastmlp::binding {

// The x and y an epoch reads on the worker. Either a private copy made on the
// main thread (x_copy, y_copy), or — for arrays from allocData whose caller
// promised to keep them unchanged (keepData) — the addon-owned memory itself,
// with `owner` holding a share of it so it outlives any GC or detach of the JS
// buffer (native/binding/data_block.h): fit's data then crosses no second copy
// (on 60,000 × 784 float32 rows each copy held the event loop ~100 ms).
// Class indices are always copied (rows × 4 bytes): they were range-checked
// before the epoch, and JS must not be able to change one into an out-of-range
// index under the worker. Shared: with keepData the network keeps it for the
// next epochs over the same arrays.
template <typename T>
struct EpochData {
  const T* x = nullptr;         // x_copy.data() or addon-owned memory
  const T* y = nullptr;         // dense target: y_copy.data() or addon-owned memory; null with y_idx
  std::vector<std::int32_t> y_idx;
  std::vector<T> x_copy, y_copy;
  std::shared_ptr<const void> x_owner, y_owner;
};

struct SettleCallbacks;  // train_epoch_worker.cc: then() callbacks for async onBatch results

template <typename T>
class TrainEpochWorker : public PlanWorker {
 public:
  struct Baton {
    std::shared_ptr<Network<T>> net;
    std::shared_ptr<const EpochData<T>> data;
    std::vector<std::int32_t> order;
    bool has_order = false;
    index_t rows = 0;
    index_t batch = 0;
    std::vector<T> outputs;  // the recorded outputs (rows × out), when has_outputs
    bool has_outputs = false;
  };

  // on_batch: a JS function (batch, rows, loss, seconds) or an empty value for none.
  // outputs: the caller's typed array that baton.outputs is copied back into
  // (when baton.has_outputs; checked by the caller for dtype and length).
  TrainEpochWorker(Napi::Env env, Napi::Object self, NetworkWrap* wrap, Baton baton,
                   Napi::Value on_batch, Napi::Value outputs = Napi::Value());
  ~TrainEpochWorker() override;

 protected:
  void Execute() override;
  void OnOK() override;
  void finish() override;

 private:
  void release_progress();
  void post_batch(index_t batch, index_t rows, double loss, double seconds);

  Baton baton_;
  Napi::ThreadSafeFunction progress_;
  // False once released — or once a call returned napi_closing, which released
  // this thread's hold on it already (it must not be called or released again).
  bool has_progress_ = false;
  std::shared_ptr<ProgressGate> gate_;  // shared with the events in flight
  std::shared_ptr<const SettleCallbacks> settle_;  // with the events too; freed on the main thread
  Napi::Reference<Napi::TypedArray> outputs_;  // alive until OnOK copies into it
  EpochResult result_;
};

}  // namespace fastmlp::binding
