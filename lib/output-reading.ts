// How to read a model's outputs for the compiled metrics: what the compiled
// loss says an output value is (README's Losses table). The metrics of
// evaluate, evaluateAsync, fit's validation (lib/metrics.ts metricByName) and
// fit's training metrics (lib/metric-accumulators.ts) all take one
// OutputReading, derived here from the loss name, so they agree on what a
// predicted class, a true class and a probability are.
//
// - Binary decisions (one output column, and each column of a multi-label
//   loss) threshold the output where its probability crosses 0.5:
//   probabilities and regression values at 0.5, logits and hinge scores at 0
//   (σ(z) ≥ 0.5 ⇔ z ≥ 0), log-probabilities at log 0.5.
// - A target value is class 1 when ≥ 0.5, or > 0 for hinge's ±1 labels.
// - Multi-label losses (bce, bce-with-logits, focal, dice: independent 0/1
//   columns) score every output value as one binary decision — Keras's
//   BinaryAccuracy, which Keras also resolves 'accuracy' to under binary
//   cross-entropy (keras/engine/compile_utils.py, MetricsContainer) — and
//   precision/recall/F1 per label, macro-averaged (scikit-learn's multilabel
//   average='macro'). The other losses are single-label: argmax of the row.
// - log_loss turns outputs into probabilities the way the loss does: as they
//   are (bce, regression values), sigmoid (logits of one column or of
//   multi-label losses), softmax (cross-entropy's logits), exp
//   (log-probabilities); hinge scores have none, so compile refuses log_loss.
// A custom loss says nothing of its outputs: CUSTOM_READING keeps the reading
// fastmlp had before losses chose it (0.5 threshold with one column, argmax
// with several; log_loss on the one column as a probability, softmax of several).
import type { LossName } from './engine';

/** What one output value is. */
export type OutputMeaning = 'probabilities' | 'logits' | 'log-probabilities' | 'scores' | 'values' | 'custom';

/** How log_loss turns a row of outputs into probabilities (null: it cannot). */
export type ProbabilityMap = 'identity' | 'sigmoid' | 'softmax' | 'exp' | null;

export interface OutputReading {
  readonly meaning: OutputMeaning;
  /** Columns are independent binary labels (elementwise metrics) rather than one class per row. */
  readonly multiLabel: boolean;
  /** An output at or above this is class 1 in a binary decision. */
  readonly threshold: number;
  /** Targets are ±1 labels: class 1 when > 0 (else when ≥ 0.5). */
  readonly signTargets: boolean;
}

const reading = (meaning: OutputMeaning, multiLabel: boolean, threshold: number, signTargets = false): OutputReading =>
  Object.freeze({ meaning, multiLabel, threshold, signTargets });

/** A custom loss's outputs: fastmlp's reading before the loss chose it (see above). */
export const CUSTOM_READING = reading('custom', false, 0.5);

const READINGS: Record<LossName, OutputReading> = {
  'mse': reading('values', false, 0.5),
  'mae': reading('values', false, 0.5),
  'huber': reading('values', false, 0.5),
  'tukey': reading('values', false, 0.5),
  'quantile': reading('values', false, 0.5),
  'barron': reading('values', false, 0.5),
  'bce': reading('probabilities', true, 0.5),
  'dice': reading('probabilities', true, 0.5),
  'bce-with-logits': reading('logits', true, 0),
  'focal': reading('logits', true, 0),
  'cross-entropy': reading('logits', false, 0),
  'nll': reading('log-probabilities', false, Math.log(0.5)),
  'kl-div': reading('log-probabilities', false, Math.log(0.5)),
  'hinge': reading('scores', false, 0, true),
  'squared-hinge': reading('scores', false, 0, true),
};

/** The reading of a built-in loss's outputs, or CUSTOM_READING for a custom loss (null or 'custom'). */
export function outputReading(loss: LossName | 'custom' | null): OutputReading {
  return loss === null || loss === 'custom' ? CUSTOM_READING : READINGS[loss];
}

/** How log_loss maps outputs of `cols` columns to probabilities under `r`. */
export function probabilityMap(r: OutputReading, cols: number): ProbabilityMap {
  switch (r.meaning) {
    case 'probabilities': case 'values': return 'identity';
    case 'logits': return r.multiLabel || cols === 1 ? 'sigmoid' : 'softmax';
    case 'log-probabilities': return 'exp';
    case 'scores': return null;
    case 'custom': return cols === 1 ? 'identity' : 'softmax';
  }
}

/** Whether outputs of `cols` columns are scored as independent binary decisions (one column always is). */
export function binaryColumns(r: OutputReading, cols: number): boolean {
  return cols === 1 || r.multiLabel;
}

/** An output value's binary class under r. */
export function predictedLabel(r: OutputReading, output: number): number {
  return output >= r.threshold ? 1 : 0;
}

/** A target value's binary class under r. */
export function trueLabel(r: OutputReading, target: number): number {
  return (r.signTargets ? target > 0 : target >= 0.5) ? 1 : 0;
}

/** Clip applied to probabilities in log-loss (scikit-learn 1.2's eps). */
export const LOG_LOSS_EPS = 1e-15;

export const clipProbability = (p: number): number => Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p));

/**
 * −log P(label) of one binary output under map (identity, sigmoid or exp),
 * the probability clipped to [ε, 1 − ε]. Sigmoid takes σ(z) and σ(−z)
 * separately, so the smaller one keeps its precision (1 − σ(z) would round).
 */
export function binaryLogLoss(map: ProbabilityMap, output: number, label: number): number {
  let p1: number;
  let p0: number;
  if (map === 'sigmoid') {
    p1 = 1 / (1 + Math.exp(-output));
    p0 = 1 / (1 + Math.exp(output));
  } else {
    p1 = map === 'exp' ? Math.exp(output) : output;
    p0 = 1 - p1;
  }
  return -Math.log(label === 1 ? clipProbability(p1) : clipProbability(p0));
}

/**
 * −log p(true class) of one row of cols ≥ 2 outputs at data[base…] under map
 * (softmax, exp or identity), in `scratch` (cols values): probabilities
 * clipped to [ε, 1 − ε] and the row renormalised, as scikit-learn's log_loss.
 */
export function rowLogLoss(map: ProbabilityMap, data: ArrayLike<number>, base: number, cols: number, truth: number,
                           scratch: Float64Array): number {
  if (map === 'softmax') {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, data[base + c]!);
    let expSum = 0;
    for (let c = 0; c < cols; c++) expSum += (scratch[c] = Math.exp(data[base + c]! - max));
    for (let c = 0; c < cols; c++) scratch[c]! /= expSum;
  } else {
    for (let c = 0; c < cols; c++) scratch[c] = map === 'exp' ? Math.exp(data[base + c]!) : data[base + c]!;
  }
  let sum = 0;
  for (let c = 0; c < cols; c++) sum += clipProbability(scratch[c]!);
  return -Math.log(clipProbability(scratch[truth]!) / sum);
}
