// The epoch loop of Sequential.fit: callbacks, schedules, metrics and
// validation around the engine's epochs. Without batch hooks (and with a
// built-in loss) each epoch is one engine call — in the native engine, on a
// worker thread; with batch hooks the loop drives the epoch batch by batch
// (lib/training.ts), which is slower in the native engine but lets hooks run
// and stop training between batches.
import { callHook, progress, wantsBatches, type Callback, type CallbackModel, type HookName, type Logs,
  type TrainingParams } from './callbacks';
import type { Engine, EpochResult, FloatArray, LossSpec, Target } from './engine';
import { Matrix, allocate } from './matrix';
import { metricByName, type MetricName } from './metrics';
import type { Rng } from './rng';
import { runEpoch, runEpochByBatch, type BatchDriver, type EpochContext } from './training';
import { ArgumentRangeError, disposedError } from './validate';

export interface History {
  /** Epoch numbers (0-based; from initialEpoch). */
  epoch: number[];
  /** Per-epoch values by name: loss, the compiled metrics, and val_* for each with validation. */
  history: Record<string, number[]>;
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
  /** Sends the optimizer's settings (a schedule may have changed lr) to the plan. */
  syncOptimizer(): void;
  /** Eval-mode loss and metrics. */
  evaluate(x: Matrix, y: Target): Logs;
  /** Eval-mode outputs. */
  predict(x: FloatArray, rows: number): Matrix;
  /** Marks the model busy (training) or idle (hooks may use it). */
  setBusy(busy: boolean): void;
}

export interface FitSettings {
  epochs: number;
  initialEpoch: number;
  batchSize: number;
  shuffle: boolean;
  verbose: boolean;
  callbacks: Callback[];
}

export interface TrainingData {
  x: FloatArray;
  rows: number;
  y: Target;
  validation: { x: Matrix; y: Target } | null;
}

export async function runFit(host: FitHost, data: TrainingData, settings: FitSettings): Promise<History> {
  const { epochs, initialEpoch, batchSize, shuffle } = settings;
  const callbacks = [...settings.callbacks];
  if (settings.verbose) callbacks.push(progress({ write: (line) => console.log(line) }));
  const byBatch = wantsBatches(callbacks) || host.ctx.loss !== null;
  const { ctx } = host;
  const outputSize = ctx.outputSize;
  const steps = Math.ceil(data.rows / batchSize);
  const logNames = ['loss', ...host.metricNames];
  if (data.validation) logNames.push(...logNames.map((n) => `val_${n}`));
  const params: TrainingParams = {
    epochs, initialEpoch, batchSize, samples: data.rows, steps, verbose: settings.verbose, metrics: logNames,
  };
  const history: History = { epoch: [], history: {}, params };

  // Hooks run with the model idle, so they may read or change it (getWeights, setWeights, lr).
  const hook = async (name: HookName, ...args: unknown[]) => {
    if (!callbacks.some((cb) => typeof cb[name] === 'function')) return;
    host.setBusy(false);
    try {
      await callHook(callbacks, name, ...args);
    } finally {
      host.setBusy(true);
    }
  };
  host.model.stopTraining = false;
  for (const cb of callbacks) {
    cb.setModel?.(host.model);
    cb.setParams?.(params);
  }

  const order = new Int32Array(data.rows);
  const record = byBatch && host.metricNames.length > 0 ? {
    outputs: allocate(ctx.dtype, data.rows * outputSize),
    targets: data.y instanceof Int32Array ? new Int32Array(data.rows) : allocate(ctx.dtype, data.y.length),
    engine: host.engine,
    spec: host.lossSpec,
  } : null;
  const driver: BatchDriver = {
    before: async (batch, size) => {
      await hook('onBatchBegin', batch, { batch, size });
      host.syncOptimizer();
    },
    after: async (batch, size, loss) => {
      await hook('onBatchEnd', batch, { batch, size, loss });
      return host.model.stopTraining;
    },
    record,
  };

  let lastLogs: Logs = {};
  await hook('onTrainBegin', {});
  for (let epoch = initialEpoch; epoch < epochs && !host.model.stopTraining; epoch++) {
    await hook('onEpochBegin', epoch, {});
    host.syncOptimizer();
    const epochOrder = shuffle ? host.rng.permutation(data.rows, order) : null;
    let result: EpochResult & { rowsDone?: number };
    if (byBatch) {
      result = await runEpochByBatch(ctx, data.x, data.rows, data.y, batchSize, epochOrder, driver);
    } else {
      result = await runEpoch(ctx, data.x, data.rows, data.y, batchSize, epochOrder);
    }
    if (ctx.plan.disposed) throw disposedError('Sequential.fit');  // dispose() during the epoch
    if (result.badBatch >= 0 && !host.model.stopTraining) {
      throw new ArgumentRangeError(`Loss became NaN or infinite at epoch ${epoch + 1}, batch ${result.badBatch + 1} ` +
        `(of ${steps}); training stopped before that batch's update. ` +
        'Try a smaller learning rate or check the data, or add callbacks.terminateOnNaN() to stop without an error.');
    }
    const logs: Logs = { loss: result.badBatch >= 0 ? NaN : result.loss };
    Object.assign(logs, trainMetrics(host, data, record, result.rowsDone ?? data.rows));
    if (data.validation) {
      for (const [k, value] of Object.entries(host.evaluate(data.validation.x, data.validation.y))) logs[`val_${k}`] = value;
    }
    history.epoch.push(epoch);
    for (const [k, value] of Object.entries(logs)) (history.history[k] ??= []).push(value);
    await hook('onEpochEnd', epoch, logs);
    lastLogs = logs;
  }
  await hook('onTrainEnd', lastLogs);
  return history;
}

/**
 * Training-set metrics of an epoch. Driven batch by batch, they come from each
 * batch's training-mode outputs before its step (as Keras reports them); a
 * whole-epoch engine call returns no outputs, so then one eval-mode pass over
 * the training rows after the epoch supplies them.
 */
function trainMetrics(host: FitHost, data: TrainingData, record: BatchDriver['record'], rowsDone: number): Logs {
  const logs: Logs = {};
  if (host.metricNames.length === 0 || rowsDone === 0) return logs;
  const cols = host.ctx.outputSize;
  let pred: Matrix;
  let target: Target;
  if (record) {
    pred = new Matrix(rowsDone, cols, record.outputs.subarray(0, rowsDone * cols));
    target = record.targets instanceof Int32Array ? record.targets.subarray(0, rowsDone)
      : record.targets.subarray(0, rowsDone * cols);
  } else {
    pred = host.predict(data.x, data.rows);
    target = data.y;
  }
  for (const name of host.metricNames) logs[name] = metricByName(name, pred, target);
  return logs;
}
