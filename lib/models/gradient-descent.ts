// Mini-batch gradient descent for linear models with a probabilistic output:
// logistic regression (sigmoid + binary cross-entropy) and softmax regression
// (softmax + categorical cross-entropy). Both pairs have the same gradient with
// respect to the logits, P − Y (seed 002 §1.5–1.6), so one trainer serves both:
//   Z = X·Wᵀ + b   P = link(Z)   G = (P − Y)/rows
//   dW = Gᵀ·X + λW (L2 on weights only, not bias)   db = colSums(G)
//   W −= η·dW   b −= η·db
// The products run on the engine's gemm.
import type { Dtype, Engine, FloatArray } from '../engine';
import { Rng } from '../rng';
import { affine, gatherRows, identityOrder, zeros } from './common';
import { ArgumentRangeError } from '../validate';

export type Link = 'sigmoid' | 'softmax';

export interface GradientDescentSettings {
  lr: number;
  epochs: number;
  /** Rows per step; ≥ rows means batch gradient descent. */
  batchSize: number;
  /** λ of the penalty (λ/2)‖W‖². */
  l2: number;
  shuffle: boolean;
  seed: number;
}

/** Parameters of a linear model with `outputs` logits: weight outputs × inputs, bias outputs. */
export interface LinearParams {
  weight: FloatArray;
  bias: FloatArray;
  inputs: number;
  outputs: number;
}

/** Stable σ(z) = 1/(1 + e^{−z}), written so that e^{|z|} never overflows. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Applies the link in place to Z (rows × outputs): σ elementwise, or softmax per row (max-subtracted). */
export function applyLink(link: Link, z: FloatArray, rows: number, outputs: number): void {
  if (link === 'sigmoid') {
    for (let i = 0; i < rows * outputs; i++) z[i] = sigmoid(z[i]!);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const base = r * outputs;
    let max = -Infinity;
    for (let j = 0; j < outputs; j++) max = Math.max(max, z[base + j]!);
    if (max === Infinity || max === -Infinity) {
      // Logits past the dtype's range (float32: 3.4e38): z − max would be ∞ − ∞ = NaN. The limit
      // of softmax splits the mass evenly among the largest logits (all of them when all are −∞).
      let tied = 0;
      for (let j = 0; j < outputs; j++) tied += z[base + j] === max ? 1 : 0;
      for (let j = 0; j < outputs; j++) z[base + j] = z[base + j] === max ? 1 / tied : 0;
      continue;
    }
    let sum = 0;
    for (let j = 0; j < outputs; j++) {
      const e = Math.exp(z[base + j]! - max);
      z[base + j] = e;
      sum += e;
    }
    for (let j = 0; j < outputs; j++) z[base + j]! /= sum;
  }
}

/** Probabilities for x (rows × inputs). */
export function linearProbabilities(engine: Engine, link: Link, p: LinearParams, x: FloatArray, rows: number,
                                    dtype: Dtype): FloatArray {
  const out = zeros(dtype, rows * p.outputs);
  affine(engine, x, rows, p.inputs, p.weight, p.bias, p.outputs, out);
  applyLink(link, out, rows, p.outputs);
  return out;
}

const EPS = 1e-12;

/**
 * Trains p in place. target: rows × outputs of 0/1 (sigmoid) or one-hot rows
 * (softmax). Returns the mean training loss (cross-entropy + L2 term) of each
 * epoch, averaged over its batches before their updates.
 */
export function trainLinear(engine: Engine, link: Link, p: LinearParams, x: FloatArray, rows: number,
                            target: Float64Array, s: GradientDescentSettings, dtype: Dtype): number[] {
  const { inputs: d, outputs: k } = p;
  const batch = Math.min(s.batchSize, rows);
  const xb = zeros(dtype, batch * d);
  const prob = zeros(dtype, batch * k);
  const grad = zeros(dtype, batch * k);
  const dW = zeros(dtype, k * d);
  const order = identityOrder(rows);
  const rng = new Rng(s.seed);
  const history: number[] = [];
  for (let epoch = 0; epoch < s.epochs; epoch++) {
    if (s.shuffle) rng.permutation(rows, order);
    let lossSum = 0;
    for (let from = 0; from < rows; from += batch) {
      const to = Math.min(rows, from + batch);
      const n = to - from;
      gatherRows(x, d, order, from, to, xb);
      const xs = xb.subarray(0, n * d);
      const ps = prob.subarray(0, n * k);
      const gs = grad.subarray(0, n * k);
      affine(engine, xs, n, d, p.weight, p.bias, k, ps);
      applyLink(link, ps, n, k);
      for (let i = 0; i < n; i++) {
        const t = order[from + i]! * k;
        for (let j = 0; j < k; j++) {
          const y = target[t + j]!;
          const q = ps[i * k + j]!;
          // BCE sums both terms per output; categorical CE only the y·log q term.
          lossSum -= y * Math.log(Math.max(q, EPS));
          if (link === 'sigmoid') lossSum -= (1 - y) * Math.log(Math.max(1 - q, EPS));
          gs[i * k + j] = (q - y) / n;
        }
      }
      // dW (k × d) = Gᵀ (k × n) · X (n × d), then the coupled L2 term.
      engine.gemm(true, false, k, d, n, 1, gs, xs, 0, dW);
      for (let i = 0; i < k * d; i++) p.weight[i]! -= s.lr * (dW[i]! + s.l2 * p.weight[i]!);
      for (let j = 0; j < k; j++) {
        let db = 0;
        for (let i = 0; i < n; i++) db += gs[i * k + j]!;
        p.bias[j]! -= s.lr * db;
      }
    }
    // Only a real penalty is added: without one, ‖W‖² may overflow (float64 weights past 1e154)
    // and 0·∞ = NaN would stop a fit that is fine.
    let penalty = 0;
    if (s.l2 > 0) {
      let w2 = 0;
      for (let i = 0; i < k * d; i++) w2 += p.weight[i]! ** 2;
      penalty = 0.5 * s.l2 * w2;
    }
    const loss = lossSum / rows + penalty;
    if (!Number.isFinite(loss)) throw new ArgumentRangeError(`Loss became NaN or infinite at epoch ${epoch + 1}; try a smaller lr`);
    history.push(loss);
  }
  return history;
}
