// fit's arguments, read and validated before anything trains (Sequential.fit,
// lib/sequential.ts): the option values with their defaults, the streamed or
// in-memory form of the call, the class-weighted training loss, and the rows a
// validationSplit holds out.
import { checkCallbacks, lambda, type Callback } from './callbacks';
import { ClassWeightedLoss, classWeights } from './class-weight';
import type { Engine, Target } from './engine';
import type { FitSettings } from './fit-loop';
import { isStreamSource, type StreamSource } from './fit-stream';
import { Loss, type LossFunction } from './losses';
import { Matrix } from './matrix';
import type { FitOptions } from './sequential-options';
import { ArgumentRangeError, ArgumentTypeError, boolean, integer, number, options, rangeError, typeError } from './validate';

/** fit(x, y, options) or fit(source, options), read. */
export interface FitCall {
  /** The streamed source, or null for in-memory x and y. */
  stream: StreamSource | null;
  settings: FitSettings;
  /** validationSplit (0: none). */
  split: number;
  /** The validationData option as given (undefined: none). */
  validationData: unknown;
  /** The classWeight option as given (undefined: none). */
  classWeight: unknown;
}

/** Reads and validates fit's options (throws TypeError/RangeError naming the option). */
export function parseFitOptions(x: unknown, y: unknown, opts: FitOptions | undefined): FitCall {
  const stream = isStreamSource(x) ? x : null;
  if (stream) {
    if (y !== undefined && opts !== undefined) {
      throw typeError('y', 'nothing (fit(source, options): the chunks carry their targets)', y);
    }
    opts = (opts ?? y) as FitOptions | undefined;
  }
  const o = options('fit options', opts, ['epochs', 'batchSize', 'shuffle', 'validationSplit', 'validationData',
    'verbose', 'onEpochEnd', 'callbacks', 'initialEpoch', 'classWeight', 'signal']);
  const epochs = o.epochs === undefined ? 1 : integer('epochs', o.epochs, 1);
  // initialEpoch === epochs trains nothing and returns an empty History, as Keras's fit
  // (its loop is range(initial_epoch, epochs)): resuming a run that already finished is not an error.
  const initialEpoch = o.initialEpoch === undefined ? 0 : integer('initialEpoch', o.initialEpoch, 0, epochs);
  const batchSize = o.batchSize === undefined ? 32 : integer('batchSize', o.batchSize, 1, 2 ** 31 - 1);
  const shuffle = o.shuffle === undefined ? !stream : boolean('shuffle', o.shuffle);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', o.signal);
  const signal = (o.signal as AbortSignal | undefined) ?? null;
  const split = o.validationSplit === undefined ? 0 : number('validationSplit', o.validationSplit, 0, 1, { maxExclusive: true });
  const verbose = verbosity(o.verbose);
  if (o.onEpochEnd !== undefined && typeof o.onEpochEnd !== 'function') throw typeError('onEpochEnd', 'a function', o.onEpochEnd);
  const callbacks = checkCallbacks(o.callbacks);
  if (o.onEpochEnd !== undefined) callbacks.push(lambda({ onEpochEnd: o.onEpochEnd as Callback['onEpochEnd'] }));
  if (split > 0 && o.validationData !== undefined) {
    throw new ArgumentRangeError('Expected validationSplit or validationData for fit options but received both');
  }
  if (stream && split > 0) {
    throw new ArgumentRangeError(`Expected no validationSplit with streamed data (use validationData) but received ${split}`);
  }
  return { stream: stream as StreamSource | null, settings: { epochs, initialEpoch, batchSize, shuffle, verbose, callbacks, signal },
    split, validationData: o.validationData, classWeight: o.classWeight };
}

/**
 * The verbose option: false/0 silent (the default), 1 a progress bar per batch
 * on stderr, true/2 one line per epoch on stdout — Keras's levels, with true
 * kept for the one-line form it has always meant here.
 */
function verbosity(value: unknown): 0 | 1 | 2 {
  if (value === undefined || value === false || value === 0) return 0;
  if (value === true || value === 2) return 2;
  if (value === 1) return 1;
  const what = 'a boolean or 0, 1, 2 (silent, progress bar, a line per epoch)';
  if (typeof value === 'number') throw rangeError('verbose', what, value);
  throw typeError('verbose', what, value);
}

/** The loss fit trains with: the compiled one, or it weighted per class by the classWeight option. */
export function trainingLoss(loss: Loss | LossFunction, classWeight: unknown, outputSize: number, engine: Engine): Loss | LossFunction {
  let trainLoss = loss;
  if (classWeight !== undefined) {
    if (!(loss instanceof Loss)) throw new ArgumentTypeError('classWeight needs a built-in loss (compile with a loss name or losses.create)');
    const weights = classWeights(classWeight, outputSize === 1 ? 2 : outputSize);
    trainLoss = new ClassWeightedLoss(engine, loss.spec, weights);
  }
  return trainLoss;
}

/**
 * The training rows and the validation set of in-memory data: the last
 * validationSplit of the rows (before shuffling, as Keras: the first
 * floor(n · (1 − split)) rows train), else validationData.
 */
export function splitValidation(X: Matrix, Y: Target, split: number, outputSize: number,
                                validationData: { x: Matrix; y: Target } | null) {
  // Keras's rows (train_validation_split): split_at = floor(n · (1 − split)), the same
  // double arithmetic; n − floor(n · split) trained one row more whenever n · split was not whole.
  const trainRows = split > 0 ? Math.floor(X.rows * (1 - split)) : X.rows;
  const valRows = X.rows - trainRows;
  if (split > 0 && (valRows < 1 || trainRows < 1)) {
    throw new ArgumentRangeError(`validationSplit ${split} of ${X.rows} rows leaves ${trainRows} to train on and ${valRows} to validate`);
  }
  let validation: { x: Matrix; y: Target } | null = null;
  if (valRows > 0) {
    validation = { x: rowsOf(X, trainRows, X.rows), y: targetRows(Y, trainRows, X.rows, outputSize) };
  } else {
    validation = validationData;
  }
  const trainX = X.data.subarray(0, trainRows * X.cols);
  const trainY = targetRows(Y, 0, trainRows, outputSize);
  return { x: trainX, rows: trainRows, y: trainY, stream: null, validation };
}

function rowsOf(m: Matrix, from: number, to: number): Matrix {
  return new Matrix(to - from, m.cols, m.data.subarray(from * m.cols, to * m.cols));
}

function targetRows(t: Target, from: number, to: number, cols: number): Target {
  return t instanceof Int32Array ? t.subarray(from, to) : t.subarray(from * cols, to * cols);
}

/**
 * Refuses, before any step, a batchSize whose last batch would hold one row
 * when the model has batch norm: its training-mode variance of one row is
 * undefined, and both engines stopped the epoch there — after training the
 * batches before it when fit drove the epoch batch by batch — with a message
 * that named neither batchSize nor a way out. PyTorch refuses such a batch too
 * ("Expected more than 1 value per channel when training"); the usual fix is
 * another batch size, which the message suggests.
 */
export function checkBatchNormBatches(hasBatchNorm: boolean, rows: number, batchSize: number): void {
  if (!hasBatchNorm) return;
  const need = 'batch norm in training mode takes a variance over the batch';
  if (rows < 2) throw new ArgumentRangeError(`Expected at least 2 training rows (${need}) for x but received ${rows}`);
  if (batchSize === 1) {
    throw new ArgumentRangeError(`Expected a batch size of at least 2 (${need}) for batchSize but received 1; ` +
      `try batchSize ${workingBatchSize(rows, Math.min(32, rows))}`);
  }
  if (rows % batchSize !== 1) return;
  throw new ArgumentRangeError(`Expected a batch size that leaves no batch of one row (${need}) ` +
    `for batchSize but received ${batchSize}: ${rows} training rows in batches of ${batchSize} leave a last batch of 1 row; ` +
    `try batchSize ${workingBatchSize(rows, batchSize)}`);
}

/** The batch size nearest `near` (below first) that leaves no one-row batch of `rows` ≥ 2 rows (rows itself always does). */
function workingBatchSize(rows: number, near: number): number {
  const works = (b: number) => b >= 2 && b <= rows && rows % b !== 1;
  if (works(near)) return near;
  for (let d = 1; d < rows; d++) {
    if (works(near - d)) return near - d;
    if (works(near + d)) return near + d;
  }
  return rows;
}

/** trainStep's counterpart: one row in training mode, refused as an argument in both engines (the native core named only its function). */
export function checkBatchNormStep(hasBatchNorm: boolean, training: boolean, rows: number): void {
  if (hasBatchNorm && training && rows < 2) {
    throw new ArgumentRangeError(`Expected at least 2 rows (batch norm in training mode takes a variance over the batch; ` +
      `eval() mode uses the running statistics) for x but received ${rows} row`);
  }
}
