#include "ops.h"

#include "../core/finite.h"
#include "../core/gemm.h"
#include "../core/losses.h"
#include "../core/threads.h"
#include "args.h"
#include "errors.h"
#include "specs.h"

namespace fastmlp::binding {

namespace {

// gemm(transA, transB, m, n, k, alpha, a, b, beta, c): packed row-major storage,
// see lib/engine.ts. Synchronous: callers use it for user-sized products.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool ta = boolean(arg(info, 0), "transA");
  const bool tb = boolean(arg(info, 1), "transB");
  const index_t m = integer(arg(info, 2), "m", 0, kMaxDim);
  const index_t n = integer(arg(info, 3), "n", 0, kMaxDim);
  const index_t k = integer(arg(info, 4), "k", 0, kMaxDim);
  const double alpha = number(arg(info, 5), "alpha");
  const FloatArg a0 = float_array(arg(info, 6), "a");
  const FloatArg a = float_array(arg(info, 6), "a", a0.dtype, std::size_t(m * k));
  const FloatArg b = float_array(arg(info, 7), "b", a.dtype, std::size_t(k * n));
  const double beta = number(arg(info, 8), "beta");
  const FloatArg c = float_array(arg(info, 9), "c", a.dtype, std::size_t(m * n));
  const index_t lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
  guard(env, [&] {
    if (a.dtype == Dtype::Float32)
      gemm<float>(ta, tb, m, n, k, float(alpha), a.as<float>(), std::max<index_t>(lda, 1),
                  b.as<float>(), std::max<index_t>(ldb, 1), float(beta), c.as<float>(),
                  std::max<index_t>(ldc, 1));
    else
      gemm<double>(ta, tb, m, n, k, alpha, a.as<double>(), std::max<index_t>(lda, 1),
                   b.as<double>(), std::max<index_t>(ldb, 1), beta, c.as<double>(),
                   std::max<index_t>(ldc, 1));
  });
  return env.Undefined();
}

struct LossArgs {
  LossSpec spec;
  FloatArg pred;
  index_t rows = 0, cols = 0;
  TargetArg target;
};

// (spec, pred, rows, cols, target) — shared by lossForward and lossBackward.
LossArgs loss_args(const Napi::CallbackInfo& info) {
  LossArgs a;
  a.spec = parse_loss(arg(info, 0));
  a.rows = integer(arg(info, 2), "rows", 1, kMaxDim);
  a.cols = integer(arg(info, 3), "cols", 1, kMaxDim);
  const FloatArg p0 = float_array(arg(info, 1), "pred");
  a.pred = float_array(arg(info, 1), "pred", p0.dtype, std::size_t(a.rows * a.cols));
  a.target = target_array(arg(info, 4), "target", a.pred.dtype);
  require_target_shape(info.Env(), a.target, "target", a.rows, a.cols);
  return a;
}

template <typename T>
const T* dense_target(const LossArgs& a) {
  return a.target.has_dense ? a.target.dense.as<T>() : nullptr;
}

Napi::Value LossForward(const Napi::CallbackInfo& info) {
  const LossArgs a = loss_args(info);
  return guard(info.Env(), [&] {
    validate_loss(a.spec, a.target.indices != nullptr, a.target.has_dense);
    const double v = a.pred.dtype == Dtype::Float32
        ? loss_forward<float>(a.spec, a.pred.as<float>(), a.rows, a.cols, a.target.indices, dense_target<float>(a))
        : loss_forward<double>(a.spec, a.pred.as<double>(), a.rows, a.cols, a.target.indices, dense_target<double>(a));
    return Napi::Number::New(info.Env(), v);
  });
}

Napi::Value LossBackward(const Napi::CallbackInfo& info) {
  const LossArgs a = loss_args(info);
  const FloatArg grad = float_array(arg(info, 5), "grad", a.pred.dtype, a.pred.length);
  guard(info.Env(), [&] {
    validate_loss(a.spec, a.target.indices != nullptr, a.target.has_dense);
    if (a.pred.dtype == Dtype::Float32)
      loss_backward<float>(a.spec, a.pred.as<float>(), a.rows, a.cols, a.target.indices, dense_target<float>(a), grad.as<float>());
    else
      loss_backward<double>(a.spec, a.pred.as<double>(), a.rows, a.cols, a.target.indices, dense_target<double>(a), grad.as<double>());
  });
  return info.Env().Undefined();
}

// lossValues(spec, pred, rows, cols, target, out: Float64Array): the unreduced
// values (loss_value_count of them), whatever spec.reduction says.
Napi::Value LossValues(const Napi::CallbackInfo& info) {
  const LossArgs a = loss_args(info);
  const index_t count = loss_value_count(a.spec.kind, a.rows, a.cols);
  if (count == 0)
    throw_range_error(info.Env(), "Expected a loss with per-element values for loss.kind but received 'dice'");
  const FloatArg out = float_array(arg(info, 5), "out", Dtype::Float64, std::size_t(count));
  guard(info.Env(), [&] {
    validate_loss(a.spec, a.target.indices != nullptr, a.target.has_dense);
    if (a.pred.dtype == Dtype::Float32)
      loss_values<float>(a.spec, a.pred.as<float>(), a.rows, a.cols, a.target.indices, dense_target<float>(a), out.as<double>());
    else
      loss_values<double>(a.spec, a.pred.as<double>(), a.rows, a.cols, a.target.indices, dense_target<double>(a), out.as<double>());
  });
  return info.Env().Undefined();
}

// anyNonFinite(array): true when a Float32Array/Float64Array holds a NaN or
// ±Infinity. lib's finiteness checks of user data (requireFinite) ask this
// first and look for the offending index only when it says yes: on 10,000 ×
// 784 float32 rows a JavaScript loop cost ~19 % of a native evaluate, this
// bit test (finite.h, vectorised) a few percent.
Napi::Value AnyNonFinite(const Napi::CallbackInfo& info) {
  const FloatArg a = float_array(arg(info, 0), "data");
  const index_t n = static_cast<index_t>(a.length);
  const bool bad = a.dtype == Dtype::Float32 ? any_nonfinite(a.as<float>(), n) : any_nonfinite(a.as<double>(), n);
  return Napi::Boolean::New(info.Env(), bad);
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const index_t n = integer(arg(info, 0), "threads", 1, 1024);
  guard(info.Env(), [&] { set_num_threads(int(n)); });
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), num_threads());
}

}  // namespace

void init_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("lossForward", Napi::Function::New(env, LossForward, "lossForward"));
  exports.Set("lossBackward", Napi::Function::New(env, LossBackward, "lossBackward"));
  exports.Set("lossValues", Napi::Function::New(env, LossValues, "lossValues"));
  exports.Set("anyNonFinite", Napi::Function::New(env, AnyNonFinite, "anyNonFinite"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  exports.Set("isa", Napi::String::New(env, gemm_kernel_name()));
}

}  // namespace fastmlp::binding
