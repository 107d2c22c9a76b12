// Callbacks for fit() (SPEC.md §5): hooks around training, epochs and batches,
// awaited when they return a promise, in the order given. The built-ins follow
// Keras's documented behaviour (keras.callbacks.EarlyStopping, ModelCheckpoint,
// TerminateOnNaN, CSVLogger). A callback stops training by setting
// `model.stopTraining = true`: fit() then ends after the current batch (batch
// hooks) or epoch.
//
// Batch hooks come in two kinds (README "Training in a service"): by default
// they act — fit drives the epoch batch by batch and runs them between batches
// with the model idle (they may change lr or weights). A callback marked
// `observeOnly: true` only reads its logs: its onBatchEnd rides the engine's
// per-batch events, so the native epoch stays one call on a worker thread.
import { promises as fs } from 'node:fs';
import { formatCheckpointPath, parseCheckpointPath } from './checkpoint-path';
import { progressCallback, type ProgressOutput } from './cli/progress';
import type { FloatArray } from './engine';
import { ArgumentRangeError, ArgumentTypeError, boolean, integer, isPlainObject, number, oneOf, options, typeError } from './validate';

export type Logs = Record<string, number>;

/**
 * onEpochEnd's logs (and FitOptions.onEpochEnd's): `loss` and `samplesPerSecond`
 * always; the compiled metrics, and `val_*` copies with validation data, by name.
 */
export interface EpochLogs extends Logs {
  /** The epoch's mean training loss over its rows; NaN when a batch's loss was not finite. */
  loss: number;
  /** Training rows over training seconds (not in History: a timing, not a result). */
  samplesPerSecond: number;
}

/** onBatchBegin's logs. */
export interface BatchBeginLogs extends Logs {
  /** The batch's number in the epoch (0-based; across a stream's chunks). */
  batch: number;
  /** Its rows. */
  size: number;
}

/** onBatchEnd's logs. */
export interface BatchLogs extends BatchBeginLogs {
  /** The batch's loss before its step; NaN when that step was not applied. */
  loss: number;
  /** Rows since the start of the epoch (of the current chunk, for streamed data) over seconds. */
  samplesPerSecond: number;
}

/** What callbacks see of the model. */
export interface CallbackModel {
  /** Set to true to stop fit() after the current batch (with batch hooks) or epoch. */
  stopTraining: boolean;
  /** The compiled optimizer (its lr is settable), or null before compile(). */
  readonly optimizer: { lr: number } | null;
  getWeights(): Record<string, FloatArray>;
  setWeights(weights: Record<string, ArrayLike<number>>): void;
}

/** A model that can be saved (modelCheckpoint's structural requirement). */
export interface SavableModel {
  save(path: string, opts?: { includeOptimizer?: boolean }): Promise<void>;
}

/** The settings of one fit() call, as callbacks and History see them. */
export interface TrainingParams {
  epochs: number;
  initialEpoch: number;
  batchSize: number;
  /** Training rows (after any validation split); NaN for streamed data (unknown in advance). */
  samples: number;
  /** Batches per epoch; NaN for streamed data. */
  steps: number;
  verbose: boolean;
  /** Names that appear in the epoch logs. */
  metrics: string[];
}

type Hook<A extends unknown[]> = (...args: A) => void | Promise<void>;

export interface Callback {
  setModel?(model: CallbackModel): void;
  setParams?(params: TrainingParams): void;
  onTrainBegin?: Hook<[logs: Logs]>;
  onTrainEnd?: Hook<[logs: Logs]>;
  onEpochBegin?: Hook<[epoch: number, logs: Logs]>;
  /**
   * logs: loss, the compiled metrics, val_* with validation, and
   * samplesPerSecond — the epoch's training rows (a stream's rows actually
   * trained) over its training seconds, without the validation pass or the
   * waits for a stream's chunks. History records all but samplesPerSecond.
   */
  onEpochEnd?: Hook<[epoch: number, logs: EpochLogs]>;
  /**
   * Batch hooks make fit drive the epoch batch by batch (correct in both engines,
   * slower in native) unless the callback is observeOnly.
   */
  onBatchBegin?: Hook<[batch: number, logs: BatchBeginLogs]>;
  /**
   * logs: { batch, size, loss, samplesPerSecond } — loss may be NaN (that batch's
   * step was not applied); samplesPerSecond counts the rows since the start of
   * the epoch (of the current chunk, for streamed data).
   */
  onBatchEnd?: Hook<[batch: number, logs: BatchLogs]>;
  /**
   * True: onBatchEnd only reads its logs (progress, logging), so fit may deliver
   * it from the engine's per-batch events while training goes on — in the native
   * engine at most ON_BATCH_MAX_LAG (16, lib/engine.ts) batches late, with the
   * model still training (predict answers from the epoch's snapshot;
   * getWeights/setWeights/lr are refused or take effect late). A synchronous
   * onBatchEnd slower than a batch slows training to its pace (backpressure:
   * the worker waits rather than queue events without bound), and so does one
   * that returns a promise: its batch counts as undelivered until the promise
   * settles, and the next batch's call waits for it (EpochHooks.onBatch), so
   * the same bound holds (JS engine: 0). A rejection rejects fit with its
   * reason, as a throw does. Setting
   * model.stopTraining still stops the epoch, at the engine's next batch — at
   * most ON_BATCH_MAX_LAG + 1 batches after the one observed. Such a callback
   * may not have onBatchBegin.
   */
  observeOnly?: boolean;
}

export const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;
export type HookName = typeof HOOKS[number];

/** Checks fit()'s `callbacks` option: an array of objects whose hooks are functions. */
export function checkCallbacks(value: unknown, name = 'callbacks'): Callback[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw typeError(name, 'an array of callbacks', value);
  value.forEach((cb, i) => {
    if (typeof cb !== 'object' || cb === null) throw typeError(`${name}[${i}]`, 'a callback object', cb);
    for (const hook of [...HOOKS, 'setModel', 'setParams']) {
      const fn = (cb as Record<string, unknown>)[hook];
      if (fn !== undefined && typeof fn !== 'function') throw typeError(`${name}[${i}].${hook}`, 'a function', fn);
    }
    const observeOnly = (cb as Callback).observeOnly;
    if (observeOnly !== undefined && typeof observeOnly !== 'boolean') {
      throw typeError(`${name}[${i}].observeOnly`, 'a boolean', observeOnly);
    }
    if (observeOnly === true && typeof (cb as Callback).onBatchBegin === 'function') {
      throw new ArgumentTypeError(`Expected no onBatchBegin for ${name}[${i}] (observeOnly callbacks only observe finished batches) but received a function`);
    }
  });
  return [...value] as Callback[];  // a copy: fit appends its own (onEpochEnd, verbose)
}

/** True when any callback has a per-batch hook. */
export function wantsBatches(callbacks: readonly Callback[]): boolean {
  return callbacks.some((cb) => typeof cb.onBatchBegin === 'function' || typeof cb.onBatchEnd === 'function');
}

/** True when a batch hook must run between batches (any that is not observeOnly). */
export function needsBatchDriving(callbacks: readonly Callback[]): boolean {
  return wantsBatches(callbacks.filter((cb) => cb.observeOnly !== true));
}

/** The observeOnly callbacks with an onBatchEnd (fed from the engine's batch events). */
export function batchObservers(callbacks: readonly Callback[]): Callback[] {
  return callbacks.filter((cb) => cb.observeOnly === true && typeof cb.onBatchEnd === 'function');
}

/** Calls one hook on every callback in order, awaiting each. Each gets its own copy of logs. */
export async function callHook(callbacks: readonly Callback[], hook: HookName, ...args: unknown[]): Promise<void> {
  for (const cb of callbacks) {
    const fn = cb[hook] as ((...a: unknown[]) => unknown) | undefined;
    if (typeof fn !== 'function') continue;
    const copied = args.map((a) => (isPlainObject(a) ? { ...a } : a));
    await fn.apply(cb, copied);
  }
}

// ---- early stopping -------------------------------------------------------------

export interface EarlyStoppingOptions {
  monitor?: string;             // 'val_loss'
  /** Epochs without improvement before stopping. */
  patience?: number;            // 0
  /** Smallest change that counts as an improvement. */
  minDelta?: number;            // 0
  /** 'auto': 'max' for accuracy-like names, else 'min'. */
  mode?: 'auto' | 'min' | 'max';
  /**
   * A value the monitored quantity must beat (Keras's baseline): until an
   * epoch beats both it and the best so far, the epochs since the last one
   * that did keep counting towards patience.
   */
  baseline?: number;            // none
  /** Epochs (0-based numbers) before this one are not watched: a warm-up may get worse first (Keras's start_from_epoch). */
  startFromEpoch?: number;      // 0
  /** When training ends (stopped or not), restore the weights of the best epoch. */
  restoreBestWeights?: boolean; // false
}

const HIGHER_IS_BETTER = /acc|precision|recall|f1|r2/;

/** Mode 'auto' as Keras resolves it: 'max' for accuracy-like names, else 'min'. */
export function autoMode(monitor: string): 'min' | 'max' {
  return HIGHER_IS_BETTER.test(monitor) ? 'max' : 'min';
}

/**
 * Keras 3's keras.callbacks.EarlyStopping (documented behaviour): an epoch that
 * improves on the best never stops training; one that does not stops it once
 * `patience` epochs passed since the last epoch that improved on both the best
 * and the baseline. restoreBestWeights restores at the end of training, whether
 * patience ran out or the epochs did (Keras 3 moved the restore to
 * on_train_end; before, a run that used all its epochs kept the last weights).
 */
export class EarlyStopping implements Callback {
  readonly monitor: string;
  readonly patience: number;
  readonly minDelta: number;
  readonly mode: 'min' | 'max';
  /** The value to beat, or null. */
  readonly baseline: number | null;
  readonly startFromEpoch: number;
  readonly restoreBestWeights: boolean;
  /** Epoch (0-based) at which training stopped, or -1. */
  stoppedEpoch = -1;
  /** Epoch of the best monitored value, or -1. */
  bestEpoch = -1;
  best = NaN;
  private wait = 0;
  private bestWeights: Record<string, FloatArray> | null = null;
  private model: CallbackModel | null = null;

  constructor(opts?: EarlyStoppingOptions) {
    const o = options('earlyStopping options', opts, ['monitor', 'patience', 'minDelta', 'mode', 'baseline', 'startFromEpoch',
      'restoreBestWeights']);
    if (o.monitor !== undefined && typeof o.monitor !== 'string') throw typeError('monitor', 'a metric name', o.monitor);
    this.monitor = (o.monitor as string | undefined) ?? 'val_loss';
    this.patience = o.patience === undefined ? 0 : integer('patience', o.patience, 0);
    this.minDelta = o.minDelta === undefined ? 0 : Math.abs(number('minDelta', o.minDelta));
    const mode = o.mode === undefined ? 'auto' : oneOf('mode', o.mode, ['auto', 'min', 'max'] as const);
    this.mode = mode !== 'auto' ? mode : autoMode(this.monitor);
    this.baseline = o.baseline === undefined || o.baseline === null ? null : number('baseline', o.baseline);
    this.startFromEpoch = o.startFromEpoch === undefined ? 0 : integer('startFromEpoch', o.startFromEpoch, 0);
    this.restoreBestWeights = o.restoreBestWeights === undefined ? false : boolean('restoreBestWeights', o.restoreBestWeights);
  }

  setModel(model: CallbackModel): void {
    this.model = model;
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.bestEpoch = -1;
    this.stoppedEpoch = -1;
    this.bestWeights = null;
  }

  private improves(current: number, reference: number): boolean {
    return this.mode === 'min' ? current < reference - this.minDelta : current > reference + this.minDelta;
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const current = logs[this.monitor];
    if (current === undefined) {
      throw new ArgumentRangeError(`earlyStopping monitors '${this.monitor}', which is not in the epoch logs (${Object.keys(logs).join(', ')}); ` +
        'add validationData/validationSplit or choose another monitor');
    }
    if (epoch < this.startFromEpoch) return;
    // A run whose monitored value never improves (NaN throughout) still restores its first epoch, as Keras.
    if (this.restoreBestWeights && this.bestWeights === null) {
      this.bestWeights = this.requireModel().getWeights();
      this.bestEpoch = epoch;
    }
    this.wait++;
    if (this.improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.requireModel().getWeights();
      if (this.baseline === null || this.improves(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      this.requireModel().stopTraining = true;
    }
  }

  onTrainEnd(): void {
    if (this.restoreBestWeights && this.bestWeights) this.requireModel().setWeights(this.bestWeights);
    this.bestWeights = null;  // not kept alive past fit
  }

  private requireModel(): CallbackModel {
    if (!this.model) throw new Error('earlyStopping: no model (use it in fit callbacks)');
    return this.model;
  }
}

// ---- model checkpoint -----------------------------------------------------------

export interface ModelCheckpointOptions {
  /**
   * Where to save; Keras's placeholders are filled: `{epoch}` (1-based) and any
   * epoch log, optionally formatted: 'w.{epoch:02d}-{val_loss:.2f}.safetensors'.
   */
  filepath: string;
  monitor?: string;        // 'val_loss'
  /** Save only when the monitored value improves. */
  saveBestOnly?: boolean;  // false
  mode?: 'auto' | 'min' | 'max';
  /** Also save the optimizer state (model.save's option), so a checkpoint resumes training exactly. */
  includeOptimizer?: boolean;  // false
}

export class ModelCheckpoint implements Callback {
  readonly filepath: string;
  readonly monitor: string;
  readonly saveBestOnly: boolean;
  readonly mode: 'min' | 'max';
  readonly includeOptimizer: boolean;
  best: number;
  /** Paths written, in order. */
  readonly saved: string[] = [];
  private model: (CallbackModel & Partial<SavableModel>) | null = null;
  private readonly pathParts: ReturnType<typeof parseCheckpointPath>;

  constructor(opts: ModelCheckpointOptions) {
    const o = options('modelCheckpoint options', opts, ['filepath', 'monitor', 'saveBestOnly', 'mode', 'includeOptimizer']);
    if (typeof o.filepath !== 'string' || o.filepath.length === 0) throw typeError('filepath', 'a non-empty path', o.filepath);
    this.filepath = o.filepath;
    this.pathParts = parseCheckpointPath(o.filepath);
    if (o.monitor !== undefined && typeof o.monitor !== 'string') throw typeError('monitor', 'a metric name', o.monitor);
    this.monitor = (o.monitor as string | undefined) ?? 'val_loss';
    this.saveBestOnly = o.saveBestOnly === undefined ? false : boolean('saveBestOnly', o.saveBestOnly);
    this.includeOptimizer = o.includeOptimizer === undefined ? false : boolean('includeOptimizer', o.includeOptimizer);
    const mode = o.mode === undefined ? 'auto' : oneOf('mode', o.mode, ['auto', 'min', 'max'] as const);
    this.mode = mode !== 'auto' ? mode : autoMode(this.monitor);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  setModel(model: CallbackModel): void {
    if (typeof (model as Partial<SavableModel>).save !== 'function') {
      throw new ArgumentTypeError('modelCheckpoint needs a model with save(path): Promise<void>');
    }
    this.model = model;
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (!this.model?.save) throw new Error('modelCheckpoint: no model (use it in fit callbacks)');
    if (this.saveBestOnly) {
      const current = logs[this.monitor];
      if (current === undefined) {
        throw new ArgumentRangeError(`modelCheckpoint monitors '${this.monitor}', which is not in the epoch logs (${Object.keys(logs).join(', ')})`);
      }
      const better = this.mode === 'min' ? current < this.best : current > this.best;
      if (!better) return;
      this.best = current;
    }
    const path = formatCheckpointPath(this.filepath, this.pathParts, epoch, logs);
    // Saved as the epoch ends: the optimizer state, the step count and the shuffling generator are
    // those the next epoch starts from, so fit(..., { initialEpoch: epoch + 1 }) on the loaded model resumes exactly.
    await (this.includeOptimizer ? this.model.save(path, { includeOptimizer: true }) : this.model.save(path));
    this.saved.push(path);
  }
}

// ---- terminate on NaN, CSV logger, lambda, progress -------------------------------

/** Stops training at the first batch whose loss is NaN or infinite, without an error. */
export class TerminateOnNaN implements Callback {
  /** [epoch, batch] where it stopped, or null. */
  stoppedAt: [number, number] | null = null;
  private model: CallbackModel | null = null;
  private epoch = 0;

  setModel(model: CallbackModel): void {
    this.model = model;
  }

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  onBatchEnd(batch: number, logs: Logs): void {
    const loss = logs['loss'];
    if (loss !== undefined && !Number.isFinite(loss) && this.model) {
      this.stoppedAt = [this.epoch, batch];
      this.model.stopTraining = true;
    }
  }
}

export interface CsvLoggerOptions {
  separator?: string;  // ','
  /** Append to an existing file instead of replacing it. */
  append?: boolean;    // false
}

/** The epoch-log entry that is a timing, not a training result (lib/fit-loop.ts). */
export const RATE_LOG = 'samplesPerSecond';

/**
 * Writes one row per epoch: epoch, then the log values in sorted column order.
 * It leaves samplesPerSecond out: the file is the record of the training
 * results, as History (same columns), so two identical seeded runs write
 * identical files that can be diffed; a timing differs every run and belongs
 * to the progress output.
 */
export class CsvLogger implements Callback {
  readonly path: string;
  readonly separator: string;
  readonly append: boolean;
  private columns: string[] | null = null;

  constructor(path: string, opts?: CsvLoggerOptions) {
    if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty file path', path);
    const o = options('csvLogger options', opts, ['separator', 'append']);
    if (o.separator !== undefined && (typeof o.separator !== 'string' || o.separator.length === 0)) {
      throw typeError('separator', 'a non-empty string', o.separator);
    }
    this.path = path;
    this.separator = (o.separator as string | undefined) ?? ',';
    this.append = o.append === undefined ? false : boolean('append', o.append);
  }

  async onTrainBegin(): Promise<void> {
    this.columns = null;
    if (!this.append) await fs.writeFile(this.path, '');
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    let text = '';
    if (this.columns === null) {
      this.columns = Object.keys(logs).filter((k) => k !== RATE_LOG).sort();
      const existing = this.append ? await fs.stat(this.path).then((s) => s.size > 0, () => false) : false;
      if (!existing) text += ['epoch', ...this.columns].join(this.separator) + '\n';
    }
    text += [String(epoch), ...this.columns.map((c) => (logs[c] === undefined ? '' : String(logs[c])))].join(this.separator) + '\n';
    await fs.appendFile(this.path, text);
  }
}

/**
 * A callback from plain functions: lambda({ onEpochEnd: (epoch, logs) => ... });
 * lambda({ observeOnly: true, onBatchEnd }) for a batch observer.
 */
export function lambda(hooks: Partial<Pick<Callback, HookName | 'observeOnly'>>): Callback {
  const o = options('lambda hooks', hooks, [...HOOKS, 'observeOnly']);
  const cb: Callback = {};
  if (o.observeOnly !== undefined) cb.observeOnly = boolean('observeOnly', o.observeOnly);
  for (const name of HOOKS) {
    const fn = o[name];
    if (fn === undefined) continue;
    if (typeof fn !== 'function') throw typeError(name, 'a function', fn);
    (cb as Record<string, unknown>)[name] = fn;
  }
  return cb;
}

export interface ProgressOptions {
  /** Where lines go (default process.stdout). */
  write?: (line: string) => void;
}

/**
 * Prints one line per epoch: "Epoch 3/10 - 0.12 s - loss: 0.4123 - val_loss: 0.5012 - 51234 samples/s".
 * It prints the epoch's samples/s: verbose output is for a person watching the
 * run, for whom throughput is the point (Keras prints its time per step there).
 */
export class ProgressLogger implements Callback {
  private readonly write: (line: string) => void;
  private epochs = 0;
  private started = 0;

  constructor(opts?: ProgressOptions) {
    const o = options('progress options', opts, ['write']);
    if (o.write !== undefined && typeof o.write !== 'function') throw typeError('write', 'a function', o.write);
    this.write = (o.write as ((line: string) => void) | undefined) ?? ((line) => process.stdout.write(line + '\n'));
  }

  setParams(params: TrainingParams): void {
    this.epochs = params.epochs;
  }

  onEpochBegin(): void {
    this.started = performance.now();
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(2);
    const parts = Object.entries(logs).filter(([k]) => k !== RATE_LOG).map(([k, v]) => `${k}: ${v.toFixed(4)}`);
    const rate = logs[RATE_LOG];
    if (rate !== undefined) parts.push(`${Math.round(rate)} samples/s`);
    this.write([`Epoch ${epoch + 1}/${this.epochs}`, `${seconds} s`, ...parts].join(' - '));
  }
}

export interface ProgressBarOptions {
  /** Where the bar is drawn (default process.stderr); outside a terminal it prints a line per redraw. */
  stream?: NodeJS.WritableStream;
}

/**
 * A per-batch progress bar with ETA, samples/s and the running loss (the CLI's
 * TrainingProgress, lib/cli/progress.ts) on a terminal; one line per epoch
 * elsewhere. It only observes, so the native epoch stays on its worker thread.
 */
export class ProgressBar implements Callback {
  readonly observeOnly = true;
  private readonly inner: Callback;

  constructor(opts?: ProgressBarOptions) {
    const o = options('progressBar options', opts, ['stream']);
    if (o.stream !== undefined && typeof (o.stream as NodeJS.WritableStream)?.write !== 'function') {
      throw typeError('stream', 'a writable stream', o.stream);
    }
    const stream = (o.stream as (NodeJS.WritableStream & { isTTY?: boolean }) | undefined) ?? process.stderr;
    // The stream itself, not a wrapper: on a TTY cli-progress moves the cursor through it.
    this.inner = progressCallback(stream as unknown as ProgressOutput, { batches: true });
  }

  setParams(params: TrainingParams): void {
    this.inner.setParams!(params);
  }

  onEpochBegin(epoch: number, logs: Logs): void {
    void this.inner.onEpochBegin!(epoch, logs);
  }

  onBatchEnd(batch: number, logs: BatchLogs): void {
    void this.inner.onBatchEnd!(batch, logs);
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    void this.inner.onEpochEnd!(epoch, logs);
  }
}

// ---- factories (the public names) ---------------------------------------------

/** Stops fit when `monitor` (default 'val_loss') has not improved for `patience` epochs (Keras's EarlyStopping). */
export function earlyStopping(opts?: EarlyStoppingOptions): EarlyStopping {
  return new EarlyStopping(opts);
}
/** Saves the model after each epoch (or only when `monitor` improves), to a path with Keras's placeholders. */
export function modelCheckpoint(opts: ModelCheckpointOptions): ModelCheckpoint {
  return new ModelCheckpoint(opts);
}
export function terminateOnNaN(): TerminateOnNaN {
  return new TerminateOnNaN();
}
export function csvLogger(path: string, opts?: CsvLoggerOptions): CsvLogger {
  return new CsvLogger(path, opts);
}
export function progress(opts?: ProgressOptions): ProgressLogger {
  return new ProgressLogger(opts);
}
export function progressBar(opts?: ProgressBarOptions): ProgressBar {
  return new ProgressBar(opts);
}
