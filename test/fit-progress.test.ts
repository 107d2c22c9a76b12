// Progress and serving while fit runs, on both engines: observe-only batch
// callbacks ride the engine's per-batch events (in order, with batch index,
// rows, loss and samples/s) without switching to batch-by-batch driving;
// stopTraining from one stops the engine; predict answers from the epoch's
// weight snapshot; predictAsync equals predict; the event loop keeps running.
import { describe, expect, it } from 'vitest';
import { Activation, BatchNorm1d, Dense, Matrix, Sequential, callbacks, optim } from '../lib';
import type { Callback, Logs } from '../lib/callbacks';
import { halfTimeGap, timerGaps } from './event-loop-gaps';
import { ENGINES, randomArray } from './helpers';

const IN = 8;
const OUT = 3;
const ROWS = 403;
const BATCH = 16;
const STEPS = Math.ceil(ROWS / BATCH);
const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 5, Float64Array));
const Y = Int32Array.from({ length: ROWS }, (_, i) => (X.data[i * IN]! > 0 ? 1 : 0) + (i % 2));

function model(engine: 'native' | 'js', width = 32, dtype: 'float32' | 'float64' = 'float64') {
  const m = new Sequential([new Dense(IN, width, { activation: 'tanh' }), new Dense(width, OUT)], { engine, seed: 9, dtype });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.05, momentum: 0.9 }) });
  return m;
}

function flat(m: Sequential): number[] {
  return Object.values(m.getWeights()).flatMap((a) => Array.from(a));
}

describe.each(ENGINES)('progress while training (%s engine)', (engine) => {
  it('observe-only onBatchEnd gets every batch in order with size, loss and samples/s', async () => {
    const events: { epoch: number; batch: number; logs: Logs; busy: boolean }[] = [];
    let epoch = -1;
    let m: Sequential;
    const observer: Callback = {
      observeOnly: true,
      onEpochBegin: (e) => { epoch = e; },
      onBatchEnd: (batch, logs) => {
        // The model is still training (engine-driven epoch): getWeights is refused.
        let busy = false;
        try { m.getWeights(); } catch { busy = true; }
        events.push({ epoch, batch, logs, busy });
      },
    };
    m = model(engine);
    const h = await m.fit(X, Y, { epochs: 2, batchSize: BATCH, callbacks: [observer] });
    expect(events.length).toBe(2 * STEPS);
    for (const e of [0, 1]) {
      const mine = events.filter((ev) => ev.epoch === e);
      expect(mine.map((ev) => ev.batch)).toEqual([...Array(STEPS).keys()]);
      expect(mine.map((ev) => ev.logs['size'])).toEqual([...Array(STEPS - 1).fill(BATCH), ROWS - (STEPS - 1) * BATCH]);
      const mean = mine.reduce((s, ev) => s + ev.logs['size']! * ev.logs['loss']!, 0) / ROWS;
      expect(mean).toBeCloseTo(h.history['loss']![e]!, 10);
    }
    expect(events.every((ev) => ev.busy)).toBe(true);
    expect(events.every((ev) => ev.logs['samplesPerSecond']! > 0 && Number.isFinite(ev.logs['samplesPerSecond']))).toBe(true);
    // Same training as without any callback.
    const plain = model(engine);
    const same = await plain.fit(X, Y, { epochs: 2, batchSize: BATCH });
    expect(h.history['loss']).toEqual(same.history['loss']);
    expect(flat(m)).toEqual(flat(plain));
  });

  it('async observers are awaited in order, every one before the epoch ends', async () => {
    const order: string[] = [];
    const slow: Callback = {
      observeOnly: true,
      onBatchEnd: async (b) => {
        if (b % 5 === 0) await new Promise((r) => setTimeout(r, 1));
        order.push(`a${b}`);
      },
      onEpochEnd: (e) => { order.push(`end${e}`); },
    };
    const fast: Callback = { observeOnly: true, onBatchEnd: (b) => { order.push(`b${b}`); } };
    await model(engine).fit(X, Y, { epochs: 2, batchSize: BATCH, callbacks: [slow, fast] });
    const epoch = [...Array(STEPS).keys()].flatMap((b) => [`a${b}`, `b${b}`]);
    expect(order).toEqual([...epoch, 'end0', ...epoch, 'end1']);
  });

  it('acting batch hooks still run between batches with the model idle', async () => {
    let m: Sequential;
    let idle = 0;
    const acting = callbacks.lambda({ onBatchEnd: (_b, logs) => {
      m.getWeights();  // would throw while the engine trains
      if (logs['samplesPerSecond']! > 0) idle++;
    } });
    m = model(engine);
    await m.fit(X, Y, { epochs: 1, batchSize: BATCH, callbacks: [acting] });
    expect(idle).toBe(STEPS);
  });

  it('stopTraining from an observe-only hook stops the epoch; the weights are those of the batches done', async () => {
    let m: Sequential;
    let count = 0;
    const stopper: Callback = { observeOnly: true, onBatchEnd: (b) => { count++; if (b === 2) m.stopTraining = true; } };
    m = model(engine, 256);
    const h = await m.fit(X, Y, { epochs: 4, batchSize: BATCH, shuffle: false, callbacks: [stopper] });
    expect(h.epoch.length).toBe(1);
    expect(count).toBeGreaterThanOrEqual(3);
    expect(count).toBeLessThanOrEqual(STEPS);
    const replay = model(engine, 256);
    for (let b = 0; b < count; b++) {
      const end = Math.min((b + 1) * BATCH, ROWS);
      replay.trainStep(new Matrix(end - b * BATCH, IN, X.data.subarray(b * BATCH * IN, end * IN)), Y.subarray(b * BATCH, end));
    }
    expect(flat(m)).toEqual(flat(replay));
  });

  it('a throwing observer rejects fit with its error; bad observeOnly callbacks are TypeErrors', async () => {
    const m = model(engine);
    const boom = new Error('observer failed');
    await expect(m.fit(X, Y, { batchSize: BATCH, callbacks: [{ observeOnly: true, onBatchEnd: () => { throw boom; } }] }))
      .rejects.toBe(boom);
    await expect(m.fit(X, Y, { callbacks: [{ observeOnly: 'yes' as never }] })).rejects.toThrow(/callbacks\[0\]\.observeOnly/);
    await expect(m.fit(X, Y, { callbacks: [{ observeOnly: true, onBatchBegin: () => undefined }] }))
      .rejects.toThrow(/onBatchBegin for callbacks\[0\]/);
    expect(() => callbacks.lambda({ observeOnly: 1 as never })).toThrow(/Expected a boolean for observeOnly/);
    // lambda takes observeOnly too; checkCallbacks still refuses it with onBatchBegin.
    const viaLambda = callbacks.lambda({ observeOnly: true, onBatchBegin: () => undefined });
    await expect(m.fit(X, Y, { callbacks: [viaLambda] })).rejects.toThrow(/observeOnly callbacks only observe/);
    let seen = 0;
    await m.fit(X, Y, { batchSize: BATCH, callbacks: [callbacks.lambda({ observeOnly: true, onBatchEnd: () => { seen++; } })] });
    expect(seen).toBe(STEPS);
    expect(Number.isFinite(m.trainStep(X, Y))).toBe(true);
  });

  it.each(['dense', 'batchnorm'] as const)('predict during fit answers from the snapshot taken when the epoch began (%s)', async (kind) => {
    let m: Sequential;
    const expected: number[][] = [];
    const during: { epoch: number; out: number[] }[] = [];
    let epoch = 0;
    const probe = X.data.subarray(0, 5 * IN);
    const cb: Callback = {
      observeOnly: true,
      onEpochBegin: (e) => { epoch = e; },
      // Epoch hooks run with the model idle: predict reads the live weights, which the next epoch starts from.
      onEpochEnd: (e) => { expected[e + 1] = Array.from(m.predict(new Matrix(5, IN, probe)).data); },
      onBatchEnd: (b) => {
        if (b % 7 === 0) during.push({ epoch, out: Array.from(m.predict(new Matrix(5, IN, probe)).data) });
      },
    };
    if (kind === 'dense') {
      m = model(engine);
    } else {
      // Batch norm's running statistics (buffers) are part of the snapshot too.
      m = new Sequential([new Dense(IN, 16), new BatchNorm1d(16), new Activation('relu'), new Dense(16, OUT)],
        { engine, seed: 4, dtype: 'float64' });
      m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    }
    expected[0] = Array.from(m.predict(new Matrix(5, IN, probe)).data);
    await m.fit(X, Y, { epochs: 3, batchSize: BATCH, callbacks: [cb] });
    expect(during.length).toBeGreaterThanOrEqual(3 * Math.floor(STEPS / 7));
    for (const d of during) {
      expect(d.out.every(Number.isFinite)).toBe(true);
      expect(d.out).toEqual(expected[d.epoch]);
    }
    expect(expected[1]).not.toEqual(expected[0]);  // the snapshot did move between epochs
  });

  it('predict from a timer while await fit runs returns the snapshot', async () => {
    const m = model(engine, 256);
    const rows = 4000;  // one epoch long enough for many timer ticks in both engines
    const big = new Matrix(rows, IN, randomArray(rows * IN, 8, Float64Array));
    const bigY = Int32Array.from({ length: rows }, (_, i) => i % OUT);
    const before = Array.from(m.predict(X).data);
    const seen: number[][] = [];
    const timer = setInterval(() => { seen.push(Array.from(m.predict(X).data)); }, 1);
    try {
      await m.fit(big, bigY, { epochs: 1, batchSize: 4 });
    } finally {
      clearInterval(timer);
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const out of seen) expect(out).toEqual(before);
  });

  it('predictAsync equals predict bit for bit; the JS engine yields between chunks of whole passes', async () => {
    const m = model(engine);
    let ticks = 0;
    const count = () => { ticks++; if (ticks < 1000) setImmediate(count); };
    setImmediate(count);
    const out = await m.predictAsync(X, { batchSize: 10 });
    // batchSize 10 is rounded up to the plan's passes of maxBatch (32) rows: 13 chunks in the JS engine.
    // (The native engine runs them all on a worker thread: test/predict-async.test.ts times that.)
    if (engine === 'js') expect(ticks).toBeGreaterThanOrEqual(Math.ceil(ROWS / 32) - 2);
    expect(out.rows).toBe(ROWS);
    expect(Array.from(out.data)).toEqual(Array.from(m.predict(X).data));
    expect(Array.from((await m.predictAsync(X)).data)).toEqual(Array.from(out.data));
    await expect(m.predictAsync(X, { batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(m.predictAsync(X, { chunk: 3 } as never)).rejects.toThrow(/chunk/);
    await expect(m.predictAsync(new Matrix(2, IN + 1, new Float64Array(2 * (IN + 1))))).rejects.toThrow(/columns for x/);
  });

  it('the event loop keeps running during await fit on a large-ish net (loose bound)', async () => {
    // The JS engine yields between batches only: small batches keep each under the timer's period.
    const rows = engine === 'native' ? 8192 : 512;
    const batchSize = engine === 'native' ? 128 : 8;
    const m = new Sequential([new Dense(128, 512, { activation: 'relu' }), new Dense(512, 256, { activation: 'relu' }),
      new Dense(256, 10)], { engine, seed: 1, dtype: 'float32' });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    const x = new Matrix(rows, 128, randomArray(rows * 128, 2, Float32Array));
    const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
    const { gaps, ticks, elapsed } = await timerGaps(5, () =>
      m.fit(x, y, { epochs: 1, batchSize, callbacks: [callbacks.progressBar({ stream: nullStream() })] }));
    // Loose: 2 shared cores; the design target (p99 < 20 ms) is measured by bench/. Half of the
    // fit's time ran in turns shorter than the bound (halfTimeGap, not the longest gap: one
    // descheduling of a loaded machine makes one gap as long as it lasts, whatever the code does).
    expect(halfTimeGap(gaps)).toBeLessThan(100);  // seen here under load: native ~7 ms, JS ~30 ms
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 50));
  });
});

function nullStream(): NodeJS.WritableStream {
  return { write: () => true } as unknown as NodeJS.WritableStream;
}
