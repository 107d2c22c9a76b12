// A plan's large buffers are not zero-filled on the caller's thread any more:
// the native engine maps them zeroed (native/core/large_buffer.h) and swaps
// in a fresh one where it filled before (resetOptimizer, a new optimizer
// layout, reserve); the JS engine's resetOptimizer takes a fresh array, or
// none when its state is fresh and unwritten (compile's case). What
// must hold, in both engines and on a plan big enough for the native engine's
// mapped buffers (≥ 4 MiB): every such buffer reads zero when made, even
// after the memory before it was written, a reset clears whatever wrote the
// state (a step, a restore, a ranged write), and training after a reset, a
// change of optimizer or a grown batch is bit for bit a fresh plan's.
import { describe, expect, it } from 'vitest';
import type { FloatArray, LayerSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { optim } from '../lib';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

// 256-1024-1024-10: 1.3 M float32 parameters (5.1 MB), Adam state 10 MB.
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: 256, outFeatures: 1024 }, { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: 1024, outFeatures: 1024 }, { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: 1024, outFeatures: 10 },
];
const ROWS = 16;
const X = randomArray(ROWS * 256, 5, Float32Array);
const Y = Int32Array.from({ length: ROWS }, (_, i) => i % 10);
const ADAM: OptimizerSpec = new optim.Adam({ lr: 1e-3 }).toSpec();
const MOMENTUM: OptimizerSpec = new optim.SGD({ lr: 0.01, momentum: 0.9 }).toSpec();

function countNonZero(a: FloatArray): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++;
  return n;
}

/** The first index where a and b differ (bit patterns), or -1: toEqual walks a million elements slowly. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

function optimizerState(plan: NetworkPlan): Float32Array {
  const out = new Float32Array(plan.optimizerStateSize);
  plan.getOptimizerState(out);
  return out;
}

function params(plan: NetworkPlan): Float32Array {
  const out = new Float32Array(plan.paramCount);
  plan.getParams(out);
  return out;
}

const P0 = (() => {
  const p = randomArray(engine('js').createPlan({ dtype: 'float32', layers: LAYERS, maxBatch: 1 }).paramCount, 9, Float32Array);
  for (let i = 0; i < p.length; i++) p[i] = p[i]! * 0.05;
  return p;
})();

/** A plan of maxBatch rows with P0, cross-entropy and the optimizer (Adam unless said). */
function adamPlan(name: (typeof ENGINES)[number], maxBatch: number, optimizer = ADAM): NetworkPlan {
  const plan = engine(name).createPlan({ dtype: 'float32', layers: LAYERS, maxBatch });
  plan.setParams(P0);
  plan.setLoss({ kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 });
  plan.setOptimizer(optimizer);
  return plan;
}

/** A fresh plan's first step on X, Y: the reference. */
function freshStep(name: (typeof ENGINES)[number]): { plan: NetworkPlan; loss: number } {
  const plan = adamPlan(name, ROWS);
  return { plan, loss: plan.trainStep(X, ROWS, Y) };
}

/** A plan of 4 rows trained 3 steps, its optimizer then reset, its batch grown to ROWS and P0 put back. */
function resetAndGrown(name: (typeof ENGINES)[number], optimizer = ADAM): NetworkPlan {
  const plan = adamPlan(name, 4, optimizer);
  for (let i = 0; i < 3; i++) plan.trainStep(X.subarray(0, 4 * 256), 4, Y.subarray(0, 4));
  expect(plan.stepCount).toBe(3);
  plan.resetOptimizer();
  expect(plan.stepCount).toBe(0);
  expect(countNonZero(optimizerState(plan))).toBe(0);
  plan.reserve(ROWS);
  plan.setParams(P0);
  return plan;
}

describe('plan buffers made fresh instead of filled', () => {
  for (const name of ENGINES) {
    it(`start at zero, even where a plan before them wrote (${name})`, () => {
      for (let round = 0; round < 2; round++) {  // the second plan may get the first one's memory
        const plan = engine(name).createPlan({ dtype: 'float32', layers: LAYERS, maxBatch: ROWS });
        expect(countNonZero(params(plan))).toBe(0);
        const grads = new Float32Array(plan.paramCount);
        plan.getGrads(grads);
        expect(countNonZero(grads)).toBe(0);
        plan.setOptimizer(ADAM);
        expect(plan.optimizerStateSize).toBe(2 * plan.paramCount);
        expect(countNonZero(optimizerState(plan))).toBe(0);
        plan.setParams(P0);
        plan.setLoss({ kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 });
        plan.trainStep(X, ROWS, Y);
        expect(countNonZero(optimizerState(plan))).toBeGreaterThan(plan.paramCount);
        plan.dispose();
      }
    });

    it(`train after resetOptimizer and a grown batch as a fresh plan does (${name})`, () => {
      const ref = freshStep(name);
      const plan = resetAndGrown(name);
      expect(plan.trainStep(X, ROWS, Y)).toBe(ref.loss);
      expect(firstDifference(params(plan), params(ref.plan))).toBe(-1);
      expect(firstDifference(optimizerState(plan), optimizerState(ref.plan))).toBe(-1);
      plan.dispose();
      ref.plan.dispose();
    });

    it(`resetOptimizer clears a state restored whole or in ranges, not only one a step wrote (${name})`, () => {
      const plan = adamPlan(name, 4);
      const ones = new Float32Array(plan.optimizerStateSize).fill(1);
      plan.setOptimizerState(ones, 5);
      plan.resetOptimizer();
      expect(plan.stepCount).toBe(0);
      expect(countNonZero(optimizerState(plan))).toBe(0);
      plan.writeOptimizerState(1000, ones.subarray(0, 10), 2);
      plan.resetOptimizer();
      expect(countNonZero(optimizerState(plan))).toBe(0);
      plan.resetOptimizer();  // twice in a row: still zero
      expect(countNonZero(optimizerState(plan))).toBe(0);
      plan.dispose();
    });

    it(`train after Adam → momentum → Adam as a fresh plan does (${name})`, () => {
      const ref = freshStep(name);
      const plan = freshStep(name).plan;  // Adam state written
      plan.setOptimizer(MOMENTUM);  // another layout: fresh state
      expect(plan.stepCount).toBe(0);
      expect(countNonZero(optimizerState(plan))).toBe(0);
      plan.trainStep(X, ROWS, Y);  // momentum state written
      plan.setOptimizer(ADAM);
      expect(countNonZero(optimizerState(plan))).toBe(0);
      plan.setParams(P0);
      expect(plan.trainStep(X, ROWS, Y)).toBe(ref.loss);
      expect(firstDifference(params(plan), params(ref.plan))).toBe(-1);
      plan.dispose();
      ref.plan.dispose();
    });
  }

  // Momentum SGD, whose second step reads the state its first wrote. Not Adam:
  // its first step divides each gradient by its own size, so the engines'
  // float32 rounding of near-zero gradients moves parameters by up to lr.
  it('both engines take the same two steps after a reset and a grown batch (parity)', () => {
    const after: Float32Array[] = ENGINES.map((name) => {
      const plan = resetAndGrown(name, MOMENTUM);
      plan.trainStep(X, ROWS, Y);
      plan.trainStep(X, ROWS, Y);
      const p = params(plan);
      plan.dispose();
      return p;
    });
    expect(maxRelDiff(after[0]!, after[1]!)).toBeLessThan(1e-5);
  });
});
