// An abort that arrives while a long batch runs (lib/engines/js/plan.ts
// trainBatch, dropBatch). The JS engine sees it at the batch's next pause for the event
// loop and, before the batch's optimizer update, drops the batch: parameters,
// optimizer state and step count untouched, batch norm's running statistics,
// the dropout stream and the penalty put back, no onBatch and no recorded
// outputs for it. The native engine stops before its next batch (its batches
// are ~20× faster). Either way the model equals a synchronous trainStep replay
// of the batches the epoch reports, and trains on as that replay does.
// An abort during the update itself: js-abort-during-update.test.ts.
//
// No timing: the abort is fired after a count of event-loop turns, and a JS
// epoch lets the loop turn only at its pauses (lib/event-loop.ts), one turn
// each, so the abort lands at a known pause, not a known time.
import { describe, expect, it } from 'vitest';
import type { Dtype, EngineName, FloatArray, LayerSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { AbortError, BatchNorm1d, Dense, Dropout, Matrix, Sequential, optim } from '../lib';
import { CE, ctor } from './js-slices-scenario';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';
import { bits, expectSameSnapshot, expectSameWeights, snapshot } from './plan-snapshot';

const IN = 256;
const HIDDEN = 1024;
const OUT = 10;
/**
 * 256-1024(BN, ReLU, dropout)-1024-10, 1.3 M parameters: a batch of BATCH rows
 * is ~1 GFLOP of forward and backward, ~0.2–0.5 s of JS and so a dozen or more
 * pauses (one per ~10 ms); an L2 penalty so a batch changes the penalty too.
 */
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: HIDDEN, l2: 1e-4 },
  { kind: 'batchnorm', numFeatures: HIDDEN, eps: 1e-5, momentum: 0.1, affine: true },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dropout', p: 0.2 },
  { kind: 'dense', inFeatures: HIDDEN, outFeatures: HIDDEN },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: HIDDEN, outFeatures: OUT },
];
const BATCH = 128;
const ROWS = 3 * BATCH;
const ADAM: OptimizerSpec = {
  kind: 'adam', lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8,
};
const SEED = 17;

function data(dtype: Dtype): { x: FloatArray; y: Int32Array } {
  return { x: randomArray(ROWS * IN, 41, ctor(dtype)), y: Int32Array.from({ length: ROWS }, (_, i) => (i * 7) % OUT) };
}

function plan(name: EngineName, dtype: Dtype): NetworkPlan {
  const p = engine(name).createPlan({ dtype, layers: LAYERS, maxBatch: BATCH });
  const init = randomArray(p.paramCount, 5, ctor(dtype));
  for (let i = 0; i < init.length; i++) init[i] *= 0.05;
  p.setParams(init);
  p.setLoss(CE);
  p.setOptimizer(ADAM);
  p.setSeed(SEED);
  return p;
}

/** Rows [b·BATCH, (b + count)·BATCH) of the data. */
function rowsOf(x: FloatArray, y: Int32Array, b: number, count = 1): [FloatArray, number, Int32Array] {
  return [x.subarray(b * BATCH * IN, (b + count) * BATCH * IN), count * BATCH, y.subarray(b * BATCH, (b + count) * BATCH)];
}

/**
 * Aborts on the `turn`-th turn of the event loop from now, counted by a
 * setImmediate that renews itself; `turns()` says how many have run. While a
 * JS epoch runs, the loop turns once per pause of the epoch.
 */
function abortOnTurn(controller: AbortController, turn: number): { turns(): number } {
  let seen = 0;
  const tick = () => {
    seen++;
    if (seen === turn) controller.abort(new Error('stop'));
    if (seen < turn + 1000) setImmediate(tick);  // counts on a little after the abort (bounded)
  };
  setImmediate(tick);
  return { turns: () => seen };
}

for (const dtype of ['float32', 'float64'] as const) {
  describe(`an abort inside a JS batch (${dtype})`, () => {
    it('drops the batch before its update: the model is as after the completed batches, and trains on as a trainStep replay', async () => {
      const { x, y } = data(dtype);
      const Ctor = ctor(dtype);
      const p = plan('js', dtype);
      const controller = new AbortController();
      // NaN marks rows the epoch did not record.
      const outputs = new Ctor(ROWS * OUT).fill(NaN);
      const losses: number[] = [];
      let clock: { turns(): number } | null = null;
      const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
        signal: controller.signal,
        outputs,
        onBatch: (b, _rows, loss) => {
          losses.push(loss);
          // Between batch 0 and batch 1 the epoch pauses at most once (before
          // batch 1); the third turn from here is therefore a pause inside batch
          // 1's forward pass, long before its update (~15 pauses in).
          if (b === 0) clock = abortOnTurn(controller, 3);
        },
      });
      // Batch 1 never completed: the abort was seen inside it, not after it.
      expect(result).toEqual({ loss: losses[0], batches: 1, badBatch: -1, cancelled: true });
      expect(losses).toHaveLength(1);
      expect(clock!.turns()).toBeGreaterThanOrEqual(3);

      // The reference ran batch 0 synchronously.
      const reference = plan('js', dtype);
      expect(reference.trainStep(...rowsOf(x, y, 0))).toBe(losses[0]);
      expectSameSnapshot(snapshot(p), snapshot(reference));

      // Batch 0's outputs are recorded (those trainStep's forward saw: the same
      // seed draws the same masks), batch 1's and 2's rows are untouched.
      const forward = plan('js', dtype);
      const seen = new Ctor(BATCH * OUT);
      forward.forwardTrain(rowsOf(x, y, 0)[0], BATCH, seen);
      expect(bits(outputs.subarray(0, BATCH * OUT)).equals(bits(seen))).toBe(true);
      expect(outputs.subarray(BATCH * OUT).every(Number.isNaN)).toBe(true);

      // The dropped batch's gradients may be half written: step() refuses them
      // and backward() has no forward to differentiate.
      p.step();
      expectSameSnapshot(snapshot(p), snapshot(reference));
      expect(() => p.backward(new Ctor(BATCH * OUT), BATCH)).toThrow(RangeError);

      // It trains on exactly as the replay does: an epoch over batches 1 and 2,
      // against two trainSteps (the same masks, as the dropout stream was put back).
      const again = await p.trainEpoch(...rowsOf(x, y, 1, 2), BATCH, null);
      expect(again).toMatchObject({ batches: 2, badBatch: -1, cancelled: false });
      reference.trainStep(...rowsOf(x, y, 1));
      reference.trainStep(...rowsOf(x, y, 2));
      expectSameSnapshot(snapshot(p), snapshot(reference));
      for (const q of [p, reference, forward]) q.dispose();
    });

    it('an abort inside the first batch leaves the model exactly as it was', async () => {
      const { x, y } = data(dtype);
      const p = plan('js', dtype);
      const before = snapshot(p);
      const controller = new AbortController();
      let batches = 0;
      // The epoch pauses at most once before its first batch: turn 3 is inside it.
      const clock = abortOnTurn(controller, 3);
      const result = await p.trainEpoch(x, ROWS, y, BATCH, null, { signal: controller.signal, onBatch: () => { batches++; } });
      expect(result).toEqual({ loss: 0, batches: 0, badBatch: -1, cancelled: true });
      expect(batches).toBe(0);
      expect(clock.turns()).toBeGreaterThanOrEqual(3);
      expectSameSnapshot(snapshot(p), before);
      p.dispose();
    });
  });
}

describe.each(ENGINES)('an abort while a long epoch runs (%s engine)', (name) => {
  it('leaves the model a trainStep replay of the batches the epoch reports', async () => {
    const { x, y } = data('float64');
    const p = plan(name, 'float64');
    const controller = new AbortController();
    let events = 0;
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
      signal: controller.signal,
      onBatch: (b) => { events++; if (b === 0) abortOnTurn(controller, 3); },
    });
    // JS: inside batch 1 (see above). Native: its worker stops before its next
    // batch, wherever it is when the abort reaches it (possibly at the end).
    if (name === 'js') expect(result.batches).toBe(1);
    expect(result.batches).toBeGreaterThanOrEqual(1);
    expect(result.cancelled || result.batches === ROWS / BATCH).toBe(true);
    expect(events).toBe(result.batches);
    const reference = plan(name, 'float64');
    for (let b = 0; b < result.batches; b++) reference.trainStep(...rowsOf(x, y, b));
    expectSameSnapshot(snapshot(p), snapshot(reference));
    p.dispose();
    reference.dispose();
  });
});

describe('an abort inside a JS batch, against the native engine (float64)', () => {
  it('the JS model that dropped a batch and trained on equals the native model that never saw an abort', async () => {
    const { x, y } = data('float64');
    const js = plan('js', 'float64');
    const controller = new AbortController();
    const first = await js.trainEpoch(x, ROWS, y, BATCH, null, {
      signal: controller.signal,
      onBatch: (b) => { if (b === 0) abortOnTurn(controller, 3); },
    });
    expect(first).toMatchObject({ batches: 1, cancelled: true });
    await js.trainEpoch(...rowsOf(x, y, 1, 2), BATCH, null);
    const native = plan('native', 'float64');
    const whole = await native.trainEpoch(x, ROWS, y, BATCH, null);
    expect(whole).toMatchObject({ batches: 3, cancelled: false });
    const [a, b] = [snapshot(js), snapshot(native)];
    expect(maxRelDiff(a.params, b.params)).toBeLessThan(1e-9);
    expect(maxRelDiff(a.buffers, b.buffers)).toBeLessThan(1e-9);
    expect(maxRelDiff(a.optimizer, b.optimizer, 1e-12)).toBeLessThan(1e-6);
    expect([a.steps, a.dropout]).toEqual([b.steps, b.dropout]);
    js.dispose();
    native.dispose();
  });
});

describe('fit with an abort inside a JS batch', () => {
  const model = () => {
    const m = new Sequential([new Dense(IN, HIDDEN, { kernelRegularizer: { l2: 1e-4 } }), new BatchNorm1d(HIDDEN),
      new Dense(HIDDEN, HIDDEN, { activation: 'relu' }), new Dropout(0.2), new Dense(HIDDEN, OUT)], { engine: 'js', seed: 3 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }), metrics: ['accuracy'] });
    return m;
  };
  const { x: xs, y } = data('float32');
  const X = new Matrix(ROWS, IN, xs);
  const batch = (b: number) => new Matrix(BATCH, IN, xs.subarray(b * BATCH * IN, (b + 1) * BATCH * IN));

  it('rejects with an AbortError holding the completed epochs; the weights are those of the completed batches', async () => {
    const m = model();
    const controller = new AbortController();
    let ended = 0;
    // Epoch 0 completes; the abort comes inside batch 1 of epoch 1.
    const err = await m.fit(X, y, {
      epochs: 3, batchSize: BATCH, shuffle: false, signal: controller.signal,
      callbacks: [{ observeOnly: true, onBatchEnd: () => { if (++ended === ROWS / BATCH + 1) abortOnTurn(controller, 3); } }],
    }).then(() => null, (e: unknown) => e) as AbortError;
    expect(err).toBeInstanceOf(AbortError);
    expect((err.cause as Error).message).toBe('stop');
    expect(err.history?.epoch).toEqual([0]);
    expect(ended).toBe(ROWS / BATCH + 1);  // batch 1 of epoch 1 never ended

    const replay = model();
    for (let b = 0; b < ROWS / BATCH; b++) replay.trainStep(batch(b), y.subarray(b * BATCH, (b + 1) * BATCH));
    replay.trainStep(batch(0), y.subarray(0, BATCH));
    expectSameWeights(m.getWeights(), replay.getWeights());
    // It trains on as the replay does (the same dropout masks too).
    const lossAfter = m.trainStep(batch(1), y.subarray(BATCH, 2 * BATCH));
    expect(lossAfter).toBe(replay.trainStep(batch(1), y.subarray(BATCH, 2 * BATCH)));
    expectSameWeights(m.getWeights(), replay.getWeights());
    m.dispose();
    replay.dispose();
  });

  // An acting batch hook makes the epoch batch-driven (lib/fit-epoch.ts): a
  // batch this big is then a one-batch engine epoch, which sees the abort at
  // its pauses as well (lib/training.ts epochOfOneBatch).
  it('drops the batch in flight when the epoch is driven batch by batch (an acting onBatchEnd)', async () => {
    const m = model();
    const controller = new AbortController();
    let ended = 0;
    const err = await m.fit(X, y, {
      epochs: 3, batchSize: BATCH, shuffle: false, signal: controller.signal,
      callbacks: [{ onBatchEnd: () => { if (++ended === ROWS / BATCH + 1) abortOnTurn(controller, 3); } }],
    }).then(() => null, (e: unknown) => e) as AbortError;
    expect(err).toBeInstanceOf(AbortError);
    expect(err.history?.epoch).toEqual([0]);
    expect(ended).toBe(ROWS / BATCH + 1);  // batch 1 of epoch 1 never ended

    const replay = model();
    for (let b = 0; b < ROWS / BATCH; b++) replay.trainStep(batch(b), y.subarray(b * BATCH, (b + 1) * BATCH));
    replay.trainStep(batch(0), y.subarray(0, BATCH));
    expectSameWeights(m.getWeights(), replay.getWeights());
    expect(m.trainStep(batch(1), y.subarray(BATCH, 2 * BATCH))).toBe(replay.trainStep(batch(1), y.subarray(BATCH, 2 * BATCH)));
    m.dispose();
    replay.dispose();
  });
});

describe('predictAsync and evaluateAsync stop inside a JS forward pass', () => {
  // One pass of 512 rows of 256-1024-1024-10 (~1.3 GFLOP, ~20+ pauses): aborted
  // at its third pause, the call settles within a turn or two of the abort
  // rather than after the rest of the pass. dispose(), which is how an abort
  // stops the private plan (lib/predict-async.ts), is seen at every pause.
  const rows = 512;
  const m = new Sequential([new Dense(IN, HIDDEN, { activation: 'relu' }), new Dense(HIDDEN, HIDDEN, { activation: 'relu' }),
    new Dense(HIDDEN, OUT)], { engine: 'js', seed: 5 });
  m.compile({ loss: 'cross-entropy' });
  const x = new Matrix(rows, IN, randomArray(rows * IN, 8, Float32Array));
  const y = Int32Array.from({ length: rows }, (_, i) => i % OUT);

  for (const method of ['predictAsync', 'evaluateAsync'] as const) {
    it(method, async () => {
      const controller = new AbortController();
      const call = method === 'predictAsync'
        ? m.predictAsync(x, { batchSize: rows, signal: controller.signal })
        : m.evaluateAsync(x, y, { batchSize: rows, signal: controller.signal });
      const clock = abortOnTurn(controller, 3);
      const err = await (call as Promise<unknown>).then(() => null, (e: unknown) => e);
      const turns = clock.turns();
      expect(err).toBeInstanceOf(AbortError);
      expect(turns).toBeGreaterThanOrEqual(3);
      expect(turns - 3).toBeLessThanOrEqual(2);
    });
  }
});
