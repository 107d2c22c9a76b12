// Per-epoch throughput (issue 5: "progress events, per batch and per epoch:
// loss, metrics, samples/s"): onEpochEnd's logs carry samplesPerSecond, the
// epoch's training rows over its training seconds — validation and a stream's
// waits for data excluded. Timing is not a training result: History, and so
// two identical seeded runs, never see it; the CSV logger leaves it out and the
// verbose line prints it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, callbacks } from '../lib';
import type { Logs } from '../lib/callbacks';
import { ENGINES, randomArray } from './helpers';
import { tempDir } from './temp-dir';

const IN = 6;
const OUT = 3;
const ROWS = 400;
const X = new Matrix(ROWS, IN, randomArray(ROWS * IN, 7, Float32Array));
const Y = Int32Array.from({ length: ROWS }, (_, i) => (i + (X.data[i * IN]! > 0 ? 1 : 0)) % OUT);

function model(engine: 'native' | 'js', seed = 3, hidden = 16) {
  const m = new Sequential([new Dense(IN, hidden, { activation: 'relu' }), new Dense(hidden, OUT)], { engine, seed });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });
  return m;
}

interface EpochSeen { logs: Logs; began: number; ended: number }

/** onEpochBegin/onEpochEnd times and logs of every epoch. */
function watcher(into: EpochSeen[]) {
  let began = 0;
  return {
    onEpochBegin: () => { began = performance.now(); },
    onEpochEnd: (_e: number, logs: Logs) => { into.push({ logs: { ...logs }, began, ended: performance.now() }); },
  };
}

describe.each(ENGINES)('per-epoch samples/s (%s engine)', (engine) => {
  it('onEpochEnd logs have samplesPerSecond: positive, finite, consistent with rows/elapsed around fit', async () => {
    const seen: EpochSeen[] = [];
    const m = model(engine);
    const started = performance.now();
    const h = await m.fit(X, Y, { epochs: 4, batchSize: 32, callbacks: [watcher(seen)] });
    const elapsed = (performance.now() - started) / 1000;
    expect(seen).toHaveLength(4);
    let trainSeconds = 0;
    for (const { logs, began, ended } of seen) {
      const rate = logs['samplesPerSecond']!;
      expect(Number.isFinite(rate) && rate > 0).toBe(true);
      // The epoch trained within its own hooks' interval: not slower than that allows.
      expect(rate).toBeGreaterThanOrEqual(ROWS / ((ended - began) / 1000));
      trainSeconds += ROWS / rate;
    }
    expect(trainSeconds).toBeLessThanOrEqual(elapsed);
    expect(trainSeconds).toBeGreaterThan(0);
    // Not a training metric: History has loss and accuracy only.
    expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss']);
  });

  it('leaves the validation pass out: a validation set 400× the training rows does not slow the rate', async () => {
    const seen: EpochSeen[] = [];
    const trainRows = 100;
    const valRows = 400 * trainRows;
    const vx = new Matrix(valRows, IN, randomArray(valRows * IN, 8, Float32Array));
    const vy = Int32Array.from({ length: valRows }, (_, i) => i % OUT);
    const m = model(engine, 3, 512);  // wide: the validation forward outweighs the engine's per-call overhead
    await m.fit(new Matrix(trainRows, IN, X.data.subarray(0, trainRows * IN)), Y.subarray(0, trainRows),
      { epochs: 3, batchSize: 100, validationData: [vx, vy], callbacks: [watcher(seen)] });
    for (const { logs, began, ended } of seen) {
      const trainSeconds = trainRows / logs['samplesPerSecond']!;
      // The epoch's interval holds training and the 40,000-row validation pass; training is the smaller part.
      expect(trainSeconds).toBeLessThan(0.5 * (ended - began) / 1000);
    }
  });

  it('streams: the rows actually seen, over the training time without the waits for the next chunk', async () => {
    const chunkRows = 50;
    const chunks = 4;
    const waitMs = 40;
    const source = async function* () {
      for (let c = 0; c < chunks; c++) {
        await new Promise((r) => setTimeout(r, waitMs));  // a slow disk or socket
        const from = c * chunkRows;
        yield { x: new Matrix(chunkRows, IN, X.data.slice(from * IN, (from + chunkRows) * IN)), y: Y.slice(from, from + chunkRows) };
      }
    };
    const seen: EpochSeen[] = [];
    const m = model(engine);
    await m.fit(source, { epochs: 2, batchSize: 25, callbacks: [watcher(seen)] });
    for (const { logs, began, ended } of seen) {
      const rate = logs['samplesPerSecond']!;
      expect(Number.isFinite(rate) && rate > 0).toBe(true);
      expect(rate).toBeGreaterThanOrEqual((chunks * chunkRows) / ((ended - began) / 1000));
      // 160 ms of the epoch were waits for data: training took far less than that.
      expect((chunks * chunkRows) / rate).toBeLessThan((chunks * waitMs) / 1000);
    }
  });

  it('two identical seeded runs still give equal histories', async () => {
    const a = await model(engine, 11).fit(X, Y, { epochs: 3, batchSize: 64, validationSplit: 0.25 });
    const b = await model(engine, 11).fit(X, Y, { epochs: 3, batchSize: 64, validationSplit: 0.25 });
    expect(a).toEqual(b);
    expect(a.params.metrics).not.toContain('samplesPerSecond');
  });

  it('the CSV logger leaves it out; the verbose line prints it as samples/s', async () => {
    const path = join(tempDir('fastmlp-rate-'), 'log.csv');
    const lines: string[] = [];
    await model(engine).fit(X, Y, { epochs: 2, batchSize: 64, callbacks: [callbacks.csvLogger(path),
      callbacks.progress({ write: (l) => lines.push(l) })] });
    expect(readFileSync(path, 'utf8').split('\n')[0]).toBe('epoch,accuracy,loss');
    expect(lines[1]).toMatch(/^Epoch 2\/2 - [\d.]+ s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - \d+ samples\/s$/);
  });
});
