// Learning-rate schedules against torch.optim.lr_scheduler (PyTorch 1.13; values
// from test/fixtures/make_schedules.py), their validation, and their use in fit
// on both engines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, callbacks, optim, schedules } from '../lib';
import { ENGINES, randomArray } from './helpers';

interface Case { options: Record<string, number | string>; lr: number; lrs: number[]; metrics?: number[] }
const torch = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'schedules.json'), 'utf8')) as Record<string, Case>;

const FACTORIES: Record<string, (o: never, opt: { lr: number }) => schedules.Schedule> = {
  step: schedules.step, exponential: schedules.exponential, cosine: schedules.cosine, cosineWarmup: schedules.cosine,
  linearWarmup: schedules.linearWarmup, oneCycle: schedules.oneCycle, oneCycleEpochs: schedules.oneCycle,
  plateau: schedules.reduceOnPlateau, plateauMax: schedules.reduceOnPlateau,
};

describe('schedules match torch.optim.lr_scheduler', () => {
  for (const [name, c] of Object.entries(torch)) {
    it(name, () => {
      const opt = new optim.SGD({ lr: c.lr });
      const s = FACTORIES[name]!(c.options as never, opt);
      const seen: number[] = [];
      for (let i = 0; i < c.lrs.length; i++) {
        seen.push(opt.lr);
        if (c.metrics) (s as schedules.ReduceOnPlateau).step(c.metrics[i]!);
        else s.step();
      }
      expect(seen.length).toBe(c.lrs.length);
      seen.forEach((v, i) => expect(v).toBeCloseTo(c.lrs[i]!, 12));
    });
  }

  it('steps per epoch, except one-cycle which steps per batch (as PyTorch defines them)', () => {
    expect(schedules.step({ stepSize: 2 }).stepping).toBe('epoch');
    expect(schedules.cosine({ tMax: 5 }).stepping).toBe('epoch');
    expect(schedules.reduceOnPlateau().stepping).toBe('epoch');
    expect(schedules.oneCycle({ maxLr: 1, totalSteps: 10 }).stepping).toBe('batch');
  });

  it('one-cycle refuses to step past totalSteps, as PyTorch', () => {
    const s = schedules.oneCycle({ maxLr: 1, totalSteps: 3 }, { lr: 0.1 });
    s.step(); s.step(); s.step();
    expect(() => s.step()).toThrow(RangeError);
  });
});

describe('schedule validation', () => {
  it('names the bad argument', () => {
    expect(() => schedules.step({ stepSize: 0 })).toThrow(/stepSize/);
    expect(() => schedules.step({ stepSize: 1.5 })).toThrow(RangeError);
    expect(() => schedules.step({} as never)).toThrow(TypeError);
    expect(() => schedules.step({ stepSize: 2, gama: 0.1 } as never)).toThrow(/Unknown option 'gama'/);
    expect(() => schedules.exponential({ gamma: -1 })).toThrow(/gamma/);
    expect(() => schedules.cosine({ tMax: 10, warmupEpochs: -1 })).toThrow(/warmupEpochs/);
    expect(() => schedules.linearWarmup({ startFactor: 0 })).toThrow(/startFactor/);
    expect(() => schedules.oneCycle({ maxLr: 1 })).toThrow(/totalSteps/);
    expect(() => schedules.oneCycle({ maxLr: 1, totalSteps: 10, pctStart: 1 })).toThrow(/pctStart/);
    expect(() => schedules.reduceOnPlateau({ factor: 1 })).toThrow(/factor/);
    expect(() => schedules.reduceOnPlateau({ mode: 'up' as never })).toThrow(/mode/);
    expect(() => schedules.reduceOnPlateau({ monitor: 3 as never })).toThrow(TypeError);
    expect(() => schedules.step({ stepSize: 2 }, {} as never)).toThrow(/optimizer/);
    expect(() => schedules.step({ stepSize: 2 }).step()).toThrow(/not attached/);
    expect(() => schedules.reduceOnPlateau({}, { lr: 1 }).step(undefined)).toThrow(TypeError);
  });
});

const X = new Matrix(28, 3, randomArray(84, 11, Float32Array));
const Y = new Matrix(28, 1, Float32Array.from({ length: 28 }, (_, i) => X.data[3 * i]! - 0.5 * X.data[3 * i + 2]!));

function net(engine: 'native' | 'js') {
  return new Sequential([new Dense(3, 6, { activation: 'tanh' }), new Dense(6, 1)], { engine, seed: 9, dtype: 'float64' });
}

describe.each(ENGINES)('schedules in fit (%s engine)', (engine) => {
  it('an epoch schedule sets the rate the engine uses: same weights as changing lr by hand', async () => {
    const a = net(engine);
    const b = net(engine);
    const optA = new optim.SGD({ lr: 0.2 });
    const optB = new optim.SGD({ lr: 0.2 });
    a.compile({ loss: 'mse', optimizer: optA });
    b.compile({ loss: 'mse', optimizer: optB });
    const lrs: number[] = [];
    await a.fit(X, Y, { epochs: 5, batchSize: 28, shuffle: false, callbacks: [
      schedules.exponential({ gamma: 0.5 }), callbacks.lambda({ onEpochBegin: () => { lrs.push(optA.lr); } })] });
    for (let e = 0; e < 5; e++) {
      b.trainStep(X, Y);
      optB.lr = optB.lr * 0.5;
    }
    expect(lrs).toEqual([0.2, 0.1, 0.05, 0.025, 0.0125]);
    const wa = a.getWeights();
    const wb = b.getWeights();
    for (const k of Object.keys(wa)) Array.from(wa[k]!).forEach((v, i) => expect(v).toBeCloseTo(wb[k]![i]!, 12));
  });

  it('one-cycle steps after every batch and follows PyTorch over a whole fit', async () => {
    const c = torch['oneCycleEpochs']!;
    const m = net(engine);
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.1 }) });
    const seen: number[] = [];
    // 28 rows in batches of 4: 7 steps per epoch, 3 epochs.
    await m.fit(X, Y, { epochs: 3, batchSize: 4, callbacks: [
      schedules.oneCycle(c.options as never), callbacks.lambda({ onBatchBegin: () => { seen.push(m.optimizer!.lr); } })] });
    expect(seen.length).toBe(21);
    seen.forEach((v, i) => expect(v).toBeCloseTo(c.lrs[i]!, 12));
  });

  it('reduce-on-plateau watches a logged value and lowers the rate after patience', async () => {
    const m = net(engine);
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.05 }) });
    // mode 'max' on a falling training loss: every epoch after the first is "no better".
    const plateau = schedules.reduceOnPlateau({ monitor: 'loss', mode: 'max', patience: 1, factor: 0.5 });
    const lrs: number[] = [];
    const h = await m.fit(X, Y, { epochs: 6, batchSize: 28, shuffle: false, callbacks: [plateau,
      callbacks.lambda({ onEpochBegin: () => { lrs.push(m.optimizer!.lr); } })] });
    const loss = h.history['loss']!;
    for (let i = 1; i < loss.length; i++) expect(loss[i]!).toBeLessThan(loss[i - 1]!);
    expect(lrs).toEqual([0.05, 0.05, 0.05, 0.025, 0.025, 0.0125]);
    await expect(m.fit(X, Y, { epochs: 1, callbacks: [schedules.reduceOnPlateau()] })).rejects.toThrow(/val_loss/);
  });
});
