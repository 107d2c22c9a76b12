#!/usr/bin/env node
// How long a service's event loop is held while it loads a large model and
// starts training it: each synchronous part timed, each asynchronous one
// watched with perf_hooks.monitorEventLoopDelay (1 ms resolution; its max is
// the longest turn the call held the loop for, to within a millisecond).
//
// Per engine (native, js) and net — 784-2048-2048-10 (5.8 M parameters) and
// 784-3072-3072-10 (11.9 M, ~2×), float32, 1 thread — in a fresh process
// (STYLE.md §13), the first round (what a service that loads once sees,
// JIT warm-up included; the model files are written by another process) and
// the median of 3 more rounds (memory the process freed may be reused) of:
//   new          new Sequential(layers) (sync: all of it blocks; draws the initial weights)
//   create max   await Sequential.create(layers): the event loop's longest delay (the same
//                model, drawn in steps; NaN for a build without it)
//   plan         the engine's createPlan for the layers, batch 32 (sync): what
//                a load allocates before the weights go in (lib/ internals)
//   fromBuffer   Sequential.fromBuffer of a file with the Adam state (sync: all of it blocks)
//   load max     await Sequential.load of that file: the event loop's longest delay
//   compile      the first compile({ optimizer: 'adam' }) of a model loaded without one (sync)
//   fit max      the first await fit (one batch of 32 rows) after that compile: longest delay
//                (the call's synchronous part included: predict's snapshot of the weights)
//   trainStep    the first trainStep after a first compile (sync: all of it blocks)
//
//   node bench/load-latency.mjs                      (after npm run build)
//   node bench/load-latency.mjs --root /tmp/old --root .   compare two built trees
//       (each with dist/ and build/Release), cases alternated between them
//   node bench/load-latency.mjs --rounds 2 --engine native
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const NETS = { '784-2048-2048-10': [784, 2048, 2048, 10], '784-3072-3072-10': [784, 3072, 3072, 10] };
const FIELDS = ['newMs', 'createMaxMs', 'planMs', 'fromBufferMs', 'loadMaxMs', 'compileMs', 'fitMaxMs', 'trainStepMs'];
const here = fileURLToPath(import.meta.url);
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true }, rounds: { type: 'string', default: '1' },
    engine: { type: 'string', multiple: true }, net: { type: 'string', multiple: true },
    child: { type: 'string' }, dir: { type: 'string' },
  },
});

/** The library of a built tree (dist/ and build/Release under root), one thread. */
async function library(root) {
  const at = (file) => pathToFileURL(path.join(path.resolve(root), 'dist', file)).href;
  const lib = await import(at('index.js'));
  const { getEngine } = await import(at('backend.js'));
  const { layoutParams } = await import(at('param-layout.js'));
  (lib.default ?? lib).setThreads(1);
  return { ...(lib.default ?? lib), getEngine, layoutParams };
}

const layersOf = (Dense, widths) => widths.slice(1).map((out, i) =>
  new Dense(widths[i], out, i < widths.length - 2 ? { activation: 'relu' } : {}));
const x = Array.from({ length: 32 }, (_, r) => Array.from({ length: 784 }, (_, c) => ((r * 31 + c) % 17) / 17));
const y = Int32Array.from({ length: 32 }, (_, i) => i % 10);
const compileOpts = { loss: 'cross-entropy', optimizer: 'adam' };
const files = (dir, net) => ({ weights: path.join(dir, `${net}-weights.safetensors`), trained: path.join(dir, `${net}-trained.safetensors`) });

if (values.child === undefined) {
  const roots = values.root ?? [path.resolve(path.dirname(here), '..')];
  const engines = values.engine ?? ['native', 'js'];
  const nets = values.net ?? Object.keys(NETS);
  const run = (args) => {
    const res = spawnSync(process.execPath, [here, ...args], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`${args.join(' ')} failed: ${res.stderr}`);
    return res.stdout;
  };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fastmlp-bench-load-latency-'));
  try {
    for (const net of nets) run(['--child', 'files', '--root', roots[0], '--net', net, '--dir', dir]);
    console.log(`float32, 1 thread; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'cpu'}), load ${os.loadavg()[0].toFixed(1)}`);
    console.log('| build | engine | net | round | new (ms) | create: loop max (ms) | plan (ms) | fromBuffer (ms) | load: loop max (ms) | compile (ms) | first fit: loop max (ms) | first trainStep (ms) |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const engine of engines) {
        for (const net of nets) {
          for (const root of roots) {
            const out = run(['--child', 'measure', '--root', root, '--engine', engine, '--net', net, '--dir', dir]);
            const o = JSON.parse(out.trim().split('\n').at(-1));
            for (const which of ['first', 'later']) {
              console.log(`| ${root} | ${engine} | ${net} | ${which} | ${FIELDS.map((f) => o[which][f].toFixed(1)).join(' | ')} |`);
            }
          }
        }
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
} else if (values.child === 'files') {
  // The architecture and weights (no compile settings), and a file with the Adam state after one step.
  const { Sequential, Dense } = await library(values.root[0]);
  const f = files(values.dir, values.net[0]);
  const source = new Sequential(layersOf(Dense, NETS[values.net[0]]), { engine: 'native', seed: 1 });
  await source.save(f.weights);
  source.compile(compileOpts);
  source.trainStep(x, y);
  await source.save(f.trained, { includeOptimizer: true });
} else {
  const { Sequential, Dense, getEngine, layoutParams } = await library(values.root[0]);
  const engine = values.engine[0];
  const f = files(values.dir, values.net[0]);
  const trained = await fs.readFile(f.trained);
  const { specs } = layoutParams(layersOf(Dense, NETS[values.net[0]]), 784);
  /** Milliseconds of a synchronous call, and its result. */
  const timed = (fn) => { const t0 = performance.now(); const v = fn(); return [performance.now() - t0, v]; };
  /** The event loop's longest delay (ms) while an async call runs, its synchronous part included, and its result. */
  const watched = async (fn) => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    // The histogram records the gap between two of its timer's ticks: without
    // a first tick before the call, the call's synchronous part is not seen.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const v = await fn();
    // A turn that ends the call (its last step, then the promise settles) is
    // only sampled when the histogram's timer next fires: let it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    h.disable();
    return [h.max / 1e6, v];
  };
  const round = async () => {
    const layers = () => layersOf(Dense, NETS[values.net[0]]);
    const [newMs, model] = timed(() => new Sequential(layers(), { engine, seed: 1 }));
    model.dispose();
    let createMaxMs = NaN;
    if (Sequential.create) {
      const [ms, created] = await watched(() => Sequential.create(layers(), { engine, seed: 1 }));
      created.dispose();
      createMaxMs = ms;
    }
    const [planMs, plan] = timed(() => getEngine(engine).createPlan({ dtype: 'float32', layers: specs, maxBatch: 32 }));
    plan.dispose();
    const [fromBufferMs, a] = timed(() => Sequential.fromBuffer(trained, { engine }));
    a.dispose();
    const [loadMaxMs, b] = await watched(() => Sequential.load(f.trained, { engine }));
    b.dispose();
    const c = await Sequential.load(f.weights, { engine });
    const [compileMs] = timed(() => c.compile(compileOpts));
    const [fitMaxMs] = await watched(() => c.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false }));
    c.dispose();
    const d = await Sequential.load(f.weights, { engine });
    d.compile(compileOpts);
    const [trainStepMs] = timed(() => d.trainStep(x, y));
    d.dispose();
    return { newMs, createMaxMs, planMs, fromBufferMs, loadMaxMs, compileMs, fitMaxMs, trainStepMs };
  };
  const first = await round();
  const rounds = [];
  for (let i = 0; i < 3; i++) rounds.push(await round());
  const later = {};
  for (const k of FIELDS) later[k] = median(rounds.map((r) => r[k]));
  console.log(JSON.stringify({ first, later }));
}
