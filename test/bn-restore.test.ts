// A batch whose loss is not finite must not leave batch norm's running
// statistics half-updated (DESIGN.md: bad input never corrupts state). The
// forward pass updates running_mean / running_var / num_batches_tracked before
// the loss is known; when the loss then comes out NaN/∞ the step is skipped,
// and the statistics must also go back to their values before that batch —
// bit for bit — on every way fit drives batches, in both engines:
//   fit in memory (the engine's trainEpoch), fit with a per-batch callback
//   (batch-driven from TypeScript), fit with an observe-only callback (engine
//   events), fit with training metrics (recorded batch-driven steps), streamed
//   fit, a custom loss, and callbacks.terminateOnNaN (stops without an error).
// Repro from the audit: SGD lr 1e6 on targets i·1e3 — the first batch is
// finite, its step blows the weights up, a later batch's loss overflows.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, callbacks, optim } from '../lib';
import type { Callback } from '../lib/callbacks';
import type { Dtype } from '../lib/engine';
import { BATCH, type Engine, IN, ROWS, WIDTH, data, divergingModel, planOf, rowsOf } from './diverging-model';
import { ENGINES } from './helpers';

/** Dense → BatchNorm1d → ReLU → Dense, compiled for mse with SGD lr 1e6 (diverges within a few batches). */
function bnModel(engine: Engine, dtype: Dtype = 'float32', extra: 'none' | 'dropout' | 'layernorm-prelu' = 'none'): Sequential {
  return divergingModel(engine, { dtype, extra });
}

/**
 * The model's whole state (weights and buffers) after the batches before
 * `bad`, computed independently: a twin steps through those batches one
 * trainStep at a time (the same arithmetic as an epoch's batch).
 */
function stateBefore(engine: Engine, dtype: Dtype, bad: number, extra: Parameters<typeof bnModel>[2] = 'none') {
  const twin = bnModel(engine, dtype, extra);
  for (let b = 0; b < bad; b++) {
    const { x, y } = rowsOf(b * BATCH, BATCH, dtype);
    expect(Number.isFinite(twin.trainStep(x, y))).toBe(true);
  }
  return twin.getWeights();
}

/** The 1-based batch that fit's error names. */
function badBatchOf(err: unknown): number {
  const m = /batch (\d+)/.exec((err as Error).message);
  if (!m) throw new Error(`no batch in ${(err as Error).message}`);
  return Number(m[1]);
}

/** Runs a fit that must reject on a bad loss; returns the 0-based index of the bad batch. */
async function rejectedFit(run: Promise<unknown>): Promise<number> {
  const err = await run.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(RangeError);
  expect((err as Error).message).toMatch(/NaN or infinite at epoch 1, batch \d+/);
  return badBatchOf(err) - 1;
}

function expectRestored(m: Sequential, engine: Engine, dtype: Dtype, bad: number) {
  // A later batch, so the statistics to restore are not the initial ones.
  expect(bad).toBeGreaterThanOrEqual(1);
  const after = m.getWeights();
  expect(after['1.running_var']!.every(Number.isFinite)).toBe(true);
  expect(after['1.running_mean']!.every(Number.isFinite)).toBe(true);
  expect(after['1.num_batches_tracked']![0]).toBe(bad);
  expect(after).toEqual(stateBefore(engine, dtype, bad));
}

describe.each(ENGINES)('a bad batch restores batch norm statistics (%s engine)', (engine) => {
  it.each(['float32', 'float64'] as const)('fit in memory (%s)', async (dtype) => {
    const m = bnModel(engine, dtype);
    const { x, y } = data(dtype);
    const bad = await rejectedFit(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false }));
    expectRestored(m, engine, dtype, bad);
    // Eval mode reads the statistics: the model predicts as it did before the
    // bad batch. (In float32 the bad batch is one whose loss, ~1e59, is finite
    // in the float64 it is summed in but whose float32 gradients overflowed:
    // its step is refused too — test/grad-overflow.test.ts.)
    const twin = bnModel(engine, dtype);
    twin.setWeights(stateBefore(engine, dtype, bad));
    expect(m.predict(x).data).toEqual(twin.predict(x).data);
  });

  it('fit with a per-batch callback (batch-driven)', async () => {
    const m = bnModel(engine);
    const { x, y } = data('float32');
    const seen: number[] = [];
    const acting: Callback = { onBatchEnd: (_b, logs) => { seen.push(logs['loss']!); } };
    const bad = await rejectedFit(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, callbacks: [acting] }));
    expect(seen).toHaveLength(bad + 1);
    expect(Number.isFinite(seen[bad]!)).toBe(false);
    expectRestored(m, engine, 'float32', bad);
  });

  it('the per-batch callback sees the restored statistics at the bad batch', async () => {
    const m = bnModel(engine);
    const { x, y } = data('float32');
    let atBad: Record<string, Float32Array | Float64Array> | null = null;
    const acting: Callback = {
      onBatchEnd: (_b, logs) => { if (!Number.isFinite(logs['loss']!)) atBad = m.getWeights(); },
    };
    const bad = await rejectedFit(m.fit(x, y, { epochs: 1, batchSize: BATCH, shuffle: false, callbacks: [acting] }));
    expect(atBad).toEqual(stateBefore(engine, 'float32', bad));
  });

  it('fit with an observe-only callback (engine events)', async () => {
    const m = bnModel(engine);
    const { x, y } = data('float32');
    const observer = callbacks.lambda({ observeOnly: true, onBatchEnd: () => undefined });
    const bad = await rejectedFit(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, callbacks: [observer] }));
    expectRestored(m, engine, 'float32', bad);
  });

  it('fit with training metrics and a per-batch callback (recorded steps)', async () => {
    const m = bnModel(engine);
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 1e6 }), metrics: ['mae'] });
    const { x, y } = data('float32');
    const bad = await rejectedFit(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false,
      callbacks: [{ onBatchEnd: () => undefined }] }));
    expectRestored(m, engine, 'float32', bad);
  });

  it('streamed fit', async () => {
    const m = bnModel(engine);
    async function* chunks() {
      for (let start = 0; start < ROWS; start += 2 * BATCH) yield rowsOf(start, 2 * BATCH, 'float32');
    }
    const bad = await rejectedFit(m.fit(() => chunks(), { epochs: 3, batchSize: BATCH }));
    expectRestored(m, engine, 'float32', bad);
  });

  it('a custom loss (batch-driven)', async () => {
    const m = bnModel(engine);
    // Mean squared error written in TypeScript: the same values as 'mse'.
    const mse = {
      forward: (p: Matrix, t: Matrix) => {
        let s = 0;
        for (let i = 0; i < p.data.length; i++) s += (p.data[i]! - t.data[i]!) ** 2;
        return s / p.data.length;
      },
      backward: (p: Matrix, t: Matrix) =>
        new Matrix(p.rows, p.cols, p.data.map((v, i) => (2 * (v - t.data[i]!)) / p.data.length)),
    };
    m.compile({ loss: mse as never, optimizer: new optim.SGD({ lr: 1e6 }) });
    const { x, y } = data('float32');
    const bad = await rejectedFit(m.fit(x, new Matrix(ROWS, 1, y), { epochs: 3, batchSize: BATCH, shuffle: false }));
    expect(bad).toBeGreaterThanOrEqual(1);
    const w = m.getWeights();
    expect(w['1.running_var']!.every(Number.isFinite)).toBe(true);
    expect(w['1.num_batches_tracked']![0]).toBe(bad);
  });

  it('terminateOnNaN stops without an error and restores the statistics', async () => {
    const m = bnModel(engine);
    const { x, y } = data('float32');
    const stop = callbacks.terminateOnNaN();
    const h = await m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, callbacks: [stop] });
    expect(stop.stoppedAt).not.toBeNull();
    const [epoch, bad] = stop.stoppedAt!;
    expect(epoch).toBe(0);
    expect(h.history['loss']![0]).toBeNaN();
    expectRestored(m, engine, 'float32', bad);
  });

  it('trainStep on a bad batch restores the statistics too (the reference the fit paths follow)', async () => {
    const m = bnModel(engine);
    let bad = -1;
    let before = m.getWeights();
    for (let b = 0; b < ROWS / BATCH && bad < 0; b++) {
      const { x, y } = rowsOf(b * BATCH, BATCH, 'float32');
      before = m.getWeights();
      try {
        m.trainStep(x, y);
      } catch {
        bad = b;
      }
    }
    expect(bad).toBeGreaterThanOrEqual(1);
    expect(m.getWeights()).toEqual(before);
  });

  it('dropout, layer norm and prelu: the state after a bad batch is that before it', async () => {
    // LayerNorm keeps no running state and PReLU only parameters (not stepped);
    // dropout's mask stream advances with the forward as in PyTorch (not restored).
    const m = bnModel(engine, 'float32', 'layernorm-prelu');
    const { x, y } = data('float32');
    const bad = await rejectedFit(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false }));
    expect(m.getWeights()).toEqual(stateBefore(engine, 'float32', bad, 'layernorm-prelu'));
    const d = bnModel(engine, 'float32', 'dropout');
    const badD = await rejectedFit(d.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false }));
    expect(d.getWeights()).toEqual(stateBefore(engine, 'float32', badD, 'dropout'));
  });

  it('a model without buffers trains as before (nothing to restore)', async () => {
    const m = new Sequential([new Dense(IN, WIDTH, { activation: 'relu' }), new Dense(WIDTH, 1)], { engine, seed: 3 });
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 1e6 }) });
    expect(planOf(m).bufferCount).toBe(0);
    const { x, y } = data('float32');
    await rejectedFit(m.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false }));
  });
});

describe('bad-batch restore: the engines agree', () => {
  it('the same bad batch, and running statistics equal to rounding', async () => {
    const results = await Promise.all(ENGINES.map(async (engine) => {
      const m = bnModel(engine, 'float64');
      const { x, y } = data('float64');
      const bad = await rejectedFit(m.fit(x, y, { epochs: 1, batchSize: BATCH, shuffle: false }));
      return { bad, w: m.getWeights() };
    }));
    const [native, js] = results as [typeof results[0], typeof results[0]];
    expect(native.bad).toBe(js.bad);
    for (const name of ['1.running_mean', '1.running_var', '1.num_batches_tracked']) {
      const a = native.w[name]!;
      const b = js.w[name]!;
      a.forEach((v, i) => expect(Math.abs(v - b[i]!) / Math.max(1, Math.abs(b[i]!))).toBeLessThan(1e-9));
    }
  });
});
