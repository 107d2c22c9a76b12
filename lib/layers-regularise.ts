// Regularisation and normalisation layers (SPEC.md §5), PyTorch semantics:
// Dropout (torch.nn.Dropout, inverted), BatchNorm1d, LayerNorm and PReLU.
// Their behaviour differs between training and eval mode (Sequential.train() /
// .eval(); predict and evaluate always run in eval mode).
import type { FloatArray, LayerSpec } from './engine';
import { Layer, type LayerConfig, type ParamShape } from './layer';
import { boolean, integer, number, options } from './validate';

const MAX_SIZE = 2 ** 31 - 1;

/** ", eps 0.001, affine false": the options that differ from their defaults, for describe() and summary(). */
function optionsText(options: [name: string, value: number | boolean | null, fallback: number | boolean | null][]): string {
  return options.filter(([, v, d]) => v !== d).map(([k, v]) => `, ${k} ${v}`).join('');
}

/**
 * Inverted dropout: in training, each value is zeroed with probability p and
 * the others scaled by 1/(1 − p); in eval mode the identity.
 */
export class Dropout extends Layer {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    this.p = number('p', p, 0, 1, { maxExclusive: true });
  }

  toSpecs(): LayerSpec[] {
    return [{ kind: 'dropout', p: this.p }];
  }

  outFeatures(inFeatures: number): number {
    return inFeatures;
  }

  describe(): string {
    return `Dropout(p: ${this.p})`;
  }

  override getConfig(): LayerConfig {
    return { type: 'Dropout', p: this.p };
  }
}

export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /**
   * Weight of the new batch in the running statistics (default 0.1); null: torch's
   * momentum=None, a cumulative moving average (weight 1/num_batches_tracked).
   */
  momentum?: number | null;
  /** Learnable weight (γ, starts at 1) and bias (β, starts at 0); default true. */
  affine?: boolean;
  /**
   * Keep running statistics (default true). false: torch's track_running_stats=False —
   * no running buffers, and eval mode normalises with the batch's own statistics
   * (predict then runs its whole input as one batch, of at least 2 rows).
   */
  trackRunningStats?: boolean;
}

/**
 * torch.nn.BatchNorm1d on (batch, features): batch statistics in training
 * (running statistics updated with momentum, unbiased variance), running
 * statistics in eval. state_dict names: weight, bias, running_mean,
 * running_var, num_batches_tracked.
 */
export class BatchNorm1d extends Layer {
  readonly numFeatures: number;
  readonly eps: number;
  /** null: cumulative moving average (torch's momentum=None). */
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, opts?: BatchNormOptions) {
    super();
    this.numFeatures = integer('numFeatures', numFeatures, 1, MAX_SIZE);
    const o = options('BatchNorm1d options', opts, ['eps', 'momentum', 'affine', 'trackRunningStats']);
    this.eps = o.eps === undefined ? 1e-5 : number('eps', o.eps, 0, Infinity, { minExclusive: true });
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum === null ? null : number('momentum', o.momentum, 0, 1);
    this.affine = o.affine === undefined ? true : boolean('affine', o.affine);
    this.trackRunningStats = o.trackRunningStats === undefined ? true : boolean('trackRunningStats', o.trackRunningStats);
  }

  override get inFeatures(): number {
    return this.numFeatures;
  }

  toSpecs(): LayerSpec[] {
    const spec: LayerSpec = { kind: 'batchnorm', numFeatures: this.numFeatures, eps: this.eps, momentum: this.momentum, affine: this.affine };
    if (!this.trackRunningStats) spec.trackRunningStats = false; // left out by default: other engines' specs stay as they were
    return [spec];
  }

  outFeatures(): number {
    return this.numFeatures;
  }

  override params(): ParamShape[] {
    return this.affine ? [{ name: 'weight', shape: [this.numFeatures] }, { name: 'bias', shape: [this.numFeatures] }] : [];
  }

  override buffers(): ParamShape[] {
    if (!this.trackRunningStats) return []; // as torch's state_dict: no running_* nor num_batches_tracked
    return [{ name: 'running_mean', shape: [this.numFeatures] }, { name: 'running_var', shape: [this.numFeatures] },
      { name: 'num_batches_tracked', shape: [] }];
  }

  override initParams(views: FloatArray[]): void {
    if (this.affine) views[0]!.fill(1); // bias stays 0
  }

  describe(): string {
    return `BatchNorm1d(${this.numFeatures}${optionsText([['eps', this.eps, 1e-5], ['momentum', this.momentum, 0.1],
      ['affine', this.affine, true], ['trackRunningStats', this.trackRunningStats, true]])})`;
  }

  override getConfig(): LayerConfig {
    const config: LayerConfig = { type: 'BatchNorm1d', numFeatures: this.numFeatures, eps: this.eps, momentum: this.momentum, affine: this.affine };
    if (!this.trackRunningStats) config['trackRunningStats'] = false;
    return config;
  }
}

export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learnable weight (starts at 1) and bias (starts at 0); default true. */
  elementwiseAffine?: boolean;
}

/** torch.nn.LayerNorm over each row's features; the same in training and eval. */
export class LayerNorm extends Layer {
  readonly normalizedShape: number;
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  /** normalizedShape: the feature count, or [featureCount] as PyTorch writes it. */
  constructor(normalizedShape: number | [number], opts?: LayerNormOptions) {
    super();
    const n = Array.isArray(normalizedShape) && normalizedShape.length === 1 ? normalizedShape[0] : normalizedShape;
    this.normalizedShape = integer('normalizedShape', n, 1, MAX_SIZE);
    const o = options('LayerNorm options', opts, ['eps', 'elementwiseAffine']);
    this.eps = o.eps === undefined ? 1e-5 : number('eps', o.eps, 0, Infinity, { minExclusive: true });
    this.elementwiseAffine = o.elementwiseAffine === undefined ? true : boolean('elementwiseAffine', o.elementwiseAffine);
  }

  override get inFeatures(): number {
    return this.normalizedShape;
  }

  toSpecs(): LayerSpec[] {
    return [{ kind: 'layernorm', normalizedShape: this.normalizedShape, eps: this.eps, elementwiseAffine: this.elementwiseAffine }];
  }

  outFeatures(): number {
    return this.normalizedShape;
  }

  override params(): ParamShape[] {
    const n = this.normalizedShape;
    return this.elementwiseAffine ? [{ name: 'weight', shape: [n] }, { name: 'bias', shape: [n] }] : [];
  }

  override initParams(views: FloatArray[]): void {
    if (this.elementwiseAffine) views[0]!.fill(1);
  }

  describe(): string {
    return `LayerNorm(${this.normalizedShape}${optionsText([['eps', this.eps, 1e-5], ['elementwiseAffine', this.elementwiseAffine, true]])})`;
  }

  override getConfig(): LayerConfig {
    return { type: 'LayerNorm', normalizedShape: this.normalizedShape, eps: this.eps, elementwiseAffine: this.elementwiseAffine };
  }
}

export interface PReLUOptions {
  /** 1 (one slope for all features, default) or the feature count (one each). */
  numParameters?: number;
  /** Initial slope (default 0.25). */
  init?: number;
}

/** torch.nn.PReLU: x for x > 0, a·x otherwise, with learnable slope(s) a. */
export class PReLU extends Layer {
  readonly numParameters: number;
  readonly init: number;

  constructor(opts?: PReLUOptions) {
    super();
    const o = options('PReLU options', opts, ['numParameters', 'init']);
    this.numParameters = o.numParameters === undefined ? 1 : integer('numParameters', o.numParameters, 1, MAX_SIZE);
    this.init = o.init === undefined ? 0.25 : number('init', o.init);
  }

  /** One slope per feature fixes the input width; a single slope takes any. */
  override get inFeatures(): number | null {
    return this.numParameters > 1 ? this.numParameters : null;
  }

  toSpecs(): LayerSpec[] {
    return [{ kind: 'prelu', numParameters: this.numParameters }];
  }

  outFeatures(inFeatures: number): number {
    return inFeatures;
  }

  override params(): ParamShape[] {
    return [{ name: 'weight', shape: [this.numParameters] }];
  }

  override initParams(views: FloatArray[]): void {
    views[0]!.fill(this.init);
  }

  describe(): string {
    return `PReLU(${this.numParameters}${optionsText([['init', this.init, 0.25]])})`;
  }

  override getConfig(): LayerConfig {
    return { type: 'PReLU', numParameters: this.numParameters, init: this.init };
  }
}
