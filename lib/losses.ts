// Losses by name (SPEC.md §3, PyTorch conventions; native/core/losses.h has
// every formula and its source). A loss computes its value (forward) and its
// gradient with respect to the prediction (backward); a custom loss is any
// object with the same two methods, and works with both engines (the plan
// stops at the loss and asks it for the gradient).
import type { Dtype, Engine, LossName, LossSpec, Reduction } from './engine';
import { getEngine, type EngineChoice } from './backend';
import { Matrix, toMatrix, type MatrixLike } from './matrix';
import { toTarget, type TargetLike } from './targets';
import { requireLossDomain } from './target-checks';
import { ArgumentRangeError, describe, number, oneOf, options, typeError } from './validate';

/** Every built-in loss; 'l1' (= 'mae') and 'pinball' (= 'quantile') are aliases. */
export const LOSS_NAMES = ['mse', 'mae', 'l1', 'huber', 'tukey', 'quantile', 'pinball', 'barron', 'bce',
  'bce-with-logits', 'cross-entropy', 'nll', 'kl-div', 'hinge', 'squared-hinge', 'dice', 'focal'] as const;
export type LossNameOrAlias = (typeof LOSS_NAMES)[number];
const ALIASES: Partial<Record<LossNameOrAlias, LossName>> = { l1: 'mae', pinball: 'quantile' };
const REDUCTIONS = ['mean', 'sum', 'none', 'batchmean'] as const;

/** What every loss, built-in or custom, implements. */
export interface LossFunction {
  /** The loss value for predictions `pred` (rows × outputs) and targets. */
  forward(pred: Matrix, target: TargetLike): number;
  /** dLoss/dPred, the same shape as pred. */
  backward(pred: Matrix, target: TargetLike): Matrix;
}

export interface LossOptions {
  /**
   * 'mean' (default), 'sum', 'none' (forward returns the unreduced values as a
   * Float64Array; backward the gradient of their sum; not for training) or
   * 'batchmean' (kl-div only: the sum divided by the rows).
   */
  reduction?: Reduction;
  /** cross-entropy: mixes targets with the uniform distribution, in [0, 1]. */
  labelSmoothing?: number;
  /** huber (default 1) and tukey (default 4.685): the threshold δ > 0. */
  delta?: number;
  /** quantile: the quantile τ in (0, 1) (default 0.5). */
  tau?: number;
  /** barron: shape α (default 1; any number, or -Infinity); focal: α in [0, 1] (default 0.25). */
  alpha?: number;
  /** barron: scale c > 0 (default 1). */
  c?: number;
  /** focal: focusing γ ≥ 0 (default 2). */
  gamma?: number;
  /** dice: smoothing s ≥ 0 (default 1). */
  smooth?: number;
  /** bce-with-logits: weight of the positive term, > 0 (default 1), as PyTorch's pos_weight. */
  posWeight?: number;
  /** cross-entropy, nll, bce, bce-with-logits: one weight ≥ 0 per output column (copied). */
  classWeights?: ArrayLike<number>;
  /** Engine that computes it (default 'auto'). */
  engine?: EngineChoice;
}

type OptionKey = Exclude<keyof LossOptions, 'reduction' | 'engine'>;
/** Which losses take which option; an option given to another loss is an error. */
const OPTION_LOSSES: Record<OptionKey, readonly LossName[]> = {
  labelSmoothing: ['cross-entropy'],
  delta: ['huber', 'tukey'],
  tau: ['quantile'],
  alpha: ['barron', 'focal'],
  c: ['barron'],
  gamma: ['focal'],
  smooth: ['dice'],
  posWeight: ['bce-with-logits'],
  classWeights: ['cross-entropy', 'nll', 'bce', 'bce-with-logits'],
};

/** forward()'s result: the unreduced values for 'none', else one number. */
export type LossValue<R extends Reduction> = R extends 'none' ? Float64Array : number;

/** A built-in loss; models recognise it and run it inside the engine. */
export class Loss<R extends Reduction = Reduction> {
  readonly name: LossName;
  readonly reduction: R;
  readonly labelSmoothing: number;
  private readonly opts: Omit<LossSpec, 'kind' | 'reduction' | 'labelSmoothing'>;
  private readonly engineChoice: EngineChoice;
  /** The options given (without engine), for getConfig. */
  private readonly givenOptions: Record<string, unknown>;

  constructor(name: LossNameOrAlias, opts?: LossOptions & { reduction?: R }) {
    const given = oneOf('name', name, LOSS_NAMES);
    this.name = ALIASES[given] ?? (given as LossName);
    const o = options('loss options', opts, ['reduction', 'engine', ...Object.keys(OPTION_LOSSES) as OptionKey[]]);
    for (const key of Object.keys(OPTION_LOSSES) as OptionKey[]) {
      if (o[key] !== undefined && !OPTION_LOSSES[key].includes(this.name)) {
        throw new ArgumentRangeError(`${key} applies to ${OPTION_LOSSES[key].map((n) => `'${n}'`).join(', ')} only, not '${this.name}'`);
      }
    }
    this.reduction = (o.reduction === undefined ? 'mean' : oneOf('reduction', o.reduction, REDUCTIONS)) as R;
    if (this.reduction === 'batchmean' && this.name !== 'kl-div') {
      throw new ArgumentRangeError(`Expected 'mean', 'sum' or 'none' for reduction of '${this.name}' but received 'batchmean' (kl-div only)`);
    }
    if (this.name === 'dice' && this.reduction !== 'mean') {
      throw new ArgumentRangeError(`Expected 'mean' for reduction of 'dice' (one value for the whole batch) but received '${this.reduction}'`);
    }
    this.labelSmoothing = o.labelSmoothing === undefined ? 0 : number('labelSmoothing', o.labelSmoothing, 0, 1);
    const opt = (key: OptionKey, fallback: number, min: number, max: number, excl = {}) =>
      o[key] === undefined ? fallback : number(key, o[key], min, max, excl);
    const focal = this.name === 'focal';
    this.opts = {
      delta: opt('delta', this.name === 'tukey' ? 4.685 : 1, 0, Infinity, { minExclusive: true }),
      tau: opt('tau', 0.5, 0, 1, { minExclusive: true, maxExclusive: true }),
      // Barron's α = −∞ is its Welsch/Leclerc limit, so -Infinity is allowed there.
      alpha: o.alpha === -Infinity && !focal ? -Infinity : opt('alpha', focal ? 0.25 : 1, focal ? 0 : -Infinity, focal ? 1 : Infinity),
      scale: opt('c', 1, 0, Infinity, { minExclusive: true }),
      gamma: opt('gamma', 2, 0, Infinity),
      smooth: opt('smooth', 1, 0, Infinity),
      posWeight: opt('posWeight', 1, 0, Infinity, { minExclusive: true }),
      classWeights: o.classWeights === undefined ? null : toClassWeights(o.classWeights),
    };
    this.engineChoice = (o.engine ?? 'auto') as EngineChoice;
    getEngine(this.engineChoice, 'engine');  // validate the choice now, not at first use
    // JSON-ready options for getConfig (class weights as a plain array).
    const { engine: _engine, ...givenOptions } = o as Record<string, unknown>;
    if (this.opts.classWeights) givenOptions['classWeights'] = Array.from(this.opts.classWeights);
    this.givenOptions = givenOptions;
  }

  /** Name and options as JSON, so lossFromConfig(loss.getConfig()) rebuilds it (model files). */
  getConfig(): LossConfig {
    return { name: this.name, options: structuredClone(this.givenOptions) };
  }

  /** The engine spec; classWeights is this loss's own copy (engines copy it again when training). */
  get spec(): LossSpec {
    return { kind: this.name, reduction: this.reduction, labelSmoothing: this.labelSmoothing, ...this.opts };
  }

  /** The class weights (a copy), or null. */
  get classWeights(): Float64Array | null {
    return this.opts.classWeights ? this.opts.classWeights.slice() : null;
  }

  /** The reduced loss, or for reduction 'none' the values (rows·cols, or rows for cross-entropy and nll). */
  forward(pred: MatrixLike, target: TargetLike): LossValue<R> {
    const { engine, p, t } = this.prepare(pred, target);
    if (this.reduction === 'none') {
      const out = new Float64Array(this.name === 'cross-entropy' || this.name === 'nll' ? p.rows : p.rows * p.cols);
      engine.lossValues(this.spec, p.data, p.rows, p.cols, t, out);
      return out as LossValue<R>;
    }
    return engine.lossForward(this.spec, p.data, p.rows, p.cols, t) as LossValue<R>;
  }

  /** dLoss/dPred; for reduction 'none', the gradient of the sum of the values. */
  backward(pred: MatrixLike, target: TargetLike): Matrix {
    const { engine, p, t } = this.prepare(pred, target);
    const grad = new Matrix(p.rows, p.cols, undefined, p.dtype);
    engine.lossBackward(this.spec, p.data, p.rows, p.cols, t, grad.data);
    return grad;
  }

  private prepare(pred: MatrixLike, target: TargetLike) {
    const dtype: Dtype = pred instanceof Matrix ? pred.dtype : 'float32';
    const p = toMatrix(pred, 'pred', dtype);
    if (p.rows === 0 || p.cols === 0) throw new ArgumentRangeError(`Expected a non-empty matrix for pred but received ${p.rows} × ${p.cols}`);
    const w = this.opts.classWeights;
    if (w && w.length !== p.cols) {
      throw new ArgumentRangeError(`Expected ${w.length} columns for pred (one per class weight) but received ${p.cols}`);
    }
    const t = toTarget(target, 'target', this.name, p.rows, p.cols, dtype);
    requireLossDomain(this.name, p.data, 'pred', t, 'target');  // here, not in an engine's words
    return { engine: getEngine(this.engineChoice) as Engine, p, t };
  }
}

/** Class weights: a non-empty array of finite numbers ≥ 0, copied into a Float64Array. */
function toClassWeights(value: unknown): Float64Array {
  const ok = Array.isArray(value) || value instanceof Float32Array || value instanceof Float64Array ||
    value instanceof Int32Array;
  if (!ok) throw typeError('classWeights', 'an array of numbers', value);
  const arr = value as ArrayLike<unknown>;
  if (arr.length === 0) throw new ArgumentRangeError('Expected at least one weight for classWeights but received an empty array');
  const out = new Float64Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (typeof v !== 'number') throw typeError(`classWeights[${i}]`, 'a number', v);
    if (!(Number.isFinite(v) && v >= 0)) throw new ArgumentRangeError(`Expected a finite weight >= 0 for classWeights[${i}] but received ${describe(v)}`);
    out[i] = v;
  }
  return out;
}

/** A built-in loss as JSON: its name and the options it was created with. */
export interface LossConfig {
  name: string;
  options: Record<string, unknown>;
}

/** The loss a getConfig() result describes (the constructor validates it). */
export function lossFromConfig(config: unknown, name = 'loss config'): Loss {
  if (typeof config !== 'object' || config === null || typeof (config as LossConfig).name !== 'string') {
    throw typeError(name, 'a loss config { name, options }', config);
  }
  const c = config as LossConfig;
  return create(c.name as LossName, (c.options ?? {}) as LossOptions);
}

/** losses.create('cross-entropy', { reduction: 'mean' }) */
export function create<R extends Reduction = 'mean'>(name: LossNameOrAlias, opts?: LossOptions & { reduction?: R }): Loss<R> {
  return new Loss<R>(name, opts);
}

/** A built-in Loss, or a custom { forward, backward } object, from compile()'s `loss`. */
export function resolveLoss(value: unknown, name = 'loss'): Loss | LossFunction {
  if (typeof value === 'string') return new Loss(oneOf(name, value, LOSS_NAMES));
  if (value instanceof Loss) {
    if (value.reduction === 'none') {
      throw new ArgumentRangeError(`Expected reduction 'mean' or 'sum' for ${name} in training but received 'none' ` +
        '(a training step needs one value; use \'sum\' for the sum of the values)');
    }
    return value;
  }
  if (typeof value === 'object' && value !== null) {
    const v = value as Partial<LossFunction>;
    if (typeof v.forward === 'function' && typeof v.backward === 'function') return v as LossFunction;
  }
  throw typeError(name, `a loss name (${LOSS_NAMES.map((n) => `'${n}'`).join(', ')}), losses.create(...) or an object with forward and backward methods`, value);
}
