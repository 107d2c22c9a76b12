// The addon is context-aware: several worker_threads load it at once, train
// the same seeded model on the same data and predict with it (predict,
// predictAsync, evaluate, evaluateAsync) — with identical results, bit for bit,
// in each worker and on the main thread, in both engines (no shared state
// between instances of the addon, no thread-count dependence in the kernels).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import { ENGINES } from './helpers';

const root = path.resolve(__dirname, '..');
const ROWS = 3000;

interface Run { loss: number[]; weights: Record<string, number[]>; pred: number[]; predAsync: number[]; scores: unknown[] }

// The same program text runs in the workers and (through the function below) here.
const program = (engine: string, dist: string) => `
  const { Sequential, Dense, Matrix } = require(${JSON.stringify(dist)});
  const rows = ${ROWS};
  const x = new Matrix(rows, 12, Float32Array.from({ length: rows * 12 }, (_, i) => Math.sin(i * 0.37)));
  const y = Int32Array.from({ length: rows }, (_, i) => (i * 7) % 3);
  const m = new Sequential([new Dense(12, 48, { activation: 'relu' }), new Dense(48, 24, { activation: 'tanh' }), new Dense(24, 3)],
                           { engine: '${engine}', seed: 1234 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  module.exports = m.fit(x, y, { epochs: 3, batchSize: 32, shuffle: true }).then(async (h) => ({
    loss: h.history.loss,
    weights: Object.fromEntries(Object.entries(m.getWeights()).map(([k, v]) => [k, Array.from(v)])),
    pred: Array.from(m.predict(x).data),
    predAsync: Array.from((await m.predictAsync(x, { batchSize: 100 })).data),
    scores: [m.evaluate(x, y), await m.evaluateAsync(x, y)],
  }));`;

function inWorker(engine: string): Promise<Run> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const module = { exports: null };
    ${program(engine, path.join(root, 'dist'))}
    module.exports.then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage({ error: String(e.stack) }));`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', (r) => {
      void w.terminate();
      if ((r as { error?: string }).error) reject(new Error((r as { error: string }).error));
      else resolve(r as Run);
    });
    w.once('error', reject);
  });
}

async function onMainThread(engine: 'native' | 'js'): Promise<Run> {
  const rows = ROWS;
  const x = new Matrix(rows, 12, Float32Array.from({ length: rows * 12 }, (_, i) => Math.sin(i * 0.37)));
  const y = Int32Array.from({ length: rows }, (_, i) => (i * 7) % 3);
  const m = new Sequential([new Dense(12, 48, { activation: 'relu' }), new Dense(48, 24, { activation: 'tanh' }), new Dense(24, 3)],
    { engine, seed: 1234 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  const h = await m.fit(x, y, { epochs: 3, batchSize: 32, shuffle: true });
  return {
    loss: h.history.loss!,
    weights: Object.fromEntries(Object.entries(m.getWeights()).map(([k, v]) => [k, Array.from(v)])),
    pred: Array.from(m.predict(x).data),
    predAsync: Array.from((await m.predictAsync(x, { batchSize: 100 })).data),
    scores: [m.evaluate(x, y), await m.evaluateAsync(x, y)],
  };
}

describe.each(ENGINES)('worker_threads (%s engine)', (engine) => {
  it('four workers training and predicting with the same seeded model at once get identical results, equal to the main thread', async () => {
    const [main, ...workers] = await Promise.all([onMainThread(engine), inWorker(engine), inWorker(engine), inWorker(engine), inWorker(engine)]);
    expect(main!.loss).toHaveLength(3);
    expect(main!.loss[2]!).toBeLessThan(main!.loss[0]!);  // it trained
    expect(main!.predAsync).toEqual(main!.pred);
    for (const w of workers) {
      expect(w.loss).toEqual(main!.loss);
      expect(w.weights).toEqual(main!.weights);
      expect(w.pred).toEqual(main!.pred);
      expect(w.predAsync).toEqual(main!.pred);
      expect(w.scores).toEqual(main!.scores);
    }
  });
});
