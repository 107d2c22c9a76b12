// Resuming a scheduled fit from a model file: a model saved with
// { includeOptimizer: true } after epoch k, loaded, and fit again with
// initialEpoch k and a fresh schedule of the same kind must train exactly as
// one uninterrupted fit: the same lr in every epoch and, with a fixed seed,
// bit-identical weights. Before, the fresh schedule took the saved, already
// decayed lr as its base and started counting at 0 (cosine ended at 0.0025
// instead of 0), and reduce-on-plateau forgot its plateau counters.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim, schedules } from '../lib';
import type { Callback } from '../lib/callbacks';
import { ENGINES, maxRelDiff, randomArray } from './helpers';

const IN = 4;
const OUT = 3;
const ROWS = 60;
const BATCH = 12;
const EPOCHS = 6;
const SPLIT_AT = 3;  // save after epochs 0..2, resume with initialEpoch 3
const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 31, Float64Array));
const Y = Int32Array.from({ length: ROWS }, (_, i) => (i + (X.data[i * IN]! > 0 ? 1 : 0)) % OUT);

type Make = () => schedules.Schedule;
const KINDS: [string, Make][] = [
  ['step', () => schedules.step({ stepSize: 2, gamma: 0.5 })],
  ['exponential', () => schedules.exponential({ gamma: 0.7 })],
  ['linearWarmup', () => schedules.linearWarmup({ startFactor: 0.2, totalIters: 5 })],
  ['cosine', () => schedules.cosine({ tMax: EPOCHS })],
  ['cosine with warm-up', () => schedules.cosine({ tMax: 3, warmupEpochs: 2, etaMin: 0.001 })],
  ['multiStep', () => schedules.multiStep({ milestones: [2, 4], gamma: 0.5 })],
  ['cosineWarmRestarts', () => schedules.cosineWarmRestarts({ t0: 2, tMult: 2, etaMin: 0.001 })],
  // A milestone inside the resumed part and one before it: the sequence resumes in its second schedule.
  ['sequential', () => schedules.sequential([schedules.linearWarmup({ startFactor: 0.2, totalIters: 2 }),
    schedules.cosine({ tMax: 3 })], { milestones: [2] })],
  ['reduceOnPlateau, thresholdMode abs', () => schedules.reduceOnPlateau({ monitor: 'loss', patience: 0, factor: 0.5,
    threshold: 0.05, thresholdMode: 'abs' })],
  ['oneCycle', () => schedules.oneCycle({ maxLr: 0.05, epochs: EPOCHS, stepsPerEpoch: ROWS / BATCH })],
  // threshold 0.5: no epoch after the first counts as better, so the lr falls
  // on a rhythm set by the plateau counters (best, bad epochs, cooldown).
  ['reduceOnPlateau', () => schedules.reduceOnPlateau({ monitor: 'loss', patience: 0, cooldown: 1, factor: 0.5, threshold: 0.5 })],
];

function model(engine: 'native' | 'js') {
  const m = new Sequential([new Dense(IN, 8, { activation: 'tanh' }), new Dense(8, OUT)], { engine, seed: 13, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.02 }) });
  return m;
}

/** Records the lr each epoch trains with (at its first batch, after the model synced it). */
function lrRecorder(m: Sequential, into: number[]): Callback {
  return { onEpochBegin: () => { into.push(m.optimizer!.lr); } };
}

describe.each(ENGINES)('schedules resume with initialEpoch from a model file (%s engine)', (engine) => {
  it.each(KINDS)('%s: save at epoch k, load, resume = uninterrupted (lr per epoch, weights)', async (_name, make) => {
    const full = model(engine);
    const fullLr: number[] = [];
    await full.fit(X, Y, { epochs: EPOCHS, batchSize: BATCH, callbacks: [make(), lrRecorder(full, fullLr)] });

    const part = model(engine);
    const partLr: number[] = [];
    let saved: Buffer | null = null;
    await part.fit(X, Y, { epochs: SPLIT_AT, batchSize: BATCH, callbacks: [make(), lrRecorder(part, partLr)],
      onEpochEnd: (e) => { if (e === SPLIT_AT - 1) saved = part.toBuffer({ includeOptimizer: true }); } });
    const resumed = Sequential.fromBuffer(saved!, { engine });
    await resumed.fit(X, Y, { epochs: EPOCHS, initialEpoch: SPLIT_AT, batchSize: BATCH,
      callbacks: [make(), lrRecorder(resumed, partLr)] });

    expect(new Set(fullLr).size).toBeGreaterThan(1);  // the schedule did change the rate
    expect(partLr).toEqual(fullLr);
    expect(resumed.optimizer!.lr).toBe(full.optimizer!.lr);
    expect(resumed.getWeights()).toEqual(full.getWeights());
  });

  it('resuming in memory (a second fit of the same model, fresh schedule) continues the schedule too', async () => {
    const full = model(engine);
    await full.fit(X, Y, { epochs: EPOCHS, batchSize: BATCH, callbacks: [schedules.cosine({ tMax: EPOCHS })] });
    const m = model(engine);
    await m.fit(X, Y, { epochs: SPLIT_AT, batchSize: BATCH, callbacks: [schedules.cosine({ tMax: EPOCHS })] });
    await m.fit(X, Y, { epochs: EPOCHS, initialEpoch: SPLIT_AT, batchSize: BATCH, callbacks: [schedules.cosine({ tMax: EPOCHS })] });
    expect(m.optimizer!.lr).toBe(0);
    expect(m.getWeights()).toEqual(full.getWeights());
  });

  it('a file from before the schedule state loads and resumes from its saved lr', async () => {
    const part = model(engine);
    await part.fit(X, Y, { epochs: 2, batchSize: BATCH, callbacks: [schedules.exponential({ gamma: 0.5 })] });
    const json = JSON.parse(JSON.stringify(part.toJSON({ includeOptimizer: true })));
    expect(json.compile.optimizer.schedule).toBeDefined();
    delete json.compile.optimizer.schedule;  // as an older version wrote it
    const old = Sequential.fromJSON(json, { engine });
    expect(old.optimizer!.lr).toBeCloseTo(0.02 * 0.25, 15);
    const lrs: number[] = [];
    await old.fit(X, Y, { epochs: 3, initialEpoch: 2, batchSize: BATCH, callbacks: [schedules.exponential({ gamma: 0.5 }), lrRecorder(old, lrs)] });
    // No recorded base: the saved lr is the base, at the schedule's step 2.
    expect(lrs).toEqual([0.02 * 0.25 * 0.25]);
  });

  it('a damaged schedule state in a file is a clear error', () => {
    const part = model(engine);
    part.trainStep(X, Y);
    schedules.cosine({ tMax: 4 }, part.optimizer!).step();
    const json = JSON.parse(JSON.stringify(part.toJSON({ includeOptimizer: true })));
    json.compile.optimizer.schedule.baseLr = -1;
    expect(() => Sequential.fromJSON(json, { engine })).toThrow(/schedule.baseLr/);
  });
});

describe('schedules resume: engine parity', () => {
  it('a cosine fit resumed from a file trains the same in both engines (lr per epoch equal, weights within 1e-9)', async () => {
    const runs: { lr: number[]; weights: number[] }[] = [];
    for (const engine of ENGINES) {
      const part = model(engine);
      const lr: number[] = [];
      let saved: Buffer | null = null;
      await part.fit(X, Y, { epochs: SPLIT_AT, batchSize: BATCH, callbacks: [schedules.cosine({ tMax: EPOCHS }), lrRecorder(part, lr)],
        onEpochEnd: (e) => { if (e === SPLIT_AT - 1) saved = part.toBuffer({ includeOptimizer: true }); } });
      const resumed = Sequential.fromBuffer(saved!, { engine });
      await resumed.fit(X, Y, { epochs: EPOCHS, initialEpoch: SPLIT_AT, batchSize: BATCH,
        callbacks: [schedules.cosine({ tMax: EPOCHS }), lrRecorder(resumed, lr)] });
      runs.push({ lr, weights: Object.values(resumed.getWeights()).flatMap((a) => Array.from(a)) });
    }
    expect(runs[0]!.lr).toEqual(runs[1]!.lr);
    expect(maxRelDiff(runs[0]!.weights, runs[1]!.weights)).toBeLessThan(1e-9);
  });
});
