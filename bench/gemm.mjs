#!/usr/bin/env node
// npm run bench:gemm — float32 gemm GFLOP/s of fastmlp (through the public
// ops.matmul, native engine) beside OpenBLAS's cblas_sgemm, in one run.
//
// Other work on the machine (builds, other benchmarks) slows whatever runs at
// that moment, so the two are timed in alternation: two long-lived servers
// (bench/cases/gemm_serve.mjs and cblas_gemm --serve) each time one product on
// request, and every shape gets `rounds` rounds of fastmlp-then-OpenBLAS (the
// order flips each round). Each side's figure is its best sample over all
// rounds; medians are saved too. After every request the driver pauses, so
// OpenBLAS's worker threads, which spin for a while after a call, are idle
// again before fastmlp is timed (and the other way round).
//
// OpenBLAS is a baseline only, never a dependency of fastmlp: when its headers
// are missing and this runs as root on a Debian/Ubuntu machine, the script
// installs libopenblas-dev with apt-get; otherwise the baseline is skipped.
//
//   node bench/gemm.mjs [--quick] [--rounds N] [--threads 1,2] [--min-time S]
// Writes bench/results/gemm.json and bench/results/gemm.md (the table the
// README quotes).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { baselineEnv, detectBlas, openblasCoreNote } from './lib/baselines.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const CASES = path.join(BENCH, 'cases');
const RESULTS = path.join(BENCH, 'results');
const PAUSE_MS = 250;

const USAGE = `usage: node bench/gemm.mjs [options]
  --quick          fewer shapes, 2 rounds (a ~30 s smoke test)
  --rounds <n>     alternating rounds per shape (default 3)
  --threads <list> thread counts, comma-separated (default 1 and the core count)
  --min-time <s>   timed seconds per request (default 0.15)
  --help`;

/** Square sizes, and the three products of a Dense layer's training step at several batch sizes. */
function shapes(quick) {
  const out = [];
  for (const s of quick ? [64, 256, 1024] : [64, 128, 256, 512, 1024, 2048]) {
    out.push({ name: `${s}³ NN`, kind: 'square', m: s, n: s, k: s, transA: false, transB: false });
  }
  const layers = quick ? [[784, 512]] : [[784, 512], [256, 256], [1024, 1024], [4096, 4096]];
  for (const batch of quick ? [128] : [32, 128, 256]) {
    for (const [inp, outp] of layers) {
      const layer = `${inp}→${outp} b${batch}`;
      // Z = X·Wᵀ (fwd), dW = dZᵀ·X, dX = dZ·W: SPEC.md §1.
      out.push({ name: `${layer} fwd`, kind: 'mlp', m: batch, n: outp, k: inp, transA: false, transB: true });
      out.push({ name: `${layer} dW`, kind: 'mlp', m: outp, n: inp, k: batch, transA: true, transB: false });
      out.push({ name: `${layer} dX`, kind: 'mlp', m: batch, n: inp, k: outp, transA: false, transB: false });
    }
  }
  // The fourth transpose combination, which no training step uses.
  out.push({ name: '128×512×784 TT', kind: 'mlp', m: 128, n: 512, k: 784, transA: true, transB: true });
  if (!quick) out.push({ name: '256×1024×1024 TT', kind: 'mlp', m: 256, n: 1024, k: 1024, transA: true, transB: true });
  return out;
}

/** A child process answering one JSON line per request line. */
function server(command, argv, env = {}) {
  const child = spawn(command, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const resolve = waiting.shift();
    if (!resolve) return;
    try {
      resolve(JSON.parse(line));
    } catch {
      resolve({ error: `unreadable reply: ${line.slice(0, 80)}` });
    }
  });
  child.on('exit', (code) => {
    while (waiting.length) waiting.shift()({ error: `server exited (${code})` });
  });
  return {
    ask(line) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`${line}\n`);
      });
    },
    close() {
      child.stdin.end();
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The OpenBLAS headers, installed with apt-get when absent and allowed; returns a note or undefined. */
function ensureOpenBlas() {
  const found = ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h',
    '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/openblas/cblas.h'].some((h) => fs.existsSync(h));
  if (found || process.env.BENCH_CBLAS_CFLAGS) return undefined;
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !apt) return 'OpenBLAS headers absent and apt-get not usable here (install libopenblas-dev)';
  process.stderr.write('installing libopenblas-dev (benchmark baseline only) ...\n');
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'libopenblas-dev'], { stdio: 'inherit' });
  return r.status === 0 ? 'installed libopenblas-dev for this run' : 'apt-get install libopenblas-dev failed';
}

function fmt(x, digits = 1) {
  return x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

function table(rows, threadSets, load, blasLabel, isa) {
  const head = ['| shape (m×n×k) |', '|---|'];
  for (const t of threadSets) {
    head[0] += ` fastmlp ${t}T | OpenBLAS ${t}T | ratio ${t}T |`;
    head[1] += '---:|---:|---:|';
  }
  const lines = [...head];
  for (const shape of [...new Set(rows.map((r) => r.shape))]) {
    let line = `| ${shape.name} (${shape.m}×${shape.n}×${shape.k} ${shape.transA ? 'T' : 'N'}${shape.transB ? 'T' : 'N'}) |`;
    for (const t of threadSets) {
      const r = rows.find((x) => x.shape === shape && x.threads === t);
      line += ` ${fmt(r?.ours)} | ${fmt(r?.blas)} | ${r?.ratio === undefined ? '—' : fmt(r.ratio, 2)} |`;
    }
    lines.push(line);
  }
  return [
    `float32 GFLOP/s, best sample of ${rows[0]?.rounds ?? '?'} alternating rounds; fastmlp through ops.matmul`,
    `(native engine, ${isa} kernel, result written into a reused Matrix with { out }); baseline ${blasLabel}.`,
    `Load average ${load.before.map((x) => x.toFixed(2)).join(' ')} before, ${load.after.map((x) => x.toFixed(2)).join(' ')} after.`,
    '',
    ...lines,
  ].join('\n');
}

/** Geometric mean of the ratios of one kind of shape at one thread count. */
function geomean(rows, kind, threads, minSize = 0) {
  const rs = rows.filter((r) => r.shape.kind === kind && r.threads === threads && r.ratio !== undefined && r.shape.m >= minSize);
  if (!rs.length) return undefined;
  return Math.exp(rs.reduce((s, r) => s + Math.log(r.ratio), 0) / rs.length);
}

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      threads: { type: 'string' },
      'min-time': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const threadSets = values.threads ? values.threads.split(',').map(Number) : cores > 1 ? [1, cores] : [1];
  const rounds = Number(values.rounds ?? (values.quick ? 2 : 3));
  const minTime = Number(values['min-time'] ?? (values.quick ? 0.1 : 0.15));
  if (threadSets.some((t) => !Number.isInteger(t) || t < 1) || !(rounds >= 1) || !(minTime > 0)) {
    console.error(USAGE);
    process.exit(2);
  }

  const installNote = ensureOpenBlas();
  const blas = detectBlas(CASES);
  const ours = server(process.execPath, [path.join(CASES, 'gemm_serve.mjs')]);
  const theirs = blas.skipped ? undefined : server(blas.command, ['--serve'], baselineEnv(Math.max(...threadSets)));
  const load = { before: os.loadavg() };
  const list = shapes(values.quick);
  process.stderr.write(`gemm bench: ${list.length} shapes × threads ${threadSets.join(',')} × ${rounds} rounds; ` +
    `baseline ${blas.skipped ? `skipped (${blas.skipped})` : blas.label}; load ${load.before[0].toFixed(2)}\n`);

  const rows = [];
  let isa = '?';
  for (const shape of list) {
    for (const threads of threadSets) {
      const req = { m: shape.m, n: shape.n, k: shape.k, transA: shape.transA, transB: shape.transB, threads, minTime };
      const got = { ours: [], blas: [] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? ['ours', 'blas'] : ['blas', 'ours'];
        for (const who of order) {
          if (who === 'blas' && !theirs) continue;
          const reply = who === 'ours' ? await ours.ask(JSON.stringify(req))
            : await theirs.ask([req.m, req.n, req.k, req.transA ? 1 : 0, req.transB ? 1 : 0, minTime, threads].join(' '));
          if (reply.error) throw new Error(`${who} ${shape.name} ${threads}T: ${reply.error}`);
          if (reply.isa) isa = reply.isa;
          got[who].push(reply);
          await sleep(PAUSE_MS);
        }
      }
      const best = (xs) => (xs.length ? Math.max(...xs.map((x) => x.gflopsBest)) : undefined);
      const med = (xs) => (xs.length ? Math.max(...xs.map((x) => x.gflops)) : undefined);
      const row = { shape, threads, rounds, ours: best(got.ours), blas: best(got.blas),
        oursMedian: med(got.ours), blasMedian: med(got.blas) };
      row.ratio = row.blas ? row.ours / row.blas : undefined;
      rows.push(row);
      process.stderr.write(`  ${shape.name.padEnd(24)} ${threads}T  fastmlp ${fmt(row.ours).padStart(6)}  ` +
        `OpenBLAS ${fmt(row.blas).padStart(6)}  ratio ${row.ratio === undefined ? '—' : fmt(row.ratio, 3)}\n`);
    }
  }
  ours.close();
  theirs?.close();
  blas.cleanup?.();
  load.after = os.loadavg();

  const summary = threadSets.map((t) => `${t}T: squares n ≥ 256 ${fmt(geomean(rows, 'square', t, 256), 3)}×, ` +
    `MLP shapes ${fmt(geomean(rows, 'mlp', t), 3)}× (geometric means of fastmlp/OpenBLAS)`).join('\n');
  const md = [`# gemm benchmark (${new Date().toISOString()})`, '',
    `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${cores} threads, Node ${process.version}.` +
    (installNote ? ` ${installNote}.` : ''), '',
    table(rows, threadSets, load, blas.label ? [blas.label, openblasCoreNote()].filter(Boolean).join('. ') : `none (${blas.skipped})`, isa), '', summary, ''].join('\n');
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'gemm.md'), md);
  fs.writeFileSync(path.join(RESULTS, 'gemm.json'), `${JSON.stringify({
    date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores, node: process.version, isa,
    baseline: blas.label ?? blas.skipped, rounds, minTime, pauseMs: PAUSE_MS, loadAverage: load,
    statistics: 'ours/blas: best sample over all rounds; oursMedian/blasMedian: best per-round median',
    rows: rows.map(({ shape, ...r }) => ({ ...shape, ...r })),
  }, null, 2)}\n`);
  console.log(md);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
