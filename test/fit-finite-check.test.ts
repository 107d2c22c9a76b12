// fit's finiteness checks with the engine's fast test (lib/fit-input.ts,
// lib/fit-stream.ts, lib/finite-scan.ts): each chunk of x and of a dense y is
// first asked of anyNonFinite, and walked value by value only when it reports
// a NaN/±Infinity. What must not change: the error names the argument and the
// same row and column (or index) as the walk alone did, in both engines, both
// dtypes, in memory and streamed; the check still lets the event loop run
// between chunks.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import type { Dtype, FloatArray } from '../lib/engine';
import { anyNonFiniteSum } from '../lib/finite-scan';
import { CHECK_CHUNK_VALUES, requireFiniteInChunks, requireFiniteTargetInChunks } from '../lib/fit-input';
import { requireFinite } from '../lib/matrix';
import { ENGINES, engine } from './helpers';

const COLS = 784;
/** 3,000 × 784 = 2,352,000 values: three chunks of the check (1 Mi, 1 Mi and the rest). */
const ROWS = 3000;
const LENGTH = ROWS * COLS;
const BAD_VALUES = [NaN, Infinity, -Infinity];
/** The first, a middle and the last element, and both sides of the first chunk boundary. */
const POSITIONS = [0, Math.floor(LENGTH / 2), LENGTH - 1, CHECK_CHUNK_VALUES - 1, CHECK_CHUNK_VALUES];
const DTYPES: Dtype[] = ['float32', 'float64'];

function values(dtype: Dtype, length: number): FloatArray {
  const a = dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = (i % 251) / 251 - 0.5;
  return a;
}

/** The message of the per-value walk alone (requireFinite without a fast test), as before. */
function walkMessage(m: Matrix, name: string): string {
  try {
    requireFinite(m, name);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the walk found nothing');
}

function caught(fn: () => unknown): Promise<Error> {
  return Promise.resolve().then(fn).then(() => { throw new Error('did not throw'); }, (err: Error) => err);
}

describe.each(ENGINES)('fit\'s chunked checks with the %s engine\'s anyNonFinite', (name) => {
  const test = (data: FloatArray) => engine(name).anyNonFinite(data);

  it.each(DTYPES)('names the row and column the walk names, for NaN/±Infinity anywhere in a %s x of three chunks', async (dtype) => {
    const data = values(dtype, LENGTH);
    const m = new Matrix(ROWS, COLS, data);
    await requireFiniteInChunks(m, 'x', test);  // all finite: passes
    for (const at of POSITIONS) {
      for (const bad of BAD_VALUES) {
        data[at] = bad;
        const r = Math.floor(at / COLS);
        const expected = `Expected finite values in x but received ${bad} at row ${r}, column ${at - r * COLS}`;
        expect(walkMessage(m, 'x')).toBe(expected);
        const err = await caught(() => requireFiniteInChunks(m, 'x', test));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.message).toBe(expected);
        data[at] = 0.25;
      }
    }
  });

  it.each(DTYPES)('names the first bad index of a %s dense target of three chunks (mse: finiteness only)', async (dtype) => {
    const t = values(dtype, LENGTH);
    await requireFiniteTargetInChunks(t, 'y', 'mse', test);
    for (const at of POSITIONS) {
      for (const bad of BAD_VALUES) {
        t[at] = bad;
        const err = await caught(() => requireFiniteTargetInChunks(t, 'y', 'mse', test));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.message).toBe(`Expected finite values in y but received ${bad} at index ${at}`);
        t[at] = 0.25;
      }
    }
  });

  it('a loss with a target range still walks every value: bce finds a NaN and an out-of-range value', async () => {
    const t = values('float32', LENGTH).map((v) => v + 0.5);  // [0, 1)
    await requireFiniteTargetInChunks(t, 'y', 'bce', test);
    t[LENGTH - 1] = 1.5;
    expect((await caught(() => requireFiniteTargetInChunks(t, 'y', 'bce', test))).message)
      .toBe(`Expected targets in [0, 1] for y of loss 'bce' but received 1.5 at index ${LENGTH - 1}`);
    t[CHECK_CHUNK_VALUES + 3] = NaN;
    expect((await caught(() => requireFiniteTargetInChunks(t, 'y', 'bce', test))).message)
      .toBe(`Expected finite values in y but received NaN at index ${CHECK_CHUNK_VALUES + 3}`);
  });

  it('asks the fast test once per chunk and walks only from the chunk it flags: the first bad value wins', async () => {
    const data = values('float64', LENGTH);
    const m = new Matrix(ROWS, COLS, data);
    const seen: number[] = [];
    const counting = (d: FloatArray) => { seen.push(d.length); return test(d); };
    await requireFiniteInChunks(m, 'x', counting);
    expect(seen).toEqual([CHECK_CHUNK_VALUES, CHECK_CHUNK_VALUES, LENGTH - 2 * CHECK_CHUNK_VALUES]);
    seen.length = 0;
    data[CHECK_CHUNK_VALUES + 10] = Infinity;  // chunk 1
    data[CHECK_CHUNK_VALUES + 20] = NaN;       // chunk 1, later
    data[LENGTH - 1] = NaN;                    // chunk 2: never reached
    const r = Math.floor((CHECK_CHUNK_VALUES + 10) / COLS);
    expect((await caught(() => requireFiniteInChunks(m, 'x', counting))).message)
      .toBe(`Expected finite values in x but received Infinity at row ${r}, column ${CHECK_CHUNK_VALUES + 10 - r * COLS}`);
    expect(seen).toHaveLength(2);
  });

  it('lets the event loop turn between every two chunks, as it did when each chunk took longer than the yield budget', async () => {
    let ticks = 0;
    let ticking = true;
    const tick = () => { if (ticking) { ticks++; setImmediate(tick); } };
    setImmediate(tick);
    const m = new Matrix(ROWS, COLS, values('float32', LENGTH));
    const t = values('float64', LENGTH);
    // The engine's test (a chunk: ~1-5 ms), then one slower than lib/event-loop.ts's 15 ms budget
    // per chunk, where the check on the shared clock yielded between every two chunks too.
    const slow = (d: FloatArray) => { const end = performance.now() + 20; while (performance.now() < end); return test(d); };
    for (const chunkTest of [test, slow]) {
      const atCall: number[] = [];
      const recording = (d: FloatArray) => { atCall.push(ticks); return chunkTest(d); };
      await requireFiniteInChunks(m, 'x', recording);
      await requireFiniteTargetInChunks(t, 'y', 'mse', recording);
      expect(atCall).toHaveLength(6);
      for (const i of [1, 2, 4, 5]) expect(atCall[i]!).toBeGreaterThan(atCall[i - 1]!);  // within x, within y
    }
    ticking = false;
  });
});

describe('the engines\' whole-array tests agree on chunk views', () => {
  it('the native and JS engines\' tests give one answer for every view, a bad value just outside a view included', () => {
    const tests = [engine('native').anyNonFinite, engine('js').anyNonFinite, anyNonFiniteSum];
    for (const dtype of DTYPES) {
      const data = values(dtype, 10_000);
      for (const [bad, at] of [[NaN, 0], [Infinity, 4096], [-Infinity, 9999], [NaN, 5003]] as const) {
        data[at] = bad;
        for (const [from, to] of [[0, 10_000], [at, at + 1], [at + 1, 10_000], [0, at], [Math.max(0, at - 7), Math.min(10_000, at + 9)]]) {
          const view = data.subarray(from, to);
          const expected = at >= from && at < to;
          for (const t of tests) expect(t(view)).toBe(expected);
        }
        data[at] = 0.5;
      }
    }
  });
});

describe.each(ENGINES)('fit refuses non-finite data as before (%s engine)', (name) => {
  /** x: 3,000 × 784 (three chunks); a dense y of 3,000 × 2. */
  function xModel(dtype: Dtype): Sequential {
    const m = new Sequential([new Dense(COLS, 2)], { engine: name, seed: 3, dtype });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    return m;
  }
  /** x: 3,000 × 2; a dense y of 3,000 × 784 (three chunks). */
  function yModel(dtype: Dtype): Sequential {
    const m = new Sequential([new Dense(2, COLS)], { engine: name, seed: 3, dtype });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    return m;
  }

  it.each(DTYPES)('in memory, %s: a NaN/±Infinity at the first, a middle and the last value of x or y is named', async (dtype) => {
    const x = new Matrix(ROWS, COLS, values(dtype, LENGTH));
    const narrow = new Matrix(ROWS, 2, values(dtype, ROWS * 2));
    const wide = new Matrix(ROWS, COLS, values(dtype, LENGTH));
    const mx = xModel(dtype);
    const my = yModel(dtype);
    const before = [mx.getWeights(), my.getWeights()];
    for (const at of [0, Math.floor(LENGTH / 2), LENGTH - 1]) {
      for (const bad of BAD_VALUES) {
        x.data[at] = bad;
        const r = Math.floor(at / COLS);
        await expect(mx.fit(x, narrow, { epochs: 1 }))
          .rejects.toThrow(`Expected finite values in x but received ${bad} at row ${r}, column ${at - r * COLS}`);
        x.data[at] = 0.25;
        wide.data[at] = bad;
        await expect(my.fit(narrow, wide, { epochs: 1 }))
          .rejects.toThrow(`Expected finite values in y but received ${bad} at index ${at}`);
        wide.data[at] = 0.25;
      }
    }
    expect([mx.getWeights(), my.getWeights()]).toEqual(before);  // refused before any step
    // And with all values finite again, both train.
    expect((await mx.fit(x, narrow, { epochs: 1, batchSize: ROWS })).history.loss).toHaveLength(1);
    expect((await my.fit(narrow, wide, { epochs: 1, batchSize: ROWS })).history.loss).toHaveLength(1);
  }, 60_000);

  it.each(DTYPES)('validationData, %s: the bad value is named in validationData[0] or validationData[1]', async (dtype) => {
    const narrow = new Matrix(ROWS, 2, values(dtype, ROWS * 2));
    const wide = new Matrix(ROWS, COLS, values(dtype, LENGTH));
    const vx = new Matrix(ROWS, 2, values(dtype, ROWS * 2));
    const vy = new Matrix(ROWS, COLS, values(dtype, LENGTH));
    vy.data[LENGTH - 1] = -Infinity;
    await expect(yModel(dtype).fit(narrow, wide, { epochs: 1, validationData: [vx, vy] }))
      .rejects.toThrow(`Expected finite values in validationData[1] but received -Infinity at index ${LENGTH - 1}`);
    vx.data[5] = NaN;
    await expect(yModel(dtype).fit(narrow, wide, { epochs: 1, validationData: [vx, vy] }))
      .rejects.toThrow('Expected finite values in validationData[0] but received NaN at row 2, column 1');
  }, 60_000);

  it.each(DTYPES)('streamed, %s: the chunk, row and column (or index) of a bad value in x or y are named', async (dtype) => {
    const rows = 1000;  // per streamed chunk: 784,000 values of x or y
    const size = rows * COLS;
    const stream = (bad: { chunk: number; at: number; value: number; inY: boolean }) => [0, 1, 2].map((k) => {
      const x = values(dtype, bad.inY ? rows * 2 : size);
      const y = values(dtype, bad.inY ? size : rows * 2);
      if (k === bad.chunk) (bad.inY ? y : x)[bad.at] = bad.value;
      return bad.inY ? { x: new Matrix(rows, 2, x), y: new Matrix(rows, COLS, y) } : { x: new Matrix(rows, COLS, x), y: new Matrix(rows, 2, y) };
    });
    const cases = [{ chunk: 0, at: 0 }, { chunk: 1, at: Math.floor(size / 2) }, { chunk: 2, at: size - 1 }];
    for (const [i, { chunk, at }] of cases.entries()) {
      const value = BAD_VALUES[i]!;
      const r = Math.floor(at / COLS);
      await expect(xModel(dtype).fit(stream({ chunk, at, value, inY: false }), { epochs: 1, batchSize: rows }))
        .rejects.toThrow(`Expected finite values in x of epoch 1 chunk ${chunk} but received ${value} at row ${r}, column ${at - r * COLS}`);
      await expect(yModel(dtype).fit(stream({ chunk, at, value, inY: true }), { epochs: 1, batchSize: rows }))
        .rejects.toThrow(`Expected finite values in y of epoch 1 chunk ${chunk} but received ${value} at index ${at}`);
    }
  }, 60_000);
});

// A JS-engine model checks with the JS engine's sum (lib/finite-scan.ts), so its checks work
// where no addon loads: tested in a child process that cannot load it, where node-gyp-build
// (which lib/native.ts asks for the addon) throws, as when no binary fits.
describe('a process where the addon does not load', () => {
  it('checks with the JS engine\'s sum and names the same row, column and index', () => {
    const root = path.join(__dirname, '..');
    const dist = JSON.stringify(path.join(root, 'dist'));
    const code = `
      const Module = require('node:module');
      const load = Module._load;
      Module._load = function (request, ...rest) {
        if (request === 'node-gyp-build') throw new Error('no addon in this process');
        return load.call(this, request, ...rest);
      };
      const { Sequential, Dense, Matrix } = require(${dist});
      const rows = ${ROWS}, cols = ${COLS};
      const x = new Matrix(rows, cols, new Float32Array(rows * cols).fill(0.5));
      x.data[${Math.floor(LENGTH / 2)}] = NaN;
      const m = new Sequential([new Dense(cols, 2)], { engine: 'js', seed: 1 });
      m.compile({ loss: 'mse', optimizer: 'sgd' });
      const y = new Matrix(rows, 2, new Float32Array(rows * 2));
      const wide = new Sequential([new Dense(2, cols)], { engine: 'js', seed: 1 });
      wide.compile({ loss: 'mse', optimizer: 'sgd' });
      const chunk = { x: new Matrix(10, 2, new Float32Array(20)), y: new Matrix(10, cols, new Float32Array(10 * cols)) };
      chunk.y.data[${COLS * 10 - 1}] = -Infinity;
      (async () => {
        const messages = [];
        for (const run of [() => m.fit(x, y, { epochs: 1 }), () => wide.fit([chunk], { epochs: 1 })]) {
          try { await run(); messages.push('no error'); } catch (e) { messages.push(e.message); }
        }
        console.log(JSON.stringify({ messages }));
      })();`;
    const env = { ...process.env, NODE_NO_WARNINGS: '1' };  // the fallback's one-line warning
    const out = JSON.parse(execFileSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', env })) as { messages: string[] };
    const at = Math.floor(LENGTH / 2);
    const r = Math.floor(at / COLS);
    expect(out).toEqual({
      messages: [
        `Expected finite values in x but received NaN at row ${r}, column ${at - r * COLS}`,
        `Expected finite values in y of epoch 1 chunk 0 but received -Infinity at index ${COLS * 10 - 1}`,
      ],
    });
  }, 60_000);
});
