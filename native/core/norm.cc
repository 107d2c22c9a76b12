// Batch and layer normalisation (norm.h). Layer norm sums each row in double;
// batch norm sums in T, feature-parallel (see below).
#include "norm.h"

#include <algorithm>
#include <cmath>

namespace fastmlp {

// The batch-norm loops run row by row with the feature index innermost, so
// they stream through memory and vectorise across features; each feature's
// sums still add its rows in order 0..B−1, exactly as the TypeScript engine's
// column loops do, so float64 results agree between the engines.
template <typename T>
void batchnorm_forward(T* y, const T* x, const T* gamma, const T* beta,
                       T* running_mean, T* running_var, T* mean, T* invstd,
                       index_t B, index_t C, double eps, double momentum,
                       bool batch_stats) {
  if (batch_stats) {
    require_or(B >= 2, [&] {
      return "batchnorm: expected more than 1 row per batch with batch statistics (training mode, or "
             "trackRunningStats false; the batch variance of one row is undefined) but received " + std::to_string(B);
    });
    // mean and invstd first hold Σx and Σ(x − μ)².
    std::fill(mean, mean + C, T(0));
    std::fill(invstd, invstd + C, T(0));
    for (index_t b = 0; b < B; ++b)
      for (index_t c = 0; c < C; ++c) mean[c] += x[b * C + c];
    for (index_t c = 0; c < C; ++c) mean[c] /= T(B);
    for (index_t b = 0; b < B; ++b) {
      for (index_t c = 0; c < C; ++c) {
        const T d = x[b * C + c] - mean[c];
        invstd[c] += d * d;
      }
    }
    for (index_t c = 0; c < C; ++c) {
      const double v = invstd[c];  // Σ(x − μ)²
      invstd[c] = T(1.0 / std::sqrt(v / double(B) + eps));  // biased: used to normalise
      if (!running_mean) continue;  // eval without running statistics: nothing to track
      running_mean[c] = T((1 - momentum) * double(running_mean[c]) + momentum * double(mean[c]));
      running_var[c] = T((1 - momentum) * double(running_var[c]) +
                         momentum * (v / double(B - 1)));  // unbiased
    }
  } else {
    for (index_t c = 0; c < C; ++c) {
      mean[c] = running_mean[c];
      invstd[c] = T(1.0 / std::sqrt(double(running_var[c]) + eps));
    }
  }
  for (index_t b = 0; b < B; ++b) {
    T* yr = y + b * C;
    const T* xr = x + b * C;
    if (gamma) {
      for (index_t c = 0; c < C; ++c) yr[c] = gamma[c] * ((xr[c] - mean[c]) * invstd[c]) + beta[c];
    } else {
      for (index_t c = 0; c < C; ++c) yr[c] = (xr[c] - mean[c]) * invstd[c];
    }
  }
}

template <typename T>
void batchnorm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                        const T* gamma, const T* mean, const T* invstd,
                        index_t B, index_t C, bool batch_stats, T* work) {
  // work (2C): Σdy and Σ(dy·x̂) per feature.
  T* sum_dy = work;
  T* sum_dy_xhat = work + C;
  std::fill(work, work + 2 * C, T(0));
  for (index_t b = 0; b < B; ++b) {
    const T* xr = x + b * C;
    const T* dyr = dy + b * C;
    for (index_t c = 0; c < C; ++c) {
      sum_dy[c] += dyr[c];
      sum_dy_xhat[c] += dyr[c] * ((xr[c] - mean[c]) * invstd[c]);
    }
  }
  for (index_t c = 0; c < C; ++c) {
    if (dgamma) dgamma[c] += sum_dy_xhat[c];
    if (dbeta) dbeta[c] += sum_dy[c];
  }
  if (!dx) return;
  const T inv_b = T(1) / T(B);
  for (index_t b = 0; b < B; ++b) {
    const T* xr = x + b * C;
    const T* dyr = dy + b * C;
    T* dxr = dx + b * C;
    for (index_t c = 0; c < C; ++c) {
      const T g = gamma ? gamma[c] : T(1);
      const T d = dyr[c] * g;
      if (batch_stats) {
        // Σg = γ·Σdy and Σ(g·x̂) = γ·Σ(dy·x̂), so γ factors out.
        const T xhat = (xr[c] - mean[c]) * invstd[c];
        dxr[c] = invstd[c] * inv_b *
                 (T(B) * d - g * sum_dy[c] - xhat * g * sum_dy_xhat[c]);
      } else {
        dxr[c] = d * invstd[c];  // running statistics are constants
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
                                      index_t, bool, T*);                        \
  template void layernorm_forward<T>(T*, const T*, const T*, const T*, T*, T*,  \
                                     index_t, index_t, double);                  \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*,           \
                                      const T*, const T*, const T*, index_t,    \
                                      index_t);
FASTMLP_NORM(float)
FASTMLP_NORM(double)
#undef FASTMLP_NORM

}  // namespace fastmlp
