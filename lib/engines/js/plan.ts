// A compiled network for the pure-TypeScript engine: the NetworkPlan of
// lib/engine.ts with the semantics of native/core/network.h.
//
// The class is built in layers, one file each; every field is declared in the
// first, the others add methods:
//   plan-memory.ts  construction, the flat buffers, reserve, dispose, the busy guard
//   plan-state.ts   settings, and the state copied in and out (parameters,
//                   gradients, buffers, optimizer state, copyStateFrom)
//   plan-passes.ts  the forward and backward passes over the layers
//   plan.ts         the contract's computations: predict, predictAsync,
//                   forwardTrain, backward, computeGradients, step, trainStep,
//                   trainEpoch
// A chain of classes, rather than functions taking the plan, keeps the fields
// out of the exported type (protected) and every method as it was in one file.
// The layers' kinds, checks and non-dense backward: plan-layers.ts.

import { isThenable, type EpochHooks, type EpochResult, type FloatArray, type LossSpec, type NetworkPlan, type Target } from '../../engine';
import type { RngState } from '../../rng';
import { validateTarget } from './losses';
import { optimizerSteps, optimizerUpdate } from './optim';
import { allFinite, alloc, checkRows, copy, isCount, need } from './plan-arrays';
import { PlanPasses } from './plan-passes';
import { yieldDue, yieldToEventLoop } from '../../event-loop';
import {
  ArgumentRangeError, DISPOSED, codedError, ownedBuffer, rangeError, typeError,
} from '../../validate';


export class JsNetworkPlan extends PlanPasses implements NetworkPlan {
  predict(x: FloatArray, rows: number, out: FloatArray): void {
    this.assertIdle('predict');
    checkRows(rows, Infinity);
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    need(x, rows * nIn, 'x');
    need(out, rows * nOut, 'out');
    this.predictRows(x, rows, out);
  }

  /**
   * The contract's predictAsync (lib/engine.ts), on the main thread: chunks of
   * batchSize rows rounded up to a multiple of capacity — whole predict
   * passes, so the output is predict's bit for bit — with a yield to the
   * event loop between them, and within a chunk, between two passes or two
   * slices of one pass (slices.ts), once the main thread's budget is spent
   * (lib/event-loop.ts, YIELD_MS): a chunk of 256 rows of 784-512-256-10 held
   * the event loop ~90 ms, so the default batchSize made the p99 delay ~150
   * ms, and one pass of 784-2048-2048-10 ~0.6 s. Busy meanwhile, like an
   * epoch; dispose() stops it at its next pause and the promise rejects with
   * ERR_FASTMLP_DISPOSED.
   */
  predictAsync(x: FloatArray, rows: number, out: FloatArray, batchSize: number): Promise<void> {
    this.assertIdle('predictAsync');
    checkRows(rows, Infinity);
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    need(x, rows * nIn, 'x');
    this.checkOwnOutput(out, rows * nOut);
    if (!isCount(batchSize, 1)) {
      throw new ArgumentRangeError(`Expected an integer ≥ 1 for batchSize but received ${String(batchSize)}`);
    }
    // Batch norm without running statistics normalises with the whole input's
    // statistics (as predict does): one pass of all rows, whatever batchSize.
    if (this.layers.some((l) => l.kind === 'batchnorm' && !l.trackRunningStats)) this.reserve(rows);
    const chunk = Math.ceil(batchSize / this.capacity) * this.capacity;
    // Private copies both ways, as the native binding makes: x may change once
    // this returns, and out is only written when every chunk has run.
    const input = x.slice(0, rows * nIn);
    const result = alloc(this.dtype, rows * nOut);
    this.busy = 'predicting';
    return this.runPredict(input, rows, result, out, chunk);
  }

  private async runPredict(x: FloatArray, rows: number, result: FloatArray, out: FloatArray, chunk: number): Promise<void> {
    const nOut = this.outputSize;
    const pass = this.capacity;  // chunk is a multiple of it: the same passes as predict's
    const clock = { paused: 0 };
    try {
      for (let start = 0; start < rows; start += pass) {
        if (start > 0 && (start % chunk === 0 || yieldDue())) await yieldToEventLoop();
        if (this.isDisposed) {
          throw codedError('predictAsync was cancelled: the plan was disposed (dispose() freed its memory) before it finished', DISPOSED);
        }
        // Within the pass too, once the budget is spent: one pass of 256 rows
        // of 784-2048-2048-10 took ~0.6 s.
        if (await this.runSteps(this.predictPass(x, start, Math.min(pass, rows - start), result), clock) === STOPPED) break;
      }
      if (this.isDisposed) {
        throw codedError('predictAsync was cancelled: the plan was disposed (dispose() freed its memory) before it finished', DISPOSED);
      }
      if (out.length !== rows * nOut) {
        throw new ArgumentRangeError(`Expected out to keep its ${rows * nOut} elements until predictAsync settled but its buffer was transferred or resized`);
      }
      out.set(result);
    } finally {
      this.busy = false;
      if (this.isDisposed) this.releaseBuffers();
    }
  }

  /** predictAsync's out: a typed array of the plan's dtype and length, over an ordinary ArrayBuffer (as the binding checks). */
  private checkOwnOutput(out: unknown, length: number): void {
    const Ctor = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(out instanceof Ctor)) throw typeError('out', `a ${Ctor.name}`, out);
    ownedBuffer('out', out);
    if (out.length !== length) throw rangeError('out', `${length} elements (rows × outputSize)`, out);
  }

  forwardTrain(x: FloatArray, rows: number, out: FloatArray): void {
    this.assertIdle('forwardTrain');
    checkRows(rows, this.capacity);
    need(out, rows * this.outputSize, 'out');
    this.forwardBatch(x, rows);
    copy(this.acts[this.layers.length], 0, out, 0, rows * this.outputSize);
  }

  backward(dout: FloatArray, rows: number, dinput?: FloatArray | null): void {
    this.assertIdle('backward');
    this.checkBackwardRows('backward', rows);
    need(dout, rows * this.outputSize, 'dout');
    if (dinput) need(dinput, rows * this.inputSize, 'dinput');
    this.backwardRows(dout, rows, dinput ?? null);
  }

  /** backward's and backwardStepAsync's rows: those of the last training forward, which must still be there. */
  private checkBackwardRows(what: string, rows: number): void {
    if (this.trainedRows < 0) {
      throw new ArgumentRangeError(`Expected a last forwardTrain to differentiate for ${what} but received none (reserve() discards it)`);
    }
    if (rows !== this.trainedRows) {
      throw new ArgumentRangeError(`Expected ${this.trainedRows} (the rows of the last forwardTrain) for rows but received ${String(rows)}`);
    }
  }

  forwardTrainAsync(x: FloatArray, rows: number, out: FloatArray): Promise<void> {
    this.assertIdle('forwardTrainAsync');
    checkRows(rows, this.capacity);
    need(out, rows * this.outputSize, 'out');
    this.loadBatch(x, rows);  // x is read now, as the native engine copies it at the call
    this.trainedRows = -1;  // no backward until this forward is done
    return this.runPass('forwardTrainAsync', this.forwardSteps(rows), () => {
      if (out.length !== rows * this.outputSize) {
        throw new ArgumentRangeError(`Expected out to keep its ${rows * this.outputSize} elements until forwardTrainAsync settled but its buffer was transferred or resized`);
      }
      copy(this.acts[this.layers.length], 0, out, 0, rows * this.outputSize);
    });
  }

  backwardStepAsync(dout: FloatArray, rows: number, loss: number): Promise<number> {
    this.assertIdle('backwardStepAsync');
    this.checkBackwardRows('backwardStepAsync', rows);
    need(dout, rows * this.outputSize, 'dout');
    if (typeof loss !== 'number') throw typeError('loss', 'a number', loss);
    if (!Number.isFinite(loss)) throw rangeError('loss', 'a finite number', loss);
    // dout is read now (the native engine copies it); this.dout is the built-in loss's gradient buffer, free here.
    copy(dout, 0, this.dout, 0, rows * this.outputSize);
    return this.runPass('backwardStepAsync', this.backwardStepSteps(rows, loss), (total) => total);
  }

  /** backwardStepAsync's work: backward, then the step of step() when loss + penalty is finite. */
  private *backwardStepSteps(rows: number, loss: number): Generator<void, number> {
    yield* this.backwardSteps(this.dout, rows, null);
    const total = loss + this.lastPenalty;
    if (Number.isFinite(total) && this.stepAllowed()) yield* this.updateSteps();
    return total;
  }

  /**
   * Runs one pass's steps with the plan busy, pausing as trainEpoch does, then
   * `done` on their result. Rejects with ERR_FASTMLP_DISPOSED after a dispose()
   * meanwhile, even one after the last step (as the native engine does).
   */
  private async runPass<T, R>(what: string, steps: Generator<void, T>, done: (result: T) => R): Promise<R> {
    this.busy = 'pass';
    try {
      const result = await this.runSteps(steps, { paused: 0 });
      if (result === STOPPED || this.isDisposed) {
        throw codedError(`${what} was cancelled: the plan was disposed (dispose() freed its memory) before it finished`, DISPOSED);
      }
      return done(result);
    } finally {
      this.busy = false;
      if (this.isDisposed) this.releaseBuffers();
    }
  }

  computeGradients(x: FloatArray, rows: number, y: Target): number {
    this.assertIdle('computeGradients');
    const loss = this.requireLoss('computeGradients');
    checkRows(rows, this.capacity);
    validateTarget(loss, rows, this.outputSize, y); // before the forward replaces anything
    this.forwardBatch(x, rows);
    const value = this.forwardLoss(loss, rows, y);
    this.backwardRows(this.dout, rows, null);
    return value + this.lastPenalty; // the penalties' value comes with their gradient
  }

  /** Skipped (stepCount unchanged) when the last backward's gradients are not all finite, as in the native core. */
  step(): void {
    this.assertIdle('step');
    if (this.stepAllowed()) this.update();
  }

  /**
   * False when the last backward's gradients are not all finite; so are
   * running statistics that overflowed in this batch's forward (a huge but
   * finite input: its batch variance overflows while the output and loss stay
   * finite). 2·C values per batch norm layer; none without one.
   */
  private stepAllowed(): boolean {
    return this.gradsFinite && (this.buffers.length === 0 || allFinite(this.buffers));
  }

  /**
   * The optimizer update, counted only when every element was updated: one
   * whose update overflowed kept its parameter and state (optim.ts), and the
   * step count stays, as for a refused step (network_epoch.cc step()).
   */
  private update(): boolean {
    const applied = optimizerUpdate(this.optimizer, this.params, this.grads, this.optState,
                                    this.paramCount, this.steps + 1);
    if (applied) this.steps++;
    return applied;
  }

  /** update in slices of the optimizer's loop (trainEpoch). */
  private *updateSteps(): Generator<void, boolean> {
    const applied = yield* optimizerSteps(this.meter, this.optimizer, this.params, this.grads, this.optState,
                                          this.paramCount, this.steps + 1);
    if (applied) this.steps++;
    return applied;
  }

  /**
   * Runs steps to the end, letting the event loop run at its yields once the
   * main thread's budget is spent (lib/event-loop.ts); the milliseconds spent
   * paused are added to clock.paused. Returns the steps' result, or STOPPED
   * when the plan was disposed during a pause: the steps are then dropped
   * where they stopped (nothing can read the plan any more, and its memory
   * stays until the caller's finally clears busy). With a batch's phase
   * (trainEpoch), also ABORTED when its signal aborted during a pause before
   * its update began, the steps likewise dropped: the caller puts back what
   * they changed (dropBatch). Only a pause can see an abort, as only the
   * event loop, which runs during pauses, can fire one.
   */
  private runSteps<T>(steps: Generator<void, T>, clock: { paused: number }): Promise<T | typeof STOPPED>;
  private runSteps<T>(steps: Generator<void, T>, clock: { paused: number },
                      phase: BatchPhase): Promise<T | typeof STOPPED | typeof ABORTED>;
  private async runSteps<T>(steps: Generator<void, T>, clock: { paused: number },
                            phase?: BatchPhase): Promise<T | typeof STOPPED | typeof ABORTED> {
    for (;;) {
      const r = steps.next();
      if (r.done === true) return r.value;
      if (!yieldDue()) continue;
      const before = performance.now();
      await yieldToEventLoop();
      clock.paused += performance.now() - before;
      if (this.isDisposed) {
        steps.return(undefined as T);
        return STOPPED;
      }
      if (phase !== undefined && !phase.updating && phase.signal?.aborted === true) {
        steps.return(undefined as T);
        return ABORTED;
      }
    }
  }

  trainStep(x: FloatArray, rows: number, y: Target): number {
    const value = this.computeGradients(x, rows, y);
    // As trainEpoch and the native engine: a NaN/Inf loss leaves the parameters
    // unchanged, and so do non-finite gradients (step() refuses them).
    if (Number.isFinite(value)) this.step();
    return value;
  }

  /**
   * Argument checks that the native binding makes before it queues its worker
   * throw synchronously; the checks the core makes on the worker (order is a
   * permutation, class indices in range) reject the promise. Either way they
   * all run before the first step, so bad input never half-trains the model.
   * X and y are read batch by batch, not copied: a caller must not modify
   * them until the promise settles (Sequential trains on private copies).
   */
  trainEpoch(x: FloatArray, rows: number, y: Target, batchSize: number,
             order: Int32Array | null, hooks?: EpochHooks): Promise<EpochResult> {
    this.assertIdle('trainEpoch');
    checkRows(rows, Infinity);
    need(x, rows * this.inputSize, 'x');
    need(y, y instanceof Int32Array ? rows : rows * this.outputSize, 'y');
    if (!isCount(batchSize, 1)) {
      throw new ArgumentRangeError(`Expected an integer ≥ 1 for batchSize but received ${String(batchSize)}`);
    }
    if (order !== null && (!(order instanceof Int32Array) || order.length !== rows)) {
      throw new ArgumentRangeError(`Expected an Int32Array of ${rows} row indices for order but received ${String((order as { length?: unknown }).length)} values`);
    }
    if (hooks?.outputs !== undefined) this.checkOutputs(hooks.outputs, rows);
    const loss = this.requireLoss('trainEpoch');
    return this.runEpoch(loss, x, rows, y, batchSize, order, hooks ?? {});
  }

  /** EpochHooks.keepData changes nothing here: this engine reads x and y in place. */
  releaseEpochData(): void {}

  /** EpochHooks.outputs: a typed array of the plan's dtype, rows × outputSize long (as the binding checks). */
  private checkOutputs(outputs: unknown, rows: number): void {
    const Ctor = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(outputs instanceof Ctor)) throw typeError('outputs', `a ${Ctor.name}`, outputs);
    ownedBuffer('outputs', outputs);  // refused in both engines (the native one writes it after its worker)
    if (outputs.length !== rows * this.outputSize) {
      throw rangeError('outputs', `${rows * this.outputSize} elements (rows × outputSize)`, outputs);
    }
  }

  private async runEpoch(loss: LossSpec, x: FloatArray, rows: number, y: Target,
                         batchSize: number, order: Int32Array | null,
                         hooks: EpochHooks): Promise<EpochResult> {
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    if (order !== null) checkPermutation(order, rows);
    // The target form and every class index, before the first step.
    validateTarget(loss, rows, nOut, y);
    const indices = y instanceof Int32Array ? y : null;

    const bs = Math.min(batchSize, rows);
    // A last batch of one row would stop batch norm part-way through the epoch.
    if (this.isTraining && Math.min(bs, rows - Math.floor((rows - 1) / bs) * bs) < 2 &&
        this.layers.some((l) => l.kind === 'batchnorm')) {
      throw new ArgumentRangeError(`Expected every batch to have at least 2 rows for batch norm in training mode but ${rows} rows in batches of ${batchSize} leave a batch of 1`);
    }
    this.reserve(bs);
    if (indices !== null && (this.yIdx === null || this.yIdx.length < this.capacity)) {
      this.yIdx = new Int32Array(this.capacity);
    }
    if (indices === null && (this.yDense === null || this.yDense.length < this.capacity * nOut)) {
      this.yDense = alloc(this.dtype, this.capacity * nOut);
    }
    const yb: Target = indices !== null ? (this.yIdx as Int32Array) : (this.yDense as FloatArray);
    const recorded = hooks.outputs;
    // Batch norm's running statistics change in each batch's forward, before
    // its loss is known: a copy from before every batch puts them back when
    // the loss is not finite (network.cc train_epoch), or an abort drops the
    // batch (dropBatch). Nothing to copy without buffers. Likewise the dropout
    // stream, which only a training forward through a dropout layer advances.
    const before: BatchStart = {
      buffers: this.buffers.length > 0 ? alloc(this.dtype, this.buffers.length) : null,
      dropout: null,
      penalty: 0,
    };
    const drawsMasks = this.isTraining && this.layers.some((l) => l.kind === 'dropout');
    const phase: BatchPhase = { signal: hooks.signal, updating: false };

    this.busy = 'training';
    let lossSum = 0;
    let done = 0; // rows of the completed batches
    let batches = 0;
    let badBatch = -1;
    let badStatistics = false;
    let badUpdate = false;
    let cancelled = false;
    try {
      const started = performance.now();
      const clock = { paused: 0 };  // ms spent in the event loop: not training time (onBatch's rate)
      for (let start = 0; start < rows; start += batchSize) {
        // Before every batch, the first too: the clock is shared with the
        // epochs before this one (lib/event-loop.ts), so epochs shorter than
        // the budget still let the event loop run between them.
        if (yieldDue()) {
          const paused = performance.now();
          await yieldToEventLoop();
          clock.paused += performance.now() - paused;
        }
        if (hooks.signal?.aborted || this.isDisposed) {
          cancelled = true;
          break;
        }
        const n = Math.min(batchSize, rows - start);
        // Gather the batch straight into the input buffer (and its targets).
        const input = this.acts[0];
        for (let i = 0; i < n; i++) {
          const src = order !== null ? order[start + i] : start + i;
          copy(x, src * nIn, input, i * nIn, nIn);
          if (indices !== null) (yb as Int32Array)[i] = indices[src];
          else copy(y, src * nOut, yb as FloatArray, i * nOut, nOut);
        }
        if (before.buffers !== null) before.buffers.set(this.buffers);
        if (drawsMasks) before.dropout = this.rng.getState();
        before.penalty = this.lastPenalty;
        phase.updating = false;
        const outcome = await this.runSteps(this.trainBatch(loss, n, yb, before.buffers, phase), clock, phase);
        if (outcome === STOPPED || outcome === ABORTED) {
          // Disposed within the batch: dropped where it stopped, as nothing can
          // read the plan. Aborted before its update: dropped and put back.
          if (outcome === ABORTED) this.dropBatch(before);
          cancelled = true;
          break;
        }
        if (outcome.fault !== null) {
          badBatch = batches;
          badStatistics = outcome.fault === 'statistics';
          badUpdate = outcome.fault === 'update';
          break;
        }
        const value = outcome.value;
        // The outputs the loss saw, at each row's own position (backward only reads the activations).
        if (recorded !== undefined) {
          const out = this.acts[this.layers.length];
          for (let i = 0; i < n; i++) {
            copy(out, i * nOut, recorded, (order !== null ? order[start + i] : start + i) * nOut, nOut);
          }
        }
        lossSum += value * n;
        done += n;
        batches++;
        const observed = hooks.onBatch?.(batches - 1, n, value, (performance.now() - started - clock.paused) / 1000);
        // An async observer holds the next batch until it settles (lag 0, EpochHooks.onBatch);
        // the wait is not subtracted from the clock, as a slow synchronous onBatch's time is not.
        if (isThenable(observed)) await observed;
      }
    } finally {
      this.busy = false;
      if (this.isDisposed) this.releaseBuffers();
    }
    // badStatistics and badUpdate only when set, as the binding does (results compared whole stay as they were).
    return { loss: done > 0 ? lossSum / done : 0, batches, badBatch, cancelled, ...(badStatistics ? { badStatistics } : {}),
             ...(badUpdate ? { badUpdate } : {}) };
  }

  /**
   * One batch of trainEpoch, the rows already gathered into acts[0] and yb, in
   * slices: the same sequence as trainStep (forward, loss, backward, update).
   * A non-finite loss, or a finite one whose gradients overflowed, stops the
   * epoch before its update is applied, so the parameters stay those of the
   * last good batch (network_epoch.cc train_epoch); so do running statistics
   * that overflowed (step() refuses them too) and an update that overflowed
   * for some parameters (kept; the others updated). Each fault puts the
   * statistics back from savedBuffers.
   * An abort seen at a pause before the update (runSteps) drops the batch,
   * which dropBatch then puts back, so a batch of ~2 s (784-2048-2048-10 at
   * 256 rows) no longer holds an abort until its end. phase.updating marks
   * the update begun: from then on the batch runs to its end whatever the
   * signal says (a model with part of its parameters updated would be no
   * model), and the epoch's loop sees the abort before the next batch.
   */
  private *trainBatch(loss: LossSpec, n: number, yb: Target, savedBuffers: FloatArray | null,
                      phase: BatchPhase): Generator<void, BatchOutcome> {
    yield* this.forwardSteps(n);
    let value = this.forwardLoss(loss, n, yb);
    if (Number.isFinite(value)) {
      yield* this.backwardSteps(this.dout, n, null);
      value += this.lastPenalty;
    }
    const badStats = Number.isFinite(value) && this.gradsFinite && savedBuffers !== null && !allFinite(this.buffers);
    let fault: BatchOutcome['fault'] = null;
    if (!Number.isFinite(value) || !this.gradsFinite || badStats) {
      fault = badStats ? 'statistics' : 'loss';
    } else {
      phase.updating = true;
      if (!(yield* this.updateSteps())) fault = 'update';
    }
    if (fault !== null && savedBuffers !== null) this.buffers.set(savedBuffers);
    return { value, fault };
  }

  /**
   * Puts back what a batch dropped before its update changed: batch norm's
   * running statistics and batch count, the dropout stream (so the masks a
   * later batch draws are those it would have drawn had the abort come before
   * this batch), and the penalty value. The gradients cannot be put back
   * without a copy of them before every batch; they may be half written, so
   * they are marked unusable instead: step() refuses them and backward()
   * has no forward to differentiate, until the next forward and backward.
   * The parameters, optimizer state and step count were never touched.
   */
  private dropBatch(before: BatchStart): void {
    if (before.buffers !== null) this.buffers.set(before.buffers);
    if (before.dropout !== null) this.rng.setState(before.dropout);
    this.lastPenalty = before.penalty;
    this.gradsFinite = false;
    this.trainedRows = -1;
  }
}

/** What a pause found: the plan disposed, or the epoch's signal aborted (runSteps). */
const STOPPED = Symbol('stopped');
const ABORTED = Symbol('aborted');

/** trainEpoch's batch in progress: the signal that may drop it, until its update has begun (trainBatch). */
interface BatchPhase {
  signal: AbortSignal | undefined;
  updating: boolean;
}

/** What a batch changes before its update and a dropped batch puts back (dropBatch); reused batch to batch. */
interface BatchStart {
  /** A copy of the buffers (running statistics); null without any. */
  buffers: FloatArray | null;
  /** The dropout stream's state; null when no mask is drawn. */
  dropout: RngState | null;
  /** The last backward's penalty (NetworkPlan.penalty). */
  penalty: number;
}

/** A batch's loss, and why it stopped the epoch (null: it did not). */
interface BatchOutcome {
  value: number;
  fault: null | 'loss' | 'statistics' | 'update';
}

/** RangeError unless order holds each of 0..rows-1 exactly once. */
function checkPermutation(order: Int32Array, rows: number): void {
  const seen = new Uint8Array(rows); // once per epoch, not per step
  for (let i = 0; i < rows; i++) {
    const r = order[i];
    if (r < 0 || r >= rows || seen[r] !== 0) {
      throw new ArgumentRangeError(`Expected a permutation of 0..${rows - 1} for order but received order[${i}] = ${r}${r >= 0 && r < rows ? ', a repeat' : ', out of range'}`);
    }
    seen[r] = 1;
  }
}
