// Optimizers against the update rules written out here from torch.optim's
// documentation (SPEC.md §4), step by step on real gradients, in both engines.
import { describe, expect, it } from 'vitest';
import { optim } from '../lib';
import type { LayerSpec, OptimizerSpec } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

type Rule = (p: Float64Array, g: Float64Array, state: Float64Array[], t: number) => void;

function sgdRule(s: OptimizerSpec): Rule {
  return (p, g, [v], t) => {
    for (let i = 0; i < p.length; i++) {
      let d = g[i]! + s.weightDecay * p[i]!;
      if (s.momentum !== 0) {
        v![i] = t === 1 ? d : s.momentum * v![i]! + (1 - s.dampening) * d;
        d = s.nesterov ? d + s.momentum * v![i]! : v![i]!;
      }
      p[i]! -= s.lr * d;
    }
  };
}

function adamRule(s: OptimizerSpec): Rule {
  return (p, g, [m, v], t) => {
    for (let i = 0; i < p.length; i++) {
      if (s.kind === 'adamw') p[i]! -= s.lr * s.weightDecay * p[i]!;
      const d = g[i]! + (s.kind === 'adam' ? s.weightDecay * p[i]! : 0);
      m![i] = s.beta1 * m![i]! + (1 - s.beta1) * d;
      v![i] = s.beta2 * v![i]! + (1 - s.beta2) * d * d;
      const mHat = m![i]! / (1 - s.beta1 ** t);
      const vHat = v![i]! / (1 - s.beta2 ** t);
      p[i]! -= (s.lr * mHat) / (Math.sqrt(vHat) + s.eps);
    }
  };
}

const LAYERS: LayerSpec[] = [{ kind: 'dense', inFeatures: 4, outFeatures: 5 }, { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 5, outFeatures: 3 }];

const OPTIMIZERS: [string, optim.Optimizer][] = [
  ['sgd', new optim.SGD({ lr: 0.1 })],
  ['sgd momentum + dampening + weight decay', new optim.SGD({ lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 })],
  ['sgd nesterov', new optim.SGD({ lr: 0.05, momentum: 0.8, nesterov: true })],
  ['adam', new optim.Adam({ lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.02 })],
  ['adamw', new optim.AdamW({ lr: 0.01, weightDecay: 0.1 })],
];

describe.each(ENGINES)('optimizers (%s engine)', (name) => {
  for (const [label, opt] of OPTIMIZERS) {
    it(`${label} follows the torch.optim update rule for 5 steps`, () => {
      const spec = opt.toSpec();
      const plan = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 6 });
      plan.setLoss({ kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 });
      plan.setOptimizer(spec);
      const expected = randomArray(plan.paramCount, 3) as Float64Array;
      plan.setParams(expected);
      const state = [new Float64Array(plan.paramCount), new Float64Array(plan.paramCount)];
      const rule = spec.kind === 'sgd' ? sgdRule(spec) : adamRule(spec);
      const x = randomArray(24, 4) as Float64Array;
      const y = new Int32Array([0, 1, 2, 2, 1, 0]);
      const g = new Float64Array(plan.paramCount);
      const actual = new Float64Array(plan.paramCount);
      for (let t = 1; t <= 5; t++) {
        plan.computeGradients(x, 6, y);
        plan.getGrads(g);
        plan.step();
        rule(expected, g, state, t);
        plan.getParams(actual);
        expect(maxRelDiff(actual, expected)).toBeLessThan(1e-12);
      }
      expect(plan.stepCount).toBe(5);
    });
  }

  it('keeps Adam state across a learning-rate change and resets it on a new kind', () => {
    const plan = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 6 });
    plan.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    const adam = new optim.Adam({ lr: 0.01 });
    plan.setOptimizer(adam.toSpec());
    plan.trainStep(randomArray(24, 1), 6, randomArray(18, 2));
    adam.lr = 0.001;
    plan.setOptimizer(adam.toSpec());
    expect(plan.stepCount).toBe(1);
    plan.setOptimizer(new optim.SGD().toSpec());
    expect(plan.stepCount).toBe(0);
  });
});

describe('optimizer options', () => {
  it('have PyTorch defaults', () => {
    expect(new optim.SGD().toSpec()).toMatchObject({ kind: 'sgd', lr: 0.01, momentum: 0, nesterov: false, weightDecay: 0 });
    expect(new optim.Adam().toSpec()).toMatchObject({ kind: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    expect(new optim.AdamW().toSpec()).toMatchObject({ kind: 'adamw', weightDecay: 0.01 });
  });

  it('reject bad values with named errors', () => {
    expect(() => new optim.SGD({ lr: -1 })).toThrow(/lr/);
    expect(() => new optim.SGD({ lr: NaN })).toThrow(RangeError);
    expect(() => new optim.SGD({ lr: '0.1' as never })).toThrow(TypeError);
    expect(() => new optim.SGD({ momentum: -0.5 })).toThrow(/momentum/);
    expect(() => new optim.SGD({ nesterov: true })).toThrow(/Nesterov/);
    expect(() => new optim.SGD({ learningRate: 0.1 } as never)).toThrow(/Unknown option 'learningRate'/);
    expect(() => new optim.Adam({ betas: [0.9, 1] })).toThrow(/betas\[1\]/);
    expect(() => new optim.Adam({ betas: [0.9] as never })).toThrow(/betas/);
    expect(() => new optim.Adam({ eps: 0 })).toThrow(/eps/);
    const a = new optim.Adam();
    expect(() => { a.lr = -0.1; }).toThrow(/lr/);
    expect(a.lr).toBe(1e-3);
  });
});
