// The options and saved-state shapes of Sequential (lib/sequential.ts): what
// its constructor, compile, fit, predictAsync and evaluateAsync take, and what
// a model file stores besides the weights. Types only; Sequential re-exports them.
import type { EngineChoice } from './backend';
import type { Callback, EpochLogs } from './callbacks';
import type { Dtype, FloatArray } from './engine';
import type { LossConfig, LossFunction, Loss, LossNameOrAlias } from './losses';
import type { MetricName } from './metrics';
import type { Optimizer, OptimizerChoice, OptimizerConfig } from './optim';
import type { RngState } from './rng';

export interface SequentialOptions {
  /** 'native', 'js' or 'auto' (default: native when the addon loads). */
  engine?: EngineChoice;
  /** Seed for initial weights and shuffling; the same seed gives identical weights in both engines. */
  seed?: number;
  /** 'float32' (default) or 'float64'. */
  dtype?: Dtype;
  /**
   * Keep the memory of fit's private copies of x, a dense y and validationData
   * after fit settles, and copy the next fit's data into it when it needs at
   * least half of it (default true): a repeated fit then skips the page faults
   * of fresh memory, most of the time fit holds the event loop at its call. The
   * model holds that memory until dispose() or a fit that cannot use it (lib/
   * fit-memory.ts). false: each fit's copies are freed after it.
   */
  reuseFitMemory?: boolean;
}

export interface CompileOptions {
  /** A loss name ('mse', 'bce', …), losses.create(...), or a custom { forward, backward } loss. */
  loss: LossNameOrAlias | LossFunction | Loss;
  /** 'sgd', 'adagrad', 'rmsprop', 'adam' (default), 'adamw' or an optim.* instance. */
  optimizer?: OptimizerChoice | Optimizer;
  /** Extra values in fit/evaluate logs: 'accuracy', 'mae', 'rmse', 'f1', ... (metrics.METRIC_NAMES). */
  metrics?: readonly MetricName[];
}

export interface FitOptions {
  /** Epochs to train (default 1). */
  epochs?: number;
  /** Rows per optimizer step (default 32); the last batch of an epoch may be smaller. */
  batchSize?: number;
  /** Shuffle the rows before each epoch (default true; false for streamed data). */
  shuffle?: boolean;
  /** Fraction of rows, taken from the end before shuffling (as Keras), held out for validation. */
  validationSplit?: number;   // 0
  /** [x, y] scored in eval mode after each epoch (the val_* logs); not with validationSplit. */
  validationData?: readonly [unknown, unknown];
  /** false/0 silent; 1 a progress bar per batch (stderr); true/2 one line per epoch (stdout), as Keras's levels. */
  verbose?: boolean | 0 | 1 | 2;  // false
  /** Hooks, schedules, early stopping, ... awaited in order (see callbacks, schedules). */
  callbacks?: readonly Callback[];
  /** Epoch to start from (resuming): trains epochs initialEpoch … epochs − 1; equal to epochs: nothing, an empty History (Keras). */
  initialEpoch?: number;      // 0
  /** Weight of each class's rows in the training loss ({ [class]: weight } or an array; missing: 1). */
  classWeight?: Readonly<Record<number, number>> | readonly number[];
  /** Called after each epoch with its logs (awaited when it returns a promise). */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | Promise<void>;
  /**
   * Cancels training between batches: fit rejects with an AbortError (name
   * 'AbortError', `history` of the completed epochs) and the parameters are
   * those after the last completed batch.
   */
  signal?: AbortSignal;
}

export interface PredictAsyncOptions {
  /** Rows per chunk, rounded up to whole forward passes; the JS engine lets the event loop run between chunks. */
  batchSize?: number;         // 256
  /** Cancels the call before its next chunk: it rejects with an AbortError; the model is not touched. */
  signal?: AbortSignal;
}

/** evaluateAsync's options: those of predictAsync, which runs its forward pass. */
export type EvaluateAsyncOptions = PredictAsyncOptions;

/** What a model file stores besides the weights (lib/io/model-file.ts). */
export interface TrainingState {
  /** A built-in loss's config, or 'custom' for a user loss (which cannot be saved). */
  loss: LossConfig | 'custom';
  optimizer: OptimizerConfig;
  metrics: string[];
  /** The flat optimizer state, step count and generators (shuffling, dropout), when asked for. */
  optimizerState?: { state: FloatArray; steps: number; rng: TrainingRngState };
}

/**
 * The generators a resumed fit needs: the shuffling one (RngState) and, as
 * dropoutWords, the plan's dropout mask stream (engine getDropoutState). Model
 * files store both in one JSON field; files from before dropoutWords load with
 * the seed's stream.
 */
export interface TrainingRngState extends RngState {
  dropoutWords?: number[];
}
