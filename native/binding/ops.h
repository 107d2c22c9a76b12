// Stateless entry points: gemm, losses, thread count, build info.
#pragma once

#include <napi.h>

namespace fastmlp::binding {
void init_ops(Napi::Env env, Napi::Object exports);
}
