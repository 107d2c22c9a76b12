#!/usr/bin/env node
// Model-file and ONNX timings for the benchmark network (784-512-256-10, float32,
// Adam state included), beside a baseline: plain fs.writeFile/readFile of the
// same number of bytes (the I/O floor; ours adds the checksum, fsync, rename,
// validation and model construction). One process, median of N runs.
// Build first (`npm run build`); run: node bench/io.mjs [--runs N]
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Dense, Sequential, io } from 'fastmlp';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);

async function median(fn) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fastmlp-bench-io-'));
const rows = [];
try {
  const model = new Sequential([new Dense(784, 512, { activation: 'relu' }), new Dense(512, 256, { activation: 'relu' }),
    new Dense(256, 10)], { engine: 'native', seed: 1 });
  model.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  const x = Array.from({ length: 128 }, (_, r) => Array.from({ length: 784 }, (_, c) => ((r * 31 + c) % 17) / 17));
  model.trainStep(x, Int32Array.from({ length: 128 }, (_, i) => i % 10));
  const file = path.join(dir, 'm.safetensors');
  const raw = path.join(dir, 'raw.bin');
  const buf = model.toBuffer({ includeOptimizer: true });
  const mb = buf.length / 1e6;

  rows.push(['toBuffer (includeOptimizer)', await median(() => model.toBuffer({ includeOptimizer: true }))]);
  rows.push(['fromBuffer', await median(() => Sequential.fromBuffer(buf))]);
  rows.push(['save (atomic, fsync)', await median(() => model.save(file, { includeOptimizer: true }))]);
  rows.push(['baseline: fs.writeFile same bytes', await median(() => fs.writeFile(raw, buf))]);
  rows.push(['load', await median(() => Sequential.load(file))]);
  rows.push(['baseline: fs.readFile same bytes', await median(() => fs.readFile(raw))]);
  rows.push(['toJSON + JSON.stringify', await median(() => JSON.stringify(model.toJSON({ includeOptimizer: true })))]);
  const text = JSON.stringify(model.toJSON({ includeOptimizer: true }));
  rows.push(['JSON.parse + fromJSON', await median(() => Sequential.fromJSON(JSON.parse(text)))]);
  rows.push(['io.exportOnnxBuffer', await median(() => io.exportOnnxBuffer(model))]);

  console.log(`784-512-256-10 float32, ${model.paramCount} parameters + Adam state: file ${mb.toFixed(2)} MB, ` +
    `JSON ${(text.length / 1e6).toFixed(2)} MB; median of ${runs} runs, ${os.cpus()[0]?.model ?? 'cpu'}`);
  for (const [name, ms] of rows) console.log(`${name.padEnd(36)} ${ms.toFixed(2).padStart(8)} ms`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
