#!/usr/bin/env node
// What training metrics cost a streamed fit (lib/metric-accumulators.ts):
// native model.fit, one thread, float32, Adam, 784-256-128-10, batch 128, on
// MNIST's 8,000 training rows (the `mnist` package when installed, else
// synthetic pixels), in memory and as a stream of 1,000-row chunks, with no
// metrics and with every classification metric ('accuracy', 'top_k_accuracy',
// 'precision', 'recall', 'f1', 'log_loss'). Each case runs in a fresh process
// (STYLE.md §13); printed: seconds per epoch, best of 3 fits after a warm-up
// fit, and whether the run reported the metrics. Then the folds alone: the
// accumulators over the epoch's 8,000 × 10 outputs in 1,000-row chunks and in
// one, beside metricByName on the whole epoch (what fit computed before),
// best of 30 in milliseconds.
//   node bench/fit-stream-metrics.mjs [dist]   (after npm run build; dist: another
//   build of lib/ to compare, e.g. one made from main before this change)
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { trainingData } from './cases/data.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [, , first, second] = process.argv;
const CASES = ['memory-none', 'memory-metrics', 'stream-none', 'stream-metrics', 'fold'];
const METRICS = ['accuracy', 'top_k_accuracy', 'precision', 'recall', 'f1', 'log_loss'];
const CHUNK = 1000;

if (!CASES.includes(first)) {
  const dist = path.resolve(first ?? path.join(here, '..', 'dist'));
  console.log(`fit seconds per epoch, native engine, 1 thread, best of 3 (${dist})`);
  console.log('case                          s/epoch  metrics reported');
  for (const c of CASES) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), c, dist], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${c} failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
    if (c === 'fold') {
      console.log(out.line);
      continue;
    }
    console.log(`${`${c} (${out.source})`.padEnd(30)}${out.secondsPerEpoch.toFixed(4).padStart(7)}  ${out.reported}`);
  }
} else if (first === 'fold') {
  console.log(JSON.stringify({ line: await foldTimes(second) }));
} else {
  const lib = await import(pathToFileURL(path.join(second, 'index.js')).href).then((m) => m.default ?? m);
  const { Sequential, Dense, Matrix, optim, setThreads } = lib;
  setThreads(1);
  const [where, metrics] = first.split('-');
  const d = trainingData(8000);
  const x = new Matrix(d.rows, 784, d.x);
  async function* chunks() {
    for (let from = 0; from < d.rows; from += CHUNK) {
      const to = Math.min(d.rows, from + CHUNK);
      yield { x: new Matrix(to - from, 784, d.x.subarray(from * 784, to * 784)), y: d.y.subarray(from, to) };
    }
  }
  const epochs = 3;
  let reported = false;
  const fitOnce = async () => {
    const m = new Sequential([new Dense(784, 256, { activation: 'relu' }), new Dense(256, 128, { activation: 'relu' }), new Dense(128, 10)],
      { engine: 'native', seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam(), metrics: metrics === 'metrics' ? METRICS : [] });
    const t0 = performance.now();
    const h = where === 'memory' ? await m.fit(x, d.y, { epochs, batchSize: 128 }) : await m.fit(chunks, { epochs, batchSize: 128 });
    reported = METRICS.every((name) => h.history[name]?.length === epochs);
    return (performance.now() - t0) / 1000 / epochs;
  };
  await fitOnce();  // warm-up
  let best = Infinity;
  for (let i = 0; i < 3; i++) best = Math.min(best, await fitOnce());
  console.log(JSON.stringify({ case: first, source: d.source, secondsPerEpoch: best, reported }));
}

/** Milliseconds to fold one epoch's outputs (8,000 rows × 10 classes), best of 30. */
async function foldTimes(dist) {
  const load = (name) => import(pathToFileURL(path.join(dist, `${name}.js`)).href).then((m) => m.default ?? m);
  const { metricByName } = await load('metrics');
  const { Matrix } = await load('matrix');
  let accumulators;
  try {
    accumulators = await load('metric-accumulators');
  } catch {
    accumulators = null;  // a build from before this change
  }
  const rows = 8000;
  const cols = 10;
  const { y } = trainingData(rows);
  const pred = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * 3);
  const best = (f) => {
    let b = Infinity;
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      f();
      b = Math.min(b, performance.now() - t);
    }
    return b;
  };
  const whole = best(() => {
    const m = new Matrix(rows, cols, pred);
    for (const name of METRICS) metricByName(name, m, y);
  });
  let line = `fold of ${rows} x ${cols} outputs, ${METRICS.length} metrics: metricByName on the epoch ${whole.toFixed(2)} ms`;
  if (accumulators) {
    const acc = new accumulators.MetricAccumulators(METRICS, cols);
    const fold = (size) => best(() => {
      acc.reset();
      for (let from = 0; from < rows; from += size) {
        const n = Math.min(size, rows - from);
        acc.fold({ pred: pred.subarray(from * cols, (from + n) * cols), target: y.subarray(from, from + n), order: null, count: n });
      }
      acc.results();
    });
    line += `; accumulators, ${CHUNK}-row chunks ${fold(CHUNK).toFixed(2)} ms, one chunk ${fold(rows).toFixed(2)} ms`;
  }
  return line;
}
