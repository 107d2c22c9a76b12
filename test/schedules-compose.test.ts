// SequentialLR, MultiStepLR, CosineAnnealingWarmRestarts and reduce-on-plateau's
// thresholdMode against torch.optim.lr_scheduler (PyTorch 1.13;
// test/fixtures/schedules_compose_torch.py), stepped by hand and through fit in
// both engines; their bad options; and fit's refusal of two schedules, whose
// message now points to schedules.sequential.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim, schedules } from '../lib';
import { ENGINES } from './helpers';

interface Part { schedule: string; options: Record<string, unknown> }
interface Case extends Part { lr: number; lrs: number[]; parts?: Part[]; metrics?: number[] }
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'schedules_compose_torch.json'), 'utf8')) as { cases: Case[] };

const FACTORIES: Record<string, (o: never, opt?: optim.SGD) => schedules.Schedule> = {
  step: schedules.step, exponential: schedules.exponential, cosine: schedules.cosine,
  linearWarmup: schedules.linearWarmup, multiStep: schedules.multiStep,
  cosineWarmRestarts: schedules.cosineWarmRestarts, reduceOnPlateau: schedules.reduceOnPlateau,
};

function make(c: Case, opt?: optim.SGD): schedules.Schedule {
  if (c.schedule === 'sequential') {
    const parts = c.parts!.map((p) => FACTORIES[p.schedule]!(p.options as never));
    return schedules.sequential(parts, c.options as never, opt);
  }
  return FACTORIES[c.schedule]!(c.options as never, opt);
}

function expectLrs(seen: number[], want: number[]): void {
  expect(seen.length).toBe(want.length);
  // Relative 1e-12 (absolute near 0): torch steps these recursively, fastmlp in closed form.
  seen.forEach((v, i) => expect(Math.abs(v - want[i]!), `step ${i}: ${v} vs ${want[i]}`)
    .toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(want[i]!), 1e-3)));
}

describe('sequential, multiStep, cosineWarmRestarts and thresholdMode match torch step by step', () => {
  for (const c of FIXTURE.cases) {
    const label = c.parts ? `${c.schedule}(${c.parts.map((p) => `${p.schedule} ${JSON.stringify(p.options)}`).join(', ')})` : c.schedule;
    it(`${label} ${JSON.stringify(c.options)} over ${c.lrs.length} steps`, () => {
      const opt = new optim.SGD({ lr: c.lr });
      const s = make(c, opt);
      const seen: number[] = [];
      for (let i = 0; i < c.lrs.length; i++) {
        seen.push(opt.lr);
        if (c.metrics) (s as schedules.ReduceOnPlateau).step(c.metrics[i]!);
        else s.step();
      }
      expectLrs(seen, c.lrs);
    });
  }

  it('thresholdMode changes the outcome (abs and rel differ on the same metrics)', () => {
    const cases = FIXTURE.cases.filter((c) => c.schedule === 'reduceOnPlateau' && c.options['mode'] === 'min' &&
      c.options['threshold'] === 0.05 && c.metrics![0] === 0.5);
    expect(cases.map((c) => c.options['thresholdMode']).sort()).toEqual(['abs', 'rel']);
    expect(cases[0]!.lrs).not.toEqual(cases[1]!.lrs);
  });
});

describe.each(ENGINES)('the new schedules drive fit epoch by epoch as torch (%s engine)', (engine) => {
  const x = new Matrix(8, 2, Float64Array.from({ length: 16 }, (_, i) => Math.sin(i)));
  const y = new Matrix(8, 1, Float64Array.from({ length: 8 }, (_, i) => Math.cos(i)));
  const epochCases = FIXTURE.cases.filter((c) => c.schedule !== 'reduceOnPlateau');

  it.each(epochCases.map((c) => [`${c.schedule} ${JSON.stringify(c.options)}`, c] as const))('%s', async (_label, c) => {
    const model = new Sequential([new Dense(2, 1)], { engine, seed: 1, dtype: 'float64' });
    const opt = new optim.SGD({ lr: c.lr });
    model.compile({ loss: 'mse', optimizer: opt });
    const seen: number[] = [];
    await model.fit(x, y, { epochs: c.lrs.length, batchSize: 4,
      callbacks: [make(c), { onEpochBegin: () => { seen.push(model.optimizer!.lr); } }] });
    expectLrs(seen, c.lrs);
  });

  it('reduceOnPlateau with thresholdMode abs follows the monitored loss', async () => {
    const model = new Sequential([new Dense(2, 1)], { engine, seed: 1, dtype: 'float64' });
    const opt = new optim.SGD({ lr: 0.05 });
    model.compile({ loss: 'mse', optimizer: opt });
    // An absolute margin larger than any epoch's improvement: every epoch after the first is bad.
    const s = schedules.reduceOnPlateau({ monitor: 'loss', patience: 0, factor: 0.5, threshold: 10, thresholdMode: 'abs' });
    const seen: number[] = [];
    await model.fit(x, y, { epochs: 4, batchSize: 4, callbacks: [s, { onEpochBegin: () => { seen.push(opt.lr); } }] });
    expect(seen).toEqual([0.05, 0.05, 0.025, 0.0125]);
  });

  it('two schedules in one fit are refused with a message pointing to schedules.sequential', async () => {
    const model = new Sequential([new Dense(2, 1)], { engine, seed: 1, dtype: 'float64' });
    model.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.1 }) });
    const pair = [schedules.linearWarmup({ totalIters: 2 }), schedules.cosine({ tMax: 4 })];
    await expect(model.fit(x, y, { epochs: 2, batchSize: 4, callbacks: pair }))
      .rejects.toThrow(/schedules\.sequential\(\[first, second\], \{ milestones/);
    // The same two as one sequential schedule train.
    const seq = schedules.sequential(pair, { milestones: [2] });
    await model.fit(x, y, { epochs: 3, batchSize: 4, callbacks: [seq] });
    expect(seq.stepCount).toBe(3);
  });
});

describe('bad options are refused, naming the argument', () => {
  const ok = () => [schedules.linearWarmup(), schedules.cosine({ tMax: 3 })];
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['schedules not an array', () => schedules.sequential(undefined as never, { milestones: [] }), TypeError, /for schedules but/],
    ['empty schedules', () => schedules.sequential([], { milestones: [] }), TypeError, /for schedules but/],
    ['a part that is no schedule', () => schedules.sequential([schedules.step({ stepSize: 1 }), {} as never], { milestones: [1] }),
      TypeError, /schedules\[1\]/],
    ['oneCycle as a part', () => schedules.sequential([schedules.oneCycle({ maxLr: 1, totalSteps: 4 }), schedules.step({ stepSize: 1 })],
      { milestones: [1] }), RangeError, /per epoch.*for schedules\[0\] but received 'oneCycle'/],
    // Last it is allowed (test/schedules-plateau.test.ts); anywhere else it is refused.
    ['reduceOnPlateau before another part', () => schedules.sequential([schedules.reduceOnPlateau(), schedules.step({ stepSize: 1 })],
      { milestones: [1] }), RangeError, /only as the last.*for schedules\[0\]/],
    ['a part bound to an optimizer', () => schedules.sequential([schedules.linearWarmup({}, new optim.SGD({ lr: 0.1 })),
      schedules.step({ stepSize: 1 })], { milestones: [1] }), RangeError, /without an optimizer.*for schedules\[0\]/],
    ['milestones missing', () => schedules.sequential(ok(), {} as never), TypeError, /for milestones but/],
    ['too many milestones', () => schedules.sequential(ok(), { milestones: [1, 2] }), RangeError, /milestones\.length/],
    ['milestone 0', () => schedules.sequential(ok(), { milestones: [0] }), RangeError, /milestones\[0\]/],
    ['milestone not an integer', () => schedules.sequential(ok(), { milestones: [1.5] }), RangeError, /milestones\[0\]/],
    ['unknown sequential option', () => schedules.sequential(ok(), { milestones: [1], gamma: 2 } as never), RangeError, /gamma/],
    ['multiStep without milestones', () => schedules.multiStep({} as never), TypeError, /for milestones but/],
    ['multiStep empty milestones', () => schedules.multiStep({ milestones: [] }), RangeError, /milestones/],
    ['multiStep decreasing milestones', () => schedules.multiStep({ milestones: [3, 2] }), RangeError, /> milestones\[0\] \(3\) for milestones\[1\]/],
    ['multiStep repeated milestone', () => schedules.multiStep({ milestones: [2, 2] }), RangeError, /milestones\[1\]/],
    ['multiStep gamma 0', () => schedules.multiStep({ milestones: [2], gamma: 0 }), RangeError, /for gamma/],
    ['multiStep gamma a string', () => schedules.multiStep({ milestones: [2], gamma: '0.1' as never }), TypeError, /for gamma/],
    ['cosineWarmRestarts t0 0', () => schedules.cosineWarmRestarts({ t0: 0 }), RangeError, /for t0/],
    ['cosineWarmRestarts t0 missing', () => schedules.cosineWarmRestarts({} as never), TypeError, /for t0/],
    ['cosineWarmRestarts tMult 1.5', () => schedules.cosineWarmRestarts({ t0: 2, tMult: 1.5 }), RangeError, /for tMult/],
    ['cosineWarmRestarts tMult 0', () => schedules.cosineWarmRestarts({ t0: 2, tMult: 0 }), RangeError, /for tMult/],
    ['cosineWarmRestarts etaMin -1', () => schedules.cosineWarmRestarts({ t0: 2, etaMin: -1 }), RangeError, /for etaMin/],
    ['thresholdMode unknown', () => schedules.reduceOnPlateau({ thresholdMode: 'absolute' as never }), RangeError, /for thresholdMode/],
    ['thresholdMode a number', () => schedules.reduceOnPlateau({ thresholdMode: 1 as never }), TypeError, /for thresholdMode/],
  ];
  it.each(cases)('%s', (_label, f, type, message) => {
    expect(f).toThrow(type);
    expect(f).toThrow(message);
  });
});
