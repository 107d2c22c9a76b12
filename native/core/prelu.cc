// PReLU (prelu.h).
#include "prelu.h"

namespace fastmlp {

template <typename T>
void prelu_forward(T* y, const T* x, const T* slope, index_t B, index_t C,
                   index_t P) {
  for (index_t b = 0; b < B; ++b) {
    for (index_t c = 0; c < C; ++c) {
      const T v = x[b * C + c];
      y[b * C + c] = v > T(0) ? v : slope[P == 1 ? 0 : c] * v;
    }
  }
}

template <typename T>
void prelu_backward(T* dx, T* dslope, const T* dy, const T* x, const T* slope,
                    index_t B, index_t C, index_t P) {
  for (index_t b = 0; b < B; ++b) {
    for (index_t c = 0; c < C; ++c) {
      const index_t k = P == 1 ? 0 : c;
      const T v = x[b * C + c];
      const T g = dy[b * C + c];
      if (v > T(0)) {
        if (dx) dx[b * C + c] = g;
      } else {
        dslope[k] += g * v;
        if (dx) dx[b * C + c] = slope[k] * g;
      }
    }
  }
}

template void prelu_forward<float>(float*, const float*, const float*, index_t,
                                   index_t, index_t);
template void prelu_forward<double>(double*, const double*, const double*,
                                    index_t, index_t, index_t);
template void prelu_backward<float>(float*, float*, const float*, const float*,
                                    const float*, index_t, index_t, index_t);
template void prelu_backward<double>(double*, double*, const double*,
                                     const double*, const double*, index_t,
                                     index_t, index_t);

}  // namespace fastmlp
