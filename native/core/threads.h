// A small persistent thread pool for the core's parallel loops (gemm's JC/IC
// loops). Process-wide; safe to call from any thread. When the pool is
// already running a loop for another caller (two models training on two libuv
// threads), the second caller runs its loop serially instead of waiting.
#pragma once

#include <functional>

#include "common.h"

namespace fastmlp {

// Number of threads parallel loops may use (>= 1). Default: hardware concurrency.
int num_threads();
// Sets the thread count; n >= 1 (throws std::invalid_argument otherwise).
void set_num_threads(int n);

// Calls body(begin, end) over a partition of [0, n) into at most num_threads()
// contiguous chunks, each at least `grain` long; returns when all are done.
// Exceptions thrown by body are rethrown in the caller (the first one).
void parallel_for(index_t n, index_t grain,
                  const std::function<void(index_t begin, index_t end)>& body);

}  // namespace fastmlp
