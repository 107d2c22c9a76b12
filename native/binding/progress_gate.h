// Backpressure for an epoch's per-batch events (TrainEpochWorker): bounds how
// far the worker thread may train ahead of the JS onBatch callback.
//
// Each completed batch posts one event to JS through a thread-safe function
// (TSFN). Without a bound, a callback slower than a batch (a 5 ms onBatch on a
// 1 ms batch) lets the TSFN's queue and memory grow with the epoch, and the
// callback ends up an epoch behind. The gate counts events in flight — posted,
// their callback not yet returned, or, when it returned a promise, that
// promise not yet settled (train_epoch_worker.cc, HeldSlot: an async observer
// is held back like a slow synchronous one) — and the worker, before posting, waits
// once kCapacity of them are (until they are all delivered, see acquire()). So when JS is called for batch b, the worker
// has completed at most batches b … b + kCapacity and has not started
// b + kCapacity + 1: a lag of at most kCapacity batches, and a slow callback
// slows training instead of queueing without end. Every event still reaches
// JS, in order (the TSFN is FIFO and nothing is dropped to make room).
//
// Why a counter of our own and not the TSFN's max_queue_size + BlockingCall:
// a BlockingCall can only be woken by the JS thread draining the queue or by
// the TSFN closing. On process.exit() the main thread runs neither: it joins
// libuv's thread pool (uv_library_shutdown), so a worker blocked in the TSFN
// would hold the exit forever. Here the wait also ends when the epoch's
// cancel flag rises — cancelEpoch (AbortSignal), dispose(), the environment's
// cleanup hook (PlanWorker), lib/engines/native.ts on process 'exit', or a
// delivery that found JS gone — polled every kCancelPoll, since those setters
// live on the JS side of the binding and know nothing of this gate. After a
// cancellation the core stops before its next batch, so the at most one
// event posted without waiting adds no batch to the lag.
//
// kCapacity = 16: large enough that a callback faster than a batch seldom
// stalls the worker on the event loop's wake-up latency (the TSFN hands JS the
// queued events in one loop turn; 16 batches of the digits net, ~70 µs each,
// outlast a wake-up of tens of µs), small enough that the lag stays "a few
// batches" and the queue a few hundred bytes. Measured with a trivial onBatch
// (bench/fit-backpressure.mjs, README "Backpressure"): no change above the
// noise on the digits and 784-512-256-10 nets; on ~3 µs batches (64-16-10,
// batch 4), where the worker outruns JS's per-event cost, −13 % at 16 and
// −5 % at 64: a bound costs there what the unbounded queue hid in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>

namespace fastmlp::binding {

class ProgressGate {
 public:
  static constexpr std::size_t kCapacity = 16;
  static constexpr std::chrono::milliseconds kCancelPoll{2};
  // Rare enough to cost nothing (one no-op call on the event loop per 50 ms
  // of waiting), short next to a worker_thread's termination.
  static constexpr std::chrono::milliseconds kProbeEvery{50};

  explicit ProgressGate(std::shared_ptr<std::atomic<bool>> cancel) : cancel_(std::move(cancel)) {}

  // Worker thread, before posting an event. When kCapacity events are in
  // flight it waits for all of them to be delivered (or the epoch to be
  // cancelled), not just for one slot: Node's TSFN dispatcher keeps calling
  // JS in the same event-loop turn while its queue is non-empty (up to 1000
  // calls, src/node_api.cc since nodejs/node#38506), so a worker refilling one
  // slot at a time behind a slow callback would starve timers and I/O for
  // 1000 callbacks (4 s behind a 4 ms onBatch). Letting the queue run dry
  // usually ends the turn after about kCapacity events instead (not always:
  // the dispatcher also goes on when the worker posts before it has seen the
  // empty queue), and wakes the worker once per kCapacity deliveries rather
  // than once per delivery.
  //
  // probe() is called (without the lock) after every kProbeEvery of waiting.
  // An event held by an unsettled promise (an async observer) is freed only by
  // JS, and when a worker_thread is terminated nothing JS-side runs before
  // Node waits for this thread to finish (Environment::CleanupHandles runs
  // the loop until thread-pool work is done, before any cleanup hook): the
  // caller's probe posts a no-op through the environment's probe function (env_probe.h), whose delivery during that
  // loop finds JS gone and cancels, as a queued event's delivery does.
  template <typename Probe>
  void acquire(Probe&& probe) {
    std::unique_lock<std::mutex> lock(m_);
    if (in_flight_ >= kCapacity) {
      waiting_ = true;
      auto next_probe = std::chrono::steady_clock::now() + kProbeEvery;
      while (in_flight_ > 0 && !cancelled()) {
        room_.wait_for(lock, kCancelPoll);
        if (in_flight_ > 0 && !cancelled() && std::chrono::steady_clock::now() >= next_probe) {
          lock.unlock();
          probe();
          lock.lock();
          next_probe = std::chrono::steady_clock::now() + kProbeEvery;
        }
      }
      waiting_ = false;
    }
    ++in_flight_;
  }

  // Any thread: an event left the pipeline (its callback returned, or the
  // promise it returned settled; it was dropped, or it could not be posted).
  void release() {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(m_);
      // Never below zero: a Promise subclass whose then() calls back twice
      // (train_epoch_worker.cc shares its callbacks between events) loosens
      // the bound by a slot instead of wrapping the count and stalling the
      // worker until the epoch is cancelled.
      if (in_flight_ > 0) --in_flight_;
      wake = waiting_ && in_flight_ == 0;
    }
    if (wake) room_.notify_one();
  }

  // JS can no longer be called (the environment is going away): stop the
  // epoch, which also ends any wait for room.
  void cancel() { cancel_->store(true, std::memory_order_relaxed); }

 private:
  bool cancelled() const { return cancel_->load(std::memory_order_relaxed); }

  std::shared_ptr<std::atomic<bool>> cancel_;
  std::mutex m_;
  std::condition_variable room_;
  std::size_t in_flight_ = 0;
  bool waiting_ = false;  // the worker waits in acquire()
};

}  // namespace fastmlp::binding
