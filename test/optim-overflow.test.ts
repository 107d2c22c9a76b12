// Updates that overflow (native/core/optim_numerics.inc "Updates that overflow",
// lib/engines/js/optim.ts): a finite gradient whose update would store NaN or
// ±Infinity in a parameter or optimizer state value — weight decay on a
// weight near the largest finite number, a gradient whose square overflows,
// SGD with lr 1e30 and a gradient of 1e10 — used to be applied, corrupting
// the model until the next batch's loss showed it. Now the elements whose
// update would not be finite keep parameter and state exactly, the others are
// updated, the step is not counted, and the caller is told as for a bad batch.
// In both engines, both dtypes, every optimizer; native/JS parity.
import { describe, expect, it } from 'vitest';
import { Dense, Sequential, callbacks, optim } from '../lib';
import type { Dtype, EngineName, FloatArray, LayerSpec, LossSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { optimizerStateSize, optimizerUpdate } from '../lib/engines/js/optim';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

const DTYPES: Dtype[] = ['float32', 'float64'];
const ctor = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);
/** The largest finite value of each dtype. */
const MAX: Record<Dtype, number> = { float32: 3.4028234663852886e38, float64: Number.MAX_VALUE };
/** The planted weight, 3/4 of that, as the dtype stores it. */
const planted = (dtype: Dtype) => new (ctor(dtype))([MAX[dtype] * 0.75])[0]!;

const BASE = { momentum: 0, dampening: 0, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
/** Every optimizer and option that changes the loop, all with coupled weight decay 4 (AdamW: lr·λ = 4). */
const SPECS: Record<string, OptimizerSpec> = {
  'sgd': { ...BASE, kind: 'sgd', lr: 0.01, weightDecay: 4 },
  'sgd-momentum': { ...BASE, kind: 'sgd', lr: 0.01, weightDecay: 4, momentum: 0.9 },
  'sgd-nesterov': { ...BASE, kind: 'sgd', lr: 0.01, weightDecay: 4, momentum: 0.9, nesterov: true },
  'adagrad': { ...BASE, kind: 'adagrad', lr: 0.01, weightDecay: 4, eps: 1e-10 },
  'rmsprop': { ...BASE, kind: 'rmsprop', lr: 0.01, weightDecay: 4 },
  'rmsprop-centered-momentum': { ...BASE, kind: 'rmsprop', lr: 0.01, weightDecay: 4, centered: true, momentum: 0.9 },
  'adam': { ...BASE, kind: 'adam', lr: 1e-3, weightDecay: 4 },
  'adam-amsgrad': { ...BASE, kind: 'adam', lr: 1e-3, weightDecay: 4, amsgrad: true },
  'adamw': { ...BASE, kind: 'adamw', lr: 1, weightDecay: 4 },
};

const IN = 4;
const HIDDEN = 8;
const OUT = 2;
const ROWS = 16;
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: HIDDEN },
  { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: HIDDEN, outFeatures: OUT },
];
const MSE: LossSpec = { kind: 'mse', reduction: 'mean' } as LossSpec;

function inputs(dtype: Dtype, rows = ROWS): { x: FloatArray; y: FloatArray } {
  const Ctor = ctor(dtype);
  return {
    x: Ctor.from({ length: rows * IN }, (_, i) => ((i * 5) % 11) / 11),
    y: Ctor.from({ length: rows * OUT }, (_, i) => ((i * 3) % 7) / 7),
  };
}

/**
 * The first weight of hidden unit 0 at 3/4 of the largest finite value: with
 * inputs in [0, 1) its pre-activation stays finite and tanh saturates, so the
 * loss and gradients stay finite, but the decayed gradient g + 4θ (AdamW: θ·(1 − 4)) overflows.
 */
function plantHugeWeight(plan: NetworkPlan): void {
  const params = new (ctor(plan.dtype))(plan.paramCount);
  plan.getParams(params);
  params[0] = planted(plan.dtype);
  plan.setParams(params);
}

function makePlan(name: EngineName, dtype: Dtype, spec: OptimizerSpec): NetworkPlan {
  const plan = engine(name).createPlan({ dtype, layers: LAYERS, maxBatch: 48 });
  plan.setParams(randomArray(plan.paramCount, 5, ctor(dtype)));
  plan.setLoss(MSE);
  plan.setOptimizer(spec);
  return plan;
}

function snapshot(plan: NetworkPlan): { params: FloatArray; state: FloatArray } {
  const Ctor = ctor(plan.dtype);
  const params = new Ctor(plan.paramCount);
  const state = new Ctor(plan.optimizerStateSize);
  plan.getParams(params);
  plan.getOptimizerState(state);
  return { params, state };
}

const allFinite = (a: ArrayLike<number>) => Array.prototype.every.call(a, Number.isFinite);

/** Tolerance of the engines' parity: float32 JS computes in double and rounds once per store. */
const PARITY: Record<Dtype, number> = { float32: 1e-5, float64: 1e-12 };

describe('trainStep whose update overflows for one weight (plan level)', () => {
  for (const dtype of DTYPES) {
    for (const [optName, spec] of Object.entries(SPECS)) {
      const results: Partial<Record<EngineName, { params: FloatArray; state: FloatArray }>> = {};
      for (const name of ENGINES) {
        it(`${name}, ${dtype}, ${optName}: that weight and its state kept, the others updated, step not counted`, () => {
          const plan = makePlan(name, dtype, spec);
          const { x, y } = inputs(dtype);
          plan.trainStep(x, ROWS, y);
          expect(plan.stepCount).toBe(1);
          plantHugeWeight(plan);
          const before = snapshot(plan);
          const loss = plan.trainStep(x, ROWS, y);
          const after = snapshot(plan);
          expect(Number.isFinite(loss)).toBe(true);
          expect(plan.stepCount).toBe(1);
          expect(allFinite(after.params)).toBe(true);
          expect(allFinite(after.state)).toBe(true);
          expect(Object.is(after.params[0], before.params[0])).toBe(true);
          const n = plan.paramCount;
          for (let slice = 0; slice < plan.optimizerStateSize / n; slice++) {
            expect(Object.is(after.state[slice * n], before.state[slice * n])).toBe(true);
          }
          let moved = 0;
          for (let i = 1; i < n; i++) if (!Object.is(after.params[i], before.params[i])) moved++;
          expect(moved).toBeGreaterThan(n / 2);
          results[name] = after;
          plan.dispose();
        });
      }
      it(`native and js agree, ${dtype}, ${optName}`, () => {
        const native = results.native;
        const js = results.js;
        expect(native && js, 'both engine tests ran first').toBeTruthy();
        expect(maxRelDiff(native!.params, js!.params)).toBeLessThanOrEqual(PARITY[dtype]);
        expect(maxRelDiff(native!.state, js!.state)).toBeLessThanOrEqual(PARITY[dtype]);
      });
    }
  }
});

/**
 * AdamW with lr·λ = 3 multiplies every weight by 1 − 3 = −2 each step (exactly;
 * Adam's own step of ~lr is lost in the rounding of a weight this large), so
 * a first weight planted at 1/6 of the largest finite value overflows in the
 * third step: −max/3, 2max/3, then −4max/3. Loss and gradients stay finite (tanh saturates).
 */
const GROWING: OptimizerSpec = { ...BASE, kind: 'adamw', lr: 1, weightDecay: 3 };
const sixth = (dtype: Dtype) => new (ctor(dtype))([MAX[dtype] / 6])[0]!;

function plantGrowingWeight(plan: NetworkPlan): void {
  const params = new (ctor(plan.dtype))(plan.paramCount);
  plan.getParams(params);
  params[0] = sixth(plan.dtype);
  plan.setParams(params);
}

describe('trainEpoch stops at the batch whose update overflows', () => {
  for (const dtype of DTYPES) {
    const results: Partial<Record<EngineName, { params: FloatArray; state: FloatArray }>> = {};
    for (const name of ENGINES) {
      it(`${name}, ${dtype}: badBatch and badUpdate, the batches before it trained, everything finite`, async () => {
        const plan = makePlan(name, dtype, GROWING);
        plantGrowingWeight(plan);
        const { x, y } = inputs(dtype, 48);
        const result = await plan.trainEpoch(x, 48, y, 16, null);
        expect(result).toMatchObject({ badBatch: 2, batches: 2, badUpdate: true, cancelled: false });
        expect(result.badStatistics).toBeUndefined();
        expect(plan.stepCount).toBe(2);
        const after = snapshot(plan);
        expect(after.params[0]).toBe(4 * sixth(dtype));
        expect(allFinite(after.params)).toBe(true);
        expect(allFinite(after.state)).toBe(true);
        results[name] = after;
        plan.dispose();
      });
    }
    it(`native and js agree, ${dtype}`, () => {
      expect(results.native && results.js, 'both engine tests ran first').toBeTruthy();
      expect(maxRelDiff(results.native!.params, results.js!.params)).toBeLessThanOrEqual(PARITY[dtype]);
      expect(maxRelDiff(results.native!.state, results.js!.state)).toBeLessThanOrEqual(PARITY[dtype]);
    });
  }

  it('an epoch without overflow reports no badUpdate field (results keep their four fields)', async () => {
    for (const name of ENGINES) {
      const plan = makePlan(name, 'float32', SPECS.adam!);
      const { x, y } = inputs('float32', 48);
      const result = await plan.trainEpoch(x, 48, y, 16, null);
      expect(Object.keys(result).sort()).toEqual(['badBatch', 'batches', 'cancelled', 'loss']);
      plan.dispose();
    }
  });
});

// The JS engine's update alone, for the trigger a network cannot reach
// cheaply: a finite gradient whose square overflows (Adam's v, RMSprop's s,
// Adagrad's sum), and the brief's SGD case. The native loops are checked the
// same way, every ISA variant, in native/test/optim_overflow_test.cc.
describe('optimizerUpdate (js) with gradients whose update overflows', () => {
  const HUGE: Record<Dtype, number> = { float32: 1e21, float64: 1e160 };
  for (const dtype of DTYPES) {
    for (const [optName, base] of Object.entries(SPECS)) {
      const spec = { ...base, weightDecay: 0 };
      const adaptive = spec.kind !== 'sgd';
      it(`${dtype}, ${optName}: ${adaptive ? 'g² overflows: those elements kept' : 'no square: every element updated'}`, () => {
        const Ctor = ctor(dtype);
        const n = 40;
        const param = randomArray(n, 9, Ctor);
        const grad = Ctor.from({ length: n }, (_, i) => (i % 5 === 0 ? HUGE[dtype] : 0.1) * (i % 2 ? -1 : 1));
        const state = new Ctor(optimizerStateSize(spec, n));
        const before = param.slice();
        const applied = optimizerUpdate(spec, param, grad, state, n, 1);
        expect(applied).toBe(!adaptive);
        for (let i = 0; i < n; i++) {
          const kept = adaptive && i % 5 === 0;
          expect(Object.is(param[i], before[i])).toBe(kept);
          for (let s = 0; s < state.length / n; s++) if (kept) expect(state[s * n + i]).toBe(0);
        }
        expect(allFinite(param) && allFinite(state)).toBe(true);
      });
    }
    it(`${dtype}: SGD with lr ${dtype === 'float32' ? '1e30' : '1e300'} and a gradient of 1e10 keeps that parameter`, () => {
      const Ctor = ctor(dtype);
      const lr = dtype === 'float32' ? 1e30 : 1e300;
      const param = new Ctor(8).fill(0.5);
      const grad = Ctor.from({ length: 8 }, (_, i) => (i % 2 ? 1e10 : 1e-10));
      expect(optimizerUpdate({ ...BASE, kind: 'sgd', lr, weightDecay: 0 }, param, grad, new Ctor(0), 8, 1)).toBe(false);
      for (let i = 0; i < 8; i++) expect(param[i]).toBe(i % 2 ? 0.5 : new Ctor([0.5 - lr * 1e-10])[0]);
    });
  }

  it('float32: a double that would round to Infinity in the array counts as overflowing', () => {
    // 3.4028235e38 + 2e31 is a finite double above 2¹²⁸ − 2¹⁰³: stored, it would be Infinity.
    const param = Float32Array.of(3.4028234663852886e38, 1);
    const applied = optimizerUpdate({ ...BASE, kind: 'sgd', lr: 1, weightDecay: 0 }, param, Float32Array.of(-2e31, 0.5),
                                    new Float32Array(0), 2, 1);
    expect(applied).toBe(false);
    expect(param[0]).toBe(3.4028234663852886e38);
    expect(param[1]).toBe(0.5);
  });
});

// The public API: as a bad batch (README "Errors").
function growingModel(name: EngineName, dtype: Dtype): Sequential {
  const m = new Sequential([new Dense(IN, HIDDEN, { activation: 'tanh' }), new Dense(HIDDEN, OUT)],
                           { engine: name, seed: 4, dtype });
  m.compile({ loss: 'mse', optimizer: new optim.AdamW({ lr: 1, weightDecay: 3 }) });
  const w = m.getWeights();
  w['0.weight']![0] = sixth(dtype);
  m.setWeights(w);
  return m;
}

const UPDATE_ERROR = /^The optimizer's update overflowed to NaN or infinite for some parameters at epoch 1, batch 3 \(of 3\) though its loss, gradients and statistics were finite; training stopped there/;

function data48(dtype: Dtype) {
  const { x, y } = inputs(dtype, 48);
  return { xs: { data: x, rows: 48, cols: IN }, ys: { data: y, rows: 48, cols: OUT } };
}

describe('Sequential: an update that overflows is reported as a bad batch', () => {
  for (const name of ENGINES) {
    for (const dtype of DTYPES) {
      it(`${name}, ${dtype}: trainStep throws at the third step; that weight kept, the model finite`, () => {
        const m = growingModel(name, dtype);
        const { x, y } = inputs(dtype);
        const xs = { data: x, rows: ROWS, cols: IN };
        const ys = { data: y, rows: ROWS, cols: OUT };
        m.trainStep(xs, ys);
        m.trainStep(xs, ys);
        expect(() => m.trainStep(xs, ys)).toThrow(/^The optimizer's update overflowed to NaN or infinite for some parameters in this batch/);
        const w = m.getWeights();
        expect(w['0.weight']![0]).toBe(4 * sixth(dtype));
        for (const values of Object.values(w)) expect(allFinite(values)).toBe(true);
      });

      for (const withBatchHook of [false, true]) {
        it(`${name}, ${dtype}: fit rejects naming epoch and batch${withBatchHook ? ' (batch callbacks: driven batch by batch)' : ''}`, async () => {
          const m = growingModel(name, dtype);
          const { xs, ys } = data48(dtype);
          const seen: number[] = [];
          const hook = callbacks.lambda({ onBatchEnd: (_b: number, logs: { loss?: number }) => { seen.push(logs.loss ?? -1); } });
          const err = await m.fit(xs, ys, { epochs: 2, batchSize: 16, shuffle: false, ...(withBatchHook ? { callbacks: [hook] } : {}) })
            .then(() => null, (e: unknown) => e as Error);
          expect(err).toBeInstanceOf(RangeError);
          expect(err!.message).toMatch(UPDATE_ERROR);
          // Two batches trained; the third's hook saw NaN, as for any batch whose step was not applied.
          if (withBatchHook) expect([seen.length, Number.isFinite(seen[1]), Number.isNaN(seen[2])]).toEqual([3, true, true]);
          const w = m.getWeights();
          expect(w['0.weight']![0]).toBe(4 * sixth(dtype));
          for (const values of Object.values(w)) expect(allFinite(values)).toBe(true);
        });
      }

      it(`${name}, ${dtype}: terminateOnNaN stops fit there without an error`, async () => {
        const m = growingModel(name, dtype);
        const { xs, ys } = data48(dtype);
        const history = await m.fit(xs, ys, { epochs: 2, batchSize: 16, shuffle: false, callbacks: [callbacks.terminateOnNaN()] });
        expect(history.epoch.length).toBeLessThanOrEqual(1);
        expect(m.getWeights()['0.weight']![0]).toBe(4 * sixth(dtype));
      });
    }
  }
});
