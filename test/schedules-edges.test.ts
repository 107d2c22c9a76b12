// Schedules at their edges against torch.optim.lr_scheduler (PyTorch 1.13;
// test/fixtures/schedules_edges_torch.py): long runs past the end, step sizes
// of 1, γ > 1, ηmin above the base rate, one-cycle with tiny totals, and
// reduce-on-plateau with patience 0, cooldown, minLr, threshold 0, negative
// metrics and NaN epochs. schedules.test.ts covers the ordinary spans.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim, schedules } from '../lib';
import { ENGINES } from './helpers';

interface Case { schedule: keyof typeof FACTORIES; options: Record<string, number | string>; lr: number; lrs: number[]; metrics?: (number | string)[] }
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'schedules_edges_torch.json'), 'utf8')) as { cases: Case[] };

const FACTORIES = {
  step: schedules.step, exponential: schedules.exponential, cosine: schedules.cosine, linearWarmup: schedules.linearWarmup,
  oneCycle: schedules.oneCycle, reduceOnPlateau: schedules.reduceOnPlateau,
} as const;

describe('schedules at the edges match torch.optim.lr_scheduler', () => {
  for (const c of FIXTURE.cases) {
    it(`${c.schedule} ${JSON.stringify(c.options)} over ${c.lrs.length} steps`, () => {
      const opt = new optim.SGD({ lr: c.lr });
      const s = (FACTORIES[c.schedule] as (o: never, opt: optim.SGD) => schedules.Schedule)(c.options as never, opt);
      const seen: number[] = [];
      for (let i = 0; i < c.lrs.length; i++) {
        seen.push(opt.lr);
        if (c.metrics) (s as schedules.ReduceOnPlateau).step(Number(c.metrics[i]));
        else s.step();
      }
      // Relative 1e-12: torch steps most of these recursively, fastmlp in closed form.
      seen.forEach((v, i) => expect(Math.abs(v - c.lrs[i]!), `step ${i}: ${v} vs ${c.lrs[i]}`)
        .toBeLessThanOrEqual(1e-12 * Math.abs(c.lrs[i]!)));
    });
  }
});

describe.each(ENGINES)('two schedules on one optimizer in fit (%s engine)', (engine) => {
  // torch steps chained schedulers multiplicatively (warm-up × step decay:
  // 0.025, 0.04375, 0.0625, 0.040625, …); each fastmlp schedule sets the rate
  // outright, so the last one silently won (0.025, 0.025, 0.025, 0.0125, …,
  // the warm-up lost). fit refuses the pair, naming both, before any step.
  const x = new Matrix(8, 2, Float64Array.from({ length: 16 }, (_, i) => Math.sin(i)));
  const y = new Matrix(8, 1, Float64Array.from({ length: 8 }, (_, i) => Math.cos(i)));

  it('is refused with a RangeError naming both, and the weights and rate are untouched', async () => {
    const model = new Sequential([new Dense(2, 1)], { engine, seed: 1, dtype: 'float64' });
    const opt = new optim.SGD({ lr: 0.1 });
    model.compile({ loss: 'mse', optimizer: opt });
    const before = model.getWeights()['0.weight']!.slice();
    const pair = [schedules.linearWarmup({ startFactor: 0.25, totalIters: 4 }), schedules.step({ stepSize: 3, gamma: 0.5 })];
    await expect(model.fit(x, y, { epochs: 3, batchSize: 4, callbacks: pair }))
      .rejects.toThrow(/one schedule.*linearWarmup.*step/s);
    await expect(model.fit(x, y, { epochs: 3, batchSize: 4, callbacks: pair })).rejects.toBeInstanceOf(RangeError);
    expect(Array.from(model.getWeights()['0.weight']!)).toEqual(Array.from(before));
    expect(opt.lr).toBe(0.1);
  });

  it('one schedule per fit still trains, and a later fit may bring another (resuming)', async () => {
    const model = new Sequential([new Dense(2, 1)], { engine, seed: 1, dtype: 'float64' });
    const opt = new optim.SGD({ lr: 0.1 });
    model.compile({ loss: 'mse', optimizer: opt });
    await model.fit(x, y, { epochs: 2, batchSize: 4, callbacks: [schedules.step({ stepSize: 1, gamma: 0.5 })] });
    expect(opt.lr).toBeCloseTo(0.025, 15);
    const again = schedules.exponential({ gamma: 0.5 });
    await model.fit(x, y, { epochs: 3, batchSize: 4, callbacks: [again] });
    expect(again.stepCount).toBe(3);
    // The same schedule object listed twice is one schedule: not refused.
    const twice = schedules.exponential({ gamma: 0.5 });
    await expect(model.fit(x, y, { epochs: 1, batchSize: 4, callbacks: [twice, twice] })).resolves.toBeDefined();
  });
});
