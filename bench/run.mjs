#!/usr/bin/env node
// fastmlp benchmarks: float32 gemm GFLOP/s and MLP and CNN training samples/s
// for the native and the pure-TypeScript engines, side by side in one run with
// OpenBLAS, TensorFlow.js (cpu and wasm backends) and PyTorch when this
// machine has them (see bench/README.md).
// Every case runs in its own fresh Node (or Python, or C) process and prints
// one JSON line (STYLE.md §13), so JIT, allocator and thread-pool state never
// leak from one case into the next. This script only plans, runs, tabulates
// and saves bench/results/latest.json.
//
//   node bench/run.mjs [--quick] [--only gemm|mlp|cnn|soak] [--stat best|median] [--rounds N]
//                      [--js-max-size N] [--no-baselines] [--optimizer NAME]
import * as fs from 'node:fs';
import { saveTrainingData } from './cases/data.mjs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { baselineEnv, detectBlas, detectTfjs, detectTorch, openblasCoreNote } from './lib/baselines.mjs';
import { runChild } from './lib/child.mjs';
import { CNN, planCnn } from './lib/cnn-plan.mjs';
import { trainingChart } from './lib/chart.mjs';
import { mergeRepeats } from './lib/merge-repeats.mjs';
import { CNN_LEFT_OUT, gemmReport, trainingReport } from './lib/report.mjs';

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
// mlpRepeats: how many times each native and PyTorch training case runs (MLP
// and CNN); the runs alternate between the two (see plan()) and the median
// run is reported.
const PROFILES = {
  full: { sizes: [128, 256, 512, 1024], jsMaxSize: 512, gemmMinTime: 0.5, mlpMinTime: 2, cnnMinTime: 2, maxEpochs: 10,
    tfjsMinEpochs: 2, soakSteps: 20000, mlpRepeats: 3 },
  quick: { sizes: [128, 256], jsMaxSize: 256, gemmMinTime: 0.15, mlpMinTime: 0.3, cnnMinTime: 0.3, maxEpochs: 2,
    tfjsMinEpochs: 1, soakSteps: 2000, mlpRepeats: 1 },
};

const GROUPS = ['gemm', 'mlp', 'cnn', 'soak'];

// The two networks of the training benchmark (issue: 784-512-256-10 at batch
// 128 and 784-2048-2048-10 at batch 256, Adam, float32) and the rows each
// implementation trains on per epoch, by profile: slower ones get fewer rows,
// since samples/s does not depend on the row count once an epoch holds a few
// batches. The large net costs ~11× the small one per sample.
const NETS = [
  { name: '784-512-256-10', hidden: [512, 256], batchSize: 128,
    rows: { full: { native: 8192, js: 1024, torch: 8192, 'tfjs-cpu': 512, 'tfjs-wasm': 1024, brain: 256 },
      quick: { native: 2048, js: 256, torch: 2048, 'tfjs-cpu': 128, 'tfjs-wasm': 256, brain: 64 } } },
  { name: '784-2048-2048-10', hidden: [2048, 2048], batchSize: 256,
    rows: { full: { native: 2048, js: 256, torch: 2048, 'tfjs-cpu': 256, 'tfjs-wasm': 512, brain: 64 },
      quick: { native: 512, js: 256, torch: 512, 'tfjs-cpu': 256, 'tfjs-wasm': 256, brain: 16 } } },
];

// The products of one training step of a 784-512 layer at batch 128.
const MLP_SHAPES = [
  { name: '128×512×784 NT (fwd X·Wᵀ)', m: 128, n: 512, k: 784, transA: false, transB: true },
  { name: '512×784×128 TN (dW=dYᵀ·X)', m: 512, n: 784, k: 128, transA: true, transB: false },
];

const USAGE = `usage: node bench/run.mjs [options]
  --quick             smaller sizes and shorter timings (a ~20 s smoke test)
  --only <groups>     run only gemm, mlp, cnn, soak (comma-separated)
  --stat best|median  gemm statistic shown in the table (default best; both are saved)
  --js-max-size <n>   largest square gemm for the JS engine (default 512, quick 256)
  --no-baselines      skip OpenBLAS, tfjs and PyTorch even when available
  --rounds <n>        native/PyTorch MLP and CNN rounds (default 3, quick 1); more rounds narrow
                      the spread of the ratio on a noisy machine
  --soak-steps <n>    optimizer steps of the steady-state case (default 20000, quick 2000;
                      DESIGN.md's figure is 100000)
  --soak-engines <e>  engines of the steady-state case: native (default), js or native,js
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
      rounds: { type: 'string' },
      'soak-steps': { type: 'string' },
      'soak-engines': { type: 'string', default: 'native' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const groups = values.only ? values.only.split(',').map((g) => g.trim()) : GROUPS;
  const bad = groups.find((g) => !GROUPS.includes(g));
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
  if (values.rounds !== undefined) {
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
      console.error(`expected an integer 1..20 for --rounds but received '${values.rounds}'\n${USAGE}`);
      process.exit(2);
    }
    profile.mlpRepeats = rounds;
  }
  if (values['soak-steps'] !== undefined) {
    const steps = Number(values['soak-steps']);
    if (!Number.isInteger(steps) || steps < 100 || steps > 10_000_000) {
      console.error(`expected an integer 100..10000000 for --soak-steps but received '${values['soak-steps']}'\n${USAGE}`);
      process.exit(2);
    }
    profile.soakSteps = steps;
  }
  profile.soakEngines = values['soak-engines'].split(',').map((e) => e.trim());
  if (profile.soakEngines.length === 0 || profile.soakEngines.some((e) => !['native', 'js'].includes(e))) {
    console.error(`expected native, js or native,js for --soak-engines but received '${values['soak-engines']}'\n${USAGE}`);
    process.exit(2);
  }
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
function plan({ groups, profile, profileName, optimizer }, threadSets, info, blas, tfjs, torch, torchCnn) {
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
    for (const net of NETS) {
      const rows = net.rows[profileName];
      const common = { hidden: net.hidden, batchSize: net.batchSize, minTime: profile.mlpMinTime,
        maxEpochs: profile.maxEpochs, optimizer };
      const mlp = { group: 'mlp', net: net.name };
      const adamOnly = optimizer === 'adam' ? null : 'this baseline runs Adam only';
      // The native engine against PyTorch is the comparison that decides a
      // target, and this machine's speed drifts by ±5 % over minutes: their
      // cases run back to back, mlpRepeats rounds of them, and each reports
      // its median run (mergeRepeats), so a slow spell hits both sides.
      const paired = [];
      for (const threads of threadSets) {
        paired.push({ ...mlp, impl: 'native', threads,
          ...node('mlp.mjs', { ...common, engine: 'native', threads, rows: rows.native }), ...nativeSkip });
      }
      for (const threads of threadSets) {
        const args = { ...common, threads, rows: rows.torch };
        const torchCase = (variant, argv, env) => (torch.skipped ? { ...mlp, impl: 'torch', threads, variant, skipped: torch.skipped }
          : { ...mlp, impl: 'torch', threads, variant, command: torch.python,
            argv: [path.join(CASES, 'torch_mlp.py'), JSON.stringify(argv)], env });
        paired.push(torchCase(undefined, args, baselineEnv(threads)));
        // PyTorch's own OpenMP threads each call a multi-threaded OpenBLAS, so
        // at 2 threads on 2 cores the two oversubscribe the cores (measured
        // on 784-2048-2048-10: 2,400–3,100 samples/s, against 3,350–3,730
        // with one torch thread over a 2-thread OpenBLAS). That setting runs
        // too and, being faster, is the one native is compared with.
        if (threads > 1) paired.push(torchCase('blas-threads', { ...args, opThreads: 1 }, { ...baselineEnv(threads), OMP_NUM_THREADS: '1' }));
      }
      for (let round = 0; round < profile.mlpRepeats; round++) cases.push(...paired);
      cases.push({ ...mlp, impl: 'js', threads: 1,
        ...node('mlp.mjs', { ...common, engine: 'js', threads: 1, rows: rows.js }), ...jsSkip });
      // tfjs in Node computes on one thread with either backend (its wasm
      // backend disables wasm threads under Node), hence a single 1T row each.
      for (const backend of ['cpu', 'wasm']) {
        const impl = `tfjs-${backend}`;
        const skipped = adamOnly ?? tfjs[backend].skipped;
        cases.push(skipped ? { ...mlp, impl, threads: 1, skipped }
          : { ...mlp, impl, threads: 1,
            ...node('tfjs_mlp.mjs', { ...common, backend, rows: rows[impl], minEpochs: profile.tfjsMinEpochs }) });
      }
      cases.push(adamOnly ? { ...mlp, impl: 'brain.js', threads: 1, skipped: adamOnly } : { ...mlp, impl: 'brain.js', threads: 1,
        ...node('brain_mlp.mjs', { ...common, rows: rows.brain, minEpochs: 1 }) });
    }
  }
  if (groups.includes('cnn')) {
    cases.push(...planCnn({ profile, profileName, threadSets, casesDir: CASES, node, nativeSkip, jsSkip, tfjs, torch: torchCnn }));
  }
  if (groups.includes('soak')) {
    for (const engine of profile.soakEngines) {
      // A long soak outlasts the children's default 5 minutes: ~30 JS steps/s and ~1,000 native ones at batch 32.
      const timeoutSec = Math.max(300, Math.ceil(profile.soakSteps * (engine === 'js' ? 0.06 : 0.005)));
      const soak = { group: 'soak', impl: engine, timeoutSec, ...node('soak.mjs', { engine, steps: profile.soakSteps }) };
      cases.push(engine === 'native' ? { ...soak, threads: threadSets.at(-1), ...nativeSkip } : { ...soak, threads: 1 });
    }
  }
  return cases;
}

/** Runs the cases one after another, printing progress to stderr; returns the result records. */
function execute(cases) {
  const width = String(cases.length).length;
  return cases.map((c, i) => {
    const { command, argv, env, timeoutSec, ...record } = c;
    const what = `${c.group} ${c.impl}${c.variant ? ` (${c.variant})` : ''} ${c.threads}T${c.shape ? ` ${c.shape.name}` : ''}${c.net ? ` ${c.net}` : ''}`;
    const prefix = `[${String(i + 1).padStart(width)}/${cases.length}] ${what}`;
    if (c.skipped) {
      process.stderr.write(`${prefix}: skipped\n`);
      return record;
    }
    const t0 = Date.now();
    const out = runChild(command, argv, { cwd: ROOT, env, timeoutSec });
    const sec = ((Date.now() - t0) / 1000).toFixed(1);
    const figure = out.error ? `error: ${out.error}` : out.skipped ? `skipped: ${out.skipped}`
      : c.group === 'gemm' ? `${out.gflops.toFixed(1)} GFLOP/s median, ${out.gflopsBest.toFixed(1)} best`
        : c.group === 'soak' ? `RSS ${(out.growthBytes / 2 ** 20).toFixed(2)} MB growth over ${out.steps} steps`
        : `${Math.round(out.samplesPerSec)} samples/s${out.eventLoopP99Ms === undefined ? ''
          : `, event-loop p99 ${out.eventLoopP99Ms.toFixed(1)} ms`}`;
    const threadWarning = out.threadsInUse !== undefined && out.threadsInUse !== c.threads
      ? ` — warning: ran with ${out.threadsInUse} threads` : '';
    process.stderr.write(`${prefix}: ${figure} (${sec} s)${threadWarning}\n`);
    return { ...record, ...out };
  });
}

/**
 * The PyTorch detection result with the CNN case's data beside it: data.mjs's
 * rows (as many as PyTorch's case trains on) written to a temporary file, its
 * dataset name, and cleanup() to remove it.
 */
function torchCnnData(torch, profileName) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmlp-bench-cnn-'));
  const dataFile = path.join(dir, 'train.bin');
  const { source } = saveTrainingData(CNN.rows[profileName].torch, dataFile);
  return { ...torch, dataFile, dataset: source, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
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
  const mlpBaselines = opts.baselines && (opts.groups.includes('mlp') || opts.groups.includes('cnn'));
  const tfjs = mlpBaselines ? detectTfjs(ROOT) : { cpu: none, wasm: none };
  const torch = mlpBaselines ? detectTorch() : none;
  // PyTorch's CNN case trains on data.mjs's rows too (MNIST when installed), through a file.
  const torchCnn = opts.groups.includes('cnn') && !torch.skipped ? torchCnnData(torch, opts.profileName) : torch;

  process.stderr.write(`fastmlp bench (${opts.profileName}) on ${mach.cpu}, ${mach.cores} threads, Node ${mach.node}\n`);
  if (mach.loadAverage[0] > 0.5) {
    process.stderr.write(`note: load average ${mach.loadAverage[0].toFixed(2)}: other work on this machine makes figures noisy\n`);
  }
  const results = mergeRepeats(execute(plan(opts, threadSets, info, blas, tfjs, torch, torchCnn)));
  blas.cleanup?.();
  torchCnn.cleanup?.();

  const gemm = results.filter((r) => r.group === 'gemm');
  const mlp = results.filter((r) => r.group === 'mlp');
  const cnn = results.filter((r) => r.group === 'cnn');
  const soak = results.filter((r) => r.group === 'soak');
  const nat = info.native.error ? 'native: not loaded' : `native: ${info.native.isa}, v${info.native.version}`;
  const out = [`\nfastmlp ${opts.profileName} benchmark — ${mach.cpu}, ${mach.cores} threads, ${mach.os}, Node ${mach.node}; ${nat}`];
  const blasNote = openblasCoreNote();
  const trainingBaselines = `Baselines: ${[tfjs.cpu, tfjs.wasm, torch].map((b) => b.label).filter(Boolean).join('; ') || 'none available'}.` +
    (blasNote && !torch.skipped ? `\n${blasNote}` : '');
  if (gemm.length) {
    out.push(`\nGEMM float32, GFLOP/s (${opts.stat} of timed samples; each case ≥ ${opts.profile.gemmMinTime} s after a warm-up).`,
      `fastmlp via ops.matmul; blas = ${blas.label ?? 'not available'}.${blasNote && !blas.skipped ? ` ${blasNote}` : ''}`, gemmReport(gemm, threadSets, opts.stat));
  }
  const optimizerLabel = opts.optimizer === 'adam' ? 'Adam' : `'${opts.optimizer}' (defaults)`;
  for (const net of NETS) {
    const rows = mlp.filter((r) => r.net === net.name);
    if (rows.length === 0) continue;
    out.push(`\nMLP training ${net.name} (ReLU), batch ${net.batchSize}, ${optimizerLabel}, cross-entropy, float32: samples/s`,
      '(median epoch of fit after one untimed warm-up epoch; loop p99 = event-loop delay during fit; brain.js trains per sample;',
      `native and torch: the median of ${opts.profile.mlpRepeats} run${opts.profile.mlpRepeats > 1 ? 's, alternating between them' : ''}).`,
      trainingBaselines,
      trainingReport(rows));
  }
  const cnnLines = cnn.length === 0 ? [] : [
    `\nCNN training ${CNN.name}, batch ${CNN.batchSize}, Adam, cross-entropy, float32: samples/s`,
    '(Conv2d(1→32, 3, relu) → MaxPool2d(2) → Conv2d(32→64, 3, relu) → MaxPool2d(2) → Dense(1600→128, relu) → Dense(128→10);',
    'median epoch of fit after one untimed warm-up epoch; loop p99 = event-loop delay during fit;',
    `native and torch: the median of ${opts.profile.mlpRepeats} run${opts.profile.mlpRepeats > 1 ? 's, alternating between them' : ''}).`,
    trainingBaselines,
    trainingReport(cnn), CNN_LEFT_OUT,
    `Load average (1, 5, 15 min): ${loadText(mach.loadAverage)} at the start of the run, ${loadText(os.loadavg())} at the end.`,
  ];
  const cnnStart = out.length;
  out.push(...cnnLines);
  const soakLines = soak.map((r) =>`\nSteady state, ${r.impl} engine: ${r.error ?? `${r.steps} optimizer steps in one await fit (${r.net}, batch ${r.batchSize}), ` +
      `RSS growth ${(r.growthBytes / 2 ** 20).toFixed(2)} MB after a warm-up (target < 8 MB); RSS at each tenth of the run: ` +
      `${r.rssMB.join(', ')} MB`}.`);
  out.push(...soakLines);
  if (mlp.length) {
    const svg = path.join(path.dirname(RESULTS), 'training.svg');
    fs.mkdirSync(path.dirname(svg), { recursive: true });
    fs.writeFileSync(svg, trainingChart(mlp, NETS.map((n) => n.name)));
    out.push(`\nChart: ${path.relative(process.cwd(), svg)}`);
  }
  if (mach.loadAverage[0] > 0.5) {
    out.push(`\nNote: load average ${mach.loadAverage[0].toFixed(2)} at the start: other processes were using the CPU, ` +
      'so these figures (multi-threaded ones above all) understate what an idle machine does.');
  }
  const elapsedSec = (Date.now() - started) / 1000;
  out.push(`\nTotal ${elapsedSec.toFixed(0)} s. Results: ${path.relative(process.cwd(), RESULTS)}`);
  console.log(out.join('\n'));
  // The training table as a file too (issue 5: bench/results/ and the README), and the
  // steady-state figures in their own, so a long soak run alone leaves the table as it was.
  const day = new Date().toISOString().slice(0, 10);
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  if (mlp.length) {
    fs.writeFileSync(path.join(path.dirname(RESULTS), 'training.md'),
      `# fastmlp training benchmark, ${day}\n\n\`\`\`\n${out.filter((l, i) => i < cnnStart || i >= cnnStart + cnnLines.length).join('\n').trim()}\n\`\`\`\n`);
  }
  if (cnn.length) {
    fs.writeFileSync(path.join(path.dirname(RESULTS), 'cnn.md'),
      `# fastmlp CNN training benchmark, ${day}\n\n\`\`\`\n${[out[0], ...cnnLines].join('\n').trim()}\n\`\`\`\n`);
  }
  if (soak.length) {
    fs.writeFileSync(path.join(path.dirname(RESULTS), 'soak.md'),
      `# fastmlp steady-state memory, ${day}\n\n\`\`\`\n${[out[0], ...soakLines].join('\n').trim()}\n\`\`\`\n`);
  }

  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify({
    date: new Date().toISOString(),
    profile: opts.profileName,
    options: { only: opts.groups, stat: opts.stat, optimizer: opts.optimizer, ...opts.profile },
    statistics: 'gemm: gflops = median of timed samples, gflopsBest = best; mlp and cnn: samplesPerSec = median epoch ' +
      '(native and torch: of the median of mlpRepeats runs, each run\'s figure in runs)',
    machine: { ...mach, loadAverageAfter: os.loadavg() },
    baselines: {
      blas: blas.label ?? blas.skipped,
      tfjsCpu: tfjs.cpu.label ?? tfjs.cpu.skipped,
      tfjsWasm: tfjs.wasm.label ?? tfjs.wasm.skipped,
      torch: torch.label ?? torch.skipped,
    },
    gemm,
    mlp,
    cnn,
    soak,
    elapsedSec,
  }, null, 2)}\n`);
}

const loadText = (load) => load.map((l) => l.toFixed(2)).join(', ');

main();
