// PReLU (He et al. 2015; torch.nn.PReLU): y = x for x > 0, a·x otherwise, with a
// learnable slope a — one for the whole layer (P = 1) or one per feature (P = C).
//   dL/dx = dy for x > 0, a·dy otherwise;  dL/da_c = Σ over x ≤ 0 of dy·x.
#pragma once

#include "common.h"

namespace fastmlp {

// x, y (B,C); slope (P), P = 1 or C.
template <typename T>
void prelu_forward(T* y, const T* x, const T* slope, index_t B, index_t C,
                   index_t P);

// Accumulates dslope (P); writes dx (B,C) when non-null.
template <typename T>
void prelu_backward(T* dx, T* dslope, const T* dy, const T* x, const T* slope,
                    index_t B, index_t C, index_t P);

}  // namespace fastmlp
