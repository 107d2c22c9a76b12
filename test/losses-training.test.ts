// Every built-in loss trains inside both engines' fused train step (and the
// two engines follow the same trajectory); a user-written custom loss trains
// in both; losses that cannot train are refused at compile.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, losses, optim } from '../lib';
import type { LossFunction, LossOptions } from '../lib/losses';
import type { ActivationName, EngineName } from '../lib/engine';
import { ENGINES, engine as engineOf, maxRelDiff, randomArray } from './helpers';

const ROWS = 32;
const X = new Matrix(ROWS, 4, randomArray(ROWS * 4, 11), 'float64');
const row = (r: number) => Array.from(X.data.subarray(r * 4, r * 4 + 4));
const lin = (r: number) => { const x = row(r); return 0.8 * x[0]! - 0.5 * x[1]! + 0.3 * x[2]! * x[3]!; };

const regression = Array.from({ length: ROWS }, (_, r) => lin(r));
const binary = Array.from({ length: ROWS }, (_, r) => (lin(r) > 0 ? 1 : 0));
const signs = binary.map((b) => 2 * b - 1);
const classes = Array.from({ length: ROWS }, (_, r) => (lin(r) > 0.3 ? 2 : lin(r) > -0.3 ? 1 : 0));
const softRows = new Matrix(ROWS, 3, Float64Array.from({ length: ROWS * 3 }, (_, i) => (classes[Math.floor(i / 3)] === i % 3 ? 0.8 : 0.1)), 'float64');
const masks = new Matrix(ROWS, 3, Float64Array.from({ length: ROWS * 3 }, (_, i) => (row(Math.floor(i / 3))[i % 3]! > 0 ? 1 : 0)), 'float64');

interface Case { name: string; opts: LossOptions; out: number; activation: ActivationName; y: unknown }
const CASES: Case[] = [
  { name: 'mse', opts: {}, out: 1, activation: 'identity', y: regression },
  { name: 'mae', opts: { reduction: 'sum' }, out: 1, activation: 'identity', y: regression },
  { name: 'huber', opts: { delta: 0.5 }, out: 1, activation: 'identity', y: regression },
  { name: 'tukey', opts: { delta: 2 }, out: 1, activation: 'identity', y: regression },
  { name: 'quantile', opts: { tau: 0.8 }, out: 1, activation: 'identity', y: regression },
  { name: 'barron', opts: { alpha: -Infinity, c: 0.5 }, out: 1, activation: 'identity', y: regression },
  { name: 'barron', opts: { alpha: 0.5 }, out: 1, activation: 'identity', y: regression },
  { name: 'bce', opts: { classWeights: [2] }, out: 1, activation: 'sigmoid', y: binary },
  { name: 'bce-with-logits', opts: { posWeight: 2 }, out: 1, activation: 'identity', y: binary },
  { name: 'focal', opts: {}, out: 1, activation: 'identity', y: binary },
  { name: 'hinge', opts: {}, out: 1, activation: 'identity', y: signs },
  { name: 'squared-hinge', opts: {}, out: 1, activation: 'identity', y: signs },
  { name: 'cross-entropy', opts: { classWeights: [1, 3, 1], labelSmoothing: 0.1 }, out: 3, activation: 'identity', y: classes },
  { name: 'cross-entropy', opts: {}, out: 3, activation: 'identity', y: softRows },
  // nll and kl-div want log-probabilities; on raw outputs they still train (and parity still holds).
  { name: 'nll', opts: { classWeights: [1, 2, 1] }, out: 3, activation: 'identity', y: classes },
  { name: 'kl-div', opts: { reduction: 'batchmean' }, out: 3, activation: 'identity', y: softRows },
  { name: 'dice', opts: {}, out: 3, activation: 'sigmoid', y: masks },
];

function model(engine: EngineName, c: { out: number; activation: ActivationName }) {
  return new Sequential([new Dense(4, 8, { activation: 'tanh' }), new Dense(8, c.out, { activation: c.activation })],
    { engine, seed: 3, dtype: 'float64' });
}

async function train(engine: EngineName, c: Case, loss: string | LossFunction): Promise<number[]> {
  const m = model(engine, c);
  m.compile({ loss: loss as never, optimizer: new optim.Adam({ lr: 0.02 }) });
  const trace = [m.evaluate(X, c.y as never).loss];
  for (let i = 0; i < 40; i++) m.trainStep(X, c.y as never);
  await m.fit(X, c.y as never, { epochs: 2, batchSize: 8 });
  trace.push(m.evaluate(X, c.y as never).loss);
  return trace;
}

describe.each(ENGINES)('built-in losses train (%s engine)', (engine) => {
  for (const c of CASES) {
    it(`${c.name} ${JSON.stringify(c.opts)}: the loss falls`, async () => {
      const [before, after] = await train(engine, c, losses.create(c.name as never, { ...c.opts, engine }) as never);
      expect(Number.isFinite(after)).toBe(true);
      expect(after!).toBeLessThan(before! * 0.9);
    });
  }
});

describe('built-in losses: both engines follow one trajectory', () => {
  for (const c of CASES) {
    it(`${c.name} ${JSON.stringify(c.opts)}`, async () => {
      const n = await train('native', c, losses.create(c.name as never, c.opts) as never);
      const j = await train('js', c, losses.create(c.name as never, c.opts) as never);
      expect(maxRelDiff(n, j)).toBeLessThan(1e-9);
    });
  }
});

/** A user-written loss: mean log(cosh(pred − target)), gradient tanh(pred − target) / n. */
const logCosh: LossFunction = {
  forward(pred, target) {
    const t = target as Matrix;
    let s = 0;
    for (let i = 0; i < pred.data.length; i++) s += Math.log(Math.cosh(pred.data[i]! - t.data[i]!));
    return s / pred.data.length;
  },
  backward(pred, target) {
    const t = target as Matrix;
    const g = new Matrix(pred.rows, pred.cols, undefined, pred.dtype);
    for (let i = 0; i < pred.data.length; i++) g.data[i] = Math.tanh(pred.data[i]! - t.data[i]!) / pred.data.length;
    return g;
  },
};

describe('a custom log-cosh loss', () => {
  const c: Case = { name: 'log-cosh', opts: {}, out: 1, activation: 'identity', y: new Matrix(ROWS, 1, Float64Array.from(regression), 'float64') };
  it.each(ENGINES)('trains in the %s engine', async (engine) => {
    const [before, after] = await train(engine, c, logCosh);
    expect(after!).toBeLessThan(before! * 0.5);
  });
  it('follows the same trajectory in both engines', async () => {
    expect(maxRelDiff(await train('native', c, logCosh), await train('js', c, logCosh))).toBeLessThan(1e-9);
  });
});

describe.each(ENGINES)('losses that cannot train are refused (%s engine)', (engine) => {
  it("reduction 'none' at compile", () => {
    const m = model(engine, { out: 1, activation: 'identity' });
    expect(() => m.compile({ loss: losses.create('mse', { reduction: 'none' }) })).toThrow(/'none'/);
  });
  it('class weights of the wrong length at compile', () => {
    const m = model(engine, { out: 3, activation: 'identity' });
    expect(() => m.compile({ loss: losses.create('cross-entropy', { classWeights: [1, 2] }) })).toThrow(RangeError);
  });
  it('bce on outputs outside [0, 1] throws and leaves the weights as they were', () => {
    const m = model(engine, { out: 1, activation: 'identity' });
    m.compile({ loss: 'bce', optimizer: 'sgd' });
    const before = m.getWeights()['1.weight']!.slice();
    const big = new Matrix(2, 4, new Float64Array([5, -5, 5, -5, -5, 5, -5, 5]), 'float64');
    expect(() => m.trainStep(big, [1, 0])).toThrow(/\[0, 1\]/);
    expect(Array.from(m.getWeights()['1.weight']!)).toEqual(Array.from(before));
  });
  it('targets of the wrong kind', () => {
    const m = model(engine, { out: 3, activation: 'identity' });
    m.compile({ loss: 'nll' });
    expect(() => m.trainStep(X, softRows)).toThrow(/class indices/);
    const h = model(engine, { out: 1, activation: 'identity' });
    h.compile({ loss: 'hinge' });
    expect(() => h.trainStep(X, binary)).toThrow(/-1 or 1/);
  });
});

describe.each(ENGINES)('a plan and its loss spec (%s engine)', (engine) => {
  const layers = [{ kind: 'dense' as const, inFeatures: 4, outFeatures: 3 }];
  const base = { kind: 'cross-entropy' as const, reduction: 'mean' as const, labelSmoothing: 0 };

  it("refuses reduction 'none' and class weights of the wrong length", () => {
    const plan = engineOf(engine).createPlan({ dtype: 'float64', layers, maxBatch: 8 });
    expect(() => plan.setLoss({ ...base, reduction: 'none' })).toThrow(RangeError);
    expect(() => plan.setLoss({ ...base, classWeights: new Float64Array([1, 2]) })).toThrow(RangeError);
    expect(() => plan.setLoss({ ...base, classWeights: new Float64Array([1, 2, -3]) })).toThrow(RangeError);
  });

  it('keeps its own copy of the class weights', () => {
    const run = (mutate: boolean) => {
      const plan = engineOf(engine).createPlan({ dtype: 'float64', layers, maxBatch: 8 });
      plan.setParams(randomArray(plan.paramCount, 5));
      const w = new Float64Array([1, 4, 2]);
      plan.setLoss({ ...base, classWeights: w });
      if (mutate) w.fill(100);
      return plan.computeGradients(X.data.subarray(0, 8 * 4), 8, Int32Array.from(classes.slice(0, 8)));
    };
    expect(run(true)).toBe(run(false));
  });
});
