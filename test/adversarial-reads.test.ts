// Inputs whose properties answer differently on a second read (a Proxy over a
// Matrix, as a caller's wrapper or a reactive store may hand over), and class
// indices over a shared or resizable buffer. Every call reads x's rows, cols
// and data once and uses what it checked; before, the JS engine's trainStep and
// evaluate re-read rows after the checks and trained or scored on other rows.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import { ENGINES, randomArray } from './helpers';

const ROWS = 64;
const COLS = 4;
const CLASSES = 3;
const LABELS = Int32Array.from({ length: ROWS }, (_, i) => (i * 7) % CLASSES);

function model(engine: 'native' | 'js'): Sequential {
  const m = new Sequential([new Dense(COLS, 8, { activation: 'tanh' }), new Dense(8, CLASSES)], { engine, seed: 11 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });
  return m;
}

function genuine(): Matrix {
  return new Matrix(ROWS, COLS, randomArray(ROWS * COLS, 3, Float32Array));
}

/**
 * A Proxy over a genuine Matrix: the first read of rows, cols or data answers
 * truthfully, every later one with another, self-consistent matrix of 8 zero
 * rows. reads counts the reads of each.
 */
function fickle(m: Matrix): { x: Matrix; reads: Record<string, number> } {
  const reads: Record<string, number> = { rows: 0, cols: 0, data: 0 };
  const later: Record<string, unknown> = { rows: 8, cols: COLS, data: new Float32Array(8 * COLS) };
  const x = new Proxy(m, {
    get(target, key, receiver) {
      if (typeof key === 'string' && key in reads) return reads[key]!++ === 0 ? Reflect.get(target, key, receiver) : later[key];
      return Reflect.get(target, key, receiver);
    },
  });
  return { x, reads };
}

type Call = (m: Sequential, x: Matrix) => Promise<unknown>;

const CALLS: Record<string, Call> = {
  trainStep: async (m, x) => [m.trainStep(x, LABELS), m.predict(genuine()).data],
  evaluate: async (m, x) => m.evaluate(x, LABELS),
  evaluateAsync: (m, x) => m.evaluateAsync(x, LABELS),
  predict: async (m, x) => m.predict(x).data,
  predictAsync: async (m, x) => (await m.predictAsync(x)).data,
  fit: async (m, x) => {
    const history = await m.fit(x, LABELS, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
    return [history.history, m.predict(genuine()).data];
  },
};

describe.each(ENGINES)('a Matrix whose properties change between reads (%s engine)', (engine) => {
  it.each(Object.keys(CALLS))('%s reads rows, cols and data once and uses what it checked', async (name) => {
    const call = CALLS[name]!;
    const expected = await call(model(engine), genuine());
    const { x, reads } = fickle(genuine());
    expect(await call(model(engine), x)).toEqual(expected);
    expect(reads).toEqual({ rows: 1, cols: 1, data: 1 });
  });
});

describe.each(ENGINES)('class indices over a shared or resizable buffer (%s engine)', (engine) => {
  const resizable = () => new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(ROWS * 4, { maxByteLength: ROWS * 8 });
  const buffers = { shared: () => new SharedArrayBuffer(ROWS * 4), resizable };

  it.each(Object.keys(buffers))('are copied, as x in that form is, and train as plain ones do (%s)', async (kind) => {
    const labels = () => {
      const y = new Int32Array(buffers[kind as keyof typeof buffers]());
      y.set(LABELS);
      return y;
    };
    const plain = model(engine);
    const other = model(engine);
    expect(other.trainStep(genuine(), labels())).toBe(plain.trainStep(genuine(), LABELS));
    expect(other.evaluate(genuine(), labels())).toEqual(plain.evaluate(genuine(), LABELS));

    // fit takes its copy when called: a change to the shared labels once it runs trains nothing.
    const y = labels();
    const running = other.fit(genuine(), y, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 });
    y.fill(CLASSES - 1);
    const [a, b] = [await running, await plain.fit(genuine(), LABELS, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 })];
    expect(a.history).toEqual(b.history);
    expect(other.predict(genuine()).data).toEqual(plain.predict(genuine()).data);
  });
});
