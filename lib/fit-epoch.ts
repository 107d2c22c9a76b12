// One epoch of Sequential.fit over its data chunks: the whole in-memory data
// set (one chunk) or the chunks of a streamed source, each trained in
// mini-batches in one of two ways (README "Training in a service"):
// - engine-driven: one trainEpoch call per chunk — in the native engine on a
//   worker thread. Observe-only batch callbacks ride its per-batch events,
//   delivered in order, possibly a few batches late (async ones too: the
//   engine holds a batch until its observers' promise settles); setting
//   model.stopTraining from one cancels the engine before its next batch.
// - batch-driven: TypeScript steps batch by batch and awaits every batch hook
//   with the model idle, for hooks that act (a one-cycle schedule, a callback
//   that changes lr or weights) and for custom losses.
// An AbortSignal stops either with the parameters exactly those after the
// last completed batch: between batches, or (JS engine, engine-driven) at a
// pause inside a batch, which is then dropped (EpochHooks.signal).
import { callHook, type BatchLogs, type Callback, type CallbackModel, type HookName } from './callbacks';
import { isThenable, type Engine, type EpochHooks, type EpochResult, type FloatArray, type LossSpec, type Target } from './engine';
import { allocate } from './matrix';
import type { MetricAccumulators } from './metric-accumulators';
import type { Rng } from './rng';
import { runEpoch, runEpochByBatch, type BatchDriver, type EpochContext, type EpochRecord } from './training';

/** Rows of training data with their targets, validated and of the model's dtype. */
export interface DataChunk {
  x: FloatArray;
  rows: number;
  y: Target;
}

/** What one epoch needs from the fit loop. */
export interface EpochRun {
  ctx: EpochContext;
  batchSize: number;
  shuffle: boolean;
  rng: Rng;
  /** True: drive batches from TypeScript (acting batch hooks or a custom loss). */
  byBatch: boolean;
  /** observeOnly callbacks with onBatchEnd, fed from the engine's events when not byBatch. */
  observers: Callback[];
  /** Runs a hook on every callback with the model idle. */
  hook(name: HookName, ...args: unknown[]): Promise<void>;
  syncOptimizer(): void;
  model: CallbackModel;
  signal: AbortSignal | null;
  /** The training metrics, folded chunk by chunk (null: none compiled). */
  metrics: EpochMetrics | null;
  /** Reused shuffle order for chunks of its length. */
  order: Int32Array;
  /** Data private to fit (its copies, a stream's chunk copies): the engine may keep or read it in place (EpochHooks.keepData). */
  keepData: boolean;
}

export interface EpochOutcome {
  /** Mean batch loss over the rows trained, weighted by rows. */
  loss: number;
  rowsDone: number;
  batches: number;
  /** Epoch-wide index of the first batch with a non-finite loss, or -1. */
  badBatch: number;
  /** The bad batch's running statistics overflowed (EpochResult.badStatistics). */
  badStatistics: boolean;
  /** The bad batch's update overflowed for some parameters (EpochResult.badUpdate). */
  badUpdate: boolean;
  /** The signal aborted the epoch. */
  aborted: boolean;
  /**
   * Seconds spent training the chunks (batch hooks included), without the
   * waits for a stream's next chunk: the denominator of the epoch's samples/s.
   */
  seconds: number;
}

/**
 * The training metrics of an epoch, Keras's definition in both ways of driving
 * it: each batch's training-mode outputs before its step, which the epoch
 * records at each row's position in its chunk (no second pass over the data),
 * folded into the accumulators once the chunk has trained. Only the outputs of
 * the chunk in training are held: in-memory data is one chunk, a stream's
 * chunks are folded and dropped as they go, so a stream larger than memory
 * still reports its training metrics.
 */
export interface EpochMetrics {
  accumulators: MetricAccumulators;
  /** Computes the built-in loss when the epoch is driven batch by batch (EpochRecord). */
  engine: Engine;
  spec: LossSpec | null;
  /**
   * The recorded outputs of the chunk in training: the first rows × cols
   * values. Grown to the largest chunk (for in-memory data, allocated at its
   * size once), never to the epoch's rows.
   */
  outputs: FloatArray;
}

/** Where the epoch records a chunk of `rows` rows: the first rows × cols values of metrics.outputs, grown if short. */
function chunkRecord(metrics: EpochMetrics, rows: number): EpochRecord {
  const length = rows * metrics.accumulators.cols;
  if (metrics.outputs.length < length) {
    metrics.outputs = allocate(metrics.outputs instanceof Float32Array ? 'float32' : 'float64', length);
  }
  const outputs = metrics.outputs.length === length ? metrics.outputs : metrics.outputs.subarray(0, length);
  return { outputs, engine: metrics.engine, spec: metrics.spec };
}

/**
 * Folds the rows a chunk trained into the metrics: all of them in the chunk's
 * own row order (as the whole-epoch metrics always summed), or, when the epoch
 * stopped in this chunk, the first `done` rows of its training order.
 */
function foldChunk(metrics: EpochMetrics, record: EpochRecord, chunk: DataChunk, order: Int32Array | null, done: number): void {
  metrics.accumulators.fold({ pred: record.outputs, target: chunk.y, order: done < chunk.rows ? order : null, count: done });
}

/** Trains one epoch over `chunks` (each shuffled on its own when run.shuffle). */
export async function trainEpochChunks(run: EpochRun, chunks: AsyncIterable<DataChunk> | Iterable<DataChunk>):
    Promise<EpochOutcome> {
  run.metrics?.accumulators.reset();
  let lossSum = 0;
  let rowsDone = 0;
  let batches = 0;
  let seconds = 0;
  const outcome = (badBatch: number, badStatistics = false, badUpdate = false): EpochOutcome => ({
    loss: rowsDone > 0 ? lossSum / rowsDone : 0, rowsDone, batches, badBatch, badStatistics, badUpdate, aborted: run.signal?.aborted === true, seconds,
  });
  for await (const chunk of chunks) {
    if (run.signal?.aborted || run.model.stopTraining) break;
    const started = performance.now();
    if (run.order.length !== chunk.rows) run.order = new Int32Array(chunk.rows);
    const order = run.shuffle ? run.rng.permutation(chunk.rows, run.order) : null;
    const record = run.metrics ? chunkRecord(run.metrics, chunk.rows) : null;
    const result: EpochResult & { rowsDone?: number } = run.byBatch
      ? await batchDriven(run, chunk, order, batches, record)
      : await engineDriven(run, chunk, order, batches, record);
    seconds += (performance.now() - started) / 1000;
    const done = result.rowsDone ?? Math.min(result.batches * Math.min(run.batchSize, chunk.rows), chunk.rows);
    lossSum += result.loss * done;
    rowsDone += done;
    if (record) foldChunk(run.metrics!, record, chunk, order, done);
    if (result.badBatch >= 0) return outcome(batches + result.badBatch, result.badStatistics === true, result.badUpdate === true);
    batches += result.batches;
    if (result.cancelled) break;
  }
  return outcome(-1);
}

/** One trainEpoch call; observers get onBatchEnd from its events, in order. */
async function engineDriven(run: EpochRun, chunk: DataChunk, order: Int32Array | null, offset: number,
                            record: EpochRecord | null): Promise<EpochResult> {
  const { observers } = run;
  const outputs = record?.outputs;
  const keep: EpochHooks = run.keepData ? { keepData: true } : {};
  if (observers.length === 0 && run.signal === null) {
    return runEpoch(run.ctx, chunk.x, chunk.rows, chunk.y, run.batchSize, order, outputs ? { outputs, ...keep } : keep);
  }
  // Our own controller: the caller's signal and a stopping observer both cancel through it.
  const stop = new AbortController();
  const forward = () => stop.abort();
  if (run.signal?.aborted) stop.abort();
  run.signal?.addEventListener('abort', forward, { once: true });
  // Events come one per batch (thousands a second for small batches): synchronous
  // observers are called right away. Once one returns a promise, onBatch returns
  // a promise of the rest, and the engine holds that batch until it settles and
  // calls onBatch again only then (EpochHooks.onBatch): one batch at a time, in
  // order, within the engine's lag bound. Chaining here instead, behind an
  // onBatch that returned at once, gave async observers no backpressure: the
  // chain, its memory and the lag grew with the epoch.
  let failed = false;
  let failure: unknown = null;
  let rowsSeen = 0;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    failure = err;
    stop.abort();
  };
  const settle = () => { if (run.model.stopTraining) stop.abort(); };
  const hooks: EpochHooks = { signal: stop.signal, ...keep };
  if (outputs) hooks.outputs = outputs;
  if (observers.length > 0) {
    hooks.onBatch = (batch, size, loss, seconds) => {
      rowsSeen += size;
      const logs: BatchLogs = { batch: offset + batch, size, loss, samplesPerSecond: seconds > 0 ? rowsSeen / seconds : 0 };
      if (failed) return undefined;
      try {
        const next = observeNow(observers, offset + batch, logs);
        if (next !== null) return next.then(settle, fail);  // never rejects: a failure stops the epoch through `stop`
        settle();
      } catch (err) {
        fail(err);
      }
      return undefined;
    };
  }
  try {
    // Resolves after the last observer promise settled (EpochHooks.onBatch).
    const result = await runEpoch(run.ctx, chunk.x, chunk.rows, chunk.y, run.batchSize, order, hooks);
    if (failed) throw failure;
    return result;
  } finally {
    run.signal?.removeEventListener('abort', forward);
  }
}

/**
 * Calls onBatchEnd of each observer in order, synchronously while they return
 * no promise; returns the promise of the rest once one does, else null.
 */
function observeNow(observers: readonly Callback[], batch: number, logs: BatchLogs): Promise<void> | null {
  for (let i = 0; i < observers.length; i++) {
    const cb = observers[i]!;
    const result: unknown = cb.onBatchEnd!.call(cb, batch, observers.length > 1 ? { ...logs } : logs);
    if (isThenable(result)) {
      const rest = observers.slice(i + 1);
      return Promise.resolve(result as PromiseLike<void>).then(() => callHook(rest, 'onBatchEnd', batch, logs));
    }
  }
  return null;
}

/** Batch by batch from TypeScript, awaiting the batch hooks with the model idle. */
function batchDriven(run: EpochRun, chunk: DataChunk, order: Int32Array | null, offset: number, record: EpochRecord | null) {
  const started = performance.now();
  let rowsSeen = 0;
  const driver: BatchDriver = {
    before: async (batch, size) => {
      await run.hook('onBatchBegin', offset + batch, { batch: offset + batch, size });
      run.syncOptimizer();
    },
    after: async (batch, size, loss) => {
      rowsSeen += size;
      const seconds = (performance.now() - started) / 1000;
      const logs: BatchLogs = { batch: offset + batch, size, loss, samplesPerSecond: seconds > 0 ? rowsSeen / seconds : 0 };
      await run.hook('onBatchEnd', offset + batch, logs);
      return run.model.stopTraining || run.signal?.aborted === true;
    },
    record,
    signal: run.signal,
  };
  return runEpochByBatch(run.ctx, chunk.x, chunk.rows, chunk.y, run.batchSize, order, driver);
}
