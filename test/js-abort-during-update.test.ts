// An abort that arrives during a JS batch's optimizer update (lib/engines/js/
// plan.ts trainBatch): the update, once begun, runs to its end — a model with
// part of its parameters updated would be no model — and the epoch stops
// before the next batch, so the batch counts as completed. The abort before
// the update drops the batch: js-abort-in-batch.test.ts.
//
// To fire the abort at a pause inside the update, whatever the machine's
// speed, this file wraps the optimizer's sliced update (optimizerSteps) to
// mark it in progress and makes every yield inside it a pause (yieldDue);
// the arithmetic is the engine's own, and everything else pauses as usual.
import { describe, expect, it, vi } from 'vitest';
import type { FloatArray, LayerSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { jsEngine } from '../lib/engines/js';
import { AbortError, Dense, Dropout, Matrix, Sequential, optim } from '../lib';
import { CE } from './js-slices-scenario';
import { randomArray } from './helpers';
import { expectSameSnapshot, expectSameWeights, snapshot } from './plan-snapshot';

const phase = vi.hoisted(() => ({ updating: false, updatesDone: 0 }));

vi.mock('../lib/engines/js/optim', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../lib/engines/js/optim')>();
  return {
    ...actual,
    *optimizerSteps(...args: Parameters<typeof actual.optimizerSteps>): Generator<void, boolean> {
      phase.updating = true;
      try {
        return yield* actual.optimizerSteps(...args);
      } finally {
        phase.updating = false;
        phase.updatesDone++;
      }
    },
  };
});

vi.mock('../lib/event-loop', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../lib/event-loop')>();
  return { ...actual, yieldDue: () => phase.updating || actual.yieldDue() };
});

/**
 * Aborts at the first turn of the event loop that finds the update of the
 * batch with index `batch` in progress (the updates are counted from when
 * this is called); resolves true then, or false if the epoch ended first.
 */
function abortInUpdate(controller: AbortController, batch: number, ended: () => boolean): Promise<boolean> {
  const first = phase.updatesDone;
  return new Promise((resolve) => {
    const tick = () => {
      if (phase.updating && phase.updatesDone - first === batch) {
        controller.abort(new Error('stop'));
        resolve(true);
      } else if (ended()) {
        resolve(false);
      } else {
        setImmediate(tick);
      }
    };
    setImmediate(tick);
  });
}

const IN = 64;
const OUT = 10;
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: 512, l2: 1e-4 },
  { kind: 'batchnorm', numFeatures: 512, eps: 1e-5, momentum: 0.1, affine: true },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dropout', p: 0.2 },
  { kind: 'dense', inFeatures: 512, outFeatures: 512 },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: 512, outFeatures: OUT },
];
const BATCH = 32;
const ROWS = 3 * BATCH;
const ADAM: OptimizerSpec = {
  kind: 'adam', lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8,
};
const x = randomArray(ROWS * IN, 41, Float32Array);
const y = Int32Array.from({ length: ROWS }, (_, i) => (i * 7) % OUT);
const rowsOf = (b: number): [FloatArray, number, Int32Array] =>
  [x.subarray(b * BATCH * IN, (b + 1) * BATCH * IN), BATCH, y.subarray(b * BATCH, (b + 1) * BATCH)];

function plan(): NetworkPlan {
  const p = jsEngine.createPlan({ dtype: 'float32', layers: LAYERS, maxBatch: BATCH });
  const init = randomArray(p.paramCount, 5, Float32Array);
  for (let i = 0; i < init.length; i++) init[i] *= 0.05;
  p.setParams(init);
  p.setLoss(CE);
  p.setOptimizer(ADAM);
  p.setSeed(17);
  return p;
}

describe('an abort during a JS batch\'s optimizer update', () => {
  it('finishes the update and stops after that batch, which counts as completed', async () => {
    const p = plan();
    const controller = new AbortController();
    const losses: number[] = [];
    let ended = false;
    const inUpdate = abortInUpdate(controller, 1, () => ended);
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
      signal: controller.signal,
      onBatch: (_b, _rows, loss) => { losses.push(loss); },
    });
    ended = true;
    expect(await inUpdate).toBe(true);  // the abort came at a pause inside batch 1's update
    expect(result).toMatchObject({ batches: 2, badBatch: -1, cancelled: true });
    expect(losses).toHaveLength(2);
    const reference = plan();
    reference.trainStep(...rowsOf(0));
    reference.trainStep(...rowsOf(1));
    expectSameSnapshot(snapshot(p), snapshot(reference));
    // It trains on as the replay does.
    await p.trainEpoch(...rowsOf(2), BATCH, null);
    reference.trainStep(...rowsOf(2));
    expectSameSnapshot(snapshot(p), snapshot(reference));
    p.dispose();
    reference.dispose();
  });

  it('in the last batch of fit\'s epoch: the epoch completes and fit still rejects with an AbortError', async () => {
    const model = () => {
      // 300 k parameters: an update of several slices, so of several pauses here.
      const m = new Sequential([new Dense(IN, 512, { activation: 'relu' }), new Dropout(0.2), new Dense(512, 512, { activation: 'relu' }),
        new Dense(512, OUT)], { engine: 'js', seed: 3 });
      m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }) });
      return m;
    };
    const m = model();
    const controller = new AbortController();
    let ended = false;
    let batchesEnded = 0;
    const inUpdate = abortInUpdate(controller, ROWS / BATCH - 1, () => ended);
    const err = await m.fit(new Matrix(ROWS, IN, x), y, {
      epochs: 2, batchSize: BATCH, shuffle: false, signal: controller.signal,
      callbacks: [{ observeOnly: true, onBatchEnd: () => { batchesEnded++; } }],
    }).then(() => null, (e: unknown) => e) as AbortError;
    ended = true;
    expect(await inUpdate).toBe(true);
    expect(err).toBeInstanceOf(AbortError);
    expect((err.cause as Error).message).toBe('stop');
    expect(err.history?.epoch).toEqual([]);  // the aborted epoch is not recorded, though all its batches ran
    expect(batchesEnded).toBe(ROWS / BATCH);  // every batch of epoch 0 ended, and no more ran
    const replay = model();
    for (let b = 0; b < ROWS / BATCH; b++) replay.trainStep(new Matrix(BATCH, IN, rowsOf(b)[0]), rowsOf(b)[2]);
    expectSameWeights(m.getWeights(), replay.getWeights());
    m.dispose();
    replay.dispose();
  });
});
