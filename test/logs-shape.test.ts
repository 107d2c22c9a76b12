// The log types the package publishes (EpochLogs, BatchBeginLogs, BatchLogs,
// History — lib/callbacks.ts, lib/fit-loop.ts) promise fields as always there;
// test/package-types.test.ts checks user code compiles against them, this that
// fit delivers them at run time, on both engines and every batch-hook path.
import { describe, expect, it } from 'vitest';
import { AbortError, Dense, Sequential } from '../lib/index';
import type { BatchBeginLogs, BatchLogs, EpochLogs } from '../lib/index';
import { ENGINES } from './helpers';

const x = Array.from({ length: 12 }, (_, i) => [Math.sin(i), Math.cos(i)]);
const y = Array.from({ length: 12 }, (_, i) => i % 2);

function model(engine: 'native' | 'js') {
  const m = new Sequential([new Dense(2, 4, { activation: 'relu' }), new Dense(4, 2)], { engine, seed: 3 });
  m.compile({ loss: 'cross-entropy', optimizer: 'sgd', metrics: ['accuracy'] });
  return m;
}

const isNumber = (v: unknown) => typeof v === 'number';

describe.each(ENGINES)('logs and History as typed (%s engine)', (engine) => {
  it('onEpochEnd has loss and samplesPerSecond; batch hooks have batch, size (and loss, samplesPerSecond at the end)', async () => {
    const epochs: EpochLogs[] = [];
    const begins: BatchBeginLogs[] = [];
    const acting: BatchLogs[] = [];
    const observed: BatchLogs[] = [];
    const m = model(engine);
    await m.fit(x, y, {
      epochs: 2, batchSize: 4, onEpochEnd: (_e, logs) => { epochs.push(logs); },
      callbacks: [{ onBatchBegin: (_b, logs) => { begins.push(logs); }, onBatchEnd: (_b, logs) => { acting.push(logs); } }],
    });
    // observeOnly: the native epoch stays on its worker thread; its events build the logs.
    await model(engine).fit(x, y, { epochs: 1, batchSize: 4, callbacks: [{ observeOnly: true, onBatchEnd: (_b, logs) => { observed.push(logs); } }] });

    expect(epochs).toHaveLength(2);
    for (const logs of epochs) {
      expect(isNumber(logs.loss) && isNumber(logs.samplesPerSecond) && isNumber(logs['accuracy'])).toBe(true);
    }
    expect(begins.map((l) => [l.batch, l.size])).toEqual([[0, 4], [1, 4], [2, 4], [0, 4], [1, 4], [2, 4]]);
    for (const logs of [...acting, ...observed]) {
      expect(Object.keys(logs).sort()).toEqual(['batch', 'loss', 'samplesPerSecond', 'size']);
      expect(Object.values(logs).every(isNumber)).toBe(true);
    }
    expect(acting.map((l) => l.batch)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(observed.map((l) => l.batch)).toEqual([0, 1, 2]);
  });

  it("History's loss is an array also when fit trains no epoch", async () => {
    const m = model(engine);
    // Stopped before its first batch: no epoch happened.
    const none = await m.fit(x, y, { epochs: 2, callbacks: [{ onEpochBegin: () => { m.stopTraining = true; } }] });
    expect(none.epoch).toEqual([]);
    expect(none.history.loss).toEqual([]);
    // Aborted before it began: the AbortError's history.
    const aborted = await m.fit(x, y, { epochs: 2, signal: AbortSignal.abort() }).catch((e: AbortError) => e);
    expect(aborted).toBeInstanceOf(AbortError);
    expect((aborted as AbortError).history?.history.loss).toEqual([]);
    const two = await m.fit(x, y, { epochs: 2, batchSize: 6 });
    expect(two.history.loss).toHaveLength(2);
    expect(two.history['accuracy']).toHaveLength(2);
  });
});
