// A batch with one huge but finite input (x = 3e38 in float32, 1e300 in
// float64) overflows batch norm's batch variance: Σ(x − μ)² is +Infinity, so
// 1/√(σ² + ε) is 0 and the normalised feature is 0 — the output, the loss and
// every gradient stay finite — but running_var becomes +Infinity, and every
// eval-mode prediction after it is wrong. The loss/gradient checks did not see
// it, so the step was applied and the statistics kept.
// PyTorch 1.13 does the same (checked with a one-off script, not a test: a
// BatchNorm1d(4) → Linear(4, 1) with x[0, 0] = 3e38 gives a finite loss and
// finite gradients, optimizer.step() applies, running_var[0] = inf,
// running_mean[0] = 1.875e36). fastmlp departs from it on purpose (DESIGN.md:
// bad input never corrupts state): such a batch is a bad batch like one with a
// non-finite loss or gradient — the step refused, every parameter, optimizer
// state, step count and buffer as before it, on every training path, in both
// engines and dtypes.
// Also pinned here: a batch whose *mean* overflows already yields NaN outputs
// (caught by the loss check); and LayerNorm, PReLU and dropout, which keep no
// running statistics, cannot be corrupted this way by a finite input.
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, Dropout, type Layer, LayerNorm, Matrix, PReLU, Sequential, callbacks, optim } from '../lib';
import type { Callback } from '../lib/callbacks';
import type { Dtype, FloatArray } from '../lib/engine';
import { planOf } from './diverging-model';
import { ENGINES, randomArray } from './helpers';

type Engine = 'native' | 'js';
type Weights = Record<string, Float32Array | Float64Array>;

const IN = 4;
const WIDTH = 8;
const BATCH = 16;
const ROWS = 3 * BATCH;
/** The bad batch (0-based): its first row holds the huge value. */
const BAD = 1;
const DTYPES = ['float32', 'float64'] as const;
/** Finite, and large enough that its square (the batch variance) overflows the dtype. */
const HUGE: Record<Dtype, number> = { float32: 3e38, float64: 1e300 };

const STATS_STEP_ERROR = /^Batch norm's running statistics overflowed to NaN or infinite for this batch \(its loss, [0-9.e+-]+, and gradients were finite/;
const STATS_FIT_ERROR = new RegExp(`^Batch norm's running statistics overflowed to NaN or infinite at epoch 1, batch ${BAD + 1} ` +
  '\\(of (3|a stream)\\) though its loss and gradients were finite; training stopped before that batch\'s update');

function ctorOf(dtype: Dtype) {
  return dtype === 'float32' ? Float32Array : Float64Array;
}

/** ROWS × IN inputs with one huge value in the bad batch's first row, and finite targets. */
function hugeData(dtype: Dtype) {
  const Ctor = ctorOf(dtype);
  const x = Ctor.from(randomArray(ROWS * IN, 11, Float64Array));
  x[BAD * BATCH * IN] = HUGE[dtype];
  const y = Ctor.from(randomArray(ROWS, 12, Float64Array));
  return { x: new Matrix(ROWS, IN, x), y };
}

function batchOf(b: number, dtype: Dtype) {
  const { x, y } = hugeData(dtype);
  return { x: new Matrix(BATCH, IN, x.data.slice(b * BATCH * IN, (b + 1) * BATCH * IN)), y: y.slice(b * BATCH, (b + 1) * BATCH) };
}

/** Custom mean squared error written in TypeScript (the custom-loss path). */
const customMse = {
  forward: (p: Matrix, t: Matrix) => {
    let s = 0;
    for (let i = 0; i < p.data.length; i++) s += (p.data[i]! - t.data[i]!) ** 2;
    return s / p.data.length;
  },
  backward: (p: Matrix, t: Matrix) => new Matrix(p.rows, p.cols, p.data.map((v, i) => (2 * (v - t.data[i]!)) / p.data.length)),
};

/** Dense → BatchNorm1d → Dense, mse (or the custom one), Adam: optimizer state to keep too. */
function bnModel(engine: Engine, dtype: Dtype, opts: { metrics?: boolean; custom?: boolean } = {}): Sequential {
  const m = new Sequential([new Dense(IN, WIDTH), new BatchNorm1d(WIDTH), new Dense(WIDTH, 1)], { engine, seed: 5, dtype });
  m.compile({ loss: opts.custom ? (customMse as never) : 'mse', optimizer: new optim.Adam({ lr: 0.01 }),
              ...(opts.metrics ? { metrics: ['mae'] } : {}) });
  return m;
}

/** Everything a step may change: parameters and buffers, optimizer state and step count. */
function stateOf(m: Sequential) {
  const plan = planOf(m);
  const opt = new (ctorOf(plan.dtype))(plan.optimizerStateSize);
  plan.getOptimizerState(opt);
  return { weights: m.getWeights(), opt, steps: plan.stepCount };
}

/** The state after the good batches before the bad one, from a twin stepped one trainStep at a time. */
function stateBeforeBad(engine: Engine, dtype: Dtype, opts: Parameters<typeof bnModel>[2] = {}) {
  const twin = bnModel(engine, dtype, opts);
  for (let b = 0; b < BAD; b++) {
    const { x, y } = batchOf(b, dtype);
    expect(Number.isFinite(twin.trainStep(x, opts.custom ? new Matrix(BATCH, 1, y) : y))).toBe(true);
  }
  return stateOf(twin);
}

function allFinite(w: Weights): boolean {
  return Object.values(w).every((a) => a.every(Number.isFinite));
}

async function rejection(run: Promise<unknown>): Promise<Error> {
  const err = await run.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(RangeError);
  expect((err as Error).message).toMatch(STATS_FIT_ERROR);
  return err as Error;
}

function expectStateBefore(m: Sequential, engine: Engine, dtype: Dtype, opts: Parameters<typeof bnModel>[2] = {}) {
  const now = stateOf(m);
  expect(allFinite(now.weights)).toBe(true);
  expect(now.weights['1.num_batches_tracked']![0]).toBe(BAD);
  expect(now).toEqual(stateBeforeBad(engine, dtype, opts));
}

describe.each(ENGINES)('a batch that overflows batch norm\'s running statistics is a bad batch (%s engine)', (engine) => {
  it.each(DTYPES)('the repro (%s): loss and gradients finite, only the running statistics overflow', (dtype) => {
    const m = bnModel(engine, dtype);
    const plan = planOf(m);
    const { x, y } = batchOf(BAD, dtype);
    const out = new (ctorOf(dtype))(BATCH);
    plan.forwardTrain(x.data, BATCH, out);
    expect(out.every(Number.isFinite)).toBe(true);
    const loss = plan.computeGradients(x.data, BATCH, y);
    expect(Number.isFinite(loss)).toBe(true);
    const grads = new (ctorOf(dtype))(plan.paramCount);
    plan.getGrads(grads);
    expect(grads.every(Number.isFinite)).toBe(true);
    const buffers = new (ctorOf(dtype))(plan.bufferCount);
    plan.getBuffers(buffers);
    expect(buffers.every(Number.isFinite)).toBe(false);
  });

  it.each(DTYPES)('trainStep (%s) throws and changes nothing: weights, statistics, optimizer state, step count', (dtype) => {
    const m = bnModel(engine, dtype);
    const good = batchOf(0, dtype);
    m.trainStep(good.x, good.y);
    const before = stateOf(m);
    const probe = batchOf(2, dtype).x;
    const predicted = m.predict(probe).data;
    const { x, y } = batchOf(BAD, dtype);
    expect(() => m.trainStep(x, y)).toThrow(RangeError);
    expect(() => m.trainStep(x, y)).toThrow(STATS_STEP_ERROR);
    expect(stateOf(m)).toEqual(before);
    expect(m.predict(probe).data).toEqual(predicted);
    // A good batch after it trains normally.
    expect(Number.isFinite(m.trainStep(probe, batchOf(2, dtype).y))).toBe(true);
    expect(planOf(m).stepCount).toBe(before.steps + 1);
  });

  it.each(DTYPES)('the engine plan refuses the step (%s): trainStep, and forwardTrain + backward + step', (dtype) => {
    const m = bnModel(engine, dtype);
    const plan = planOf(m);
    const Ctor = ctorOf(dtype);
    const { x, y } = batchOf(BAD, dtype);
    const params = new Ctor(plan.paramCount);
    plan.getParams(params);
    expect(Number.isFinite(plan.trainStep(x.data, BATCH, y))).toBe(true);
    expect(plan.stepCount).toBe(0);
    // The custom-loss path's calls: the statistics overflow in forwardTrain, step() refuses.
    const out = new Ctor(BATCH);
    plan.forwardTrain(x.data, BATCH, out);
    plan.backward(out.map((v, i) => (2 * (v - y[i]!)) / BATCH), BATCH);
    plan.step();
    expect(plan.stepCount).toBe(0);
    const now = new Ctor(plan.paramCount);
    plan.getParams(now);
    expect(now).toEqual(params);
  });

  it.each(DTYPES)('the engine\'s trainEpoch (%s) stops at the batch, says why and puts the statistics back', async (dtype) => {
    const m = bnModel(engine, dtype);
    const plan = planOf(m);
    const { x, y } = hugeData(dtype);
    const r = await plan.trainEpoch(x.data, ROWS, y, BATCH, null);
    expect(r).toMatchObject({ badBatch: BAD, batches: BAD, badStatistics: true, cancelled: false });
    expect(stateOf(m)).toEqual(stateBeforeBad(engine, dtype));
  });

  it.each(DTYPES)('fit in memory (%s) rejects naming epoch and batch, with the state before the batch', async (dtype) => {
    const m = bnModel(engine, dtype);
    const { x, y } = hugeData(dtype);
    await rejection(m.fit(x, y, { epochs: 2, batchSize: BATCH, shuffle: false }));
    expectStateBefore(m, engine, dtype);
  });

  it.each(DTYPES)('fit with a per-batch callback (%s, batch-driven): the bad batch logs NaN, the state is that before it', async (dtype) => {
    const m = bnModel(engine, dtype);
    const { x, y } = hugeData(dtype);
    const seen: number[] = [];
    let atBad: ReturnType<typeof stateOf> | null = null;
    const acting: Callback = {
      onBatchEnd: (_b, logs) => {
        seen.push(logs['loss']!);
        if (!Number.isFinite(logs['loss']!)) atBad = stateOf(m);
      },
    };
    await rejection(m.fit(x, y, { epochs: 2, batchSize: BATCH, shuffle: false, callbacks: [acting] }));
    expect(seen).toHaveLength(BAD + 1);
    expect(seen[BAD]).toBeNaN();
    expect(atBad).toEqual(stateBeforeBad(engine, dtype));
    expectStateBefore(m, engine, dtype);
  });

  it('fit with an observe-only callback (engine events)', async () => {
    const m = bnModel(engine, 'float32');
    const { x, y } = hugeData('float32');
    const seen: number[] = [];
    const observer = callbacks.lambda({ observeOnly: true, onBatchEnd: (_b, logs) => { seen.push(logs['loss']!); } });
    await rejection(m.fit(x, y, { epochs: 2, batchSize: BATCH, shuffle: false, callbacks: [observer] }));
    expect(seen).toHaveLength(BAD);  // only completed batches reach observers
    expectStateBefore(m, engine, 'float32');
  });

  it('fit with training metrics and a per-batch callback (recorded steps)', async () => {
    const m = bnModel(engine, 'float32', { metrics: true });
    const { x, y } = hugeData('float32');
    await rejection(m.fit(x, y, { epochs: 2, batchSize: BATCH, shuffle: false, callbacks: [{ onBatchEnd: () => undefined }] }));
    expectStateBefore(m, engine, 'float32', { metrics: true });
  });

  it('streamed fit', async () => {
    const m = bnModel(engine, 'float64');
    const { x, y } = hugeData('float64');
    async function* chunks() {
      for (let start = 0; start < ROWS; start += BATCH) {
        yield { x: new Matrix(BATCH, IN, x.data.slice(start * IN, (start + BATCH) * IN)), y: y.slice(start, start + BATCH) };
      }
    }
    await rejection(m.fit(() => chunks(), { epochs: 2, batchSize: BATCH }));
    expectStateBefore(m, engine, 'float64');
  });

  it.each(DTYPES)('a custom loss (%s, batch-driven)', async (dtype) => {
    const m = bnModel(engine, dtype, { custom: true });
    const { x, y } = hugeData(dtype);
    await rejection(m.fit(x, new Matrix(ROWS, 1, y), { epochs: 2, batchSize: BATCH, shuffle: false }));
    expectStateBefore(m, engine, dtype, { custom: true });
    // trainStep with the custom loss refuses the batch the same way.
    const { x: xb, y: yb } = batchOf(BAD, dtype);
    expect(() => m.trainStep(xb, new Matrix(BATCH, 1, yb))).toThrow(STATS_STEP_ERROR);
    expectStateBefore(m, engine, dtype, { custom: true });
  });

  it('terminateOnNaN stops at the batch without an error, the state that before it', async () => {
    const m = bnModel(engine, 'float32');
    const { x, y } = hugeData('float32');
    const stop = callbacks.terminateOnNaN();
    const h = await m.fit(x, y, { epochs: 2, batchSize: BATCH, shuffle: false, callbacks: [stop] });
    expect(stop.stoppedAt).toEqual([0, BAD]);
    expect(h.history['loss']![0]).toBeNaN();
    expectStateBefore(m, engine, 'float32');
  });
});

describe.each(ENGINES)('the batch statistics themselves, and the layers without running statistics (%s engine)', (engine) => {
  function trainStepOutcome(m: Sequential, x: Matrix, y: FloatArray): { error: Error | null; before: Weights } {
    const before = m.getWeights();
    try {
      m.trainStep(x, y);
      return { error: null, before };
    } catch (err) {
      return { error: err as Error, before };
    }
  }

  it.each(DTYPES)('a batch whose mean overflows (%s) gives NaN outputs: caught as a non-finite loss', (dtype) => {
    // Batch norm first, so the huge values reach it as they are: two rows of
    // a feature whose sum exceeds the dtype's range make μ = ∞, x − μ = −∞,
    // and (x − μ)·(1/√∞) = −∞·0 = NaN.
    const m = new Sequential([new BatchNorm1d(IN), new Dense(IN, 1)], { engine, seed: 5, dtype });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    const { x, y } = batchOf(0, dtype);
    const half = dtype === 'float32' ? 3e38 : 1.5e308;
    x.data[0] = half;
    x.data[IN] = half;
    const out = new (ctorOf(dtype))(BATCH);
    planOf(m).forwardTrain(x.data, BATCH, out);
    expect(out.some(Number.isNaN)).toBe(true);
    const fresh = new Sequential([new BatchNorm1d(IN), new Dense(IN, 1)], { engine, seed: 5, dtype });
    fresh.compile({ loss: 'mse', optimizer: 'sgd' });
    const { error, before } = trainStepOutcome(fresh, x, y);
    expect(error?.message).toMatch(/^Loss is NaN for this batch/);
    expect(fresh.getWeights()).toEqual(before);
  });

  it.each(DTYPES)('layer norm (%s): a huge row normalises to its bias, finite; the step applies and nothing persistent breaks', (dtype) => {
    // Layer norm keeps no running statistics: the row's own variance overflows,
    // its x̂ is 0 (as PyTorch's), and the step from finite gradients is a real one.
    const m = new Sequential([new Dense(IN, WIDTH), new LayerNorm(WIDTH), new Dense(WIDTH, 1)], { engine, seed: 5, dtype });
    m.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 0.01 }) });
    expect(planOf(m).bufferCount).toBe(0);
    const { x, y } = batchOf(BAD, dtype);
    const { error } = trainStepOutcome(m, x, y);
    expect(error).toBeNull();
    expect(planOf(m).stepCount).toBe(1);
    expect(allFinite(m.getWeights())).toBe(true);
    expect(m.predict(batchOf(0, dtype).x).data.every(Number.isFinite)).toBe(true);
  });

  it.each(DTYPES)('prelu (%s): the huge input overflows its slope\'s gradient or the loss: refused, nothing changed', (dtype) => {
    const m = new Sequential([new Dense(IN, WIDTH), new PReLU({ numParameters: WIDTH }), new Dense(WIDTH, 1)], { engine, seed: 5, dtype });
    m.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 0.01 }) });
    const { x, y } = batchOf(BAD, dtype);
    const { error, before } = trainStepOutcome(m, x, y);
    expect(error?.message).toMatch(/^(Gradients overflowed to NaN or infinite|Loss is Infinity) for this batch/);
    expect(m.getWeights()).toEqual(before);
    expect(planOf(m).stepCount).toBe(0);
  });

  it.each(DTYPES)('dropout (%s): the kept value scaled by 1/keep overflows the loss: refused, nothing changed', (dtype) => {
    const m = new Sequential([new Dense(IN, WIDTH), new Dropout(0.5), new Dense(WIDTH, 1)], { engine, seed: 5, dtype });
    m.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 0.01 }) });
    expect(planOf(m).bufferCount).toBe(0);
    const { x, y } = batchOf(BAD, dtype);
    const { error, before } = trainStepOutcome(m, x, y);
    expect(error?.message).toMatch(/^Loss is Infinity for this batch/);
    expect(m.getWeights()).toEqual(before);
    expect(planOf(m).stepCount).toBe(0);
  });
});

describe('a batch that overflows the running statistics: the engines agree', () => {
  it.each(DTYPES)('both refuse the same batch with the same message and keep the same state (%s)', async (dtype) => {
    const results = await Promise.all(ENGINES.map(async (engine) => {
      const m = bnModel(engine, dtype);
      // SGD with momentum, not Adam: the bias of the dense layer before batch
      // norm has a gradient of rounding noise only (the norm removes it), which
      // Adam would scale up to ±lr, differently in each engine.
      m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.01, momentum: 0.9 }) });
      const { x, y } = hugeData(dtype);
      const err = await rejection(m.fit(x, y, { epochs: 1, batchSize: BATCH, shuffle: false }));
      return { message: err.message, state: stateOf(m) };
    }));
    const [native, js] = results as [typeof results[0], typeof results[0]];
    expect(native.message).toBe(js.message);
    expect(native.state.steps).toBe(js.state.steps);
    const tol = dtype === 'float32' ? 1e-5 : 1e-12;
    for (const [name, a] of Object.entries(native.state.weights)) {
      const b = js.state.weights[name]!;
      a.forEach((v, i) => expect(Math.abs(v - b[i]!) / Math.max(1, Math.abs(b[i]!)), name).toBeLessThan(tol));
    }
    native.state.opt.forEach((v, i) => expect(Math.abs(v - js.state.opt[i]!) / Math.max(1, Math.abs(js.state.opt[i]!))).toBeLessThan(tol));
  });
});
