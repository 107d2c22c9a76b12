// log_loss with soft (probability) targets, in both engines: it scores the
// hard class, as scikit-learn's log_loss takes labels — a target row's argmax
// (ties: the first), a binary target value ≥ 0.5 — so it equals log_loss on
// those hard targets and is not the loss, which is the cross-entropy against
// the soft target. This pins down what the README says.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, metrics } from '../lib';
import { ENGINES, randomArray } from './helpers';

const ROWS = 40;
const X = new Matrix(ROWS, 4, randomArray(ROWS * 4, 31, Float64Array));

/** Soft rows over 3 classes: 0.6 / 0.3 / 0.1 in a row-dependent order, and a tie (0.45, 0.45, 0.1) every 5th row. */
function softRows(): { soft: Matrix; hard: Int32Array } {
  const soft = new Float64Array(ROWS * 3);
  const hard = new Int32Array(ROWS);
  for (let r = 0; r < ROWS; r++) {
    const top = r % 3;
    const row = r % 5 === 0 ? [0.45, 0.45, 0.1] : [0.1, 0.1, 0.1].map((_, c) => (c === top ? 0.6 : c === (top + 1) % 3 ? 0.3 : 0.1));
    soft.set(row, r * 3);
    hard[r] = r % 5 === 0 ? 0 : top;  // argmax, the first of a tie
  }
  return { soft: new Matrix(ROWS, 3, soft), hard };
}

/** −mean log softmax(out)[class], clipped to [1e-15, 1 − 1e-15] and renormalised as scikit-learn does. */
function referenceLogLoss(out: Matrix, classes: Int32Array): number {
  let total = 0;
  for (let r = 0; r < out.rows; r++) {
    const row = Array.from(out.data.subarray(r * out.cols, (r + 1) * out.cols));
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const s = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => Math.min(1 - 1e-15, Math.max(1e-15, v / s)));
    total -= Math.log(p[classes[r]!]! / p.reduce((a, b) => a + b, 0));
  }
  return total / out.rows;
}

describe.each(ENGINES)('log_loss with soft targets (%s engine)', (engine) => {
  it('cross-entropy with probability rows: log_loss scores each row\'s argmax class, the loss the soft target', async () => {
    const m = new Sequential([new Dense(4, 8, { activation: 'tanh' }), new Dense(8, 3)], { engine, seed: 2, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy', metrics: ['log_loss', 'accuracy'] });
    const { soft, hard } = softRows();
    const h = await m.fit(X, soft, { epochs: 3, batchSize: 8, validationData: [X, soft] });
    const onSoft = m.evaluate(X, soft);
    const onHard = m.evaluate(X, hard);
    expect(onSoft['log_loss']).toBe(onHard['log_loss']);
    expect(onSoft['log_loss']).toBeCloseTo(referenceLogLoss(m.predict(X), hard), 12);
    expect(onSoft['log_loss']).toBeCloseTo(metrics.logLoss(softmaxRows(m.predict(X)), hard), 12);
    expect(metrics.logLoss(softmaxRows(m.predict(X)), soft)).toBe(metrics.logLoss(softmaxRows(m.predict(X)), hard));
    // The loss is −Σ t log p against the soft rows: another number.
    const p = softmaxRows(m.predict(X));
    let softCe = 0;
    for (let i = 0; i < p.data.length; i++) softCe -= soft.data[i]! * Math.log(p.data[i]!);
    expect(onSoft['loss']).toBeCloseTo(softCe / ROWS, 10);
    expect(Math.abs(onSoft['loss']! - onSoft['log_loss']!)).toBeGreaterThan(1e-3);
    expect(onHard['loss']).toBeCloseTo(onHard['log_loss']!, 10);  // with hard targets they agree
    expect(h.history['val_log_loss']![2]).toBe(onSoft['log_loss']);
  });

  it('bce-with-logits with fractional targets: log_loss scores target ≥ 0.5 as class 1', () => {
    const m = new Sequential([new Dense(4, 6, { activation: 'tanh' }), new Dense(6, 1)], { engine, seed: 5, dtype: 'float64' });
    m.compile({ loss: 'bce-with-logits', metrics: ['log_loss'] });
    const fractional = Float64Array.from({ length: ROWS }, (_, r) => [0.2, 0.5, 0.7, 0.45][r % 4]!);
    const rounded = fractional.map((t) => (t >= 0.5 ? 1 : 0));
    const onSoft = m.evaluate(X, new Matrix(ROWS, 1, fractional));
    const onHard = m.evaluate(X, new Matrix(ROWS, 1, rounded));
    expect(onSoft['log_loss']).toBe(onHard['log_loss']);
    expect(onHard['loss']).toBeCloseTo(onHard['log_loss']!, 10);
    expect(Math.abs(onSoft['loss']! - onSoft['log_loss']!)).toBeGreaterThan(1e-3);
  });
});

function softmaxRows(out: Matrix): Matrix {
  const p = new Float64Array(out.data.length);
  for (let r = 0; r < out.rows; r++) {
    const row = Array.from(out.data.subarray(r * out.cols, (r + 1) * out.cols));
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => { p[r * out.cols + c] = v / s; });
  }
  return new Matrix(out.rows, out.cols, p);
}
