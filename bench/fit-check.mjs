#!/usr/bin/env node
// The cost of fit's finiteness checks at its start (lib/fit-input.ts: the
// chunked checks of fit's private copies of x and y) on MNIST-sized data,
// 60,000 × 784 rows:
//   - float32 x, class indices as y (cross-entropy): only x is checked;
//   - float64 x, one-hot rows as a dense y (mse): x and y are checked.
// Each engine in a fresh process (STYLE.md §13). Printed per case:
//   - check: median time of the chunked checks alone on the data (given the
//     engine's anyNonFinite; code without the fast path ignores that argument);
//   - begin: median time from the fit call to its onTrainBegin (the copy of x
//     and y, then the checks, yielding to the event loop when due);
//   - first batch: median time from the call to the first onBatchEnd
//     (784-10 softmax regression, batch 256; fit stops there).
//   node bench/fit-check.mjs      (after npm run build:ts)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROWS = 60_000;
const COLS = 784;
const CLASSES = 10;
const engine = process.argv[2];
if (!engine) {
  for (const e of ['native', 'js']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), e], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`${e} failed: ${r.stderr}`);
    console.log(r.stdout.trim());
  }
} else {
  const { Sequential, Dense, Matrix } = await import('../dist/index.js');
  const { requireFiniteInChunks, requireFiniteTargetInChunks } = await import('../dist/fit-input.js');
  const { getEngine } = await import('../dist/backend.js');
  const impl = getEngine(engine);
  const anyNonFinite = (d) => impl.anyNonFinite(d);
  const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

  const cases = [
    { label: 'float32 x, class indices', dtype: 'float32', Ctor: Float32Array, loss: 'cross-entropy', dense: false },
    { label: 'float64 x, one-hot y', dtype: 'float64', Ctor: Float64Array, loss: 'mse', dense: true },
  ];
  for (const c of cases) {
    const data = new c.Ctor(ROWS * COLS);
    for (let i = 0; i < data.length; i++) data[i] = (i % 251) / 251 - 0.5;
    const x = new Matrix(ROWS, COLS, data);
    const indices = Int32Array.from({ length: ROWS }, (_, i) => i % CLASSES);
    const oneHot = new c.Ctor(ROWS * CLASSES);
    for (let r = 0; r < ROWS; r++) oneHot[r * CLASSES + indices[r]] = 1;
    const y = c.dense ? new Matrix(ROWS, CLASSES, oneHot) : indices;
    const target = c.dense ? oneHot : indices;

    const checks = [];
    for (let rep = 0; rep < 8; rep++) {
      const s = performance.now();
      await requireFiniteInChunks(x, 'x', anyNonFinite);
      await requireFiniteTargetInChunks(target, 'y', c.loss, anyNonFinite);
      if (rep > 0) checks.push(performance.now() - s);  // the first is a warm-up
    }

    const begins = [];
    const firsts = [];
    for (let rep = 0; rep < 3; rep++) {
      const m = new Sequential([new Dense(COLS, CLASSES)], { engine, seed: 1, dtype: c.dtype });
      m.compile({ loss: c.loss, optimizer: 'sgd' });
      let begin = 0;
      let first = 0;
      const observer = {
        observeOnly: true,
        onTrainBegin: () => { begin = performance.now(); },
        onBatchEnd: () => { if (first === 0) first = performance.now(); m.stopTraining = true; },
      };
      const s = performance.now();
      await m.fit(x, y, { epochs: 1, batchSize: 256, shuffle: false, callbacks: [observer] });
      begins.push(begin - s);
      firsts.push(first - s);
      m.dispose();
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`${engine}, ${c.label}: check ${median(checks).toFixed(1)} ms, ` +
      `begin ${median(begins).toFixed(0)} ms, first batch ${median(firsts).toFixed(0)} ms`);
  }
}
