#!/usr/bin/env node
// The event loop while a service evaluates a large set: `evaluate` (one
// synchronous call) beside `await evaluateAsync` (the forward pass as
// predictAsync's: native on a worker thread, JS in chunks of batchSize rows
// with the event loop between them), each variant in a fresh process
// (STYLE.md §13). 10,000 rows, cross-entropy with accuracy, float32, 1 thread:
//   native  784-2048-2048-10 (the large net)
//   js      784-512-256-10 (the large net takes the JS engine ~20 s a call)
// Printed per variant: ms per call (median of 3 after a warm-up), the event
// loop's p99 and max delay over the 3 calls (perf_hooks.monitorEventLoopDelay,
// 1 ms resolution), and for evaluateAsync the main thread's synchronous part
// until the call returns its promise (checks of x and y, the weights' copy,
// x's copy) and the scoring after the forward pass (loss and metrics over all
// rows' outputs), each the median of the 3 calls.
//   node bench/evaluate-async.mjs      (after npm run build)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, watchCalls } from './lib/loop-watch.mjs';

const VARIANTS = ['native evaluate', 'native evaluateAsync', 'js evaluate', 'js evaluateAsync'];
const variant = process.argv[2];
const fmt = (v, w) => (v === null ? '—' : v.toFixed(v < 10 ? 1 : 0)).padStart(w);

if (!variant) {
  console.log('variant                 net              ms/call  loop p99 (ms)  loop max (ms)  sync part (ms)  scoring (ms)');
  for (const v of VARIANTS) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), v], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${v} failed: ${r.stderr}`);
    const o = JSON.parse(r.stdout.trim().split('\n').at(-1));
    console.log(`${v.padEnd(24)}${o.net.padEnd(17)}${fmt(o.msPerCall, 7)}${fmt(o.p99ms, 15)}${fmt(o.maxMs, 15)}` +
      `${fmt(o.syncMs, 16)}${fmt(o.scoringMs, 14)}`);
  }
} else {
  const { Sequential, Dense, Matrix, setThreads } = await import('../dist/index.js').then((m) => m.default ?? m);
  setThreads(1);
  const [engine, method] = variant.split(' ');
  const widths = engine === 'native' ? [784, 2048, 2048, 10] : [784, 512, 256, 10];
  const layers = widths.slice(1).map((out, i) => new Dense(widths[i], out, i < widths.length - 2 ? { activation: 'relu' } : {}));
  const m = new Sequential(layers, { engine, seed: 1 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });
  const rows = 10_000;
  const x = new Matrix(rows, 784, Float32Array.from({ length: rows * 784 }, (_, i) => Math.sin(i)));
  const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
  const syncParts = [];
  const call = async () => {
    if (method === 'evaluate') return m.evaluate(x, y);
    const t0 = performance.now();
    const p = m.evaluateAsync(x, y, { batchSize: 256 });
    syncParts.push(performance.now() - t0);
    return p;
  };
  const reference = m.evaluate(x, y);  // warm-up, and what evaluateAsync must return
  await call();
  syncParts.length = 0;
  const watched = await watchCalls(call, {
    calls: 3,
    after: async (logs) => {
      // A turn of the event loop after each call: the histogram's timer records the delay it saw
      // (a synchronous evaluate holds the loop for the whole call; without this it records nothing).
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (logs.loss !== reference.loss || logs.accuracy !== reference.accuracy) throw new Error(`${variant}: Logs differ from evaluate's`);
    },
  });
  // The scoring evaluateAsync runs on the main thread once its forward pass is done: the same
  // internal call (lib/model-reads.ts ModelReads.score, reached past TypeScript's `private`) on
  // the same outputs, timed alone.
  let scoringMs = null;
  if (method === 'evaluateAsync') {
    const pred = m.predict(x);
    const s = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      m.reads.score(m.scoring(), pred, y);
      s.push(performance.now() - t0);
    }
    scoringMs = median(s);
  }
  console.log(JSON.stringify({ variant, net: widths.join('-'), ...watched, syncMs: syncParts.length ? median(syncParts) : null, scoringMs }));
}
