// Metrics computed from predictions and targets (SPEC.md §5). Arguments are
// (pred, target) throughout; the definitions follow scikit-learn's documented
// ones (sklearn.metrics: accuracy_score, top_k_accuracy_score,
// precision_recall_fscore_support, confusion_matrix, log_loss, r2_score), and
// the tests compare against values it produced.
import type { FloatArray, LossName, Target } from './engine';
import { Matrix, toMatrix, type MatrixLike } from './matrix';
import { toClassIndices, toTarget, type TargetLike } from './targets';
import { ArgumentRangeError, integer, number, oneOf, options, rangeError, typeError } from './validate';
import {
  CUSTOM_READING, LOG_LOSS_EPS, binaryColumns, outputReading, binaryLogLoss, predictedLabel, probabilityMap, rowLogLoss, trueLabel,
  type OutputReading,
} from './output-reading';

export { LOG_LOSS_EPS };

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

/** Sums over pred − target: |e| and e². */
function errorSums(pred: FloatArray, target: ArrayLike<number>) {
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < pred.length; i++) {
    const e = pred[i]! - target[i]!;
    abs += Math.abs(e);
    sq += e * e;
  }
  return { n: pred.length, abs, sq };
}

export function maeOf(pred: FloatArray, target: ArrayLike<number>): number {
  const s = errorSums(pred, target);
  return s.abs / s.n;
}
export function mseOf(pred: FloatArray, target: ArrayLike<number>): number {
  const s = errorSums(pred, target);
  return s.sq / s.n;
}
export function rmseOf(pred: FloatArray, target: ArrayLike<number>): number {
  return Math.sqrt(mseOf(pred, target));
}

/** R² of one output from its sums: 1 − SS_res / SS_tot; a constant target gives 1 for an exact fit, else 0 (scikit-learn's force_finite). */
export function r2FromSums(sq: number, total: number): number {
  if (total === 0) return sq === 0 ? 1 : 0;
  return 1 - sq / total;
}

/**
 * R² of each of the `cols` outputs (values row-major, rows × cols), averaged
 * uniformly: scikit-learn's r2_score default (multioutput='uniform_average')
 * and Keras's R2Score default. Pooling all outputs around one mean instead
 * would count the spread between the outputs' means as explained variance
 * (outputs of means 0 and 100 then score ≈ 1 whatever the model).
 * Per output: its target's mean, then Σ(t − mean)² and Σ(pred − t)², rows in order.
 */
export function r2Of(pred: FloatArray, target: ArrayLike<number>, cols = 1): number {
  const rows = pred.length / cols;
  let sum = 0;
  for (let c = 0; c < cols; c++) {
    let sq = 0;
    let mean = 0;
    for (let r = 0; r < rows; r++) {
      const v = r * cols + c;
      const e = pred[v]! - target[v]!;
      sq += e * e;
      mean += target[v]!;
    }
    mean /= rows;
    let total = 0;
    for (let r = 0; r < rows; r++) total += (target[r * cols + c]! - mean) ** 2;
    sum += r2FromSums(sq, total);
  }
  return sum / cols;
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
 * Whether metrics under reading r score each output value of pred as a binary
 * decision (one column, or a multi-label loss with a dense target) rather
 * than each row as one class.
 */
function scoresElements(r: OutputReading, cols: number, target: Target): boolean {
  return binaryColumns(r, cols) && (cols === 1 || !(target instanceof Int32Array));
}

/** Value v's true binary label: the class index of its row (one column), or the target value read by r. */
function trueLabelAt(r: OutputReading, target: Target, v: number): number {
  return target instanceof Int32Array ? target[v]! : trueLabel(r, target[v]!);
}

/** The true class of each row of a single-label reading: the index, or argmax of the target row. */
function rowClasses(target: Target, rows: number, cols: number): Int32Array {
  return target instanceof Int32Array ? target : new Matrix(rows, cols, target).argmax();
}

/**
 * One named metric on a model's outputs, read as the compiled loss defines
 * them (lib/output-reading.ts; CUSTOM_READING for a custom loss).
 * Classification metrics read class indices or dense rows; regression ones
 * need a dense target of pred's shape. lib/metric-accumulators.ts folds the
 * same arithmetic chunk by chunk for fit's training metrics.
 */
export function metricByName(name: MetricName, pred: Matrix, target: Target, reading: OutputReading = CUSTOM_READING): number {
  const { rows, cols, data } = pred;
  const elementwise = scoresElements(reading, cols, target);
  switch (name) {
    case 'accuracy':
    case 'binary_accuracy': {
      if (rows === 0) return 0;
      let correct = 0;
      if (elementwise) {
        for (let v = 0; v < data.length; v++) if (predictedLabel(reading, data[v]!) === trueLabelAt(reading, target, v)) correct++;
        return correct / data.length;
      }
      const p = pred.argmax();
      const t = rowClasses(target, rows, cols);
      for (let r = 0; r < rows; r++) if (p[r] === t[r]) correct++;
      return correct / rows;
    }
    case 'top_k_accuracy':
      return topKOf(pred, cols === 1 && !(target instanceof Int32Array)
        ? Int32Array.from(target, (t) => trueLabel(reading, t)) : target, Math.min(COMPILED_TOP_K, cols));
    case 'mae': case 'mse': case 'rmse': case 'r2': {
      if (target instanceof Int32Array) {
        throw new ArgumentRangeError(`Metric '${name}' needs a dense target (a matrix of the outputs' shape), not class indices`);
      }
      return name === 'mae' ? maeOf(data, target) : name === 'mse' ? mseOf(data, target)
        : name === 'rmse' ? rmseOf(data, target) : r2Of(data, target, cols);
    }
    case 'precision': case 'recall': case 'f1': {
      if (elementwise) {
        // Per label (column): counts of class 1, then the macro average over labels (one column: class 1's).
        const tp = new Float64Array(cols);
        const fp = new Float64Array(cols);
        const fn = new Float64Array(cols);
        for (let v = 0; v < data.length; v++) {
          const p = predictedLabel(reading, data[v]!);
          const t = trueLabelAt(reading, target, v);
          const c = v % cols;
          if (p === 1 && t === 1) tp[c]!++;
          else if (p === 1) fp[c]!++;
          else if (t === 1) fn[c]!++;
        }
        return precisionRecallF1FromCounts(tp, fp, fn, 'macro')[name] as number;
      }
      return precisionRecallF1Of(pred.argmax(), rowClasses(target, rows, cols), cols, 'macro')[name] as number;
    }
    case 'log_loss': {
      const map = probabilityMap(reading, cols);
      if (map === null) throw new ArgumentRangeError(`Metric 'log_loss' has no meaning for outputs read as ${reading.meaning}`);
      let total = 0;
      if (elementwise) {
        for (let v = 0; v < data.length; v++) total += binaryLogLoss(map, data[v]!, trueLabelAt(reading, target, v));
        return total / data.length;
      }
      const t = rowClasses(target, rows, cols);
      const scratch = new Float64Array(cols);
      for (let r = 0; r < rows; r++) total += rowLogLoss(map, data, r * cols, cols, t[r]!, scratch);
      return total / rows;
    }
  }
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
/** Coefficient of determination of pred for the true values target: per output column, uniformly averaged (see r2Of). */
export function r2(pred: MatrixLike | ArrayLike<number>, target: MatrixLike | ArrayLike<number>): number {
  const p = predMatrix(pred);
  return r2Of(p.data, valueTarget(target, p), p.cols);
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

// Overloads: average 'none' gives one value per class, the others one number,
// so a caller need not narrow number | number[] for what the option decides.
/** Precision: of the rows predicted as a class, the share that is that class (scikit-learn's precision_score). */
export function precision(pred: MatrixLike, target: TargetLike, opts: ClassificationOptions & { average: 'none' }): number[];
export function precision(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions & { average?: Exclude<Average, 'none'> }): number;
export function precision(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[];
export function precision(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[] {
  return prf(pred, target, opts, 'precision').precision;
}
/** Recall: of the rows of a class, the share predicted as that class (scikit-learn's recall_score). */
export function recall(pred: MatrixLike, target: TargetLike, opts: ClassificationOptions & { average: 'none' }): number[];
export function recall(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions & { average?: Exclude<Average, 'none'> }): number;
export function recall(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[];
export function recall(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[] {
  return prf(pred, target, opts, 'recall').recall;
}
/** F1: the harmonic mean of precision and recall (scikit-learn's f1_score). */
export function f1(pred: MatrixLike, target: TargetLike, opts: ClassificationOptions & { average: 'none' }): number[];
export function f1(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions & { average?: Exclude<Average, 'none'> }): number;
export function f1(pred: MatrixLike, target: TargetLike, opts?: ClassificationOptions): number | number[];
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

/**
 * Checks compile()'s metrics option; loss (its name, null for a custom loss)
 * says how the outputs are read: hinge scores are no probabilities, so
 * log_loss has no meaning with them.
 */
export function checkMetricNames(value: unknown, loss: LossName | null = null): MetricName[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw typeError('metrics', "an array such as ['accuracy']", value);
  const names = value.map((m, i) => oneOf(`metrics[${i}]`, m, METRIC_NAMES));
  const reading = outputReading(loss);
  names.forEach((name, i) => {
    if (name === 'log_loss' && probabilityMap(reading, 1) === null) {
      throw rangeError(`metrics[${i}]`, `a metric that reads ${reading.meaning} ('log_loss' needs outputs that are probabilities, logits or log-probabilities; loss '${loss}')`, name);
    }
  });
  return names;
}
