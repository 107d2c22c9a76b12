// evaluate refuses what fit and trainStep refuse: NaN/±Infinity in x or in a
// dense target y (it returned a NaN loss), with the same RangeError naming
// the argument, row/column or index — both engines, both dtypes, class-index
// and matrix targets.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import type { Dtype } from '../lib/engine';
import { ENGINES } from './helpers';

function model(engine: 'native' | 'js', dtype: Dtype, loss: string, outputs: number) {
  const m = new Sequential([new Dense(3, 4, { activation: 'tanh' }), new Dense(4, outputs)], { engine, seed: 5, dtype });
  m.compile({ loss: loss as never, optimizer: 'sgd' });
  return m;
}

const X = [[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]];

function rangeErrorOf(fn: () => unknown): RangeError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(RangeError); return e as RangeError; }
  throw new Error('expected a RangeError, nothing was thrown');
}

describe.each(ENGINES)('evaluate validates its data (%s engine)', (engine) => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: a non-finite matrix target is refused as trainStep refuses it`, () => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const m = model(engine, dtype, 'mse', 2);
        const y = [[0.5, 0.5], [0.25, bad]];
        const fromEvaluate = rangeErrorOf(() => m.evaluate(X, y));
        const fromTrainStep = rangeErrorOf(() => m.trainStep(X, y));
        expect(fromEvaluate.message).toBe(`Expected finite values in y but received ${bad} at index 3`);
        expect(fromEvaluate.message).toBe(fromTrainStep.message);
        expect((fromEvaluate as RangeError & { code?: string }).code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
        // A finite target still evaluates to a finite loss.
        expect(Number.isFinite(m.evaluate(X, [[0.5, 0.5], [0.25, 1]]).loss)).toBe(true);
      }
    });

    it(`${dtype}: a non-finite x is refused with class-index and matrix targets`, () => {
      const ce = model(engine, dtype, 'cross-entropy', 3);
      const xs = [[0.1, 0.2, 0.3], [0.4, NaN, 0.6]];
      expect(rangeErrorOf(() => ce.evaluate(xs, [0, 2])).message).toBe('Expected finite values in x but received NaN at row 1, column 1');
      expect(rangeErrorOf(() => ce.evaluate(xs, new Int32Array([0, 2]))).message).toMatch(/in x but received NaN at row 1, column 1/);
      const mse = model(engine, dtype, 'mse', 2);
      const xm = new Matrix(2, 3, dtype === 'float32' ? new Float32Array([0, 0, Infinity, 0, 0, 0]) : new Float64Array([0, 0, Infinity, 0, 0, 0]));
      expect(rangeErrorOf(() => mse.evaluate(xm, [[0, 0], [0, 0]])).message).toBe('Expected finite values in x but received Infinity at row 0, column 2');
      expect(rangeErrorOf(() => mse.trainStep(xm, [[0, 0], [0, 0]])).message).toBe('Expected finite values in x but received Infinity at row 0, column 2');
    });

    it(`${dtype}: cross-entropy with probability-row targets refuses NaN rows; class indices keep working`, () => {
      const m = model(engine, dtype, 'cross-entropy', 3);
      expect(rangeErrorOf(() => m.evaluate(X, [[1, 0, 0], [0, NaN, 1]])).message).toBe('Expected finite values in y but received NaN at index 4');
      expect(Number.isFinite(m.evaluate(X, [0, 2]).loss)).toBe(true);
      expect(Number.isFinite(m.evaluate(X, [[1, 0, 0], [0, 0, 1]]).loss)).toBe(true);
    });

    it(`${dtype}: a custom loss sees no NaN target either`, () => {
      const m = new Sequential([new Dense(3, 1)], { engine, seed: 2, dtype });
      let calls = 0;
      m.compile({
        loss: {
          forward: (p: Matrix, t: Matrix) => { calls++; let s = 0; for (let i = 0; i < p.data.length; i++) s += (p.data[i]! - t.data[i]!) ** 2; return s; },
          backward: (p: Matrix, t: Matrix) => new Matrix(p.rows, p.cols, p.data.map((v, i) => 2 * (v - t.data[i]!)) as Float32Array),
        } as never,
        optimizer: 'sgd',
      });
      expect(rangeErrorOf(() => m.evaluate(X, [1, -Infinity])).message).toBe('Expected finite values in y but received -Infinity at index 1');
      expect(calls).toBe(0);
    });
  }
});

describe.each(ENGINES)('Engine.anyNonFinite, requireFinite\'s fast first look (%s engine)', (name) => {
  it('finds NaN and ±Infinity anywhere, in both dtypes and any length; finite values (-0, subnormals, ±max) pass', async () => {
    const { engine } = await import('./helpers');
    const e = engine(name);
    for (const Ctor of [Float32Array, Float64Array]) {
      const max = Ctor === Float32Array ? 3.4028234663852886e38 : Number.MAX_VALUE;
      expect(e.anyNonFinite(new Ctor(0))).toBe(false);
      expect(e.anyNonFinite(Ctor.from([-0, 1e-45, -max, max, 0.5]))).toBe(false);
      for (const length of [1, 3, 4, 5, 8, 1001]) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          for (const at of [0, Math.floor(length / 2), length - 1]) {
            const a = new Ctor(length).fill(0.25);
            a[at] = bad;
            expect(e.anyNonFinite(a)).toBe(true);
          }
        }
      }
    }
  });
});

it('the native anyNonFinite refuses what is not a Float32Array/Float64Array with a TypeError', async () => {
  const { loadNative } = await import('../lib/native');
  const binding = loadNative();
  for (const bad of [[1, 2], new Int32Array(2), undefined, 'x']) {
    let caught: unknown;
    try { binding.anyNonFinite(bad as never); } catch (err) { caught = err; }
    expect(caught).toBeInstanceOf(TypeError);
    expect((caught as Error).message).toMatch(/for data/);
  }
});
