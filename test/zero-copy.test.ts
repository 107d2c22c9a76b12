// fit's data crosses to the native engine once, not twice: Sequential copies
// x (and a dense y) into Engine.allocData's memory, and the native engine's
// keepData epochs read that memory in place (native/binding/data_block.h)
// instead of copying it again on the main thread. Here: allocData's contract
// in both engines, training over it bit for bit as over plain arrays, proof
// that the native engine reads it in place, and the lifetime hazards (GC,
// transfer, dispose, many fits) in fresh processes with --expose-gc.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import type { Engine, FloatArray, LossName, NetworkPlan, Target } from '../lib/engine';
import { loadNative } from '../lib/native';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

const ROWS = 96;
const COLS = 12;
const OUT = 3;

function makePlan(eng: Engine, dtype: 'float32' | 'float64', loss: LossName): NetworkPlan {
  const plan = eng.createPlan({ dtype, maxBatch: 16, layers: [
    { kind: 'dense', inFeatures: COLS, outFeatures: 8 }, { kind: 'activation', activation: 'relu' },
    { kind: 'dense', inFeatures: 8, outFeatures: OUT }] });
  const init = dtype === 'float32' ? new Float32Array(plan.paramCount) : new Float64Array(plan.paramCount);
  init.set(randomArray(plan.paramCount, 7));
  plan.setParams(init);
  plan.setLoss({ kind: loss, reduction: 'mean', labelSmoothing: 0 });
  plan.setOptimizer({ kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
    beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  return plan;
}

function paramsOf(plan: NetworkPlan): FloatArray {
  const p = plan.dtype === 'float32' ? new Float32Array(plan.paramCount) : new Float64Array(plan.paramCount);
  plan.getParams(p);
  return p;
}

function copyInto<A extends FloatArray>(eng: Engine, data: A): A {
  const a = eng.allocData(data instanceof Float64Array ? 'float64' : 'float32', data.length) as A;
  a.set(data);
  return a;
}

describe.each(ENGINES)('Engine.allocData (%s engine)', (name) => {
  const eng = engine(name);

  it('returns a zero-filled typed array of the dtype and length asked for', () => {
    const a = eng.allocData('float32', 1000);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a.length).toBe(1000);
    expect(a.every((v) => v === 0)).toBe(true);
    const b = eng.allocData('float64', 3);
    expect(b).toBeInstanceOf(Float64Array);
    expect(Array.from(b)).toEqual([0, 0, 0]);
    expect(eng.allocData('float32', 0).length).toBe(0);
    a[999] = 1.5;  // writable, like any typed array
    expect(a[999]).toBe(1.5);
  });

  it('refuses a bad dtype or length with an error naming it', () => {
    const bad = eng as unknown as { allocData(d: unknown, n: unknown): FloatArray };
    expect(() => bad.allocData('float16', 4)).toThrow(RangeError);
    expect(() => bad.allocData('float16', 4)).toThrow(/dtype/);
    expect(() => bad.allocData(32, 4)).toThrow(TypeError);
    expect(() => bad.allocData('float32', -1)).toThrow(RangeError);
    expect(() => bad.allocData('float32', 1.5)).toThrow(/length/);
    expect(() => bad.allocData('float32', 2 ** 33)).toThrow(RangeError);
    expect(() => bad.allocData('float32', '4')).toThrow(TypeError);
  });
});

describe.each(ENGINES)('epochs over allocData arrays (%s engine)', (name) => {
  const eng = engine(name);
  const cases: Array<{ dtype: 'float32' | 'float64'; loss: LossName }> = [
    { dtype: 'float32', loss: 'cross-entropy' }, { dtype: 'float64', loss: 'cross-entropy' }, { dtype: 'float32', loss: 'mse' },
  ];

  it.each(cases)('train bit for bit as over plain arrays ($dtype, $loss), whole or a leading subarray', async ({ dtype, loss }) => {
    const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
    const x = randomArray(ROWS * COLS, 3, Ctor);
    const y: Target = loss === 'mse' ? randomArray(ROWS * OUT, 5, Ctor) : Int32Array.from({ length: ROWS }, (_, i) => (i * 5) % OUT);
    const order = Int32Array.from({ length: ROWS }, (_, i) => (i * 37) % ROWS);
    const run = async (xs: FloatArray, ys: Target, rows: number, keepData: boolean) => {
      const plan = makePlan(eng, dtype, loss);
      const losses: number[] = [];
      for (let e = 0; e < 3; e++) losses.push((await plan.trainEpoch(xs, rows, ys, 16, rows === ROWS ? order : null, { keepData })).loss);
      plan.releaseEpochData();
      const out = { params: paramsOf(plan), losses };
      plan.dispose();
      return out;
    };
    const yAlloc = (t: Target) => (t instanceof Int32Array ? t.slice() : copyInto(eng, t));
    const plain = await run(x.slice(), y.slice(), ROWS, false);
    expect(await run(copyInto(eng, x), yAlloc(y), ROWS, true)).toEqual(plain);
    expect(await run(copyInto(eng, x), yAlloc(y), ROWS, false)).toEqual(plain);
    // fit's validationSplit trains on a leading subarray of its private copy.
    const rows = 80;
    const width = y instanceof Int32Array ? 1 : OUT;
    const head = await run(x.slice(0, rows * COLS), y.slice(0, rows * width), rows, false);
    expect(await run(copyInto(eng, x).subarray(0, rows * COLS), yAlloc(y).subarray(0, rows * width), rows, true)).toEqual(head);
  });

  it('are read in place: a keepData epoch sees a change made to the array after the previous one', async () => {
    // Breaking keepData's promise on purpose. Over allocData's memory both engines
    // read the array itself (no copy), so the NaN reaches the next epoch's loss; over
    // a plain array the native engine's kept copy hides it (test/fit-audit.test.ts).
    const x = copyInto(eng, randomArray(ROWS * COLS, 3, Float32Array));
    const y = Int32Array.from({ length: ROWS }, (_, i) => i % OUT);
    const plan = makePlan(eng, 'float32', 'cross-entropy');
    const first = await plan.trainEpoch(x, ROWS, y, 16, null, { keepData: true });
    expect(first.badBatch).toBe(-1);
    x[0] = Number.NaN;
    const second = await plan.trainEpoch(x, ROWS, y, 16, null, { keepData: true });
    expect(second.badBatch).toBe(0);
    plan.dispose();
  });
});

describe('the native engine and allocData memory across processes and GC (--expose-gc)', () => {
  const run = (mode: string) => JSON.parse(execFileSync(process.execPath,
    ['--expose-gc', path.join(__dirname, 'fixtures', 'zero-copy-lifetime.cjs'), mode],
    { cwd: path.resolve(__dirname, '..'), encoding: 'utf8' }).trim().split('\n').pop()!);

  it('x and y unreachable and collected mid-epoch (their JS share freed): the epoch trains as over a copy', () => {
    const r = run('gc') as { cases: Array<{ batches: number; collections: number; jsShareDroppedMidEpoch: boolean; same: boolean }> };
    expect(r.cases).toHaveLength(2);
    for (const c of r.cases) {
      expect(c.batches).toBe(5000);
      expect(c.jsShareDroppedMidEpoch).toBe(true);
      expect(c.same).toBe(true);
    }
  }, 60_000);

  it('x\'s buffer transferred mid-epoch (Node copies external buffers rather than detach them): the epoch is unaffected', () => {
    const r = run('transfer') as { outcomes: string[]; batches: number; same: boolean };
    expect(r.outcomes).toHaveLength(2);
    expect(r.batches).toBe(5000);
    expect(r.same).toBe(true);
  }, 60_000);

  it('dispose during an epoch over allocData memory: cancelled, no crash, the array stays readable', () => {
    expect(run('dispose')).toEqual({ cancelled: true, disposed: true, x2Readable: true });
  }, 60_000);

  it('40 fits of 20,000 × 784 float32 in a loop: the resident set does not grow by a block per fit', () => {
    const r = run('loop') as { fits: number; blockBytes: number; growthBytes: number; peakGrowthBytes: number };
    expect(r.fits).toBe(40);
    // Leaked, 40 blocks would add 40 × 63 MB; collected, a few at most are alive at once.
    expect(r.growthBytes).toBeLessThan(4 * r.blockBytes);
    expect(r.peakGrowthBytes).toBeLessThan(8 * r.blockBytes);
  }, 120_000);
});

describe('the native binding re-checks allocData', () => {
  it('throws TypeError/RangeError naming dtype or length when called directly', () => {
    const binding = loadNative() as unknown as { allocData(d: unknown, n: unknown): FloatArray };
    expect(() => binding.allocData(undefined, 4)).toThrow(/dtype/);
    expect(() => binding.allocData('float32', Number.NaN)).toThrow(/length/);
    expect(() => binding.allocData('float64', 2 ** 32 + 1)).toThrow(RangeError);
    expect(() => binding.allocData('float32', {})).toThrow(TypeError);
  });
});

describe('engine parity over allocData arrays', () => {
  it('native and JS epochs over their own allocData copies agree (float64, shuffled order, dense and index targets)', async () => {
    for (const loss of ['cross-entropy', 'mse'] as const) {
      const x = randomArray(ROWS * COLS, 11, Float64Array);
      const y: Target = loss === 'mse' ? randomArray(ROWS * OUT, 13, Float64Array) : Int32Array.from({ length: ROWS }, (_, i) => (i * 2) % OUT);
      const order = Int32Array.from({ length: ROWS }, (_, i) => (i * 41) % ROWS);
      const trained = await Promise.all(ENGINES.map(async (name) => {
        const eng = engine(name);
        const plan = makePlan(eng, 'float64', loss);
        const xs = copyInto(eng, x);
        const ys = y instanceof Int32Array ? y.slice() : copyInto(eng, y);
        const losses: number[] = [];
        for (let e = 0; e < 3; e++) losses.push((await plan.trainEpoch(xs, ROWS, ys, 16, order, { keepData: true })).loss);
        plan.releaseEpochData();
        return { params: paramsOf(plan), losses };
      }));
      expect(maxRelDiff(trained[0]!.params, trained[1]!.params), loss).toBeLessThan(1e-9);
      expect(maxRelDiff(trained[0]!.losses, trained[1]!.losses), loss).toBeLessThan(1e-9);
    }
  });
});

describe.each(ENGINES)('fit copies its data into allocData memory (%s engine)', (name) => {
  afterEach(() => { vi.restoreAllMocks(); });

  it('x and a dense y once each (index targets stay a plain Int32Array copy), and trains as trainStep would on them', async () => {
    const eng = engine(name);
    const spy = vi.spyOn(eng, 'allocData');
    const rows = 40;
    const x = new Matrix(rows, COLS, randomArray(rows * COLS, 21, Float32Array) as Float32Array);
    const yDense = new Matrix(rows, OUT, randomArray(rows * OUT, 22, Float32Array) as Float32Array);
    const make = () => {
      const m = new Sequential([new Dense(COLS, OUT)], { engine: name, seed: 3 });
      m.compile({ loss: 'mse', optimizer: 'sgd' });
      return m;
    };
    const fitted = make();
    await fitted.fit(x, yDense, { epochs: 1, batchSize: rows, shuffle: false });
    expect(spy.mock.calls).toEqual([['float32', rows * COLS], ['float32', rows * OUT]]);
    const stepped = make();
    stepped.trainStep(x, yDense);
    expect(fitted.getWeights()).toEqual(stepped.getWeights());

    spy.mockClear();
    const classifier = new Sequential([new Dense(COLS, OUT)], { engine: name, seed: 3 });
    classifier.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    await classifier.fit(x, Int32Array.from({ length: rows }, (_, i) => i % OUT), { epochs: 1, validationSplit: 0.25 });
    expect(spy.mock.calls).toEqual([['float32', rows * COLS]]);
  });
});
