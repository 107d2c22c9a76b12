// fit with initialEpoch === epochs (resuming a run that already finished): as
// Keras's fit, whose loop is range(initial_epoch, epochs), it trains nothing and
// returns an empty History — onTrainBegin/onTrainEnd run, no epoch hook does,
// the weights and optimizer state stay as they were, a stream source is never
// read. initialEpoch > epochs stays a RangeError naming initialEpoch. Both
// engines, in-memory and streamed fit.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim } from '../lib';
import type { Callback } from '../lib/callbacks';
import { ENGINES, randomArray } from './helpers';

const X = new Matrix(24, 3, randomArray(72, 5, Float64Array));
const Y = Int32Array.from({ length: 24 }, (_, i) => (X.data[3 * i]! > 0 ? 1 : 0));

function model(engine: 'native' | 'js') {
  const m = new Sequential([new Dense(3, 4, { activation: 'tanh' }), new Dense(4, 2)], { engine, seed: 3, dtype: 'float64' });
  m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.05 }), metrics: ['accuracy'] });
  return m;
}

function flat(m: Sequential): number[] {
  return Object.values(m.getWeights()).flatMap((a) => Array.from(a));
}

function recorder(events: string[]): Callback {
  return {
    onTrainBegin: () => { events.push('trainBegin'); },
    onEpochBegin: (e) => { events.push(`epochBegin ${e}`); },
    onBatchEnd: (b) => { events.push(`batchEnd ${b}`); },
    onEpochEnd: (e) => { events.push(`epochEnd ${e}`); },
    onTrainEnd: (logs) => { events.push(`trainEnd ${JSON.stringify(logs)}`); },
  };
}

describe.each(ENGINES)('fit with initialEpoch === epochs (%s engine)', (engine) => {
  it('trains nothing and returns an empty History, for in-memory data', async () => {
    const m = model(engine);
    await m.fit(X, Y, { epochs: 2, batchSize: 8 });  // an optimizer state that a step would change
    const before = flat(m);
    const events: string[] = [];
    const h = await m.fit(X, Y, { epochs: 2, initialEpoch: 2, batchSize: 8, validationData: [X, Y], callbacks: [recorder(events)] });
    expect(h.epoch).toEqual([]);
    expect(h.history).toEqual({ loss: [] });  // Keras: {}; fastmlp always has `loss` (typed as present)
    expect(h.params).toMatchObject({ epochs: 2, initialEpoch: 2, batchSize: 8, samples: 24, steps: 3 });
    expect(events).toEqual(['trainBegin', 'trainEnd {}']);
    expect(flat(m)).toEqual(before);
    // The model trains on from there exactly as one that never made the empty call.
    const twin = model(engine);
    await twin.fit(X, Y, { epochs: 2, batchSize: 8 });
    await m.fit(X, Y, { epochs: 3, initialEpoch: 2, batchSize: 8 });
    await twin.fit(X, Y, { epochs: 3, initialEpoch: 2, batchSize: 8 });
    expect(flat(m)).toEqual(flat(twin));
  });

  it('trains nothing for a stream and never calls the source', async () => {
    const m = model(engine);
    const before = flat(m);
    let calls = 0;
    const source = () => {
      calls++;
      return [{ x: X, y: Y }];
    };
    const events: string[] = [];
    const h = await m.fit(source, { epochs: 4, initialEpoch: 4, callbacks: [recorder(events)] });
    expect(h.epoch).toEqual([]);
    expect(h.history).toEqual({ loss: [] });  // Keras: {}; fastmlp always has `loss` (typed as present)
    expect(calls).toBe(0);
    expect(events).toEqual(['trainBegin', 'trainEnd {}']);
    expect(flat(m)).toEqual(before);
    // The same source trains when there is an epoch left.
    const h2 = await m.fit(source, { epochs: 4, initialEpoch: 3 });
    expect(h2.epoch).toEqual([3]);
    expect(calls).toBe(1);
    expect(flat(m)).not.toEqual(before);
  });

  it('keeps initialEpoch > epochs a RangeError naming initialEpoch', async () => {
    const m = model(engine);
    const before = flat(m);
    await expect(m.fit(X, Y, { epochs: 2, initialEpoch: 3 })).rejects.toThrow(RangeError);
    await expect(m.fit(X, Y, { epochs: 2, initialEpoch: 3 })).rejects.toThrow(/for initialEpoch but received 3/);
    await expect(m.fit(() => [{ x: X, y: Y }], { epochs: 2, initialEpoch: 3 })).rejects.toThrow(/initialEpoch/);
    await expect(m.fit(X, Y, { epochs: 2, initialEpoch: -1 })).rejects.toThrow(/initialEpoch/);
    expect(flat(m)).toEqual(before);
  });
});
