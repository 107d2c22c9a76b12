// Rosenblatt's perceptron (SPEC.md §6; seed 002 §1.3): ŷ = step(x·w + b) with
// step(z) = 1 if z ≥ 0 else 0, weights and bias start at zero, and each sample
// applies w += η(y − ŷ)x, b += η(y − ŷ). Training stops after the first epoch
// that makes no mistake — which never happens when the classes are not
// linearly separable (XOR), so fit reports whether it converged. The per-sample
// rule runs in TypeScript on both engines (see common.ts); predictions over
// many rows use the engine's gemm.
import { Rng } from '../rng';
import { boolean, integer, number, options } from '../validate';
import { LinearUnit } from './linear-unit';
import type { SavedOptions } from './persist-format';
import {
  MODEL_OPTION_KEYS, accuracy, axpy, binaryTargets, dot, identityOrder, inputMatrix, resolveModelOptions, zeros, type ModelOptions,
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

export class Perceptron extends LinearUnit {
  readonly lr: number;
  readonly maxEpochs: number;
  readonly shuffle: boolean;
  readonly seed: number;
  protected readonly modelName = 'Perceptron';

  constructor(opts?: PerceptronOptions) {
    const o = options('Perceptron options', opts, [...MODEL_OPTION_KEYS, 'lr', 'maxEpochs', 'shuffle', 'seed']);
    const { engine, dtype } = resolveModelOptions(o);
    super(engine, dtype);
    this.lr = o.lr === undefined ? 1 : number('lr', o.lr, 0, Infinity, { minExclusive: true });
    this.maxEpochs = o.maxEpochs === undefined ? 100 : integer('maxEpochs', o.maxEpochs, 1);
    this.shuffle = o.shuffle === undefined ? false : boolean('shuffle', o.shuffle);
    this.seed = o.seed === undefined ? 0 : integer('seed', o.seed, 0);
  }

  protected savedOptions(): SavedOptions {
    return { dtype: this.dtype, lr: this.lr, maxEpochs: this.maxEpochs, shuffle: this.shuffle, seed: this.seed };
  }

  /** step(z) = 1 for z ≥ 0. */
  protected get decisionThreshold(): number {
    return 0;
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
    this.setFitted(w, b);
    return { epochs: mistakes.length, converged, mistakes };
  }

  /** Fraction of rows whose predicted label equals y. */
  score(x: unknown, y: unknown): number {
    const p = this.thresholded(x, 'score');
    return accuracy(p, binaryTargets(y, 'y', p.length));
  }
}
