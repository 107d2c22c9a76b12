// Normalisation layers, PyTorch semantics (torch.nn.BatchNorm1d and
// torch.nn.LayerNorm docs; Ioffe & Szegedy 2015, Ba et al. 2016).
//   batch norm, per feature c over the B rows of a batch:
//     training  μ = mean x, σ² = biased variance, x̂ = (x − μ)/√(σ² + ε),
//               running_mean = (1 − m)·running_mean + m·μ,
//               running_var  = (1 − m)·running_var  + m·σ²·B/(B − 1)  (unbiased)
//     eval      x̂ = (x − running_mean)/√(running_var + ε)
//   momentum None (torch): m = 1/num_batches_tracked, a cumulative average; the
//   caller passes that m. track_running_stats False (torch): no running
//   buffers, batch statistics in eval mode too; the caller passes null buffers.
//   layer norm, per row over its C features: x̂ = (x − μ_row)/√(σ²_row + ε)
//   both: y = γ·x̂ + β when affine (γ, β are null otherwise: γ = 1, β = 0).
// Backward through batch statistics (training), per feature, with g = dy·γ:
//   dx = invstd/B · (B·g − Σg − x̂·Σ(g·x̂));  layer norm is the same per row.
#pragma once

#include "common.h"

namespace fastmlp {

// x, y (B,C); gamma, beta (C) or null. Writes the μ and 1/√(σ²+ε) it used into
// mean, invstd (C). batch_stats: batch statistics (B ≥ 2), and the running stats
// updated with momentum when they are non-null; otherwise the running stats are
// used and left unchanged.
template <typename T>
void batchnorm_forward(T* y, const T* x, const T* gamma, const T* beta,
                       T* running_mean, T* running_var, T* mean, T* invstd,
                       index_t B, index_t C, double eps, double momentum,
                       bool batch_stats);

// Accumulates dgamma, dbeta (C) when non-null; writes dx (B,C) when non-null.
// batch_stats: the forward used batch statistics (training), so μ and σ depend on x.
// work: 2C values of scratch.
template <typename T>
void batchnorm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                        const T* gamma, const T* mean, const T* invstd,
                        index_t B, index_t C, bool batch_stats, T* work);

// x, y (B,C); gamma, beta (C) or null; mean, invstd (B) written per row.
template <typename T>
void layernorm_forward(T* y, const T* x, const T* gamma, const T* beta, T* mean,
                       T* invstd, index_t B, index_t C, double eps);

// Accumulates dgamma, dbeta (C) when non-null; writes dx (B,C) when non-null.
template <typename T>
void layernorm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                        const T* gamma, const T* mean, const T* invstd,
                        index_t B, index_t C);

}  // namespace fastmlp
