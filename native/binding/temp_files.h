// Temporary files that a save is writing, removed when their environment is
// torn down before the save renames them (lib/io/files.ts writeFileAtomic).
//
// Why native: a worker_thread that is terminated mid-save runs no more
// JavaScript (no 'exit' event, no finally), so the save's temporary file,
// `.name.pid.hex.tmp` beside the target, was left behind: the target itself
// intact, the directory littered on every such shutdown. Node runs an
// environment's cleanup hooks at its teardown, after its pending thread-pool
// requests (the save's write and fsync) have completed (env_probe.h), and at
// a worker's process.exit(). The main thread's process.exit() runs no cleanup
// hooks: lib/io/temp-file-guard.ts covers it with an 'exit' listener.
#pragma once

#include <napi.h>

namespace fastmlp::binding {

// exports.trackTempFile(path) → id: removes the file at teardown unless
// untracked first. exports.untrackTempFile(id): forgets it (an unknown id
// is ignored: untracking twice is harmless).
void init_temp_files(Napi::Env env, Napi::Object exports);

}  // namespace fastmlp::binding
