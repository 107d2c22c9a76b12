// Lets a job on libuv's thread pool (an epoch, a predictAsync) notice that the
// environment that queued it is going away, so it stops within a batch.
//
// Why a probe is needed at all: when a worker_thread is terminated (or calls
// process.exit()), no JavaScript runs any more, and Node's teardown first
// spins the thread's event loop until every queued thread-pool request has
// completed (Environment::CleanupHandles, which counts napi async work through
// its waiting-request counter) and only then runs cleanup hooks. So
// PlanWorker's cleanup hook fires after Execute has already returned: an
// epoch without per-batch events, or a predictAsync, ran to its end first
// (measured before this probe, Node 20: terminate() took 1.5 s behind a
// 200,000-row epoch, 0.55 s behind a predictAsync; with it, within ~50 ms).
//
// The one thing that does run during that wait is the loop itself, which
// delivers thread-safe-function calls. So a job posts a probe through one
// per-environment thread-safe function at most every kEvery of its work
// (between batches or chunks, at most one probe in flight); the delivery
// calls a no-op JS function, which fails once the environment can no longer
// run JS (or finds the function finalised), and then raises the job's cancel
// flag. While the environment is alive a probe costs one no-op call on the
// event loop per 50 ms of work.
//
// The function is created once per environment at module init (addon.cc) and
// unreferenced, so it never keeps a process alive and a job pays nothing to
// set it up. It is used only from Execute, which Node always lets finish
// before it finalises the function at teardown (the ordering above).
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <memory>

namespace fastmlp::binding {

// Module init, once per environment (main thread or worker_thread).
void install_env_probe(Napi::Env env);

class EnvProbe {
 public:
  static constexpr std::chrono::milliseconds kEvery{50};

  // Main thread, when the job is created: takes a hold on the environment's
  // function for the job's thread. cancel: the flag the job polls.
  EnvProbe(Napi::Env env, std::shared_ptr<std::atomic<bool>> cancel);
  ~EnvProbe();
  EnvProbe(const EnvProbe&) = delete;
  EnvProbe& operator=(const EnvProbe&) = delete;

  // Worker thread: probes when kEvery has passed since the last probe.
  void probe_if_due();
  // Worker thread: probes now (unless a probe is still in flight).
  void probe_now();
  // Worker thread, at the end of Execute (or the destructor): lets go of the
  // function. Idempotent; no probe after it.
  void release();

  // What a probe's delivery needs, shared with the probe in flight.
  struct State {
    std::shared_ptr<std::atomic<bool>> cancel;
    std::atomic<bool> in_flight{false};
  };

 private:
  Napi::ThreadSafeFunction fn_;
  bool held_ = false;
  std::shared_ptr<State> state_;
  std::chrono::steady_clock::time_point next_;
};

}  // namespace fastmlp::binding
