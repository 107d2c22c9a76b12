// Cheap argument re-checks at the boundary (STYLE.md §2): lib/ validates first
// with friendlier messages, but the addon can be called directly, so nothing
// here trusts a JS value's type, length or range. Messages follow
// "Expected {what} for {name} but received {actual}".
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "../core/common.h"

namespace fastmlp::binding {

enum class Dtype { Float32, Float64 };

// A Float32Array/Float64Array seen without copying.
struct FloatArg {
  Dtype dtype = Dtype::Float32;
  void* data = nullptr;
  std::size_t length = 0;
  template <typename T> T* as() const { return static_cast<T*>(data); }
};

// Class indices (Int32Array) or a dense float target; exactly one is set.
struct TargetArg {
  const std::int32_t* indices = nullptr;
  std::size_t index_count = 0;
  FloatArg dense;
  bool has_dense = false;
};

const char* dtype_name(Dtype d);
std::string describe(const Napi::Value& v);

Napi::Value arg(const Napi::CallbackInfo& info, std::size_t i);
FloatArg float_array(const Napi::Value& v, const char* name);
// Same, but also requires a given dtype and an exact length.
FloatArg float_array(const Napi::Value& v, const char* name, Dtype dtype, std::size_t length);
TargetArg target_array(const Napi::Value& v, const char* name, Dtype dtype);
// Int32Array of exactly `length` elements.
const std::int32_t* int32_array(const Napi::Value& v, const char* name, std::size_t length);
index_t integer(const Napi::Value& v, const char* name, index_t min, index_t max);
double number(const Napi::Value& v, const char* name);
bool boolean(const Napi::Value& v, const char* name);
std::string string(const Napi::Value& v, const char* name);
Napi::Object object(const Napi::Value& v, const char* name);

// Checks that the target matches rows × cols of a prediction: `rows` indices,
// or rows·cols dense values of the given dtype.
void require_target_shape(Napi::Env env, const TargetArg& t, const char* name,
                          index_t rows, index_t cols);

}  // namespace fastmlp::binding
