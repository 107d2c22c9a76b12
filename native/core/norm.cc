// Batch and layer normalisation (norm.h). Sums run in double whatever T is,
// so float32 statistics of large batches keep their precision.
#include "norm.h"

#include <cmath>

namespace fastmlp {

template <typename T>
void batchnorm_forward(T* y, const T* x, const T* gamma, const T* beta,
                       T* running_mean, T* running_var, T* mean, T* invstd,
                       index_t B, index_t C, double eps, double momentum,
                       bool training) {
  if (training) {
    require(B >= 2, "batchnorm: expected more than 1 row per batch in training mode "
                    "(the batch variance of one row is undefined) but received " +
                        std::to_string(B));
    for (index_t c = 0; c < C; ++c) {
      double s = 0;
      for (index_t b = 0; b < B; ++b) s += x[b * C + c];
      const double mu = s / double(B);
      double v = 0;
      for (index_t b = 0; b < B; ++b) {
        const double d = double(x[b * C + c]) - mu;
        v += d * d;
      }
      const double var = v / double(B);  // biased: used to normalise
      mean[c] = T(mu);
      invstd[c] = T(1.0 / std::sqrt(var + eps));
      running_mean[c] = T((1 - momentum) * running_mean[c] + momentum * mu);
      running_var[c] = T((1 - momentum) * running_var[c] +
                         momentum * (v / double(B - 1)));  // unbiased
    }
  } else {
    for (index_t c = 0; c < C; ++c) {
      mean[c] = running_mean[c];
      invstd[c] = T(1.0 / std::sqrt(double(running_var[c]) + eps));
    }
  }
  for (index_t b = 0; b < B; ++b) {
    for (index_t c = 0; c < C; ++c) {
      const T xhat = (x[b * C + c] - mean[c]) * invstd[c];
      y[b * C + c] = gamma ? gamma[c] * xhat + beta[c] : xhat;
    }
  }
}

template <typename T>
void batchnorm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                        const T* gamma, const T* mean, const T* invstd,
                        index_t B, index_t C, bool batch_stats) {
  for (index_t c = 0; c < C; ++c) {
    double sum_dy = 0, sum_dy_xhat = 0;
    for (index_t b = 0; b < B; ++b) {
      const double xhat = double(x[b * C + c] - mean[c]) * invstd[c];
      sum_dy += dy[b * C + c];
      sum_dy_xhat += double(dy[b * C + c]) * xhat;
    }
    if (dgamma) dgamma[c] += T(sum_dy_xhat);
    if (dbeta) dbeta[c] += T(sum_dy);
    if (!dx) continue;
    const double g = gamma ? double(gamma[c]) : 1.0;
    const double is = invstd[c];
    for (index_t b = 0; b < B; ++b) {
      const double d = double(dy[b * C + c]) * g;
      if (batch_stats) {
        // Σg = γ·Σdy and Σ(g·x̂) = γ·Σ(dy·x̂), so γ factors out.
        const double xhat = double(x[b * C + c] - mean[c]) * is;
        dx[b * C + c] = T(is / double(B) *
                          (double(B) * d - g * sum_dy - xhat * g * sum_dy_xhat));
      } else {
        dx[b * C + c] = T(d * is);  // running stats are constants
      }
    }
  }
}

template <typename T>
void layernorm_forward(T* y, const T* x, const T* gamma, const T* beta, T* mean,
                       T* invstd, index_t B, index_t C, double eps) {
  for (index_t b = 0; b < B; ++b) {
    const T* xr = x + b * C;
    T* yr = y + b * C;
    double s = 0;
    for (index_t c = 0; c < C; ++c) s += xr[c];
    const double mu = s / double(C);
    double v = 0;
    for (index_t c = 0; c < C; ++c) {
      const double d = double(xr[c]) - mu;
      v += d * d;
    }
    mean[b] = T(mu);
    invstd[b] = T(1.0 / std::sqrt(v / double(C) + eps));
    for (index_t c = 0; c < C; ++c) {
      const T xhat = (xr[c] - mean[b]) * invstd[b];
      yr[c] = gamma ? gamma[c] * xhat + beta[c] : xhat;
    }
  }
}

template <typename T>
void layernorm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                        const T* gamma, const T* mean, const T* invstd,
                        index_t B, index_t C) {
  for (index_t b = 0; b < B; ++b) {
    const T* xr = x + b * C;
    const T* dyr = dy + b * C;
    double sum_g = 0, sum_g_xhat = 0;
    for (index_t c = 0; c < C; ++c) {
      const double xhat = double(xr[c] - mean[b]) * invstd[b];
      const double g = double(dyr[c]) * (gamma ? double(gamma[c]) : 1.0);
      sum_g += g;
      sum_g_xhat += g * xhat;
      if (dgamma) dgamma[c] += T(double(dyr[c]) * xhat);
      if (dbeta) dbeta[c] += dyr[c];
    }
    if (!dx) continue;
    const double is = invstd[b];
    for (index_t c = 0; c < C; ++c) {
      const double xhat = double(xr[c] - mean[b]) * is;
      const double g = double(dyr[c]) * (gamma ? double(gamma[c]) : 1.0);
      dx[b * C + c] = T(is / double(C) * (double(C) * g - sum_g - xhat * sum_g_xhat));
    }
  }
}

#define FASTMLP_NORM(T)                                                          \
  template void batchnorm_forward<T>(T*, const T*, const T*, const T*, T*, T*,  \
                                     T*, T*, index_t, index_t, double, double,  \
                                     bool);                                      \
  template void batchnorm_backward<T>(T*, T*, T*, const T*, const T*,           \
                                      const T*, const T*, const T*, index_t,    \
                                      index_t, bool);                            \
  template void layernorm_forward<T>(T*, const T*, const T*, const T*, T*, T*,  \
                                     index_t, index_t, double);                  \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*,           \
                                      const T*, const T*, const T*, index_t,    \
                                      index_t);
FASTMLP_NORM(float)
FASTMLP_NORM(double)
#undef FASTMLP_NORM

}  // namespace fastmlp
