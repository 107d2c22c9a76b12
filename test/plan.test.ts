// The NetworkPlan contract (lib/engine.ts) on both engines: an epoch is
// exactly the sequence of steps it stands for.
import { describe, expect, it } from 'vitest';
import type { LayerSpec, LossSpec, OptimizerSpec } from '../lib/engine';
import { ENGINES, engine, randomArray } from './helpers';

const LAYERS: LayerSpec[] = [{ kind: 'dense', inFeatures: 4, outFeatures: 6 }, { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: 6, outFeatures: 3 }];
const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
const SGD: OptimizerSpec = { kind: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8 };

describe.each(ENGINES)('network plan (%s engine)', (name) => {
  for (const dtype of ['float64', 'float32'] as const) {
    it(`trainEpoch equals successive trainStep calls (${dtype}, natural and shuffled order)`, async () => {
      const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
      const rows = 10;
      const x = randomArray(rows * 4, 41, Ctor);
      const y = Int32Array.from({ length: rows }, (_, i) => i % 3);
      for (const order of [null, Int32Array.from([3, 9, 0, 7, 1, 8, 2, 6, 4, 5])]) {
        const a = engine(name).createPlan({ dtype, layers: LAYERS, maxBatch: 2 });
        const b = engine(name).createPlan({ dtype, layers: LAYERS, maxBatch: 4 });
        const p0 = randomArray(a.paramCount, 43, Ctor);
        for (const p of [a, b]) {
          p.setParams(p0);
          p.setLoss(CE);
          p.setOptimizer(SGD);
        }
        const result = await a.trainEpoch(x, rows, y, 4, order);
        expect(a.maxBatch).toBe(4);  // the epoch reserved room for its batches
        let sum = 0;
        for (let start = 0; start < rows; start += 4) {
          const n = Math.min(4, rows - start);
          const xb = new Ctor(n * 4);
          const yb = new Int32Array(n);
          for (let i = 0; i < n; i++) {
            const r = order ? order[start + i]! : start + i;
            xb.set(x.subarray(r * 4, r * 4 + 4), i * 4);
            yb[i] = y[r]!;
          }
          sum += b.trainStep(xb, n, yb) * n;
        }
        expect(result.batches).toBe(3);
        expect(result.badBatch).toBe(-1);
        expect(result.loss).toBeCloseTo(sum / rows, 12);
        const pa = new Ctor(a.paramCount);
        const pb = new Ctor(b.paramCount);
        a.getParams(pa);
        b.getParams(pb);
        expect(Array.from(pa)).toEqual(Array.from(pb));
        expect(a.stepCount).toBe(3);
      }
    });
  }

  it('trainStep with a non-finite loss returns it and leaves parameters and step count unchanged', () => {
    const plan = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 2 });
    plan.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    plan.setOptimizer(SGD);
    const p0 = randomArray(plan.paramCount, 7);
    plan.setParams(p0);
    const x = new Float64Array(8).fill(1e200);  // finite input whose squared error overflows
    expect(plan.trainStep(x, 2, new Float64Array(6))).toBe(Infinity);
    const after = new Float64Array(plan.paramCount);
    plan.getParams(after);
    expect(Array.from(after)).toEqual(Array.from(p0));
    expect(plan.stepCount).toBe(0);
    expect(Number.isFinite(plan.trainStep(randomArray(8, 8), 2, randomArray(6, 9)))).toBe(true);
    expect(plan.stepCount).toBe(1);
  });
});
