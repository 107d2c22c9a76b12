// torch's OneCycleLR momentum cycling (cycle_momentum, base/max momentum,
// anneal_strategy, three_phase) and the optimizers' `maximize`, against
// PyTorch 1.13 (test/fixtures/onecycle_momentum_torch.py): 24 full-batch
// steps, the schedule stepped by hand after each step as torch's scheduler.
// Public API, both engines, both dtypes: the rate and the momentum (β1) every
// step runs with, its loss and all weights after it. Then parity, resuming a
// cycle from a model file, config round trips and the refused options.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim, schedules } from '../lib';
import type { Callback } from '../lib/callbacks';
import type { Dtype } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

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
    err.lrs = Math.max(err.lrs, maxRelDiff([optimizer.lr], [expected.lrs[t]!], 0));
    err.momenta = Math.max(err.momenta, maxRelDiff([momentumOf(optimizer)], [expected.momenta[t]!], 1e-300));
    const loss = model.trainStep(x, y);
    schedule?.step();
    err.losses = Math.max(err.losses, maxRelDiff([loss], [expected.losses[t]!], floor));
    const w = model.getWeights();
    flat.push(['0.weight', '0.bias', '1.weight', '1.bias'].flatMap((k) => Array.from(w[k]!)));
    err.weights = Math.max(err.weights, maxRelDiff(flat[t]!, expected.weights[t]!, floor));
  }
  return { err, flat };
}

describe('the fixture', () => {
  it('cycles momentum in most cases, has every maximize optimizer, and trajectories that move', () => {
    expect(FIXTURE.steps).toBeGreaterThanOrEqual(20);
    const cycled = FIXTURE.cases.filter((c) => c.schedule?.['cycleMomentum'] === true);
    expect(cycled.length).toBeGreaterThanOrEqual(6);
    for (const c of cycled) expect(new Set(c.float64.momenta).size, c.name).toBeGreaterThan(5);
    const maximized = new Set(FIXTURE.cases.filter((c) => c.options['maximize'] === true).map((c) => c.optimizer));
    expect([...maximized].sort()).toEqual(['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd']);
    for (const c of FIXTURE.cases) {
      expect(maxRelDiff(c.float64.weights[0]!, c.float64.weights[FIXTURE.steps - 1]!, 1), c.name).toBeGreaterThan(1e-3);
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
      for (let t = 0; t < a.length; t++) expect(maxRelDiff(a[t]!, b[t]!, 1e-3)).toBeLessThan(1e-12);
    });
  }
});

// ---- resuming a cycle from a model file -----------------------------------------

const IN = 4;
const OUT = 3;
const ROWS = 60;
const BATCH = 12;
const EPOCHS = 6;
const SPLIT_AT = 3;
const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 31, Float64Array));
const Y = Int32Array.from({ length: ROWS }, (_, i) => (i + (X.data[i * IN]! > 0 ? 1 : 0)) % OUT);
const cycle = () => schedules.oneCycle({ maxLr: 0.05, epochs: EPOCHS, stepsPerEpoch: ROWS / BATCH, cycleMomentum: true,
  threePhase: true });

describe.each(ENGINES)('a momentum cycle resumes from a model file (%s engine)', (engineName) => {
  const makers: [string, () => optim.Optimizer][] = [
    ['sgd without momentum (cycling gives it one)', () => new optim.SGD({ lr: 0.02 })],
    ['sgd nesterov', () => new optim.SGD({ lr: 0.02, momentum: 0.9, nesterov: true })],
    ['adam', () => new optim.Adam({ lr: 0.02 })],
    ['rmsprop maximize', () => new optim.RMSprop({ lr: 0.001, momentum: 0.5, maximize: true })],
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(makers)(`%s (${dtype}): save mid-cycle with the optimizer, load, resume = uninterrupted`, async (_n, make) => {
      const model = () => {
        const m = new Sequential([new Dense(IN, 8, { activation: 'tanh' }), new Dense(8, OUT)], { engine: engineName, seed: 13, dtype });
        m.compile({ loss: 'cross-entropy', optimizer: make() });
        return m;
      };
      const recorder = (m: Sequential, into: number[]): Callback => ({
        onBatchBegin: () => { into.push(m.optimizer!.lr, momentumOf(m.optimizer!)); },
      });
      const full = model();
      const fullSeen: number[] = [];
      await full.fit(X, Y, { epochs: EPOCHS, batchSize: BATCH, callbacks: [cycle(), recorder(full, fullSeen)] });

      const part = model();
      const partSeen: number[] = [];
      let saved: Buffer | null = null;
      await part.fit(X, Y, { epochs: SPLIT_AT, batchSize: BATCH, callbacks: [cycle(), recorder(part, partSeen)],
        onEpochEnd: (e) => { if (e === SPLIT_AT - 1) saved = part.toBuffer({ includeOptimizer: true }); } });
      const resumed = Sequential.fromBuffer(saved!, { engine: engineName });
      await resumed.fit(X, Y, { epochs: EPOCHS, initialEpoch: SPLIT_AT, batchSize: BATCH,
        callbacks: [cycle(), recorder(resumed, partSeen)] });

      expect(new Set(fullSeen.filter((_, i) => i % 2 === 1)).size).toBeGreaterThan(5);  // momentum did cycle
      expect(partSeen).toEqual(fullSeen);
      expect(momentumOf(resumed.optimizer!)).toBe(momentumOf(full.optimizer!));
      expect(resumed.getWeights()).toEqual(full.getWeights());
    });
  }
});

// ---- configs ---------------------------------------------------------------------

describe('configs carry maximize and the cycled momentum', () => {
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

  it('getConfig holds the momentum and β1 a cycle set, so a saved optimizer rebuilds its state layout', () => {
    const sgd = new optim.SGD({ lr: 0.1 });
    const s1 = schedules.oneCycle({ maxLr: 0.5, totalSteps: 10, cycleMomentum: true }, sgd);
    s1.step();
    s1.step();
    const config = sgd.getConfig();
    expect(config.options['momentum']).toBe(sgd.momentum);
    expect(sgd.momentum).toBeLessThan(0.95);
    expect(optim.optimizerFromConfig(config).toSpec()).toEqual(sgd.toSpec());

    const adam = new optim.Adam({ betas: [0.9, 0.98] });
    schedules.oneCycle({ maxLr: 0.01, totalSteps: 10, cycleMomentum: true, maxMomentum: 0.93 }, adam);
    expect(adam.betas).toEqual([0.93, 0.98]);
    expect(adam.getConfig().options['betas']).toEqual([0.93, 0.98]);
    // Without cycling, the options are as given.
    expect(new optim.SGD({ lr: 0.1 }).getConfig().options).toEqual({ lr: 0.1 });
  });

  it('changing momentum or betas bumps version, so a model resends the settings', () => {
    const sgd = new optim.SGD({ momentum: 0.9 });
    const v = sgd.version;
    sgd.momentum = 0.5;
    expect(sgd.version).toBe(v + 1);
    const adam = new optim.Adam();
    adam.betas = [0.8, 0.99];
    expect(adam.version).toBe(1);
    expect(adam.toSpec().beta1).toBe(0.8);
  });

  it('oneCycle without cycleMomentum leaves momentum alone (the default)', () => {
    const sgd = new optim.SGD({ lr: 0.1, momentum: 0.9 });
    const s = schedules.oneCycle({ maxLr: 0.5, totalSteps: 10 }, sgd);
    for (let t = 0; t < 5; t++) s.step();
    expect(sgd.momentum).toBe(0.9);
    expect(sgd.version).toBeGreaterThan(0);
  });
});

// ---- refused -----------------------------------------------------------------------

describe('bad options are refused with errors naming the argument', () => {
  it('oneCycle momentum options', () => {
    const base = { maxLr: 0.1, totalSteps: 10 };
    expect(() => schedules.oneCycle({ ...base, cycleMomentum: 'yes' as never })).toThrow(TypeError);
    expect(() => schedules.oneCycle({ ...base, cycleMomentum: 'yes' as never })).toThrow(/cycleMomentum/);
    expect(() => schedules.oneCycle({ ...base, threePhase: 1 as never })).toThrow(/threePhase/);
    expect(() => schedules.oneCycle({ ...base, annealStrategy: 'exp' as never })).toThrow(RangeError);
    expect(() => schedules.oneCycle({ ...base, annealStrategy: 'exp' as never })).toThrow(/annealStrategy/);
    expect(() => schedules.oneCycle({ ...base, baseMomentum: 1 })).toThrow(RangeError);
    expect(() => schedules.oneCycle({ ...base, baseMomentum: 1 })).toThrow(/baseMomentum/);
    expect(() => schedules.oneCycle({ ...base, maxMomentum: -0.1 })).toThrow(/maxMomentum/);
    expect(() => schedules.oneCycle({ ...base, maxMomentum: Number.NaN })).toThrow(/maxMomentum/);
    expect(() => schedules.oneCycle({ ...base, baseMomentum: '0.8' as never })).toThrow(TypeError);
  });

  it('an optimizer without momentum or betas (Adagrad), as torch raises; nothing changes', () => {
    expect(FIXTURE.adagradCycleRefused).toBe(true);
    const adagrad = new optim.Adagrad({ lr: 0.3 });
    expect(() => schedules.oneCycle({ maxLr: 0.1, totalSteps: 10, cycleMomentum: true }, adagrad)).toThrow(RangeError);
    expect(() => schedules.oneCycle({ maxLr: 0.1, totalSteps: 10, cycleMomentum: true }, adagrad)).toThrow(/cycleMomentum/);
    expect(adagrad.lr).toBe(0.3);
    expect(adagrad.scheduleState).toBeNull();
    // Without cycling, Adagrad takes oneCycle's rate.
    schedules.oneCycle({ maxLr: 0.1, totalSteps: 10 }, adagrad);
    expect(adagrad.lr).toBeCloseTo(0.004, 15);
  });

  it('in fit, the refusal comes from the schedule binding to the model optimizer', async () => {
    for (const engineName of ENGINES) {
      const m = new Sequential([new Dense(IN, OUT)], { engine: engineName, seed: 1 });
      m.compile({ loss: 'cross-entropy', optimizer: 'adagrad' });
      await expect(m.fit(X, Y, { epochs: 1, batchSize: BATCH,
        callbacks: [schedules.oneCycle({ maxLr: 0.1, totalSteps: 5, cycleMomentum: true })] })).rejects.toThrow(/cycleMomentum/);
    }
  });

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

  it('momentum and betas set after construction are checked', () => {
    const sgd = new optim.SGD({ momentum: 0.9 });
    expect(() => { sgd.momentum = -1; }).toThrow(RangeError);
    expect(() => { sgd.momentum = Number.NaN; }).toThrow(/momentum/);
    expect(() => { sgd.momentum = '0.9' as never; }).toThrow(TypeError);
    const nesterov = new optim.SGD({ momentum: 0.9, nesterov: true });
    expect(() => { nesterov.momentum = 0; }).toThrow(/momentum/);
    expect(nesterov.momentum).toBe(0.9);
    const rms = new optim.RMSprop({ momentum: 0.5 });
    expect(() => { rms.momentum = -0.5; }).toThrow(/momentum/);
    const adam = new optim.Adam();
    expect(() => { adam.betas = [1, 0.999]; }).toThrow(/betas\[0\]/);
    expect(() => { adam.betas = [0.9] as never; }).toThrow(RangeError);
    expect(() => { adam.betas = 0.9 as never; }).toThrow(TypeError);
    expect(adam.betas).toEqual([0.9, 0.999]);
    expect(adam.version).toBe(0);
    // The getter returns a copy: changing it changes nothing.
    adam.betas[0] = 0.1;
    expect(adam.toSpec().beta1).toBe(0.9);
  });
});
