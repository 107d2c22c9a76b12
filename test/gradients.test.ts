// Finite-difference checks of every layer and activation through whole plans,
// in float64, in both engines (STYLE.md §12: compare analytic gradients with
// central differences; random inputs keep ReLU away from its kink at 0).
import { describe, expect, it } from 'vitest';
import type { ActivationName, LayerSpec, LossSpec } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, numericGradient, planParamGradients, randomArray } from './helpers';

const ACTIVATIONS: ActivationName[] = ['identity', 'relu', 'sigmoid', 'tanh', 'softmax'];
const MSE: LossSpec = { kind: 'mse', reduction: 'mean', labelSmoothing: 0 };
const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };

function network(act: ActivationName): LayerSpec[] {
  return [
    { kind: 'dense', inFeatures: 3, outFeatures: 5 },
    { kind: 'activation', activation: act },
    { kind: 'dense', inFeatures: 5, outFeatures: 4 },
  ];
}

describe.each(ENGINES)('gradients (%s engine)', (name) => {
  const e = engine(name);
  const rows = 6;

  function check(layers: LayerSpec[], loss: LossSpec, y: Int32Array | Float64Array) {
    const plan = e.createPlan({ dtype: 'float64', layers, maxBatch: rows });
    plan.setLoss(loss);
    const params = randomArray(plan.paramCount, 11) as Float64Array;
    const x = randomArray(rows * plan.inputSize, 12) as Float64Array;
    const { analytic, numeric } = planParamGradients(plan, params, x, rows, y);
    expect(maxRelDiff(analytic, numeric)).toBeLessThan(1e-6);

    // dLoss/dInput through backward(), against differences in x.
    plan.setParams(params);
    const out = new Float64Array(rows * plan.outputSize);
    plan.forwardTrain(x, rows, out);
    const dout = new Float64Array(out.length);
    e.lossBackward(loss, out, rows, plan.outputSize, y, dout);
    const dinput = new Float64Array(x.length);
    plan.backward(dout, rows, dinput);
    const numericX = numericGradient(() => {
      plan.predict(x, rows, out);
      return e.lossForward(loss, out, rows, plan.outputSize, y);
    }, x);
    expect(maxRelDiff(dinput, numericX)).toBeLessThan(1e-6);
  }

  for (const act of ACTIVATIONS) {
    it(`dense → ${act} → dense with mse`, () => {
      check(network(act), MSE, randomArray(rows * 4, 13) as Float64Array);
    });
    it(`dense → ${act} → dense with cross-entropy`, () => {
      check(network(act), CE, new Int32Array([0, 3, 1, 2, 2, 0]));
    });
  }

  it('a single dense layer with sum-reduced mse', () => {
    check([{ kind: 'dense', inFeatures: 4, outFeatures: 3 }], { ...MSE, reduction: 'sum' }, randomArray(rows * 3, 3) as Float64Array);
  });

  it('a leading activation layer, and sum-reduced cross-entropy with label smoothing', () => {
    check([
      { kind: 'activation', activation: 'tanh' }, { kind: 'dense', inFeatures: 3, outFeatures: 5 },
      { kind: 'activation', activation: 'identity' }, { kind: 'dense', inFeatures: 5, outFeatures: 4 },
      { kind: 'activation', activation: 'relu' }, { kind: 'dense', inFeatures: 4, outFeatures: 2 },
    ], { ...CE, reduction: 'sum', labelSmoothing: 0.1 }, new Int32Array([0, 1, 1, 0, 1, 0]));
  });

  it('a deep stack ending in softmax with mse on probabilities', () => {
    check([
      { kind: 'dense', inFeatures: 3, outFeatures: 6 }, { kind: 'activation', activation: 'tanh' },
      { kind: 'dense', inFeatures: 6, outFeatures: 5 }, { kind: 'activation', activation: 'sigmoid' },
      { kind: 'dense', inFeatures: 5, outFeatures: 4 }, { kind: 'activation', activation: 'relu' },
      { kind: 'dense', inFeatures: 4, outFeatures: 4 }, { kind: 'activation', activation: 'softmax' },
    ], MSE, randomArray(rows * 4, 4) as Float64Array);
  });

  it('the batch gradient is the mean of the per-sample gradients (SPEC.md §1)', () => {
    const plan = e.createPlan({ dtype: 'float64', layers: network('tanh'), maxBatch: rows });
    plan.setLoss(CE);
    plan.setParams(randomArray(plan.paramCount, 21));
    const x = randomArray(rows * 3, 22) as Float64Array;
    const y = new Int32Array([1, 0, 3, 2, 1, 0]);
    plan.computeGradients(x, rows, y);
    const batch = new Float64Array(plan.paramCount);
    plan.getGrads(batch);
    const mean = new Float64Array(plan.paramCount);
    const one = new Float64Array(plan.paramCount);
    for (let r = 0; r < rows; r++) {
      plan.computeGradients(x.subarray(r * 3, r * 3 + 3), 1, y.subarray(r, r + 1));
      plan.getGrads(one);
      for (let i = 0; i < one.length; i++) mean[i]! += one[i]! / rows;
    }
    expect(maxRelDiff(batch, mean)).toBeLessThan(1e-12);
  });
});
