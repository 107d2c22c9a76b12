#!/usr/bin/env node
// fastmlp benchmarks: float32 gemm GFLOP/s and MLP training samples/s for the
// native and the pure-TypeScript engines, side by side in one run with
// OpenBLAS, TensorFlow.js (cpu and wasm backends) and PyTorch when this
// machine has them (see bench/README.md).
// Every case runs in its own fresh Node (or Python, or C) process and prints
// one JSON line (STYLE.md §13), so JIT, allocator and thread-pool state never
// leak from one case into the next. This script only plans, runs, tabulates
// and saves bench/results/latest.json.
//
//   node bench/run.mjs [--quick] [--only gemm|mlp] [--stat best|median]
//                      [--js-max-size N] [--no-baselines] [--optimizer NAME]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { baselineEnv, detectBlas, detectTfjs, detectTorch } from './lib/baselines.mjs';
import { runChild } from './lib/child.mjs';
import { gemmReport, mlpReport } from './lib/report.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const CASES = path.join(BENCH, 'cases');
const RESULTS = path.join(BENCH, 'results', 'latest.json');

// The full run must stay under ~3 minutes on a 2-core machine; --quick is a
// ~20 s smoke test. minTime is the timed seconds per case (after its warm-up).
// The JS engine and the tfjs baselines train on fewer rows because they are
// much slower; samples/s does not depend on the row count once an epoch holds
// a few batches. tfjs's cpu backend takes over a second per batch, so it gets
// 4 batches per epoch and at least tfjsMinEpochs timed epochs (~20 s in all).
const PROFILES = {
  full: { sizes: [128, 256, 512, 1024], jsMaxSize: 512, gemmMinTime: 0.5,
    nativeRows: 8192, jsRows: 1024, mlpMinTime: 2, maxEpochs: 10,
    tfjsCpuRows: 512, tfjsWasmRows: 1024, tfjsMinEpochs: 2 },
  quick: { sizes: [128, 256], jsMaxSize: 256, gemmMinTime: 0.15,
    nativeRows: 2048, jsRows: 256, mlpMinTime: 0.3, maxEpochs: 2,
    tfjsCpuRows: 128, tfjsWasmRows: 256, tfjsMinEpochs: 1 },
};

// The products of one training step of a 784-512 layer at batch 128.
const MLP_SHAPES = [
  { name: '128×512×784 NT (fwd X·Wᵀ)', m: 128, n: 512, k: 784, transA: false, transB: true },
  { name: '512×784×128 TN (dW=dYᵀ·X)', m: 512, n: 784, k: 128, transA: true, transB: false },
];

const USAGE = `usage: node bench/run.mjs [options]
  --quick             smaller sizes and shorter timings (a ~20 s smoke test)
  --only <groups>     run only gemm, mlp (comma-separated)
  --stat best|median  gemm statistic shown in the table (default best; both are saved)
  --js-max-size <n>   largest square gemm for the JS engine (default 512, quick 256)
  --no-baselines      skip OpenBLAS, tfjs and PyTorch even when available
  --optimizer <name>  MLP case optimizer: adam (default), sgd, adagrad, rmsprop, adamw
                      (fastmlp and PyTorch with their defaults; tfjs runs only with adam)
  --help`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      stat: { type: 'string', default: 'best' },
      'js-max-size': { type: 'string' },
      'no-baselines': { type: 'boolean', default: false },
      optimizer: { type: 'string', default: 'adam' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const groups = values.only ? values.only.split(',').map((g) => g.trim()) : ['gemm', 'mlp'];
  const bad = groups.find((g) => g !== 'gemm' && g !== 'mlp');
  if (!['sgd', 'adagrad', 'rmsprop', 'adam', 'adamw'].includes(values.optimizer)) {
    console.error(`unknown optimizer '${values.optimizer}'\n${USAGE}`);
    process.exit(2);
  }
  if (bad !== undefined || !['best', 'median'].includes(values.stat)) {
    console.error(`${bad !== undefined ? `unknown group '${bad}'` : `unknown statistic '${values.stat}'`}\n${USAGE}`);
    process.exit(2);
  }
  const profileName = values.quick ? 'quick' : 'full';
  const profile = { ...PROFILES[profileName] };
  if (values['js-max-size'] !== undefined) profile.jsMaxSize = Number(values['js-max-size']);
  return { groups, profileName, profile, stat: values.stat, baselines: !values['no-baselines'], optimizer: values.optimizer };
}

function machine(info) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: os.loadavg(),
    backend: info,
  };
}

/** Every case to run, in order; a case that cannot run carries { skipped } instead of a command. */
function plan({ groups, profile, optimizer }, threadSets, info, blas, tfjs, torch) {
  const cases = [];
  const node = (script, args) => ({ command: process.execPath, argv: [path.join(CASES, script), JSON.stringify(args)] });
  const nativeSkip = info.native.error ? { skipped: `native addon not loaded: ${info.native.error.split('. ')[0]}` } : {};
  const jsSkip = info.js.error ? { skipped: info.js.error } : {};

  if (groups.includes('gemm')) {
    const squares = profile.sizes.map((s) => ({ name: `${s}×${s}×${s} NN`, m: s, n: s, k: s, transA: false, transB: false }));
    for (const shape of [...squares, ...MLP_SHAPES]) {
      const base = { group: 'gemm', shape };
      const { name, ...dims } = shape;
      const args = { ...dims, minTime: profile.gemmMinTime };
      for (const threads of threadSets) {
        cases.push({ ...base, impl: 'native', threads, ...node('gemm.mjs', { ...args, engine: 'native', threads }), ...nativeSkip });
      }
      const tooBig = squares.includes(shape) && shape.m > profile.jsMaxSize
        ? { skipped: `squares above n = ${profile.jsMaxSize} take too long in JS (--js-max-size to include)` } : {};
      cases.push({ ...base, impl: 'js', threads: 1, ...node('gemm.mjs', { ...args, engine: 'js', threads: 1 }), ...jsSkip, ...tooBig });
      for (const threads of threadSets) {
        cases.push(blas.skipped ? { ...base, impl: 'blas', threads, skipped: blas.skipped }
          : { ...base, impl: 'blas', threads, command: blas.command, argv: blas.argv(args, profile.gemmMinTime), env: baselineEnv(threads) });
      }
    }
  }

  if (groups.includes('mlp')) {
    const common = { batchSize: 128, minTime: profile.mlpMinTime, maxEpochs: profile.maxEpochs, optimizer };
    for (const threads of threadSets) {
      cases.push({ group: 'mlp', impl: 'native', threads,
        ...node('mlp.mjs', { ...common, engine: 'native', threads, rows: profile.nativeRows }), ...nativeSkip });
    }
    cases.push({ group: 'mlp', impl: 'js', threads: 1,
      ...node('mlp.mjs', { ...common, engine: 'js', threads: 1, rows: profile.jsRows }), ...jsSkip });
    // tfjs in Node computes on one thread with either backend (its wasm
    // backend disables wasm threads under Node), hence a single 1T row each.
    for (const [backend, rows] of [['cpu', profile.tfjsCpuRows], ['wasm', profile.tfjsWasmRows]]) {
      const impl = `tfjs-${backend}`;
      const tfjsSkip = optimizer === 'adam' ? tfjs[backend].skipped : 'the tfjs baseline runs Adam only';
      cases.push(tfjsSkip ? { group: 'mlp', impl, threads: 1, skipped: tfjsSkip }
        : { group: 'mlp', impl, threads: 1,
          ...node('tfjs_mlp.mjs', { ...common, backend, rows, minEpochs: profile.tfjsMinEpochs }) });
    }
    for (const threads of threadSets) {
      const args = { ...common, threads, rows: profile.nativeRows };
      cases.push(torch.skipped ? { group: 'mlp', impl: 'torch', threads, skipped: torch.skipped }
        : { group: 'mlp', impl: 'torch', threads, command: torch.python,
          argv: [path.join(CASES, 'torch_mlp.py'), JSON.stringify(args)], env: baselineEnv(threads) });
    }
  }
  return cases;
}

/** Runs the cases one after another, printing progress to stderr; returns the result records. */
function execute(cases) {
  const width = String(cases.length).length;
  return cases.map((c, i) => {
    const { command, argv, env, ...record } = c;
    const what = `${c.group} ${c.impl} ${c.threads}T${c.shape ? ` ${c.shape.name}` : ''}`;
    const prefix = `[${String(i + 1).padStart(width)}/${cases.length}] ${what}`;
    if (c.skipped) {
      process.stderr.write(`${prefix}: skipped\n`);
      return record;
    }
    const t0 = Date.now();
    const out = runChild(command, argv, { cwd: ROOT, env });
    const sec = ((Date.now() - t0) / 1000).toFixed(1);
    const figure = out.error ? `error: ${out.error}`
      : c.group === 'gemm' ? `${out.gflops.toFixed(1)} GFLOP/s median, ${out.gflopsBest.toFixed(1)} best`
        : `${Math.round(out.samplesPerSec)} samples/s${out.eventLoopP99Ms === undefined ? ''
          : `, event-loop p99 ${out.eventLoopP99Ms.toFixed(1)} ms`}`;
    const threadWarning = out.threadsInUse !== undefined && out.threadsInUse !== c.threads
      ? ` — warning: ran with ${out.threadsInUse} threads` : '';
    process.stderr.write(`${prefix}: ${figure} (${sec} s)${threadWarning}\n`);
    return { ...record, ...out };
  });
}

function main() {
  const opts = options();
  const started = Date.now();
  const info = runChild(process.execPath, [path.join(CASES, 'info.mjs')], { cwd: ROOT });
  if (info.error) {
    console.error(`fastmlp could not be loaded (${info.error}).\nBuild it first: npm run build`);
    process.exit(1);
  }
  const mach = machine(info);
  const threadSets = mach.cores > 1 ? [1, mach.cores] : [1];
  const none = { skipped: 'baselines disabled (--no-baselines)' };
  const blas = opts.baselines && opts.groups.includes('gemm') ? detectBlas(CASES) : none;
  const mlpBaselines = opts.baselines && opts.groups.includes('mlp');
  const tfjs = mlpBaselines ? detectTfjs(ROOT) : { cpu: none, wasm: none };
  const torch = mlpBaselines ? detectTorch() : none;

  process.stderr.write(`fastmlp bench (${opts.profileName}) on ${mach.cpu}, ${mach.cores} threads, Node ${mach.node}\n`);
  if (mach.loadAverage[0] > 0.5) {
    process.stderr.write(`note: load average ${mach.loadAverage[0].toFixed(2)}: other work on this machine makes figures noisy\n`);
  }
  const results = execute(plan(opts, threadSets, info, blas, tfjs, torch));
  blas.cleanup?.();

  const gemm = results.filter((r) => r.group === 'gemm');
  const mlp = results.filter((r) => r.group === 'mlp');
  const nat = info.native.error ? 'native: not loaded' : `native: ${info.native.isa}, v${info.native.version}`;
  const out = [`\nfastmlp ${opts.profileName} benchmark — ${mach.cpu}, ${mach.cores} threads, ${mach.os}, Node ${mach.node}; ${nat}`];
  if (gemm.length) {
    out.push(`\nGEMM float32, GFLOP/s (${opts.stat} of timed samples; each case ≥ ${opts.profile.gemmMinTime} s after a warm-up).`,
      `fastmlp via ops.matmul; blas = ${blas.label ?? 'not available'}.`, gemmReport(gemm, threadSets, opts.stat));
  }
  if (mlp.length) {
    out.push(`\nMLP training 784-512-256-10 (ReLU), batch 128, ${opts.optimizer === 'adam' ? 'Adam' : `'${opts.optimizer}' (defaults)`}, cross-entropy, float32: samples/s`,
      '(median epoch of model.fit after one untimed warm-up epoch; loop p99 = event-loop delay during fit).',
      `Baselines: ${[tfjs.cpu, tfjs.wasm, torch].map((b) => b.label).filter(Boolean).join('; ') || 'none available'}.`,
      mlpReport(mlp));
  }
  if (mach.loadAverage[0] > 0.5) {
    out.push(`\nNote: load average ${mach.loadAverage[0].toFixed(2)} at the start: other processes were using the CPU, ` +
      'so these figures (multi-threaded ones above all) understate what an idle machine does.');
  }
  const elapsedSec = (Date.now() - started) / 1000;
  out.push(`\nTotal ${elapsedSec.toFixed(0)} s. Results: ${path.relative(process.cwd(), RESULTS)}`);
  console.log(out.join('\n'));

  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify({
    date: new Date().toISOString(),
    profile: opts.profileName,
    options: { only: opts.groups, stat: opts.stat, optimizer: opts.optimizer, ...opts.profile },
    statistics: 'gemm: gflops = median of timed samples, gflopsBest = best; mlp: samplesPerSec = median epoch',
    machine: { ...mach, loadAverageAfter: os.loadavg() },
    baselines: {
      blas: blas.label ?? blas.skipped,
      tfjsCpu: tfjs.cpu.label ?? tfjs.cpu.skipped,
      tfjsWasm: tfjs.wasm.label ?? tfjs.wasm.skipped,
      torch: torch.label ?? torch.skipped,
    },
    gemm,
    mlp,
    elapsedSec,
  }, null, 2)}\n`);
}

main();
