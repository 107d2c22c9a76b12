// Metrics computed from predictions and targets (SPEC.md §5). Arguments are
// (pred, target) throughout; the definitions follow scikit-learn's documented
// ones (sklearn.metrics: accuracy_score, top_k_accuracy_score,
// precision_recall_fscore_support, confusion_matrix, log_loss, r2_score), and
// the tests compare against values it produced.
import type { FloatArray, Target } from './engine';
import { Matrix, toMatrix, type MatrixLike } from './matrix';
import { toClassIndices, toTarget, type TargetLike } from './targets';
import { ArgumentRangeError, integer, number, oneOf, options, rangeError, typeError } from './validate';

// ---- core functions on checked arrays (used by fit and evaluate) ----------------

/** The predicted class of each row: argmax, or pred ≥ threshold with one column. */
function predictedClasses(pred: Matrix, threshold = 0.5): Int32Array {
  if (pred.cols !== 1) return pred.argmax();
  const out = new Int32Array(pred.rows);
  for (let r = 0; r < pred.rows; r++) out[r] = pred.data[r]! >= threshold ? 1 : 0;
  return out;
}

/** The true class of each row: the indices, argmax of a one-hot/probability row, or y ≥ 0.5 with one column. */
function trueClasses(target: Target, rows: number, cols: number): Int32Array {
  if (target instanceof Int32Array) return target;
  return predictedClasses(new Matrix(rows, cols, target));
}

/**
 * Fraction of rows predicted right. With class indices, or with several output
 * columns, a row is right when its argmax matches the target's class (argmax of
 * a one-hot/probability target row); with one output column, when prediction
 * and target fall on the same side of 0.5 (binary accuracy).
 */
export function accuracyOf(pred: Matrix, target: Target, threshold = 0.5): number {
  if (pred.rows === 0) return 0;
  const p = predictedClasses(pred, threshold);
  const t = trueClasses(target, pred.rows, pred.cols);
  let correct = 0;
  for (let r = 0; r < pred.rows; r++) if (p[r] === t[r]) correct++;
  return correct / pred.rows;
}

/** Fraction of rows whose true class is among the k highest scores (ties: lower index first). */
export function topKOf(pred: Matrix, target: Target, k: number): number {
  const t = trueClasses(target, pred.rows, pred.cols);
  let hits = 0;
  for (let r = 0; r < pred.rows; r++) {
    const row = pred.data.subarray(r * pred.cols, (r + 1) * pred.cols);
    const score = row[t[r]!]!;
    // Rank of the true class: how many classes beat it (strictly, or equal with a lower index).
    let above = 0;
    for (let c = 0; c < pred.cols; c++) if (row[c]! > score || (row[c] === score && c < t[r]!)) above++;
    if (above < k) hits++;
  }
  return hits / pred.rows;
}

/** Sums over pred − target: |e|, e², and the target's mean and total sum of squares (for R²). */
function regressionSums(pred: FloatArray, target: ArrayLike<number>) {
  let abs = 0;
  let sq = 0;
  let mean = 0;
  for (let i = 0; i < pred.length; i++) {
    const e = pred[i]! - target[i]!;
    abs += Math.abs(e);
    sq += e * e;
    mean += target[i]!;
  }
  const n = pred.length;
  mean /= n;
  let total = 0;
  for (let i = 0; i < n; i++) total += (target[i]! - mean) ** 2;
  return { n, abs, sq, total };
}

export function maeOf(pred: FloatArray, target: ArrayLike<number>): number {
  const s = regressionSums(pred, target);
  return s.abs / s.n;
}
export function mseOf(pred: FloatArray, target: ArrayLike<number>): number {
  const s = regressionSums(pred, target);
  return s.sq / s.n;
}
export function rmseOf(pred: FloatArray, target: ArrayLike<number>): number {
  return Math.sqrt(mseOf(pred, target));
}
/** R² = 1 − SS_res / SS_tot over all values (scikit-learn's 'uniform_average' for one output). */
export function r2Of(pred: FloatArray, target: ArrayLike<number>): number {
  const s = regressionSums(pred, target);
  if (s.total === 0) return s.sq === 0 ? 1 : 0;  // scikit-learn's convention for a constant target
  return 1 - s.sq / s.total;
}

/** counts[true][predicted], classes × classes. */
export function confusionOf(predicted: Int32Array, truth: Int32Array, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]!]![predicted[i]!]!++;
  return m;
}

export type Average = 'macro' | 'micro' | 'binary' | 'none';

export interface PrecisionRecallF1 {
  precision: number | number[];
  recall: number | number[];
  f1: number | number[];
}

/**
 * Precision tp/(tp+fp), recall tp/(tp+fn), F1 their harmonic mean, per class;
 * 'macro' averages the per-class values, 'micro' pools the counts, 'binary'
 * reports class 1. A 0/0 is 0 (scikit-learn's zero_division=0).
 */
export function precisionRecallF1Of(predicted: Int32Array, truth: Int32Array, classes: number, average: Average): PrecisionRecallF1 {
  const cm = confusionOf(predicted, truth, classes);
  const tp: number[] = [];
  const fp: number[] = [];
  const fn: number[] = [];
  for (let c = 0; c < classes; c++) {
    tp.push(cm[c]![c]!);
    let col = 0;
    let row = 0;
    for (let o = 0; o < classes; o++) {
      col += cm[o]![c]!;
      row += cm[c]![o]!;
    }
    fp.push(col - cm[c]![c]!);
    fn.push(row - cm[c]![c]!);
  }
  return precisionRecallF1FromCounts(tp, fp, fn, average);
}

/**
 * precisionRecallF1Of from per-class counts of true positives, false
 * positives and false negatives (what a confusion matrix reduces to; fit's
 * training metrics accumulate these chunk by chunk, lib/metric-accumulators.ts).
 */
export function precisionRecallF1FromCounts(tp: ArrayLike<number>, fp: ArrayLike<number>, fn: ArrayLike<number>,
                                            average: Average): PrecisionRecallF1 {
  const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const f1 = (p: number, r: number) => div(2 * p * r, p + r);
  const classes = tp.length;
  if (average === 'micro') {
    const sum = (a: ArrayLike<number>) => {
      let s = 0;
      for (let c = 0; c < classes; c++) s += a[c]!;
      return s;
    };
    const p = div(sum(tp), sum(tp) + sum(fp));
    const r = div(sum(tp), sum(tp) + sum(fn));
    return { precision: p, recall: r, f1: f1(p, r) };
  }
  const precision: number[] = [];
  const recall: number[] = [];
  for (let c = 0; c < classes; c++) {
    precision.push(div(tp[c]!, tp[c]! + fp[c]!));
    recall.push(div(tp[c]!, tp[c]! + fn[c]!));
  }
  const f1s = precision.map((p, c) => f1(p, recall[c]!));
  if (average === 'none') return { precision, recall, f1: f1s };
  if (average === 'binary') return { precision: precision[1] ?? 0, recall: recall[1] ?? 0, f1: f1s[1] ?? 0 };
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  return { precision: mean(precision), recall: mean(recall), f1: mean(f1s) };
}

/** Clip applied to probabilities in log-loss (scikit-learn 1.2's eps). */
export const LOG_LOSS_EPS = 1e-15;

/**
 * Mean negative log-likelihood of the true class. pred holds probabilities:
 * rows × classes, or rows × 1 (the probability of class 1). Clipped to
 * [ε, 1 − ε], rows renormalised, as scikit-learn's log_loss.
 */
export function logLossOf(pred: Matrix, target: Target): number {
  const t = trueClasses(target, pred.rows, pred.cols);
  let total = 0;
  for (let r = 0; r < pred.rows; r++) {
    const clip = (p: number) => Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p));
    if (pred.cols === 1) {
      const p1 = clip(pred.data[r]!);
      total -= Math.log(t[r] === 1 ? p1 : 1 - p1);
      continue;
    }
    let sum = 0;
    for (let c = 0; c < pred.cols; c++) sum += clip(pred.data[r * pred.cols + c]!);
    total -= Math.log(clip(pred.data[r * pred.cols + t[r]!]!) / sum);
  }
  return total / pred.rows;
}

// ---- metrics by name, for compile({ metrics }) ----------------------------------

/** Names accepted in compile({ metrics }); they become keys of fit/evaluate logs. */
export const METRIC_NAMES = ['accuracy', 'binary_accuracy', 'top_k_accuracy', 'mae', 'mse', 'rmse', 'r2',
  'precision', 'recall', 'f1', 'log_loss'] as const;
export type MetricName = typeof METRIC_NAMES[number];

/** top_k_accuracy in compile() uses k = 5 (Keras's default). */
export const COMPILED_TOP_K = 5;

/**
 * One named metric on a model's outputs. Classification metrics read class
 * indices or one-hot rows; regression ones need a dense target of pred's shape.
 * log_loss applies softmax to the outputs (the models' outputs are logits).
 */
export function metricByName(name: MetricName, pred: Matrix, target: Target): number {
  switch (name) {
    case 'accuracy':
    case 'binary_accuracy':
      return accuracyOf(pred, target);
    case 'top_k_accuracy':
      return topKOf(pred, target, Math.min(COMPILED_TOP_K, pred.cols));
    case 'mae': case 'mse': case 'rmse': case 'r2': {
      if (target instanceof Int32Array) {
        throw new ArgumentRangeError(`Metric '${name}' needs a dense target (a matrix of the outputs' shape), not class indices`);
      }
      return name === 'mae' ? maeOf(pred.data, target) : name === 'mse' ? mseOf(pred.data, target)
        : name === 'rmse' ? rmseOf(pred.data, target) : r2Of(pred.data, target);
    }
    case 'precision': case 'recall': case 'f1': {
      const classes = pred.cols === 1 ? 2 : pred.cols;
      const scores = precisionRecallF1Of(predictedClasses(pred), trueClasses(target, pred.rows, pred.cols), classes,
        pred.cols === 1 ? 'binary' : 'macro');
      return scores[name] as number;
    }
    case 'log_loss':
      return logLossOf(pred.cols === 1 ? pred : softmaxRows(pred), target);
  }
}

function softmaxRows(m: Matrix): Matrix {
  const out = new Float64Array(m.data.length);
  for (let r = 0; r < m.rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < m.cols; c++) max = Math.max(max, m.data[r * m.cols + c]!);
    let sum = 0;
    for (let c = 0; c < m.cols; c++) sum += (out[r * m.cols + c] = Math.exp(m.data[r * m.cols + c]! - max));
    for (let c = 0; c < m.cols; c++) out[r * m.cols + c]! /= sum;
  }
  return new Matrix(m.rows, m.cols, out);
}

// ---- public functions: validate, convert, compute ---------------------------------

/** pred as a float64 Matrix; a flat array is one column. */
function predMatrix(value: unknown, name = 'pred'): Matrix {
  const flat = ArrayBuffer.isView(value) || (Array.isArray(value) && (value.length === 0 || typeof value[0] === 'number'));
  const m = flat
    ? toMatrix({ data: value as ArrayLike<number>, rows: (value as ArrayLike<number>).length, cols: 1 }, name, 'float64')
    : toMatrix(value, name, 'float64');
  if (m.rows === 0) throw rangeError(name, 'at least one row', value);
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i]!)) throw new ArgumentRangeError(`Expected finite numbers for ${name} but received ${m.data[i]} at index ${i}`);
  }
  return m;
}

/** A classification target for pred: class indices, or a matrix of pred's shape. */
function classTarget(target: unknown, pred: Matrix): Target {
  const flat = ArrayBuffer.isView(target) || (Array.isArray(target) && (target.length === 0 || typeof target[0] === 'number'));
  if (flat) return toClassIndices(target as ArrayLike<number>, 'target', pred.rows, pred.cols === 1 ? 2 : pred.cols);
  return toTarget(target, 'target', 'mse', pred.rows, pred.cols, 'float64');
}

/** A regression target with as many values as pred. */
function valueTarget(target: unknown, pred: Matrix): FloatArray {
  const t = predMatrix(target, 'target');
  if (t.data.length !== pred.data.length) {
    throw new ArgumentRangeError(`Expected ${pred.rows} × ${pred.cols} values for target (pred's shape) but received ${t.rows} × ${t.cols}`);
  }
  return t.data;
}

/**
 * accuracy(pred, target): pred is rows × classes (or rows × 1 for binary);
 * target is class indices or a matrix of pred's shape. See accuracyOf.
 */
export function accuracy(pred: MatrixLike, target: TargetLike): number {
  const p = predMatrix(pred);
  return accuracyOf(p, classTarget(target, p));
}

/** Fraction of rows where pred ≥ threshold agrees with target ≥ 0.5 (one or more columns of independent labels). */
export function binaryAccuracy(pred: MatrixLike | ArrayLike<number>, target: MatrixLike | ArrayLike<number>,
                               opts?: { threshold?: number }): number {
  const o = options('binaryAccuracy options', opts, ['threshold']);
  const threshold = o.threshold === undefined ? 0.5 : number('threshold', o.threshold);
  const p = predMatrix(pred);
  const t = valueTarget(target, p);
  let correct = 0;
  for (let i = 0; i < t.length; i++) if ((p.data[i]! >= threshold) === (t[i]! >= 0.5)) correct++;
  return correct / t.length;
}

/** Fraction of rows whose true class is among the k highest scores. */
export function topKAccuracy(pred: MatrixLike, target: TargetLike, opts?: { k?: number }): number {
  const o = options('topKAccuracy options', opts, ['k']);
  const p = predMatrix(pred);
  const k = o.k === undefined ? 5 : integer('k', o.k, 1, p.cols);
  return topKOf(p, classTarget(target, p), k);
}

export function mae(pred: MatrixLike | ArrayLike<number>, target: MatrixLike | ArrayLike<number>): number {
  const p = predMatrix(pred);
  return maeOf(p.data, valueTarget(target, p));
}
export function mse(pred: MatrixLike | ArrayLike<number>, target: MatrixLike | ArrayLike<number>): number {
  const p = predMatrix(pred);
  return mseOf(p.data, valueTarget(target, p));
}
export function rmse(pred: MatrixLike | ArrayLike<number>, target: MatrixLike | ArrayLike<number>): number {
  const p = predMatrix(pred);
  return rmseOf(p.data, valueTarget(target, p));
}
/** Coefficient of determination of pred for the true values target. */
export function r2(pred: MatrixLike | ArrayLike<number>, target: MatrixLike | ArrayLike<number>): number {
  const p = predMatrix(pred);
  return r2Of(p.data, valueTarget(target, p));
}

export interface ClassificationOptions {
  /** 'macro' (default for several columns), 'micro', 'binary' (default for one column: class 1), 'none' (per class). */
  average?: Average;
}

function prf(pred: unknown, target: unknown, opts: unknown, fn: string): PrecisionRecallF1 {
  const o = options(`${fn} options`, opts, ['average']);
  const p = predMatrix(pred);
  const classes = p.cols === 1 ? 2 : p.cols;
  const average = o.average === undefined ? (p.cols === 1 ? 'binary' : 'macro')
    : oneOf('average', o.average, ['macro', 'micro', 'binary', 'none'] as const);
  return precisionRecallF1Of(predictedClasses(p), trueClasses(classTarget(target, p), p.rows, p.cols), classes, average);
}

export function precision(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[] {
  return prf(pred, target, opts, 'precision').precision;
}
export function recall(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[] {
  return prf(pred, target, opts, 'recall').recall;
}
export function f1(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[] {
  return prf(pred, target, opts, 'f1').f1;
}

/** counts[true class][predicted class]; pred's argmax (or ≥ 0.5 with one column) is the prediction. */
export function confusionMatrix(pred: MatrixLike, target: TargetLike): number[][] {
  const p = predMatrix(pred);
  const classes = p.cols === 1 ? 2 : p.cols;
  return confusionOf(predictedClasses(p), trueClasses(classTarget(target, p), p.rows, p.cols), classes);
}

/** Mean −log p(true class) for probabilities pred (rows × classes, or one column: P(class 1)). */
export function logLoss(pred: MatrixLike | ArrayLike<number>, target: TargetLike): number {
  const p = predMatrix(pred);
  for (let i = 0; i < p.data.length; i++) {
    if (p.data[i]! < 0 || p.data[i]! > 1) throw new ArgumentRangeError(`Expected probabilities in [0, 1] for pred but received ${p.data[i]} at index ${i}`);
  }
  return logLossOf(p, classTarget(target, p));
}

/** Checks compile()'s metrics option. */
export function checkMetricNames(value: unknown): MetricName[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw typeError('metrics', "an array such as ['accuracy']", value);
  return value.map((m, i) => oneOf(`metrics[${i}]`, m, METRIC_NAMES));
}
