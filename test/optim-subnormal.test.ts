// Subnormal optimizer state is stored as 0 (native/core/optim_numerics.inc "Subnormal
// state", lib/engines/js/optim.ts), in both engines and both dtypes:
//  - no optimizer kind or option stores a subnormal value, with gradients
//    that are 0, ordinary, or tiny enough to make (1 − β)·g subnormal;
//  - in fused training with dead ReLU units (gradients exactly 0) whose state
//    starts just above the smallest normal number, the dead parameters never
//    move and no subnormal is stored; in the JS engine the parameters are
//    bit-identical with and without the flush after every step, and the state
//    differs only where the unflushed value is subnormal (the native engine's
//    with/without comparison is native/test/optim_flush_test.cc);
//  - the two engines agree (parity), including on which state was flushed.
import { afterEach, describe, expect, it } from 'vitest';
import type { Dtype, EngineName, FloatArray, LayerSpec, LossSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { optimizerStateSize, optimizerUpdate, setSubnormalFlushForTests } from '../lib/engines/js/optim';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

const SMALLEST_NORMAL: Record<Dtype, number> = { float32: 2 ** -126, float64: 2 ** -1022 };
const ctor = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);
const DTYPES: Dtype[] = ['float32', 'float64'];

const BASE: OptimizerSpec = { kind: 'adam', lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8 };
// Every kind and option whose state decays (Adagrad's sum only grows: last test).
const SPECS: Record<string, OptimizerSpec> = {
  'sgd-momentum': { ...BASE, kind: 'sgd', lr: 0.01, momentum: 0.9 },
  'sgd-dampening': { ...BASE, kind: 'sgd', lr: 0.01, momentum: 0.9, dampening: 0.5 },
  'sgd-nesterov': { ...BASE, kind: 'sgd', lr: 0.01, momentum: 0.9, nesterov: true },
  'rmsprop': { ...BASE, kind: 'rmsprop', lr: 0.01 },
  'rmsprop-centered-momentum': { ...BASE, kind: 'rmsprop', lr: 0.01, centered: true, momentum: 0.9 },
  'adam': BASE,
  'adam-amsgrad': { ...BASE, amsgrad: true },
  'adamw-clip': { ...BASE, kind: 'adamw', weightDecay: 0.01, clipNorm: 0.5 },
};

function subnormalCount(a: ArrayLike<number>, dtype: Dtype): number {
  let count = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0 && Math.abs(a[i]!) < SMALLEST_NORMAL[dtype]) count++;
  return count;
}

function sameBits(a: FloatArray, b: FloatArray): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** State started just above the smallest normal number: it decays into the range within ~50 steps. */
function nearFloor(n: number, dtype: Dtype): FloatArray {
  const out = new (ctor(dtype))(n);
  for (let i = 0; i < n; i++) out[i] = SMALLEST_NORMAL[dtype] * (1.05 + 0.01 * (i % 5));
  return out;
}

afterEach(() => setSubnormalFlushForTests(true));

describe('optimizerUpdate (JS engine) stores no subnormal state', () => {
  for (const dtype of DTYPES) {
    for (const [name, spec] of Object.entries(SPECS)) {
      it(`${name}, ${dtype}, zero, ordinary and tiny gradients`, () => {
        const n = 300;
        const Ctor = ctor(dtype);
        const param = randomArray(n, 3, Ctor);
        const state = nearFloor(optimizerStateSize(spec, n), dtype);
        const grad = new Ctor(n);
        let flushedToZero = 0;
        for (let step = 1; step <= 120; step++) {
          for (let i = 0; i < n; i++) {
            const wave = (((i * 7 + step * 13) % 23) - 11) / 11;
            // Thirds: zero, ordinary, and around the smallest normal (below it after (1 − β)·).
            grad[i] = i % 3 === 0 ? 0 : i % 3 === 1 ? 0.05 * wave : 4 * SMALLEST_NORMAL[dtype] * wave;
          }
          optimizerUpdate(spec, param, grad, state, n, step + 1);
          expect(subnormalCount(state, dtype)).toBe(0);
          flushedToZero += state.filter((x) => x === 0).length;
        }
        expect(flushedToZero).toBeGreaterThan(0);
      });
    }
  }

  it('rounds to float32 before flushing: a double just below 2⁻¹²⁶ that rounds up to it is kept', () => {
    // m = (1 − β1)·g with β1 = 0: a double one part in 2³⁰ below 2⁻¹²⁶ rounds to 2⁻¹²⁶ (normal).
    const spec = { ...BASE, beta1: 0, beta2: 0 };
    const state = new Float32Array(2);
    optimizerUpdate(spec, new Float32Array([1]), new Float64Array([2 ** -126 * (1 - 2 ** -30)]), state, 1, 1);
    expect(state[0]).toBe(2 ** -126);
    // One just under the midpoint to the largest subnormal rounds to a subnormal: stored as 0.
    optimizerUpdate(spec, new Float32Array([1]), new Float64Array([2 ** -126 - 2 ** -150 - 2 ** -160]), state, 1, 1);
    expect(state[0]).toBe(0);
  });
});

const IN = 6;
const HIDDEN = 10;
const OUT = 3;
const DEAD = 4;  // hidden units 0..DEAD−1 never fire
const ROWS = 12;
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: HIDDEN },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: HIDDEN, outFeatures: OUT },
];
const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };

/** Indices (in the flat parameters) of the dead units' weights and biases, whose gradients are exactly 0. */
function deadParams(): number[] {
  const out: number[] = [];
  for (let u = 0; u < DEAD; u++) {
    for (let j = 0; j < IN; j++) out.push(u * IN + j);                 // 0.weight row u
    out.push(HIDDEN * IN + u);                                         // 0.bias[u]
    for (let o = 0; o < OUT; o++) out.push(HIDDEN * IN + HIDDEN + o * HIDDEN + u);  // 2.weight column u
  }
  return out;
}

/**
 * A plan whose first DEAD hidden units have bias −50 (their pre-activation, with
 * weights in [−1, 1) and inputs in [0, 1), stays below −44), and state near the
 * floor. Their weights are not 0: the proof in optim_numerics.inc excludes |θ| below
 * ~4e-22·lr, where the unflushed subnormal step is visible (θ = 0 becomes −1.6e-33).
 */
function deadUnitPlan(name: EngineName, dtype: Dtype, spec: OptimizerSpec): NetworkPlan {
  const Ctor = ctor(dtype);
  const plan = engine(name).createPlan({ dtype, layers: LAYERS, maxBatch: ROWS });
  const params = randomArray(plan.paramCount, 7, Ctor);
  for (let u = 0; u < DEAD; u++) params[HIDDEN * IN + u] = -50;
  plan.setParams(params);
  plan.setLoss(CE);
  plan.setOptimizer(spec);
  plan.setOptimizerState(nearFloor(plan.optimizerStateSize, dtype), 10);
  return plan;
}

interface Snapshot { params: FloatArray; state: FloatArray }

/** Trains `steps` steps on inputs in [0, 1) and returns the parameters and state after each. */
function train(plan: NetworkPlan, steps: number): Snapshot[] {
  const Ctor = ctor(plan.dtype);
  const x = randomArray(ROWS * IN, 11, Ctor).map((v) => (v + 1) / 2);
  const y = Int32Array.from({ length: ROWS }, (_, i) => i % OUT);
  const out: Snapshot[] = [];
  for (let s = 0; s < steps; s++) {
    plan.trainStep(x, ROWS, y);
    const params = new Ctor(plan.paramCount);
    const state = new Ctor(plan.optimizerStateSize);
    plan.getParams(params);
    plan.getOptimizerState(state);
    out.push({ params, state });
  }
  return out;
}

const STEPS = 100;

describe('training with dead units: state decays through the subnormal range', () => {
  for (const name of ENGINES) {
    for (const dtype of DTYPES) {
      for (const [optName, spec] of Object.entries(SPECS)) {
        // AdamW's decoupled decay moves every weight, dead or not.
        const moves = spec.weightDecay > 0;
        it(`${name}, ${dtype}, ${optName}: no subnormal stored${moves ? '' : ', dead parameters never move'}`, () => {
          const plan = deadUnitPlan(name, dtype, spec);
          const start = new (ctor(dtype))(plan.paramCount);
          plan.getParams(start);
          const run = train(plan, STEPS);
          const dead = deadParams();
          for (const { params, state } of run) {
            expect(subnormalCount(state, dtype)).toBe(0);
            if (!moves) for (const i of dead) expect(params[i]).toBe(start[i]);
          }
          // The scenario reaches the range: some of the dead units' state ends flushed to 0.
          expect(run[STEPS - 1]!.state.filter((v) => v === 0).length).toBeGreaterThan(0);
          plan.dispose();
        });
      }
    }
  }

  for (const dtype of DTYPES) {
    for (const [optName, spec] of Object.entries(SPECS)) {
      it(`js, ${dtype}, ${optName}: parameters bit-identical with and without the flush`, () => {
        const flushed = train(deadUnitPlan('js', dtype, spec), STEPS);
        setSubnormalFlushForTests(false);
        const kept = train(deadUnitPlan('js', dtype, spec), STEPS);
        setSubnormalFlushForTests(true);
        let wereSubnormal = 0;
        for (let s = 0; s < STEPS; s++) {
          expect(sameBits(flushed[s]!.params, kept[s]!.params)).toBe(true);
          const a = flushed[s]!.state;
          const b = kept[s]!.state;
          for (let i = 0; i < a.length; i++) {
            if (Object.is(a[i], b[i])) continue;
            // The only difference allowed: a subnormal value stored as 0.
            expect([a[i], subnormalCount([b[i]!], dtype)]).toEqual([0, 1]);
            wereSubnormal++;
          }
        }
        expect(wereSubnormal).toBeGreaterThan(0);
      });

      it(`parity, ${dtype}, ${optName}: native and js agree on parameters and on the flushed state`, () => {
        const nat = train(deadUnitPlan('native', dtype, spec), STEPS);
        const js = train(deadUnitPlan('js', dtype, spec), STEPS);
        const tol = dtype === 'float32' ? 1e-5 : 1e-10;
        const last = STEPS - 1;
        expect(maxRelDiff(nat[last]!.params, js[last]!.params)).toBeLessThan(tol);
        // The dead units' state (bit patterns aside) is 0 in one engine exactly when in the other.
        const zeros = (a: FloatArray) => Array.from(a, (v) => v === 0);
        expect(zeros(nat[last]!.state)).toEqual(zeros(js[last]!.state));
      });
    }
  }
});

describe('Adagrad keeps its sum (it only grows; a zero gradient leaves it as it is)', () => {
  for (const dtype of DTYPES) {
    it(`js, ${dtype}`, () => {
      const spec: OptimizerSpec = { ...BASE, kind: 'adagrad', lr: 0.01, eps: 1e-10 };
      const Ctor = ctor(dtype);
      const tiny = SMALLEST_NORMAL[dtype] / 4;
      const sum = new Ctor(8).fill(tiny);
      const param = randomArray(8, 5, Ctor);
      const before = Ctor.from(param);
      for (let step = 2; step <= 5; step++) optimizerUpdate(spec, param, new Ctor(8), sum, 8, step);
      expect(Array.from(sum)).toEqual(new Array(8).fill(tiny));
      expect(sameBits(param, before)).toBe(true);
    });
  }
});

// Tiny gradients (native/core/optim_numerics.inc "Tiny gradients"): a gradient whose
// square term would be subnormal is squared as 0 (x86 takes a microcode assist
// on every such multiply; the JS engine's float64 arithmetic too). The
// parameters stay bit-identical to the unflushed run; the state differs only
// where the unflushed one is subnormal (Adagrad's never-flushed sum: below
// steps·N); elements with ordinary gradients are untouched. The native loops
// are checked the same way in native/test/optim_flush_test.cc.
describe('tiny gradients: squares that would be subnormal are dropped, parameters unchanged', () => {
  const TINY: Record<Dtype, number> = { float32: 1e-20, float64: 1e-160 };
  const squaring: Record<string, OptimizerSpec> = {
    'rmsprop': SPECS.rmsprop!,
    'rmsprop-centered-momentum': SPECS['rmsprop-centered-momentum']!,
    'adam': SPECS.adam!,
    'adam-amsgrad': SPECS['adam-amsgrad']!,
    'adagrad': { ...BASE, kind: 'adagrad', lr: 0.01, eps: 1e-10 },
  };
  afterEach(() => setSubnormalFlushForTests(true));
  for (const dtype of DTYPES) {
    for (const [optName, spec] of Object.entries(squaring)) {
      it(`js, ${dtype}, ${optName}`, () => {
        const Ctor = ctor(dtype);
        const n = 60;
        const run = (flush: boolean) => {
          setSubnormalFlushForTests(flush);
          const param = randomArray(n, 13, Ctor);
          const state = new Ctor(optimizerStateSize(spec, n));
          const snapshots: { param: FloatArray; state: FloatArray }[] = [];
          for (let step = 1; step <= 40; step++) {
            // Even elements tiny (sign and size varying), odd ones ordinary.
            const grad = Ctor.from({ length: n }, (_, i) => (i % 2 === 0
              ? TINY[dtype] * (1 + (i % 5) / 8) * (i % 4 === 0 ? 1 : -1)
              : 0.05 * ((((i * 7 + step * 13) % 23) - 11) / 11)));
            optimizerUpdate(spec, param, grad, state, n, step);
            snapshots.push({ param: Ctor.from(param), state: Ctor.from(state) });
          }
          return snapshots;
        };
        const dropped = run(true);
        const kept = run(false);
        let subnormalKept = 0;
        for (let s = 0; s < dropped.length; s++) {
          expect(sameBits(dropped[s]!.param, kept[s]!.param)).toBe(true);
          const a = dropped[s]!.state;
          const b = kept[s]!.state;
          subnormalKept += subnormalCount(b, dtype);
          for (let k = 0; k < a.length; k++) {
            if (Object.is(a[k], b[k])) continue;
            expect(k % 2, 'only elements with tiny gradients differ').toBe(0);
            expect(a[k]).toBe(0);
            const limit = spec.kind === 'adagrad' ? (s + 1) * SMALLEST_NORMAL[dtype] : SMALLEST_NORMAL[dtype];
            expect(Math.abs(b[k]!)).toBeLessThan(limit);
          }
        }
        // The unflushed run does hold subnormal state: the squares were there to drop.
        expect(subnormalKept).toBeGreaterThan(0);
      });
    }
  }
});
