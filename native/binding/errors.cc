#include "errors.h"

#include <new>
#include <stdexcept>

namespace fastmlp::binding {

namespace {
template <typename E>
E with_code(E error, const char* code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  return error;
}
}  // namespace

void throw_type_error(Napi::Env env, const std::string& message) {
  throw with_code(Napi::TypeError::New(env, message), kCodeInvalidArgument);
}

void throw_range_error(Napi::Env env, const std::string& message) {
  throw with_code(Napi::RangeError::New(env, message), kCodeInvalidArgument);
}

void throw_error(Napi::Env env, const std::string& message, const char* code) {
  throw with_code(Napi::Error::New(env, message), code);
}

Napi::Error error_from_current_exception(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error& e) {
    return e;
  } catch (const std::invalid_argument& e) {
    return with_code(Napi::RangeError::New(env, e.what()), kCodeInvalidArgument);
  } catch (const std::bad_alloc&) {
    return with_code(Napi::Error::New(env, "fastmlp: out of memory"), kCodeOutOfMemory);
  } catch (const std::exception& e) {
    return with_code(Napi::Error::New(env, e.what()), kCodeInternal);
  } catch (...) {
    return with_code(Napi::Error::New(env, "fastmlp: unknown native error"), kCodeInternal);
  }
}

}  // namespace fastmlp::binding
