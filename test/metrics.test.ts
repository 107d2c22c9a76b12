// Metrics: SPEC.md §5 worked values, scikit-learn 1.2 reference values
// (test/fixtures/make_metrics.py), argument errors, and compiled metrics in
// fit/evaluate on both engines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, metrics, optim } from '../lib';
import { ENGINES, randomArray } from './helpers';

const sk = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'metrics.json'), 'utf8'));

describe('SPEC.md §5 worked values', () => {
  it('errors [0, 1, −2, −0.5, 1.5] → MAE 1, RMSE 1.2247', () => {
    const target = [1, 2, 3, 4, 5];
    const pred = target.map((t, i) => t + [0, 1, -2, -0.5, 1.5][i]!);
    expect(metrics.mae(pred, target)).toBeCloseTo(1, 12);
    expect(metrics.rmse(pred, target)).toBeCloseTo(1.2247, 4);
    expect(metrics.mse(pred, target)).toBeCloseTo(1.5, 12);
  });

  it('errors [0, 1, 1, −2, 15] → MAE 3.8, RMSE 6.797', () => {
    const target = [0, 0, 0, 0, 0];
    const pred = [0, 1, 1, -2, 15];
    expect(metrics.mae(pred, target)).toBeCloseTo(3.8, 12);
    expect(metrics.rmse(pred, target)).toBeCloseTo(6.797, 3);
  });
});

describe('metrics match scikit-learn', () => {
  const c = sk.classification;
  const probs = Matrix.from(c.probs, 'float64');

  it('accuracy, top-k, log-loss', () => {
    expect(metrics.accuracy(probs, c.y)).toBeCloseTo(c.accuracy, 12);
    expect(metrics.topKAccuracy(probs, c.y, { k: 2 })).toBeCloseTo(c.top2, 12);
    expect(metrics.topKAccuracy(probs, c.y, { k: 4 })).toBe(1);
    expect(metrics.logLoss(probs, c.y)).toBeCloseTo(c.logLoss, 10);
    expect(metrics.logLoss(sk.binary.p, sk.binary.y)).toBeCloseTo(sk.binary.logLoss, 10);
    expect(metrics.accuracy(sk.binary.p.map((p: number) => [p]), sk.binary.y)).toBeCloseTo(sk.binary.accuracy, 12);
  });

  it('precision, recall and F1: macro, micro and per class', () => {
    expect(metrics.precision(probs, c.y)).toBeCloseTo(c.precisionMacro, 12);
    expect(metrics.recall(probs, c.y, { average: 'macro' })).toBeCloseTo(c.recallMacro, 12);
    expect(metrics.f1(probs, c.y)).toBeCloseTo(c.f1Macro, 12);
    expect(metrics.precision(probs, c.y, { average: 'micro' })).toBeCloseTo(c.precisionMicro, 12);
    expect(metrics.f1(probs, c.y, { average: 'micro' })).toBeCloseTo(c.f1Micro, 12);
    const perClass = (v: number | number[], want: number[]) => {
      expect(Array.isArray(v)).toBe(true);
      (v as number[]).forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 12));
    };
    perClass(metrics.precision(probs, c.y, { average: 'none' }), c.precisionPerClass);
    perClass(metrics.recall(probs, c.y, { average: 'none' }), c.recallPerClass);
    perClass(metrics.f1(probs, c.y, { average: 'none' }), c.f1PerClass);
  });

  it('confusion matrix (rows: true class, columns: predicted)', () => {
    expect(metrics.confusionMatrix(probs, c.y)).toEqual(c.confusion);
    expect(metrics.confusionMatrix([[0.9], [0.2], [0.7]], [1, 1, 0])).toEqual([[0, 1], [1, 1]]);
  });

  it('MAE, MSE, RMSE, R²', () => {
    const r = sk.regression;
    expect(metrics.mae(r.yPred, r.yTrue)).toBeCloseTo(r.mae, 12);
    expect(metrics.mse(r.yPred, r.yTrue)).toBeCloseTo(r.mse, 12);
    expect(metrics.rmse(r.yPred, r.yTrue)).toBeCloseTo(r.rmse, 12);
    expect(metrics.r2(r.yPred, r.yTrue)).toBeCloseTo(r.r2, 12);
    expect(metrics.r2(r.yTrue, r.yTrue)).toBe(1);
  });

  it('binary accuracy with a threshold, on one or several label columns', () => {
    expect(metrics.binaryAccuracy([0.2, 0.6, 0.8], [0, 0, 1])).toBeCloseTo(2 / 3, 12);
    expect(metrics.binaryAccuracy([0.2, 0.6, 0.8], [0, 0, 1], { threshold: 0.7 })).toBe(1);
    expect(metrics.binaryAccuracy([[0.9, 0.1], [0.4, 0.6]], [[1, 0], [1, 1]])).toBe(0.75);
  });
});

describe('metric argument errors', () => {
  it('names the argument and what was wrong', () => {
    expect(() => metrics.mae([1, 2], [1])).toThrow(/target/);
    expect(() => metrics.mae([1, NaN], [1, 2])).toThrow(/finite numbers for pred/);
    expect(() => metrics.rmse('x' as never, [1])).toThrow(TypeError);
    expect(() => metrics.topKAccuracy([[0.1, 0.9]], [1], { k: 3 })).toThrow(/k/);
    expect(() => metrics.f1([[0.1, 0.9]], [1], { average: 'weighted' as never })).toThrow(/average/);
    expect(() => metrics.logLoss([[1.5, -0.5]], [0])).toThrow(/probabilities/);
    expect(() => metrics.confusionMatrix([[0.1, 0.9]], [2])).toThrow(/class indices/);
    expect(() => metrics.binaryAccuracy([0.5], [1], { threshold: 'x' as never })).toThrow(TypeError);
  });
});

const X = new Matrix(60, 4, randomArray(240, 5, Float32Array));
const Y = Int32Array.from({ length: 60 }, (_, i) => (X.data[4 * i]! > 0 ? 1 : 0) + (X.data[4 * i + 1]! > 0.3 ? 1 : 0));

describe.each(ENGINES)('compiled metrics (%s engine)', (engine) => {
  it('evaluate reports every compiled metric, equal to the metric functions on predict', () => {
    const m = new Sequential([new Dense(4, 8, { activation: 'relu' }), new Dense(8, 3)], { engine, seed: 4 });
    m.compile({ loss: 'cross-entropy', metrics: ['accuracy', 'top_k_accuracy', 'precision', 'recall', 'f1', 'log_loss'] });
    const logs = m.evaluate(X, Y);
    const pred = m.predict(X);
    expect(Object.keys(logs)).toEqual(['loss', 'accuracy', 'top_k_accuracy', 'precision', 'recall', 'f1', 'log_loss']);
    expect(logs['accuracy']).toBeCloseTo(metrics.accuracy(pred, Y), 12);
    expect(logs['f1']).toBeCloseTo(metrics.f1(pred, Y) as number, 12);
    expect(logs['top_k_accuracy']).toBe(1);  // k = 5 ≥ 3 classes
    // log_loss of softmax(logits) is the cross-entropy loss itself.
    expect(logs['log_loss']).toBeCloseTo(logs['loss']!, 5);
  });

  it('regression metrics in fit with validation, and errors for unknown names', async () => {
    const yr = new Matrix(60, 1, Float32Array.from({ length: 60 }, (_, i) => X.data[4 * i]! * 2));
    const m = new Sequential([new Dense(4, 8, { activation: 'tanh' }), new Dense(8, 1)], { engine, seed: 4 });
    m.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 0.02 }), metrics: ['mae', 'rmse', 'r2', 'mse'] });
    const h = await m.fit(X, yr, { epochs: 8, batchSize: 10, validationSplit: 0.25 });
    expect(Object.keys(h.history).sort()).toEqual(['loss', 'mae', 'mse', 'r2', 'rmse', 'val_loss', 'val_mae', 'val_mse', 'val_r2', 'val_rmse']);
    // The validation mse metric is the validation mse loss.
    h.history['val_mse']!.forEach((v, i) => expect(v).toBeCloseTo(h.history['val_loss']![i]!, 5));
    h.history['val_rmse']!.forEach((v, i) => expect(v).toBeCloseTo(Math.sqrt(h.history['val_mse']![i]!), 6));
    expect(h.history['r2']!.at(-1)!).toBeGreaterThan(h.history['r2']![0]!);
    expect(() => m.compile({ loss: 'mse', metrics: ['acc' as never] })).toThrow(/metrics\[0\]/);
    expect(() => m.compile({ loss: 'mse', metrics: 'mae' as never })).toThrow(TypeError);
  });
});
