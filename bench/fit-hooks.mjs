#!/usr/bin/env node
// What batch hooks cost: native model.fit on the bundled digits (64-128-64-10,
// batch 32, Adam) as one worker-thread engine call per epoch, against the same
// fit driven batch by batch from TypeScript because a callback has onBatchEnd,
// the same callback marked observeOnly (fed from the worker's per-batch events,
// the epoch stays one engine call), and the JS engine for reference. Each variant runs in a fresh process
// (STYLE.md §13); printed: samples/s (best of 3 timed fits) and the event
// loop's p99 delay while fit runs.
//   node bench/fit-hooks.mjs      (after npm run build)
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const variant = process.argv[2];
if (!variant) {
  const rows = [];
  for (const v of ['native-epoch', 'native-batch-hook', 'native-observe-hook', 'js-epoch', 'js-batch-hook', 'js-observe-hook']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), v], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${v} failed: ${r.stderr}`);
    rows.push(JSON.parse(r.stdout.trim().split('\n').at(-1)));
  }
  console.log('variant               samples/s   event-loop p99 (ms)');
  for (const r of rows) console.log(`${r.variant.padEnd(22)}${String(Math.round(r.samplesPerSecond)).padStart(9)}   ${r.p99ms.toFixed(1).padStart(8)}`);
} else {
  const { Sequential, Dense, optim, data, callbacks } = await import('../dist/index.js').then((m) => m.default ?? m);
  const [engine, mode] = [variant.split('-')[0], variant.slice(variant.indexOf('-') + 1)];
  const { x, y } = data.loadDigits();
  const epochs = engine === 'native' ? 5 : 1;
  const cbs = mode === 'batch-hook' ? [callbacks.lambda({ onBatchEnd: () => undefined })]
    : mode === 'observe-hook' ? [{ observeOnly: true, onBatchEnd: () => undefined }] : [];
  const fitOnce = async () => {
    const m = new Sequential([new Dense(64, 128, { activation: 'relu' }), new Dense(128, 64, { activation: 'relu' }), new Dense(64, 10)],
      { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam() });
    const t0 = performance.now();
    await m.fit(x, y, { epochs, batchSize: 32, callbacks: cbs });
    return (x.rows * epochs) / ((performance.now() - t0) / 1000);
  };
  await fitOnce();  // warm-up
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let best = 0;
  for (let i = 0; i < 3; i++) best = Math.max(best, await fitOnce());
  h.disable();
  console.log(JSON.stringify({ variant, samplesPerSecond: best, p99ms: h.percentile(99) / 1e6 }));
}
