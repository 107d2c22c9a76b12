// One error path for the binding (STYLE.md §3): every entry point runs its body
// through guard(), which turns core exceptions into JS errors with a stable
// `code` property. Argument checks throw TypeError / RangeError directly.
#pragma once

#include <napi.h>

#include <string>

namespace fastmlp::binding {

// Stable error codes, documented in the README.
constexpr const char* kCodeInvalidArgument = "ERR_FASTMLP_INVALID_ARGUMENT";
constexpr const char* kCodeBusy = "ERR_FASTMLP_BUSY";
constexpr const char* kCodeDisposed = "ERR_FASTMLP_DISPOSED";
constexpr const char* kCodeOutOfMemory = "ERR_FASTMLP_OUT_OF_MEMORY";
constexpr const char* kCodeInternal = "ERR_FASTMLP_INTERNAL";

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& message);
[[noreturn]] void throw_range_error(Napi::Env env, const std::string& message);
[[noreturn]] void throw_error(Napi::Env env, const std::string& message, const char* code);

// Builds (without throwing) the JS error for the exception currently being
// handled; used by async workers, which reject a promise instead of throwing.
Napi::Error error_from_current_exception(Napi::Env env);

// Runs fn(); maps std::invalid_argument → RangeError, std::bad_alloc → Error
// (out of memory), any other std::exception → Error (internal). Napi errors pass.
template <typename F>
auto guard(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw error_from_current_exception(env);
  }
}

}  // namespace fastmlp::binding
