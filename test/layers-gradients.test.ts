// Finite-difference gradient checks of the regularisation and normalisation
// layers through whole plans, in float64, in both engines (STYLE.md §12).
// Training mode throughout (batch norm differentiates through its batch
// statistics); dropout's mask is held fixed by restarting the mask stream
// with setSeed before every forward. Also: eval-mode batch norm, and the
// dense L1/L2 penalties, whose value and gradient are part of the loss.
import { describe, expect, it } from 'vitest';
import type { LayerSpec, LossSpec, NetworkPlan } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, numericGradient, planParamGradients, randomArray } from './helpers';

const MSE: LossSpec = { kind: 'mse', reduction: 'mean', labelSmoothing: 0 };
const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
const ROWS = 7;
const SEED = 99;

const BN: LayerSpec = { kind: 'batchnorm', numFeatures: 5, eps: 1e-5, momentum: 0.1, affine: true };
const LN: LayerSpec = { kind: 'layernorm', normalizedShape: 5, eps: 1e-5, elementwiseAffine: true };

const CASES: [string, LayerSpec[], LossSpec][] = [
  ['dropout', [{ kind: 'dense', inFeatures: 3, outFeatures: 5 }, { kind: 'dropout', p: 0.4 },
    { kind: 'dense', inFeatures: 5, outFeatures: 4 }], MSE],
  ['batch norm (affine)', [{ kind: 'dense', inFeatures: 3, outFeatures: 5 }, BN,
    { kind: 'activation', activation: 'tanh' }, { kind: 'dense', inFeatures: 5, outFeatures: 4 }], CE],
  ['batch norm without affine', [{ kind: 'dense', inFeatures: 3, outFeatures: 5 }, { ...BN, affine: false } as LayerSpec,
    { kind: 'dense', inFeatures: 5, outFeatures: 4 }], MSE],
  ['layer norm (affine)', [{ kind: 'dense', inFeatures: 3, outFeatures: 5 }, LN,
    { kind: 'dense', inFeatures: 5, outFeatures: 4 }], CE],
  ['layer norm without affine', [{ kind: 'dense', inFeatures: 3, outFeatures: 5 },
    { ...LN, elementwiseAffine: false } as LayerSpec, { kind: 'dense', inFeatures: 5, outFeatures: 4 }], MSE],
  ['prelu with one slope', [{ kind: 'dense', inFeatures: 3, outFeatures: 5 }, { kind: 'prelu', numParameters: 1 },
    { kind: 'dense', inFeatures: 5, outFeatures: 4 }], MSE],
  ['prelu with a slope per feature', [{ kind: 'dense', inFeatures: 3, outFeatures: 5 }, { kind: 'prelu', numParameters: 5 },
    { kind: 'dense', inFeatures: 5, outFeatures: 4 }], CE],
  ['norm layers and prelu first, before any dense layer', [{ kind: 'batchnorm', numFeatures: 3, eps: 1e-3, momentum: 0.5, affine: true },
    { kind: 'prelu', numParameters: 3 }, { kind: 'layernorm', normalizedShape: 3, eps: 1e-5, elementwiseAffine: true },
    { kind: 'dense', inFeatures: 3, outFeatures: 4 }], MSE],
  ['L1 and L2 penalties with dropout and batch norm', [{ kind: 'dense', inFeatures: 3, outFeatures: 5, l1: 0.01, l2: 0.02 },
    BN, { kind: 'dropout', p: 0.3 }, { kind: 'activation', activation: 'sigmoid' },
    { kind: 'dense', inFeatures: 5, outFeatures: 4, l2: 0.5 }], CE],
];

describe.each(ENGINES)('layer gradients (%s engine)', (name) => {
  const e = engine(name);

  function target(loss: LossSpec): Int32Array | Float64Array {
    return loss.kind === 'mse' ? randomArray(ROWS * 4, 13) as Float64Array : new Int32Array([0, 3, 1, 2, 2, 0, 1]);
  }

  /** Parameters: random, but norm weights near 1 and prelu slopes away from 0 keep the check well conditioned. */
  function setup(layers: LayerSpec[], loss: LossSpec, training: boolean): { plan: NetworkPlan; params: Float64Array } {
    const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: ROWS });
    plan.setLoss(loss);
    plan.setTraining(training);
    const params = randomArray(plan.paramCount, 11) as Float64Array;
    plan.setParams(params);
    return { plan, params };
  }

  function checkParams(plan: NetworkPlan, params: Float64Array, x: Float64Array, y: Int32Array | Float64Array) {
    const { analytic, numeric } = planParamGradients(plan, params, x, ROWS, y, () => plan.setSeed(SEED));
    expect(maxRelDiff(analytic, numeric)).toBeLessThan(1e-6);
    expect(analytic.some((g) => g !== 0)).toBe(true);
  }

  function checkInput(plan: NetworkPlan, params: Float64Array, x: Float64Array, y: Int32Array | Float64Array, loss: LossSpec) {
    plan.setParams(params);
    const out = new Float64Array(ROWS * plan.outputSize);
    plan.setSeed(SEED);
    plan.forwardTrain(x, ROWS, out);
    const dout = new Float64Array(out.length);
    e.lossBackward(loss, out, ROWS, plan.outputSize, y, dout);
    const dinput = new Float64Array(x.length);
    plan.backward(dout, ROWS, dinput);
    const numeric = numericGradient(() => {
      plan.setSeed(SEED);
      plan.forwardTrain(x, ROWS, out);
      return e.lossForward(loss, out, ROWS, plan.outputSize, y);
    }, x);
    expect(maxRelDiff(dinput, numeric)).toBeLessThan(1e-6);
  }

  for (const [label, layers, loss] of CASES) {
    it(`${label}: parameter and input gradients in training mode`, () => {
      const { plan, params } = setup(layers, loss, true);
      const x = randomArray(ROWS * plan.inputSize, 12) as Float64Array;
      const y = target(loss);
      checkParams(plan, params, x, y);
      checkInput(plan, params, x, y, loss);
    });
  }

  it('batch norm in eval mode (running statistics are constants)', () => {
    const { plan, params } = setup(CASES[1]![1], CE, false);
    // running_mean, running_var (5 each), then the count 4 as base-2^24 digits (lib/batch-count.ts).
    plan.setBuffers(Float64Array.from([0.1, -0.2, 0.3, 0, 0.5, 1.5, 0.7, 2, 1, 0.9, 4, 0, 0]));
    const x = randomArray(ROWS * plan.inputSize, 12) as Float64Array;
    checkParams(plan, params, x, target(CE));
    checkInput(plan, params, x, target(CE), CE);
  });

  it('the penalty is part of the reported loss: l1·Σ|w| + l2·Σw² over dense weights, not biases', () => {
    const layers: LayerSpec[] = [{ kind: 'dense', inFeatures: 2, outFeatures: 2, l1: 0.5, l2: 0.25 }];
    const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: 1 });
    const bare = e.createPlan({ dtype: 'float64', layers: [{ kind: 'dense', inFeatures: 2, outFeatures: 2 }], maxBatch: 1 });
    const params = Float64Array.from([1, -2, 0, 3, 10, -10]);
    for (const p of [plan, bare]) {
      p.setParams(params);
      p.setLoss(MSE);
    }
    const x = Float64Array.from([0.5, -1]);
    const y = Float64Array.from([1, 2]);
    const penalty = 0.5 * (1 + 2 + 0 + 3) + 0.25 * (1 + 4 + 0 + 9);
    expect(plan.computeGradients(x, 1, y)).toBeCloseTo(bare.computeGradients(x, 1, y) + penalty, 12);
    const g = new Float64Array(6);
    const g0 = new Float64Array(6);
    plan.getGrads(g);
    bare.getGrads(g0);
    // l1·sign(w) + 2·l2·w, with sign(0) = 0; biases untouched.
    const expected = [0.5 + 0.5, -0.5 - 1, 0, 0.5 + 1.5, 0, 0];
    expect(Array.from(g, (v, i) => v - g0[i]!).map((v) => Math.round(v * 1e12) / 1e12)).toEqual(expected);
  });
});
