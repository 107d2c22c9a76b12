// Optimizer trajectories against PyTorch 1.13 (torch.optim and
// torch.nn.utils.clip_grad_*): test/fixtures/optim_trajectories.py trained two
// small MLPs (4-8-3 tanh with cross-entropy, 3-6-2 tanh with MSE) from fixed
// weights for 12 full-batch steps with every optimizer and option combination,
// in float64 and in float32. Here the public API (Sequential + optim.*) replays
// them in both engines and both dtypes: the loss of every step and all weights
// after every step agree with torch's to 1e-4, relative.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim } from '../lib';
import type { Dtype } from '../lib/engine';
import { ENGINES, maxRelDiff } from './helpers';

interface Net { inputs: number; hidden: number; outputs: number; rows: number; initial: number[][]; x: number[]; y: number[] }
interface Trajectory { losses: number[]; weights: number[][] }
interface Case {
  name: string; net: 'ce' | 'mse'; optimizer: 'sgd' | 'adagrad' | 'rmsprop' | 'adam' | 'adamw';
  options: Record<string, unknown>; float64: Trajectory; float32: Trajectory;
  /** Set optimizer.lr to `lr` before step `step` (from 0), as a schedule would. */
  lrChange?: { step: number; lr: number };
}
interface Fixture { torch: string; steps: number; nets: Record<'ce' | 'mse', Net>; cases: Case[] }

const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'optim_trajectories.json'), 'utf8')) as Fixture;

const CLASSES = { sgd: optim.SGD, adagrad: optim.Adagrad, rmsprop: optim.RMSprop, adam: optim.Adam, adamw: optim.AdamW };

function flatWeights(m: Sequential): number[] {
  const w = m.getWeights();
  return ['0.weight', '0.bias', '1.weight', '1.bias'].flatMap((k) => Array.from(w[k]!));
}

function replay(engine: 'native' | 'js', dtype: Dtype, c: Case): { losses: number; weights: number } {
  const net = FIXTURE.nets[c.net];
  const model = new Sequential([new Dense(net.inputs, net.hidden, { activation: 'tanh' }),
    new Dense(net.hidden, net.outputs)], { engine, dtype, seed: 1 });
  const [w1, b1, w2, b2] = net.initial;
  model.setWeights({ '0.weight': w1!, '0.bias': b1!, '1.weight': w2!, '1.bias': b2! });
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const x = new Matrix(net.rows, net.inputs, Arr.from(net.x));
  const y = c.net === 'ce' ? Int32Array.from(net.y) : new Matrix(net.rows, net.outputs, Arr.from(net.y));
  const Ctor = CLASSES[c.optimizer];
  const optimizer = new Ctor(c.options as never);
  model.compile({ loss: c.net === 'ce' ? 'cross-entropy' : 'mse', optimizer });
  const expected = c[dtype];
  // float64 is held to relative 1e-4 down to |w| = 1e-3. In float32, rounding
  // differences (summation order in gemm, float vs double scalars) of ~1e-7 are
  // amplified by the adaptive methods' g/√v on small gradients to ~1e-6
  // absolute over 12 steps, so small weights are compared absolutely below 0.1.
  const floor = dtype === 'float64' ? 1e-3 : 0.1;
  let losses = 0;
  let weights = 0;
  for (let t = 0; t < FIXTURE.steps; t++) {
    if (c.lrChange && t === c.lrChange.step) optimizer.lr = c.lrChange.lr;
    const loss = model.trainStep(x, y);
    losses = Math.max(losses, maxRelDiff([loss], [expected.losses[t]!], floor));
    weights = Math.max(weights, maxRelDiff(flatWeights(model), expected.weights[t]!, floor));
  }
  return { losses, weights };
}

describe('the torch reference fixture', () => {
  it('covers every optimizer and option for at least 10 steps', () => {
    expect(FIXTURE.steps).toBeGreaterThanOrEqual(10);
    const seen = new Set(FIXTURE.cases.flatMap((c) => [c.optimizer, ...Object.keys(c.options)]));
    for (const key of ['sgd', 'adagrad', 'rmsprop', 'adam', 'adamw', 'momentum', 'dampening', 'nesterov',
      'weightDecay', 'betas', 'eps', 'alpha', 'centered', 'amsgrad', 'lrDecay', 'initialAccumulatorValue',
      'clipNorm', 'clipValue']) expect(seen, key).toContain(key);
    expect(FIXTURE.cases.filter((c) => c.lrChange).length).toBeGreaterThanOrEqual(3);
    // The trajectories move: a fixture whose weights stay put would test nothing.
    for (const c of FIXTURE.cases) {
      const first = c.float64.weights[0]!;
      const last = c.float64.weights[FIXTURE.steps - 1]!;
      expect(maxRelDiff(first, last, 1), c.name).toBeGreaterThan(1e-3);
    }
  });
});

describe.each(ENGINES)('optimizers follow torch.optim trajectories (%s engine)', (engine) => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const c of FIXTURE.cases) {
      it(`${c.name} (${dtype})`, () => {
        const { losses, weights } = replay(engine, dtype, c);
        if (process.env.FASTMLP_SHOW_ERRORS) console.log(`${engine} ${dtype} ${c.name}: loss ${losses.toExponential(1)}, weights ${weights.toExponential(1)}`);
        expect(losses).toBeLessThan(1e-4);
        expect(weights).toBeLessThan(1e-4);
      });
    }
  }
});
