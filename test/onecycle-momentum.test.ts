// The optimizers' `maximize` (gradient ascent), against PyTorch 1.13
// (test/fixtures/onecycle_momentum_torch.py): 24 full-batch steps. Public
// API, both engines, both dtypes: the rate and the momentum (β1) every step
// runs with, its loss and all weights after it. Then parity, config round
// trips and the refused options.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim, schedules } from '../lib';
import type { Dtype } from '../lib/engine';
import { ENGINES, engine } from './helpers';

interface Net { inputs: number; hidden: number; outputs: number; rows: number; initial: number[][]; x: number[]; y: number[] }
interface Trajectory { losses: number[]; weights: number[][]; lrs: number[]; momenta: number[] }
interface Case {
  name: string; net: 'ce' | 'mse'; optimizer: 'sgd' | 'adagrad' | 'rmsprop' | 'adam' | 'adamw';
  options: Record<string, unknown>; schedule: Record<string, unknown> | null;
  float64: Trajectory; float32: Trajectory;
}
interface Fixture { torch: string; steps: number; adagradCycleRefused: boolean; nets: Record<'ce' | 'mse', Net>; cases: Case[] }

const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'onecycle_momentum_torch.json'), 'utf8')) as Fixture;
const CLASSES = { sgd: optim.SGD, adagrad: optim.Adagrad, rmsprop: optim.RMSprop, adam: optim.Adam, adamw: optim.AdamW };

/** Largest |a − b| / max(|b|, floor). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

function momentumOf(o: optim.Optimizer): number {
  if (o instanceof optim.Adam) return o.betas[0];
  if (o instanceof optim.SGD || o instanceof optim.RMSprop) return o.momentum;
  return 0;
}

function replay(engineName: 'native' | 'js', dtype: Dtype, c: Case) {
  const net = FIXTURE.nets[c.net];
  const model = new Sequential([new Dense(net.inputs, net.hidden, { activation: 'tanh' }),
    new Dense(net.hidden, net.outputs)], { engine: engineName, dtype, seed: 1 });
  const [w1, b1, w2, b2] = net.initial;
  model.setWeights({ '0.weight': w1!, '0.bias': b1!, '1.weight': w2!, '1.bias': b2! });
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const x = new Matrix(net.rows, net.inputs, Arr.from(net.x));
  const y = c.net === 'ce' ? Int32Array.from(net.y) : new Matrix(net.rows, net.outputs, Arr.from(net.y));
  const optimizer = new CLASSES[c.optimizer](c.options as never);
  model.compile({ loss: c.net === 'ce' ? 'cross-entropy' : 'mse', optimizer });
  const schedule = c.schedule ? schedules.oneCycle(c.schedule as never, optimizer) : null;
  const expected = c[dtype];
  const floor = dtype === 'float64' ? 1e-3 : 0.1;
  const err = { lrs: 0, momenta: 0, losses: 0, weights: 0 };
  const flat: number[][] = [];
  for (let t = 0; t < FIXTURE.steps; t++) {
    err.lrs = Math.max(err.lrs, relErr([optimizer.lr], [expected.lrs[t]!], 0));
    err.momenta = Math.max(err.momenta, relErr([momentumOf(optimizer)], [expected.momenta[t]!], 1e-300));
    const loss = model.trainStep(x, y);
    schedule?.step();
    err.losses = Math.max(err.losses, relErr([loss], [expected.losses[t]!], floor));
    const w = model.getWeights();
    flat.push(['0.weight', '0.bias', '1.weight', '1.bias'].flatMap((k) => Array.from(w[k]!)));
    err.weights = Math.max(err.weights, relErr(flat[t]!, expected.weights[t]!, floor));
  }
  return { err, flat };
}

describe('the fixture', () => {
  it('has every maximize optimizer, and trajectories that move', () => {
    expect(FIXTURE.steps).toBeGreaterThanOrEqual(20);
    const maximized = new Set(FIXTURE.cases.filter((c) => c.options['maximize'] === true).map((c) => c.optimizer));
    expect([...maximized].sort()).toEqual(['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd']);
    for (const c of FIXTURE.cases) {
      expect(relErr(c.float64.weights[0]!, c.float64.weights[FIXTURE.steps - 1]!, 1), c.name).toBeGreaterThan(1e-3);
    }
    // Gradient ascent: the loss rises over the run.
    for (const c of FIXTURE.cases.filter((k) => k.options['maximize'] === true)) {
      expect(c.float64.losses[FIXTURE.steps - 1]!, c.name).toBeGreaterThan(c.float64.losses[0]!);
    }
  });
});

describe.each(ENGINES)('oneCycle momentum and maximize follow torch (%s engine)', (engineName) => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const c of FIXTURE.cases) {
      it(`${c.name} (${dtype})`, () => {
        const { err } = replay(engineName, dtype, c);
        if (process.env.FASTMLP_SHOW_ERRORS) console.log(engineName, dtype, c.name, JSON.stringify(err));
        // As optim-edges.test.ts: float64 the same IEEE arithmetic up to
        // summation order; float32 rounding amplified by adaptive methods.
        const tol = dtype === 'float64' ? 1e-9 : 1e-4;
        expect(err.lrs).toBeLessThan(1e-12);
        expect(err.momenta).toBeLessThan(1e-12);
        expect(err.losses).toBeLessThan(tol);
        expect(err.weights).toBeLessThan(tol);
      });
    }
  }
});

describe('parity: the native and the TypeScript engine take the same steps', () => {
  for (const c of FIXTURE.cases) {
    it(c.name, () => {
      const a = replay('native', 'float64', c).flat;
      const b = replay('js', 'float64', c).flat;
      for (let t = 0; t < a.length; t++) expect(relErr(a[t]!, b[t]!, 1e-3)).toBeLessThan(1e-12);
    });
  }
});

// ---- configs ---------------------------------------------------------------------

describe('configs carry maximize', () => {
  it('maximize round-trips through getConfig and optimizerFromConfig, and reaches the engine spec', () => {
    for (const o of [new optim.SGD({ maximize: true }), new optim.Adagrad({ maximize: true }),
      new optim.RMSprop({ maximize: true }), new optim.Adam({ maximize: true }), new optim.AdamW({ maximize: true })]) {
      expect(o.toSpec().maximize).toBe(true);
      const back = optim.optimizerFromConfig(JSON.parse(JSON.stringify(o.getConfig())));
      expect(back.constructor).toBe(o.constructor);
      expect(back.toSpec()).toEqual(o.toSpec());
    }
    expect(new optim.Adam().toSpec().maximize).toBe(false);
  });
});


// ---- refused -----------------------------------------------------------------------

describe('bad options are refused with errors naming the argument', () => {
  it.each(ENGINES)('the engine re-checks maximize in the spec (%s engine)', (engineName) => {
    const plan = engine(engineName).createPlan({ dtype: 'float64', layers: [{ kind: 'dense', inFeatures: 3, outFeatures: 2 }], maxBatch: 4 });
    expect(() => plan.setOptimizer({ ...new optim.Adam().toSpec(), maximize: 'yes' as never })).toThrow(TypeError);
    expect(() => plan.setOptimizer({ ...new optim.Adam().toSpec(), maximize: 'yes' as never })).toThrow(/maximize/);
    plan.setOptimizer({ ...new optim.Adam().toSpec(), maximize: true });
    plan.dispose();
  });

  it('maximize must be a boolean, on every optimizer', () => {
    for (const make of [(o: object) => new optim.SGD(o), (o: object) => new optim.Adagrad(o), (o: object) => new optim.RMSprop(o),
      (o: object) => new optim.Adam(o), (o: object) => new optim.AdamW(o)]) {
      expect(() => make({ maximize: 1 })).toThrow(TypeError);
      expect(() => make({ maximize: 'true' })).toThrow(/maximize/);
    }
  });
});
