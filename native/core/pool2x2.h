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
//
// Measured (fastmlp_pool_bench: the MNIST CNN's pooling, batch 64, float32,
// 1 thread, median of 5 rounds alternating with the generic scan's build on
// a loaded 2-core AVX-512 VM, microseconds; ±20 % run to run):
//                        generic          AVX-512         AVX2          portable
//   32 × 26×26  fwd/bwd  1680 / 4080      390 / 580       420 / 670     780 / 1230
//   64 × 11×11  fwd/bwd  1080 / 2540      210 / 370       150 / 240     580 / 570
// float64, AVX-512: 26×26 2650 / 12700 → 690 / 1220; 11×11 1370 / 3750 → 210 / 470.
// The generic scan's backward rescans each window and scatters into a zeroed
// dx; here each window's four gradients are written once, in place.
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
// narrows it as it narrows gemm's kernels (scalar: portable; avx2: AVX2).
// The ISA files use target attributes, not per-file -m flags, as gemm's do
// (gemm_kernels.h: binding.gyp cannot express per-file flags portably).
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
