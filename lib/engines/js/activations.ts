// Element-wise activations (and row-wise softmax), forward and backward, for
// the pure-TypeScript engine. Same semantics as native/core/activations.h;
// formulas from SPEC.md §2:
//   identity  f = x                      f' = 1
//   relu      f = max(0, x), NaN kept    f' = [x > 0]          (0 at the kink, as PyTorch)
//   sigmoid   f = 1/(1+e^-x)             f' = y(1 − y)
//   tanh      f = tanh x                 f' = 1 − y²
//   softmax   y_i = e^{x_i−max}/Σ_j e^{x_j−max} per row (max-subtracted, notes 002)
//             dx_i = y_i (dy_i − Σ_j dy_j y_j)    (Jacobian S_i(δ_ij − S_j) applied to dy)
// Derivatives use the forward output y where it is cheaper, exactly as the
// native core does, so both engines round the same way.
//
// Buffers are row-major (rows, cols) and may be longer than rows·cols (the
// plan's buffers are sized for its largest batch): only the leading
// rows·cols elements are touched.

import type { ActivationName, FloatArray } from '../../engine';
import { ArgumentRangeError } from '../../validate';

/**
 * Numerically stable logistic function: for x ≥ 0, 1/(1+e^-x) cannot
 * overflow; for x < 0 the algebraically equal e^x/(1+e^x) avoids e^-x = ∞
 * (which would give 1/∞ = 0 correctly, but loses the tiny tail precision).
 */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Row-wise softmax of x into y (rows, cols); y may alias x. */
function softmaxForward(x: FloatArray, y: FloatArray, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    // Subtracting the row maximum keeps every exponent ≤ 0 (no overflow) and
    // leaves the result unchanged: softmax(x + c) = softmax(x) (notes 002).
    let max = x[o];
    for (let j = 1; j < cols; j++) {
      const v = x[o + j];
      if (!(v <= max)) max = v; // a NaN becomes the "max", so it propagates
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[o + j] - max);
      y[o + j] = e;
      sum += e;
    }
    // Sum in double before the (possibly float32) stores are divided, so the
    // row is normalised with the unrounded total.
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) y[o + j] = y[o + j] * inv;
  }
}

/**
 * y (rows, cols) = f(x). y may alias x.
 * A softmax row holding NaN, or +∞, or only −∞ yields NaN, as in PyTorch.
 */
export function activationForward(act: ActivationName, x: FloatArray, y: FloatArray,
                                  rows: number, cols: number): void {
  const n = rows * cols;
  switch (act) {
    case 'identity':
      if (x !== y) for (let i = 0; i < n; i++) y[i] = x[i];
      return;
    case 'relu':
      // max(0, x), but NaN stays NaN (torch.relu; activations.cc): a NaN that
      // reached a hidden layer must still show up in the loss.
      for (let i = 0; i < n; i++) {
        const v = x[i];
        y[i] = v > 0 ? v : v <= 0 ? 0 : v;
      }
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) y[i] = sigmoid(x[i]);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
      return;
    case 'softmax':
      softmaxForward(x, y, rows, cols);
      return;
    default:
      throw new ArgumentRangeError(`Expected an activation name for act but received ${String(act)}`);
  }
}

/**
 * dx (rows, cols) = dL/dx given dy = dL/dy, the forward input x and output y.
 * Overwrites dx; dx may alias dy (each element of dy is read before the same
 * element of dx is written, and softmax reads its whole row first).
 */
export function activationBackward(act: ActivationName, x: FloatArray, y: FloatArray,
                                   dy: FloatArray, dx: FloatArray, rows: number,
                                   cols: number): void {
  const n = rows * cols;
  switch (act) {
    case 'identity':
      if (dx !== dy) for (let i = 0; i < n; i++) dx[i] = dy[i];
      return;
    case 'relu':
      // Subgradient 0 at x = 0 (PyTorch's choice; SPEC.md §2).
      for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) {
        const s = y[i];
        dx[i] = dy[i] * s * (1 - s);
      }
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) {
        const t = y[i];
        dx[i] = dy[i] * (1 - t * t);
      }
      return;
    case 'softmax':
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += dy[o + j] * y[o + j];
        for (let j = 0; j < cols; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
      }
      return;
    default:
      throw new ArgumentRangeError(`Expected an activation name for act but received ${String(act)}`);
  }
}
