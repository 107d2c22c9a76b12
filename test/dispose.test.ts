// model.dispose(): frees memory now; every later call throws ERR_FASTMLP_DISPOSED;
// during fit the epoch stops and the memory goes when the worker returns. The
// native hazard is classic-level's (its segfault tests): closing while work is
// pending, over and over, also inside a worker thread — nothing may crash.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import { loadNative } from '../lib/native';
import { ENGINES, randomArray } from './helpers';

const root = path.resolve(__dirname, '..');
const DISPOSED = 'ERR_FASTMLP_DISPOSED';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return (e as { code?: string }).code;
  }
  return 'no error';
}

function bigData(rows: number) {
  return { x: new Matrix(rows, 20, randomArray(rows * 20, 5, Float32Array)), y: Int32Array.from({ length: rows }, (_, i) => i % 4) };
}

describe.each(ENGINES)('dispose (%s engine)', (engine) => {
  const model = () => {
    const m = new Sequential([new Dense(20, 32, { activation: 'relu' }), new Dense(32, 4)], { engine, seed: 3 });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    return m;
  };

  it('refuses every call afterwards with ERR_FASTMLP_DISPOSED, and is idempotent', async () => {
    const m = model();
    const { x, y } = bigData(8);
    expect(m.disposed).toBe(false);
    m.dispose();
    m.dispose();
    expect(m.disposed).toBe(true);
    expect(m.inputSize).toBe(20);  // plain facts stay readable
    expect(codeOf(() => m.predict(x))).toBe(DISPOSED);
    expect(codeOf(() => m.trainStep(x, y))).toBe(DISPOSED);
    expect(codeOf(() => m.evaluate(x, y))).toBe(DISPOSED);
    expect(codeOf(() => m.getWeights())).toBe(DISPOSED);
    expect(codeOf(() => m.setWeights({}))).toBe(DISPOSED);
    expect(codeOf(() => m.compile({ loss: 'mse' }))).toBe(DISPOSED);
    await expect(m.fit(x, y)).rejects.toMatchObject({ code: DISPOSED });
    // Other models are unaffected.
    expect(Number.isFinite(model().trainStep(x, y))).toBe(true);
  });

  it('during fit stops the epoch, rejects fit with ERR_FASTMLP_DISPOSED, and frees afterwards', async () => {
    const m = model();
    const { x, y } = bigData(40000);
    let batches = 0;
    const fitting = m.fit(x, y, { epochs: 3, batchSize: 8, onEpochEnd: () => { batches++; } });
    m.dispose();
    await expect(fitting).rejects.toMatchObject({ code: DISPOSED });
    expect(batches).toBe(0);  // the first epoch never completed
    expect(codeOf(() => m.predict(x))).toBe(DISPOSED);
  });

  it('reads every getter of the model and its plan after dispose without crashing (native once dereferenced freed memory)', () => {
    // In a child process: a segfault there is a failed assertion here, not a lost test worker.
    const code = `
      const { Sequential, Dense, BatchNorm1d } = require(${JSON.stringify(path.join(root, 'dist'))});
      const m = new Sequential([new Dense(3, 4), new BatchNorm1d(4), new Dense(4, 2)], { engine: '${engine}', seed: 1 });
      m.compile({ loss: 'mse', optimizer: 'adam' });
      m.eval();
      const plan = m['plan'];
      const before = { bufferCount: plan.bufferCount, optimizerStateSize: plan.optimizerStateSize };
      m.dispose();
      const read = (f) => { try { return f(); } catch (e) { return e.code; } };
      console.log(JSON.stringify({ before, training: read(() => m.training), penalty: read(() => plan.penalty),
        bufferCount: read(() => plan.bufferCount), optimizerStateSize: read(() => plan.optimizerStateSize),
        paramCount: read(() => m.paramCount), optimizer: read(() => m.optimizer.getConfig().name),
        summary: read(() => m.summary().split('\\n').length) }));`;
    const out = execFileSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' });
    const r = JSON.parse(out) as Record<string, unknown> & { before: { bufferCount: number; optimizerStateSize: number } };
    // The mode and the sizes keep the values they had (the contract: size fields stay readable).
    expect(r).toEqual({ before: r.before, training: false, penalty: 0, bufferCount: r.before.bufferCount,
      optimizerStateSize: r.before.optimizerStateSize, paramCount: 34, optimizer: 'adam', summary: 5 });
    expect(r.before.bufferCount).toBe(11);      // running_mean, running_var (4 each), num_batches_tracked (3 digits)
    expect(r.before.optimizerStateSize).toBe(68);  // Adam: two moments per parameter
  });

  it('frees the memory (resident set drops by the model size; native at once, JS at the next GC)', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'dispose-frees.cjs'), engine],
      { cwd: root, encoding: 'utf8' });
    const r = JSON.parse(out) as { freed: number; freedAtOnce: number; code: string; inputSize: number };
    // Parameters, gradients and two Adam moments: 4 × 4M floats = 64 MB.
    expect(r.freed).toBeGreaterThan(48);
    // Native memory goes inside dispose(); the JS engine's when the GC runs.
    if (engine === 'native') expect(r.freedAtOnce).toBeGreaterThan(48);
    expect(r.code).toBe(DISPOSED);
    expect(r.inputSize).toBe(2000);
  });
});

describe('dispose while native work is pending (classic-level segfault style)', () => {
  const binding = loadNative();
  const SPEC = { dtype: 'float32' as const, maxBatch: 8, layers: [{ kind: 'dense' as const, inFeatures: 20, outFeatures: 64 },
    { kind: 'activation' as const, activation: 'relu' as const }, { kind: 'dense' as const, inFeatures: 64, outFeatures: 4 }] };
  const CE = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 } as const;

  it('the raw epoch resolves (cancelled) and the core network outlives the JS object until the worker is done', async () => {
    const rows = 20000;
    const x = randomArray(rows * 20, 6, Float32Array);
    const y = Int32Array.from({ length: rows }, (_, i) => i % 4);
    let cancelled = 0;
    for (let i = 0; i < 50; i++) {
      const n = new binding.Network(SPEC);
      n.setLoss(CE);
      const epoch = n.runEpoch(x, rows, y, 8, null, i % 2 ? () => {} : null);
      n.dispose();
      expect(n.disposed).toBe(true);
      expect(codeOf(() => n.stepCount)).toBe(DISPOSED);
      const result = await epoch;
      // Cancelled part-way, or, when this thread lost its core right after the call (a loaded
      // machine), finished before dispose() landed: the tiny epoch takes milliseconds.
      expect(result.cancelled ? result.batches < rows / 8 : result.batches === rows / 8).toBe(true);
      if (result.cancelled) cancelled++;
    }
    // Most runs do see the dispose mid-epoch (all 50 on a quiet machine).
    expect(cancelled).toBeGreaterThan(25);
  });

  it('fit + dispose in a loop, in a worker thread, then the worker is terminated mid-epoch: no crash', async () => {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const { Sequential, Dense, Matrix } = require(${JSON.stringify(path.join(root, 'dist'))});
      const rows = 5000;
      const x = new Matrix(rows, 20, Float32Array.from({ length: rows * 20 }, (_, i) => Math.sin(i)));
      const y = Int32Array.from({ length: rows }, (_, i) => i % 4);
      (async () => {
        let rejected = 0, finished = 0;
        for (let i = 0; i < 100; i++) {
          const m = new Sequential([new Dense(20, 64, { activation: 'relu' }), new Dense(64, 4)], { engine: 'native', seed: i });
          m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
          const p = m.fit(x, y, { epochs: 2, batchSize: 16 });
          if (i % 3 === 0) await new Promise((r) => setImmediate(r));  // let the worker start
          m.dispose();
          // Disposed before both epochs ended: rejects; a fit that won the race resolves.
          await p.then(() => { finished++; }, (e) => { if (e.code === 'ERR_FASTMLP_DISPOSED') rejected++; else throw e; });
        }
        parentPort.postMessage({ rejected, finished });
        // Now long epochs that the parent terminates mid-way, one of them with a dispose pending.
        // The parent asks for the dispose and terminates once it is done: on its own timer it once
        // came after the thread's (a loaded machine), which had disposed the only model and, nothing
        // left to run, exited with 0 before terminate(). Its message listener keeps it alive now.
        const big = new Matrix(100000, 20, Float32Array.from({ length: 2000000 }, (_, i) => Math.cos(i)));
        const bigY = Int32Array.from({ length: 100000 }, (_, i) => i % 4);
        const [disposed, training] = [1, 2].map((seed) => {
          const m = new Sequential([new Dense(20, 256, { activation: 'relu' }), new Dense(256, 4)], { engine: 'native', seed });
          m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
          m.fit(big, bigY, { epochs: 5, batchSize: 8 }).catch(() => {});
          return m;
        });
        parentPort.on('message', (msg) => {
          if (msg !== 'dispose') return;
          disposed.dispose();
          parentPort.postMessage('disposed');
        });
        parentPort.postMessage('training');
      })().catch((e) => parentPort.postMessage({ error: String(e && e.stack) }));`;
    const w = new Worker(code, { eval: true });
    const messages: unknown[] = [];
    const training = new Promise<void>((resolve, reject) => {
      w.on('message', (m) => { messages.push(m); if (m === 'training' || (m as { error?: string }).error) resolve(); });
      w.on('error', reject);
    });
    await training;
    const { rejected, finished } = messages[0] as { rejected: number; finished: number };
    expect(rejected + finished).toBe(100);
    expect(rejected).toBeGreaterThan(50);
    const disposed = new Promise<void>((resolve) => { w.on('message', (m) => { if (m === 'disposed') resolve(); }); });
    w.postMessage('dispose');
    await disposed;
    expect(await w.terminate()).toBe(1);
    expect(messages).toEqual([messages[0], 'training', 'disposed']);  // no error in the thread
  });
});
