#!/usr/bin/env node
// The event loop while the pure-TypeScript engine trains and predicts: the
// issue's two nets (784-512-256-10 at batch 128, 784-2048-2048-10 at batch 256,
// ReLU, cross-entropy, Adam lr 1e-3, float32; synthetic or MNIST pixels from
// bench/cases/data.mjs), engine 'js'. Per net, in a fresh process: one untimed
// warm-up fit of one batch, then `await model.fit` over a few batches with
// perf_hooks.monitorEventLoopDelay (1 ms resolution) enabled — its p99 and max
// delay and the training rate (rows / wall seconds of the timed fit) — then
// `await model.predictAsync` of 1,024 rows (batchSize 256: passes of the 256 rows fit reserved),
// p99 and max again.
//   node bench/js-loop.mjs [--dist DIR] [--runs N]   (after npm run build)
// --dist: another build's dist/ (an older commit built in a scratch directory),
// to compare before and after. On a shared machine the delays include any
// descheduling of the process: compare runs taken back to back, and prefer
// `chrt -f 10` when it is available.
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLASSES, INPUTS, trainingData } from './cases/data.mjs';

const NETS = {
  small: { hidden: [512, 256], batchSize: 128, batches: 8 },
  large: { hidden: [2048, 2048], batchSize: 256, batches: 3 },
};
const PREDICT_ROWS = 1024;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '1' }, dist: { type: 'string' } },
});
const runs = Number(values.runs);
const dist = resolve(values.dist ?? fileURLToPath(new URL('../dist', import.meta.url)));
const net = positionals[0];

const ms = (h, p) => (p === 'max' ? h.max : h.percentile(p)) / 1e6;

if (!net) {
  console.log(`JS engine event loop during fit and predictAsync; dist ${dist}; ${runs} run(s) per net`);
  for (const name of Object.keys(NETS)) {
    for (let run = 0; run < runs; run++) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name, '--dist', dist], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
      console.log(r.stdout.trim());
    }
  }
} else {
  const { Sequential, Dense, Matrix, optim } = await import(pathToFileURL(resolve(dist, 'index.js')).href);
  const { hidden, batchSize, batches } = NETS[net];
  const rows = batchSize * batches;
  const data = trainingData(rows);
  const x = new Matrix(rows, INPUTS, data.x);
  const widths = [INPUTS, ...hidden];
  const model = new Sequential([
    ...hidden.map((h, i) => new Dense(widths[i], h, { activation: 'relu' })),
    new Dense(widths.at(-1), CLASSES),
  ], { engine: 'js', seed: 1 });
  model.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }) });
  const first = new Matrix(batchSize, INPUTS, data.x.subarray(0, batchSize * INPUTS));
  await model.fit(first, data.y.subarray(0, batchSize), { batchSize, epochs: 1 });  // warm-up: V8 tiers up

  const fitDelay = monitorEventLoopDelay({ resolution: 1 });
  fitDelay.enable();
  const t0 = performance.now();
  await model.fit(x, data.y, { batchSize, epochs: 1, shuffle: false });
  const fitSec = (performance.now() - t0) / 1000;
  fitDelay.disable();

  const input = new Matrix(PREDICT_ROWS, INPUTS, data.x.length >= PREDICT_ROWS * INPUTS
    ? data.x.subarray(0, PREDICT_ROWS * INPUTS) : Float32Array.from({ length: PREDICT_ROWS * INPUTS }, (_, i) => data.x[i % data.x.length]));
  const predictDelay = monitorEventLoopDelay({ resolution: 1 });
  predictDelay.enable();
  await model.predictAsync(input);
  predictDelay.disable();

  console.log(`${INPUTS}-${hidden.join('-')}-${CLASSES} batch ${batchSize}: fit ${rows} rows ` +
    `${(rows / fitSec).toFixed(0)} samples/s, loop p99 ${ms(fitDelay, 99).toFixed(1)} ms max ${ms(fitDelay, 'max').toFixed(1)} ms; ` +
    `predictAsync ${PREDICT_ROWS} rows loop p99 ${ms(predictDelay, 99).toFixed(1)} ms max ${ms(predictDelay, 'max').toFixed(1)} ms`);
}
