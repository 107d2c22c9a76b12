#!/usr/bin/env node
// What the bounded onBatch queue (native/binding/progress_gate.h) costs: native
// model.fit samples/s with a trivial observeOnly onBatchEnd (fed from the
// worker's per-batch events), on a small net (bundled digits, 64-128-64-10,
// batch 32: batches of tens of µs, where a wait for room would show) and the
// large net (784-512-256-10, batch 128, random data), and a tiny one (64-16-10,
// batch 4: batches of a few µs, about what JS spends per event — the worst case). Each run is a fresh
// process (STYLE.md §13); with two package roots, runs alternate A, B, A, B…
// so machine noise falls on both alike. Printed: median and best samples/s per
// root and net.
//   NETS=tiny,small,large [OBSERVER=async] node bench/fit-backpressure.mjs [rootA [rootB]] [--pairs 5]   (roots built: dist/ and build/)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);
const [mode, ...rest] = process.argv.slice(2);

if (mode === '--child') {
  const [root, net] = rest;
  const { Sequential, Dense, Matrix, optim, data } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href)
    .then((m) => m.default ?? m);
  let x, y, layers, batchSize, epochs;
  if (net === 'tiny') {
    ({ x, y } = data.loadDigits());
    layers = () => [new Dense(64, 16, { activation: 'relu' }), new Dense(16, 10)];
    batchSize = 4;
    epochs = 20;
  } else if (net === 'small') {
    ({ x, y } = data.loadDigits());
    layers = () => [new Dense(64, 128, { activation: 'relu' }), new Dense(128, 64, { activation: 'relu' }), new Dense(64, 10)];
    batchSize = 32;
    epochs = 20;
  } else {
    const rows = 8192;
    x = new Matrix(rows, 784, Float32Array.from({ length: rows * 784 }, (_, i) => Math.sin(i * 0.37)));
    y = Int32Array.from({ length: rows }, (_, i) => (i * 7) % 10);
    layers = () => [new Dense(784, 512, { activation: 'relu' }), new Dense(512, 256, { activation: 'relu' }), new Dense(256, 10)];
    batchSize = 128;
    epochs = 1;
  }
  let events = 0;
  // OBSERVER=async: the same trivial observer returning a promise (held until it settles since async backpressure).
  const observer = process.env.OBSERVER === 'async'
    ? { observeOnly: true, onBatchEnd: async () => { events++; } }
    : { observeOnly: true, onBatchEnd: () => { events++; } };
  const fitOnce = async () => {
    const m = new Sequential(layers(), { engine: 'native', seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam() });
    const t0 = performance.now();
    await m.fit(x, y, { epochs, batchSize, callbacks: [observer] });
    return (x.rows * epochs) / ((performance.now() - t0) / 1000);
  };
  await fitOnce();  // warm-up
  let best = 0;
  for (let i = 0; i < 3; i++) best = Math.max(best, await fitOnce());
  if (events !== 4 * epochs * Math.ceil(x.rows / batchSize)) throw new Error(`saw ${events} batch events`);
  console.log(JSON.stringify({ samplesPerSecond: best }));
} else {
  const args = [mode, ...rest].filter((a) => a !== undefined);
  const pairsAt = args.indexOf('--pairs');
  const pairs = pairsAt >= 0 ? Number(args[pairsAt + 1]) : 5;
  const roots = args.filter((a, i) => a !== '--pairs' && i !== pairsAt + 1).map((r) => path.resolve(r));
  if (roots.length === 0) roots.push(path.resolve(path.dirname(here), '..'));
  const nets = (process.env.NETS ?? 'tiny,small,large').split(',');
  const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  for (const net of nets) {
    const runs = roots.map(() => []);
    for (let p = 0; p < pairs; p++) {
      roots.forEach((root, i) => {
        const r = spawnSync(process.execPath, [here, '--child', root, net], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${net} ${root} failed: ${r.stderr}`);
        runs[i].push(JSON.parse(r.stdout.trim().split('\n').at(-1)).samplesPerSecond);
      });
    }
    roots.forEach((root, i) => {
      console.log(`${net.padEnd(6)} ${root.padEnd(40)} median ${Math.round(median(runs[i]))} best ${Math.round(Math.max(...runs[i]))} samples/s ` +
        `(${runs[i].map(Math.round).join(' ')})`);
    });
    if (roots.length === 2) {
      const ratios = runs[1].map((b, p) => b / runs[0][p]);
      console.log(`${net.padEnd(6)} B/A per pair: median ${median(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(' ')})`);
    }
  }
}
