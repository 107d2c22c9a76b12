#include "temp_files.h"

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>

#include "args.h"
#include "errors.h"

namespace fastmlp::binding {

namespace {

// One environment's tracked files. Only its own thread touches `paths`
// (JS calls and its cleanup hook); the map of registries is shared by every
// worker_thread that loaded the addon, hence the mutex.
struct Registry {
  napi_env env;
  std::unordered_map<std::uint32_t, std::string> paths;
  std::uint32_t next_id = 1;
};

// Never destroyed (allocated once, on purpose): a worker's teardown may run
// its hook while the process exits, after static destructors would have run.
std::mutex& registries_mutex = *new std::mutex();
std::unordered_map<napi_env, Registry*>& registries = *new std::unordered_map<napi_env, Registry*>();

// The environment's cleanup hook: removes every file still tracked. A file
// that is already gone (renamed into place, or removed by the save's own
// error path) is no error.
void remove_tracked(void* arg) {
  auto* registry = static_cast<Registry*>(arg);
  {
    std::lock_guard<std::mutex> lock(registries_mutex);
    registries.erase(registry->env);
  }
  for (const auto& entry : registry->paths) {
    std::error_code ignored;
    std::filesystem::remove(std::filesystem::u8path(entry.second), ignored);
  }
  delete registry;
}

Registry* registry_of(napi_env env, bool create) {
  std::lock_guard<std::mutex> lock(registries_mutex);
  const auto found = registries.find(env);
  if (found != registries.end()) return found->second;
  if (!create) return nullptr;
  auto* registry = new Registry{env, {}, 1};
  if (napi_add_env_cleanup_hook(env, remove_tracked, registry) != napi_ok) {
    delete registry;
    return nullptr;
  }
  registries.emplace(env, registry);
  return registry;
}

Napi::Value TrackTempFile(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string path = string(arg(info, 0), "path");
  if (path.empty() || path.find('\0') != std::string::npos)
    throw_range_error(env, "Expected a non-empty file path without NUL characters for path");
  return guard(env, [&]() -> Napi::Value {
    Registry* registry = registry_of(env, true);
    if (registry == nullptr) throw_error(env, "trackTempFile: the environment is shutting down", kCodeInternal);
    const std::uint32_t id = registry->next_id;
    registry->next_id = id == UINT32_MAX ? 1 : id + 1;  // ids stay in [1, 2^32)
    registry->paths.emplace(id, path);
    return Napi::Number::New(env, id);
  });
}

Napi::Value UntrackTempFile(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const auto id = static_cast<std::uint32_t>(integer(arg(info, 0), "id", 1, UINT32_MAX));
  if (Registry* registry = registry_of(env, false)) registry->paths.erase(id);
  return env.Undefined();
}

}  // namespace

void init_temp_files(Napi::Env env, Napi::Object exports) {
  exports.Set("trackTempFile", Napi::Function::New<TrackTempFile>(env, "trackTempFile"));
  exports.Set("untrackTempFile", Napi::Function::New<UntrackTempFile>(env, "untrackTempFile"));
}

}  // namespace fastmlp::binding
