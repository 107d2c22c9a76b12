// Inverted dropout (dropout.h).
#include "dropout.h"

namespace fastmlp {

template <typename T>
void dropout_forward(T* y, const T* x, T* mask, index_t n, double p,
                     Xoshiro128& rng) {
  const T scale = T(1.0 / (1.0 - p));
  for (index_t i = 0; i < n; ++i) {
    mask[i] = rng.uniform() < p ? T(0) : scale;
    y[i] = x[i] * mask[i];
  }
}

template <typename T>
void dropout_backward(T* dx, const T* dy, const T* mask, index_t n) {
  for (index_t i = 0; i < n; ++i) dx[i] = dy[i] * mask[i];
}

template void dropout_forward<float>(float*, const float*, float*, index_t,
                                     double, Xoshiro128&);
template void dropout_forward<double>(double*, const double*, double*, index_t,
                                      double, Xoshiro128&);
template void dropout_backward<float>(float*, const float*, const float*, index_t);
template void dropout_backward<double>(double*, const double*, const double*,
                                       index_t);

}  // namespace fastmlp
