// evaluateAsync, in both engines: evaluate's Logs bit for bit (both dtypes,
// class-index, probability-row and matrix targets, built-in and custom losses,
// every metric, any batchSize); evaluate's checks with evaluate's errors;
// refused while fit runs as evaluate is (allowed in fit's hooks); the weights,
// loss, metrics and data of the moment of the call whatever runs meanwhile; an
// AbortSignal that stops it and leaves the model as it was; dispose(); the
// event loop running while it evaluates. predictAsync's signal is tested here
// too (the same path). test/predict-async*.test.ts cover the forward pass.
import { describe, expect, it } from 'vitest';
import { AbortError, BatchNorm1d, Dense, Dropout, LayerNorm, Matrix, Sequential } from '../lib';
import type { EngineName } from '../lib/engine';
import type { Logs } from '../lib/sequential';
import { ENGINES, maxRelDiff, randomArray, thrown } from './helpers';

const IN = 12;
const OUT = 4;

type Dtype = 'float32' | 'float64';

function model(engine: EngineName, loss: string, opts: { dtype?: Dtype; seed?: number; metrics?: string[] } = {}) {
  // Batch norm (running statistics in eval), dropout (identity in eval) and layer norm (per row).
  const m = new Sequential([
    new Dense(IN, 40, { activation: 'relu' }), new BatchNorm1d(40), new Dropout(0.3),
    new Dense(40, 24, { activation: 'tanh' }), new LayerNorm(24), new Dense(24, OUT),
  ], { engine, seed: opts.seed ?? 7, dtype: opts.dtype ?? 'float32' });
  m.compile({ loss: loss as never, optimizer: 'adam', metrics: (opts.metrics ?? []) as never });
  return m;
}

function rowsOf(rows: number, seed: number, dtype: Dtype = 'float32') {
  return new Matrix(rows, IN, randomArray(rows * IN, seed, dtype === 'float32' ? Float32Array : Float64Array));
}

function classes(x: Matrix): Int32Array {
  return Int32Array.from({ length: x.rows }, (_, i) => (x.data[i * IN]! > 0 ? 1 : 0) + 2 * (i % 2));
}

function dense(rows: number, seed: number, dtype: Dtype = 'float32') {
  return new Matrix(rows, OUT, randomArray(rows * OUT, seed, dtype === 'float32' ? Float32Array : Float64Array));
}

/** Same keys, and every value the same double (Object.is: -0 and NaN too). */
function expectSameLogs(actual: Logs, expected: Logs) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const key of Object.keys(expected)) {
    if (!Object.is(actual[key], expected[key])) {
      throw new Error(`${key}: evaluateAsync ${actual[key]} !== evaluate ${expected[key]}`);
    }
  }
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection, the call resolved');
}

const CLASS_METRICS = ['accuracy', 'top_k_accuracy', 'precision', 'recall', 'f1', 'log_loss'];
const DENSE_METRICS = ['mae', 'mse', 'rmse', 'r2'];

describe.each(ENGINES)('evaluateAsync (%s engine)', (engine) => {
  it('equals evaluate bit for bit: both dtypes, class-index, probability-row and matrix targets, every batchSize', async () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = rowsOf(301, 3, dtype);
      const probs = new Matrix(301, OUT, Float64Array.from({ length: 301 * OUT }, (_, i) => (i % OUT === classes(x)[Math.floor(i / OUT)]! ? 0.85 : 0.05)));
      const cases: [string, unknown, string[]][] = [
        ['cross-entropy', classes(x), CLASS_METRICS],
        ['cross-entropy', Array.from(classes(x)), ['accuracy']],  // number[] indices
        ['cross-entropy', probs, ['accuracy', 'log_loss']],
        ['mse', dense(301, 4, dtype), DENSE_METRICS],
        ['huber', dense(301, 5, dtype).toArray(), ['mae']],  // number[][] target
        ['bce-with-logits', new Matrix(301, OUT, dense(301, 6, dtype).data.map((v) => (v > 0 ? 1 : 0))), ['binary_accuracy']],
      ];
      for (const [loss, y, metrics] of cases) {
        const m = model(engine, loss, { dtype, metrics });
        const expected = m.evaluate(x, y);
        expect(Number.isFinite(expected.loss)).toBe(true);
        for (const batchSize of [1, 7, 64, 1000, undefined]) {
          expectSameLogs(await m.evaluateAsync(x, y, { batchSize }), expected);
        }
        expectSameLogs(await m.evaluateAsync(x.toArray(), y), m.evaluate(x.toArray(), y));  // number[][] input
      }
    }
  });

  it('after fit (running statistics moved, passes of another size) and in eval or training mode', async () => {
    const x = rowsOf(400, 8);
    const y = classes(x);
    const m = model(engine, 'cross-entropy', { metrics: ['accuracy', 'f1'] });
    await m.fit(x, y, { epochs: 2, batchSize: 90 });
    expectSameLogs(await m.evaluateAsync(x, y, { batchSize: 33 }), m.evaluate(x, y));
    m.eval();
    expectSameLogs(await m.evaluateAsync(x, y), m.evaluate(x, y));
    m.train();
    expectSameLogs(await m.evaluateAsync(x, y), m.evaluate(x, y));
  });

  it('a custom loss and a single-output model with a flat target', async () => {
    const x = rowsOf(120, 9, 'float64');
    const custom = new Sequential([new Dense(IN, 6, { activation: 'tanh' }), new Dense(6, 1)], { engine, seed: 3, dtype: 'float64' });
    let calls = 0;
    custom.compile({
      loss: {
        forward: (p: Matrix, t: Matrix) => { calls++; let s = 0; for (let i = 0; i < p.data.length; i++) s += Math.abs(p.data[i]! - t.data[i]!); return s / p.rows; },
        backward: (p: Matrix, t: Matrix) => new Matrix(p.rows, p.cols, p.data.map((v, i) => Math.sign(v - t.data[i]!) / p.rows) as Float64Array),
      } as never,
      optimizer: 'sgd',
      metrics: ['mae', 'r2'],
    });
    const y = Float64Array.from({ length: 120 }, (_, i) => Math.cos(i));
    const expected = custom.evaluate(x, y);
    expectSameLogs(await custom.evaluateAsync(x, y, { batchSize: 16 }), expected);
    expect(calls).toBe(2);
  });

  it('checks x, y and its options as evaluate checks them, with the same errors', async () => {
    const m = model(engine, 'cross-entropy');
    const mse = model(engine, 'mse');
    const x = rowsOf(5, 10);
    const y = classes(x);
    const nanX = rowsOf(5, 10);
    nanX.data[7] = NaN;
    // Each pair: what evaluate throws, evaluateAsync rejects with (class and message).
    const bad: [Sequential, unknown, unknown][] = [
      [m, 'not a matrix', y],
      [m, new Matrix(2, IN + 1, new Float32Array(2 * (IN + 1))), [0, 1]],
      [m, [[1, 2]], [0]],
      [m, new Matrix(0, IN, new Float32Array(0)), []],
      [m, nanX, y],
      [m, x, [0, 1]],                    // 2 indices for 5 rows
      [m, x, [0, 1, 2, 3, 4]],           // class 4 of 4 outputs
      [m, x, [0, 1, 2, 3, 0.5]],
      [m, x, 'abc'],
      [mse, x, dense(5, 1).toArray().map((r, i) => (i === 3 ? [r[0], Infinity, r[2], r[3]] : r))],
      [mse, x, y],                       // class indices for mse
      [mse, x, dense(4, 1)],             // 4 rows of target for 5
    ];
    for (const [target, input, labels] of bad) {
      const expected = thrown(() => target.evaluate(input, labels));
      expect(expected instanceof TypeError || expected instanceof RangeError).toBe(true);
      const got = await rejection(target.evaluateAsync(input, labels));
      expect(got.message).toBe(expected.message);
      expect(got).toBeInstanceOf(expected instanceof RangeError ? RangeError : TypeError);
      expect(got.code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
    }
    const badOptions: [unknown, ErrorConstructor, RegExp][] = [
      [{ batchSize: 0 }, RangeError, /for batchSize/],
      [{ batchSize: 2.5 }, RangeError, /for batchSize/],
      [{ batchSize: '8' }, TypeError, /for batchSize/],
      [{ signal: 'stop' }, TypeError, /Expected an AbortSignal for signal but received 'stop'/],
      [{ signal: new AbortController() }, TypeError, /for signal/],
      [{ batch: 8 }, RangeError, /Unknown option 'batch' for evaluateAsync options/],
      ['fast', TypeError, /for evaluateAsync options/],
    ];
    for (const [opts, Ctor, message] of badOptions) {
      const got = await rejection(m.evaluateAsync(x, y, opts as never));
      expect(got).toBeInstanceOf(Ctor);
      expect(got.message).toMatch(message);
    }
    const uncompiled = new Sequential([new Dense(IN, OUT)], { engine, seed: 1 });
    expect((await rejection(uncompiled.evaluateAsync(x, y))).message).toBe(thrown(() => uncompiled.evaluate(x, y)).message.replace('evaluate:', 'evaluateAsync:'));
    expectSameLogs(await m.evaluateAsync(x, y), m.evaluate(x, y));  // still usable
  });

  it('answers for the weights, loss, metrics, x and y of the moment of the call', async () => {
    const x = rowsOf(200, 11);
    const y = classes(x);
    const m = model(engine, 'cross-entropy', { metrics: ['accuracy'] });
    const expected = m.evaluate(x, y);
    const other = model(engine, 'cross-entropy', { seed: 99 });
    const w0 = m.getWeights();

    const p = m.evaluateAsync(x, y, { batchSize: 16 });
    x.data.fill(0);                                   // the caller's arrays change...
    y.fill(3);
    m.setWeights(other.getWeights());                 // ...and so do the weights, loss and metrics
    m.compile({ loss: 'nll', optimizer: 'sgd', metrics: ['f1'] });
    expectSameLogs(await p, expected);

    m.setWeights(w0);
    m.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });
    const fresh = rowsOf(200, 11);
    expectSameLogs(await m.evaluateAsync(fresh, classes(fresh)), expected);  // the same model again
  });

  it('is refused while fit runs, as evaluate is; in fit\'s hooks it evaluates the live weights', async () => {
    const x = rowsOf(300, 12);
    const y = classes(x);
    const probe = rowsOf(60, 13);
    const probeY = classes(probe);
    const m = model(engine, 'cross-entropy', { metrics: ['accuracy'] });
    const before = m.evaluate(probe, probeY);
    const early = m.evaluateAsync(probe, probeY, { batchSize: 8 });  // called before fit starts
    const inHooks: [Logs, Logs][] = [];
    const fitting = m.fit(x, y, {
      epochs: 2, batchSize: 32,
      onEpochEnd: async () => { inHooks.push([await m.evaluateAsync(probe, probeY, { batchSize: 8 }), m.evaluate(probe, probeY)]); },
    });
    const during = await rejection(m.evaluateAsync(probe, probeY));
    expect(during.code).toBe('ERR_FASTMLP_BUSY');
    expect(during.message).toBe(thrown(() => m.evaluate(probe, probeY)).message.replace('evaluate:', 'evaluateAsync:'));
    await fitting;
    expectSameLogs(await early, before);              // the weights of its moment, though fit ran meanwhile
    expect(inHooks).toHaveLength(2);
    for (const [got, want] of inHooks) expectSameLogs(got, want);

    const alone = model(engine, 'cross-entropy', { metrics: ['accuracy'] });
    await alone.fit(x, y, { epochs: 2, batchSize: 32 });
    expect(m.getWeights()).toEqual(alone.getWeights());  // the evaluations did not disturb training
  });

  it('an AbortSignal stops it: AbortError with the reason as cause, the model untouched and usable', async () => {
    const x = rowsOf(3000, 14);
    const y = classes(x);
    const m = model(engine, 'cross-entropy', { metrics: ['accuracy'] });
    const weights = m.getWeights();
    const expected = m.evaluate(x, y);

    const already = AbortSignal.abort('not now');
    const e0 = await rejection(m.evaluateAsync(x, y, { signal: already }));
    expect([e0.name, e0.code, e0.cause]).toEqual(['AbortError', 'ABORT_ERR', 'not now']);
    expect(e0).toBeInstanceOf(AbortError);  // the class fit rejects with: one instanceof catches every abort
    expect((e0 as unknown as AbortError).history).toBeNull();
    expect(e0.message).toMatch(/^evaluateAsync was aborted/);

    // Aborted in the call's turn (always before it settles: the native completion runs on the main
    // thread, after this turn), and after a few turns: the JS engine is then between two of its 94
    // chunks; the native worker may have finished its ~1 ms of work and the call settled first — a
    // settled call is not cancelled, and its answer must then be the right one.
    for (const wait of [0, 1, 3]) {
      const c = new AbortController();
      const p = m.evaluateAsync(x, y, { batchSize: 32, signal: c.signal });
      for (let i = 0; i < wait; i++) await new Promise((r) => setImmediate(r));
      c.abort(new Error('enough'));
      const outcome = await p.then((logs) => logs, (e: Error) => e);
      if (outcome instanceof Error) {
        expect(outcome.name).toBe('AbortError');
        expect((outcome.cause as Error).message).toBe('enough');
      } else {
        expect(engine === 'native' && wait > 0).toBe(true);
        expectSameLogs(outcome, expected);
      }
    }
    expect(m.getWeights()).toEqual(weights);
    expectSameLogs(await m.evaluateAsync(x, y, { batchSize: 500 }), expected);
    expectSameLogs(m.evaluate(x, y), expected);

    // An abort after it settled changes nothing; a signal that never aborts changes nothing.
    const late = new AbortController();
    expectSameLogs(await m.evaluateAsync(x, y, { signal: late.signal }), expected);
    late.abort();
    expectSameLogs(await m.evaluateAsync(x, y, { signal: new AbortController().signal }), expected);
  });

  it('an abort stops the forward pass early, not at its end', async () => {
    // A call of ~0.1-0.5 s (native: 32 chunks of 256 rows on the worker; JS: 64 passes of 32 rows),
    // aborted after one turn of the event loop, settles in well under half the time of a full call.
    const m = engine === 'native'
      ? new Sequential([new Dense(256, 512, { activation: 'relu' }), new Dense(512, 512, { activation: 'relu' }), new Dense(512, 10)], { engine, seed: 1 })
      : new Sequential([new Dense(64, 256, { activation: 'relu' }), new Dense(256, 256, { activation: 'relu' }), new Dense(256, 10)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy' });
    const rows = engine === 'native' ? 8192 : 2048;
    const x = new Matrix(rows, m.inputSize, randomArray(rows * m.inputSize, 23, Float32Array));
    const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
    await m.evaluateAsync(x, y);  // warm-up: the private plan exists and holds the weights
    let t0 = performance.now();
    await m.evaluateAsync(x, y, { batchSize: 256 });
    const full = performance.now() - t0;
    const c = new AbortController();
    t0 = performance.now();
    const p = m.evaluateAsync(x, y, { batchSize: 256, signal: c.signal });
    await new Promise((r) => setImmediate(r));
    c.abort();
    expect((await rejection(p)).name).toBe('AbortError');
    expect(performance.now() - t0).toBeLessThan(full / 2);
  });

  it('predictAsync takes the same signal: AbortError, the model untouched', async () => {
    const x = rowsOf(2000, 15);
    const m = model(engine, 'mse');
    const expected = Array.from(m.predict(x).data);
    const c = new AbortController();
    const p = m.predictAsync(x, { batchSize: 16, signal: c.signal });
    if (engine === 'js') await new Promise((r) => setImmediate(r));  // between chunks (native: see above)
    c.abort();
    const e = await rejection(p);
    expect([e.name, e.code]).toEqual(['AbortError', 'ABORT_ERR']);
    expect(e).toBeInstanceOf(AbortError);
    expect(e.message).toMatch(/^predictAsync was aborted/);
    expect(Array.from((await m.predictAsync(x, { signal: new AbortController().signal })).data)).toEqual(expected);
    await expect(m.predictAsync(x, { signal: {} as never })).rejects.toThrow(/Expected an AbortSignal for signal/);
  });

  it('dispose() while pending rejects it with ERR_FASTMLP_DISPOSED, and later calls too', async () => {
    const x = rowsOf(2000, 16);
    const y = classes(x);
    const m = model(engine, 'cross-entropy');
    const pending = [m.evaluateAsync(x, y, { batchSize: 32 }), m.evaluateAsync(x, y, { batchSize: 64 })];
    const codes = Promise.all(pending.map(async (p) => (await rejection(p)).code));  // handled at once
    m.dispose();
    expect(await codes).toEqual(['ERR_FASTMLP_DISPOSED', 'ERR_FASTMLP_DISPOSED']);
    expect((await rejection(m.evaluateAsync(x, y))).code).toBe('ERR_FASTMLP_DISPOSED');
    // Disposed and aborted: no crash, either error.
    const n = model(engine, 'cross-entropy');
    const c = new AbortController();
    const p = n.evaluateAsync(x, y, { batchSize: 8, signal: c.signal });
    n.dispose();
    c.abort();
    expect(['ERR_FASTMLP_DISPOSED', 'ABORT_ERR']).toContain((await rejection(p)).code);
  });

  it('lets the event loop run while it evaluates (native: during one big chunk, on a worker thread)', async () => {
    const m = engine === 'native'
      ? new Sequential([new Dense(256, 512, { activation: 'relu' }), new Dense(512, 512, { activation: 'relu' }), new Dense(512, 10)], { engine, seed: 1 })
      : model(engine, 'cross-entropy');
    if (engine === 'native') m.compile({ loss: 'cross-entropy', metrics: ['accuracy'] });
    const rows = engine === 'native' ? 8192 : 2000;
    const x = new Matrix(rows, m.inputSize, randomArray(rows * m.inputSize, 17, Float32Array));
    const y = Int32Array.from({ length: rows }, (_, i) => i % m.outputSize);
    // Native: a 1 ms interval timer during one chunk of every row (~6.5 GFLOP) on the worker;
    // a main-thread evaluate would let it fire only once it returned.
    // JS: 63 chunks of 32 rows with a yield after each, counted by a setImmediate chain.
    let ticks = 0;
    let counting = true;
    const count = () => { ticks++; if (counting) setImmediate(count); };
    const timer = engine === 'native' ? setInterval(() => { ticks++; }, 1) : null;
    if (engine === 'js') setImmediate(count);
    let logs: Logs;
    try {
      logs = await m.evaluateAsync(x, y, { batchSize: engine === 'native' ? rows : 32 });
    } finally {
      if (timer) clearInterval(timer);
      counting = false;
    }
    expect(ticks).toBeGreaterThanOrEqual(engine === 'native' ? 3 : Math.ceil(rows / 32) - 2);
    expectSameLogs(logs, m.evaluate(x, y));
  });
});

describe('evaluateAsync in the JS engine', () => {
  it('yields inside a chunk too, once the main thread\'s ~10 ms budget is spent (same passes: same Logs)', async () => {
    // One chunk of every row (~0.35 GFLOP, 100-300 ms in the JS engine): before, the event loop
    // ran only between chunks, so not once here.
    const m = new Sequential([new Dense(64, 256, { activation: 'relu' }), new Dense(256, 256, { activation: 'relu' }), new Dense(256, 10)],
      { engine: 'js', seed: 2 });
    m.compile({ loss: 'cross-entropy', metrics: ['accuracy'] });
    const rows = 2048;
    const x = new Matrix(rows, 64, randomArray(rows * 64, 22, Float32Array));
    const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
    let ticks = 0;
    let counting = true;
    const count = () => { ticks++; if (counting) setImmediate(count); };
    setImmediate(count);
    const started = performance.now();
    let logs: Logs;
    try {
      logs = await m.evaluateAsync(x, y, { batchSize: rows });
    } finally {
      counting = false;
    }
    const ms = performance.now() - started;
    // At least one turn per 60 ms of the call (a 15 ms budget; passes of 32 rows take ~5 ms alone).
    expect(ticks).toBeGreaterThanOrEqual(Math.min(3, Math.floor(ms / 60)));
    expect(ticks).toBeGreaterThanOrEqual(2);
    expectSameLogs(logs, m.evaluate(x, y));
  });
});

describe('evaluateAsync parity', () => {
  it('the native and JS engines agree (float64, same weights)', async () => {
    const x = rowsOf(250, 18, 'float64');
    const y = dense(250, 19, 'float64');
    const [a, b] = (['native', 'js'] as const).map((e) => model(e, 'mse', { dtype: 'float64', seed: 21, metrics: DENSE_METRICS }));
    await a!.fit(x, y, { epochs: 1, batchSize: 50, shuffle: false });
    b!.setWeights(a!.getWeights());
    const [la, lb] = await Promise.all([a!.evaluateAsync(x, y, { batchSize: 60 }), b!.evaluateAsync(x, y, { batchSize: 60 })]);
    expect(Object.keys(la).sort()).toEqual(Object.keys(lb).sort());
    const keys = Object.keys(la);
    expect(maxRelDiff(keys.map((k) => la[k]!), keys.map((k) => lb[k]!))).toBeLessThan(1e-10);
  });
});
