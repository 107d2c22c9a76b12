// What `fastmlp train --stream` must know before training without holding the
// file: which part (train / validation / test) each row belongs to, and the
// training rows' per-column mean and σ. Both are computed a batch at a time.
import { isConstant } from '../data/preprocess';
import type { Matrix } from '../matrix';

export type Part = 'train' | 'val' | 'test';

/**
 * MurmurHash3's 32-bit finaliser (fmix32, Austin Appleby, public domain
 * description): every input bit flips each output bit with probability ≈ ½,
 * so consecutive row numbers land in unrelated places of [0, 2³²).
 */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The row-hash split: data row `row` (0-based, header excluded) goes to the
 * test part when u < test, to validation when u < test + val, else to
 * training, with u = hash(seed, row) / 2³² uniform in [0, 1). It needs no
 * row count and holds no rows: each row's part depends only on its number and
 * the seed, so every pass (statistics, each epoch, validation, the test)
 * agrees, and the same --seed gives the same split. The parts' sizes are the
 * fractions up to binomial noise (±√(n·f(1−f)) rows), and the split is not
 * stratified — unlike the in-memory split.
 */
export function rowPartOf(seed: number, val: number, test: number): (row: number) => Part {
  const salt = fmix32(seed ^ 0x9e3779b9);
  return (row) => {
    // Rows beyond 2³² reuse the low bits mixed with the high ones.
    const u = fmix32((row >>> 0) ^ salt ^ fmix32(Math.floor(row / 2 ** 32))) / 2 ** 32;
    return u < test ? 'test' : u < test + val ? 'val' : 'train';
  };
}

/**
 * Per-column mean and population variance over rows seen a batch at a time:
 * each batch's mean and sum of squared deviations M2 computed in two passes,
 * then merged with the running ones by Chan, Golub & LeVeque's pairwise
 * update ("Updating formulae and a pairwise algorithm for computing sample
 * variances", 1979): with δ = mean_b − mean_a and n = n_a + n_b,
 *   mean = mean_a + δ·n_b/n,   M2 = M2_a + M2_b + δ²·n_a·n_b/n.
 * Stable where Σx² − n·mean² is not (large means, small spreads).
 */
export class StreamingMoments {
  count = 0;
  readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly first: Float64Array;
  private readonly constant: Uint8Array;
  private readonly batchMean: Float64Array;
  private readonly batchM2: Float64Array;

  constructor(readonly cols: number) {
    this.mean = new Float64Array(cols);
    this.m2 = new Float64Array(cols);
    this.first = new Float64Array(cols);
    this.constant = new Uint8Array(cols).fill(1);
    this.batchMean = new Float64Array(cols);
    this.batchM2 = new Float64Array(cols);
  }

  /** Adds the rows r of `data` (row-major, `cols` wide) with keep[r] set. */
  add(data: ArrayLike<number>, rows: number, keep: Uint8Array): void {
    const { cols, batchMean, batchM2 } = this;
    batchMean.fill(0);
    batchM2.fill(0);
    let n = 0;
    for (let r = 0; r < rows; r++) {
      if (!keep[r]) continue;
      n++;
      for (let c = 0; c < cols; c++) batchMean[c]! += data[r * cols + c]!;
    }
    if (n === 0) return;
    for (let c = 0; c < cols; c++) batchMean[c]! /= n;
    const firstRow = this.count === 0 ? keep.indexOf(1) : -1;
    for (let r = 0; r < rows; r++) {
      if (!keep[r]) continue;
      for (let c = 0; c < cols; c++) {
        const v = data[r * cols + c]!;
        batchM2[c]! += (v - batchMean[c]!) ** 2;
        if (r === firstRow) this.first[c] = v;
        if (v !== this.first[c]) this.constant[c] = 0;
      }
    }
    const total = this.count + n;
    for (let c = 0; c < cols; c++) {
      const delta = batchMean[c]! - this.mean[c]!;
      this.mean[c]! += delta * n / total;
      this.m2[c]! += batchM2[c]! + delta * delta * this.count * n / total;
    }
    this.count = total;
  }

  /** Population variance per column (σ² with 1/n, SPEC.md §5), as StandardScaler fits it. */
  variance(): Float64Array {
    return this.m2.map((m2) => (this.count > 0 ? m2 / this.count : 0));
  }

  /**
   * StandardScaler's result for the same rows: a column of one repeated value
   * gets that value as its mean exactly and σ = 1, as does a column whose
   * variance is rounding noise (scikit-learn's bound, preprocess.ts).
   */
  scaling(): { mean: Float64Array; scale: Float64Array } {
    const variance = this.variance();
    const mean = this.mean.map((m, c) => (this.constant[c] ? this.first[c]! : m));
    const scale = variance.map((v, c) => (this.constant[c] || isConstant(v, mean[c]!, this.count) ? 1 : Math.sqrt(v)));
    return { mean, scale };
  }
}

/** The rows of x that `keep` accepts, as a float32 matrix scaled by (x − mean)/scale. */
export function scaledRows(x: Matrix, keep: Uint8Array, count: number, mean: Float64Array, scale: Float64Array): Float32Array {
  const cols = x.cols;
  const out = new Float32Array(count * cols);
  let o = 0;
  for (let r = 0; r < x.rows; r++) {
    if (!keep[r]) continue;
    for (let c = 0; c < cols; c++) out[o * cols + c] = (x.data[r * cols + c]! - mean[c]!) / scale[c]!;
    o++;
  }
  return out;
}
