// The training metrics' accumulators (lib/metric-accumulators.ts) against the
// whole-epoch definitions they fold (metricByName, itself checked against
// scikit-learn in test/metrics.test.ts), for every compiled metric name, with
// class-index, one-hot and dense targets, one and several output columns,
// float32 and float64 outputs:
// - folded as one chunk: the same number, bit for bit;
// - folded in uneven chunks (1-row ones included): the same number bit for bit,
//   except r2, whose total sum of squares is merged chunk by chunk (Chan et al.)
//   instead of summed in one pass — equal within 1e-12, and without the
//   cancellation of Σy² − n·ȳ² when the targets' mean dwarfs their spread;
// - part of a chunk, in a training order: the metric of exactly those rows;
// - the accumulators' size does not depend on the rows folded (walked structurally).
import { describe, expect, it } from 'vitest';
import type { FloatArray, Target } from '../lib/engine';
import { Matrix } from '../lib/matrix';
import { MetricAccumulators, metricAccumulator } from '../lib/metric-accumulators';
import { METRIC_NAMES, metricByName, r2Of, type MetricName } from '../lib/metrics';
import { randomArray } from './helpers';

/** A typed array of C with f(value, index) of each element of source (Ctor.from over a union of constructors, typed). */
function filled(C: Float32ArrayConstructor | Float64ArrayConstructor, source: ArrayLike<number>, f: (v: number, i: number) => number): FloatArray {
  const out = new C(source.length);
  for (let i = 0; i < source.length; i++) out[i] = f(source[i]!, i);
  return out;
}

const CLASSIFICATION: MetricName[] = ['accuracy', 'binary_accuracy', 'top_k_accuracy', 'precision', 'recall', 'f1', 'log_loss'];

interface Case {
  label: string;
  cols: number;
  names: readonly MetricName[];
  target: (rows: number, Ctor: Float32ArrayConstructor | Float64ArrayConstructor) => Target;
}

/** Outputs rounded to one decimal, so rows hold ties (argmax and top-k break them by index). */
function outputs(rows: number, cols: number, Ctor: Float32ArrayConstructor | Float64ArrayConstructor, seed = 7): FloatArray {
  const raw = randomArray(rows * cols, seed, Float64Array);
  return filled(Ctor, raw, (v) => Math.round(v * 30) / 10);
}

const classOf = (r: number, classes: number) => (r * 7 + (r >> 2)) % classes;

const CASES: Case[] = [
  { label: 'class indices, 4 outputs', cols: 4, names: CLASSIFICATION,
    target: (rows) => Int32Array.from({ length: rows }, (_, r) => classOf(r, 4)) },
  { label: 'one-hot rows, 4 outputs', cols: 4, names: METRIC_NAMES,
    target: (rows, Ctor) => filled(Ctor, { length: rows * 4 }, (_, i) => (classOf(Math.floor(i / 4), 4) === i % 4 ? 1 : 0)) },
  { label: 'dense values, 3 outputs', cols: 3, names: METRIC_NAMES,
    target: (rows, Ctor) => filled(Ctor, randomArray(rows * 3, 11, Float64Array), (v) => 5 + 2 * v) },
  { label: 'class indices, 1 output', cols: 1, names: CLASSIFICATION,
    target: (rows) => Int32Array.from({ length: rows }, (_, r) => classOf(r, 2)) },
  { label: 'dense 0/1, 1 output', cols: 1, names: METRIC_NAMES,
    target: (rows, Ctor) => filled(Ctor, { length: rows }, (_, r) => classOf(r, 2)) },
];

/** The rows [from, to) of a chunk's outputs and target, copied (as a stream's chunk would hold them). */
function slice(pred: FloatArray, target: Target, cols: number, from: number, to: number): { pred: FloatArray; target: Target } {
  const width = target instanceof Int32Array ? 1 : cols;
  return { pred: pred.slice(from * cols, to * cols), target: target.slice(from * width, to * width) };
}

function foldInChunks(acc: MetricAccumulators, pred: FloatArray, target: Target, sizes: readonly number[]): void {
  let from = 0;
  for (const size of sizes) {
    const chunk = slice(pred, target, acc.cols, from, from + size);
    acc.fold({ ...chunk, order: null, count: size });
    from += size;
  }
}

const ROWS = 53;
const SIZES = [1, 9, 1, 17, 2, 1, 22];  // 53 rows, uneven

describe.each(['float32', 'float64'] as const)('metric accumulators (%s outputs)', (dtype) => {
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;

  for (const c of CASES) {
    const pred = outputs(ROWS, c.cols, Ctor);
    const target = c.target(ROWS, Ctor);
    const whole = (name: MetricName, p = pred, t = target, rows = ROWS) => metricByName(name, new Matrix(rows, c.cols, p), t);

    it(`${c.label}: one chunk gives metricByName's number exactly`, () => {
      const acc = new MetricAccumulators(c.names, c.cols);
      acc.fold({ pred, target, order: null, count: ROWS });
      const got = acc.results();
      expect(Object.keys(got)).toEqual([...c.names]);
      for (const name of c.names) expect(got[name], name).toBe(whole(name));
    });

    it(`${c.label}: uneven chunks give the same numbers (r2 within 1e-12)`, () => {
      expect(SIZES.reduce((a, b) => a + b, 0)).toBe(ROWS);
      const acc = new MetricAccumulators(c.names, c.cols);
      foldInChunks(acc, pred, target, SIZES);
      expect(acc.rowCount).toBe(ROWS);
      const got = acc.results();
      for (const name of c.names) {
        if (name === 'r2') expect(Math.abs(got[name]! - whole(name))).toBeLessThan(1e-12);
        else expect(got[name], name).toBe(whole(name));
      }
    });

    it(`${c.label}: part of a chunk in a training order is the metric of exactly those rows`, () => {
      const order = Int32Array.from({ length: ROWS }, (_, i) => (i * 19 + 5) % ROWS);  // 19 is coprime to 53
      const done = 31;
      const acc = new MetricAccumulators(c.names, c.cols);
      acc.fold({ pred, target, order, count: done });
      // The first `done` rows of the order, gathered.
      const width = target instanceof Int32Array ? 1 : c.cols;
      const p = new Ctor(done * c.cols);
      const t: Target = target instanceof Int32Array ? new Int32Array(done) : new Ctor(done * width);
      for (let i = 0; i < done; i++) {
        p.set(pred.subarray(order[i]! * c.cols, (order[i]! + 1) * c.cols), i * c.cols);
        (t as FloatArray).set((target as FloatArray).subarray(order[i]! * width, (order[i]! + 1) * width), i * width);
      }
      for (const name of c.names) expect(acc.results()[name], name).toBe(whole(name, p, t, done));
    });
  }

  it('reset starts a new epoch; nothing folded reports nothing', () => {
    const pred = outputs(ROWS, 4, Ctor);
    const target = CASES[0]!.target(ROWS, Ctor);
    const acc = new MetricAccumulators(CLASSIFICATION, 4);
    expect(acc.results()).toEqual({});
    acc.fold({ pred: outputs(ROWS, 4, Ctor, 99), target, order: null, count: ROWS });
    acc.fold({ pred, target, order: null, count: 0 });
    acc.reset();
    expect(acc.results()).toEqual({});
    acc.fold({ pred, target, order: null, count: ROWS });
    for (const name of CLASSIFICATION) expect(acc.results()[name]).toBe(metricByName(name, new Matrix(ROWS, 4, pred), target));
  });
});

describe('metric accumulators: definitions and bounds', () => {
  it('regression metrics refuse class indices with metricByName\'s message', () => {
    const pred = outputs(4, 2, Float64Array);
    for (const name of ['mae', 'mse', 'rmse', 'r2'] as const) {
      const acc = metricAccumulator(name, 2);
      expect(() => acc.fold({ pred, target: new Int32Array(4), order: null, count: 4 })).toThrow(RangeError);
      expect(() => acc.fold({ pred, target: new Int32Array(4), order: null, count: 4 }))
        .toThrow(`Metric '${name}' needs a dense target (a matrix of the outputs' shape), not class indices`);
    }
  });

  it('r2 over 1-row chunks keeps its precision when the targets\' mean dwarfs their spread', () => {
    // Targets 1e9 + u, u in [-1, 1): their condition number √(1 + n·mean²/SS_tot)
    // is ~1.7e9. The reference is exact: each target is an integer multiple of
    // 2^-23 (float64's spacing in [2^29, 2^30)), so n·Σt² − (Σt)² = n²·SS_tot is
    // computed exactly in BigInt and rounded once.
    const rows = 1000;
    for (const seed of [5, 8]) {
      const u = randomArray(rows, seed, Float64Array);
      const target = Float64Array.from(u, (v) => 1e9 + v);
      const pred = Float64Array.from(u, (v, i) => 1e9 + 0.9 * v + 0.01 * Math.sin(i));
      let sum = 0n;
      let sumSq = 0n;
      let ssRes = 0;
      for (let i = 0; i < rows; i++) {
        const scaled = BigInt(target[i]! * 2 ** 23);
        sum += scaled;
        sumSq += scaled * scaled;
        ssRes += (pred[i]! - target[i]!) ** 2;
      }
      const exact = 1 - ssRes / (Number(BigInt(rows) * sumSq - sum * sum) / rows / 2 ** 46);
      expect(exact).toBeGreaterThan(0.98);
      const acc = metricAccumulator('r2', 1);
      for (let r = 0; r < rows; r++) acc.fold({ pred: pred.subarray(r, r + 1), target: target.subarray(r, r + 1), order: null, count: 1 });
      expect(Math.abs(acc.value() - exact)).toBeLessThan(1e-13);
      expect(Math.abs(r2Of(pred, target) - exact)).toBeLessThan(1e-13);  // the one-pass definition agrees
      // The cancelling formula Σt² − n·t̄², for contrast: what the accumulator does not do.
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < rows; i++) {
        s += target[i]!;
        s2 += target[i]! * target[i]!;
      }
      expect(Math.abs(1 - ssRes / (s2 - s * s / rows) - exact)).toBeGreaterThan(1e-3);
    }
  });

  it('a constant target: r2 is 1 for an exact fit, 0 otherwise (as r2Of), across chunks', () => {
    const target = new Float64Array(6).fill(2);
    for (const pred of [target.slice(), Float64Array.of(2, 2, 2, 2, 2, 2.5)]) {
      const acc = metricAccumulator('r2', 1);
      for (let r = 0; r < 6; r += 2) acc.fold({ pred: pred.subarray(r, r + 2), target: target.subarray(r, r + 2), order: null, count: 2 });
      expect(acc.value()).toBe(r2Of(pred, target));
    }
  });

  it('their size does not depend on the rows folded (every metric, walked structurally)', () => {
    const cols = 4;
    const sizeAfter = (rows: number) => {
      const acc = new MetricAccumulators(METRIC_NAMES, cols);
      const pred = outputs(rows, cols, Float32Array);
      const target = CASES[1]!.target(rows, Float32Array);
      for (let from = 0; from < rows; from += 100) {
        const to = Math.min(rows, from + 100);
        acc.fold({ ...slice(pred, target, cols, from, to), order: null, count: to - from });
      }
      expect(acc.rowCount).toBe(rows);
      return slots(acc);
    };
    const empty = slots(new MetricAccumulators(METRIC_NAMES, cols));
    expect(sizeAfter(10)).toBe(empty);
    expect(sizeAfter(20_000)).toBe(empty);
    // It grows with the outputs (per-class counts, the log-loss row), which is what bounds it.
    expect(slots(new MetricAccumulators(METRIC_NAMES, 40))).toBeGreaterThan(empty);
  });
});

/**
 * Values held by an object graph: each primitive, array element and typed
 * array element counts one; objects are walked once (cycles are fine).
 */
function slots(root: unknown): number {
  const seen = new Set<object>();
  const walk = (v: unknown): number => {
    if (typeof v !== 'object' || v === null) return typeof v === 'function' ? 0 : 1;
    if (seen.has(v)) return 0;
    seen.add(v);
    if (ArrayBuffer.isView(v)) return (v as unknown as ArrayLike<number>).length ?? v.byteLength;
    let n = 0;
    for (const key of Object.getOwnPropertyNames(v)) n += walk((v as Record<string, unknown>)[key]);
    return n;
  };
  return walk(root);
}
