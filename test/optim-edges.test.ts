// Optimizers at the edges against PyTorch 1.13 (test/fixtures/
// optim_edges_torch.py): 25 full-batch steps of option combinations, with a
// schedule (fastmlp's, stepped by hand after each step, as torch's
// lr_scheduler) changing the rate on every step while the moments and the
// bias corrections' step count carry on, and hyper-parameters at the ends of
// their ranges (β1 = 0, β2 = 0, dampening = 1, α = 0, large ε and weight
// decay). Public API, both engines, both dtypes: the rate, the loss of every
// step and all weights after it. optim-torch.test.ts covers each option alone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim, schedules } from '../lib';
import type { Dtype } from '../lib/engine';
import { ENGINES, maxRelDiff } from './helpers';

interface Net { inputs: number; hidden: number; outputs: number; rows: number; initial: number[][]; x: number[]; y: number[] }
interface Trajectory { losses: number[]; weights: number[][]; lrs: number[] }
interface Case {
  name: string; net: 'ce' | 'mse'; optimizer: 'sgd' | 'adagrad' | 'rmsprop' | 'adam' | 'adamw';
  options: Record<string, unknown>; schedule: { name: keyof typeof SCHEDULES; options: Record<string, number> } | null;
  float64: Trajectory; float32: Trajectory;
}
interface Fixture { torch: string; steps: number; nets: Record<'ce' | 'mse', Net>; cases: Case[] }

const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'optim_edges_torch.json'), 'utf8')) as Fixture;
const CLASSES = { sgd: optim.SGD, adagrad: optim.Adagrad, rmsprop: optim.RMSprop, adam: optim.Adam, adamw: optim.AdamW };
const SCHEDULES = {
  exponential: schedules.exponential, step: schedules.step, cosine: schedules.cosine, linearWarmup: schedules.linearWarmup,
} as const;

function replay(engine: 'native' | 'js', dtype: Dtype, c: Case) {
  const net = FIXTURE.nets[c.net];
  const model = new Sequential([new Dense(net.inputs, net.hidden, { activation: 'tanh' }),
    new Dense(net.hidden, net.outputs)], { engine, dtype, seed: 1 });
  const [w1, b1, w2, b2] = net.initial;
  model.setWeights({ '0.weight': w1!, '0.bias': b1!, '1.weight': w2!, '1.bias': b2! });
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const x = new Matrix(net.rows, net.inputs, Arr.from(net.x));
  const y = c.net === 'ce' ? Int32Array.from(net.y) : new Matrix(net.rows, net.outputs, Arr.from(net.y));
  const optimizer = new CLASSES[c.optimizer](c.options as never);
  model.compile({ loss: c.net === 'ce' ? 'cross-entropy' : 'mse', optimizer });
  const schedule = c.schedule ? SCHEDULES[c.schedule.name](c.schedule.options as never, optimizer) : null;
  const expected = c[dtype];
  const floor = dtype === 'float64' ? 1e-3 : 0.1;
  const err = { lrs: 0, losses: 0, weights: 0 };
  for (let t = 0; t < FIXTURE.steps; t++) {
    err.lrs = Math.max(err.lrs, maxRelDiff([optimizer.lr], [expected.lrs[t]!], 0));
    const loss = model.trainStep(x, y);
    schedule?.step();
    err.losses = Math.max(err.losses, maxRelDiff([loss], [expected.losses[t]!], floor));
    const w = model.getWeights();
    const flat = ['0.weight', '0.bias', '1.weight', '1.bias'].flatMap((k) => Array.from(w[k]!));
    err.weights = Math.max(err.weights, maxRelDiff(flat, expected.weights[t]!, floor));
  }
  return err;
}

describe('the edge fixture', () => {
  it('has schedules on most cases and trajectories that move', () => {
    expect(FIXTURE.steps).toBeGreaterThanOrEqual(20);
    expect(FIXTURE.cases.filter((c) => c.schedule).length).toBeGreaterThanOrEqual(8);
    for (const c of FIXTURE.cases) {
      expect(maxRelDiff(c.float64.weights[0]!, c.float64.weights[FIXTURE.steps - 1]!, 1), c.name).toBeGreaterThan(1e-3);
    }
  });
});

describe.each(ENGINES)('optimizers at the edges follow torch.optim (%s engine)', (engine) => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const c of FIXTURE.cases) {
      it(`${c.name} (${dtype})`, () => {
        const err = replay(engine, dtype, c);
        if (process.env.FASTMLP_SHOW_ERRORS) console.log(engine, dtype, c.name, JSON.stringify(err));
        // float64: the same IEEE arithmetic up to summation order, 1e-9 over
        // 25 steps; float32: rounding differences amplified by the adaptive
        // methods' g/√v (see optim-torch.test.ts), 1e-4 with an absolute floor.
        const tol = dtype === 'float64' ? 1e-9 : 1e-4;
        expect(err.lrs).toBeLessThan(1e-12);
        expect(err.losses).toBeLessThan(tol);
        expect(err.weights).toBeLessThan(tol);
      });
    }
  }
});

describe.each(ENGINES)('compile and optimizer state (%s engine)', (engine) => {
  // torch.optim and Keras keep moments and the step count in the optimizer
  // object: a new one starts fresh (Adam's bias correction from step 1), the
  // same one carries on. compile used to keep the plan's state for any
  // optimizer of the same kind and layout, so a new Adam inherited the old
  // one's moments and step count.
  const net = FIXTURE.nets.mse;
  const x = new Matrix(net.rows, net.inputs, Float64Array.from(net.x));
  const y = new Matrix(net.rows, net.outputs, Float64Array.from(net.y));
  const model = () => {
    const m = new Sequential([new Dense(net.inputs, net.hidden, { activation: 'tanh' }), new Dense(net.hidden, net.outputs)],
      { engine, dtype: 'float64', seed: 1 });
    const [w1, b1, w2, b2] = net.initial;
    m.setWeights({ '0.weight': w1!, '0.bias': b1!, '1.weight': w2!, '1.bias': b2! });
    return m;
  };
  const flat = (m: Sequential) => Object.values(m.getWeights()).flatMap((w) => Array.from(w));

  for (const [label, make] of [
    ['adam', () => new optim.Adam({ lr: 0.05 })],
    ['sgd momentum', () => new optim.SGD({ lr: 0.05, momentum: 0.9 })],
    ['rmsprop centered', () => new optim.RMSprop({ lr: 0.01, centered: true })],
  ] as const) {
    it(`${label}: a new optimizer in compile starts fresh, the same one carries on`, () => {
      const a = model();
      a.compile({ loss: 'mse', optimizer: make() });
      for (let t = 0; t < 4; t++) a.trainStep(x, y);
      const fresh = model();
      fresh.setWeights(a.getWeights());
      a.compile({ loss: 'mse', optimizer: make() });
      fresh.compile({ loss: 'mse', optimizer: make() });
      for (let t = 0; t < 4; t++) expect(a.trainStep(x, y)).toBe(fresh.trainStep(x, y));
      expect(flat(a)).toEqual(flat(fresh));

      const same = make();
      const b = model();
      const c = model();
      b.compile({ loss: 'mse', optimizer: same });
      c.compile({ loss: 'mse', optimizer: make() });
      for (let t = 0; t < 4; t++) { b.trainStep(x, y); c.trainStep(x, y); }
      b.compile({ loss: 'mse', optimizer: same });  // recompiled with its own optimizer: no reset
      for (let t = 0; t < 4; t++) expect(b.trainStep(x, y)).toBe(c.trainStep(x, y));
      expect(flat(b)).toEqual(flat(c));
    });
  }
});
