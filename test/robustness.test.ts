// Nothing passed from JavaScript may crash the process or corrupt a network:
// the raw addon (which lib/ validates in front of, but which can be called
// directly) gets wrong types, lengths, dtypes, detached buffers and random
// garbage, must throw TypeError/RangeError with a code, and keep working.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNative, type NativeNetwork } from '../lib/native';
import { randomArray } from './helpers';

const binding = loadNative();
const SPEC = {
  dtype: 'float32' as const, maxBatch: 4,
  layers: [{ kind: 'dense' as const, inFeatures: 3, outFeatures: 4 }, { kind: 'activation' as const, activation: 'relu' as const },
    { kind: 'dense' as const, inFeatures: 4, outFeatures: 2 }],
};
const CE = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 } as const;
const ADAM = { kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

function network(): NativeNetwork {
  const n = new binding.Network(SPEC);
  n.setLoss(CE);
  n.setOptimizer(ADAM);
  return n;
}

function expectCodedError(fn: () => unknown, kind: typeof TypeError | typeof RangeError, pattern?: RegExp) {
  let caught: unknown;
  try { fn(); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(kind);
  expect((caught as { code?: string }).code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
  if (pattern) expect((caught as Error).message).toMatch(pattern);
}

describe('native addon robustness', () => {
  it('gemm rejects wrong types, lengths and mixed dtypes', () => {
    const a = new Float32Array(6);
    expectCodedError(() => binding.gemm(0 as never, false, 2, 2, 3, 1, a, a, 0, new Float32Array(4)), TypeError, /transA/);
    expectCodedError(() => binding.gemm(false, false, 2, 2, 3, 1, a, new Float32Array(5), 0, new Float32Array(4)), RangeError, /for b/);
    expectCodedError(() => binding.gemm(false, false, 2, 2, 3, 1, a, new Float64Array(6), 0, new Float32Array(4)), TypeError, /Float32Array for b/);
    expectCodedError(() => binding.gemm(false, false, -2, 2, 3, 1, a, a, 0, new Float32Array(4)), RangeError, /for m/);
    expectCodedError(() => binding.gemm(false, false, 2 ** 40, 2 ** 40, 2 ** 40, 1, a, a, 0, a), RangeError);
    expectCodedError(() => binding.gemm(false, false, 2, 2, 3, NaN, a, a, 0, new Float32Array(4)), RangeError, /alpha/);
    expectCodedError(() => binding.gemm(false, false, 2, 2, 3, 1, [1, 2] as never, a, 0, new Float32Array(4)), TypeError, /for a/);
    expectCodedError(() => (binding.gemm as () => void)(), TypeError);
  });

  it('the Network constructor rejects bad specs', () => {
    expectCodedError(() => new binding.Network(undefined as never), TypeError, /spec/);
    expectCodedError(() => new binding.Network({ ...SPEC, dtype: 'int8' as never }), RangeError, /dtype/);
    expectCodedError(() => new binding.Network({ ...SPEC, maxBatch: 0 }), RangeError, /maxBatch/);
    expectCodedError(() => new binding.Network({ ...SPEC, layers: [] }), RangeError);
    expectCodedError(() => new binding.Network({ ...SPEC, layers: [{ kind: 'conv' } as never] }), RangeError, /kind/);
    expectCodedError(() => new binding.Network({ ...SPEC, layers: [{ kind: 'dense', inFeatures: 3, outFeatures: 4 }, { kind: 'dense', inFeatures: 5, outFeatures: 2 }] }), RangeError);
    expectCodedError(() => new binding.Network({ ...SPEC, layers: [{ kind: 'activation', activation: 'mish' as never }] }), RangeError, /activation/);
  });

  it('methods reject wrong lengths, dtypes, rows and class indices, and the network still works', () => {
    const n = network();
    const x = new Float32Array(12);
    expectCodedError(() => n.getParams(new Float32Array(3)), RangeError, /out/);
    expectCodedError(() => n.setParams(new Float64Array(n.paramCount)), TypeError, /src/);
    expectCodedError(() => n.predict(x, 5, new Float32Array(10)), RangeError, /for x/);
    expectCodedError(() => n.predict(x, 0, new Float32Array(0)), RangeError, /rows/);
    expectCodedError(() => n.forwardTrain(new Float32Array(30), 10, new Float32Array(20)), RangeError);  // rows > maxBatch
    expectCodedError(() => n.backward(new Float32Array(8), 4), RangeError, /last forwardTrain/);
    expectCodedError(() => n.trainStep(x, 4, new Int32Array([0, 1, 2, 0])), RangeError, /class indices/);
    expectCodedError(() => n.trainStep(x, 4, new Int32Array([0, 1, -1, 0])), RangeError, /class indices/);
    expectCodedError(() => n.trainStep(x, 4, new Int32Array(3)), RangeError, /for y/);
    expectCodedError(() => n.trainStep(x, 4, new Float64Array(8)), TypeError, /for y/);
    expectCodedError(() => n.trainStep(x, 4, 'y' as never), TypeError, /for y/);
    expectCodedError(() => n.setLoss({ ...CE, labelSmoothing: 2 }), RangeError);
    n.setLoss({ ...CE, kind: 'mse' });
    expectCodedError(() => n.trainStep(x, 4, new Int32Array(4)), RangeError);  // mse needs a dense target
    n.setLoss(CE);
    expectCodedError(() => n.setOptimizer({ ...ADAM, lr: -1 }), RangeError);
    expectCodedError(() => n.setOptimizer({ ...ADAM, beta1: 1 }), RangeError);
    expectCodedError(() => n.setOptimizer({ ...ADAM, kind: 'lbfgs' as never }), RangeError);
    expectCodedError(() => n.setOptimizer({ lr: 0.1 } as never), TypeError);
    expectCodedError(() => n.reserve(-1), RangeError);
    const loss = n.trainStep(randomArray(12, 1, Float32Array), 4, new Int32Array([0, 1, 1, 0]));
    expect(Number.isFinite(loss)).toBe(true);
  });

  it('a detached (transferred) buffer is rejected, not read', () => {
    const n = network();
    const x = new Float32Array(12);
    structuredClone(x.buffer, { transfer: [x.buffer] });
    expect(x.length).toBe(0);
    expectCodedError(() => n.predict(x, 4, new Float32Array(8)), RangeError, /for x/);
  });

  it('trainEpoch validates up front, refuses other calls while it runs, and survives transfers of its inputs', async () => {
    const n = network();
    n.reserve(8);
    const rows = 20000;
    const x = randomArray(rows * 3, 2, Float32Array);
    const y = Int32Array.from({ length: rows }, (_, i) => i % 2);
    expectCodedError(() => n.runEpoch(x, rows, y, 0, null) as never, RangeError, /batchSize/);
    expectCodedError(() => n.runEpoch(x, rows, y, 8, new Int32Array(5)) as never, RangeError, /order/);
    await expect(n.runEpoch(x, rows, y, 8, new Int32Array(rows))).rejects.toThrow(RangeError);  // all zeros: not a permutation
    const running = n.runEpoch(x, rows, y, 8, null);
    // The caller gives its buffers away mid-epoch: the worker trains on its own copy.
    structuredClone(x.buffer, { transfer: [x.buffer] });
    let busy: unknown;
    try { n.trainStep(new Float32Array(12), 4, new Int32Array(4)); } catch (e) { busy = e; }
    expect((busy as { code?: string }).code).toBe('ERR_FASTMLP_BUSY');
    const result = await running;
    expect(result.batches).toBe(rows / 8);
    expect(result.badBatch).toBe(-1);
    expect(Number.isFinite(result.loss)).toBe(true);
    expect(Number.isFinite(n.trainStep(new Float32Array(12), 4, new Int32Array(4)))).toBe(true);
  });

  it('survives thousands of random calls with random arguments', () => {
    const n = network();
    const values: unknown[] = [undefined, null, 0, -1, 1, 2, 3, 4, 1e9, NaN, Infinity, 0.5, 'x', true, {}, [], [1, 2],
      new Float32Array(0), new Float32Array(12), new Float32Array(8), new Float64Array(12), new Int32Array(4),
      new Int32Array([5, -3, 0, 1]), new Uint8Array(12), () => 1, { kind: 'dense' }, Symbol('s')];
    const methods = ['reserve', 'setLoss', 'setOptimizer', 'getParams', 'setParams', 'getGrads', 'predict',
      'forwardTrain', 'backward', 'computeGradients', 'step', 'trainStep'] as const;
    let s = 7;
    const pick = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return values[s % values.length]; };
    for (let i = 0; i < 5000; i++) {
      const method = methods[i % methods.length]!;
      try {
        (n[method] as (...a: unknown[]) => unknown)(pick(), pick(), pick());
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
    }
    n.setLoss(CE);
    n.setOptimizer(ADAM);
    n.setParams(randomArray(n.paramCount, 3, Float32Array));
    expect(Number.isFinite(n.trainStep(randomArray(12, 4, Float32Array), 4, new Int32Array([0, 1, 0, 1])))).toBe(true);
  });

  it('loads and trains in several worker_threads at once, and a worker terminated mid-epoch does not crash', async () => {
    const root = path.resolve(__dirname, '..');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { Sequential, Dense, Matrix } = require(${JSON.stringify(path.join(root, 'dist'))});
      const m = new Sequential([new Dense(20, 64, { activation: 'relu' }), new Dense(64, 4)], { engine: 'native', seed: workerData });
      m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
      const rows = workerData === 99 ? 200000 : 2000;
      const x = new Matrix(rows, 20, Float32Array.from({ length: rows * 20 }, (_, i) => Math.sin(i)));
      const y = Int32Array.from({ length: rows }, (_, i) => i % 4);
      parentPort.postMessage('started');
      m.fit(x, y, { epochs: 2, batchSize: 32 }).then((h) => parentPort.postMessage(h.history.loss));`;
    const run = (seed: number) => new Promise<unknown[]>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: seed });
      const messages: unknown[] = [];
      w.on('message', (m) => { messages.push(m); if (m !== 'started') resolve(messages); });
      w.on('error', reject);
    });
    const results = await Promise.all([run(1), run(2), run(3)]);
    for (const r of results) expect((r[1] as number[]).every(Number.isFinite)).toBe(true);

    const doomed = new Worker(code, { eval: true, workerData: 99 });
    await new Promise((resolve) => doomed.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await doomed.terminate()).toBe(1);
  });

  it('garbage collection while an epoch runs frees nothing the worker uses', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'gc-during-epoch.cjs')], {
      cwd: path.resolve(__dirname, '..'), encoding: 'utf8',
    });
    expect(out.trim()).toMatch(/^done batches=\d+ loss=\d/);
  });
});
