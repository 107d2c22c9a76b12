// Rosenblatt's perceptron (SPEC.md §6; seed 002 §1.3): ŷ = step(x·w + b) with
// step(z) = 1 if z ≥ 0 else 0, weights and bias start at zero, and each sample
// applies w += η(y − ŷ)x, b += η(y − ŷ). Training stops after the first epoch
// that makes no mistake — which never happens when the classes are not
// linearly separable (XOR), so fit reports whether it converged. The per-sample
// rule runs in TypeScript on both engines (see common.ts); predictions over
// many rows use the engine's gemm.
import type { Dtype, Engine, FloatArray } from '../engine';
import { Matrix } from '../matrix';
import { Rng } from '../rng';
import { boolean, integer, number, options } from '../validate';
import {
  MODEL_OPTION_KEYS, accuracy, axpy, binaryTargets, dot, identityOrder, inputMatrix, requireFitted, resolveModelOptions, zeros,
  type ModelOptions,
} from './common';

export interface PerceptronOptions extends ModelOptions {
  /** η, the step on a mistake (default 1; with zero init any η > 0 makes the same mistakes). */
  lr?: number;
  /** Epochs before giving up on a separator (default 100). */
  maxEpochs?: number;
  /** Visit samples in a new random order each epoch (default false: data order, as the notes). */
  shuffle?: boolean;
  /** Seed for shuffling (default 0). */
  seed?: number;
}

export interface PerceptronFitResult {
  /** Epochs run, including the final mistake-free one when converged. */
  epochs: number;
  /** True when an epoch made no mistake (a separating hyperplane was found). */
  converged: boolean;
  /** Mistakes (= updates) in each epoch. */
  mistakes: number[];
}

export class Perceptron {
  readonly lr: number;
  readonly maxEpochs: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dtype: Dtype;
  private readonly engineImpl: Engine;
  private w: FloatArray | null = null;
  private b: FloatArray | null = null;

  constructor(opts?: PerceptronOptions) {
    const o = options('Perceptron options', opts, [...MODEL_OPTION_KEYS, 'lr', 'maxEpochs', 'shuffle', 'seed']);
    const { engine, dtype } = resolveModelOptions(o);
    this.engineImpl = engine;
    this.dtype = dtype;
    this.lr = o.lr === undefined ? 1 : number('lr', o.lr, 0, Infinity, { minExclusive: true });
    this.maxEpochs = o.maxEpochs === undefined ? 100 : integer('maxEpochs', o.maxEpochs, 1);
    this.shuffle = o.shuffle === undefined ? false : boolean('shuffle', o.shuffle);
    this.seed = o.seed === undefined ? 0 : integer('seed', o.seed, 0);
  }

  get engine(): string {
    return this.engineImpl.name;
  }

  /** The weight as a 1 × inputs row (copy), or null before fit. */
  get weight(): FloatArray | null {
    return this.w ? this.w.slice() : null;
  }

  get bias(): number | null {
    return this.b ? this.b[0]! : null;
  }

  /** x: rows × inputs; y: labels 0/1, one per row. Starts from zero weights each call. */
  fit(x: unknown, y: unknown): PerceptronFitResult {
    const X = inputMatrix(x, 'x', this.dtype, null);
    const Y = binaryTargets(y, 'y', X.rows);
    const d = X.cols;
    const w = zeros(this.dtype, d);
    const b = zeros(this.dtype, 1);
    const rng = new Rng(this.seed);
    const order = identityOrder(X.rows);
    const mistakes: number[] = [];
    let converged = false;
    for (let epoch = 0; epoch < this.maxEpochs && !converged; epoch++) {
      if (this.shuffle) rng.permutation(X.rows, order);
      let errors = 0;
      for (let k = 0; k < X.rows; k++) {
        const i = order[k]!;
        const xi = X.data.subarray(i * d, (i + 1) * d);
        const predicted = dot(xi, w) + b[0]! >= 0 ? 1 : 0;
        const e = Y[i]! - predicted;
        if (e === 0) continue;
        errors++;
        axpy(this.lr * e, xi, w);
        b[0]! += this.lr * e;
      }
      mistakes.push(errors);
      converged = errors === 0;
    }
    this.w = w;
    this.b = b;
    return { epochs: mistakes.length, converged, mistakes };
  }

  /** x·wᵀ + b for each row (rows × 1), the input of the step function. */
  decisionFunction(x: unknown): Matrix {
    requireFitted(this.w !== null, 'Perceptron', 'decisionFunction');
    const w = this.w as FloatArray;
    const X = inputMatrix(x, 'x', this.dtype, w.length);
    const z = zeros(this.dtype, X.rows);
    this.engineImpl.gemm(false, true, X.rows, 1, X.cols, 1, X.data, w, 0, z);
    const b = (this.b as FloatArray)[0]!;
    for (let i = 0; i < X.rows; i++) z[i]! += b;
    return new Matrix(X.rows, 1, z);
  }

  /** step(x·wᵀ + b): 1 where the decision value is ≥ 0, else 0. */
  predict(x: unknown): Int32Array {
    const z = this.decisionFunction(x).data;
    const out = new Int32Array(z.length);
    for (let i = 0; i < z.length; i++) out[i] = z[i]! >= 0 ? 1 : 0;
    return out;
  }

  /** Fraction of rows whose predicted label equals y. */
  score(x: unknown, y: unknown): number {
    const p = this.predict(x);
    return accuracy(p, binaryTargets(y, 'y', p.length));
  }
}
