// Arrays whose memory the addon owns, so an epoch can train on them without
// copying them first (lib/engine.ts Engine.allocData).
//
// allocData(dtype, length) returns a zero-filled Float32Array/Float64Array over
// an external ArrayBuffer (napi_create_external_arraybuffer). Its memory is a
// DataBlock held by std::shared_ptr: the ArrayBuffer's finalizer drops JS's
// share, an epoch's baton holds another, and the memory is freed when the last
// one lets go. So neither GC nor a detach/transfer of the JS buffer can free it
// under a worker thread that still reads it.
//
// A process-wide registry (mutex-guarded: several worker_threads may load the
// addon) maps each live block's address to a weak reference, so runEpoch can
// tell one of these arrays from a user's own and take a share of its memory.
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>

namespace fastmlp::binding {

void init_data_blocks(Napi::Env env, Napi::Object exports);

// A share of the addon-owned memory under a typed array, or null when the array
// is not allocData's (or its buffer was detached). The view's [data, data +
// bytes) must lie inside the block, so the worker reads only memory it owns.
std::shared_ptr<const void> find_data_block(const Napi::Value& typed_array, const void* data,
                                            std::size_t bytes);

}  // namespace fastmlp::binding
