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
import { COMPILED_TOP_K, precisionRecallF1FromCounts, r2FromSums, type MetricName } from './metrics';
import {
  CUSTOM_READING, binaryColumns, binaryLogLoss, predictedLabel, probabilityMap, rowLogLoss, trueLabel,
  type OutputReading, type ProbabilityMap,
} from './output-reading';
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

/**
 * How a fold reads its outputs (metrics.ts metricByName): each value as a
 * binary decision (one column, or a multi-label loss with a dense target), or
 * each row as one class (argmax).
 */
class Reader {
  constructor(readonly reading: OutputReading, readonly cols: number) {}

  /** Whether the values of a chunk with this target are scored one by one (metrics.ts scoresElements). */
  elementwise(target: Target): boolean {
    return binaryColumns(this.reading, this.cols) && (this.cols === 1 || !(target instanceof Int32Array));
  }
  /** Value v's predicted binary label. */
  predictedLabel(pred: FloatArray, v: number): number {
    return predictedLabel(this.reading, pred[v]!);
  }
  /** Value v's true binary label: its row's class index (one column), or the target value read. */
  trueLabel(target: Target, v: number): number {
    return target instanceof Int32Array ? target[v]! : trueLabel(this.reading, target[v]!);
  }
  /** Row r's true class, single-label: the index, or argmax of the target row. */
  trueClass(target: Target, r: number): number {
    return target instanceof Int32Array ? target[r]! : argmaxAt(target, r * this.cols, this.cols);
  }
}

/**
 * accuracy and binary_accuracy (metricByName): values whose predicted binary
 * label is the true one, or rows whose argmax is the true class.
 */
class Accuracy implements MetricAccumulator {
  private counted = 0;
  private correct = 0;
  constructor(private readonly reader: Reader) {}

  fold(rows: ChunkRows): void {
    const { pred, target, order, count } = rows;
    const { reader } = this;
    const cols = reader.cols;
    if (reader.elementwise(target)) {
      forEachValue(rows, cols, (v) => { if (reader.predictedLabel(pred, v) === reader.trueLabel(target, v)) this.correct++; });
      this.counted += count * cols;
      return;
    }
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      if (argmaxAt(pred, r * cols, cols) === reader.trueClass(target, r)) this.correct++;
    }
    this.counted += count;
  }
  value(): number { return this.correct / this.counted; }
  reset(): void { this.counted = 0; this.correct = 0; }
}

/** top_k_accuracy (metrics.ts topKOf): rows whose true class ranks among the k highest outputs. */
class TopK implements MetricAccumulator {
  private rows = 0;
  private hits = 0;
  private readonly k: number;
  private readonly cols: number;
  constructor(private readonly reader: Reader) {
    this.cols = reader.cols;
    this.k = Math.min(COMPILED_TOP_K, this.cols);
  }

  fold({ pred, target, order, count }: ChunkRows): void {
    const { cols, reader } = this;
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      const t = cols === 1 ? reader.trueLabel(target, r) : reader.trueClass(target, r);
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
 * r2 (metrics.ts r2Of): per output, 1 − SS_res / SS_tot, then the uniform
 * average over outputs (scikit-learn's and Keras's default). Per output,
 * SS_res is a running sum and SS_tot the targets' M2 = Σ(t − mean)²: each
 * chunk's mean and M2 come from a two-pass loop over the chunk (r2Of's own
 * arithmetic), merged into the output's running (count, mean, M2) with the
 * pairwise update of Chan, Golub & LeVeque, "Updating formulae and a pairwise
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
 * Memory: five numbers per output.
 */
class RSquared implements MetricAccumulator {
  private rows = 0;
  private readonly sq: Float64Array;
  /** Each output's first-chunk target mean; `mean` is its running mean minus it. */
  private readonly shift: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  /** One chunk's per-output mean (scratch). */
  private readonly chunkMean: Float64Array;
  constructor(private readonly cols: number) {
    this.sq = new Float64Array(cols);
    this.shift = new Float64Array(cols);
    this.mean = new Float64Array(cols);
    this.m2 = new Float64Array(cols);
    this.chunkMean = new Float64Array(cols);
  }

  fold(rows: ChunkRows): void {
    const { pred, order, count } = rows;
    const target = denseTarget('r2', rows.target);
    if (count === 0) return;
    const { cols, sq, shift, mean, m2, chunkMean } = this;
    for (let c = 0; c < cols; c++) {
      // Output c, rows in order: r2Of's arithmetic (shift 0 in the first chunk).
      let s = 0;
      for (let i = 0; i < count; i++) {
        const v = (order ? order[i]! : i) * cols + c;
        const e = pred[v]! - target[v]!;
        sq[c]! += e * e;
        s += target[v]! - shift[c]!;
      }
      chunkMean[c] = s / count;
      let chunkM2 = 0;
      for (let i = 0; i < count; i++) chunkM2 += (target[(order ? order[i]! : i) * cols + c]! - shift[c]! - chunkMean[c]!) ** 2;
      if (this.rows === 0) {
        shift[c] = chunkMean[c]!;
        mean[c] = 0;
        m2[c] = chunkM2;
      } else {
        const total = this.rows + count;
        const delta = chunkMean[c]! - mean[c]!;
        mean[c]! += delta * (count / total);
        m2[c]! += chunkM2 + delta * delta * (this.rows * count / total);
      }
    }
    this.rows += count;
  }
  value(): number {
    let sum = 0;
    for (let c = 0; c < this.cols; c++) sum += r2FromSums(this.sq[c]!, this.m2[c]!);
    return sum / this.cols;
  }
  reset(): void {
    this.rows = 0;
    for (const a of [this.sq, this.shift, this.mean, this.m2]) a.fill(0);
  }
}

/**
 * precision, recall and f1 (metricByName). Single-label: per class, true
 * positives and how often it was predicted and true — the confusion matrix's
 * diagonal and its column and row sums, all that precisionRecallF1Of reads
 * of it — macro-averaged. Elementwise (one column, multi-label): per label,
 * the counts of class 1 — the same three arrays — macro-averaged over labels.
 */
class ClassCounts implements MetricAccumulator {
  private readonly truePositives: Float64Array;
  private readonly predicted: Float64Array;
  private readonly actual: Float64Array;
  constructor(private readonly reader: Reader, private readonly name: 'precision' | 'recall' | 'f1') {
    this.truePositives = new Float64Array(reader.cols);
    this.predicted = new Float64Array(reader.cols);
    this.actual = new Float64Array(reader.cols);
  }

  fold(rows: ChunkRows): void {
    const { pred, target, order, count } = rows;
    const { reader } = this;
    const cols = reader.cols;
    if (reader.elementwise(target)) {
      forEachValue(rows, cols, (v) => {
        const p = reader.predictedLabel(pred, v);
        const t = reader.trueLabel(target, v);
        const c = v % cols;
        this.predicted[c]! += p;
        this.actual[c]! += t;
        this.truePositives[c]! += p & t;
      });
      return;
    }
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      const p = argmaxAt(pred, r * cols, cols);
      const t = reader.trueClass(target, r);
      this.predicted[p]!++;
      this.actual[t]!++;
      if (p === t) this.truePositives[p]!++;
    }
  }
  value(): number {
    const tp = this.truePositives;
    const fp = this.predicted.map((n, c) => n - tp[c]!);
    const fn = this.actual.map((n, c) => n - tp[c]!);
    return precisionRecallF1FromCounts(tp, fp, fn, 'macro')[this.name] as number;
  }
  reset(): void {
    this.truePositives.fill(0);
    this.predicted.fill(0);
    this.actual.fill(0);
  }
}

/**
 * log_loss (metricByName): Σ −log p(true label) over the values scored one by
 * one (lib/output-reading.ts binaryLogLoss), or Σ −log p(true class) over the
 * rows (rowLogLoss, one row at a time in a scratch row of `cols` values), and
 * the count.
 */
class LogLoss implements MetricAccumulator {
  private counted = 0;
  private total = 0;
  private readonly probs: Float64Array;
  private readonly map: ProbabilityMap;
  constructor(private readonly reader: Reader) {
    this.probs = new Float64Array(reader.cols);
    this.map = probabilityMap(reader.reading, reader.cols);
    if (this.map === null) {
      throw new ArgumentRangeError(`Metric 'log_loss' has no meaning for outputs read as ${reader.reading.meaning}`);
    }
  }

  fold(rows: ChunkRows): void {
    const { pred, target, order, count } = rows;
    const { reader, map, probs } = this;
    const cols = reader.cols;
    if (reader.elementwise(target)) {
      forEachValue(rows, cols, (v) => { this.total += binaryLogLoss(map, pred[v]!, reader.trueLabel(target, v)); });
      this.counted += count * cols;
      return;
    }
    for (let i = 0; i < count; i++) {
      const r = order ? order[i]! : i;
      this.total += rowLogLoss(map, pred, r * cols, cols, reader.trueClass(target, r), probs);
    }
    this.counted += count;
  }
  value(): number { return this.total / this.counted; }
  reset(): void { this.counted = 0; this.total = 0; }
}

/** The accumulator of one compiled metric on `cols` outputs read as `reading` says (lib/output-reading.ts). */
export function metricAccumulator(name: MetricName, cols: number, reading: OutputReading = CUSTOM_READING): MetricAccumulator {
  const reader = new Reader(reading, cols);
  switch (name) {
    case 'accuracy': case 'binary_accuracy': return new Accuracy(reader);
    case 'top_k_accuracy': return new TopK(reader);
    case 'mae': return new AbsoluteError(cols);
    case 'mse': case 'rmse': return new SquaredError(cols, name);
    case 'r2': return new RSquared(cols);
    case 'precision': case 'recall': case 'f1': return new ClassCounts(reader, name);
    case 'log_loss': return new LogLoss(reader);
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

  constructor(readonly names: readonly MetricName[], readonly cols: number, readonly reading: OutputReading = CUSTOM_READING) {
    this.accumulators = names.map((name) => metricAccumulator(name, cols, reading));
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
