// Built-in losses of the pure-TypeScript engine, forward and backward, with
// PyTorch's conventions and the same semantics as native/core/losses.h (which
// has the full table; SPEC.md §3). This file checks specs and targets,
// dispatches, and computes the row and set losses; the element-wise ones are
// in losses-elementwise.ts.
//
//  cross-entropy  softmax + categorical CE from logits z (torch.nn.CrossEntropyLoss).
//                 Per row, lse = max + log Σ_j e^{z_j − max}, and ℓ = Σ_k a_k (lse − z_k) with
//                   class index y:  a_k = (1−ε)·w_y·[k = y] + (ε/C)·w_k
//                   soft row t:     a_k = w_k·((1−ε)·t_k + ε/C)
//                 (w = 1 without class weights). 'mean' divides by Σ_b w_{y_b} for
//                 class indices (B unweighted) and by B for soft rows, as PyTorch.
//                 dℓ/dz_k = softmax_k·Σ_j a_j − a_k.
//  nll            ℓ = −w_y·x_y on log-probabilities; 'mean' divides by Σ_b w_{y_b}.
//  dice           1 − (2Σab + s)/(Σa² + Σb² + s) over the whole batch; 'mean' only.
//
// One routine computes the loss and, when asked, the gradient in the same pass,
// so forward and backward can never disagree.

import type { FloatArray, LossName, LossSpec, Reduction, Target } from '../../engine';
import { checkElementwiseValues, elementwiseLoss, isElementwiseLoss } from './losses-elementwise';
import { ArgumentTypeError, ArgumentRangeError } from '../../validate';

const KINDS: readonly LossName[] = ['mse', 'cross-entropy', 'mae', 'huber', 'tukey', 'quantile', 'barron', 'bce',
  'bce-with-logits', 'nll', 'kl-div', 'hinge', 'squared-hinge', 'dice', 'focal'];
const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none', 'batchmean'];
const WEIGHTED: readonly LossName[] = ['cross-entropy', 'nll', 'bce', 'bce-with-logits'];

/** A LossSpec with every option resolved to a value (defaults as native default_loss_spec). */
export interface FullLossSpec {
  kind: LossName;
  reduction: Reduction;
  labelSmoothing: number;
  delta: number;
  tau: number;
  alpha: number;
  scale: number;
  gamma: number;
  smooth: number;
  posWeight: number;
  classWeights: Float64Array | null;
}

function checkNumber(name: string, v: number, ok: boolean, what: string): void {
  if (typeof v !== 'number' || !ok) throw new ArgumentRangeError(`Expected ${what} for loss.${name} but received ${String(v)}`);
}

/**
 * Resolves the defaults and throws when the spec itself is malformed (kind,
 * reduction allowed for the kind, option ranges, class weights).
 */
export function resolveLossSpec(spec: LossSpec): FullLossSpec {
  if (!KINDS.includes(spec.kind)) {
    throw new ArgumentRangeError(`Expected a built-in loss name for loss.kind but received ${String(spec.kind)}`);
  }
  if (!REDUCTIONS.includes(spec.reduction)) {
    throw new ArgumentRangeError(`Expected 'mean', 'sum', 'none' or 'batchmean' for loss.reduction but received ${String(spec.reduction)}`);
  }
  if (spec.reduction === 'batchmean' && spec.kind !== 'kl-div') {
    throw new ArgumentRangeError(`Expected 'mean', 'sum' or 'none' for loss.reduction of '${spec.kind}' but received 'batchmean' (kl-div only)`);
  }
  if (spec.kind === 'dice' && spec.reduction !== 'mean') {
    throw new ArgumentRangeError(`Expected 'mean' for loss.reduction of 'dice' (one value for the whole batch) but received '${spec.reduction}'`);
  }
  const full: FullLossSpec = {
    kind: spec.kind,
    reduction: spec.reduction,
    labelSmoothing: spec.labelSmoothing ?? 0,
    delta: spec.delta ?? (spec.kind === 'tukey' ? 4.685 : 1),
    tau: spec.tau ?? 0.5,
    alpha: spec.alpha ?? (spec.kind === 'focal' ? 0.25 : 1),
    scale: spec.scale ?? 1,
    gamma: spec.gamma ?? 2,
    smooth: spec.smooth ?? 1,
    posWeight: spec.posWeight ?? 1,
    classWeights: spec.classWeights ?? null,
  };
  checkNumber('labelSmoothing', full.labelSmoothing, full.labelSmoothing >= 0 && full.labelSmoothing <= 1, 'a number in [0, 1]');
  checkNumber('delta', full.delta, Number.isFinite(full.delta) && full.delta > 0, 'a finite number > 0');
  checkNumber('tau', full.tau, full.tau > 0 && full.tau < 1, 'a number in (0, 1)');
  checkNumber('scale', full.scale, Number.isFinite(full.scale) && full.scale > 0, 'a finite number > 0');
  checkNumber('gamma', full.gamma, Number.isFinite(full.gamma) && full.gamma >= 0, 'a finite number >= 0');
  checkNumber('smooth', full.smooth, Number.isFinite(full.smooth) && full.smooth >= 0, 'a finite number >= 0');
  checkNumber('posWeight', full.posWeight, Number.isFinite(full.posWeight) && full.posWeight > 0, 'a finite number > 0');
  if (full.kind === 'focal') checkNumber('alpha', full.alpha, full.alpha >= 0 && full.alpha <= 1, 'a number in [0, 1]');
  else checkNumber('alpha', full.alpha, full.alpha === -Infinity || Number.isFinite(full.alpha), 'a finite number or -Infinity');
  const w = full.classWeights;
  if (w !== null) {
    if (!(w instanceof Float64Array)) {
      throw new ArgumentTypeError(`Expected a Float64Array for loss.classWeights but received ${String(w)}`);
    }
    if (!WEIGHTED.includes(full.kind)) {
      throw new ArgumentRangeError(`Expected no classWeights for loss '${full.kind}' (cross-entropy, nll, bce and bce-with-logits only)`);
    }
    for (const v of w) checkNumber('classWeights', v, Number.isFinite(v) && v >= 0, 'finite weights >= 0');
  }
  return full;
}

/**
 * A copy of spec for a plan with `outputs` columns: refuses 'none' (no single
 * value to train on) and class weights of the wrong length; copies the weights
 * so later changes to the caller's array cannot reach the plan.
 */
export function lossSpecForTraining(spec: LossSpec, outputs: number): FullLossSpec {
  const full = resolveLossSpec(spec);
  if (full.reduction === 'none') {
    throw new ArgumentRangeError("Expected 'mean' or 'sum' for loss.reduction in training but received 'none'");
  }
  if (full.classWeights !== null && full.classWeights.length !== outputs) {
    throw new ArgumentRangeError(`Expected ${outputs} class weights (one per output) for loss.classWeights but received ${full.classWeights.length}`);
  }
  return { ...full, classWeights: full.classWeights === null ? null : full.classWeights.slice() };
}

/** Number of unreduced values: rows·cols (element-wise), rows (cross-entropy, nll), 0 (dice). */
export function lossValueCount(kind: LossName, rows: number, cols: number): number {
  if (kind === 'dice') return 0;
  return kind === 'cross-entropy' || kind === 'nll' ? rows : rows * cols;
}

/**
 * Checks that the target's form suits the loss, the shape is non-empty, class
 * indices are in range and the values a loss needs in range are, before
 * anything is written (so a bad target never leaves a half-written gradient
 * behind). RangeError throughout, as the native core's std::invalid_argument
 * becomes in the binding.
 */
export function validateTarget(spec: LossSpec, rows: number, cols: number, target: Target,
                               pred: FloatArray | null = null): void {
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 1 && cols >= 1)) {
    throw new ArgumentRangeError(`Expected at least 1 row and 1 column for pred but received ${rows} × ${cols}`);
  }
  const length = target instanceof Int32Array ? rows : rows * cols;
  if (target.length < length) {
    throw new ArgumentRangeError(`Expected at least ${length} values for target but received ${target.length}`);
  }
  const w = spec.classWeights;
  if (w !== undefined && w !== null && w.length !== cols) {
    throw new ArgumentRangeError(`Expected ${cols} class weights (one per column) for loss.classWeights but received ${w.length}`);
  }
  if (target instanceof Int32Array) {
    if (spec.kind !== 'cross-entropy' && spec.kind !== 'nll') {
      throw new ArgumentRangeError(`Expected a dense target (rows × cols) for target of loss '${spec.kind}' but received class indices`);
    }
    for (let r = 0; r < rows; r++) {
      const t = target[r];
      if (t < 0 || t >= cols) {
        throw new ArgumentRangeError(`Expected class indices in [0, ${cols}) for target but received ${t} at target[${r}]`);
      }
    }
  } else if (spec.kind === 'nll') {
    throw new ArgumentRangeError("Expected class indices (an Int32Array) for target of loss 'nll' but received a dense target");
  } else if (pred !== null && isElementwiseLoss(spec.kind)) {
    checkElementwiseValues(spec.kind, pred, rows * cols, target);
  }
}

function weightOf(w: Float64Array | null, k: number): number {
  return w === null ? 1 : w[k];
}

/** Cross-entropy from logits; see the file comment for the formulas. */
function crossEntropy(spec: FullLossSpec, z: FloatArray, rows: number, cols: number, target: Target,
                      grad: FloatArray | null, values: Float64Array | null): number {
  const eps = spec.labelSmoothing;
  const uniform = eps / cols;
  const keep = 1 - eps;
  const w = spec.classWeights;
  const indices = target instanceof Int32Array ? target : null;
  let wsum = 0;
  for (let k = 0; k < cols; k++) wsum += weightOf(w, k);
  let denom = rows;
  if (indices !== null && w !== null) {
    denom = 0;
    for (let r = 0; r < rows; r++) denom += w[indices[r]];
  }
  const scale = spec.reduction === 'mean' ? 1 / denom : 1;
  const coef = (r: number, k: number): number => indices !== null
    ? (k === indices[r] ? keep * weightOf(w, k) : 0) + uniform * weightOf(w, k)
    : weightOf(w, k) * (keep * target[r * cols + k] + uniform);
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
    // lse − z_j as log Σ − (z_j − max), never max + log Σ first (as losses.cc:
    // that sum rounds at the magnitude of max, 1.7e-12 relative at logits of 1e4).
    // (Written out at each use: a closure per row would allocate in the training loop.)
    const logSum = Math.log(sumExp);

    let loss = 0;
    let aSum = 0;
    if (indices !== null) {
      const y = indices[r];
      const wy = weightOf(w, y);
      loss = keep * wy * (logSum - (z[o + y] - max));
      aSum = keep * wy + uniform * wsum;
      if (eps !== 0) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += weightOf(w, j) * (logSum - (z[o + j] - max));
        loss += uniform * s;
      }
    } else {
      for (let j = 0; j < cols; j++) {
        const a = coef(r, j);
        aSum += a;
        loss += a * (logSum - (z[o + j] - max));
      }
    }
    total += loss;
    if (values !== null) values[r] = loss;
    if (grad !== null) {
      // In the arrangement of losses.cc: float64 results differ only where
      // Math.exp and std::exp round differently (≈1e-16 relative).
      for (let j = 0; j < cols; j++) {
        const p = Math.exp((z[o + j] - max) - logSum);
        grad[o + j] = (p * aSum - coef(r, j)) * scale;
      }
    }
  }
  return total * scale;
}

/** torch.nn.NLLLoss on log-probabilities with class indices. */
function nll(spec: FullLossSpec, x: FloatArray, rows: number, cols: number, target: Int32Array,
             grad: FloatArray | null, values: Float64Array | null): number {
  const w = spec.classWeights;
  let denom = 0;
  for (let r = 0; r < rows; r++) denom += weightOf(w, target[r]);
  const scale = spec.reduction === 'mean' ? 1 / denom : 1;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const y = target[r];
    const wy = weightOf(w, y);
    const v = -wy * x[r * cols + y];
    total += v;
    if (values !== null) values[r] = v;
    if (grad !== null) {
      grad.fill(0, r * cols, (r + 1) * cols);
      grad[r * cols + y] = -wy * scale;
    }
  }
  return total * scale;
}

/** Soft dice over the whole batch; ∂D/∂a_i = (2a_i·N − 2b_i·M)/M² with N = 2Σab + s, M = Σa² + Σb² + s. */
function dice(spec: FullLossSpec, a: FloatArray, n: number, b: FloatArray, grad: FloatArray | null): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  const num = 2 * ab + spec.smooth, den = aa + bb + spec.smooth;
  if (grad !== null) {
    for (let i = 0; i < n; i++) grad[i] = (2 * a[i] * num - 2 * b[i] * den) / (den * den);
  }
  return 1 - num / den;
}

function run(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target,
             grad: FloatArray | null, values: Float64Array | null): number {
  const full = resolveLossSpec(spec);
  validateTarget(full, rows, cols, target, pred);
  if (pred.length < rows * cols) {
    throw new ArgumentRangeError(`Expected at least ${rows * cols} values for pred but received ${pred.length}`);
  }
  if (grad !== null && grad.length < rows * cols) {
    throw new ArgumentRangeError(`Expected at least ${rows * cols} values for grad but received ${grad.length}`);
  }
  switch (full.kind) {
    case 'cross-entropy': return crossEntropy(full, pred, rows, cols, target, grad, values);
    case 'nll': return nll(full, pred, rows, cols, target as Int32Array, grad, values);
    case 'dice':
      if (values !== null) throw new ArgumentRangeError("Expected a loss with per-element values for loss.kind but received 'dice'");
      return dice(full, pred, rows * cols, target as FloatArray, grad);
    default: return elementwiseLoss(full, pred, rows, cols, target as FloatArray, grad, values);
  }
}

/**
 * Loss of pred (rows, cols) against target; writes dLoss/dpred (rows, cols)
 * into grad when grad is non-null. Returns the reduced loss as a double.
 * Throws RangeError for a target form the loss cannot use, an empty shape or
 * an out-of-range value (naming `target` or `pred`).
 */
export function lossForwardBackward(spec: LossSpec, pred: FloatArray, rows: number, cols: number,
                                    target: Target, grad: FloatArray | null): number {
  return run(spec, pred, rows, cols, target, grad, null);
}

/** The reduced loss only. */
export function lossForward(spec: LossSpec, pred: FloatArray, rows: number, cols: number,
                            target: Target): number {
  return run(spec, pred, rows, cols, target, null, null);
}

/** Writes dLoss/dpred (rows, cols) into grad; overwrites grad. */
export function lossBackward(spec: LossSpec, pred: FloatArray, rows: number, cols: number,
                             target: Target, grad: FloatArray): void {
  run(spec, pred, rows, cols, target, grad, null);
}

/** The unreduced (class-weighted) values into out (lossValueCount of them). */
export function lossValues(spec: LossSpec, pred: FloatArray, rows: number, cols: number,
                           target: Target, out: Float64Array): void {
  const count = lossValueCount(spec.kind, rows, cols);
  if (count === 0) throw new ArgumentRangeError("Expected a loss with per-element values for loss.kind but received 'dice'");
  if (!(out instanceof Float64Array) || out.length !== count) {
    throw new ArgumentRangeError(`Expected a Float64Array of ${count} values for out but received ${String(out?.length)}`);
  }
  run(spec, pred, rows, cols, target, null, out);
}
