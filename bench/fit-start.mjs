#!/usr/bin/env node
// The event loop at the start of fit: model.fit on 60,000 × 784 float32 rows
// (188 MB, MNIST's shape), 784-10 softmax regression, stopped after its first
// batch so the start dominates: fit's private copy of x and its finiteness
// check (the native engine reads that copy in place since Engine.allocData;
// before, its first epoch copied the data again). Each engine in a
// fresh process (STYLE.md §13); printed: the longest gap between ticks of a
// 5 ms interval timer and the event loop's max delay (monitorEventLoopDelay),
// best and worst of 3 fits.
//   node bench/fit-start.mjs      (after npm run build)
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROWS = 60_000;
const COLS = 784;
const engine = process.argv[2];
if (!engine) {
  for (const e of ['native', 'js']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), e], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${e} failed: ${r.stderr}`);
    console.log(r.stdout.trim());
  }
} else {
  const { Sequential, Dense, Matrix } = await import('../dist/index.js');
  const data = new Float32Array(ROWS * COLS);
  for (let i = 0; i < data.length; i++) data[i] = (i % 251) / 251 - 0.5;
  const x = new Matrix(ROWS, COLS, data);
  const y = Int32Array.from({ length: ROWS }, (_, i) => i % 10);
  const gaps = [];
  const delays = [];
  for (let run = 0; run < 3; run++) {
    const m = new Sequential([new Dense(COLS, 10)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    const stopper = { observeOnly: true, onBatchEnd: () => { m.stopTraining = true; } };
    const h = monitorEventLoopDelay({ resolution: 1 });
    let last = performance.now();
    let worst = 0;
    const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; }, 5);
    h.enable();
    await m.fit(x, y, { epochs: 1, batchSize: 256, callbacks: [stopper] });
    h.disable();
    clearInterval(timer);
    gaps.push(Math.max(worst, performance.now() - last));
    delays.push(h.max / 1e6);
    m.dispose();
    await new Promise((r) => setTimeout(r, 50));
  }
  const f = (a) => `${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)} ms`;
  console.log(`${engine}: longest 5 ms-timer gap ${f(gaps)}, max event-loop delay ${f(delays)}`);
}
