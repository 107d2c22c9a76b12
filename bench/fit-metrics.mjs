#!/usr/bin/env node
// What fit's training metrics cost: native model.fit (one thread, float32,
// Adam, whole-epoch engine calls) with `metrics: ['accuracy']` against the
// same fit without metrics, on MNIST (the `mnist` package's 8,000 training
// rows when installed, else synthetic pixels; 784-256-128-10, batch 128) and
// the bundled digits (1,797 rows; 64-128-64-10, batch 32). Each case runs in a
// fresh process (STYLE.md §13); printed: seconds per epoch, best of 3 fits
// after a warm-up fit.
//   node bench/fit-metrics.mjs [dist]   (after npm run build; dist: another
//   build of lib/ to compare, e.g. one made from main before this change)
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { trainingData } from './cases/data.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [, , first, second] = process.argv;
const CASES = ['mnist-accuracy', 'mnist-none', 'digits-accuracy', 'digits-none'];

if (!CASES.includes(first)) {
  const dist = path.resolve(first ?? path.join(here, '..', 'dist'));
  console.log(`fit seconds per epoch, native engine, 1 thread, best of 3 (${dist})`);
  console.log('case               s/epoch');
  for (const c of CASES) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), c, dist], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${c} failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
    console.log(`${`${c} (${out.source})`.padEnd(28)}${out.secondsPerEpoch.toFixed(4)}`);
  }
} else {
  const lib = await import(pathToFileURL(path.join(second, 'index.js')).href).then((m) => m.default ?? m);
  const { Sequential, Dense, Matrix, optim, data, setThreads } = lib;
  setThreads(1);
  const [set, metrics] = first.split('-');
  let x, y, layers, batchSize, source;
  if (set === 'mnist') {
    const d = trainingData(8000);
    x = new Matrix(d.rows, 784, d.x);
    y = d.y;
    layers = () => [new Dense(784, 256, { activation: 'relu' }), new Dense(256, 128, { activation: 'relu' }), new Dense(128, 10)];
    batchSize = 128;
    source = d.source;
  } else {
    ({ x, y } = data.loadDigits());
    layers = () => [new Dense(64, 128, { activation: 'relu' }), new Dense(128, 64, { activation: 'relu' }), new Dense(64, 10)];
    batchSize = 32;
    source = 'digits';
  }
  const epochs = 3;
  const fitOnce = async () => {
    const m = new Sequential(layers(), { engine: 'native', seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam(), metrics: metrics === 'accuracy' ? ['accuracy'] : [] });
    const t0 = performance.now();
    await m.fit(x, y, { epochs, batchSize });
    return (performance.now() - t0) / 1000 / epochs;
  };
  await fitOnce();  // warm-up
  let best = Infinity;
  for (let i = 0; i < 3; i++) best = Math.min(best, await fitOnce());
  console.log(JSON.stringify({ case: first, source, secondsPerEpoch: best }));
}
