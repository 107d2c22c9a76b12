// Batch and layer normalisation for the pure-TypeScript engine, the same
// semantics and operation order as native/core/norm.h (PyTorch's
// torch.nn.BatchNorm1d / torch.nn.LayerNorm; Ioffe & Szegedy 2015, Ba et al. 2016):
//   batch norm, per feature over the B rows:
//     training  μ, σ² (biased) of the batch; x̂ = (x − μ)/√(σ² + ε);
//               running_mean ← (1 − m)·running_mean + m·μ,
//               running_var  ← (1 − m)·running_var  + m·σ²·B/(B − 1) (unbiased)
//     eval      x̂ = (x − running_mean)/√(running_var + ε)
//   momentum None (torch): m = 1/num_batches_tracked, passed by the caller;
//   track_running_stats False: null running buffers, batch statistics in eval too.
//   layer norm, per row over its C features; y = γ·x̂ + β when affine.
// Backward through batch statistics, with g = dy·γ:
//   dx = invstd/B · (B·g − Σg − x̂·Σ(g·x̂))   (layer norm: the same per row).
// Buffers are row-major and may be longer than B·C; only the leading part is used.

import type { FloatArray } from '../../engine';
import { ArgumentRangeError } from '../../validate';

/**
 * mean, invstd (C) receive the statistics used (the batch's or the running
 * ones). Row by row with the feature innermost, as native/core/norm.cc: the
 * sums accumulate in mean/invstd themselves, so a float32 plan rounds where
 * the native float32 core does, and each feature still adds rows 0..B−1 in order.
 */
export function batchnormForward(y: FloatArray, x: FloatArray, gamma: FloatArray | null, beta: FloatArray | null,
                                 runningMean: FloatArray | null, runningVar: FloatArray | null, mean: FloatArray,
                                 invstd: FloatArray, B: number, C: number, eps: number, momentum: number,
                                 batchStats: boolean): void {
  if (batchStats) {
    if (B < 2) {
      throw new ArgumentRangeError(`Expected more than 1 row per batch for batch norm with batch statistics (training mode, or trackRunningStats false) but received ${B}`);
    }
    mean.fill(0, 0, C);
    invstd.fill(0, 0, C); // Σ(x − μ)² until the last loop
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) mean[c] += x[b * C + c];
    }
    for (let c = 0; c < C; c++) mean[c] /= B;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const d = round(x, x[b * C + c] - mean[c]);
        invstd[c] += d * d;
      }
    }
    for (let c = 0; c < C; c++) {
      const v = invstd[c];
      invstd[c] = 1 / Math.sqrt(v / B + eps); // biased variance normalises
      if (runningMean === null || runningVar === null) continue; // eval without running statistics
      runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
      runningVar[c] = (1 - momentum) * runningVar[c] + momentum * (v / (B - 1)); // unbiased
    }
  } else {
    for (let c = 0; c < C; c++) {
      mean[c] = runningMean![c];
      invstd[c] = 1 / Math.sqrt(runningVar![c] + eps);
    }
  }
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const xhat = round(y, (x[b * C + c] - mean[c]) * invstd[c]);
      y[b * C + c] = gamma !== null ? gamma[c] * xhat + beta![c] : xhat;
    }
  }
}

/**
 * Accumulates dgamma, dbeta (C) when given; writes dx (B,C) when given.
 * batchStats: the forward used the batch's statistics (training mode).
 * work: 2C values of scratch (Σdy and Σ(dy·x̂) per feature).
 */
export function batchnormBackward(dx: FloatArray | null, dgamma: FloatArray | null, dbeta: FloatArray | null,
                                  dy: FloatArray, x: FloatArray, gamma: FloatArray | null, mean: FloatArray,
                                  invstd: FloatArray, B: number, C: number, batchStats: boolean,
                                  work: FloatArray): void {
  work.fill(0, 0, 2 * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const xhat = round(x, (x[b * C + c] - mean[c]) * invstd[c]);
      work[c] += dy[b * C + c];
      work[C + c] += dy[b * C + c] * xhat;
    }
  }
  for (let c = 0; c < C; c++) {
    if (dgamma !== null) dgamma[c] += work[C + c];
    if (dbeta !== null) dbeta[c] += work[c];
  }
  if (dx === null) return;
  const invB = 1 / B;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const g = gamma !== null ? gamma[c] : 1;
      const d = dy[b * C + c] * g;
      if (batchStats) {
        // Σg = γ·Σdy and Σ(g·x̂) = γ·Σ(dy·x̂), so γ factors out.
        const xhat = round(x, (x[b * C + c] - mean[c]) * invstd[c]);
        dx[b * C + c] = invstd[c] * invB * (B * d - g * work[c] - xhat * g * work[C + c]);
      } else {
        dx[b * C + c] = d * invstd[c]; // running statistics are constants
      }
    }
  }
}

/** mean, invstd (B) receive each row's statistics. */
export function layernormForward(y: FloatArray, x: FloatArray, gamma: FloatArray | null, beta: FloatArray | null,
                                 mean: FloatArray, invstd: FloatArray, B: number, C: number, eps: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[o + c];
    const mu = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const d = x[o + c] - mu;
      v += d * d;
    }
    mean[b] = mu;
    invstd[b] = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) {
      const xhat = round(y, (x[o + c] - mean[b]) * invstd[b]);
      y[o + c] = gamma !== null ? gamma[c] * xhat + beta![c] : xhat;
    }
  }
}

/** Accumulates dgamma, dbeta (C) when given; writes dx (B,C) when given. */
export function layernormBackward(dx: FloatArray | null, dgamma: FloatArray | null, dbeta: FloatArray | null,
                                  dy: FloatArray, x: FloatArray, gamma: FloatArray | null, mean: FloatArray,
                                  invstd: FloatArray, B: number, C: number): void {
  for (let b = 0; b < B; b++) {
    const o = b * C;
    let sumG = 0;
    let sumGXhat = 0;
    for (let c = 0; c < C; c++) {
      const xhat = round(x, x[o + c] - mean[b]) * invstd[b];
      const g = dy[o + c] * (gamma !== null ? gamma[c] : 1);
      sumG += g;
      sumGXhat += g * xhat;
      if (dgamma !== null) dgamma[c] += dy[o + c] * xhat;
      if (dbeta !== null) dbeta[c] += dy[o + c];
    }
    if (dx === null) continue;
    const is = invstd[b];
    for (let c = 0; c < C; c++) {
      const xhat = round(x, x[o + c] - mean[b]) * is;
      const g = dy[o + c] * (gamma !== null ? gamma[c] : 1);
      dx[o + c] = is / C * (C * g - sumG - xhat * sumGXhat);
    }
  }
}

/**
 * The native core computes x̂ in T: in float32 it rounds (x − μ) and (x − μ)·invstd
 * to float, and so does this engine, to keep the float32 engines close.
 */
function round(like: FloatArray, v: number): number {
  return like instanceof Float32Array ? Math.fround(v) : v;
}
