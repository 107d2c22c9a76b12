// JS spec objects (lib/engine.ts: LayerSpec, LossSpec, OptimizerSpec) → core structs.
#pragma once

#include <napi.h>

#include <vector>

#include "../core/losses.h"
#include "../core/network.h"
#include "../core/optim.h"
#include "args.h"

namespace fastmlp::binding {

// Largest size accepted for any dimension: keeps every rows·cols product in int64.
constexpr index_t kMaxDim = 2147483647;

Dtype parse_dtype(const Napi::Value& v, const char* name);
std::vector<LayerSpec> parse_layers(const Napi::Value& v);
LossSpec parse_loss(const Napi::Value& v);
OptimizerSpec parse_optimizer(const Napi::Value& v);

}  // namespace fastmlp::binding
