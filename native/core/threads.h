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

// parallel_for's pool side, on a type-erased body.
void parallel_for_erased(index_t n, index_t grain,
                         const std::function<void(index_t begin, index_t end)>& body);

// Calls body(begin, end) over a partition of [0, n) into at most num_threads()
// contiguous chunks, each at least `grain` long; returns when all are done.
// Exceptions thrown by body are rethrown in the caller (the first one).
// The std::function handed to the pool holds one reference to body, so it
// stays in std::function's small buffer: a lambda capturing many references,
// copied into a std::function as it is, went to the heap on every call, and
// the training step allocated (DESIGN.md: no allocation per step).
template <typename Body>
void parallel_for(index_t n, index_t grain, const Body& body) {
  parallel_for_erased(n, grain, [&body](index_t begin, index_t end) { body(begin, end); });
}

}  // namespace fastmlp
