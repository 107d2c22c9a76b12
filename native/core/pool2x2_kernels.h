// Internal to pool2x2: the row kernels shared by pool2x2.cc (planes, choice
// of instruction set) and the ISA files pool2x2_avx2.cc and pool2x2_avx512.cc
// (target attributes, as gemm_kernels.h explains). Not part of the core's API.
#pragma once

#include "common.h"

namespace fastmlp {
namespace pool2x2 {
namespace detail {

// One output row: ow windows over input rows x0 and x1 (2·ow columns read).
template <typename T>
struct RowKernels {
  // y[o] = the maximum of x0[2o], x0[2o+1], x1[2o], x1[2o+1], scanned in that order.
  void (*forward)(T* y, const T* x0, const T* x1, index_t ow) = nullptr;
  // dx0[0 .. 2·ow) and dx1[0 .. 2·ow): 0 + dy[o] at the element forward chose, 0 elsewhere.
  void (*backward)(T* dx0, T* dx1, const T* dy, const T* x0, const T* x1, index_t ow) = nullptr;
};

// The kernels of one instruction set; null pointers when this build has
// none (not x86). The caller checks cpu_features() first.
template <typename T>
RowKernels<T> avx2_row_kernels();
template <typename T>
RowKernels<T> avx512_row_kernels();

}  // namespace detail
}  // namespace pool2x2
}  // namespace fastmlp
