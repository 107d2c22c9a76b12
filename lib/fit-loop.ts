// The epoch loop of Sequential.fit: callbacks, schedules, metrics and
// validation around the engine's epochs. Without acting batch hooks (and with
// a built-in loss) each epoch is one engine call per data chunk — in the
// native engine, on a worker thread; with them the loop drives the epoch batch
// by batch (lib/fit-epoch.ts has both ways, lib/training.ts the batch loop).
//
// Cancellation: an aborted signal rejects fit with an AbortError (as fetch
// does), which carries the history of the completed epochs; the parameters
// are those after the last completed batch. model.stopTraining instead ends
// fit normally (Keras's convention), resolving with the history.
import { batchObservers, callHook, needsBatchDriving, progress, progressBar, type Callback, type CallbackModel, type HookName,
  type Logs, type TrainingParams } from './callbacks';
import type { Engine, FloatArray, LossSpec, Target } from './engine';
import { trainEpochChunks, type DataChunk, type EpochMetrics, type EpochRun } from './fit-epoch';
import { allocate, type Matrix } from './matrix';
import { MetricAccumulators } from './metric-accumulators';
import type { OutputReading } from './output-reading';
import type { MetricName } from './metrics';
import type { Rng } from './rng';
import { checkOneSchedule, Schedule } from './schedules';
import { gradientsOverflowed, type EpochContext } from './training';
import { ArgumentRangeError, disposedError } from './validate';
import { AbortError } from './abort-error';

export interface History {
  /** Epoch numbers (0-based; from initialEpoch). */
  epoch: number[];
  /**
   * Per-epoch values by name: loss, the compiled metrics, and val_* for each
   * with validation; with a schedule in callbacks also lr, the learning rate
   * each epoch began with (its first batch's: the whole epoch's for schedules
   * stepped per epoch), as Keras logs the rate an epoch trained at.
   */
  history: { loss: number[]; [name: string]: number[] };
  /** The settings of the run. */
  params: TrainingParams;
}

/** What the loop needs from the model (Sequential provides it). */
export interface FitHost {
  ctx: EpochContext;
  engine: Engine;
  /** The built-in loss's spec, or null for a custom loss. */
  lossSpec: LossSpec | null;
  rng: Rng;
  model: CallbackModel;
  metricNames: readonly MetricName[];
  /**
   * How the metrics read the outputs: the compiled loss's reading, also when
   * fit trains with a class-weighted wrapper of it (lossSpec then null), so the
   * training metrics read them as evaluate and the validation pass do.
   */
  outputReading: OutputReading;
  /** Sends the optimizer's settings (a schedule may have changed lr) to the plan. */
  syncOptimizer(): void;
  /** Eval-mode loss and metrics, without holding the event loop (predictAsync in chunks of batchSize rows). */
  evaluate(x: Matrix, y: Target, batchSize: number): Promise<Logs>;
  /** Marks the model busy (training) or idle (hooks may use it). */
  setBusy(busy: boolean): void;
  /** Copies the current weights into the snapshot that predict uses while the model trains. */
  snapshot(): void;
}

/** How fit() rejects when its signal aborts: an AbortError whose `history` holds the completed epochs. */
function fitAborted(history: History, reason: unknown): AbortError {
  return new AbortError(`fit was aborted after ${history.epoch.length} complete epoch(s); ` +
    'the parameters are those after the last completed batch', reason, history);
}

export interface FitSettings {
  epochs: number;
  initialEpoch: number;
  batchSize: number;
  shuffle: boolean;
  /** 0 silent, 1 a progress bar, 2 a line per epoch (lib/fit-options.ts). */
  verbose: 0 | 1 | 2;
  callbacks: Callback[];
  /** Cancels between batches; fit then rejects with an AbortError. */
  signal: AbortSignal | null;
}

export interface TrainingData {
  /** In-memory rows (rows 0 when streamed). */
  x: FloatArray;
  rows: number;
  y: Target;
  /**
   * Streamed data: the chunks of one epoch (called once per epoch); null for
   * in-memory data. An abort of the signal ends the chunks at once.
   */
  stream: ((epoch: number, signal: AbortSignal | null) => AsyncIterable<DataChunk>) | null;
  validation: { x: Matrix; y: Target } | null;
}

export async function runFit(host: FitHost, data: TrainingData, settings: FitSettings): Promise<History> {
  const { epochs, initialEpoch, batchSize, shuffle } = settings;
  const callbacks = [...settings.callbacks];
  if (settings.verbose === 2) callbacks.push(progress({ write: (line) => console.log(line) }));
  if (settings.verbose === 1) callbacks.push(progressBar());
  const byBatch = needsBatchDriving(callbacks) || host.ctx.loss !== null;
  const { ctx } = host;
  const outputSize = ctx.outputSize;
  const steps = data.stream ? NaN : Math.ceil(data.rows / batchSize);
  const logNames = ['loss', ...host.metricNames];
  if (data.validation) logNames.push(...logNames.map((n) => `val_${n}`));
  const params: TrainingParams = {
    epochs, initialEpoch, batchSize, samples: data.stream ? NaN : data.rows, steps, verbose: settings.verbose > 0,
    metrics: logNames,
  };
  // loss from the start: History promises it, also for a fit that trains no epoch.
  const history: History = { epoch: [], history: { loss: [] }, params };

  // Hooks run with the model idle, so they may read or change it (getWeights, setWeights, lr).
  const hook = async (name: HookName, ...args: unknown[]) => {
    if (!callbacks.some((cb) => typeof cb[name] === 'function')) return;
    host.setBusy(false);
    try {
      await callHook(callbacks, name, ...args);
    } finally {
      host.setBusy(true);
    }
    // A hook disposed the model: say so as fit, before anything touches the freed plan.
    if (ctx.plan.disposed) throw disposedError('Sequential.fit');
  };
  host.model.stopTraining = false;
  checkOneSchedule(callbacks);  // before any binds: two would undo each other (lib/schedules.ts)
  const scheduled = callbacks.some((cb) => cb instanceof Schedule);
  for (const cb of callbacks) {
    cb.setModel?.(host.model);
    cb.setParams?.(params);
  }

  // Training metrics from the outputs each chunk's batches recorded, folded
  // chunk by chunk into sufficient statistics (lib/fit-epoch.ts EpochMetrics):
  // a stream's outputs are held one chunk at a time, never the epoch's.
  const metrics: EpochMetrics | null = host.metricNames.length > 0 ? {
    // The outputs read as the compiled loss defines them (lib/output-reading.ts), as evaluate reads them.
    accumulators: new MetricAccumulators(host.metricNames, outputSize, host.outputReading),
    engine: host.engine,
    spec: host.lossSpec,
    outputs: allocate(ctx.dtype, data.stream ? 0 : data.rows * outputSize),
  } : null;
  const run: EpochRun = {
    ctx, batchSize, shuffle, rng: host.rng, byBatch, observers: byBatch ? [] : batchObservers(callbacks), hook,
    syncOptimizer: () => host.syncOptimizer(), model: host.model, signal: settings.signal, metrics,
    order: new Int32Array(data.rows),
    // Sequential's private copies, a stream's chunks too (lib/model-data.ts privateMatrix):
    // the native engine reads allocData memory in place instead of copying it again. Released when fit ends.
    keepData: true,
  };
  const memory: DataChunk[] = [{ x: data.x, rows: data.rows, y: data.y }];
  const { signal } = settings;

  let lastLogs: Logs = {};
  if (signal?.aborted) throw fitAborted(history, signal.reason);
  await hook('onTrainBegin', {});
  for (let epoch = initialEpoch; epoch < epochs && !host.model.stopTraining; epoch++) {
    await hook('onEpochBegin', epoch, {});
    if (signal?.aborted) throw fitAborted(history, signal.reason);
    // Stopped before its first batch: the epoch did not happen (no history entry with a loss of 0, no onEpochEnd).
    if (host.model.stopTraining) break;
    host.syncOptimizer();
    const startLr = host.model.optimizer?.lr ?? NaN;  // after onEpochBegin, which may set it
    host.snapshot();  // predict() during this epoch answers with the weights as they are now
    const result = await trainEpochChunks(run, data.stream ? data.stream(epoch, signal) : memory);
    if (ctx.plan.disposed) throw disposedError('Sequential.fit');  // dispose() during the epoch
    if (result.aborted) throw fitAborted(history, signal?.reason);
    if (result.badBatch >= 0 && !host.model.stopTraining) {
      // A finite loss can come with overflowed gradients (float32) or batch
      // norm statistics (a huge input); say which, to point at the cause.
      const gradients = gradientsOverflowed(ctx.plan);
      const stats = !gradients && result.badStatistics;
      const update = !gradients && !stats && result.badUpdate;
      const where = `epoch ${epoch + 1}, batch ${result.badBatch + 1} (of ${data.stream ? 'a stream' : steps})`;
      if (update) {
        // Not "before that batch's update": the elements whose update stayed finite were updated.
        throw new ArgumentRangeError(`The optimizer's update overflowed to NaN or infinite for some parameters at ${where} ` +
          'though its loss, gradients and statistics were finite; training stopped there: those parameters and their optimizer state ' +
          'were left as they were, the others were updated (the step was not counted). ' +
          'Try a smaller learning rate or weight decay, or add callbacks.terminateOnNaN() to stop without an error.');
      }
      throw new ArgumentRangeError(`${gradients ? 'Gradients overflowed to' : stats ? "Batch norm's running statistics overflowed to" : 'Loss became'} NaN or infinite at ` +
        `${where}${gradients ? ' though its loss was finite' : stats ? ' though its loss and gradients were finite' : ''}; training stopped before that batch's update. ` +
        'Try a smaller learning rate or check the data, or add callbacks.terminateOnNaN() to stop without an error.');
    }
    if (data.stream && result.rowsDone === 0 && result.badBatch < 0 && !host.model.stopTraining) {
      throw new ArgumentRangeError(`Expected training rows from the data source in epoch ${epoch + 1} but it yielded none; ` +
        'for several epochs pass a function that returns a fresh (async) iterable each time');
    }
    const logs: Logs = { loss: result.badBatch >= 0 ? NaN : result.loss };
    if (metrics) Object.assign(logs, metrics.accumulators.results());
    if (data.validation) {
      let validation: Logs;
      try {
        validation = await host.evaluate(data.validation.x, data.validation.y, batchSize);
      } catch (err) {
        if (ctx.plan.disposed) throw disposedError('Sequential.fit');  // dispose() during the validation pass
        throw err;
      }
      for (const [k, value] of Object.entries(validation)) logs[`val_${k}`] = value;
    }
    history.epoch.push(epoch);
    for (const [k, value] of Object.entries(logs)) (history.history[k] ??= []).push(value);
    if (scheduled) (history.history['lr'] ??= []).push(startLr);
    // Throughput reaches the hooks only, after History took the epoch: timing is
    // not a training result, and two identical seeded runs must give equal histories.
    // With a schedule the hooks also see the rate the epoch began with, as Keras's
    // schedulers add logs['lr'], so csvLogger writes the column History has.
    const epochLogs: Logs = { ...logs, ...(scheduled ? { lr: startLr } : {}), samplesPerSecond: epochRate(result.rowsDone, result.seconds) };
    await hook('onEpochEnd', epoch, epochLogs);
    lastLogs = epochLogs;
  }
  await hook('onTrainEnd', lastLogs);
  return history;
}

/**
 * The epoch's training rows (for streams, those actually trained) over its
 * training seconds; the validation pass and a stream's waits are not in them.
 * 0 when nothing trained or the clock did not move.
 */
function epochRate(rows: number, seconds: number): number {
  return rows > 0 && seconds > 0 ? rows / seconds : 0;
}
