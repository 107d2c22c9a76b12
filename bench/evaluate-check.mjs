#!/usr/bin/env node
// The cost of evaluate's finiteness checks of x and y (lib/matrix.ts
// requireFinite with the engine's anyNonFinite, lib/target-checks.ts requireValidTarget) beside a whole
// evaluate: 10,000 × 784 float32 rows through 784-512-256-10, cross-entropy,
// with class indices and with one-hot rows as y. Each engine in a fresh
// process (STYLE.md §13); printed: median evaluate time, median time of the
// two checks alone on the same data, and their ratio.
//   node bench/evaluate-check.mjs      (after npm run build:ts)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROWS = 10_000;
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
  const { requireFinite } = await import('../dist/matrix.js');
  const { requireValidTarget } = await import('../dist/target-checks.js');
  const { getEngine } = await import('../dist/backend.js');
  const impl = getEngine(engine);
  const anyNonFinite = (d) => impl.anyNonFinite(d);
  const data = new Float32Array(ROWS * COLS);
  for (let i = 0; i < data.length; i++) data[i] = (i % 251) / 251 - 0.5;
  const x = new Matrix(ROWS, COLS, data);
  const indices = Int32Array.from({ length: ROWS }, (_, i) => i % 10);
  const oneHot = new Matrix(ROWS, 10, Float32Array.from({ length: ROWS * 10 }, (_, i) => (i % 10 === indices[Math.floor(i / 10)] ? 1 : 0)));
  const m = new Sequential([new Dense(COLS, 512, { activation: 'relu' }), new Dense(512, 256, { activation: 'relu' }), new Dense(256, 10)],
    { engine, seed: 1 });
  m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
  const median = (a) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const time = (fn, reps) => {
    fn();  // warm-up
    const t = [];
    for (let i = 0; i < reps; i++) { const s = performance.now(); fn(); t.push(performance.now() - s); }
    return median(t);
  };
  for (const [label, y] of [['class indices', indices], ['one-hot rows', oneHot]]) {
    const evaluate = time(() => m.evaluate(x, y), engine === 'js' ? 3 : 7);
    const checks = time(() => { requireFinite(x, 'x', anyNonFinite); requireValidTarget(y instanceof Matrix ? y.data : y, 'y', 'cross-entropy', anyNonFinite); }, 21);
    console.log(`${engine}, y as ${label}: evaluate ${evaluate.toFixed(1)} ms, checks ${checks.toFixed(2)} ms (${(100 * checks / evaluate).toFixed(2)} %)`);
  }
}
