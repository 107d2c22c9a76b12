// Compiled metrics read the outputs as the compiled loss defines them
// (lib/output-reading.ts), on both engines, float32 and float64:
// - the measured bug: Dense(2, 1) with bce-with-logits scored its logits as
//   probabilities (accuracy 0.65 where logit ≥ 0 gives 0.92; log_loss 2.03
//   beside a loss of 0.53): accuracy is now the logit ≥ 0 accuracy and
//   log_loss the loss; hinge likewise with ±1 labels;
// - every loss family × every classification metric against a reference
//   written here from the rules (threshold, multi-label, probabilities), for
//   evaluate, evaluateAsync, fit's validation and fit's training metrics
//   (learning rate 0, so the training outputs are predict's);
// - log_loss equals the loss where the loss is that log loss;
// - multi-label accuracy is elementwise (Keras's BinaryAccuracy);
// - r2 of several outputs is scikit-learn's per-output uniform average
//   (test/fixtures/make_r2_multioutput.py), in metrics.r2, metricByName and
//   the training accumulators;
// - compile refuses log_loss with hinge losses;
// - the native and JS engines agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Matrix, Sequential, losses, metrics, optim } from '../lib';
import type { EngineName, FloatArray, Target } from '../lib/engine';
import { MetricAccumulators } from '../lib/metric-accumulators';
import { metricByName, type MetricName } from '../lib/metrics';
import { LOSS_NAMES } from '../lib/losses';
import { outputReading } from '../lib/output-reading';
import { ENGINES, randomArray } from './helpers';

type Dtype = 'float32' | 'float64';
const DTYPES: Dtype[] = ['float32', 'float64'];
const IN = 4;
const ROWS = 48;

const CLASSIFICATION: MetricName[] = ['accuracy', 'binary_accuracy', 'precision', 'recall', 'f1', 'log_loss'];

function inputs(dtype: Dtype, rows = ROWS, seed = 21): Matrix {
  return new Matrix(rows, IN, randomArray(rows * IN, seed, dtype === 'float32' ? Float32Array : Float64Array));
}

const dense = (dtype: Dtype, rows: number, cols: number, f: (r: number, c: number) => number) => {
  const out = new (dtype === 'float32' ? Float32Array : Float64Array)(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = f(r, c);
  return new Matrix(rows, cols, out);
};

/** A label of row r of X, column c: a noisy linear rule, so a model is partly right. */
const label = (X: Matrix, r: number, c: number) => (X.data[r * IN + (c % IN)]! + 0.6 * X.data[r * IN + ((c + 1) % IN)]! > 0 ? 1 : 0);
/** A class of row r among k. */
const classOf = (X: Matrix, r: number, k: number) => Math.floor((X.data[r * IN]! + 1) * k / 2.0001 + (X.data[r * IN + 1]! > 0 ? 1 : 0)) % k;

// ---- the reference: the rules of README's metrics paragraph, written out again ----

interface Rule {
  /** An output at or above it is class 1 (one column, or each multi-label column). */
  threshold: number;
  multiLabel: boolean;
  /** Targets are ±1: class 1 when > 0. */
  sign: boolean;
  /** How log_loss makes probabilities (null: not defined). */
  prob: 'as-is' | 'sigmoid' | 'softmax' | 'exp' | null;
}

interface Family {
  label: string;
  loss: string;
  cols: number;
  /** An activation after the last Dense (what the loss expects as output). */
  end?: 'sigmoid' | 'log-softmax' | 'softmax';
  rule: Rule;
  target: (X: Matrix, dtype: Dtype) => Target | Matrix;
}

const onehot = (X: Matrix, dtype: Dtype, k: number) => dense(dtype, X.rows, k, (r, c) => (classOf(X, r, k) === c ? 1 : 0));
const indices = (X: Matrix, k: number) => Int32Array.from({ length: X.rows }, (_, r) => classOf(X, r, k));

const FAMILIES: Family[] = [
  { label: 'bce, 1 output (sigmoid)', loss: 'bce', cols: 1, end: 'sigmoid',
    rule: { threshold: 0.5, multiLabel: true, sign: false, prob: 'as-is' }, target: (X, d) => dense(d, X.rows, 1, (r) => label(X, r, 0)) },
  { label: 'bce, 3 labels (sigmoid)', loss: 'bce', cols: 3, end: 'sigmoid',
    rule: { threshold: 0.5, multiLabel: true, sign: false, prob: 'as-is' }, target: (X, d) => dense(d, X.rows, 3, (r, c) => label(X, r, c)) },
  { label: 'bce-with-logits, 1 output', loss: 'bce-with-logits', cols: 1,
    rule: { threshold: 0, multiLabel: true, sign: false, prob: 'sigmoid' }, target: (X, d) => dense(d, X.rows, 1, (r) => label(X, r, 0)) },
  { label: 'bce-with-logits, 3 labels', loss: 'bce-with-logits', cols: 3,
    rule: { threshold: 0, multiLabel: true, sign: false, prob: 'sigmoid' }, target: (X, d) => dense(d, X.rows, 3, (r, c) => label(X, r, c)) },
  { label: 'focal, 2 labels', loss: 'focal', cols: 2,
    rule: { threshold: 0, multiLabel: true, sign: false, prob: 'sigmoid' }, target: (X, d) => dense(d, X.rows, 2, (r, c) => label(X, r, c)) },
  { label: 'dice, 2 labels (sigmoid)', loss: 'dice', cols: 2, end: 'sigmoid',
    rule: { threshold: 0.5, multiLabel: true, sign: false, prob: 'as-is' }, target: (X, d) => dense(d, X.rows, 2, (r, c) => label(X, r, c)) },
  { label: 'cross-entropy, class indices', loss: 'cross-entropy', cols: 3,
    rule: { threshold: 0, multiLabel: false, sign: false, prob: 'softmax' }, target: (X) => indices(X, 3) },
  { label: 'cross-entropy, one-hot rows', loss: 'cross-entropy', cols: 3,
    rule: { threshold: 0, multiLabel: false, sign: false, prob: 'softmax' }, target: (X, d) => onehot(X, d, 3) },
  { label: 'nll (log-softmax)', loss: 'nll', cols: 3, end: 'log-softmax',
    rule: { threshold: Math.log(0.5), multiLabel: false, sign: false, prob: 'exp' }, target: (X) => indices(X, 3) },
  { label: 'kl-div (log-softmax), probability rows', loss: 'kl-div', cols: 3, end: 'log-softmax',
    rule: { threshold: Math.log(0.5), multiLabel: false, sign: false, prob: 'exp' },
    target: (X, d) => dense(d, X.rows, 3, (r, c) => (classOf(X, r, 3) === c ? 0.7 : 0.15)) },
  { label: 'hinge, 1 output', loss: 'hinge', cols: 1,
    rule: { threshold: 0, multiLabel: false, sign: true, prob: null }, target: (X, d) => dense(d, X.rows, 1, (r) => 2 * label(X, r, 0) - 1) },
  { label: 'squared-hinge, 3 outputs one-vs-rest', loss: 'squared-hinge', cols: 3,
    rule: { threshold: 0, multiLabel: false, sign: true, prob: null }, target: (X, d) => dense(d, X.rows, 3, (r, c) => (classOf(X, r, 3) === c ? 1 : -1)) },
  { label: 'mse, 1 output (values)', loss: 'mse', cols: 1,
    rule: { threshold: 0.5, multiLabel: false, sign: false, prob: 'as-is' }, target: (X, d) => dense(d, X.rows, 1, (r) => label(X, r, 0)) },
  { label: 'mse, 3 outputs one-hot (values)', loss: 'mse', cols: 3, end: 'softmax',
    rule: { threshold: 0.5, multiLabel: false, sign: false, prob: 'as-is' }, target: (X, d) => onehot(X, d, 3) },
];

const EPS = 1e-15;
const clip = (p: number) => Math.min(1 - EPS, Math.max(EPS, p));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The metrics of outputs pred (rows × cols) against target under rule, from the rules alone. */
function reference(rule: Rule, pred: Matrix, target: Target): Record<string, number> {
  const { rows, cols } = pred;
  const at = (r: number, c: number) => pred.data[r * cols + c]!;
  const out: Record<string, number> = {};
  if (cols === 1 || rule.multiLabel) {
    // Binary decisions on every output value.
    const truth = (r: number, c: number) => {
      if (target instanceof Int32Array) return target[r]!;
      const t = target[r * cols + c]!;
      return rule.sign ? (t > 0 ? 1 : 0) : (t >= 0.5 ? 1 : 0);
    };
    let right = 0;
    const per: { p: number; r: number; f: number }[] = [];
    for (let c = 0; c < cols; c++) {
      let tp = 0; let fp = 0; let fn = 0;
      for (let r = 0; r < rows; r++) {
        const p = at(r, c) >= rule.threshold ? 1 : 0;
        const t = truth(r, c);
        if (p === t) right++;
        if (p && t) tp++; else if (p) fp++; else if (t) fn++;
      }
      const p = tp + fp ? tp / (tp + fp) : 0;
      const rc = tp + fn ? tp / (tp + fn) : 0;
      per.push({ p, r: rc, f: p + rc ? 2 * p * rc / (p + rc) : 0 });
    }
    out['accuracy'] = out['binary_accuracy'] = right / (rows * cols);
    out['precision'] = per.reduce((s, x) => s + x.p, 0) / cols;
    out['recall'] = per.reduce((s, x) => s + x.r, 0) / cols;
    out['f1'] = per.reduce((s, x) => s + x.f, 0) / cols;
    if (rule.prob !== null) {
      let ll = 0;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const z = at(r, c);
          const p1 = rule.prob === 'sigmoid' ? sigmoid(z) : rule.prob === 'exp' ? Math.exp(z) : z;
          ll -= Math.log(truth(r, c) ? clip(p1) : clip(1 - p1));
        }
      }
      out['log_loss'] = ll / (rows * cols);
    }
    return out;
  }
  // One class per row: argmax of the outputs, of the target row, or the index.
  const argmax = (f: (c: number) => number) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (f(c) > f(best)) best = c;
    return best;
  };
  const truth = (r: number) => (target instanceof Int32Array ? target[r]! : argmax((c) => target[r * cols + c]!));
  let right = 0;
  const tp = new Array(cols).fill(0); const predicted = new Array(cols).fill(0); const actual = new Array(cols).fill(0);
  let ll = 0;
  for (let r = 0; r < rows; r++) {
    const p = argmax((c) => at(r, c));
    const t = truth(r);
    if (p === t) { right++; tp[p]++; }
    predicted[p]++; actual[t]++;
    if (rule.prob !== null) {
      let q = Array.from({ length: cols }, (_, c) => (rule.prob === 'as-is' ? at(r, c) : Math.exp(at(r, c))));
      if (rule.prob === 'softmax') q = q.map((v) => v / q.reduce((a, b) => a + b, 0));
      const qs = q.map(clip);
      ll -= Math.log(qs[t]! / qs.reduce((a, b) => a + b, 0));
    }
  }
  const precision = tp.map((n, c) => (predicted[c] ? n / predicted[c] : 0));
  const recall = tp.map((n, c) => (actual[c] ? n / actual[c] : 0));
  const f1 = precision.map((p, c) => (p + recall[c] ? 2 * p * recall[c] / (p + recall[c]) : 0));
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / cols;
  out['accuracy'] = out['binary_accuracy'] = right / rows;
  out['precision'] = mean(precision); out['recall'] = mean(recall); out['f1'] = mean(f1);
  if (rule.prob !== null) out['log_loss'] = ll / rows;
  return out;
}

function familyModel(engine: EngineName, dtype: Dtype, f: Family, lr: number, names: MetricName[]): Sequential {
  const layers = [new Dense(IN, 6, { activation: 'tanh' }), new Dense(6, f.cols), ...(f.end ? [new Activation(f.end)] : [])];
  const m = new Sequential(layers, { engine, dtype, seed: 5 });
  m.compile({ loss: f.loss as never, optimizer: new optim.SGD({ lr }), metrics: names });
  return m;
}

const namesFor = (f: Family) => CLASSIFICATION.filter((n) => n !== 'log_loss' || f.rule.prob !== null);

describe.each(ENGINES)('the measured bug, fixed (%s engine)', (engine) => {
  describe.each(DTYPES)('%s', (dtype) => {
    it('bce-with-logits on one output: accuracy is logit ≥ 0 against the label, log_loss is the loss', async () => {
      const X = inputs(dtype, 400, 9);
      const Y = dense(dtype, 400, 1, (r) => (X.data[r * IN]! - 0.7 * X.data[r * IN + 1]! > 0 ? 1 : 0));
      const m = new Sequential([new Dense(IN, 1)], { engine, dtype, seed: 3 });
      m.compile({ loss: 'bce-with-logits', optimizer: new optim.SGD({ lr: 0.1 }),
        metrics: ['accuracy', 'binary_accuracy', 'precision', 'log_loss'] });
      await m.fit(X, Y, { epochs: 1, batchSize: 16 });
      const logs = m.evaluate(X, Y);
      const z = m.predict(X).data;
      let right = 0; let tp = 0; let predictedPositive = 0;
      for (let r = 0; r < 400; r++) {
        const p = z[r]! >= 0 ? 1 : 0;
        if (p === Y.data[r]) right++;
        if (p) { predictedPositive++; if (Y.data[r]) tp++; }
      }
      expect(logs['accuracy']).toBe(right / 400);
      expect(logs['binary_accuracy']).toBe(right / 400);
      expect(logs['precision']).toBeCloseTo(tp / predictedPositive, 14);
      expect(logs['log_loss']).toBeCloseTo(logs['loss']!, dtype === 'float32' ? 6 : 12);
      // Read as probabilities (threshold 0.5), the logits scored far lower: that was the bug.
      let asProbabilities = 0;
      for (let r = 0; r < 400; r++) if ((z[r]! >= 0.5 ? 1 : 0) === Y.data[r]) asProbabilities++;
      expect(right).toBeGreaterThan(asProbabilities);
    });

    it('hinge on one output with ±1 labels: score ≥ 0 is class 1, label > 0 is class 1', async () => {
      const X = inputs(dtype, 200, 4);
      const Y = dense(dtype, 200, 1, (r) => (X.data[r * IN]! + X.data[r * IN + 2]! > 0 ? 1 : -1));
      const m = new Sequential([new Dense(IN, 1)], { engine, dtype, seed: 3 });
      m.compile({ loss: 'hinge', optimizer: new optim.SGD({ lr: 0.05 }), metrics: ['accuracy', 'recall'] });
      await m.fit(X, Y, { epochs: 1, batchSize: 16 });
      const logs = m.evaluate(X, Y);
      const s = m.predict(X).data;
      let right = 0; let tp = 0; let positives = 0;
      for (let r = 0; r < 200; r++) {
        const p = s[r]! >= 0 ? 1 : -1;
        if (p === Y.data[r]) right++;
        if (Y.data[r]! > 0) { positives++; if (p > 0) tp++; }
      }
      expect(logs['accuracy']).toBe(right / 200);
      expect(logs['recall']).toBeCloseTo(tp / positives, 14);
    });
  });
});

describe.each(ENGINES)('every loss family × every classification metric (%s engine)', (engine) => {
  describe.each(DTYPES)('%s', (dtype) => {
    for (const f of FAMILIES) {
      it(`${f.label}: evaluate, evaluateAsync, validation and training metrics equal the reference`, async () => {
        const X = inputs(dtype);
        const Y = f.target(X, dtype);
        const names = namesFor(f);
        // Learning rate 0: the weights never move, so the training-mode outputs fit records are predict's.
        const m = familyModel(engine, dtype, f, 0, names);
        const pred = m.predict(X);
        const y = Y instanceof Matrix ? Y.data : Y;
        const want = reference(f.rule, pred, y);
        const logs = m.evaluate(X, Y as never);
        for (const name of names) expect(logs[name], name).toBeCloseTo(want[name]!, 10);
        expect(await m.evaluateAsync(X, Y as never)).toEqual(logs);
        const h = await m.fit(X, Y as never, { epochs: 1, batchSize: 8, shuffle: false, validationData: [X, Y] });
        for (const name of names) {
          expect(h.history[`val_${name}`]![0], `val_${name}`).toBe(logs[name]);
          // Training-mode outputs equal predict's up to the forward pass's batch rounding.
          expect(h.history[name]![0], name).toBeCloseTo(want[name]!, dtype === 'float32' ? 5 : 10);
        }
      });
    }

    it('log_loss equals the loss where the loss is that log loss', () => {
      for (const f of FAMILIES.filter((x) => ['bce', 'bce-with-logits', 'cross-entropy', 'nll'].includes(x.loss))) {
        const X = inputs(dtype);
        const Y = f.target(X, dtype);
        const logs = familyModel(engine, dtype, f, 0, ['log_loss']).evaluate(X, Y as never);
        expect(logs['log_loss'], f.label).toBeCloseTo(logs['loss']!, dtype === 'float32' ? 6 : 12);
      }
    });

    it('multi-label accuracy is elementwise (Keras BinaryAccuracy), not whole rows', () => {
      const f = FAMILIES.find((x) => x.label === 'bce-with-logits, 3 labels')!;
      const X = inputs(dtype);
      const Y = f.target(X, dtype) as Matrix;
      const m = familyModel(engine, dtype, f, 0, ['accuracy', 'binary_accuracy']);
      const z = m.predict(X).data;
      let right = 0; let wholeRows = 0;
      for (let r = 0; r < ROWS; r++) {
        let all = true;
        for (let c = 0; c < 3; c++) {
          const ok = (z[r * 3 + c]! >= 0 ? 1 : 0) === Y.data[r * 3 + c];
          if (ok) right++; else all = false;
        }
        if (all) wholeRows++;
      }
      const logs = m.evaluate(X, Y);
      expect(logs['accuracy']).toBe(right / (ROWS * 3));
      expect(logs['binary_accuracy']).toBe(right / (ROWS * 3));
      expect(wholeRows / ROWS).not.toBe(right / (ROWS * 3));
    });
  });

  it('compile refuses log_loss with hinge losses, naming metrics[i]', () => {
    const m = new Sequential([new Dense(IN, 1)], { engine });
    for (const loss of ['hinge', 'squared-hinge', losses.create('hinge')] as const) {
      expect(() => m.compile({ loss: loss as never, metrics: ['accuracy', 'log_loss'] })).toThrow(RangeError);
      expect(() => m.compile({ loss: loss as never, metrics: ['accuracy', 'log_loss'] })).toThrow(/metrics\[1\].*'log_loss'/);
    }
    // The refused compile left the model uncompiled; a valid one still works.
    expect(() => m.evaluate(inputs('float64', 4), new Matrix(4, 1, new Float64Array([1, -1, 1, -1])))).toThrow(/compile/);
    m.compile({ loss: 'hinge', metrics: ['accuracy'] });
    expect(m.evaluate(inputs('float64', 4), new Matrix(4, 1, new Float64Array([1, -1, 1, -1])))['accuracy']).toBeGreaterThanOrEqual(0);
  });

  it('a custom loss keeps the reading of before: one column at 0.5, several by argmax', () => {
    const custom = {
      forward: (p: Matrix, t: unknown) => metrics.mse(p, t as Matrix),
      backward: (p: Matrix, t: unknown) => new Matrix(p.rows, p.cols, p.data.map((v, i) => 2 * (v - (t as Matrix).data[i]!) / p.data.length)),
    };
    const X = inputs('float64');
    const Y = dense('float64', ROWS, 1, (r) => label(X, r, 0));
    const m = new Sequential([new Dense(IN, 1)], { engine, seed: 2 });
    m.compile({ loss: custom, metrics: ['accuracy', 'log_loss'] });
    const z = m.predict(X).data;
    let right = 0;
    for (let r = 0; r < ROWS; r++) if ((z[r]! >= 0.5 ? 1 : 0) === Y.data[r]) right++;
    expect(m.evaluate(X, Y)['accuracy']).toBe(right / ROWS);
  });
});

describe('the engines agree on metrics read through the loss', () => {
  for (const f of FAMILIES.filter((x) => x.cols > 1 || x.loss === 'hinge')) {
    it(f.label, () => {
      const X = inputs('float64');
      const Y = f.target(X, 'float64');
      const native = familyModel('native', 'float64', f, 0, namesFor(f));
      const js = familyModel('js', 'float64', f, 0, namesFor(f));
      js.setWeights(native.getWeights());
      const a = native.evaluate(X, Y as never);
      const b = js.evaluate(X, Y as never);
      for (const name of namesFor(f)) expect(a[name], name).toBeCloseTo(b[name]!, 10);
    });
  }
});

describe('training accumulators follow every loss\'s reading', () => {
  // Random outputs around each reading's threshold, dense 0/1 (or ±1) targets, 3 columns and 1.
  for (const loss of LOSS_NAMES.filter((n) => n !== 'l1' && n !== 'pinball')) {
    const reading = outputReading(loss as never);
    for (const cols of [1, 3]) {
      it(`${loss}, ${cols} output(s): one chunk is metricByName exactly, uneven chunks too`, () => {
        const rows = 37;
        const raw = randomArray(rows * cols, 13 + cols, Float64Array);
        const shift = reading.meaning === 'probabilities' || reading.meaning === 'values' ? 0.5 : 0;
        const pred: FloatArray = reading.meaning === 'log-probabilities'
          ? raw.map((v) => Math.log(0.5 + 0.45 * v)) : raw.map((v) => shift + (shift ? 0.45 : 2) * v);
        const target = Float64Array.from(randomArray(rows * cols, 3, Float64Array), (v) => (v > 0 ? 1 : reading.signTargets ? -1 : 0));
        const names = CLASSIFICATION.filter((n) => n !== 'log_loss' || !reading.signTargets);
        const whole = (name: MetricName) => metricByName(name, new Matrix(rows, cols, pred), target, reading);
        const one = new MetricAccumulators(names, cols, reading);
        one.fold({ pred, target, order: null, count: rows });
        const chunked = new MetricAccumulators(names, cols, reading);
        let from = 0;
        for (const size of [1, 9, 1, 20, 6]) {
          chunked.fold({ pred: pred.slice(from * cols, (from + size) * cols), target: target.slice(from * cols, (from + size) * cols), order: null, count: size });
          from += size;
        }
        for (const name of names) {
          expect(one.results()[name], name).toBe(whole(name));
          expect(chunked.results()[name], name).toBe(whole(name));
        }
        if (reading.multiLabel || cols === 1) {
          // Decisions against the reading's own threshold.
          let right = 0;
          for (let v = 0; v < pred.length; v++) if ((pred[v]! >= reading.threshold ? 1 : 0) === (target[v]! > 0 ? 1 : 0)) right++;
          expect(whole('accuracy')).toBe(right / pred.length);
        }
      });
    }
  }
});

describe('r2 of several outputs: per output, uniformly averaged (scikit-learn)', () => {
  const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'r2_multioutput.json'), 'utf8')) as {
    cases: { label: string; yTrue: number[][]; yPred: number[][]; r2: number; r2PerOutput: number[]; r2Pooled: number }[] };
  for (const c of fixture.cases) {
    it(c.label, () => {
      const rows = c.yTrue.length;
      const cols = c.yTrue[0]!.length;
      const pred = Float64Array.from(c.yPred.flat());
      const target = Float64Array.from(c.yTrue.flat());
      expect(metrics.r2(c.yPred, c.yTrue)).toBeCloseTo(c.r2, 12);
      const whole = metricByName('r2', new Matrix(rows, cols, pred), target, outputReading('mse'));
      expect(whole).toBeCloseTo(c.r2, 12);
      // Each output alone is its own scikit-learn value.
      c.r2PerOutput.forEach((want, j) => {
        expect(metrics.r2(c.yPred.map((row) => row[j]!), c.yTrue.map((row) => row[j]!))).toBeCloseTo(want, 12);
      });
      const acc = new MetricAccumulators(['r2'], cols, outputReading('mse'));
      acc.fold({ pred, target, order: null, count: rows });
      expect(acc.results()['r2']).toBe(whole);
      acc.reset();
      let from = 0;
      for (const size of [1, 4, 13, 1, rows - 19]) {
        acc.fold({ pred: pred.slice(from * cols, (from + size) * cols), target: target.slice(from * cols, (from + size) * cols), order: null, count: size });
        from += size;
      }
      expect(Math.abs(acc.results()['r2']! - c.r2)).toBeLessThan(1e-12);
    });
  }

  it('outputs of means 0 and 100: pooled R² was ≈ 1 for a poor model, per output it is negative', () => {
    const c = fixture.cases[0]!;
    expect(c.r2Pooled).toBeGreaterThan(0.99);
    expect(metrics.r2(c.yPred, c.yTrue)).toBeLessThan(0);
  });

  it.each(ENGINES)('evaluate and fit report it on a two-output model (%s engine)', async (engine) => {
    const X = inputs('float64');
    const Y = dense('float64', ROWS, 2, (r, c) => (c === 0 ? X.data[r * IN]! : 100 + 3 * X.data[r * IN + 1]!));
    const m = new Sequential([new Dense(IN, 2)], { engine, seed: 6, dtype: 'float64' });
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0 }), metrics: ['r2'] });
    const p = m.predict(X);
    const want = metrics.r2(p, Y);
    expect(m.evaluate(X, Y)['r2']).toBeCloseTo(want, 12);
    const h = await m.fit(X, Y, { epochs: 1, batchSize: 7, shuffle: false });
    expect(h.history['r2']![0]!).toBeCloseTo(want, 10);
  });
});

describe.each(ENGINES)('training metrics with classWeight read outputs by the compiled loss (%s engine)', (engine) => {
  it('bce-with-logits: fit\'s training accuracy thresholds logits at 0, as evaluate does (lr 0: training outputs are predict\'s)', async () => {
    const rows = 64;
    const x = new Matrix(rows, 2, randomArray(rows * 2, 41, Float64Array));
    const y = new Matrix(rows, 1, Float64Array.from({ length: rows }, (_, i) => (x.data[2 * i]! > 0 ? 1 : 0)));
    const m = new Sequential([new Dense(2, 1, { biasInit: 0.3 })], { engine, seed: 5, dtype: 'float64' });
    m.compile({ loss: 'bce-with-logits', optimizer: new optim.SGD({ lr: 0 }), metrics: ['accuracy'] });
    // The weighted loss fit trains with is not the compiled Loss object; the reading must still be bce-with-logits'.
    const h = await m.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, classWeight: { 0: 2, 1: 1 } });
    const logits = m.predict(x).data;
    let right = 0;
    for (let i = 0; i < rows; i++) if ((logits[i]! >= 0 ? 1 : 0) === y.data[i]) right++;
    expect(h.history['accuracy']![0]).toBe(right / rows);
    expect(h.history['accuracy']![0]).toBe(m.evaluate(x, y)['accuracy']);
  });
});
