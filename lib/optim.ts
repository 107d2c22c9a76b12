// Optimizers (SPEC.md §4, torch.optim conventions). An optimizer is a small
// settings object; the arithmetic runs inside the engine over the flat
// parameter buffer. `lr` may be changed between steps (a schedule does so);
// the model sends the new settings before its next step and keeps the state.
//
// Gradient clipping lives in the optimizer's options, as Keras' clipnorm /
// clipvalue do: `clipNorm` rescales all gradients together when their global
// L2 norm exceeds it (torch.nn.utils.clip_grad_norm_), `clipValue` clamps each
// one to ±clipValue (clip_grad_value_); norm first, then value, both before
// weight decay and the update, inside the engine's fused step.
import type { OptimizerName, OptimizerSpec } from './engine';
import { ArgumentRangeError, boolean, integer, number, oneOf, options, rangeError, typeError } from './validate';

/** Options every optimizer takes. */
export interface ClipOptions {
  /** Rescale gradients so their global L2 norm is at most this (off by default). */
  clipNorm?: number;
  /** Clamp each gradient to [−clipValue, clipValue] (off by default). */
  clipValue?: number;
  /** Gradient ascent: step along +g, as torch.optim's `maximize` (default false). */
  maximize?: boolean;
}

const CLIP_KEYS = ['clipNorm', 'clipValue', 'maximize'] as const;

/** The spec fields an optimizer does not use, at neutral values. */
const UNUSED: Omit<OptimizerSpec, 'kind' | 'lr'> = {
  momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  amsgrad: false, alpha: 0.99, centered: false, lrDecay: 0, initialAccumulatorValue: 0,
  clipNorm: 0, clipValue: 0, maximize: false,
};

function positive(name: string, value: unknown): number {
  return number(name, value, 0, Infinity, { minExclusive: true });
}

function nonNegative(name: string, value: unknown): number {
  return number(name, value, 0);
}

export abstract class Optimizer {
  private learningRate: number;
  /** Bumped on every change, so a model knows when to resend the settings. */
  version = 0;
  /** Global-norm bound for the gradients, or undefined (off). */
  readonly clipNorm: number | undefined;
  /** Per-value bound for the gradients, or undefined (off). */
  readonly clipValue: number | undefined;
  /** Gradient ascent (torch's maximize): the update reads −g. */
  readonly maximize: boolean;
  private configName = '';
  /** Hyper-parameters changed since construction (a schedule cycling momentum), for getConfig. */
  private changedOptions: Record<string, unknown> = {};
  private configOptions: Record<string, unknown> = {};
  /**
   * @internal Where the schedule driving lr stands (base lr, steps, plateau
   * counters), written by lib/schedules.ts at each step and saved with the
   * optimizer's config, so a fresh schedule in a fit with initialEpoch resumes
   * it — as PyTorch keeps `initial_lr` in the optimizer's param groups.
   */
  scheduleState: ScheduleState | null = null;

  protected constructor(lr: number, clip: ClipOptions) {
    this.learningRate = number('lr', lr, 0);
    this.clipNorm = clip.clipNorm === undefined ? undefined : positive('clipNorm', clip.clipNorm);
    this.clipValue = clip.clipValue === undefined ? undefined : positive('clipValue', clip.clipValue);
    this.maximize = clip.maximize === undefined ? false : boolean('maximize', clip.maximize);
  }

  get lr(): number {
    return this.learningRate;
  }

  set lr(value: number) {
    this.learningRate = number('lr', value, 0);
    this.version++;
  }

  abstract toSpec(): OptimizerSpec;

  /** The engine spec: this kind and lr, clipping, the given fields, neutral values for the rest. */
  protected spec(kind: OptimizerName, fields: Partial<OptimizerSpec>): OptimizerSpec {
    return { ...UNUSED, ...fields, kind, lr: this.lr, clipNorm: this.clipNorm ?? 0,
      clipValue: this.clipValue ?? 0, maximize: this.maximize };
  }

  /**
   * Records a hyper-parameter changed after construction (momentum or betas,
   * set by a one-cycle schedule) so getConfig, and so a saved model, carries
   * the value the optimizer state was built with; bumps version so the model
   * sends the new settings before its next step.
   */
  protected changed(name: string, value: unknown): void {
    this.changedOptions[name] = structuredClone(value);
    this.version++;
  }

  /**
   * Records the registered name and the options given to the constructor, for
   * getConfig. Each optimizer kind calls it last in its constructor (a subclass
   * calling it after its parent overrides the parent's record).
   */
  protected recordConfig(name: string, opts: unknown): void {
    this.configName = name;
    this.configOptions = opts === undefined ? {} : structuredClone(opts as Record<string, unknown>);
  }

  /** Name and options as JSON (lr as it is now), so optimizerFromConfig rebuilds it. */
  getConfig(): OptimizerConfig {
    if (this.configName === '') {
      throw new Error(`${this.constructor.name} cannot be serialised: its constructor does not call recordConfig`);
    }
    const config: OptimizerConfig = { name: this.configName,
      options: { ...structuredClone(this.configOptions), ...structuredClone(this.changedOptions), lr: this.lr } };
    if (this.scheduleState !== null) config.schedule = structuredClone(this.scheduleState);
    return config;
  }
}

/**
 * What a schedule needs to continue where it stopped (lib/schedules.ts):
 * its kind, the lr it started from, the steps taken and, for
 * reduce-on-plateau, its counters (best is null while none is recorded).
 */
export interface ScheduleState {
  kind: string;
  baseLr: number;
  step: number;
  plateau?: { best: number | null; badEpochs: number; cooldownLeft: number };
}

/** An optimizer as JSON: its registered name and options (and the schedule state, when a schedule drove it). */
export interface OptimizerConfig {
  name: string;
  options: Record<string, unknown>;
  schedule?: ScheduleState;
}

type OptimizerFactory = (options: Record<string, unknown>) => Optimizer;
const OPTIMIZER_REGISTRY = new Map<string, OptimizerFactory>();

/** Makes optimizerFromConfig (and so model files) know an optimizer by name. */
export function registerOptimizer(name: string, factory: OptimizerFactory): void {
  // Checked now: a bad entry used to surface only when a file was loaded, as a bare TypeError.
  if (typeof name !== 'string' || name === '') throw typeError('name', 'a non-empty optimizer name', name);
  if (typeof factory !== 'function') throw typeError('factory', 'a function from options to an Optimizer', factory);
  OPTIMIZER_REGISTRY.set(name, factory);
}

/** The optimizer a getConfig() result describes (its constructor validates the options). */
export function optimizerFromConfig(config: unknown, name = 'optimizer config'): Optimizer {
  if (typeof config !== 'object' || config === null) throw typeError(name, 'an optimizer config { name, options }', config);
  const c = config as OptimizerConfig;
  const factory = typeof c.name === 'string' ? OPTIMIZER_REGISTRY.get(c.name) : undefined;
  if (!factory) {
    throw new ArgumentRangeError(`Expected a known optimizer (${[...OPTIMIZER_REGISTRY.keys()].map((n) => `'${n}'`).join(', ')}) ` +
      `for ${name}.name but received ${describeName(c.name)}`);
  }
  const optimizer: unknown = factory((c.options ?? {}) as Record<string, unknown>);
  if (!(optimizer instanceof Optimizer)) {
    throw typeError(`the result of registerOptimizer('${c.name as string}')'s factory for ${name}`, 'an Optimizer', optimizer);
  }
  // Absent in files from before schedules resumed: a schedule then starts from the saved lr.
  if (c.schedule !== undefined) optimizer.scheduleState = checkScheduleState(c.schedule, `${name}.schedule`);
  return optimizer;
}

function checkScheduleState(value: unknown, name: string): ScheduleState {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeError(name, 'a schedule state object', value);
  const v = value as Record<string, unknown>;
  if (typeof v['kind'] !== 'string') throw typeError(`${name}.kind`, 'a schedule name', v['kind']);
  const state: ScheduleState = {
    kind: v['kind'],
    baseLr: number(`${name}.baseLr`, v['baseLr'], 0),
    step: integer(`${name}.step`, v['step'], 0),
  };
  if (v['plateau'] !== undefined) {
    const p = v['plateau'] as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null) throw typeError(`${name}.plateau`, 'an object', p);
    state.plateau = {
      best: p['best'] === null ? null : number(`${name}.plateau.best`, p['best'], -Infinity, Infinity),
      badEpochs: integer(`${name}.plateau.badEpochs`, p['badEpochs'], 0),
      cooldownLeft: integer(`${name}.plateau.cooldownLeft`, p['cooldownLeft'], 0),
    };
  }
  return state;
}

function describeName(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

export interface SGDOptions extends ClipOptions {
  lr?: number;          // 0.01
  momentum?: number;    // 0
  dampening?: number;   // 0
  nesterov?: boolean;   // false
  weightDecay?: number; // 0 (L2, added to the gradient)
}

/** SGD with optional (Nesterov) momentum: v = μv + (1−dampening)g; θ −= lr·v. */
export class SGD extends Optimizer {
  private mu: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(opts?: SGDOptions) {
    const o = options('SGD options', opts, ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', ...CLIP_KEYS]);
    super(o.lr === undefined ? 0.01 : (o.lr as number), o as ClipOptions);
    this.mu = o.momentum === undefined ? 0 : nonNegative('momentum', o.momentum);
    this.dampening = o.dampening === undefined ? 0 : number('dampening', o.dampening, 0, 1);
    this.nesterov = o.nesterov === undefined ? false : boolean('nesterov', o.nesterov);
    this.weightDecay = o.weightDecay === undefined ? 0 : nonNegative('weightDecay', o.weightDecay);
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0)) {
      throw new ArgumentRangeError('Nesterov momentum needs momentum > 0 and dampening = 0 (as torch.optim.SGD)');
    }
    this.recordConfig('sgd', opts);
  }

  get momentum(): number {
    return this.mu;
  }

  /** Settable between steps, as a torch param_group's momentum (schedules.oneCycle cycles it). */
  set momentum(value: number) {
    const mu = nonNegative('momentum', value);
    if (this.nesterov && mu === 0) throw rangeError('momentum', 'a number > 0 (nesterov is on)', value);
    this.mu = mu;
    this.changed('momentum', mu);
  }

  toSpec(): OptimizerSpec {
    return this.spec('sgd', { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov,
      weightDecay: this.weightDecay });
  }
}

export interface AdagradOptions extends ClipOptions {
  lr?: number;                      // 0.01
  lrDecay?: number;                 // 0: lr / (1 + (t − 1)·lrDecay)
  weightDecay?: number;             // 0 (L2, added to the gradient)
  initialAccumulatorValue?: number; // 0
  eps?: number;                     // 1e-10, outside the square root
}

/** Adagrad (Duchi et al. 2011): G += g²; θ −= lr·g / (√G + ε), as torch.optim.Adagrad. */
export class Adagrad extends Optimizer {
  readonly lrDecay: number;
  readonly weightDecay: number;
  readonly initialAccumulatorValue: number;
  readonly eps: number;

  constructor(opts?: AdagradOptions) {
    const o = options('Adagrad options', opts,
      ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', ...CLIP_KEYS]);
    super(o.lr === undefined ? 0.01 : (o.lr as number), o as ClipOptions);
    this.lrDecay = o.lrDecay === undefined ? 0 : nonNegative('lrDecay', o.lrDecay);
    this.weightDecay = o.weightDecay === undefined ? 0 : nonNegative('weightDecay', o.weightDecay);
    this.initialAccumulatorValue = o.initialAccumulatorValue === undefined ? 0
      : nonNegative('initialAccumulatorValue', o.initialAccumulatorValue);
    this.eps = o.eps === undefined ? 1e-10 : positive('eps', o.eps);
    this.recordConfig('adagrad', opts);
  }

  toSpec(): OptimizerSpec {
    return this.spec('adagrad', { lrDecay: this.lrDecay, weightDecay: this.weightDecay,
      initialAccumulatorValue: this.initialAccumulatorValue, eps: this.eps });
  }
}

export interface RMSpropOptions extends ClipOptions {
  lr?: number;          // 0.01
  alpha?: number;       // 0.99, smoothing constant in [0, 1]
  eps?: number;         // 1e-8, outside the square root
  weightDecay?: number; // 0 (L2, added to the gradient)
  momentum?: number;    // 0
  centered?: boolean;   // false: divide by √(E[g²] − E[g]²) when true
}

/** RMSprop (Hinton's lecture 6e; Graves 2013 for centered), as torch.optim.RMSprop. */
export class RMSprop extends Optimizer {
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  private mu: number;
  readonly centered: boolean;

  constructor(opts?: RMSpropOptions) {
    const o = options('RMSprop options', opts,
      ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', ...CLIP_KEYS]);
    super(o.lr === undefined ? 0.01 : (o.lr as number), o as ClipOptions);
    this.alpha = o.alpha === undefined ? 0.99 : number('alpha', o.alpha, 0, 1);
    this.eps = o.eps === undefined ? 1e-8 : positive('eps', o.eps);
    this.weightDecay = o.weightDecay === undefined ? 0 : nonNegative('weightDecay', o.weightDecay);
    this.mu = o.momentum === undefined ? 0 : nonNegative('momentum', o.momentum);
    this.centered = o.centered === undefined ? false : boolean('centered', o.centered);
    // Centered with α = 0 estimates the variance as g² − g² = 0 and steps by g/ε:
    // torch 1.13 moves a weight of 1 to −2e6 in one step. Refused instead.
    if (this.centered && this.alpha === 0) throw rangeError('alpha', 'a number in (0, 1] with centered: true', this.alpha);
    this.recordConfig('rmsprop', opts);
  }

  get momentum(): number {
    return this.mu;
  }

  /** Settable between steps, as a torch param_group's momentum (schedules.oneCycle cycles it). */
  set momentum(value: number) {
    this.mu = nonNegative('momentum', value);
    this.changed('momentum', this.mu);
  }

  toSpec(): OptimizerSpec {
    return this.spec('rmsprop', { alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay,
      momentum: this.momentum, centered: this.centered });
  }
}

export interface AdamOptions extends ClipOptions {
  lr?: number;                // 1e-3
  betas?: [number, number];   // [0.9, 0.999]
  eps?: number;               // 1e-8, outside the square root
  weightDecay?: number;       // Adam: 0 (coupled L2); AdamW: 0.01 (decoupled)
  amsgrad?: boolean;          // false: use the running maximum of v (Reddi et al. 2018)
}

/** Adam (Kingma & Ba 2015) with PyTorch's bias correction and ε placement. */
export class Adam extends Optimizer {
  private pair: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  protected readonly kind: 'adam' | 'adamw' = 'adam';

  constructor(opts?: AdamOptions, defaultWeightDecay = 0) {
    const o = options(defaultWeightDecay === 0 ? 'Adam options' : 'AdamW options', opts,
      ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', ...CLIP_KEYS]);
    super(o.lr === undefined ? 1e-3 : (o.lr as number), o as ClipOptions);
    this.pair = o.betas === undefined ? [0.9, 0.999] : checkBetas(o.betas);
    this.eps = o.eps === undefined ? 1e-8 : positive('eps', o.eps);
    this.weightDecay = o.weightDecay === undefined ? defaultWeightDecay : nonNegative('weightDecay', o.weightDecay);
    this.amsgrad = o.amsgrad === undefined ? false : boolean('amsgrad', o.amsgrad);
    this.recordConfig('adam', opts);
  }

  /** [β1, β2]; a copy, so changing it changes nothing: assign a new pair. */
  get betas(): [number, number] {
    return [this.pair[0], this.pair[1]];
  }

  /** Settable between steps, as a torch param_group's betas (schedules.oneCycle cycles β1). */
  set betas(value: [number, number]) {
    this.pair = checkBetas(value);
    this.changed('betas', this.pair);
  }

  toSpec(): OptimizerSpec {
    return this.spec(this.kind, { beta1: this.pair[0], beta2: this.pair[1], eps: this.eps,
      weightDecay: this.weightDecay, amsgrad: this.amsgrad });
  }
}

function checkBetas(value: unknown): [number, number] {
  if (!Array.isArray(value)) throw typeError('betas', 'a pair [beta1, beta2]', value);
  if (value.length !== 2) throw rangeError('betas', 'a pair [beta1, beta2]', value);
  return [number('betas[0]', value[0], 0, 1, { maxExclusive: true }),
    number('betas[1]', value[1], 0, 1, { maxExclusive: true })];
}

/** AdamW (Loshchilov & Hutter 2019): decoupled weight decay θ −= lr·λθ, λ = 0.01 by default. */
export class AdamW extends Adam {
  protected override readonly kind = 'adamw';

  constructor(opts?: AdamOptions) {
    super(opts, 0.01);
    this.recordConfig('adamw', opts);
  }
}

registerOptimizer('sgd', (o) => new SGD(o as SGDOptions));
registerOptimizer('adagrad', (o) => new Adagrad(o as AdagradOptions));
registerOptimizer('rmsprop', (o) => new RMSprop(o as RMSpropOptions));
registerOptimizer('adam', (o) => new Adam(o as AdamOptions));
registerOptimizer('adamw', (o) => new AdamW(o as AdamOptions));

export const OPTIMIZER_NAMES = ['sgd', 'adagrad', 'rmsprop', 'adam', 'adamw'] as const;
/** An optimizer by name, with its defaults (compile's `optimizer`). */
export type OptimizerChoice = (typeof OPTIMIZER_NAMES)[number];

/** An Optimizer from compile()'s `optimizer`: an instance, or a name with defaults. */
export function resolveOptimizer(value: unknown, name = 'optimizer'): Optimizer {
  if (value instanceof Optimizer) return value;
  if (typeof value === 'string') {
    switch (oneOf(name, value, OPTIMIZER_NAMES)) {
      case 'sgd': return new SGD();
      case 'adagrad': return new Adagrad();
      case 'rmsprop': return new RMSprop();
      case 'adam': return new Adam();
      default: return new AdamW();
    }
  }
  throw typeError(name, `an optimizer (${OPTIMIZER_NAMES.map((n) => `'${n}'`).join(', ')} or an optim.* instance)`, value);
}
