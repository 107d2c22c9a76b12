// Module initialisation only (the sharp src/sharp.cc pattern): each area of the
// binding registers its own functions. Context-aware through node-addon-api's
// NODE_API_MODULE, so the addon loads in several worker_threads at once.
#include <napi.h>

#include "data_block.h"
#include "env_probe.h"
#include "network_wrap.h"
#include "ops.h"
#include "progress_gate.h"
#include "temp_files.h"
#include "../core/version.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fastmlp::binding::install_env_probe(env);
  fastmlp::binding::init_ops(env, exports);
  fastmlp::binding::init_data_blocks(env, exports);
  fastmlp::binding::init_temp_files(env, exports);
  exports.Set("Network", fastmlp::binding::NetworkWrap::Define(env));
  exports.Set("version", Napi::String::New(env, FASTMLP_VERSION));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  // How far an epoch's worker may run ahead of onBatch (lib/engine.ts ON_BATCH_MAX_LAG).
  exports.Set("maxBatchLag", Napi::Number::New(env, double(fastmlp::binding::ProgressGate::kCapacity)));
  return exports;
}

}  // namespace

NODE_API_MODULE(fastmlp, Init)
