// Rows given as an array of typed arrays ([Float32Array, Float64Array, number[], ...])
// are accepted wherever number[][] is (predict, predictAsync, evaluate, fit,
// trainStep, Matrix.from), give the same results as number[][], and are refused
// with the same errors for ragged rows and non-finite values.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import type { Dtype } from '../lib/engine';
import { ENGINES } from './helpers';

const ROWS = [[0.1, 0.2, 0.3], [0.4, -0.5, 0.6], [-0.7, 0.8, 0.9]];
const Y = [0, 1, 1];

function model(engine: 'native' | 'js', dtype: Dtype = 'float32') {
  const m = new Sequential([new Dense(3, 4, { activation: 'relu' }), new Dense(4, 2)], { engine, seed: 9, dtype });
  m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
  return m;
}

/** The same rows as typed arrays of one kind, or mixed with number[]. */
const FORMS: Record<string, () => (number[] | Float32Array | Float64Array)[]> = {
  'Float32Array rows': () => ROWS.map((r) => Float32Array.from(r)),
  'Float64Array rows': () => ROWS.map((r) => Float64Array.from(r)),
  'mixed rows': () => [Float32Array.from(ROWS[0]!), ROWS[1]!.slice(), Float64Array.from(ROWS[2]!)],
};

function errorOf(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new Error('expected an error, nothing was thrown');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

describe.each(ENGINES)('arrays of typed-array rows (%s engine)', (engine) => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [form, rows] of Object.entries(FORMS)) {
      it(`${dtype}, ${form}: predict, predictAsync, evaluate, trainStep and fit match number[][]`, async () => {
        // Float32 rows hold rounded values: compare against number[][] of those same values.
        const plain = rows().map((r) => Array.from(r));
        const a = model(engine, dtype), b = model(engine, dtype);
        expect(Array.from(a.predict(rows()).data)).toEqual(Array.from(b.predict(plain).data));
        expect(Array.from((await a.predictAsync(rows())).data)).toEqual(Array.from((await b.predictAsync(plain)).data));
        expect(a.evaluate(rows(), Y)).toEqual(b.evaluate(plain, Y));
        expect(a.trainStep(rows(), Y)).toBe(b.trainStep(plain, Y));
        const ha = await a.fit(rows(), Y, { epochs: 2, batchSize: 2, shuffle: false });
        const hb = await b.fit(plain, Y, { epochs: 2, batchSize: 2, shuffle: false });
        expect(ha.history).toEqual(hb.history);
        expect(a.getWeights()).toEqual(b.getWeights());
      });
    }

    it(`${dtype}: a ragged typed row is refused as a ragged number[] row, naming the row`, async () => {
      const m = model(engine, dtype);
      const ragged = [Float32Array.from([1, 2, 3]), new Float64Array([1, 2])];
      const expected = 'Expected 3 values (as in row 0) for x[1] but received a Float64Array of length 2';
      expect(errorOf(() => m.predict(ragged)).message).toBe(expected);
      expect(errorOf(() => m.predict(ragged)).message).toBe(errorOf(() => m.predict([[1, 2, 3], [1, 2]])).message.replace('an array', 'a Float64Array'));
      expect(errorOf(() => m.evaluate(ragged, [0, 1]))).toBeInstanceOf(RangeError);
      expect(errorOf(() => m.trainStep(ragged, [0, 1])).message).toBe(expected);
      expect((await rejection(m.predictAsync(ragged))).message).toBe(expected);
      expect((await rejection(m.fit(ragged, [0, 1], { epochs: 1 }))).message).toBe(expected);
      // Ragged the other way round: a typed first row, a longer number[] second.
      expect(errorOf(() => m.predict([new Float32Array(3), [1, 2, 3, 4]])).message).toBe(
        'Expected 3 values (as in row 0) for x[1] but received an array of length 4');
    });

    it(`${dtype}: non-finite values in typed rows are refused with the row and column, as in number[][]`, async () => {
      const m = model(engine, dtype);
      const rows = [Float64Array.from([1, 2, 3]), Float32Array.from([4, NaN, 6])];
      const expected = 'Expected finite values in x but received NaN at row 1, column 1';
      expect(errorOf(() => m.trainStep(rows, [0, 1])).message).toBe(expected);
      expect(errorOf(() => m.trainStep([[1, 2, 3], [4, NaN, 6]], [0, 1])).message).toBe(expected);
      expect(errorOf(() => m.evaluate(rows, [0, 1])).message).toBe(expected);
      expect((await rejection(m.fit(rows, [0, 1], { epochs: 1 }))).message).toBe(expected);
      const infinite = [Float64Array.from([1, 2, 3]), Float64Array.from([4, 5, -Infinity])];
      expect(errorOf(() => m.trainStep(infinite, [0, 1])).message).toBe('Expected finite values in x but received -Infinity at row 1, column 2');
    });

    it(`${dtype}: other row types are refused with a TypeError naming the row`, () => {
      const m = model(engine, dtype);
      const e = errorOf(() => m.predict([Float32Array.from([1, 2, 3]), new Int32Array(3)] as never));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toBe('Expected an array of numbers, a Float32Array or a Float64Array for x[1] but received a Int32Array of length 3');
      expect(errorOf(() => m.predict([new Float32Array(3), [1, 'a', 3]] as never)).message).toBe("Expected a number for x[1][1] but received 'a'");
    });
  }

  it('dense targets may be typed rows too (mse)', () => {
    const a = new Sequential([new Dense(3, 2)], { engine, seed: 1 });
    const b = new Sequential([new Dense(3, 2)], { engine, seed: 1 });
    a.compile({ loss: 'mse', optimizer: 'sgd' });
    b.compile({ loss: 'mse', optimizer: 'sgd' });
    const y = [[0.5, 1], [1, 0], [0, 0.25]];
    expect(a.trainStep(ROWS, y.map((r) => Float64Array.from(r)))).toBe(b.trainStep(ROWS, y));
    expect(errorOf(() => a.evaluate(ROWS, [new Float64Array([0, 0]), new Float64Array([0, 0]), new Float64Array([0, NaN])])).message)
      .toBe('Expected finite values in y but received NaN at index 5');
  });
});

describe('Matrix.from', () => {
  it('takes typed rows, copying them (a later change to a row does not reach the matrix)', () => {
    const row = Float64Array.from([1, 2]);
    const m = Matrix.from([row, [3, 4]], 'float64');
    row[0] = 99;
    expect(m.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(Matrix.from([Float32Array.from([0.1])]).data[0]).toBe(Math.fround(0.1));
  });

  it('refuses a transferred row, saying so', () => {
    const row = new Float32Array(2);
    structuredClone(row.buffer, { transfer: [row.buffer] });
    expect(errorOf(() => Matrix.from([new Float32Array(2), row])).message).toBe(
      'Expected a typed array whose buffer is not detached (it was transferred) for rows[1] but received a Float32Array of length 0');
  });
});
