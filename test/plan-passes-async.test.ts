// The engine contract's forwardTrainAsync and backwardStepAsync (a custom
// loss's batch off the main thread, lib/training.ts), in both engines: the
// same bits as forwardTrain, backward and step; the arguments checked at the
// call; the plan busy while a pass runs; a dispose meanwhile rejects it.
import { describe, expect, it } from 'vitest';
import type { EngineName, LayerSpec, NetworkPlan } from '../lib/engine';
import { Adam } from '../lib/optim';
import { ENGINES, engine, randomArray } from './helpers';

const IN = 12;
const OUT = 5;
const ROWS = 16;
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: 32, l2: 0.01 }, { kind: 'activation', activation: 'relu' },
  { kind: 'batchnorm', numFeatures: 32, eps: 1e-5, momentum: 0.1, affine: true }, { kind: 'dropout', p: 0.2 },
  { kind: 'dense', inFeatures: 32, outFeatures: OUT },
];
const X = randomArray(ROWS * IN, 21, Float32Array);
const DOUT = randomArray(ROWS * OUT, 22, Float32Array);

function plan(name: EngineName): NetworkPlan {
  const p = engine(name).createPlan({ dtype: 'float32', layers: LAYERS, maxBatch: ROWS });
  p.setParams(randomArray(p.paramCount, 23, Float32Array));
  p.setOptimizer(new Adam({ lr: 0.01 }).toSpec());
  p.setSeed(4);
  return p;
}

function params(p: NetworkPlan): Float32Array {
  const out = new Float32Array(p.paramCount);
  p.getParams(out);
  return out;
}

describe.each(ENGINES)('forwardTrainAsync and backwardStepAsync (%s engine)', (name) => {
  it('give the bits of forwardTrain, backward and step, and resolve with loss + penalty', async () => {
    const sync = plan(name);
    const asyncPlan = plan(name);
    for (let step = 0; step < 3; step++) {
      const a = new Float32Array(ROWS * OUT);
      const b = new Float32Array(ROWS * OUT);
      sync.forwardTrain(X, ROWS, a);
      await asyncPlan.forwardTrainAsync(X, ROWS, b);
      expect(b).toEqual(a);
      sync.backward(DOUT, ROWS);
      const total = 0.75 + sync.penalty;
      sync.step();
      expect(await asyncPlan.backwardStepAsync(DOUT, ROWS, 0.75)).toBe(total);
      expect(asyncPlan.penalty).toBeGreaterThan(0);
      expect(params(asyncPlan)).toEqual(params(sync));
      expect(asyncPlan.stepCount).toBe(sync.stepCount);
    }
  });

  it('copies x and dout at the call: changing them afterwards changes nothing', async () => {
    const reference = plan(name);
    const p = plan(name);
    const want = new Float32Array(ROWS * OUT);
    reference.forwardTrain(X, ROWS, want);
    reference.backward(DOUT, ROWS);
    reference.step();
    const x = X.slice();
    const got = new Float32Array(ROWS * OUT);
    const forward = p.forwardTrainAsync(x, ROWS, got);
    x.fill(7);
    await forward;
    expect(got).toEqual(want);
    const dout = DOUT.slice();
    const backward = p.backwardStepAsync(dout, ROWS, 1);
    dout.fill(-3);
    await backward;
    expect(params(p)).toEqual(params(reference));
  });

  it('takes no step for non-finite gradients', async () => {
    const p = plan(name);
    const before = params(p);
    await p.forwardTrainAsync(X, ROWS, new Float32Array(ROWS * OUT));
    const bad = DOUT.slice();
    bad[3] = NaN;
    expect(Number.isFinite(await p.backwardStepAsync(bad, ROWS, 1))).toBe(true);
    expect(params(p)).toEqual(before);
    expect(p.stepCount).toBe(0);
  });

  it('checks its arguments at the call, naming them', () => {
    const p = plan(name);
    const out = new Float32Array(ROWS * OUT);
    expect(() => p.forwardTrainAsync(X, ROWS + 1, new Float32Array((ROWS + 1) * OUT))).toThrow(RangeError);
    expect(() => p.forwardTrainAsync(X.subarray(1), ROWS, out)).toThrow(/x/);
    expect(() => p.forwardTrainAsync(X, ROWS, out.subarray(1))).toThrow(/out/);
    expect(() => p.forwardTrainAsync(X, ROWS, [] as never)).toThrow(/out/);
    // No forward yet: nothing to differentiate.
    expect(() => p.backwardStepAsync(DOUT, ROWS, 1)).toThrow(RangeError);
    p.forwardTrain(X, ROWS, out);
    expect(() => p.backwardStepAsync(DOUT, ROWS - 1, 1)).toThrow(/rows/);
    expect(() => p.backwardStepAsync(DOUT.subarray(1), ROWS, 1)).toThrow(/dout/);
    expect(() => p.backwardStepAsync(DOUT, ROWS, '1' as never)).toThrow(TypeError);
    expect(() => p.backwardStepAsync(DOUT, ROWS, NaN)).toThrow(/loss/);
    expect(p.stepCount).toBe(0);
  });

  it('keeps the plan busy while a pass runs', async () => {
    const p = plan(name);
    const out = new Float32Array(ROWS * OUT);
    const forward = p.forwardTrainAsync(X, ROWS, out);
    expect(() => p.forwardTrain(X, ROWS, out)).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_BUSY' }));
    expect(() => p.backwardStepAsync(DOUT, ROWS, 1)).toThrow(/busy|running/);
    expect(() => p.setParams(params(p))).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_BUSY' }));
    await forward;
    const backward = p.backwardStepAsync(DOUT, ROWS, 1);
    expect(() => p.step()).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_BUSY' }));
    // The worker writes both while it runs (the penalty layer by layer).
    expect(() => p.stepCount).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_BUSY' }));
    expect(() => p.penalty).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_BUSY' }));
    await backward;
    expect(p.stepCount).toBe(1);
    expect(Number.isFinite(p.penalty)).toBe(true);
  });

  it('rejects with ERR_FASTMLP_DISPOSED after a dispose while it runs', async () => {
    const p = plan(name);
    const forward = p.forwardTrainAsync(X, ROWS, new Float32Array(ROWS * OUT));
    p.dispose();
    await expect(forward).rejects.toMatchObject({ code: 'ERR_FASTMLP_DISPOSED' });
    expect(p.disposed).toBe(true);
  });
});
