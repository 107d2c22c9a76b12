// The training loop between a model and its plan. With a built-in loss the
// engine runs whole steps and epochs itself; with a custom TypeScript loss the
// plan stops at the loss each batch, asks it for value and gradient, and resumes
// (DESIGN.md, engine contract) — slower, but the same in both engines.
import type { Dtype, Engine, EngineName, EpochHooks, EpochResult, FloatArray, LossSpec, NetworkPlan, Target } from './engine';
import type { LossFunction } from './losses';
import { yieldIfDue } from './event-loop';
import { Matrix, allocate, requireFinite, toMatrix } from './matrix';
import { ArgumentRangeError, ArgumentTypeError } from './validate';

export interface EpochContext {
  plan: NetworkPlan;
  engine: EngineName;
  /** null: the plan's built-in loss. */
  loss: LossFunction | null;
  outputSize: number;
  dtype: Dtype;
}

/**
 * One optimizer step; returns the loss before it. A non-finite loss, or
 * gradients that overflowed to NaN/±Infinity, throw and leave the parameters
 * unchanged (the step is not applied). An update that overflowed for some
 * parameters throws too: those kept their values, the others were updated.
 */
export function trainBatch(ctx: EpochContext, x: FloatArray, rows: number, y: Target): number {
  const steps = ctx.plan.stepCount;
  const value = stepIfFinite(ctx, x, rows, y);
  if (!Number.isFinite(value)) {
    throw new ArgumentRangeError(`Loss is ${value} for this batch; the step was not applied (parameters unchanged)`);
  }
  if (ctx.plan.stepCount === steps) {
    // Read before the caller puts the statistics back (Sequential.trainStep).
    const cause = refusalCause(ctx.plan, true);
    throw cause === 'gradients' ? gradientOverflow(value) : cause === 'statistics' ? statisticsOverflow(value) : updateOverflow(value);
  }
  return value;
}

/**
 * Why a step with a finite loss was not counted (stepCount stayed): the
 * engines refuse overflowed gradients or running statistics before updating
 * anything, and leave an update that overflowed uncounted. So with finite
 * gradients and statistics it was the update. Reads them on the error path only.
 */
export function refusalCause(plan: NetworkPlan, statisticsHeld: boolean): 'gradients' | 'statistics' | 'update' {
  if (gradientsOverflowed(plan)) return 'gradients';
  if (statisticsHeld && statisticsOverflowed(plan)) return 'statistics';
  return 'update';
}

function updateOverflow(loss: number): RangeError {
  return new ArgumentRangeError(`The optimizer's update overflowed to NaN or infinite for some parameters in this batch (its loss, ${loss}, ` +
    'gradients and statistics were finite: a learning rate or weight decay too large for the weights); those parameters and ' +
    'their optimizer state were left as they were, the others were updated, and the step was not counted');
}

function statisticsOverflow(loss: number): RangeError {
  return new ArgumentRangeError(`Batch norm's running statistics overflowed to NaN or infinite for this batch (its loss, ${loss}, ` +
    'and gradients were finite: an input too large for the variance); the step was not applied (parameters and statistics unchanged)');
}

function gradientOverflow(loss: number): RangeError {
  return new ArgumentRangeError(`Gradients overflowed to NaN or infinite for this batch (its loss, ${loss}, was finite); ` +
    'the step was not applied (parameters unchanged)');
}

/**
 * Computes the batch loss and gradients, and steps only when the loss is
 * finite. The engines refuse a step whose gradients are not all finite
 * (stepCount then stays), so callers compare stepCount to know it stepped.
 */
function stepIfFinite(ctx: EpochContext, x: FloatArray, rows: number, y: Target): number {
  const { plan } = ctx;
  // Built-in loss: one call into the engine, which skips a non-finite step itself.
  if (ctx.loss === null) return plan.trainStep(x, rows, y);
  const out = allocate(ctx.dtype, rows * ctx.outputSize);
  plan.forwardTrain(x, rows, out);
  const pred = new Matrix(rows, ctx.outputSize, out);
  const target = y instanceof Int32Array ? y : new Matrix(rows, ctx.outputSize, y);
  let value = customValue(ctx.loss, pred, target);
  if (Number.isFinite(value)) {
    plan.backward(customGradient(ctx.loss, pred, target), rows);
    value += plan.penalty; // dense L1/L2 penalties, whose gradient backward added
    if (Number.isFinite(value)) plan.step();
  }
  return value;
}

/**
 * After a batch stopped training (a bad batch of fit): true when its
 * gradients overflowed though its loss was finite, false when the loss itself
 * was not finite. The engines run backward only for a finite loss and never
 * apply non-finite gradients, so the gradients held are the bad batch's
 * exactly when they are not all finite. Reads them once, on the error path only.
 */
export function gradientsOverflowed(plan: NetworkPlan): boolean {
  const grads = allocate(plan.dtype, plan.paramCount);
  plan.getGrads(grads);
  for (let i = 0; i < grads.length; i++) {
    if (!Number.isFinite(grads[i]!)) return true;
  }
  return false;
}

/**
 * True when a buffer (batch norm's running mean/var) is NaN or ±Infinity: the
 * engines then refuse the step (PlanPasses.step, network_epoch.cc step). Read
 * on the error path only, before the statistics from before the batch are put back.
 */
export function statisticsOverflowed(plan: NetworkPlan): boolean {
  if (plan.bufferCount === 0) return false;
  const buffers = allocate(plan.dtype, plan.bufferCount);
  plan.getBuffers(buffers);
  for (let i = 0; i < buffers.length; i++) {
    if (!Number.isFinite(buffers[i]!)) return true;
  }
  return false;
}

/** One epoch of mini-batches in `order` (null: natural order). */
export async function runEpoch(ctx: EpochContext, x: FloatArray, rows: number, y: Target, batchSize: number,
                               order: Int32Array | null, hooks: EpochHooks = {}): Promise<EpochResult> {
  const batch = Math.min(batchSize, rows);
  if (batch > ctx.plan.maxBatch) ctx.plan.reserve(batch);
  if (ctx.loss === null) return ctx.plan.trainEpoch(x, rows, y, batchSize, order, hooks);

  // A custom loss: the epoch is driven from TypeScript (the engine stops at the
  // loss every batch), with the same hooks as an engine's epoch.
  if (hooks.signal?.aborted) return { loss: 0, batches: 0, badBatch: -1, cancelled: true };
  const started = performance.now();
  const r = await runEpochByBatch(ctx, x, rows, y, batchSize, order, {
    before: () => {},
    after: async (index, size, loss) => {
      // Awaited as the engines await an async onBatch (EpochHooks.onBatch).
      if (Number.isFinite(loss)) await hooks.onBatch?.(index, size, loss, (performance.now() - started) / 1000);
      return hooks.signal?.aborted ?? false;
    },
    record: hooks.outputs ? { outputs: hooks.outputs, engine: null, spec: null } : null,
  });
  return { loss: r.loss, batches: r.batches, badBatch: r.badBatch, cancelled: r.cancelled, ...(r.badStatistics ? { badStatistics: true } : {}),
           ...(r.badUpdate ? { badUpdate: true } : {}) };
}

/** What the batch-by-batch loop calls around each batch. */
export interface BatchDriver {
  /** Runs before each batch (callbacks, the optimizer's current settings). */
  before(batch: number, size: number): void | Promise<void>;
  /** Runs after each batch with its loss (NaN/∞: step skipped); returns true to stop the epoch. */
  after(batch: number, size: number, loss: number): boolean | Promise<boolean>;
  /**
   * When set, each completed batch's training-mode outputs (before its step)
   * are written to `outputs` at the rows' own positions in x, as the engines'
   * trainEpoch does with EpochHooks.outputs (for metrics over the epoch).
   * engine and spec compute a built-in loss (null with a custom loss).
   */
  record: EpochRecord | null;
  /**
   * Seen inside a batch stepped as a one-batch engine epoch (a big step with
   * a built-in loss): the JS engine then drops the batch at its next pause
   * before the update, as an engine-driven epoch does (EpochHooks.signal),
   * and the epoch ends cancelled without calling `after`.
   */
  signal?: AbortSignal | null;
}

export interface EpochRecord {
  outputs: FloatArray;
  engine: Engine | null;
  spec: LossSpec | null;
}

/** EpochResult's fields (spelled out, so it stays assignable as the contract's result grows) plus rowsDone. */
export interface DrivenEpochResult {
  loss: number;
  batches: number;
  badBatch: number;
  /** A hook stopped the epoch early (model.stopTraining). */
  cancelled: boolean;
  /** Rows trained (fewer than rows when a hook stopped the epoch). */
  rowsDone: number;
  /** As EpochResult.badStatistics: the bad batch's running statistics overflowed, its loss and gradients did not. */
  badStatistics?: boolean;
  /** As EpochResult.badUpdate: the bad batch's update overflowed for some parameters (kept), its loss, gradients and statistics did not. */
  badUpdate?: boolean;
}

/**
 * One epoch driven from TypeScript batch by batch, in either engine: slower
 * than the native engine's worker-thread epoch, but hooks run between batches.
 * It stops at the first non-finite loss or overflowed gradients (after
 * calling `after`, with NaN for the loss in either case).
 */
export async function runEpochByBatch(ctx: EpochContext, x: FloatArray, rows: number, y: Target, batchSize: number,
                                      order: Int32Array | null, driver: BatchDriver): Promise<DrivenEpochResult> {
  const batch = Math.min(batchSize, rows);
  if (batch > ctx.plan.maxBatch) ctx.plan.reserve(batch);
  const inputs = x.length / rows;
  const targetWidth = y instanceof Int32Array ? 1 : ctx.outputSize;
  const bx = allocate(ctx.dtype, batch * inputs);
  const by: Target = y instanceof Int32Array ? new Int32Array(batch) : allocate(ctx.dtype, batch * targetWidth);
  const cols = ctx.outputSize;
  const steps = new BatchSteps(ctx, batch, driver.record, driver.signal ?? null);
  let total = 0;
  let batches = 0;
  // The epoch ended by a dispose() before the batch at `start`, or by one or an abort within it.
  const stopped = (start: number) => ({ loss: start > 0 ? total / start : 0, batches, badBatch: -1, cancelled: true, rowsDone: start });
  for (let start = 0; start < rows; start += batch) {
    // The clock is shared with the epochs before (lib/event-loop.ts): a fit
    // of epochs shorter than the budget still lets the event loop run.
    await yieldIfDue();
    // dispose() while the event loop ran: stop as the engines' epochs do (fit then rejects with ERR_FASTMLP_DISPOSED).
    if (ctx.plan.disposed) return stopped(start);
    const n = Math.min(batch, rows - start);
    for (let i = 0; i < n; i++) {
      const r = order ? order[start + i]! : start + i;
      bx.set(x.subarray(r * inputs, (r + 1) * inputs), i * inputs);
      (by as FloatArray).set((y as FloatArray).subarray(r * targetWidth, (r + 1) * targetWidth), i * targetWidth);
    }
    const xb = n === batch ? bx : bx.subarray(0, n * inputs);
    const yb = n === batch ? by : by.subarray(0, n * targetWidth);
    await driver.before(batches, n);
    const step = await steps.take(xb, n, yb);
    if (step === null) return stopped(start);  // disposed while the batch ran, or the batch dropped by an abort
    const { value } = step;
    // Only a batch that stepped is recorded, as in the engines' trainEpoch.
    if (driver.record && Number.isFinite(value)) {
      const recorded = driver.record.outputs;
      for (let i = 0; i < n; i++) {
        const r = order ? order[start + i]! : start + i;
        recorded.set(steps.outputs!.subarray(i * cols, (i + 1) * cols), r * cols);
      }
    }
    const stop = await driver.after(batches, n, value);
    if (!Number.isFinite(value)) {
      return { loss: total / Math.max(1, start), batches, badBatch: batches, cancelled: false, rowsDone: start,
               ...(step.badStatistics ? { badStatistics: true } : {}), ...(step.badUpdate ? { badUpdate: true } : {}) };
    }
    total += value * n;
    batches++;
    if (stop) return { loss: total / (start + n), batches, badBatch: -1, cancelled: true, rowsDone: start + n };
  }
  return { loss: total / rows, batches, badBatch: -1, cancelled: false, rowsDone: rows };
}

/**
 * One batch's outcome: its loss (NaN or ±Infinity when the step was not
 * applied — hooks then see NaN for a refused step with a finite loss, as
 * Callback.onBatchEnd says) and, for a refused step, why.
 */
interface BatchStep {
  value: number;
  badStatistics: boolean;
  badUpdate: boolean;
}

// A batch-driven epoch (an acting batch hook or a custom loss, lib/fit-epoch.ts)
// used to run every step synchronously on the main thread: ~50 ms per batch
// for 784-2048-2048-10 at batch 256 in the native engine and ~2 s in the JS
// one, all of it a stall of the event loop. A step that big now runs off the
// main thread — on the native worker thread, or in the JS engine's pausing
// passes — as a one-batch trainEpoch, or with a custom loss as
// forwardTrainAsync, the loss in TypeScript, then backwardStepAsync. Smaller
// steps (6 · parameters · rows, the dense layers' FLOPs for forward and
// backward) stay synchronous, as they hold the loop for less than the yield
// budget (lib/event-loop.ts) anyway:
//  - native, below ~5–10 ms of work: there a native call's fixed cost (a
//    thread hop, the batch's copy, its event) is large. Measured through fit
//    with a one-cycle schedule, 784-512-256-10 at batch 128 (411 MFLOP, ~2.2 ms
//    a step at 2 threads): 40–48 k samples/s off the thread against 53–56 k;
//  - JS, below ~1–2 ms: a generator's pauses cost little, but nothing at all
//    is gained below the budget.
export const OFF_THREAD_FLOPS = { native: 1e9, js: 2e6 } as const;

/** True when a batch of `rows` is stepped synchronously: a small step. */
function stepsOnMainThread(ctx: EpochContext, rows: number): boolean {
  return 6 * ctx.plan.paramCount * rows < OFF_THREAD_FLOPS[ctx.engine];
}

/**
 * The batch as a one-batch trainEpoch: the engine refuses a bad step and puts
 * the statistics back itself. Null: disposed meanwhile, or the batch dropped
 * (or not begun) because `signal` aborted.
 */
async function epochOfOneBatch(ctx: EpochContext, x: FloatArray, rows: number, y: Target,
                               out: FloatArray | null, signal: AbortSignal | null): Promise<BatchStep | null> {
  let value = NaN;
  // onBatch has the batch's loss exactly as trainStep returns it (the epoch's mean would divide value·rows by rows).
  const hooks: EpochHooks = { onBatch: (_batch, _rows, loss) => { value = loss; } };
  if (out !== null) hooks.outputs = out;
  if (signal !== null) hooks.signal = signal;
  const r = await ctx.plan.trainEpoch(x, rows, y, rows, null, hooks);
  if (r.cancelled) return null;
  return r.badBatch < 0 ? { value, badStatistics: false, badUpdate: false }
    : { value: NaN, badStatistics: r.badStatistics === true, badUpdate: r.badUpdate === true };
}

/**
 * How a batch-driven epoch steps each batch (see OFF_THREAD_FLOPS): a big one
 * off the main thread — an engine epoch of one batch with a built-in loss, the
 * plan's async passes around a custom loss — and a small one on it; with the
 * buffers kept between batches, and what a refused step leaves.
 */
class BatchSteps {
  /** The last batch's training-mode outputs when recorded (or read by a custom loss off the thread); else null. */
  readonly outputs: FloatArray | null;
  private readonly offThread: boolean;
  private readonly grad: FloatArray | null;
  // Batch norm's running statistics change in each batch's forward, before its
  // loss is known: kept before every batch so a bad batch can put them back
  // (as trainStep does). A model without buffers copies nothing.
  private readonly savedBuffers: FloatArray | null;

  constructor(private readonly ctx: EpochContext, batch: number, private readonly record: EpochRecord | null,
              private readonly signal: AbortSignal | null) {
    this.offThread = !stepsOnMainThread(ctx, batch);
    const cols = ctx.outputSize;
    this.outputs = record || (this.offThread && ctx.loss !== null) ? allocate(ctx.dtype, batch * cols) : null;
    this.grad = record ? allocate(ctx.dtype, batch * cols) : null;
    this.savedBuffers = ctx.plan.bufferCount > 0 ? allocate(ctx.dtype, ctx.plan.bufferCount) : null;
  }

  /** Steps the batch x (rows), y; null when the plan was disposed or the batch dropped by an abort meanwhile. Outputs land at the start of `outputs`. */
  take(x: FloatArray, rows: number, y: Target): BatchStep | Promise<BatchStep | null> {
    const out = this.outputs === null ? null : this.outputs.subarray(0, rows * this.ctx.outputSize);
    if (!this.offThread) return this.run(x, rows, y, out);
    return this.ctx.loss === null ? epochOfOneBatch(this.ctx, x, rows, y, out, this.signal) : this.runOffThread(x, rows, y, out!);
  }

  /** The step on the main thread. */
  private run(x: FloatArray, rows: number, y: Target, out: FloatArray | null): BatchStep {
    const stepsBefore = this.begin();
    const value = out !== null
      ? recordedStep(this.ctx, x, rows, y, out, this.grad!.subarray(0, rows * this.ctx.outputSize), this.record!)
      : stepIfFinite(this.ctx, x, rows, y);
    return this.end(value, stepsBefore);
  }

  /** A custom loss's step with its passes off the main thread (the plan's forwardTrainAsync and backwardStepAsync); null: disposed meanwhile. */
  private async runOffThread(x: FloatArray, rows: number, y: Target, out: FloatArray): Promise<BatchStep | null> {
    const { ctx } = this;
    const stepsBefore = this.begin();
    let value: number;
    try {
      await ctx.plan.forwardTrainAsync(x, rows, out);
      const pred = new Matrix(rows, ctx.outputSize, out);
      const target = y instanceof Int32Array ? y : new Matrix(rows, ctx.outputSize, y);
      value = customValue(ctx.loss!, pred, target);
      // As stepIfFinite: the penalty joins a finite loss, and the step needs the sum finite.
      if (Number.isFinite(value)) value = await ctx.plan.backwardStepAsync(customGradient(ctx.loss!, pred, target), rows, value);
    } catch (err) {
      if (ctx.plan.disposed) return null;
      throw err;
    }
    return this.end(value, stepsBefore);
  }

  private begin(): number {
    if (this.savedBuffers) this.ctx.plan.getBuffers(this.savedBuffers);
    return this.ctx.plan.stepCount;
  }

  private end(value: number, stepsBefore: number): BatchStep {
    const { ctx, savedBuffers } = this;
    // A finite loss whose gradients (or running statistics) overflowed: the
    // engine refused the step. Hooks see NaN, as for any batch whose step was
    // not applied (Callback.onBatchEnd). Which one, read before the restore below.
    let badStatistics = false;
    let badUpdate = false;
    if (Number.isFinite(value) && ctx.plan.stepCount === stepsBefore) {
      const cause = refusalCause(ctx.plan, savedBuffers !== null);
      badStatistics = cause === 'statistics';
      badUpdate = cause === 'update';
      value = NaN;
    }
    // Restored before `after`, so a callback that stops here (terminateOnNaN) sees the model as it was.
    if (savedBuffers && !Number.isFinite(value)) ctx.plan.setBuffers(savedBuffers);
    return { value, badStatistics, badUpdate };
  }
}

/**
 * A training step that keeps its outputs: forward, loss, backward and step as
 * separate engine calls (the same arithmetic as trainStep, penalties included),
 * leaving the batch's outputs in `out`. A loss that is not finite skips the step.
 */
function recordedStep(ctx: EpochContext, x: FloatArray, rows: number, y: Target, out: FloatArray,
                      lossGrad: FloatArray, record: EpochRecord): number {
  const cols = ctx.outputSize;
  ctx.plan.forwardTrain(x, rows, out);
  let value: number;
  let grad: FloatArray;
  if (ctx.loss !== null) {
    const pred = new Matrix(rows, cols, out);
    const target = y instanceof Int32Array ? y : new Matrix(rows, cols, y);
    value = customValue(ctx.loss, pred, target);
    if (!Number.isFinite(value)) return value;
    grad = customGradient(ctx.loss, pred, target);
  } else {
    if (record.spec === null || record.engine === null) throw new Error('fastmlp internal error: no loss to record');
    value = record.engine.lossForward(record.spec, out, rows, cols, y);
    if (!Number.isFinite(value)) return value;
    grad = lossGrad;
    record.engine.lossBackward(record.spec, out, rows, cols, y, grad);
  }
  ctx.plan.backward(grad, rows);
  value += ctx.plan.penalty; // dense L1/L2 penalties, whose gradient backward added (as trainStep)
  if (Number.isFinite(value)) ctx.plan.step();
  return value;
}

function customValue(loss: LossFunction, pred: Matrix, target: Target | Matrix): number {
  const value = loss.forward(pred, target as Int32Array);
  if (typeof value !== 'number') {
    throw new ArgumentTypeError(`Expected a number from the custom loss's forward() but received ${typeof value}`);
  }
  return value;
}

function customGradient(loss: LossFunction, pred: Matrix, target: Target | Matrix): FloatArray {
  const grad = toMatrix(loss.backward(pred, target as Int32Array), "the custom loss's backward() result", pred.dtype);
  if (grad.rows !== pred.rows || grad.cols !== pred.cols) {
    throw new ArgumentRangeError(`Expected a ${pred.rows} × ${pred.cols} gradient from the custom loss's backward() but received ${grad.rows} × ${grad.cols}`);
  }
  // A finite loss with a NaN gradient would turn every weight NaN at the step, silently.
  requireFinite(grad, "the custom loss's backward() result");
  return grad.data;
}
