// ADALINE (SPEC.md §6; seed 002 §1.4): a linear unit z = x·w + b fitted to the
// targets by least squares with the Widrow–Hoff delta rule w += η(y − z)x,
// thresholded only to predict a class. Options:
// - normalize: the normalised LMS step w += η(y − z)x/‖x‖² (Nagumo & Noda 1967,
//   "NLMS"; the seed notes write ‖x‖, which leaves the step scale-dependent —
//   with ‖x‖² a step of η = 1 makes the sample's error exactly zero). The norm
//   includes the constant bias input 1.
// - mode 'batch': the full-batch gradient step w += η·Xᵀ(y − Xw − b)/n, which
//   converges to the least-squares solution for η < 2/λmax(XᵀX/n).
// Batch steps and the per-epoch loss use the engine's gemm; the per-sample rule
// runs in TypeScript on both engines (see common.ts for why).
import type { FloatArray } from '../engine';
import { Matrix } from '../matrix';
import { Rng } from '../rng';
import { ArgumentRangeError, boolean, integer, number, oneOf, options } from '../validate';
import { LinearUnit } from './linear-unit';
import type { SavedOptions } from './persist-format';
import {
  MODEL_OPTION_KEYS, accuracy, affine, axpy, dot, identityOrder, inputMatrix, realTargets, resolveModelOptions, zeros, type ModelOptions,
} from './common';

export interface AdalineOptions extends ModelOptions {
  /** η (default 0.01). */
  lr?: number;
  /** Epochs at most (default 100). */
  maxEpochs?: number;
  /** 'online' (default: one Widrow–Hoff step per sample) or 'batch' (one gradient step per epoch). */
  mode?: 'online' | 'batch';
  /** Online mode: divide each step by ‖x‖² (NLMS). Default false. */
  normalize?: boolean;
  /** Stop when no weight moves more than tol over an epoch (default 1e-9). */
  tol?: number;
  /** Online mode: shuffle the samples each epoch (default false). */
  shuffle?: boolean;
  seed?: number;
  /** predict() returns 1 where z ≥ threshold (default 0.5, for 0/1 targets). */
  threshold?: number;
}

export interface AdalineFitResult {
  epochs: number;
  /** True when an epoch moved no weight by more than tol. */
  converged: boolean;
  /** Mean squared error, mean (y − z)², after each epoch. */
  loss: number[];
}

const MODES = ['online', 'batch'] as const;

export class Adaline extends LinearUnit {
  readonly lr: number;
  readonly maxEpochs: number;
  readonly mode: 'online' | 'batch';
  readonly normalize: boolean;
  readonly tol: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly threshold: number;
  protected readonly modelName = 'Adaline';

  constructor(opts?: AdalineOptions) {
    const o = options('Adaline options', opts,
      [...MODEL_OPTION_KEYS, 'lr', 'maxEpochs', 'mode', 'normalize', 'tol', 'shuffle', 'seed', 'threshold']);
    const { engine, dtype } = resolveModelOptions(o);
    super(engine, dtype);
    this.lr = o.lr === undefined ? 0.01 : number('lr', o.lr, 0, Infinity, { minExclusive: true });
    this.maxEpochs = o.maxEpochs === undefined ? 100 : integer('maxEpochs', o.maxEpochs, 1);
    this.mode = o.mode === undefined ? 'online' : oneOf('mode', o.mode, MODES);
    this.normalize = o.normalize === undefined ? false : boolean('normalize', o.normalize);
    if (this.normalize && this.mode === 'batch') {
      throw new ArgumentRangeError("Expected mode 'online' with normalize: true for Adaline options but received mode 'batch'");
    }
    this.tol = o.tol === undefined ? 1e-9 : number('tol', o.tol, 0);
    this.shuffle = o.shuffle === undefined ? false : boolean('shuffle', o.shuffle);
    this.seed = o.seed === undefined ? 0 : integer('seed', o.seed, 0);
    this.threshold = o.threshold === undefined ? 0.5 : number('threshold', o.threshold);
  }

  protected savedOptions(): SavedOptions {
    return { dtype: this.dtype, lr: this.lr, maxEpochs: this.maxEpochs, mode: this.mode, normalize: this.normalize,
      tol: this.tol, shuffle: this.shuffle, seed: this.seed, threshold: this.threshold };
  }

  /** The threshold turns z into a 0/1 prediction only; learning never uses it. */
  protected get decisionThreshold(): number {
    return this.threshold;
  }

  /** x: rows × inputs; y: real targets (e.g. 0/1 labels), one per row. Starts from zero weights. */
  fit(x: unknown, y: unknown): AdalineFitResult {
    const X = inputMatrix(x, 'x', this.dtype, null);
    const Y = realTargets(y, 'y', X.rows);
    const w = zeros(this.dtype, X.cols);
    const b = zeros(this.dtype, 1);
    const loss: number[] = [];
    const previous = zeros(this.dtype, X.cols + 1);
    const z = zeros(this.dtype, X.rows);
    const order = identityOrder(X.rows);
    const rng = new Rng(this.seed);
    const err = zeros(this.dtype, X.rows);
    let converged = false;
    for (let epoch = 0; epoch < this.maxEpochs && !converged; epoch++) {
      previous.set(w);
      previous[X.cols] = b[0]!;
      if (this.mode === 'online') {
        if (this.shuffle) rng.permutation(X.rows, order);
        this.onlineEpoch(X, Y, w, b, order);
      } else {
        this.batchEpoch(X, Y, w, b, z, err);
      }
      affine(this.engineImpl, X.data, X.rows, X.cols, w, b, 1, z);
      let sse = 0;
      for (let i = 0; i < X.rows; i++) sse += (Y[i]! - z[i]!) ** 2;
      loss.push(sse / X.rows);
      if (!Number.isFinite(sse)) {
        throw new ArgumentRangeError(`Adaline diverged at epoch ${epoch + 1} (loss ${sse}); try a smaller lr or normalize: true`);
      }
      let moved = Math.abs(b[0]! - previous[X.cols]!);
      for (let j = 0; j < X.cols; j++) moved = Math.max(moved, Math.abs(w[j]! - previous[j]!));
      converged = moved <= this.tol;
    }
    this.setFitted(w, b);
    return { epochs: loss.length, converged, loss };
  }

  /**
   * Fraction of rows whose predicted class equals y's, y thresholded as z is
   * (y ≥ threshold → 1): 0/1 labels with the default threshold 0.5, or
   * Widrow and Hoff's −1/+1 targets with threshold 0.
   */
  score(x: unknown, y: unknown): number {
    const p = this.thresholded(x, 'score');
    const truth = realTargets(y, 'y', p.length).map((v) => (v >= this.threshold ? 1 : 0));
    return accuracy(p, truth);
  }

  /** Widrow–Hoff, one sample at a time: z = x_i·w + b; w += η(y_i − z)·x_i (/‖x_i‖² if normalized). */
  private onlineEpoch(X: Matrix, Y: Float64Array, w: FloatArray, b: FloatArray, order: Int32Array): void {
    const d = X.cols;
    for (let k = 0; k < X.rows; k++) {
      const i = order[k]!;
      const xi = X.data.subarray(i * d, (i + 1) * d);
      let step = this.lr * (Y[i]! - (dot(xi, w) + b[0]!));
      if (this.normalize) {
        let norm2 = 1;  // the bias input
        for (let j = 0; j < d; j++) norm2 += xi[j]! * xi[j]!;
        step /= norm2;
      }
      axpy(step, xi, w);
      b[0]! += step;
    }
  }

  /** Full-batch gradient step of the mean squared error: w += η·(y − z)ᵀX/n, b += η·mean(y − z). */
  private batchEpoch(X: Matrix, Y: Float64Array, w: FloatArray, b: FloatArray, z: FloatArray, err: FloatArray): void {
    affine(this.engineImpl, X.data, X.rows, X.cols, w, b, 1, z);
    let errSum = 0;
    for (let i = 0; i < X.rows; i++) {
      err[i] = Y[i]! - z[i]!;
      errSum += err[i]!;
    }
    // (1 × n)·(n × d), accumulated into w with beta = 1.
    this.engineImpl.gemm(false, false, 1, X.cols, X.rows, this.lr / X.rows, err, X.data, 1, w);
    b[0]! += this.lr * errSum / X.rows;
  }

}
