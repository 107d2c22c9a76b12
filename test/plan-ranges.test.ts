// The engine contract's ranged copies (lib/engine.ts NetworkPlan.readParams,
// writeParams, readOptimizerState, writeOptimizerState) in both engines: any
// split into ranges reads and writes exactly what the whole-array calls do,
// every bad argument is refused naming it with nothing changed, a busy or
// disposed plan refuses them, and the two engines agree.
import { describe, expect, it } from 'vitest';
import type { Dtype, EngineName, LayerSpec, LossSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { engine, ENGINES, maxRelDiff, randomArray, thrown } from './helpers';

const IN = 6;
const OUT = 3;
const ROWS = 8;
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: 7 },
  { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 7, outFeatures: OUT },
];
const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
const ADAM: OptimizerSpec = { kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8 };

const ctor = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);

function trainedPlan(name: EngineName, dtype: Dtype, steps = 2): NetworkPlan {
  const Ctor = ctor(dtype);
  const plan = engine(name).createPlan({ dtype, layers: LAYERS, maxBatch: ROWS });
  plan.setParams(randomArray(plan.paramCount, 7, Ctor));
  plan.setLoss(CE);
  plan.setOptimizer(ADAM);
  const x = randomArray(ROWS * IN, 8, Ctor);
  const y = Int32Array.from({ length: ROWS }, (_, i) => i % OUT);
  for (let s = 0; s < steps; s++) plan.trainStep(x, ROWS, y);
  return plan;
}

function whole(plan: NetworkPlan): { params: number[]; state: number[]; steps: number } {
  const Ctor = ctor(plan.dtype);
  const params = new Ctor(plan.paramCount);
  plan.getParams(params);
  const state = new Ctor(plan.optimizerStateSize);
  plan.getOptimizerState(state);
  return { params: Array.from(params), state: Array.from(state), steps: plan.stepCount };
}

/** [0, n) cut at the given lengths, cycling, then whatever is left. */
function ranges(n: number, lengths: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0, i = 0; at < n; i++) {
    const end = Math.min(n, at + lengths[i % lengths.length]!);
    out.push([at, end]);
    at = end;
  }
  return out;
}

describe.each(ENGINES)('ranged parameter and optimizer-state copies (%s engine)', (name) => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`reading in uneven ranges gives getParams' and getOptimizerState's values (${dtype})`, () => {
      const plan = trainedPlan(name, dtype);
      const expected = whole(plan);
      expect(expected.state.length).toBe(2 * plan.paramCount);  // Adam: m and v
      const Ctor = ctor(dtype);
      for (const cut of [[1], [5, 13, 2], [plan.paramCount]]) {
        const params = new Ctor(plan.paramCount);
        for (const [a, b] of ranges(plan.paramCount, cut)) plan.readParams(a, params.subarray(a, b));
        expect(Array.from(params)).toEqual(expected.params);
        const state = new Ctor(plan.optimizerStateSize);
        for (const [a, b] of ranges(plan.optimizerStateSize, cut)) plan.readOptimizerState(a, state.subarray(a, b));
        expect(Array.from(state)).toEqual(expected.state);
      }
      plan.readParams(plan.paramCount, new Ctor(0));  // an empty range at the end
      expect(whole(plan)).toEqual(expected);           // reads change nothing
    });

    it(`writing in uneven ranges equals setParams and setOptimizerState, and training resumes exactly (${dtype})`, () => {
      const source = trainedPlan(name, dtype, 3);
      const { params, state, steps } = whole(source);
      const Ctor = ctor(dtype);
      const target = trainedPlan(name, dtype, 1);
      const p = Ctor.from(params);
      const s = Ctor.from(state);
      for (const [a, b] of ranges(p.length, [4, 9])) target.writeParams(a, p.subarray(a, b));
      for (const [a, b] of ranges(s.length, [11, 3])) target.writeOptimizerState(a, s.subarray(a, b), steps);
      expect(whole(target)).toEqual({ params, state, steps });
      const x = randomArray(ROWS * IN, 21, Ctor);
      const y = Int32Array.from({ length: ROWS }, (_, i) => (i + 1) % OUT);
      source.trainStep(x, ROWS, y);
      target.trainStep(x, ROWS, y);
      expect(whole(target)).toEqual(whole(source));
      target.writeOptimizerState(s.length, new Ctor(0), 9);  // an empty range still sets the step count
      expect(target.stepCount).toBe(9);
    });
  }

  it('refuses bad arguments with errors naming them, and changes nothing', () => {
    const plan = trainedPlan(name, 'float32');
    const before = whole(plan);
    const n = plan.paramCount;
    const cases: [() => void, ErrorConstructor, RegExp][] = [
      [() => plan.readParams('0' as unknown as number, new Float32Array(1)), TypeError, /offset/],
      [() => plan.readParams(-1, new Float32Array(1)), RangeError, /offset/],
      [() => plan.readParams(1.5, new Float32Array(1)), RangeError, /offset/],
      [() => plan.readParams(n + 1, new Float32Array(0)), RangeError, /offset/],
      [() => plan.readParams(0, [0, 0] as unknown as Float32Array), TypeError, /for out/],
      [() => plan.readParams(0, new Float64Array(2)), TypeError, /Expected a Float32Array for out but received Float64Array/],
      [() => plan.readParams(n - 2, new Float32Array(3)), RangeError, /at most 2 elements for out/],
      [() => plan.writeParams(n - 1, new Float32Array(2).fill(9)), RangeError, /at most 1 elements for src/],
      [() => plan.writeParams(0, new Float64Array(2).fill(9)), TypeError, /Expected a Float32Array for src but received Float64Array/],
      [() => plan.writeParams(0, new Int32Array(2) as unknown as Float32Array), TypeError, /for src/],
      [() => plan.readOptimizerState(2 * n + 1, new Float32Array(0)), RangeError, /offset/],
      [() => plan.readOptimizerState(2 * n, new Float32Array(1)), RangeError, /at most 0 elements for out/],
      [() => plan.writeOptimizerState(2 * n - 1, new Float32Array(2).fill(9), 5), RangeError, /at most 1 elements for src/],
      [() => plan.writeOptimizerState(0, new Float32Array(2).fill(9), -1), RangeError, /stepCount/],
      [() => plan.writeOptimizerState(0, new Float32Array(2).fill(9), 0.5), RangeError, /stepCount/],
    ];
    for (const [call, Kind, message] of cases) {
      const e = thrown(call);
      expect(e, String(call)).toBeInstanceOf(Kind);
      expect(e.message, String(call)).toMatch(message);
    }
    expect(whole(plan)).toEqual(before);
  });

  it('a busy plan refuses them (ERR_FASTMLP_BUSY), a disposed one too (ERR_FASTMLP_DISPOSED)', async () => {
    const plan = trainedPlan(name, 'float64');
    // Several chunks: the JS engine runs one chunk at once, before predictAsync returns.
    const out = new Float64Array(4 * ROWS * OUT);
    const pending = plan.predictAsync(randomArray(4 * ROWS * IN, 3, Float64Array), 4 * ROWS, out, ROWS);
    expect(thrown(() => plan.readParams(0, new Float64Array(3))).code).toBe('ERR_FASTMLP_BUSY');
    expect(thrown(() => plan.writeOptimizerState(0, new Float64Array(3), 1)).code).toBe('ERR_FASTMLP_BUSY');
    await pending;
    plan.readParams(0, new Float64Array(3));
    plan.dispose();
    for (const call of [() => plan.readParams(0, new Float64Array(1)), () => plan.writeParams(0, new Float64Array(1)),
      () => plan.readOptimizerState(0, new Float64Array(1)), () => plan.writeOptimizerState(0, new Float64Array(1), 1)]) {
      expect(thrown(call).code).toBe('ERR_FASTMLP_DISPOSED');
    }
  });
});

describe('engine parity of the ranged copies', () => {
  it('both engines read back the same bits written in ranges, and train to the same state', () => {
    const plans = ENGINES.map((name) => trainedPlan(name, 'float64', 0));
    const params = randomArray(plans[0]!.paramCount, 31, Float64Array);
    const state = Float64Array.from(randomArray(plans[0]!.optimizerStateSize, 32, Float64Array), (v, i) => (i >= params.length ? Math.abs(v) : v));
    for (const plan of plans) {
      for (const [a, b] of ranges(params.length, [6])) plan.writeParams(a, params.subarray(a, b));
      for (const [a, b] of ranges(state.length, [17])) plan.writeOptimizerState(a, state.subarray(a, b), 4);
    }
    const [native, js] = plans.map((plan) => {
      const p = new Float64Array(plan.paramCount);
      const s = new Float64Array(plan.optimizerStateSize);
      for (const [a, b] of ranges(p.length, [10])) plan.readParams(a, p.subarray(a, b));
      for (const [a, b] of ranges(s.length, [10])) plan.readOptimizerState(a, s.subarray(a, b));
      return { p: Array.from(p), s: Array.from(s), steps: plan.stepCount };
    });
    expect(native).toEqual(js);
    expect(native!.p).toEqual(Array.from(params));
    const x = randomArray(ROWS * IN, 33, Float64Array);
    const y = Int32Array.from({ length: ROWS }, (_, i) => i % OUT);
    for (const plan of plans) plan.trainStep(x, ROWS, y);
    const after = plans.map((plan) => whole(plan) as { params: number[]; state: number[]; steps: number });
    expect(maxRelDiff(after[0]!.params, after[1]!.params)).toBeLessThan(1e-12);
    expect(maxRelDiff(after[0]!.state, after[1]!.state)).toBeLessThan(1e-12);
    expect(after[0]!.steps).toBe(5);
    expect(after[1]!.steps).toBe(5);
  });
});
