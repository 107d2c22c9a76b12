// Logistic regression (σ(x·w + b), binary cross-entropy; seed 002 §1.5) and
// softmax regression (softmax(x·Wᵀ + b), categorical cross-entropy; §1.6),
// trained by batch or mini-batch gradient descent with an optional L2 penalty
// (λ/2)‖W‖² on the weights. Relation to scikit-learn's LogisticRegression(C):
// its objective C·Σ loss + ½‖W‖² has the same minimiser as ours with λ = 1/(C·n).
import type { Dtype, Engine, FloatArray } from '../engine';
import { Matrix } from '../matrix';
import { ArgumentRangeError, boolean, integer, number, options } from '../validate';
import {
  MODEL_OPTION_KEYS, accuracy, binaryTargets, classTargets, inputMatrix, requireFitted, resolveModelOptions, zeros,
  type ModelOptions,
} from './common';
import { linearProbabilities, trainLinear, type GradientDescentSettings, type Link, type LinearParams } from './gradient-descent';
import {
  SavableModel, tensor, type ClassicState, type SavedOptions,
} from './persist-format';

export interface LinearClassifierOptions extends ModelOptions {
  /** Learning rate η (default 0.1). */
  lr?: number;
  /** Passes over the data (default 100). */
  epochs?: number;
  /** Rows per step (default: all rows, batch gradient descent). */
  batchSize?: number;
  /** λ of the L2 penalty (λ/2)‖W‖² (default 0). */
  l2?: number;
  /** Shuffle rows each epoch (default true; irrelevant for full batches). */
  shuffle?: boolean;
  seed?: number;
}

export interface LinearFitResult {
  /** Mean training loss (cross-entropy + L2 term) per epoch. */
  loss: number[];
}

/** Inferred from the labels, more classes than this is more likely a wrong y than a real task. */
const MAX_INFERRED_CLASSES = 100_000;

const KEYS = [...MODEL_OPTION_KEYS, 'lr', 'epochs', 'batchSize', 'l2', 'shuffle', 'seed'] as const;

/** What both classifiers share: options, parameters, probabilities. */
abstract class LinearClassifier extends SavableModel {
  readonly dtype: Dtype;
  protected readonly engineImpl: Engine;
  protected readonly settings: GradientDescentSettings;
  protected params: LinearParams | null = null;
  protected abstract readonly link: Link;
  protected abstract readonly modelName: 'LogisticRegression' | 'SoftmaxRegression';

  /** The options object after checks (subclasses read their own extra keys from it). */
  protected readonly checkedOptions: Partial<Record<string, unknown>>;

  constructor(name: string, opts: unknown, extraKeys: readonly string[] = []) {
    super();
    const o = options(`${name} options`, opts, [...KEYS, ...extraKeys]);
    this.checkedOptions = o;
    const { engine, dtype } = resolveModelOptions(o);
    this.engineImpl = engine;
    this.dtype = dtype;
    this.settings = {
      lr: o.lr === undefined ? 0.1 : number('lr', o.lr, 0, Infinity, { minExclusive: true }),
      epochs: o.epochs === undefined ? 100 : integer('epochs', o.epochs, 1),
      batchSize: o.batchSize === undefined ? 2 ** 31 - 1 : integer('batchSize', o.batchSize, 1),
      l2: o.l2 === undefined ? 0 : number('l2', o.l2, 0),
      shuffle: o.shuffle === undefined ? true : boolean('shuffle', o.shuffle),
      seed: o.seed === undefined ? 0 : integer('seed', o.seed, 0),
    };
  }

  get engine(): string {
    return this.engineImpl.name;
  }

  /** Weight (outputs × inputs, copy) or null before fit. */
  get weight(): FloatArray | null {
    return this.params ? this.params.weight.slice() : null;
  }

  /** Bias (outputs, copy) or null before fit. */
  get bias(): FloatArray | null {
    return this.params ? this.params.bias.slice() : null;
  }


  /** The options after defaults, as the constructor takes them back (engine excepted). */
  protected savedOptions(): SavedOptions {
    const { lr, epochs, batchSize, l2, shuffle, seed } = this.settings;
    return { dtype: this.dtype, lr, epochs, batchSize, l2, shuffle, seed };
  }

  /** @internal What the model saves: options and, when fitted, weight (outputs × inputs) and bias (its own arrays). */
  classicState(): ClassicState {
    const p = this.params;
    return {
      model: this.modelName, options: this.savedOptions(), fitted: p !== null,
      tensors: p ? [tensor('weight', this.dtype, [p.outputs, p.inputs], p.weight), tensor('bias', this.dtype, [p.outputs], p.bias)] : [],
    };
  }

  /** @internal models.load's restore: parameters already checked (lib/models/persist.ts). */
  restoreFitted(weight: FloatArray, bias: FloatArray, inputs: number, outputs: number): void {
    this.params = { weight, bias, inputs, outputs };
  }

  protected train(X: Matrix, oneHot: Float64Array, outputs: number): LinearFitResult {
    const params: LinearParams = {
      weight: zeros(this.dtype, outputs * X.cols), bias: zeros(this.dtype, outputs), inputs: X.cols, outputs,
    };
    const loss = trainLinear(this.engineImpl, this.link, params, X.data, X.rows, oneHot, this.settings, this.dtype);
    this.params = params;
    return { loss };
  }

  protected probabilities(x: unknown, method: string): Matrix {
    requireFitted(this.params !== null, this.modelName, method);
    const p = this.params as LinearParams;
    const X = inputMatrix(x, 'x', this.dtype, p.inputs);
    return new Matrix(X.rows, p.outputs, linearProbabilities(this.engineImpl, this.link, p, X.data, X.rows, this.dtype));
  }
}

/** Binary logistic regression; y holds 0/1 labels. Weights start at zero (seed 002 §1.5.4). */
export class LogisticRegression extends LinearClassifier {
  protected readonly link = 'sigmoid' as const;
  protected readonly modelName = 'LogisticRegression';

  constructor(opts?: LinearClassifierOptions) {
    super('LogisticRegression', opts);
  }

  fit(x: unknown, y: unknown): LinearFitResult {
    const X = inputMatrix(x, 'x', this.dtype, null);
    return this.train(X, binaryTargets(y, 'y', X.rows), 1);
  }

  /** P(y = 1 | x) per row (rows × 1). */
  predictProba(x: unknown): Matrix {
    return this.probabilities(x, 'predictProba');
  }

  /** 1 where P(y = 1 | x) ≥ 0.5, else 0. */
  predict(x: unknown): Int32Array {
    return this.labels(x, 'predict');
  }

  /** Fraction of rows whose predicted label equals y (0/1 labels). */
  score(x: unknown, y: unknown): number {
    const p = this.labels(x, 'score');
    return accuracy(p, binaryTargets(y, 'y', p.length));
  }

  private labels(x: unknown, method: string): Int32Array {
    const p = this.probabilities(x, method).data;
    const out = new Int32Array(p.length);
    for (let i = 0; i < p.length; i++) out[i] = p[i]! >= 0.5 ? 1 : 0;
    return out;
  }
}

export interface SoftmaxRegressionOptions extends LinearClassifierOptions {
  /** Number of classes (default: the largest label in y plus one). */
  classes?: number;
}

/** Multinomial (softmax) regression; y holds class indices. */
export class SoftmaxRegression extends LinearClassifier {
  protected readonly link = 'softmax' as const;
  protected readonly modelName = 'SoftmaxRegression';
  private readonly fixedClasses: number | null;

  constructor(opts?: SoftmaxRegressionOptions) {
    super('SoftmaxRegression', opts, ['classes']);
    const classes = this.checkedOptions['classes'];
    this.fixedClasses = classes === undefined ? null : integer('classes', classes, 2);
  }

  /** The classes option when given (a fitted model must have that many). */
  get classesOption(): number | null {
    return this.fixedClasses;
  }

  protected override savedOptions(): SavedOptions {
    return { ...super.savedOptions(), ...(this.fixedClasses === null ? {} : { classes: this.fixedClasses }) };
  }

  /** Classes of the fitted model, or null before fit. */
  get classes(): number | null {
    return this.params ? this.params.outputs : null;
  }

  fit(x: unknown, y: unknown): LinearFitResult {
    const X = inputMatrix(x, 'x', this.dtype, null);
    const labels = classTargets(y, 'y', X.rows, this.fixedClasses);
    let k = this.fixedClasses ?? 0;
    if (this.fixedClasses === null) for (const c of labels) k = Math.max(k, c + 1);
    if (this.fixedClasses === null && k > MAX_INFERRED_CLASSES) {
      throw new ArgumentRangeError(`Expected class indices below ${MAX_INFERRED_CLASSES} for y (or the classes option) but received ${k - 1}`);
    }
    if (k < 2) throw new ArgumentRangeError(`Expected labels of at least 2 classes for y but received only class ${k - 1}`);
    const oneHot = new Float64Array(X.rows * k);
    for (let i = 0; i < X.rows; i++) oneHot[i * k + labels[i]!] = 1;
    return this.train(X, oneHot, k);
  }

  /** Class probabilities per row (rows × classes; rows sum to 1). */
  predictProba(x: unknown): Matrix {
    return this.probabilities(x, 'predictProba');
  }

  /** The most probable class per row. */
  predict(x: unknown): Int32Array {
    return this.probabilities(x, 'predict').argmax();
  }

  /** Fraction of rows whose predicted class equals y (class indices below classes). */
  score(x: unknown, y: unknown): number {
    const p = this.probabilities(x, 'score').argmax();
    return accuracy(p, classTargets(y, 'y', p.length, this.params!.outputs));
  }
}
