#include "env_probe.h"

#include <utility>

namespace fastmlp::binding {

namespace {

// The environment's instance data: its probe function.
struct EnvProbeData {
  Napi::ThreadSafeFunction fn;
};

// Main thread, or with a null env when the function is finalised with the
// probe still queued: cancels the job unless a no-op JS call succeeds.
void deliver_probe(Napi::Env env, Napi::Function noop, std::shared_ptr<EnvProbe::State>* probe) {
  std::unique_ptr<std::shared_ptr<EnvProbe::State>> owned(probe);
  EnvProbe::State& state = **owned;
  bool alive = false;
  if (env != nullptr && noop != nullptr) {
    try {
      noop.Call({});
      alive = true;
    } catch (const Napi::Error&) {
      // The environment cannot run JS any more (terminated or exiting).
    }
  }
  if (!alive) state.cancel->store(true);
  state.in_flight.store(false);
}

}  // namespace

void install_env_probe(Napi::Env env) {
  auto* data = new EnvProbeData();
  data->fn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                           "fastmlp.envProbe", 0, 1);
  data->fn.Unref(env);  // never keeps the process (or the worker_thread) alive
  // Deleted at teardown; the function itself is finalised by Node then.
  env.SetInstanceData<EnvProbeData>(data);
}

EnvProbe::EnvProbe(Napi::Env env, std::shared_ptr<std::atomic<bool>> cancel)
    : state_(std::make_shared<State>()), next_(std::chrono::steady_clock::now() + kEvery) {
  state_->cancel = std::move(cancel);
  auto* data = env.GetInstanceData<EnvProbeData>();
  if (data != nullptr && data->fn.Acquire() == napi_ok) {
    fn_ = data->fn;
    held_ = true;
  }
}

EnvProbe::~EnvProbe() { release(); }

void EnvProbe::probe_if_due() {
  if (!held_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return;
  next_ = now + kEvery;
  probe_now();
}

void EnvProbe::probe_now() {
  if (!held_ || state_->in_flight.exchange(true)) return;
  auto* probe = new std::shared_ptr<State>(state_);
  const napi_status status = fn_.NonBlockingCall(probe, deliver_probe);
  if (status == napi_ok) return;
  delete probe;
  state_->in_flight.store(false);
  // Closing: the environment is being torn down (and our hold was dropped).
  state_->cancel->store(true);
  if (status == napi_closing) held_ = false;
}

void EnvProbe::release() {
  if (!held_) return;
  held_ = false;
  fn_.Release();
}

}  // namespace fastmlp::binding
