// Streamed training data (lib/fit-stream.ts), on both engines: fit over an
// async iterable of { x, y } chunks trains exactly as fit over the same rows in
// memory; a function source gives a fresh stream per epoch; a one-shot
// generator fails clearly in its second epoch; bad chunks name themselves.
import { describe, expect, it } from 'vitest';
import { AbortError, Dense, Matrix, Sequential, optim } from '../lib';
import type { Callback } from '../lib/callbacks';
import { ENGINES, randomArray } from './helpers';

const IN = 5;
const OUT = 2;
const ROWS = 240;
const BATCH = 12;
const CHUNK = 60;  // a multiple of BATCH: the mini-batches match those of the in-memory run
const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 17, Float64Array));
const Y = Int32Array.from({ length: ROWS }, (_, i) => (X.data[i * IN]! * X.data[i * IN + 1]! > 0 ? 1 : 0));

function model(engine: 'native' | 'js') {
  const m = new Sequential([new Dense(IN, 16, { activation: 'relu' }), new Dense(16, OUT)], { engine, seed: 21, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }), metrics: ['accuracy'] });
  return m;
}

function flat(m: Sequential): number[] {
  return Object.values(m.getWeights()).flatMap((a) => Array.from(a));
}

/** Reads the rows chunk by chunk, as a file reader would, pausing for I/O between chunks. */
async function* chunks(rows = ROWS, size = CHUNK): AsyncGenerator<{ x: Matrix; y: Int32Array }> {
  for (let start = 0; start < rows; start += size) {
    await new Promise((r) => setImmediate(r));
    const end = Math.min(start + size, rows);
    yield { x: new Matrix(end - start, IN, X.data.slice(start * IN, end * IN)), y: Y.slice(start, end) };
  }
}

describe.each(ENGINES)('fit on streamed chunks (%s engine)', (engine) => {
  it('equals fit on the same rows in memory (no shuffling)', async () => {
    const streamed = model(engine);
    const memory = model(engine);
    const hs = await streamed.fit(() => chunks(), { epochs: 3, batchSize: BATCH });
    const hm = await memory.fit(X, Y, { epochs: 3, batchSize: BATCH, shuffle: false });
    expect(flat(streamed)).toEqual(flat(memory));
    // The epoch loss sums chunk by chunk: the same value up to rounding.
    hs.history['loss']!.forEach((v, i) => expect(v).toBeCloseTo(hm.history['loss']![i]!, 12));
    expect(hs.epoch).toEqual([0, 1, 2]);
    expect(hs.params.steps).toBeNaN();  // unknown in advance
    expect(hs.history['accuracy']).toEqual(hm.history['accuracy']);  // folded chunk by chunk (test/stream-metrics.test.ts)
  });

  it('batch hooks see epoch-wide batch indices across chunks, in both driving modes', async () => {
    for (const observeOnly of [true, false]) {
      const batches: number[] = [];
      const cb: Callback = { observeOnly, onBatchEnd: (b) => { batches.push(b); } };
      await model(engine).fit(() => chunks(), { epochs: 1, batchSize: BATCH, callbacks: [cb] });
      expect(batches).toEqual([...Array(ROWS / BATCH).keys()]);
    }
  });

  it('takes an iterable of chunks and validationData; shuffles within chunks on request', async () => {
    const list = [{ x: X, y: Y }];
    const m = model(engine);
    const h = await m.fit(list, { epochs: 2, batchSize: BATCH, validationData: [X, Y] });
    expect(h.history['val_loss']!.length).toBe(2);
    expect(h.history['val_loss']![1]).toBeCloseTo(m.evaluate(X, Y)['loss']!, 12);
    const shuffled = model(engine);
    await shuffled.fit(list, { epochs: 1, batchSize: BATCH, shuffle: true });
    const ordered = model(engine);
    await ordered.fit(list, { epochs: 1, batchSize: BATCH });
    expect(flat(shuffled)).not.toEqual(flat(ordered));
  });

  it('a one-shot generator trains one epoch, then fails clearly', async () => {
    const m = model(engine);
    await expect(m.fit(chunks(), { epochs: 1, batchSize: BATCH })).resolves.toBeDefined();
    await expect(m.fit(chunks(), { epochs: 2, batchSize: BATCH })).rejects.toThrow(/epoch 2 .*fresh/);
  });

  it('an abort stops the stream between batches and closes it', async () => {
    const m = model(engine);
    const controller = new AbortController();
    let closed = false;
    async function* source() {
      try {
        yield* chunks();
      } finally {
        closed = true;
      }
    }
    const cb: Callback = { onBatchEnd: (b) => { if (b === 7) controller.abort(); } };
    await expect(m.fit(source, { epochs: 2, batchSize: BATCH, signal: controller.signal, callbacks: [cb] }))
      .rejects.toBeInstanceOf(AbortError);
    expect(closed).toBe(true);
  });

  it('rejects bad sources and chunks with errors that name them', async () => {
    const m = model(engine);
    await expect(m.fit(() => 42 as never, { epochs: 1 })).rejects.toThrow(/data source function's result/);
    await expect(m.fit([{ x: X }] as never, {})).rejects.toThrow(/data epoch 1 chunk 0/);
    await expect(m.fit([{ x: X, y: Y }, { x: new Matrix(2, IN + 1, new Float64Array(12)), y: [0, 1] }], {}))
      .rejects.toThrow(/columns for x of epoch 1 chunk 1/);
    await expect(m.fit([{ x: X, y: Y.subarray(1) }], {})).rejects.toThrow(/y of epoch 1 chunk 0/);
    const nan = X.data.slice();
    nan[3] = NaN;
    await expect(m.fit([{ x: new Matrix(ROWS, IN, nan), y: Y }], {})).rejects.toThrow(/x of epoch 1 chunk 0/);
    await expect(m.fit(() => chunks(), { validationSplit: 0.2 })).rejects.toThrow(/validationSplit with streamed data/);
    await expect(m.fit(() => chunks(), Y, {})).rejects.toThrow(/for y/);
    expect(Number.isFinite(m.trainStep(X, Y))).toBe(true);  // nothing left the model busy
  });
});
