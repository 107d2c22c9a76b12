// fit's training metrics, folded chunk by chunk: one accumulator per compiled
// metric keeps the sufficient statistics of its definition in lib/metrics.ts
// (counts, sums, per-class counts, a running mean and sum of squares), so an
// epoch's metrics cost memory that depends on the number of outputs, never on
// the number of rows. A streamed epoch (lib/fit-stream.ts) folds each chunk's
// recorded training-mode outputs as soon as the chunk has trained and drops
// them; in-memory data is one chunk, folded the same way.
//
// Every accumulator repeats its metric's arithmetic in the same order
// (metricByName on the whole epoch): folded as one chunk, the result is that
// number exactly, and folded in chunks it is too — the sums continue across
// chunks in row order — except r2, whose total sum of squares is merged per
// chunk (RSquared below) and so rounds differently.
import type { FloatArray, Target } from './engine';
import { COMPILED_TOP_K, LOG_LOSS_EPS, precisionRecallF1FromCounts, type MetricName } from './metrics';
import { ArgumentRangeError } from './validate';

/**
 * The rows of one trained chunk to fold: row i of the fold is order[i] (or i
 * when order is null), for i < count — the chunk's training order, so that an
 * epoch stopped part-way folds exactly the rows it trained.
 */
export interface ChunkRows {
  /** Training-mode outputs, chunk rows × cols, each at its row's position in the chunk. */
  pred: FloatArray;
  /** Class indices (one per row) or a dense target (chunk rows × cols). */
  target: Target;
  order: Int32Array | null;
  count: number;
}

/** The sufficient statistics of one metric. */
export interface MetricAccumulator {
  fold(rows: ChunkRows): void;
  /** The metric over the rows folded since the last reset (at least one). */
  value(): number;
  reset(): void;
}

/** Index of the largest value of data[base, base + cols) (the first on ties, as Matrix.argmax). */
function argmaxAt(data: ArrayLike<number>, base: number, cols: number): number {
  let best = 0;
  for (let c = 1; c < cols; c++) if (data[base + c]! > data[base + best]!) best = c;
  return best;
}

/** Row r's predicted class: its argmax, or output ≥ 0.5 with one column (metrics.ts predictedClasses). */
function predictedClass(pred: FloatArray, r: number, cols: number): number {
  return cols === 1 ? (pred[r]! >= 0.5 ? 1 : 0) : argmaxAt(pred, r * cols, cols);
}

/** Row r's true class: the index, or a dense row's class as predictedClass reads it (metrics.ts trueClasses). */
function trueClass(target: Target, r: number, cols: number): number {
  return target instanceof Int32Array ? target[r]! : predictedClass(target, r, cols);
}

/** accuracy and binary_accuracy (metrics.ts accuracyOf): rows whose predicted class is the true one. */
class Accuracy implements MetricAccumulator {
  private rows = 0;
  private correct = 0;
  constructor(private readonly cols: number) {}

  fold({ pred, target, order, count }: ChunkRows): void {
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      if (predictedClass(pred, r, this.cols) === trueClass(target, r, this.cols)) this.correct++;
    }
    this.rows += count;
  }
  value(): number { return this.correct / this.rows; }
  reset(): void { this.rows = 0; this.correct = 0; }
}

/** top_k_accuracy (metrics.ts topKOf): rows whose true class ranks among the k highest outputs. */
class TopK implements MetricAccumulator {
  private rows = 0;
  private hits = 0;
  private readonly k: number;
  constructor(private readonly cols: number) {
    this.k = Math.min(COMPILED_TOP_K, cols);
  }

  fold({ pred, target, order, count }: ChunkRows): void {
    const cols = this.cols;
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      const t = trueClass(target, r, cols);
      // Class 1 of a single output column has no score of its own: topKOf
      // reads none beyond the row and counts a hit (every row is, with one column).
      if (t >= cols) {
        this.hits++;
        continue;
      }
      const base = r * cols;
      const score = pred[base + t]!;
      // How many classes beat the true one: strictly, or equal with a lower index.
      let above = 0;
      for (let c = 0; c < cols; c++) if (pred[base + c]! > score || (pred[base + c] === score && c < t)) above++;
      if (above < this.k) this.hits++;
    }
    this.rows += count;
  }
  value(): number { return this.hits / this.rows; }
  reset(): void { this.rows = 0; this.hits = 0; }
}

/** The dense target the regression metrics need (metricByName's error for class indices). */
function denseTarget(name: MetricName, target: Target): FloatArray {
  if (target instanceof Int32Array) {
    throw new ArgumentRangeError(`Metric '${name}' needs a dense target (a matrix of the outputs' shape), not class indices`);
  }
  return target;
}

/**
 * Calls each(v) for every value index v of the folded rows, row by row and
 * within a row column by column: with order null that is 0, 1, 2, … — the
 * order metrics.ts sums the whole epoch in.
 */
function forEachValue({ order, count }: ChunkRows, cols: number, each: (v: number) => void): void {
  for (let i = 0; i < count; i++) {
    const base = (order ? order[i]! : i) * cols;
    for (let c = 0; c < cols; c++) each(base + c);
  }
}

/** mae (metrics.ts maeOf): Σ|pred − target| over every value, and the count. */
class AbsoluteError implements MetricAccumulator {
  private values = 0;
  private abs = 0;
  constructor(private readonly cols: number) {}

  fold(rows: ChunkRows): void {
    const { pred } = rows;
    const target = denseTarget('mae', rows.target);
    forEachValue(rows, this.cols, (v) => { this.abs += Math.abs(pred[v]! - target[v]!); });
    this.values += rows.count * this.cols;
  }
  value(): number { return this.abs / this.values; }
  reset(): void { this.values = 0; this.abs = 0; }
}

/** mse and rmse (metrics.ts mseOf, rmseOf): Σ(pred − target)² over every value, and the count. */
class SquaredError implements MetricAccumulator {
  private values = 0;
  private sq = 0;
  constructor(private readonly cols: number, private readonly name: 'mse' | 'rmse') {}

  fold(rows: ChunkRows): void {
    const { pred } = rows;
    const target = denseTarget(this.name, rows.target);
    forEachValue(rows, this.cols, (v) => {
      const e = pred[v]! - target[v]!;
      this.sq += e * e;
    });
    this.values += rows.count * this.cols;
  }
  value(): number {
    const mse = this.sq / this.values;
    return this.name === 'rmse' ? Math.sqrt(mse) : mse;
  }
  reset(): void { this.values = 0; this.sq = 0; }
}

/**
 * r2 (metrics.ts r2Of): 1 − SS_res / SS_tot, both over every value of every
 * output pooled (one mean of all target values, as r2Of defines it). SS_res
 * is a running sum. SS_tot is the targets' M2 = Σ(t − mean)²: each chunk's
 * mean and M2 come from a two-pass loop over the chunk (r2Of's own
 * arithmetic), merged into the running (count, mean, M2) with the pairwise
 * update of Chan, Golub & LeVeque, "Updating formulae and a pairwise
 * algorithm for computing sample variances" (Stanford CS-TR-79-773, 1979):
 *   δ = mean_B − mean_A,  mean = mean_A + δ·n_B/n,  M2 = M2_A + M2_B + δ²·n_A·n_B/n.
 * Not Σt² − n·mean², which cancels catastrophically when the mean is large
 * beside the spread. Chunks after the first are taken relative to the first
 * chunk's mean (the shift their 1983 paper, "Algorithms for computing the
 * sample variance: analysis and recommendations", The American Statistician
 * 37(3), recommends): an update's error grows with the data's condition
 * number √(1 + mean²·n/M2), which the shift brings near 1 — unshifted,
 * r2 of targets 1e9 + [−1, 1) in 1-row chunks was off by up to 8e-10; shifted, it
 * matched exact integer arithmetic (test/metric-accumulators.test.ts).
 * One chunk gives r2Of's number exactly; several differ from it by rounding.
 */
class RSquared implements MetricAccumulator {
  private values = 0;
  private sq = 0;
  /** The first chunk's target mean; `mean` is the running mean minus it. */
  private shift = 0;
  private mean = 0;
  private m2 = 0;
  constructor(private readonly cols: number) {}

  fold(rows: ChunkRows): void {
    const { pred } = rows;
    const target = denseTarget('r2', rows.target);
    const n = rows.count * this.cols;
    if (n === 0) return;
    const shift = this.shift;  // 0 for the first chunk: r2Of's arithmetic exactly
    let chunkMean = 0;
    forEachValue(rows, this.cols, (v) => {
      const e = pred[v]! - target[v]!;
      this.sq += e * e;
      chunkMean += target[v]! - shift;
    });
    chunkMean /= n;
    let chunkM2 = 0;
    forEachValue(rows, this.cols, (v) => { chunkM2 += (target[v]! - shift - chunkMean) ** 2; });
    if (this.values === 0) {
      this.shift = chunkMean;
      this.mean = 0;
      this.m2 = chunkM2;
    } else {
      const total = this.values + n;
      const delta = chunkMean - this.mean;
      this.mean += delta * (n / total);
      this.m2 += chunkM2 + delta * delta * (this.values * n / total);
    }
    this.values += n;
  }
  value(): number {
    if (this.m2 === 0) return this.sq === 0 ? 1 : 0;  // scikit-learn's convention for a constant target (as r2Of)
    return 1 - this.sq / this.m2;
  }
  reset(): void { this.values = 0; this.sq = 0; this.shift = 0; this.mean = 0; this.m2 = 0; }
}

/**
 * precision, recall and f1 (metricByName: macro average over the classes, or
 * class 1 with one output column): per class, true positives and how often it
 * was predicted and true — the confusion matrix's diagonal and its column and
 * row sums, all that precisionRecallF1Of reads of it.
 */
class ClassCounts implements MetricAccumulator {
  private readonly truePositives: Float64Array;
  private readonly predicted: Float64Array;
  private readonly actual: Float64Array;
  constructor(private readonly cols: number, private readonly name: 'precision' | 'recall' | 'f1') {
    const classes = cols === 1 ? 2 : cols;
    this.truePositives = new Float64Array(classes);
    this.predicted = new Float64Array(classes);
    this.actual = new Float64Array(classes);
  }

  fold({ pred, target, order, count }: ChunkRows): void {
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      const p = predictedClass(pred, r, this.cols);
      const t = trueClass(target, r, this.cols);
      this.predicted[p]!++;
      this.actual[t]!++;
      if (p === t) this.truePositives[p]!++;
    }
  }
  value(): number {
    const tp = this.truePositives;
    const fp = this.predicted.map((n, c) => n - tp[c]!);
    const fn = this.actual.map((n, c) => n - tp[c]!);
    return precisionRecallF1FromCounts(tp, fp, fn, this.cols === 1 ? 'binary' : 'macro')[this.name] as number;
  }
  reset(): void {
    this.truePositives.fill(0);
    this.predicted.fill(0);
    this.actual.fill(0);
  }
}

/**
 * log_loss (metricByName: metrics.ts logLossOf on softmax of the outputs, or
 * on the one output column as P(class 1)): Σ −log p(true class), and the
 * count. One row's softmax at a time, in a scratch row of `cols` values.
 */
class LogLoss implements MetricAccumulator {
  private rows = 0;
  private total = 0;
  private readonly probs: Float64Array;
  constructor(private readonly cols: number) {
    this.probs = new Float64Array(cols);
  }

  fold({ pred, target, order, count }: ChunkRows): void {
    const { cols, probs } = this;
    const clip = (p: number) => Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p));
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      const t = trueClass(target, r, cols);
      if (cols === 1) {
        const p1 = clip(pred[r]!);
        this.total -= Math.log(t === 1 ? p1 : 1 - p1);
        continue;
      }
      // softmaxRows, then logLossOf's clip and renormalisation, for row r.
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, pred[base + c]!);
      let expSum = 0;
      for (let c = 0; c < cols; c++) expSum += (probs[c] = Math.exp(pred[base + c]! - max));
      for (let c = 0; c < cols; c++) probs[c]! /= expSum;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += clip(probs[c]!);
      this.total -= Math.log(clip(probs[t]!) / sum);
    }
    this.rows += count;
  }
  value(): number { return this.total / this.rows; }
  reset(): void { this.rows = 0; this.total = 0; }
}

/** The accumulator of one compiled metric on `cols` outputs. */
export function metricAccumulator(name: MetricName, cols: number): MetricAccumulator {
  switch (name) {
    case 'accuracy': case 'binary_accuracy': return new Accuracy(cols);
    case 'top_k_accuracy': return new TopK(cols);
    case 'mae': return new AbsoluteError(cols);
    case 'mse': case 'rmse': return new SquaredError(cols, name);
    case 'r2': return new RSquared(cols);
    case 'precision': case 'recall': case 'f1': return new ClassCounts(cols, name);
    case 'log_loss': return new LogLoss(cols);
  }
}

/**
 * The compiled metrics of one epoch: reset at its start, folded after each
 * chunk trained, read at its end. Its size depends on the metrics and the
 * outputs only (a structural test walks it after folds of different sizes).
 */
export class MetricAccumulators {
  private readonly accumulators: MetricAccumulator[];
  private rows = 0;

  constructor(readonly names: readonly MetricName[], readonly cols: number) {
    this.accumulators = names.map((name) => metricAccumulator(name, cols));
  }

  reset(): void {
    this.rows = 0;
    for (const a of this.accumulators) a.reset();
  }

  /** Folds a chunk's trained rows (see ChunkRows); nothing for count 0. */
  fold(rows: ChunkRows): void {
    if (rows.count === 0) return;
    for (const a of this.accumulators) a.fold(rows);
    this.rows += rows.count;
  }

  /** Rows folded since the last reset. */
  get rowCount(): number {
    return this.rows;
  }

  /** Each metric by name, over every row folded since the last reset; none when no row was. */
  results(): Record<string, number> {
    const logs: Record<string, number> = {};
    if (this.rows === 0) return logs;
    this.names.forEach((name, i) => { logs[name] = this.accumulators[i]!.value(); });
    return logs;
  }
}
