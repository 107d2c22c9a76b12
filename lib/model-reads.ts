// Sequential's reads — predict, predictAsync, evaluate and evaluateAsync — once
// Sequential has checked their arguments: which weights each answers with, and
// what it computes from the outputs.
//
// Which weights: the model's live plan, or, while fit trains the live plan, the
// snapshot fit copies at the start of every epoch (so a read never sees a
// half-updated model; fit's hooks run with the model idle and read the live
// plan). The async reads copy the weights of that moment into a private plan
// before they return (lib/predict-async.ts), so fit, trainStep, setWeights or
// compile may run meanwhile without changing their answer. A count of the
// writes to the live plan (stateVersion) tells a private plan whether the copy
// it holds is still current, so a service that never trains copies once.
//
// What evaluate computes: the compiled loss and metrics over every row's
// eval-mode output at once. evaluateAsync computes the same from predictAsync's
// output — predict's bit for bit (equal forward passes on equal weights) — with
// the same reductions over the same array, so its Logs equal evaluate's bit
// for bit. (Scoring chunk by chunk would let the event loop in during the
// scoring too, but it would change the summation order and so the last bits;
// the scoring is one pass over rows × outputs values against the forward
// pass's rows × Σ(in × out) multiply-adds, so it stays whole.)
import type { Logs } from './callbacks';
import type { Engine, NetworkPlan, Target } from './engine';
import { Loss, type LossFunction } from './losses';
import { Matrix, allocate } from './matrix';
import { metricByName, type MetricName } from './metrics';
import { outputReading } from './output-reading';
import { AsyncPredictor } from './predict-async';
import { disposedError, integer, options, typeError } from './validate';
import { AbortError } from './abort-error';

/** What evaluate scores with: the compiled loss and metric names, taken when the call is made. */
export interface Scoring {
  readonly loss: Loss | LossFunction;
  readonly metricNames: readonly MetricName[];
}

/** How an async read rejects when its signal aborts (lib/abort-error.ts; history null). */
export function readAbortedError(method: string, reason: unknown): AbortError {
  return new AbortError(`${method} was aborted before it finished; the model is unchanged`, reason);
}

/**
 * predictAsync's and evaluateAsync's options (name: the options object's name
 * in errors): batchSize, rows per chunk (default 256), and an AbortSignal.
 */
export function asyncReadOptions(name: string, opts: unknown): { batchSize: number; signal: AbortSignal | null } {
  const o = options(name, opts, ['batchSize', 'signal']);
  const batchSize = o.batchSize === undefined ? 256 : integer('batchSize', o.batchSize, 1, 2 ** 31 - 1);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', o.signal);
  return { batchSize, signal: (o.signal as AbortSignal | undefined) ?? null };
}

// Rows a new model's plans hold, so also the rows of one predict pass until a
// larger fit batch grows them (predict runs larger inputs in passes of this
// many rows, each its own product over every weight). Native: 256. A 256-row
// predict of 784-2048-2048-10 in 32-row passes took ~77 ms against ~37–50 ms
// in one pass (1 thread, loaded machine; bench/predict.mjs): each small pass
// copies all of W for its product. Costs 256 × (Σ layer widths + 2 × the
// widest) values per plan (~13 MB float32 for that net). JS: 32, since its
// predictAsync and evaluateAsync yield to the event loop only between passes
// (a 256-row pass held it too long for their event-loop tests).
export function initialMaxBatch(engine: Engine): number {
  return engine.name === 'native' ? 256 : 32;
}

export class ModelReads {
  /** The weights reads use while fit runs (a second plan; created by the first fit). */
  private snapshotPlan: NetworkPlan | null = null;
  /**
   * Counts writes to the live plan's parameters and buffers (all predict
   * reads; the training/eval mode is not among them: predict is always eval).
   * Every path that may write them calls stateChanged(), so the async reads
   * reuse a private plan filled at the same count instead of copying again.
   */
  private stateVersion = 0;
  /** The stateVersion whose weights the snapshot plan holds. */
  private snapshotVersion = -1;
  /** The async reads' private plans (a copy of the weights when they changed). */
  private readonly asyncPredictor: AsyncPredictor;

  /**
   * live: the model's plan. createPlan: a new plan of the model's layers and
   * dtype. snapshotMaxBatch: the snapshot plan's row capacity. training():
   * true while fit trains the live plan (outside its hooks).
   */
  constructor(private readonly live: NetworkPlan, private readonly engine: Engine,
              private readonly createPlan: (maxBatch: number) => NetworkPlan,
              private readonly snapshotMaxBatch: number, private readonly training: () => boolean) {
    this.asyncPredictor = new AsyncPredictor(createPlan);
  }

  /** Eval-mode outputs for x (rows × inputSize, checked) from the plan reads use now. */
  predict(x: Matrix): Matrix {
    const out = allocate(this.live.dtype, x.rows * this.live.outputSize);
    this.current().plan.predict(x.data, x.rows, out);
    return new Matrix(x.rows, this.live.outputSize, out);
  }

  /**
   * predict's output, without holding the event loop, from the weights of the
   * moment of the call. An abort of signal rejects with readAbortedError
   * (method names the caller in it).
   */
  async predictAsync(x: Matrix, batchSize: number, signal: AbortSignal | null, method = 'predictAsync'): Promise<Matrix> {
    if (signal?.aborted) throw readAbortedError(method, signal.reason);
    const out = allocate(this.live.dtype, x.rows * this.live.outputSize);
    const { plan, version } = this.current();
    try {
      await this.asyncPredictor.run(plan, version, x.data, x.rows, out, batchSize, signal);
    } catch (err) {
      // An abort stops the private plan as a dispose() does; the caller asked for the abort.
      if (signal?.aborted) throw readAbortedError(method, signal.reason);
      throw err;
    }
    // Settled, but aborted before this continuation ran: the caller no longer wants the answer.
    if (signal?.aborted) throw readAbortedError(method, signal.reason);
    return new Matrix(x.rows, this.live.outputSize, out);
  }

  /** The loss and metrics of scoring on x, y (checked; y the caller may not change). */
  evaluate(x: Matrix, y: Target, scoring: Scoring): Logs {
    return this.score(scoring, this.predict(x), y);
  }

  /**
   * evaluate's Logs, bit for bit, with the forward pass run as predictAsync
   * runs it. y must be private to the call: it is read after the await.
   */
  async evaluateAsync(x: Matrix, y: Target, scoring: Scoring, batchSize: number, signal: AbortSignal | null): Promise<Logs> {
    const pred = await this.predictAsync(x, batchSize, signal, 'evaluateAsync');
    // Every pending call rejects on dispose(); this covers one in the turn it settled.
    if (this.live.disposed) throw disposedError('Sequential.evaluateAsync');
    return this.score(scoring, pred, y);
  }

  /** The loss and metrics of eval-mode outputs `pred` against y. */
  score(scoring: Scoring, pred: Matrix, y: Target): Logs {
    const { loss } = scoring;
    const target = y instanceof Int32Array ? y : new Matrix(pred.rows, pred.cols, y);
    const logs: Logs = {
      loss: loss instanceof Loss
        ? this.engine.lossForward(loss.spec, pred.data, pred.rows, pred.cols, y)
        : loss.forward(pred, target),
    };
    // The outputs read as the compiled loss defines them (lib/output-reading.ts), as fit's training metrics read them.
    const reading = outputReading(loss instanceof Loss ? loss.name : null);
    for (const name of scoring.metricNames) logs[name] = metricByName(name, pred, y, reading);
    return logs;
  }

  /**
   * Copies the live weights and buffers into the snapshot plan (the live plan
   * must be idle): plan to plan with copyStateFrom, no array in between (on
   * 5.8 M parameters a fresh 23 MB array per epoch cost several ms).
   */
  takeSnapshot(): void {
    if (this.snapshotPlan === null) this.snapshotPlan = this.createPlan(this.snapshotMaxBatch);
    // The epoch before this one wrote the live weights with no count in between.
    this.stateChanged();
    this.snapshotPlan.copyStateFrom(this.live);  // a refused copy changes nothing: the old version stays true
    this.snapshotVersion = this.stateVersion;
  }

  /**
   * Marks the live plan's parameters or buffers as (about to be) written. A
   * missed call would let an async read answer with stale weights; an extra one
   * costs one copy of the weights in the next async read.
   */
  stateChanged(): void {
    this.stateVersion++;
  }

  /** Frees the snapshot and the private plans; pending async reads reject with ERR_FASTMLP_DISPOSED. */
  dispose(): void {
    this.snapshotPlan?.dispose();  // fit's snapshot holds a second copy of the weights
    this.asyncPredictor.dispose();
  }

  /** The plan reads may use now, and the version of the weights it holds. */
  private current(): { plan: NetworkPlan; version: number } {
    if (this.training() && this.snapshotPlan !== null) return { plan: this.snapshotPlan, version: this.snapshotVersion };
    return { plan: this.live, version: this.stateVersion };
  }
}
