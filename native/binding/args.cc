#include "args.h"

#include <cmath>

#include "errors.h"

namespace fastmlp::binding {

const char* dtype_name(Dtype d) { return d == Dtype::Float32 ? "Float32Array" : "Float64Array"; }

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return "boolean";
  if (v.IsNumber()) return "number " + v.ToString().Utf8Value();
  if (v.IsString()) return "string";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_int32_array: return "Int32Array";
      default: return "another TypedArray";
    }
  }
  if (v.IsArray()) return "Array";
  if (v.IsFunction()) return "function";
  return "object";
}

Napi::Value arg(const Napi::CallbackInfo& info, std::size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

FloatArg float_array(const Napi::Value& v, const char* name) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_float32_array) {
      auto f = ta.As<Napi::Float32Array>();
      return {Dtype::Float32, f.Data(), f.ElementLength()};
    }
    if (ta.TypedArrayType() == napi_float64_array) {
      auto f = ta.As<Napi::Float64Array>();
      return {Dtype::Float64, f.Data(), f.ElementLength()};
    }
  }
  throw_type_error(v.Env(), std::string("Expected a Float32Array or Float64Array for ") + name +
                                " but received " + describe(v));
}

FloatArg float_array(const Napi::Value& v, const char* name, Dtype dtype, std::size_t length) {
  FloatArg a = float_array(v, name);
  if (a.dtype != dtype)
    throw_type_error(v.Env(), std::string("Expected a ") + dtype_name(dtype) + " for " + name +
                                  " but received " + dtype_name(a.dtype));
  if (a.length != length)
    throw_range_error(v.Env(), std::string("Expected ") + std::to_string(length) +
                                   " elements for " + name + " but received " +
                                   std::to_string(a.length));
  return a;
}

TargetArg target_array(const Napi::Value& v, const char* name, Dtype dtype) {
  TargetArg t;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto a = v.As<Napi::Int32Array>();
    t.indices = a.Data();
    t.index_count = a.ElementLength();
    return t;
  }
  if (!v.IsTypedArray())
    throw_type_error(v.Env(), std::string("Expected an Int32Array or a ") + dtype_name(dtype) +
                                  " for " + name + " but received " + describe(v));
  t.dense = float_array(v, name);
  if (t.dense.dtype != dtype)
    throw_type_error(v.Env(), std::string("Expected an Int32Array or a ") + dtype_name(dtype) +
                                  " for " + name + " but received " + dtype_name(t.dense.dtype));
  t.has_dense = true;
  return t;
}

const std::int32_t* int32_array(const Napi::Value& v, const char* name, std::size_t length) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_type_error(v.Env(), std::string("Expected an Int32Array for ") + name +
                                  " but received " + describe(v));
  auto a = v.As<Napi::Int32Array>();
  if (a.ElementLength() != length)
    throw_range_error(v.Env(), std::string("Expected ") + std::to_string(length) +
                                   " elements for " + name + " but received " +
                                   std::to_string(a.ElementLength()));
  return a.Data();
}

index_t integer(const Napi::Value& v, const char* name, index_t min, index_t max) {
  if (!v.IsNumber())
    throw_type_error(v.Env(), std::string("Expected an integer for ") + name +
                                  " but received " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(std::isfinite(d) && d == std::floor(d) && d >= double(min) && d <= double(max)))
    throw_range_error(v.Env(), std::string("Expected an integer in [") + std::to_string(min) +
                                   ", " + std::to_string(max) + "] for " + name +
                                   " but received " + describe(v));
  return static_cast<index_t>(d);
}

double number(const Napi::Value& v, const char* name) {
  if (!v.IsNumber())
    throw_type_error(v.Env(), std::string("Expected a number for ") + name +
                                  " but received " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d))
    throw_range_error(v.Env(), std::string("Expected a finite number for ") + name +
                                   " but received " + describe(v));
  return d;
}

bool boolean(const Napi::Value& v, const char* name) {
  if (!v.IsBoolean())
    throw_type_error(v.Env(), std::string("Expected a boolean for ") + name +
                                  " but received " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string string(const Napi::Value& v, const char* name) {
  if (!v.IsString())
    throw_type_error(v.Env(), std::string("Expected a string for ") + name +
                                  " but received " + describe(v));
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object object(const Napi::Value& v, const char* name) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction())
    throw_type_error(v.Env(), std::string("Expected an object for ") + name +
                                  " but received " + describe(v));
  return v.As<Napi::Object>();
}

void require_target_shape(Napi::Env env, const TargetArg& t, const char* name, index_t rows,
                          index_t cols) {
  std::size_t expected = t.has_dense ? std::size_t(rows * cols) : std::size_t(rows);
  std::size_t actual = t.has_dense ? t.dense.length : t.index_count;
  if (actual != expected)
    throw_range_error(env, std::string("Expected ") + std::to_string(expected) +
                               " elements for " + name + " but received " +
                               std::to_string(actual));
}

}  // namespace fastmlp::binding
