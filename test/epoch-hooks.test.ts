// trainEpoch's hooks (lib/engine.ts EpochHooks) on both engines: per-batch
// events in order before the epoch resolves, cancellation through an
// AbortSignal that leaves the parameters exactly those of the batches trained,
// and a throwing hook that stops the epoch with its error.
import { describe, expect, it } from 'vitest';
import type { LayerSpec, NetworkPlan } from '../lib/engine';
import { resolveLoss, Loss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { ENGINES, engine, randomArray } from './helpers';

// Wide enough, and enough batches, that the native worker is still training when
// JS sees an early batch's event (the abort test relies on that).
const LAYERS: LayerSpec[] = [{ kind: 'dense', inFeatures: 5, outFeatures: 128 }, { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 128, outFeatures: 3 }];
const ROWS = 8 * 15000;  // long enough (~0.1 s native) that the abort from batch 2's event lands mid-epoch even on a loaded machine
const BATCH = 8;
const x = randomArray(ROWS * 5, 7);
const y = Int32Array.from({ length: ROWS }, (_, i) => (i * 7) % 3);

function plan(name: (typeof ENGINES)[number]): NetworkPlan {
  const p = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: BATCH });
  p.setParams(randomArray(p.paramCount, 11));
  p.setLoss((resolveLoss('cross-entropy', 'loss') as Loss).spec);
  p.setOptimizer(new SGD({ lr: 0.05, momentum: 0.9 }).toSpec());
  return p;
}

function params(p: NetworkPlan): Float64Array {
  const out = new Float64Array(p.paramCount);
  p.getParams(out);
  return out;
}

/** The parameters after `batches` plain trainStep calls over the first rows. */
function afterSteps(name: (typeof ENGINES)[number], batches: number): Float64Array {
  const p = plan(name);
  for (let b = 0; b < batches; b++) {
    p.trainStep(x.subarray(b * BATCH * 5, (b + 1) * BATCH * 5), BATCH, y.subarray(b * BATCH, (b + 1) * BATCH));
  }
  return params(p);
}

describe.each(ENGINES)('trainEpoch hooks (%s engine)', (name) => {
  it('onBatch sees every batch in order, with its rows and loss, before the epoch resolves', async () => {
    const p = plan(name);
    const events: [number, number, number][] = [];
    const seconds: number[] = [];
    const rows = 12 * BATCH - 3;
    const started = performance.now();
    const result = await p.trainEpoch(x.subarray(0, rows * 5), rows, y.subarray(0, rows), BATCH, null,
      { onBatch: (b, r, l, s) => { events.push([b, r, l]); seconds.push(s); } });
    const wall = (performance.now() - started) / 1000;
    // Time since the epoch's start, measured where the batches ran: positive, non-decreasing, within the call.
    expect(seconds[0]).toBeGreaterThan(0);
    seconds.forEach((s, i) => { if (i > 0) expect(s).toBeGreaterThanOrEqual(seconds[i - 1]!); });
    expect(seconds.at(-1)!).toBeLessThanOrEqual(wall);
    expect(result.batches).toBe(12);
    expect(result.cancelled).toBe(false);
    expect(events.map((e) => e[0])).toEqual([...Array(12).keys()]);
    expect(events.map((e) => e[1])).toEqual([...Array(11).fill(BATCH), BATCH - 3]);
    const mean = events.reduce((s, [, r, l]) => s + r * l, 0) / rows;
    expect(mean).toBeCloseTo(result.loss, 12);
  });

  it('an abort stops between batches; the parameters are exactly those of the batches trained', async () => {
    const p = plan(name);
    const controller = new AbortController();
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, {
      signal: controller.signal,
      onBatch: (b) => { if (b === 2) controller.abort(); },
    });
    expect(result.cancelled).toBe(true);
    expect(result.batches).toBeGreaterThanOrEqual(3);
    expect(result.batches).toBeLessThan(ROWS / BATCH);
    expect(params(p)).toEqual(afterSteps(name, result.batches));
    // The plan is idle and consistent: it trains on.
    const again = await p.trainEpoch(x.subarray(0, 80 * 5), 80, y.subarray(0, 80), BATCH, null);
    expect(again.batches).toBe(10);
    expect(Number.isFinite(again.loss)).toBe(true);
  });

  it('an already-aborted signal trains nothing', async () => {
    const p = plan(name);
    const before = params(p);
    const result = await p.trainEpoch(x, ROWS, y, BATCH, null, { signal: AbortSignal.abort() });
    expect(result).toMatchObject({ batches: 0, cancelled: true });
    expect(params(p)).toEqual(before);
  });

  it('a throwing onBatch rejects the epoch with its error and leaves the plan usable', async () => {
    const p = plan(name);
    const boom = new Error('hook failed');
    await expect(p.trainEpoch(x, ROWS, y, BATCH, null, { onBatch: (b) => { if (b === 1) throw boom; } }))
      .rejects.toBe(boom);
    expect(p.trainStep(x.subarray(0, BATCH * 5), BATCH, y.subarray(0, BATCH))).toBeGreaterThan(0);
  });
});
