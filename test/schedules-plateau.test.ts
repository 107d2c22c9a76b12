// schedules.sequential ending in reduceOnPlateau: a warm-up (per batch or per
// epoch) then a plateau stage judged per epoch, against PyTorch 1.13 chaining
// LinearLR (or a SequentialLR) and ReduceLROnPlateau on one optimizer
// (test/fixtures/schedules_plateau_torch.py); through fit in both engines, the
// engines against each other, resuming, History's lr, and the bad combinations.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, callbacks, optim, schedules } from '../lib';
import { ENGINES } from './helpers';

interface Part { schedule: string; options: Record<string, unknown> }
interface Case {
  parts: Part[]; options: schedules.SequentialOptions; lr: number; stepsPerEpoch: number;
  metrics: (number | 'NaN')[]; lrs: number[];
}
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'schedules_plateau_torch.json'), 'utf8')) as { cases: Case[] };

const FACTORIES: Record<string, (o: never) => schedules.Schedule> = {
  linearWarmup: schedules.linearWarmup, exponential: schedules.exponential, reduceOnPlateau: schedules.reduceOnPlateau,
};

function make(c: Case, opt?: optim.SGD): schedules.SequentialSchedule {
  return schedules.sequential(c.parts.map((p) => FACTORIES[p.schedule]!(p.options as never)), c.options, opt);
}

const metric = (v: number | 'NaN'): number => (v === 'NaN' ? NaN : v);

function expectLrs(seen: number[], want: number[]): void {
  expect(seen.length).toBe(want.length);
  // torch multiplies the rate step by step (LinearLR's chainable form); fastmlp computes it in closed form.
  seen.forEach((v, i) => expect(Math.abs(v - want[i]!), `step ${i}: ${v} vs ${want[i]}`)
    .toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(want[i]!), 1e-3)));
}

/** Steps s by hand as fit would: per batch with endEpoch, or per epoch with the value; the lr before each step. */
function stepByHand(s: schedules.SequentialSchedule, opt: optim.SGD, values: readonly number[], stepsPerEpoch: number): number[] {
  const seen: number[] = [];
  for (const value of values) {
    if (s.stepping === 'batch') {
      for (let b = 0; b < stepsPerEpoch; b++) {
        seen.push(opt.lr);
        s.step();
      }
      s.endEpoch(value);
    } else {
      seen.push(opt.lr);
      s.step(value);
    }
  }
  return seen;
}

describe('warm-up then reduceOnPlateau matches torch chaining the two schedulers', () => {
  for (const c of FIXTURE.cases) {
    const label = `${c.parts.map((p) => `${p.schedule} ${JSON.stringify(p.options)}`).join(', ')} ${JSON.stringify(c.options)}`;
    it(label, () => {
      const opt = new optim.SGD({ lr: c.lr });
      const s = make(c, opt);
      expectLrs(stepByHand(s, opt, c.metrics.map(metric), c.stepsPerEpoch), c.lrs);
    });
  }

  it('the fixture exercises reductions after the switch and a plateau start below the base rate', () => {
    // Not a vacuous replay: every case lowers the rate at least once after its warm-up…
    for (const c of FIXTURE.cases) {
      const switchIndex = c.options.milestones[c.options.milestones.length - 1]!;
      expect(Math.min(...c.lrs.slice(switchIndex)), JSON.stringify(c.options)).toBeLessThan(c.lrs[switchIndex]!);
    }
    // …and one warm-up ends at half the base rate, where the plateau stage starts.
    const half = FIXTURE.cases.find((c) => c.parts[0]!.options['endFactor'] === 0.5)!;
    expect(half.lrs[5]).toBeCloseTo(half.lr * 0.5, 15);
  });

  it('rateAt gives the warm-up rates and, from the switch, the rate the plateau starts from', () => {
    const opt = new optim.SGD({ lr: 0.2 });
    const s = schedules.sequential([schedules.linearWarmup({ startFactor: 0.5, totalIters: 2 }), schedules.reduceOnPlateau()],
      { milestones: [4] }, opt);
    expect([0, 1, 2, 3, 4, 9].map((t) => s.rateAt(t))).toEqual([0.1, 0.15000000000000002, 0.2, 0.2, 0.2, 0.2]);
    expect(s.monitor).toBe('val_loss');
  });
});

describe.each(ENGINES)('through fit (%s engine)', (engine) => {
  const x = new Matrix(24, 2, Float64Array.from({ length: 48 }, (_, i) => Math.sin(i)));
  const y = new Matrix(24, 1, Float64Array.from({ length: 24 }, (_, i) => Math.cos(i)));
  // Batches of 6 over the first 18 rows: 3 per epoch; the last 6 rows validate.
  const settings = { batchSize: 6, validationSplit: 0.25 };

  function model(): Sequential {
    const m = new Sequential([new Dense(2, 4, { activation: 'tanh' }), new Dense(4, 1)], { engine, seed: 3, dtype: 'float64' });
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.1 }) });
    return m;
  }
  const warmThenPlateau = (stepping: 'batch' | 'epoch', switchAt: number) => schedules.sequential(
    [schedules.linearWarmup({ startFactor: 0.2, totalIters: switchAt }), schedules.reduceOnPlateau({ patience: 0, factor: 0.5, cooldown: 1 })],
    { milestones: [switchAt], stepping });

  /** Fits with s, recording the lr of every batch; returns them, History and the lr by hand from the same val_loss. */
  async function fitAndReplay(stepping: 'batch' | 'epoch', switchAt: number, epochs: number) {
    const m = model();
    const s = warmThenPlateau(stepping, switchAt);
    const batchLrs: number[] = [];
    const { history } = await m.fit(x, y, { ...settings, epochs,
      callbacks: [s, { onBatchBegin: () => { batchLrs.push(m.optimizer!.lr); } }] });
    const opt = new optim.SGD({ lr: 0.1 });
    const byHand = warmThenPlateau(stepping, switchAt);
    byHand.bind(opt);
    const handLrs = stepByHand(byHand, opt, history.val_loss!, stepping === 'batch' ? 3 : 1);
    return { batchLrs, history, handLrs, s };
  }

  it('per batch: fit steps each batch and judges val_loss per epoch, as stepping by hand does', async () => {
    const { batchLrs, history, handLrs, s } = await fitAndReplay('batch', 4, 8);
    expect(batchLrs).toEqual(handLrs);
    expect(s.stepCount).toBe(24);
    expect(Math.min(...batchLrs.slice(4))).toBeLessThan(0.1);  // a plateau lowered the rate
    // The warm-up over batches 0–3 (across the epoch boundary), then the full rate from batch 4.
    expect(batchLrs.slice(0, 5)).toEqual([0.1 * 0.2, 0.1 * 0.4, 0.1 * 0.6000000000000001, 0.1 * 0.8, 0.1]);
    // History's lr: the rate each epoch began with.
    expect(history.lr).toEqual([0, 3, 6, 9, 12, 15, 18, 21].map((b) => batchLrs[b]));
    // Epoch 1 straddles the switch (batches 3–5): the first judged epoch is 2.
    expect(batchLrs.slice(6, 9)).toEqual([0.1, 0.1, 0.1]);
  });

  it('per epoch: the warm-up epochs, then the plateau from the epoch the switch begins', async () => {
    const { batchLrs, history, handLrs } = await fitAndReplay('epoch', 2, 7);
    expect(history.lr).toEqual(handLrs);
    for (let e = 0; e < 7; e++) expect(batchLrs.slice(3 * e, 3 * e + 3)).toEqual([handLrs[e], handLrs[e], handLrs[e]]);
    expect(handLrs.slice(0, 3)).toEqual([0.020000000000000004, 0.06000000000000001, 0.1]);
  });

  it('a fit resumed with a fresh schedule (initialEpoch) continues the rates and plateau counters', async () => {
    const whole = await fitAndReplay('batch', 4, 8);
    const m = model();
    await m.fit(x, y, { ...settings, epochs: 5, callbacks: [warmThenPlateau('batch', 4)] });
    const rest: number[] = [];
    const { history } = await m.fit(x, y, { ...settings, epochs: 8, initialEpoch: 5,
      callbacks: [warmThenPlateau('batch', 4), { onBatchBegin: () => { rest.push(m.optimizer!.lr); } }] });
    expect(rest).toEqual(whole.batchLrs.slice(15));
    expect(history.lr).toEqual(whole.history.lr!.slice(5));
  });

  it("stepping: 'batch' without a plateau steps a plain sequence per batch (its rateAt at each batch)", async () => {
    const m = model();
    const s = schedules.sequential([schedules.linearWarmup({ startFactor: 0.1, totalIters: 5 }), schedules.cosine({ tMax: 10 })],
      { milestones: [5], stepping: 'batch' });
    const lrs: number[] = [];
    await m.fit(x, y, { ...settings, epochs: 4, callbacks: [s, { onBatchBegin: () => { lrs.push(m.optimizer!.lr); } }] });
    expect(lrs).toEqual(Array.from({ length: 12 }, (_, t) => s.rateAt(t)));
    expect(lrs[5]).toBe(0.1);  // the cosine starts over from the base rate at its milestone
    expect(s.stepCount).toBe(12);
  });

  it('a monitor missing from the logs is refused at the first epoch, naming it', async () => {
    const m = model();
    const s = schedules.sequential([schedules.linearWarmup({ totalIters: 2 }), schedules.reduceOnPlateau({ monitor: 'val_f1' })],
      { milestones: [2], stepping: 'batch' });
    await expect(m.fit(x, y, { ...settings, epochs: 3, callbacks: [s] })).rejects.toThrow(/monitors 'val_f1', which is not in the epoch logs/);
  });

  it('History records lr for any schedule, and not without one', async () => {
    const m = model();
    const { history } = await m.fit(x, y, { ...settings, epochs: 3, callbacks: [schedules.step({ stepSize: 1, gamma: 0.5 })] });
    expect(history.lr).toEqual([0.1, 0.05, 0.025]);
    const plain = await model().fit(x, y, { ...settings, epochs: 1 });
    expect(plain.history.lr).toBeUndefined();
  });

  it('the epoch logs carry the same lr, so csvLogger writes it; none without a schedule', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fastmlp-lr-log-'));
    try {
      const seen: (number | undefined)[] = [];
      const spy = { onEpochEnd: (_e: number, logs: Record<string, number>) => { seen.push(logs.lr); } };
      const path = join(dir, 'log.csv');
      const { history } = await model().fit(x, y, { ...settings, epochs: 3,
        callbacks: [schedules.step({ stepSize: 1, gamma: 0.5 }), spy, callbacks.csvLogger(path)] });
      expect(seen).toEqual(history.lr);
      const rows = readFileSync(path, 'utf8').trim().split('\n').map((line) => line.split(','));
      const col = rows[0]!.indexOf('lr');
      expect(col).toBeGreaterThan(0);
      expect(rows.slice(1).map((r) => Number(r[col]))).toEqual([0.1, 0.05, 0.025]);
      const plain: (number | undefined)[] = [];
      await model().fit(x, y, { ...settings, epochs: 1, callbacks: [{ onEpochEnd: (_e: number, logs: Record<string, number>) => { plain.push(logs.lr); } }] });
      expect(plain).toEqual([undefined]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the engines agree', () => {
  it('the same seed gives the same rates and History in native and js', async () => {
    const x = new Matrix(24, 2, Float64Array.from({ length: 48 }, (_, i) => Math.cos(3 * i)));
    const y = new Matrix(24, 1, Float64Array.from({ length: 24 }, (_, i) => Math.sin(2 * i)));
    const runs = await Promise.all(ENGINES.map(async (engine) => {
      const m = new Sequential([new Dense(2, 3, { activation: 'relu' }), new Dense(3, 1)], { engine, seed: 9, dtype: 'float64' });
      m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.05 }) });
      const s = schedules.sequential([schedules.linearWarmup({ startFactor: 0.1, totalIters: 5 }),
        schedules.reduceOnPlateau({ patience: 1, factor: 0.5, threshold: 0.01, thresholdMode: 'abs' })], { milestones: [5], stepping: 'batch' });
      const lrs: number[] = [];
      const { history } = await m.fit(x, y, { epochs: 10, batchSize: 8, validationSplit: 0.25,
        callbacks: [s, { onBatchBegin: () => { lrs.push(m.optimizer!.lr); } }] });
      return { lrs, history };
    }));
    expect(runs[0]!.lrs).toEqual(runs[1]!.lrs);
    expect(runs[0]!.history.lr).toEqual(runs[1]!.history.lr);
    runs[0]!.history.val_loss!.forEach((v, i) => expect(Math.abs(v - runs[1]!.history.val_loss![i]!)).toBeLessThan(1e-12));
    expect(runs[0]!.history.lr).toHaveLength(10);
    expect(Math.min(...runs[0]!.lrs)).toBeLessThan(0.05);  // a plateau lowered it
  });
});

describe('bad combinations are refused, naming the argument', () => {
  const warm = () => schedules.linearWarmup({ totalIters: 2 });
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['reduceOnPlateau alone', () => schedules.sequential([schedules.reduceOnPlateau()], { milestones: [] }),
      RangeError, /only as the last of two or more.*for schedules\[0\]/],
    ['reduceOnPlateau in the middle', () => schedules.sequential([warm(), schedules.reduceOnPlateau(), schedules.step({ stepSize: 1 })],
      { milestones: [2, 4] }), RangeError, /for schedules\[1\]/],
    ['two reduceOnPlateau', () => schedules.sequential([warm(), schedules.reduceOnPlateau(), schedules.reduceOnPlateau()],
      { milestones: [2, 4] }), RangeError, /for schedules\[1\]/],
    ['a bound reduceOnPlateau', () => schedules.sequential([warm(), schedules.reduceOnPlateau({}, new optim.SGD())],
      { milestones: [2] }), RangeError, /without an optimizer.*for schedules\[1\]/],
    ['oneCycle before a plateau', () => schedules.sequential([schedules.oneCycle({ maxLr: 1, totalSteps: 4 }), schedules.reduceOnPlateau()],
      { milestones: [2] }), RangeError, /for schedules\[0\] but received 'oneCycle'/],
    ['stepping unknown', () => schedules.sequential([warm(), schedules.reduceOnPlateau()], { milestones: [2], stepping: 'step' as never }),
      RangeError, /for stepping/],
    ['stepping not a string', () => schedules.sequential([warm(), schedules.reduceOnPlateau()], { milestones: [2], stepping: 1 as never }),
      TypeError, /for stepping/],
    ['no milestone for the plateau', () => schedules.sequential([warm(), schedules.reduceOnPlateau()], { milestones: [] }),
      RangeError, /milestones\.length/],
  ];
  it.each(cases)('%s', (_label, f, type, message) => {
    expect(f).toThrow(type);
    expect(f).toThrow(message);
  });

  it('stepping by hand: a value is required once the plateau judges, endEpoch only per batch with a plateau', () => {
    const opt = new optim.SGD({ lr: 0.1 });
    const s = schedules.sequential([warm(), schedules.reduceOnPlateau()], { milestones: [1] }, opt);
    s.step();  // before the switch a value is not needed
    expect(() => s.step()).toThrow(TypeError);
    expect(() => s.step()).toThrow(/for value/);
    expect(() => s.step('0.5' as never)).toThrow(/for value/);
    expect(() => s.endEpoch(1)).toThrow(/for endEpoch but received .stepping 'epoch'/);
    const batchwise = schedules.sequential([warm(), schedules.cosine({ tMax: 2 })], { milestones: [2], stepping: 'batch' }, new optim.SGD());
    expect(() => batchwise.endEpoch(1)).toThrow(/for endEpoch but received .a sequence without reduceOnPlateau/);
    const perBatch = schedules.sequential([warm(), schedules.reduceOnPlateau()], { milestones: [2], stepping: 'batch' }, new optim.SGD());
    expect(() => perBatch.endEpoch(undefined as never)).toThrow(/for value/);
    expect(() => perBatch.step(0.5)).toThrow(RangeError);
    expect(() => perBatch.step(0.5)).toThrow(/no value when stepping per batch .*for value but received 0.5/);
    expect(perBatch.stepCount).toBe(0);  // refused: nothing moved
  });
});
