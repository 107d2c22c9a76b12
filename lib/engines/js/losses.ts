// Built-in losses of the pure-TypeScript engine, forward and backward, with
// PyTorch's conventions (same semantics as native/core/losses.h; SPEC.md §3):
//
//  mse            L = Σ (pred − t)²  over all B·C elements; 'mean' divides by B·C
//                 (torch.nn.MSELoss).  dL/dpred = 2(pred − t) [/ (B·C)].
//  cross-entropy  softmax + categorical cross-entropy computed from logits z
//                 (torch.nn.CrossEntropyLoss). Per row, with
//                 lse = max + log Σ_j e^{z_j − max}  (log-sum-exp, max-shifted),
//                 log p_j = z_j − lse and the smoothed target
//                 q = (1 − ε)·t + ε/C   (t one-hot for class indices),
//                 ℓ = −Σ_j q_j log p_j = Σ_j q_j (lse − z_j);
//                 'mean' divides the sum of ℓ by B.
//                 dℓ/dz_j = p_j·Σ_k q_k − q_j, which is p_j − q_j whenever the
//                 target rows are distributions (always so for class indices).
//
// One routine computes the loss and, when asked, the gradient in the same pass
// (one softmax per row), so forward and backward can never disagree.

import type { FloatArray, LossSpec, Target } from '../../engine';
import { ArgumentRangeError } from '../../validate';

/**
 * Throws when the spec itself is malformed (kind, reduction, smoothing).
 * labelSmoothing is range-checked for every kind but only used by cross-entropy.
 */
export function validateLossSpec(spec: LossSpec): void {
  if (spec.kind !== 'mse' && spec.kind !== 'cross-entropy') {
    throw new ArgumentRangeError(`Expected 'mse' or 'cross-entropy' for loss.kind but received ${String(spec.kind)}`);
  }
  if (spec.reduction !== 'mean' && spec.reduction !== 'sum') {
    throw new ArgumentRangeError(`Expected 'mean' or 'sum' for loss.reduction but received ${String(spec.reduction)}`);
  }
  const eps = spec.labelSmoothing;
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) {
    throw new ArgumentRangeError(`Expected a number in [0, 1] for loss.labelSmoothing but received ${String(eps)}`);
  }
}

/**
 * Checks that the target's form suits the loss, the shape is non-empty and
 * class indices are in range, before anything is written (so a bad target
 * never leaves a half-written gradient behind). RangeError throughout, as
 * the native core's std::invalid_argument becomes in the binding.
 */
export function validateTarget(spec: LossSpec, rows: number, cols: number, target: Target): void {
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 1 && cols >= 1)) {
    throw new ArgumentRangeError(`Expected at least 1 row and 1 column for pred but received ${rows} × ${cols}`);
  }
  const length = target instanceof Int32Array ? rows : rows * cols;
  if (target.length < length) {
    throw new ArgumentRangeError(`Expected at least ${length} values for target but received ${target.length}`);
  }
  if (target instanceof Int32Array) {
    if (spec.kind !== 'cross-entropy') {
      throw new ArgumentRangeError(`Expected a dense target (rows × cols) for target of loss '${spec.kind}' but received class indices`);
    }
    for (let r = 0; r < rows; r++) {
      const t = target[r];
      if (t < 0 || t >= cols) {
        throw new ArgumentRangeError(`Expected class indices in [0, ${cols}) for target but received ${t} at target[${r}]`);
      }
    }
  }
}

/** mse: returns the reduced loss; writes dLoss/dpred = 2(pred − t)·scale into grad when given. */
function mse(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: FloatArray,
             grad: FloatArray | null): number {
  const n = rows * cols;
  const scale = spec.reduction === 'mean' ? 1 / n : 1;
  let total = 0;
  if (grad === null) {
    for (let i = 0; i < n; i++) {
      const d = pred[i] - target[i];
      total += d * d;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const d = pred[i] - target[i];
      total += d * d;
      grad[i] = 2 * d * scale;
    }
  }
  return total * scale;
}

/** Cross-entropy from logits; see the file comment for the formulas. */
function crossEntropy(spec: LossSpec, z: FloatArray, rows: number, cols: number,
                      target: Target, grad: FloatArray | null): number {
  const eps = spec.labelSmoothing;
  const uniform = eps / cols;
  const keep = 1 - eps;
  const scale = spec.reduction === 'mean' ? 1 / rows : 1;
  const indices = target instanceof Int32Array ? target : null;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = z[o];
    for (let j = 1; j < cols; j++) {
      const v = z[o + j];
      if (!(v <= max)) max = v; // NaN wins, so a NaN logit poisons the loss
    }
    let sumExp = 0;
    for (let j = 0; j < cols; j++) sumExp += Math.exp(z[o + j] - max);
    const lse = max + Math.log(sumExp);

    let loss = 0;
    let qSum: number;
    if (indices !== null) {
      // One-hot t: ℓ = (1−ε)(lse − z_t) + (ε/C) Σ_j (lse − z_j); Σq = 1.
      const t = indices[r];
      loss = keep * (lse - z[o + t]);
      if (eps !== 0) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += lse - z[o + j];
        loss += uniform * s;
      }
      qSum = 1;
    } else {
      qSum = 0;
      for (let j = 0; j < cols; j++) {
        const q = keep * target[o + j] + uniform;
        qSum += q;
        loss += q * (lse - z[o + j]);
      }
    }
    total += loss;

    if (grad !== null) {
      // dℓ/dz_j = p_j·Σq − q_j with p_j = e^{z_j − lse}, in the arrangement of
      // losses.cc: float64 results differ only where Math.exp and std::exp round
      // differently (≈1e-16 relative).
      for (let j = 0; j < cols; j++) {
        const p = Math.exp(z[o + j] - lse);
        const q = indices !== null
          ? (j === indices[r] ? keep : 0) + uniform
          : keep * target[o + j] + uniform;
        grad[o + j] = (p * qSum - q) * scale;
      }
    }
  }
  return total * scale;
}

/**
 * Loss of pred (rows, cols) against target; writes dLoss/dpred (rows, cols)
 * into grad when grad is non-null. Returns the reduced loss as a double.
 * Throws RangeError for a target form the loss cannot use, an empty shape or
 * an out-of-range class index (naming `target`).
 */
export function lossForwardBackward(spec: LossSpec, pred: FloatArray, rows: number,
                                    cols: number, target: Target,
                                    grad: FloatArray | null): number {
  validateTarget(spec, rows, cols, target);
  if (pred.length < rows * cols) {
    throw new ArgumentRangeError(`Expected at least ${rows * cols} values for pred but received ${pred.length}`);
  }
  if (grad !== null && grad.length < rows * cols) {
    throw new ArgumentRangeError(`Expected at least ${rows * cols} values for grad but received ${grad.length}`);
  }
  if (spec.kind === 'mse') {
    return mse(spec, pred, rows, cols, target as FloatArray, grad);
  }
  return crossEntropy(spec, pred, rows, cols, target, grad);
}

/** The reduced loss only. */
export function lossForward(spec: LossSpec, pred: FloatArray, rows: number, cols: number,
                            target: Target): number {
  validateLossSpec(spec);
  return lossForwardBackward(spec, pred, rows, cols, target, null);
}

/** Writes dLoss/dpred (rows, cols) into grad; overwrites grad. */
export function lossBackward(spec: LossSpec, pred: FloatArray, rows: number, cols: number,
                             target: Target, grad: FloatArray): void {
  validateLossSpec(spec);
  lossForwardBackward(spec, pred, rows, cols, target, grad);
}
