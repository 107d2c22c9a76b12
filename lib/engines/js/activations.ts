// Activations for the pure-TypeScript engine, forward and backward, with the
// semantics of native/core/activations.h (SPEC.md §2, PyTorch's definitions).
// Element-wise ones are scalar pairs (activation-ops.ts) plugged into one
// loop template; softmax and log-softmax are row-wise:
//   softmax      y_i = e^{x_i−max}/Σ_j e^{x_j−max} per row (max-subtracted, notes 002)
//                dx_i = y_i (dy_i − Σ_j dy_j y_j)    (Jacobian S_i(δ_ij − S_j) applied to dy)
//   log-softmax  y_i = (x_i − max) − log Σ_j e^{x_j−max}
//                dx_i = dy_i − e^{y_i} Σ_j dy_j
//
// A plan resolves each activation layer once into an ActivationKernel, so the
// per-batch calls allocate nothing. Buffers are row-major (rows, cols) and may
// be longer than rows·cols (the plan's buffers are sized for its largest
// batch): only the leading rows·cols elements are touched.

import type { ActivationName, ActivationParams, FloatArray } from '../../engine';
import {
  SELU_ALPHA, SELU_LAMBDA, geluErf, geluTanh, leakyRelu, relu, scaledElu, sigmoidOp,
  softplus, swish, tanh, hardtanh, logSigmoid, type ScalarActivation,
} from './activation-ops';
import { ArgumentRangeError } from '../../validate';

export { sigmoid, erf } from './activation-ops';

export const ACTIVATION_NAMES: readonly ActivationName[] = [
  'identity', 'relu', 'sigmoid', 'tanh', 'softmax', 'log-softmax', 'leaky-relu', 'elu', 'selu',
  'softplus', 'gelu', 'silu', 'swish', 'hardtanh', 'relu6', 'logsigmoid',
];

/** One activation with its parameters bound: y = f(x) and dx = dy·f'(x) over (rows, cols). */
export interface ActivationKernel {
  /** y may alias x. */
  forward(x: FloatArray, y: FloatArray, rows: number, cols: number): void;
  /** Overwrites dx; dx may alias dy (each row of dy is read before dx is written). */
  backward(x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void;
}

/** The loop template for every element-wise activation. */
class UnaryKernel implements ActivationKernel {
  constructor(private readonly op: ScalarActivation) {}

  forward(x: FloatArray, y: FloatArray, rows: number, cols: number): void {
    const op = this.op;
    const n = rows * cols;
    for (let i = 0; i < n; i++) y[i] = op.fwd(x[i]!);
  }

  backward(x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void {
    const op = this.op;
    const n = rows * cols;
    for (let i = 0; i < n; i++) dx[i] = dy[i]! * op.grad(x[i]!, y[i]!);
  }
}

/** The row maximum, or a NaN of the row, so that it propagates (as PyTorch). */
function rowMax(x: FloatArray, o: number, cols: number): number {
  let max = x[o]!;
  for (let j = 1; j < cols; j++) {
    const v = x[o + j]!;
    if (!(v <= max)) max = v; // a NaN becomes the "max"
  }
  return max;
}

const identityKernel: ActivationKernel = {
  forward(x, y, rows, cols) {
    if (x !== y) for (let i = 0, n = rows * cols; i < n; i++) y[i] = x[i]!;
  },
  backward(_x, _y, dy, dx, rows, cols) {
    if (dx !== dy) for (let i = 0, n = rows * cols; i < n; i++) dx[i] = dy[i]!;
  },
};

/** A row holding NaN, or +∞, or only −∞ yields NaN, as in PyTorch. */
const softmaxKernel: ActivationKernel = {
  forward(x, y, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      // Subtracting the row maximum keeps every exponent ≤ 0 (no overflow) and
      // leaves the result unchanged: softmax(x + c) = softmax(x) (notes 002).
      const max = rowMax(x, o, cols);
      let sum = 0;
      for (let j = 0; j < cols; j++) {
        const e = Math.exp(x[o + j]! - max);
        y[o + j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < cols; j++) y[o + j] = y[o + j]! * inv;
    }
  },
  backward(_x, y, dy, dx, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let dot = 0;
      for (let j = 0; j < cols; j++) dot += dy[o + j]! * y[o + j]!;
      for (let j = 0; j < cols; j++) dx[o + j] = y[o + j]! * (dy[o + j]! - dot);
    }
  },
};

const logSoftmaxKernel: ActivationKernel = {
  // Computed from x − max directly rather than as log(softmax), which would
  // lose the tail (log of an underflowed 0 is −∞).
  forward(x, y, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const max = rowMax(x, o, cols);
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += Math.exp(x[o + j]! - max);
      const logSum = Math.log(sum);
      for (let j = 0; j < cols; j++) y[o + j] = x[o + j]! - max - logSum;
    }
  },
  backward(_x, y, dy, dx, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += dy[o + j]!;
      for (let j = 0; j < cols; j++) dx[o + j] = dy[o + j]! - Math.exp(y[o + j]!) * sum;
    }
  },
};

const RELU = new UnaryKernel(relu);
const SIGMOID = new UnaryKernel(sigmoidOp);
const TANH = new UnaryKernel(tanh);
const SELU = new UnaryKernel(scaledElu(SELU_LAMBDA, SELU_ALPHA));
const SILU = new UnaryKernel(swish(1));
const GELU = new UnaryKernel(geluErf);
const GELU_TANH = new UnaryKernel(geluTanh);
const RELU6 = new UnaryKernel(hardtanh(0, 6));
const LOG_SIGMOID = new UnaryKernel(logSigmoid);

function fail(where: string, what: string, actual: unknown): never {
  throw new ArgumentRangeError(`Expected ${what} for ${where} but received ${String(actual)}`);
}

function finiteParam(where: string, value: number | undefined, fallback: number, positive: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || (positive && !(value > 0))) {
    fail(where, positive ? 'a finite number > 0' : 'a finite number', value);
  }
  return value;
}

/**
 * Resolves and validates an activation with its parameters (the engine-side
 * re-check of native/core validate_activation): every parameter finite;
 * elu alpha > 0; softplus beta and threshold > 0; hardtanh maxVal > minVal. `where` names the layer in
 * errors, e.g. 'layers[1]'.
 */
export function activationKernel(act: ActivationName, params: ActivationParams = {},
                                 where = 'activation'): ActivationKernel {
  switch (act) {
    case 'identity': return identityKernel;
    case 'relu': return RELU;
    case 'sigmoid': return SIGMOID;
    case 'tanh': return TANH;
    case 'softmax': return softmaxKernel;
    case 'log-softmax': return logSoftmaxKernel;
    case 'selu': return SELU;
    case 'silu': return SILU;
    case 'relu6': return RELU6;
    case 'logsigmoid': return LOG_SIGMOID;
    case 'hardtanh': {
      const lo = finiteParam(`${where}.minVal`, params.minVal, -1, false);
      const hi = finiteParam(`${where}.maxVal`, params.maxVal, 1, false);
      if (!(hi > lo)) fail(`${where}.maxVal`, `a finite number > minVal (${lo})`, hi);
      return new UnaryKernel(hardtanh(lo, hi));
    }
    case 'leaky-relu':
      return new UnaryKernel(leakyRelu(finiteParam(`${where}.negativeSlope`, params.negativeSlope, 0.01, false)));
    case 'elu':
      return new UnaryKernel(scaledElu(1, finiteParam(`${where}.alpha`, params.alpha, 1, true)));
    case 'softplus':
      return new UnaryKernel(softplus(finiteParam(`${where}.beta`, params.beta, 1, true),
        finiteParam(`${where}.threshold`, params.threshold, 20, true)));
    case 'swish':
      return new UnaryKernel(swish(finiteParam(`${where}.beta`, params.beta, 1, false)));
    case 'gelu': {
      const a = params.approximate;
      if (a === undefined || a === 'none') return GELU;
      if (a === 'tanh') return GELU_TANH;
      return fail(`${where}.approximate`, "'none' or 'tanh'", a);
    }
    default:
      return fail(`${where}.activation`, `one of ${ACTIVATION_NAMES.join(', ')}`, act);
  }
}

/** y (rows, cols) = f(x). y may alias x. */
export function activationForward(act: ActivationName, x: FloatArray, y: FloatArray,
                                  rows: number, cols: number, params: ActivationParams = {}): void {
  activationKernel(act, params).forward(x, y, rows, cols);
}

/**
 * dx (rows, cols) = dL/dx given dy = dL/dy, the forward input x and output y.
 * Overwrites dx; dx may alias dy.
 */
export function activationBackward(act: ActivationName, x: FloatArray, y: FloatArray,
                                   dy: FloatArray, dx: FloatArray, rows: number,
                                   cols: number, params: ActivationParams = {}): void {
  activationKernel(act, params).backward(x, y, dy, dx, rows, cols);
}
