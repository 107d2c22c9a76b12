// A step whose gradients overflow must not be applied (DESIGN.md: NaN/Inf
// stops training naming epoch and batch, never corrupted state). In float32
// a batch's loss can be finite — losses sum in float64, here ~1e59 — while the
// float32 gradients overflow to ±Infinity/NaN; before this was caught the step
// was applied, every weight became NaN, and fit only stopped at the next batch.
// Non-finite gradients are now treated exactly as a non-finite loss, on every
// path that applies a step, in both engines: the step is skipped, batch
// norm's running statistics go back to their values before the batch, fit
// rejects naming epoch and batch and saying the gradients overflowed (or
// terminateOnNaN stops without an error), trainStep throws and changes nothing.
// Repro: Dense(4,8) → BatchNorm1d(8) → Dense(8,1), SGD lr 1e6, mse, targets i·1e3.
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, Matrix, Sequential, callbacks, optim } from '../lib';
import type { Callback } from '../lib/callbacks';
import type { Dtype } from '../lib/engine';
import { BATCH, type Engine, IN, ROWS, WIDTH, data, divergingModel, planOf, rowsOf } from './diverging-model';
import { ENGINES } from './helpers';

type Weights = Record<string, Float32Array | Float64Array>;

const GRADIENT_ERROR = /^Gradients overflowed to NaN or infinite at epoch 1, batch (\d+) \(of (\d+|a stream)\) though its loss was finite; /;

/**
 * The repro (test/diverging-model.ts), float32: its second batch has a loss of
 * ~1e59 and float32 gradients that overflow. (Without the middle layer the
 * loss itself overflows first: that case is the loss's.)
 */
function repro(engine: Engine, opts: { metrics?: boolean } = {}): Sequential {
  return divergingModel(engine, opts);
}

function allFinite(w: Weights): boolean {
  return Object.values(w).every((a) => a.every(Number.isFinite));
}

/** Steps a twin through the batches one trainStep at a time; returns the first whose step failed and the state before it. */
function firstBadBatch(engine: Engine, opts: Parameters<typeof repro>[1] = {}) {
  const twin = repro(engine, opts);
  for (let b = 0; b < ROWS / BATCH; b++) {
    const before = twin.getWeights();
    const { x, y } = rowsOf(b * BATCH, BATCH);
    try {
      twin.trainStep(x, y);
    } catch (err) {
      // Every reference state is a healthy model: no earlier step was applied from bad gradients.
      expect(allFinite(before)).toBe(true);
      return { bad: b, before, err: err as Error, after: twin.getWeights() };
    }
  }
  throw new Error('the repro trained every batch without a bad step');
}

async function rejection(run: Promise<unknown>): Promise<{ err: Error; bad: number }> {
  const err = await run.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(RangeError);
  const match = GRADIENT_ERROR.exec((err as Error).message);
  expect(match, (err as Error).message).not.toBeNull();
  return { err: err as Error, bad: Number(match![1]) - 1 };
}

describe.each(ENGINES)('overflowed gradients are never applied (%s engine)', (engine) => {
  it('trainStep throws at the batch whose loss is finite but gradients overflow, and changes nothing', () => {
    const { bad, before, err, after } = firstBadBatch(engine);
    expect(bad).toBeGreaterThanOrEqual(1);  // a later batch, after good steps
    expect(err).toBeInstanceOf(RangeError);
    const match = /^Gradients overflowed to NaN or infinite for this batch \(its loss, ([0-9.e+]+), was finite\)/.exec(err.message);
    expect(match, err.message).not.toBeNull();
    // Finite, yet far beyond float32's range: the old loss check alone would have stepped.
    expect(Number(match![1])).toBeGreaterThan(3.5e38);
    expect(Number.isFinite(Number(match![1]))).toBe(true);
    expect(after).toEqual(before);
    expect(allFinite(after)).toBe(true);
  });

  it('the engine plan refuses the step too (stepCount unchanged), with trainStep and with backward + step', () => {
    const { bad, before } = firstBadBatch(engine);
    const m = repro(engine);
    m.setWeights(before);
    const plan = planOf(m);
    const { x, y } = rowsOf(bad * BATCH, BATCH);
    const params = new Float32Array(plan.paramCount);
    plan.getParams(params);
    const steps = plan.stepCount;
    expect(Number.isFinite(plan.trainStep(x.data, BATCH, y))).toBe(true);
    expect(plan.stepCount).toBe(steps);
    const grads = new Float32Array(plan.paramCount);
    plan.getGrads(grads);
    expect(grads.every(Number.isFinite)).toBe(false);
    plan.step();  // the same gradients, through the custom-loss path's call
    expect(plan.stepCount).toBe(steps);
    const now = new Float32Array(plan.paramCount);
    plan.getParams(now);
    expect(now).toEqual(params);
  });

  it('fit in memory rejects at that batch with the state before it', async () => {
    const ref = firstBadBatch(engine);
    const m = repro(engine);
    const { x, y } = data();
    const { bad } = await rejection(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false }));
    expect(bad).toBe(ref.bad);
    const w = m.getWeights();
    expect(w).toEqual(ref.before);  // weights and running statistics, bit for bit
    expect(w['1.num_batches_tracked']![0]).toBe(bad);
  });

  it('fit with an observe-only callback (engine events) rejects the same way', async () => {
    const ref = firstBadBatch(engine);
    const m = repro(engine);
    const { x, y } = data();
    const seen: number[] = [];
    const observer = callbacks.lambda({ observeOnly: true, onBatchEnd: (_b, logs) => { seen.push(logs['loss']!); } });
    const { bad } = await rejection(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, callbacks: [observer] }));
    expect(bad).toBe(ref.bad);
    expect(seen).toHaveLength(bad);  // only completed batches reach observers
    expect(m.getWeights()).toEqual(ref.before);
  });

  it('fit with a per-batch callback (batch-driven): the bad batch logs NaN, the state is that before it', async () => {
    const ref = firstBadBatch(engine);
    const m = repro(engine);
    const { x, y } = data();
    const seen: number[] = [];
    let atBad: Weights | null = null;
    const acting: Callback = {
      onBatchEnd: (_b, logs) => {
        seen.push(logs['loss']!);
        if (!Number.isFinite(logs['loss']!)) atBad = m.getWeights();
      },
    };
    const { bad } = await rejection(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, callbacks: [acting] }));
    expect(bad).toBe(ref.bad);
    expect(seen).toHaveLength(bad + 1);
    expect(seen.slice(0, bad).every(Number.isFinite)).toBe(true);
    expect(seen[bad]).toBeNaN();
    expect(atBad).toEqual(ref.before);
    expect(m.getWeights()).toEqual(ref.before);
  });

  it('fit with training metrics (recorded steps) rejects the same way', async () => {
    const ref = firstBadBatch(engine, { metrics: true });
    const m = repro(engine, { metrics: true });
    const { x, y } = data();
    const { bad } = await rejection(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false,
      callbacks: [{ onBatchEnd: () => undefined }] }));
    expect(bad).toBe(ref.bad);
    expect(m.getWeights()).toEqual(ref.before);
  });

  it('streamed fit rejects the same way', async () => {
    const ref = firstBadBatch(engine);
    const m = repro(engine);
    async function* chunks() {
      for (let start = 0; start < ROWS; start += 2 * BATCH) yield rowsOf(start, 2 * BATCH);
    }
    const { bad } = await rejection(m.fit(() => chunks(), { epochs: 3, batchSize: BATCH }));
    expect(bad).toBe(ref.bad);
    expect(m.getWeights()).toEqual(ref.before);
  });

  it('terminateOnNaN stops at that batch without an error, the state that before it', async () => {
    const ref = firstBadBatch(engine);
    const m = repro(engine);
    const { x, y } = data();
    const stop = callbacks.terminateOnNaN();
    const h = await m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, callbacks: [stop] });
    expect(stop.stoppedAt).toEqual([0, ref.bad]);
    expect(h.history['loss']![0]).toBeNaN();
    expect(m.getWeights()).toEqual(ref.before);
  });

  it.each([
    ['float32', 'sgd'], ['float32', 'adam'], ['float64', 'sgd'], ['float64', 'adam'],
  ] as const)('a custom loss whose finite gradient overflows the bias gradient (%s, %s)', async (dtype, opt) => {
    // dL/dout is finite (the custom-loss check passes) but its column sum over
    // the batch — the last layer's bias gradient — exceeds the dtype's range.
    const near = dtype === 'float32' ? 3e38 : 1e308;
    const m = new Sequential([new Dense(IN, WIDTH, { activation: 'relu' }), new Dense(WIDTH, 1)], { engine, seed: 3, dtype });
    const custom = {
      forward: () => 1,
      backward: (p: Matrix) => new Matrix(p.rows, p.cols, p.data.map(() => near)),
    };
    m.compile({ loss: custom as never, optimizer: opt === 'sgd' ? new optim.SGD({ lr: 0.1, momentum: 0.9 }) : new optim.Adam({ lr: 0.1 }) });
    const before = m.getWeights();
    const { x, y } = data(dtype);
    const target = new Matrix(ROWS, 1, y);
    const { bad } = await rejection(m.fit(x, target, { epochs: 1, batchSize: BATCH, shuffle: false }));
    expect(bad).toBe(0);
    expect(m.getWeights()).toEqual(before);
    const { x: xb, y: yb } = rowsOf(0, BATCH, dtype);
    expect(() => m.trainStep(xb, new Matrix(BATCH, 1, yb))).toThrow(/^Gradients overflowed/);
    expect(m.getWeights()).toEqual(before);
  });

  it('a loss that itself is not finite keeps its own message', async () => {
    // float64 has the range for the repro's gradients: training runs on until the loss overflows.
    const m = new Sequential([new Dense(IN, WIDTH), new BatchNorm1d(WIDTH), new Dense(WIDTH, 1)],
      { engine, seed: 3, dtype: 'float64' });
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 1e6 }) });
    const { x, y } = data('float64');
    const err = await m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/^Loss became NaN or infinite at epoch \d+, batch \d+/);
    expect(allFinite(m.getWeights())).toBe(true);
  });
});

describe('overflowed gradients: the engines agree', () => {
  it('the same bad batch and the same state before it', async () => {
    const [native, js] = ENGINES.map((engine) => firstBadBatch(engine));
    expect(native!.bad).toBe(js!.bad);
    expect(native!.err.message).toBe(js!.err.message.replace(/its loss, [^,]+,/, native!.err.message.match(/its loss, [^,]+,/)![0]));
    for (const name of Object.keys(native!.before)) {
      // The bias before batch norm has a gradient of exactly 0 (batch norm
      // removes any shift): at lr 1e6 its value is rounding noise in either engine.
      if (name === '0.bias') continue;
      const a = native!.before[name]!;
      const b = js!.before[name]!;
      let diff = 0;
      let scale = 1;
      a.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); });
      // float32 rounding, relative to the tensor's largest value (~1e9 after one step at lr 1e6).
      expect(diff / scale, name).toBeLessThan(1e-5);
    }
  });
});
