#!/usr/bin/env node
// The event loop while a service awaits a large prediction: native engine, one
// thread, 784-2048-2048-10 (float32), 8192 rows, batchSize 256. Two variants,
// each in a fresh process (STYLE.md §13):
//   main-thread  the previous predictAsync, reproduced here: predict on each
//                256-row chunk on the main thread, setImmediate between chunks
//   worker       today's predictAsync: weights and x copied to a private plan
//                on the main thread, the forward passes on a libuv worker
// Printed: wall time per call (median of 5), the event loop's p99 and max delay
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution) over the 5 calls, and the
// main thread's synchronous share of one worker call (until predictAsync returns).
// A third variant, repeat, is a serving process that never trains: 100 awaited
// worker calls of 256 rows on unchanged weights, ms per call and the main
// thread's synchronous share per call (mean).
//   node bench/predict-async.mjs      (after npm run build)
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { syncPart, watchCalls } from './lib/loop-watch.mjs';

const variant = process.argv[2];
if (!variant) {
  console.log('variant        ms/call   loop p99 (ms)   loop max (ms)   sync part (ms)');
  for (const v of ['main-thread', 'worker', 'repeat']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), v], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${v} failed: ${r.stderr}`);
    const o = JSON.parse(r.stdout.trim().split('\n').at(-1));
    console.log(`${v.padEnd(13)}${o.msPerCall.toFixed(o.msPerCall < 10 ? 2 : 0).padStart(8)}${o.p99ms.toFixed(1).padStart(16)}${o.maxMs.toFixed(1).padStart(16)}` +
      `${(o.syncMs === null ? '—' : o.syncMs.toFixed(1)).padStart(17)}`);
  }
} else {
  const { Sequential, Dense, Matrix, setThreads } = await import('../dist/index.js').then((m) => m.default ?? m);
  setThreads(1);
  const m = new Sequential([new Dense(784, 2048, { activation: 'relu' }), new Dense(2048, 2048, { activation: 'relu' }), new Dense(2048, 10)],
    { engine: 'native', seed: 1 });
  const rows = 8192;
  const x = new Matrix(rows, 784, Float32Array.from({ length: rows * 784 }, (_, i) => Math.sin(i)));
  const oldPredictAsync = async (X, batchSize = 256) => {
    const out = new Float32Array(X.rows * 10);
    for (let start = 0; start < X.rows; start += batchSize) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const n = Math.min(batchSize, X.rows - start);
      out.set(m.predict(new Matrix(n, 784, X.data.subarray(start * 784, (start + n) * 784))).data, start * 10);
    }
    return out;
  };
  if (variant === 'repeat') {
    const small = new Matrix(256, 784, x.data.subarray(0, 256 * 784));
    await m.predictAsync(small);  // warm-up
    const h = monitorEventLoopDelay({ resolution: 1 });
    let syncTotal = 0;
    h.enable();
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) {
      const s0 = performance.now();
      const p = m.predictAsync(small);
      syncTotal += performance.now() - s0;
      await p;
    }
    const msPerCall = (performance.now() - t0) / 100;
    h.disable();
    console.log(JSON.stringify({ variant, msPerCall, p99ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6, syncMs: syncTotal / 100 }));
    process.exit(0);
  }
  const call = () => (variant === 'worker' ? m.predictAsync(x, { batchSize: 256 }) : oldPredictAsync(x));
  await call();  // warm-up (and the worker variant's private plan)
  // The worker variant's synchronous part: x's copy and the checks before it returns its promise.
  const syncMs = variant === 'worker' ? await syncPart(call) : null;
  console.log(JSON.stringify({ variant, ...await watchCalls(call), syncMs }));
}
