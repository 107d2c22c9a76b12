#!/usr/bin/env node
// The event loop while a service awaits model.save / Sequential.load of a large
// model: 784-2048-2048-10, float32, native engine, compiled with Adam and
// trained one step (23 MB of weights; 70 MB with { includeOptimizer: true }).
// Each case runs in a fresh process (STYLE.md §13): one untimed warm-up call,
// then 5 awaited calls with perf_hooks.monitorEventLoopDelay (1 ms resolution)
// enabled. Printed per case: wall time per call (median of 5), the event
// loop's p99 and max delay over the 5 calls, and the main thread's
// synchronous share of one call (until save/load returns its promise).
//
//   node bench/io-event-loop.mjs                   (after npm run build)
//   node bench/io-event-loop.mjs --dist dist-old --dist dist   compare builds,
//       cases alternated between them; a --dist is a tsc output directory
//       beside dist/ (it loads the addon from build/ under the same root)
//   node bench/io-event-loop.mjs --rounds 3       alternate each case 3 times
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { syncPart, watchCalls } from './lib/loop-watch.mjs';

const CASES = ['save', 'save-opt', 'load', 'load-opt'];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { dist: { type: 'string', multiple: true }, rounds: { type: 'string', default: '1' }, case: { type: 'string' } },
});

if (values.case === undefined) {
  const dists = values.dist ?? ['dist'];
  const rounds = Number(values.rounds);
  const only = positionals.length > 0 ? positionals : CASES;
  console.log(`784-2048-2048-10 float32, native; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'cpu'}), load ${os.loadavg()[0].toFixed(1)}`);
  console.log('build          case        ms/call   loop p99 (ms)   loop max (ms)   sync part (ms)');
  for (let r = 0; r < rounds; r++) {
    for (const c of only) {
      for (const dist of dists) {
        const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--case', c, '--dist', dist], { encoding: 'utf8' });
        if (res.status !== 0) throw new Error(`${c} (${dist}) failed: ${res.stderr}`);
        const o = JSON.parse(res.stdout.trim().split('\n').at(-1));
        console.log(`${dist.padEnd(15)}${c.padEnd(10)}${o.msPerCall.toFixed(0).padStart(9)}${o.p99ms.toFixed(1).padStart(16)}` +
          `${o.maxMs.toFixed(1).padStart(16)}${o.syncMs.toFixed(1).padStart(17)}`);
      }
    }
  }
} else {
  const lib = await import(pathToFileURL(path.join(root, values.dist[0], 'index.js')).href);
  const { Sequential, Dense, setThreads } = lib.default ?? lib;
  setThreads(1);
  const m = new Sequential([new Dense(784, 2048, { activation: 'relu' }), new Dense(2048, 2048, { activation: 'relu' }),
    new Dense(2048, 10)], { engine: 'native', seed: 1 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  const x = Array.from({ length: 32 }, (_, r) => Array.from({ length: 784 }, (_, c) => ((r * 31 + c) % 17) / 17));
  m.trainStep(x, Int32Array.from({ length: 32 }, (_, i) => i % 10));
  const includeOptimizer = values.case.endsWith('-opt');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fastmlp-bench-io-loop-'));
  const file = path.join(dir, 'm.safetensors');
  try {
    await m.save(file, { includeOptimizer });
    const call = values.case.startsWith('save')
      ? () => m.save(file, { includeOptimizer })
      : () => Sequential.load(file, { engine: 'native' }).then((loaded) => loaded.dispose());
    await call();  // warm-up
    const syncMs = await syncPart(call);
    const watched = await watchCalls(call);
    console.log(JSON.stringify({ case: values.case, ...watched, syncMs }));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
