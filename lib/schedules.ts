// Learning-rate schedules (SPEC.md §5). Each follows the documented behaviour of
// the torch.optim.lr_scheduler class it names (PyTorch 1.13 docs), in closed
// form, and sets `optimizer.lr`, which the model sends to its engine before the
// next step. A schedule is also a fit() callback: epoch schedules step after each
// epoch (as PyTorch's `scheduler.step()` after the epoch loop), one-cycle after
// each batch, reduce-on-plateau after each epoch with the monitored value.
//
// Resuming (fit with initialEpoch > 0): a fresh schedule continues where the
// optimizer's last schedule stood, not from the lr it finds. Each schedule
// writes its base lr and steps into optimizer.scheduleState (saved in model
// files with the optimizer's config), as PyTorch keeps `initial_lr` in the
// param groups and rebuilds the rate for `last_epoch`; the step is
// initialEpoch (per-batch schedules: initialEpoch × batches per epoch).
import { autoMode, type Callback, type CallbackModel, type Logs, type TrainingParams } from './callbacks';
import type { ScheduleState } from './optim';
import { loweredRate, PlateauTracker } from './plateau-tracker';
import { ArgumentRangeError, integer, number, oneOf, options, typeError } from './validate';

/** Anything with a settable learning rate: every optim.* optimizer. */
export interface LrHolder {
  lr: number;
  /** SGD's and RMSprop's momentum; schedules.oneCycle with cycleMomentum sets it each step. */
  momentum?: number;
  /** Adam's and AdamW's [β1, β2]; schedules.oneCycle with cycleMomentum sets β1 each step. */
  betas?: [number, number];
  /** Where the last schedule on it stood (optim.* optimizers have it); lets a fresh schedule resume. */
  scheduleState?: ScheduleState | null;
}

export type Stepping = 'epoch' | 'batch';

/**
 * A schedule. Without an optimizer it binds to the model's at the start of
 * fit(); with one (PyTorch style) it can also be stepped by hand.
 */
export abstract class Schedule implements Callback {
  /** When fit() steps it: after each epoch or after each batch. */
  abstract readonly stepping: Stepping;
  /** Its name in the saved schedule state. */
  protected abstract readonly kind: string;
  /** Steps taken (PyTorch's last_epoch). */
  stepCount = 0;
  protected optimizer: LrHolder | null = null;
  protected baseLr = NaN;
  /** The optimizer's schedule state as bind found it, before this schedule replaced it (read by resume). */
  protected found: ScheduleState | null = null;
  /** True when fit bound it (it then rebinds to the optimizer of a later fit), false when bound by hand. */
  private boundByFit = false;

  /** The learning rate this schedule sets after `step` steps (base lr known). */
  protected abstract lrAt(step: number): number;

  /** Attaches to an optimizer and sets its rate for step 0; the current lr is the base lr. */
  bind(optimizer: LrHolder): void {
    if (typeof optimizer !== 'object' || optimizer === null || typeof optimizer.lr !== 'number') {
      throw typeError('optimizer', 'an optimizer (an object with a numeric lr)', optimizer);
    }
    if (this.optimizer === optimizer) return;
    this.optimizer = optimizer;
    this.boundByFit = false;
    this.found = optimizer.scheduleState ?? null;
    this.baseLr = this.initialLr(optimizer.lr);
    this.stepCount = 0;
    optimizer.lr = this.lrAt(0);
    this.saveState();
  }

  /**
   * Continues from fit's initialEpoch (a fresh schedule only: one that has
   * stepped is already where it should be): the base lr the optimizer's last
   * schedule recorded (else the current lr, for files from before it was
   * saved), at the step initialEpoch stands for.
   */
  protected resume(params: TrainingParams): void {
    const opt = this.requireBound();
    if (this.found !== null) this.baseLr = this.initialLr(this.found.baseLr);
    this.stepCount = this.resumeStep(params, this.found);
    opt.lr = this.lrAt(this.stepCount);
    this.saveState();
  }

  /** The step a fit starting at params.initialEpoch is at: one per epoch. */
  protected resumeStep(params: TrainingParams, _found: ScheduleState | null): number {
    return params.initialEpoch;
  }

  /** What resume needs later; written into the optimizer at every step. */
  protected state(): ScheduleState {
    return { kind: this.kind, baseLr: this.baseLr, step: this.stepCount };
  }

  protected saveState(): void {
    const opt = this.optimizer;
    if (opt !== null && 'scheduleState' in opt) opt.scheduleState = this.state();
  }

  /** The rate the schedule starts from (one-cycle overrides: maxLr / divFactor). */
  protected initialLr(current: number): number {
    return current;
  }

  /**
   * The rate `step` steps after its start, from the base it is bound with,
   * without stepping (schedules.sequential reads its parts this way).
   */
  rateAt(step: number): number {
    this.requireBound();
    return this.lrAt(step);
  }

  /** Whether it is attached to an optimizer (by hand or by a fit). */
  get isBound(): boolean {
    return this.optimizer !== null;
  }

  /** Its kind, as the factory that made it is named ('step', 'cosine', …). */
  get name(): string {
    return this.kind;
  }

  /** The optimizer's current learning rate. */
  get lr(): number {
    return this.requireBound().lr;
  }

  /** Advances one step (an epoch or a batch) and sets the optimizer's rate. */
  step(): void {
    const opt = this.requireBound();
    this.stepCount++;
    opt.lr = this.lrAt(this.stepCount);
    this.saveState();
  }

  // ---- as a fit() callback ------------------------------------------------

  /**
   * Binds to the model's optimizer. One fit bound earlier follows the model of
   * this fit (Keras callbacks are reused across models, and compile() may have
   * replaced the optimizer): it used to keep scheduling the first optimizer,
   * silently leaving the one that trains at a constant rate. A schedule created
   * with an optimizer that is not the model's is refused for the same reason.
   */
  setModel(model: CallbackModel): void {
    if (!model.optimizer) throw new Error('schedule: the model has no optimizer; call compile() first');
    if (this.optimizer === model.optimizer) return;
    if (this.optimizer !== null && !this.boundByFit) {
      throw new ArgumentRangeError(`Expected a schedule for the model's optimizer in fit callbacks but received one bound to another optimizer ` +
        '(created with it); create the schedule without an optimizer and fit binds it');
    }
    this.bind(model.optimizer);
    this.boundByFit = true;
  }

  setParams(params: TrainingParams): void {
    if (params.initialEpoch > 0 && this.stepCount === 0 && this.optimizer !== null) this.resume(params);
  }

  onEpochEnd(_epoch: number, _logs: Logs): void {
    if (this.stepping === 'epoch') this.step();
  }

  protected requireBound(): LrHolder {
    if (!this.optimizer) throw new Error('schedule: not attached to an optimizer (pass one, or use it in fit callbacks)');
    return this.optimizer;
  }
}

/** A schedule stepped after every batch: fit() then also calls onBatchEnd (schedules-onecycle.ts). */
export abstract class BatchSchedule extends Schedule {
  readonly stepping = 'batch' as const;

  onBatchEnd(_batch: number, _logs: Logs): void {
    this.step();
  }

  override onEpochEnd(): void {
    // stepped per batch
  }

  /** initialEpoch × batches per epoch; for streams (batches unknown) the steps the saved state counted. */
  protected override resumeStep(params: TrainingParams, found: ScheduleState | null): number {
    if (Number.isFinite(params.steps)) return params.initialEpoch * params.steps;
    return found !== null && found.kind === this.kind ? found.step : 0;
  }
}

// ---- step / exponential / linear / cosine -------------------------------------

export interface StepOptions { stepSize: number; gamma?: number }

/** StepLR: lr = base · γ^⌊t / stepSize⌋. */
class StepSchedule extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'step';
  readonly stepSize: number;
  readonly gamma: number;

  constructor(opts: StepOptions, optimizer?: LrHolder) {
    const o = options('step options', opts, ['stepSize', 'gamma']);
    const stepSize = integer('stepSize', o.stepSize, 1);
    const gamma = o.gamma === undefined ? 0.1 : number('gamma', o.gamma, 0, Infinity, { minExclusive: true });
    super();
    this.stepSize = stepSize;
    this.gamma = gamma;
    if (optimizer !== undefined) this.bind(optimizer);
  }

  protected lrAt(t: number): number {
    return this.baseLr * this.gamma ** Math.floor(t / this.stepSize);
  }
}

export interface ExponentialOptions { gamma: number }

/** ExponentialLR: lr = base · γ^t. */
class ExponentialSchedule extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'exponential';
  readonly gamma: number;

  constructor(opts: ExponentialOptions, optimizer?: LrHolder) {
    const o = options('exponential options', opts, ['gamma']);
    const gamma = number('gamma', o.gamma, 0, Infinity, { minExclusive: true });
    super();
    this.gamma = gamma;
    if (optimizer !== undefined) this.bind(optimizer);
  }

  protected lrAt(t: number): number {
    return this.baseLr * this.gamma ** t;
  }
}

export interface LinearWarmupOptions { startFactor?: number; endFactor?: number; totalIters?: number }

/** LinearLR: the factor moves linearly from startFactor to endFactor over totalIters steps, then stays. */
class LinearWarmupSchedule extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'linearWarmup';
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(opts: LinearWarmupOptions | undefined, optimizer?: LrHolder) {
    const o = options('linearWarmup options', opts, ['startFactor', 'endFactor', 'totalIters']);
    // PyTorch defaults: 1/3 → 1 over 5 steps; startFactor must be > 0.
    const startFactor = o.startFactor === undefined ? 1 / 3 : number('startFactor', o.startFactor, 0, 1, { minExclusive: true });
    const endFactor = o.endFactor === undefined ? 1 : number('endFactor', o.endFactor, 0, 1);
    const totalIters = o.totalIters === undefined ? 5 : integer('totalIters', o.totalIters, 1);
    super();
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    if (optimizer !== undefined) this.bind(optimizer);
  }

  protected lrAt(t: number): number {
    const f = this.startFactor + (this.endFactor - this.startFactor) * Math.min(t, this.totalIters) / this.totalIters;
    return this.baseLr * f;
  }
}

export interface CosineOptions {
  /** Steps of one half-cosine, after the warm-up (PyTorch's T_max). */
  tMax: number;
  etaMin?: number;            // 0
  /** Linear warm-up steps before the cosine (0: none), as LinearLR then CosineAnnealingLR in SequentialLR. */
  warmupEpochs?: number;      // 0
  warmupStartFactor?: number; // 0.1
}

/**
 * CosineAnnealingLR (Loshchilov & Hutter, SGDR, 2017, without restarts):
 * lr = ηmin + (base − ηmin)(1 + cos(π·t/Tmax))/2, optionally after a linear warm-up.
 */
class CosineSchedule extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'cosine';
  readonly tMax: number;
  readonly etaMin: number;
  readonly warmupEpochs: number;
  readonly warmupStartFactor: number;

  constructor(opts: CosineOptions, optimizer?: LrHolder) {
    const o = options('cosine options', opts, ['tMax', 'etaMin', 'warmupEpochs', 'warmupStartFactor']);
    const tMax = integer('tMax', o.tMax, 1);
    const etaMin = o.etaMin === undefined ? 0 : number('etaMin', o.etaMin, 0);
    const warmupEpochs = o.warmupEpochs === undefined ? 0 : integer('warmupEpochs', o.warmupEpochs, 0);
    const warmupStartFactor = o.warmupStartFactor === undefined ? 0.1
      : number('warmupStartFactor', o.warmupStartFactor, 0, 1, { minExclusive: true });
    super();
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.warmupEpochs = warmupEpochs;
    this.warmupStartFactor = warmupStartFactor;
    if (optimizer !== undefined) this.bind(optimizer);
  }

  protected lrAt(t: number): number {
    if (t < this.warmupEpochs) {
      return this.baseLr * (this.warmupStartFactor + (1 - this.warmupStartFactor) * t / this.warmupEpochs);
    }
    const tc = t - this.warmupEpochs;
    return this.etaMin + (this.baseLr - this.etaMin) * (1 + Math.cos(Math.PI * tc / this.tMax)) / 2;
  }
}

// ---- reduce on plateau ----------------------------------------------------------

export interface ReduceOnPlateauOptions {
  monitor?: string;      // 'val_loss'
  /** 'auto' (Keras's default): 'max' for accuracy-like monitored names, else 'min' (PyTorch's default). */
  mode?: 'auto' | 'min' | 'max';  // 'auto'
  factor?: number;       // 0.1
  patience?: number;     // 10
  /** Improvement needed to count as better (PyTorch's threshold): a fraction of the best, or an amount (thresholdMode). */
  threshold?: number;    // 1e-4
  /** 'rel': better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold (PyTorch's threshold_mode). */
  thresholdMode?: 'rel' | 'abs';  // 'rel'
  cooldown?: number;     // 0
  minLr?: number;        // 0
}

/**
 * ReduceLROnPlateau: after more than `patience` epochs without an
 * improvement of `threshold` (relative or absolute: thresholdMode), lr = max(lr·factor, minLr); then `cooldown`
 * epochs during which bad epochs are not counted.
 */
export class ReduceOnPlateau extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'reduceOnPlateau';
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLr: number;
  private readonly tracker: PlateauTracker;

  constructor(opts: ReduceOnPlateauOptions | undefined, optimizer?: LrHolder) {
    const o = options('reduceOnPlateau options', opts,
      ['monitor', 'mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr']);
    if (o.monitor !== undefined && typeof o.monitor !== 'string') throw typeError('monitor', 'a metric name', o.monitor);
    const monitor = (o.monitor as string | undefined) ?? 'val_loss';
    const given = o.mode === undefined ? 'auto' : oneOf('mode', o.mode, ['auto', 'min', 'max'] as const);
    // 'auto' before, a fixed 'min': a Keras user monitoring val_accuracy saw the rate cut every epoch.
    const mode = given === 'auto' ? autoMode(monitor) : given;
    const factor = o.factor === undefined ? 0.1 : number('factor', o.factor, 0, 1, { minExclusive: true, maxExclusive: true });
    const patience = o.patience === undefined ? 10 : integer('patience', o.patience, 0);
    const threshold = o.threshold === undefined ? 1e-4 : number('threshold', o.threshold, 0);
    const thresholdMode = o.thresholdMode === undefined ? 'rel' : oneOf('thresholdMode', o.thresholdMode, ['rel', 'abs'] as const);
    const cooldown = o.cooldown === undefined ? 0 : integer('cooldown', o.cooldown, 0);
    const minLr = o.minLr === undefined ? 0 : number('minLr', o.minLr, 0);
    super();
    this.monitor = monitor;
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.minLr = minLr;
    this.tracker = this.newTracker();
    if (optimizer !== undefined) this.bind(optimizer);
  }

  /** A fresh judge of epochs with these options (schedules.sequential's plateau stage makes its own). */
  newTracker(): PlateauTracker {
    return new PlateauTracker(this);
  }

  /** The monitored value in an epoch's logs; a RangeError listing the logs when it is not there. */
  monitoredValue(logs: Logs): number {
    const value = logs[this.monitor];
    if (value === undefined) {
      throw new ArgumentRangeError(`reduceOnPlateau monitors '${this.monitor}', which is not in the epoch logs (${Object.keys(logs).join(', ')})`);
    }
    return value;
  }

  protected lrAt(): number {
    return this.requireBound().lr;  // unchanged except by a plateau
  }

  /** Records one epoch's monitored value and lowers the rate on a plateau. */
  override step(value?: number): void {
    const opt = this.requireBound();
    if (typeof value !== 'number') throw typeError('value', `the monitored value (${this.monitor})`, value);
    // NaN is never better: a bad epoch. Refusing it made fit reject after
    // terminateOnNaN had stopped it, instead of ending quietly as that callback promises.
    this.stepCount++;
    if (this.tracker.record(value)) opt.lr = loweredRate(opt.lr, this.factor, this.minLr);
    this.saveState();
  }

  /** Its counters too (PyTorch saves them in the scheduler's state_dict); best is null until a value came. */
  protected override state(): ScheduleState {
    return { ...super.state(), plateau: this.tracker.counters() };
  }

  /** Keeps the lr it finds (it has no base) and takes back the plateau counters of a reduce-on-plateau before it. */
  protected override resume(params: TrainingParams): void {
    const plateau = this.found?.kind === this.kind ? this.found.plateau : undefined;
    if (plateau !== undefined) this.tracker.restore(plateau);
    this.stepCount = params.initialEpoch;
    this.saveState();
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    this.step(this.monitoredValue(logs));
  }
}

// ---- one schedule per fit ------------------------------------------------------

/**
 * Refuses a fit whose callbacks hold two schedules (the same one listed twice
 * is one). torch steps chained schedulers multiplicatively (LinearLR then
 * StepLR: a warm-up times a decay); each schedule here sets the rate outright
 * from its own base, so the last one silently won — from the rate the first
 * had just set, losing the warm-up (0.025 held where torch goes 0.025,
 * 0.044, 0.0625, …). Checked before any schedule binds, so a refused fit
 * leaves the optimizer's rate as it was.
 */
export function checkOneSchedule(callbacks: readonly Callback[]): void {
  const found = [...new Set(callbacks.filter((cb): cb is Schedule => cb instanceof Schedule))];
  if (found.length > 1) {
    throw new ArgumentRangeError(`Expected at most one schedule in fit callbacks but received ${found.length}: ` +
      `${found.map((s) => s.name).join(', ')}. Each sets the rate outright, so the last would undo the others ` +
      `(torch multiplies chained schedulers); to run schedules one after another (a warm-up, then a decay) ` +
      `combine them into one with schedules.sequential([first, second], { milestones: [epoch] }), as torch's SequentialLR`);
  }
}

// ---- factories (the public names) -------------------------------------------

export function step(opts: StepOptions, optimizer?: LrHolder): Schedule {
  return new StepSchedule(opts, optimizer);
}
export function exponential(opts: ExponentialOptions, optimizer?: LrHolder): Schedule {
  return new ExponentialSchedule(opts, optimizer);
}
export function linearWarmup(opts?: LinearWarmupOptions, optimizer?: LrHolder): Schedule {
  return new LinearWarmupSchedule(opts, optimizer);
}
export function cosine(opts: CosineOptions, optimizer?: LrHolder): Schedule {
  return new CosineSchedule(opts, optimizer);
}
export function reduceOnPlateau(opts?: ReduceOnPlateauOptions, optimizer?: LrHolder): ReduceOnPlateau {
  return new ReduceOnPlateau(opts, optimizer);
}
