#!/usr/bin/env node
// The event loop during a fit driven batch by batch from TypeScript — an acting
// batch hook (a one-cycle schedule stepping every batch), or a custom loss (mean
// squared error against one-hot targets, written in TypeScript) — beside the
// same fit without either (the engine's one-call epoch), in each engine: the issue's
// two nets (784-512-256-10 at batch 128, 784-2048-2048-10 at batch 256, ReLU,
// cross-entropy, Adam lr 1e-3, float32; data from bench/cases/data.mjs). Per
// engine, net and variant, in a fresh process: an untimed warm-up fit, then
// `await model.fit` with perf_hooks.monitorEventLoopDelay (1 ms resolution):
// rows / wall seconds, and the delay's p99 and max.
//   node bench/fit-acting-loop.mjs [--dist DIR] [--runs N] [--engine native|js]   (after npm run build)
// --dist: another build's dist/ (an older commit built in a scratch directory),
// to compare before and after. Not under `chrt -f`: its FIFO threads starve
// V8's helper threads, which shows as event-loop delay that is not ours.
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLASSES, INPUTS, trainingData } from './cases/data.mjs';

// Rows per engine: a few seconds of training each.
const NETS = {
  small: { hidden: [512, 256], batchSize: 128, batches: { native: 60, js: 10 } },
  large: { hidden: [2048, 2048], batchSize: 256, batches: { native: 20, js: 3 } },
};
const VARIANTS = ['no hook', 'one-cycle', 'ts loss'];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '1' }, dist: { type: 'string' }, engine: { type: 'string' } },
});
const runs = Number(values.runs);
const dist = resolve(values.dist ?? fileURLToPath(new URL('../dist', import.meta.url)));

if (positionals.length === 0) {
  console.log(`Event loop during fit, with and without an acting batch hook; dist ${dist}; ${runs} run(s) each`);
  for (const engine of values.engine ? [values.engine] : ['native', 'js']) {
    for (const net of Object.keys(NETS)) {
      for (let run = 0; run < runs; run++) {
        for (const variant of VARIANTS) {
          const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), engine, net, variant, '--dist', dist],
            { encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`${engine} ${net} ${variant} failed: ${r.stderr}`);
          console.log(r.stdout.trim());
        }
      }
    }
  }
} else {
  const [engine, net, variant] = positionals;
  const { Sequential, Dense, Matrix, optim, schedules } = await import(pathToFileURL(resolve(dist, 'index.js')).href);
  const { hidden, batchSize } = NETS[net];
  const data = trainingData(batchSize * NETS[net].batches[engine]);
  const rows = data.rows;  // MNIST, when installed, holds fewer rows than asked for the small native net
  const x = new Matrix(rows, INPUTS, data.x);
  const widths = [INPUTS, ...hidden];
  const model = new Sequential([
    ...hidden.map((h, i) => new Dense(widths[i], h, { activation: 'relu' })),
    new Dense(widths.at(-1), CLASSES),
  ], { engine, seed: 1 });
  const optimizer = new optim.Adam({ lr: 1e-3 });
  model.compile({ loss: variant === 'ts loss' ? meanSquaredError(Matrix) : 'cross-entropy', optimizer });
  const y = variant === 'ts loss' ? oneHot(Matrix, data.y, rows) : data.y;
  const callbacks = () => (variant === 'one-cycle' ? [schedules.oneCycle({ maxLr: 1e-3, totalSteps: 10_000 }, optimizer)] : []);
  const first = new Matrix(batchSize, INPUTS, data.x.subarray(0, batchSize * INPUTS));
  await model.fit(first, variant === 'ts loss' ? oneHot(Matrix, data.y, batchSize) : data.y.subarray(0, batchSize), { batchSize, epochs: 1, callbacks: callbacks() });  // warm-up

  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  await model.fit(x, y, { batchSize, epochs: 1, shuffle: false, callbacks: callbacks() });
  const seconds = (performance.now() - t0) / 1000;
  delay.disable();
  const ms = (v) => (v / 1e6).toFixed(1);
  console.log(`${engine.padEnd(6)} ${INPUTS}-${hidden.join('-')}-${CLASSES} b${batchSize} ${variant.padEnd(9)}: ` +
    `${(rows / seconds).toFixed(0).padStart(6)} samples/s, loop p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms`);
}

/** The first `rows` class indices as one-hot rows. */
function oneHot(Matrix, labels, rows) {
  const data = new Float32Array(rows * CLASSES);
  for (let i = 0; i < rows; i++) data[i * CLASSES + labels[i]] = 1;
  return new Matrix(rows, CLASSES, data);
}

/** Mean squared error as a custom loss (forward and backward in TypeScript). */
function meanSquaredError(Matrix) {
  return {
    forward(pred, target) {
      let sum = 0;
      for (let i = 0; i < pred.data.length; i++) sum += (pred.data[i] - target.data[i]) ** 2;
      return sum / pred.data.length;
    },
    backward(pred, target) {
      const g = new Float32Array(pred.data.length);
      for (let i = 0; i < g.length; i++) g[i] = (2 * (pred.data[i] - target.data[i])) / g.length;
      return new Matrix(pred.rows, pred.cols, g);
    },
  };
}
