#!/usr/bin/env node
// The event loop at the start of fit: model.fit on 60,000 × 784 float32 rows
// (188 MB, MNIST's shape), 784-10 softmax regression, stopped after its first
// batch so the start dominates: fit's private copy of x (a synchronous copy at
// the call: the caller may change x once fit has returned) and its finiteness
// check (in chunks, the event loop turning between them). Each engine in a
// fresh process (STYLE.md §13). Per run, a new model fits 3 times: its first
// fit copies into fresh memory, its repeated fits into the memory the model
// kept (SequentialOptions.reuseFitMemory; a build without it, or --no-reuse,
// copies into fresh memory every time). Printed: the longest gap between ticks
// of a 5 ms interval timer, the event loop's max delay (monitorEventLoopDelay)
// and the time from the call to the end of the first batch (the copy, the
// finiteness check of the copies and the first epoch's start before it),
// min–max over the runs, first and repeated fits apart.
//   node bench/fit-start.mjs [--runs N] [--dist DIR] [--no-reuse]   (after npm run build)
// --dist: another build's dist/ (an older commit built in a scratch directory), to compare.
// Run it under `chrt -f 10` on a shared machine: without a real-time priority
// a descheduling of the main thread shows as a gap.
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROWS = 60_000;
const COLS = 784;
const FITS_PER_MODEL = 3;
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '3' }, dist: { type: 'string' }, 'no-reuse': { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
const dist = resolve(values.dist ?? fileURLToPath(new URL('../dist', import.meta.url)));
const engine = positionals[0];

if (!engine) {
  const passOn = ['--runs', String(runs), '--dist', dist, ...(values['no-reuse'] ? ['--no-reuse'] : [])];
  console.log(`fit start, ${ROWS} × ${COLS} float32, ${runs} models × ${FITS_PER_MODEL} fits; dist ${dist}${values['no-reuse'] ? ', reuseFitMemory: false' : ''}`);
  for (const e of ['native', 'js']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), e, ...passOn], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${e} failed: ${r.stderr}`);
    console.log(r.stdout.trim());
  }
} else {
  const { Sequential, Dense, Matrix } = await import(pathToFileURL(resolve(dist, 'index.js')).href);
  const data = new Float32Array(ROWS * COLS);
  for (let i = 0; i < data.length; i++) data[i] = (i % 251) / 251 - 0.5;
  const x = new Matrix(ROWS, COLS, data);
  const y = Int32Array.from({ length: ROWS }, (_, i) => i % 10);
  const first = { gaps: [], delays: [], firstBatch: [] };
  const repeated = { gaps: [], delays: [], firstBatch: [] };
  for (let run = 0; run < runs; run++) {
    const m = new Sequential([new Dense(COLS, 10)], { engine, seed: 1, ...(values['no-reuse'] ? { reuseFitMemory: false } : {}) });
    m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    let firstBatchAt = NaN;
    const stopper = { observeOnly: true, onBatchEnd: () => { firstBatchAt = Math.min(performance.now(), firstBatchAt || Infinity); m.stopTraining = true; } };
    for (let fit = 0; fit < FITS_PER_MODEL; fit++) {
      const into = fit === 0 ? first : repeated;
      const h = monitorEventLoopDelay({ resolution: 1 });
      let last = performance.now();
      let worst = 0;
      const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; }, 5);
      h.enable();
      firstBatchAt = NaN;
      const calledAt = performance.now();
      await m.fit(x, y, { epochs: 1, batchSize: 256, callbacks: [stopper] });
      h.disable();
      clearInterval(timer);
      into.gaps.push(Math.max(worst, performance.now() - last));
      into.delays.push(h.max / 1e6);
      into.firstBatch.push(firstBatchAt - calledAt);
      await new Promise((r) => setTimeout(r, 50));
    }
    m.dispose();
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
  const f = (a) => `${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)} ms`;
  const line = (label, r) => `  ${label}: longest 5 ms-timer gap ${f(r.gaps)}, max event-loop delay ${f(r.delays)}, first batch done after ${f(r.firstBatch)}`;
  console.log(`${engine}:\n${line('first fit   ', first)}\n${line('repeated fit', repeated)}`);
}
