// Training off the event loop (issue 5), on both engines: await fit equals a
// synchronous trainStep loop; an AbortSignal cancels between batches leaving
// exactly the parameters of the batches trained (checked by trainStep replays);
// a training model refuses a second fit/trainStep; a seed and a fixed thread
// count give bit-identical weights.
import { afterAll, describe, expect, it } from 'vitest';
import { AbortError, Dense, Dropout, Matrix, Sequential, backend, callbacks, optim, setThreads } from '../lib';
import type { Callback } from '../lib/callbacks';
import { ENGINES, maxRelDiff, randomArray } from './helpers';

const IN = 6;
const OUT = 3;
const ROWS = 600;
const BATCH = 8;
const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 31, Float64Array));
const Y = Int32Array.from({ length: ROWS }, (_, i) => (i * 5 + (X.data[i * IN]! > 0 ? 1 : 0)) % OUT);

function model(engine: 'native' | 'js', width = 32) {
  const m = new Sequential([new Dense(IN, width, { activation: 'tanh' }), new Dense(width, OUT)],
    { engine, seed: 3, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }) });
  return m;
}

function flat(m: Sequential): number[] {
  return Object.values(m.getWeights()).flatMap((a) => Array.from(a));
}

/** The weights after `batches` trainStep calls over the rows in order (epochs wrap around). */
function replay(engine: 'native' | 'js', batches: number, width = 32): number[] {
  const m = model(engine, width);
  const perEpoch = Math.ceil(ROWS / BATCH);
  for (let b = 0; b < batches; b++) {
    const start = (b % perEpoch) * BATCH;
    const end = Math.min(start + BATCH, ROWS);
    m.trainStep(new Matrix(end - start, IN, X.data.subarray(start * IN, end * IN)), Y.subarray(start, end));
  }
  return flat(m);
}

/** An observe-only callback counting the batches the engine completed. */
function counter(): Callback & { count: number } {
  return { observeOnly: true, count: 0, onBatchEnd() { this.count++; } } as Callback & { count: number };
}

describe.each(ENGINES)('async fit (%s engine)', (engine) => {
  it('await fit gives the weights and losses of a synchronous trainStep loop', async () => {
    const m = model(engine);
    const h = await m.fit(X, Y, { epochs: 2, batchSize: BATCH, shuffle: false });
    expect(flat(m)).toEqual(replay(engine, 2 * Math.ceil(ROWS / BATCH)));

    // The epoch loss is the row-weighted mean of the trainStep losses.
    const r = model(engine);
    let sum = 0;
    for (let start = 0; start < ROWS; start += BATCH) {
      const end = Math.min(start + BATCH, ROWS);
      sum += (end - start) * r.trainStep(new Matrix(end - start, IN, X.data.subarray(start * IN, end * IN)), Y.subarray(start, end));
    }
    expect(h.history['loss']![0]).toBeCloseTo(sum / ROWS, 12);
  });

  it('an abort mid-epoch rejects with an AbortError; the weights are those of the batches completed', async () => {
    const m = model(engine, 256);
    const controller = new AbortController();
    const seen = counter();
    const aborter: Callback = { observeOnly: true, onBatchEnd: (b) => { if (b === 3) controller.abort(); } };
    const err = await m.fit(X, Y, { epochs: 3, batchSize: BATCH, shuffle: false, signal: controller.signal,
      callbacks: [seen, aborter] }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).name).toBe('AbortError');
    expect((err as AbortError).history.epoch).toEqual([]);
    expect(seen.count).toBeGreaterThanOrEqual(4);
    expect(seen.count).toBeLessThan(3 * Math.ceil(ROWS / BATCH));
    expect(flat(m)).toEqual(replay(engine, seen.count, 256));
    // The model is idle and consistent: it trains on.
    await m.fit(X, Y, { epochs: 1, batchSize: 64 });
  });

  it('an abort from an acting batch hook stops after exactly that batch', async () => {
    const m = model(engine);
    const controller = new AbortController();
    const stopper = callbacks.lambda({ onBatchEnd: (b) => { if (b === 5) controller.abort(new Error('enough')); } });
    const err = await m.fit(X, Y, { epochs: 2, batchSize: BATCH, shuffle: false, signal: controller.signal,
      callbacks: [stopper] }).then(() => null, (e: unknown) => e) as AbortError;
    expect(err).toBeInstanceOf(AbortError);
    expect((err.cause as Error).message).toBe('enough');
    expect(flat(m)).toEqual(replay(engine, 6));
  });

  it('an abort between epochs keeps the history of the completed ones', async () => {
    const m = model(engine);
    const controller = new AbortController();
    const err = await m.fit(X, Y, { epochs: 5, batchSize: 64, signal: controller.signal,
      onEpochEnd: (e) => { if (e === 1) controller.abort(); } }).then(() => null, (e: unknown) => e) as AbortError;
    expect(err).toBeInstanceOf(AbortError);
    expect(err.history.epoch).toEqual([0, 1]);
    expect(err.history.history['loss']!.every(Number.isFinite)).toBe(true);
  });

  it('an already-aborted signal trains nothing; a bad signal is a TypeError naming it', async () => {
    const m = model(engine);
    const before = flat(m);
    await expect(m.fit(X, Y, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(flat(m)).toEqual(before);
    await expect(m.fit(X, Y, { signal: {} as never })).rejects.toThrow(/Expected an AbortSignal for signal/);
  });

  it('refuses a second fit, trainStep, evaluate or getWeights while training; accepts them after', async () => {
    const m = model(engine, 128);
    // Long enough that the JS engine yields (every 10 ms) before it ends.
    const rows = 6000;
    const big = new Matrix(rows, IN, randomArray(rows * IN, 4, Float64Array));
    const running = m.fit(big, Int32Array.from({ length: rows }, (_, i) => i % OUT), { epochs: 1, batchSize: 4 });
    await new Promise((r) => setImmediate(r));
    expect(() => m.trainStep(X, Y)).toThrow(/Sequential.trainStep: the model is training/);
    expect(() => m.evaluate(X, Y)).toThrow(/Sequential.evaluate: the model is training/);
    expect(() => m.getWeights()).toThrow(/Sequential.getWeights: the model is training/);
    await expect(m.fit(X, Y)).rejects.toThrow(/Sequential.fit: the model is training/);
    await running;
    expect(Number.isFinite(m.trainStep(X, Y))).toBe(true);
  });
});

describe('determinism: a seed and a fixed thread count give bit-identical weights', () => {
  const threads = backend().threads;
  afterAll(() => setThreads(threads));

  async function run(engine: 'native' | 'js'): Promise<number[]> {
    // Wide enough that gemm splits its work across threads; dropout and shuffling draw from the seed.
    const m = new Sequential([new Dense(IN, 192, { activation: 'relu' }), new Dropout(0.2), new Dense(192, OUT)],
      { engine, seed: 11, dtype: 'float32' });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    await m.fit(X, Y, { epochs: 2, batchSize: 64, shuffle: true });
    return flat(m);
  }

  it.each([['native', 1], ['native', 2], ['js', 1]] as const)('%s engine, %i thread(s)', async (engine, n) => {
    setThreads(n);
    const a = await run(engine);
    const b = await run(engine);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(b).toEqual(a);
    expect(a).not.toEqual(flat(new Sequential([new Dense(IN, 192, { activation: 'relu' }), new Dropout(0.2),
      new Dense(192, OUT)], { engine, seed: 11, dtype: 'float32' })));  // it did train
  });
});

describe('engine parity of the async paths', () => {
  it('observe-only, streamed and aborted fits train the same weights in the native and JS engines', async () => {
    const weights: Record<string, number[]> = {};
    for (const engine of ENGINES) {
      const m = model(engine);
      const seen = counter();
      await m.fit(() => [{ x: X, y: Y }], { epochs: 2, batchSize: BATCH, callbacks: [seen] });
      expect(seen.count).toBe(2 * Math.ceil(ROWS / BATCH));
      const controller = new AbortController();
      const stop = callbacks.lambda({ onBatchEnd: (b) => { if (b === 9) controller.abort(); } });
      await expect(m.fit(X, Y, { batchSize: BATCH, signal: controller.signal, callbacks: [stop] })).rejects.toThrow(AbortError);
      weights[engine] = flat(m);
    }
    expect(maxRelDiff(weights['js']!, weights['native']!)).toBeLessThan(1e-9);
  });
});
