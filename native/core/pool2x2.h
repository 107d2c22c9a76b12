// The fast path of maxpool2d for its most common window: kernel 2×2, stride
// 2, no padding (conv.cc sends such windows here). Each output row is the
// maxima of pairs of adjacent columns of two input rows, so it vectorises as
// contiguous loads and an even/odd de-interleave instead of the generic
// scan's strided reads. Same bits as the generic scan (conv.h: torch's rule —
// row-major, an element replaces the maximum when greater or NaN, so the
// first maximum wins and the last NaN), floor mode (an odd last row or
// column belongs to no window: its gradient is 0).
//
// Serial over the planes it is given: conv.cc splits the rows among threads.
#pragma once

#include "common.h"
#include "conv.h"

namespace fastmlp {
namespace pool2x2 {

// The instruction sets of the row kernels, narrowest first.
enum class Isa { kPortable, kAvx2, kAvx512 };

// True when w is kernel 2×2, stride 2, no padding.
bool applies(const Window2d& w);

// The widest Isa that cpu_features() (cpu.h) allows: FASTMLP_GEMM_KERNEL
// narrows it as it narrows gemm's kernels.
Isa widest_isa();

// y (planes × ⌊h/2⌋·⌊w/2⌋) = the 2×2 maxima of x (planes × h·w). An isa the
// CPU lacks (or this build has not) falls back to a narrower one.
template <typename T>
void forward(T* y, const T* x, index_t planes, index_t h, index_t w, Isa isa = widest_isa());

// dx (planes × h·w) = each dy at the element the forward chose (0 elsewhere,
// 0 + dy at the chosen one, as the generic scan's dx = 0; dx += dy).
template <typename T>
void backward(T* dx, const T* dy, const T* x, index_t planes, index_t h, index_t w,
              Isa isa = widest_isa());

}  // namespace pool2x2
}  // namespace fastmlp
