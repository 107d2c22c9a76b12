#!/usr/bin/env node
// fastmlp inference benchmark: per-call latency (median, p99) and samples/s of
// predict at one thread, for fastmlp (native predict and predictAsync, the JS
// engine) beside onnxruntime-node (fastmlp's own ONNX export), TensorFlow.js
// (cpu and wasm backends) and brain.js, on 784-512-256-10 and
// 784-2048-2048-10 (float32, ReLU, softmax output) at batch 1, 32 and 256.
// One set-up case writes the weights, inputs and float64 reference outputs
// (bench/cases/predict_setup.mjs); every library's answer is checked against
// them before it is timed and its max abs diff is reported. Each case runs in
// its own fresh process (STYLE.md §13); the fast libraries run `--rounds`
// times, the order reversed every other round so a slow spell of a shared
// machine falls on all of them, and each reports its median round.
// Writes bench/results/predict.md and predict.svg.
//
//   node bench/predict.mjs [--quick] [--rounds N] [--min-time S]     (npm run bench:predict)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runChild } from './lib/child.mjs';
import { predictChart, predictTable } from './lib/predict-report.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const CASES = path.join(BENCH, 'cases');
const RESULTS = path.join(BENCH, 'results');

const NETS = [{ name: '784-512-256-10', hidden: [512, 256] }, { name: '784-2048-2048-10', hidden: [2048, 2048] }];
const BATCHES = [1, 32, 256];
// repeat: runs in every round (the figures compared most closely); the slow
// pure-JS ones run once. batches: the sizes a library takes.
const IMPLS = [
  { id: 'native-sync', label: 'fastmlp native predict', script: 'predict_fastmlp.mjs', args: { engine: 'native', mode: 'sync' }, repeat: true },
  { id: 'native-async', label: 'fastmlp native predictAsync', script: 'predict_fastmlp.mjs', args: { engine: 'native', mode: 'async' }, repeat: true },
  { id: 'ort', label: 'onnxruntime-node', script: 'predict_ort.mjs', args: {}, repeat: true },
  { id: 'tfjs-wasm', label: 'tfjs wasm', script: 'predict_tfjs.mjs', args: { backend: 'wasm' }, repeat: true },
  { id: 'js', label: 'fastmlp JS engine', script: 'predict_fastmlp.mjs', args: { engine: 'js', mode: 'sync' }, repeat: false },
  { id: 'tfjs-cpu', label: 'tfjs cpu', script: 'predict_tfjs.mjs', args: { backend: 'cpu' }, repeat: false },
  { id: 'brain.js', label: 'brain.js (ReLU output)', script: 'predict_brain.mjs', args: {}, repeat: false, batches: [1] },
];

const USAGE = `usage: node bench/predict.mjs [--quick] [--rounds N] [--min-time S]
  --quick        one round, 0.3 s per case (a smoke test)
  --rounds N     rounds of the repeated cases (default 3)
  --min-time S   timed seconds per case after its warm-up (default 1)`;

function options() {
  const { values } = parseArgs({ options: {
    quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, 'min-time': { type: 'string' },
    help: { type: 'boolean', default: false },
  } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
  const minTime = Number(values['min-time'] ?? (values.quick ? 0.3 : 1));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20 || !(minTime > 0 && minTime <= 30)) {
    console.error(`expected --rounds 1..20 and --min-time in (0, 30]\n${USAGE}`);
    process.exit(2);
  }
  return { rounds, minTime, profile: values.quick ? 'quick' : 'full' };
}

function plan(dir, { rounds, minTime }) {
  const one = [];
  for (const net of NETS) {
    for (const batch of BATCHES) {
      for (const impl of IMPLS) {
        const base = { impl: impl.id, net: net.name, batch, repeat: impl.repeat };
        if (impl.batches && !impl.batches.includes(batch)) {
          one.push({ ...base, skipped: 'brain.js runs one sample per call' });
          continue;
        }
        const args = { ...impl.args, dir, net: net.name, batch, minTime, minCalls: 5 };
        one.push({ ...base, argv: [path.join(CASES, impl.script), JSON.stringify(args)] });
      }
    }
  }
  const cases = [];
  for (let round = 0; round < rounds; round++) {
    const these = one.filter((c) => round === 0 || c.repeat);
    cases.push(...(round % 2 ? [...these].reverse() : these));
  }
  return cases;
}

/** One record per case: the round with the median samples/s (lower middle of an even count), all rounds' figures in runs. */
function mergeRounds(results) {
  const byCase = new Map();
  for (const r of results) {
    const key = `${r.net}|${r.batch}|${r.impl}`;
    byCase.set(key, [...(byCase.get(key) ?? []), r]);
  }
  return [...byCase.values()].map((runs) => {
    const failed = runs.find((r) => r.skipped || r.error);
    if (failed) return failed;
    const sorted = [...runs].sort((a, b) => a.samplesPerSec - b.samplesPerSec);
    return { ...sorted[(sorted.length - 1) >> 1], runs: runs.map((r) => Math.round(r.samplesPerSec)) };
  });
}

function main() {
  const opts = options();
  const started = Date.now();
  const load0 = os.loadavg()[0];
  // The highest 1-minute load average seen between cases: another process
  // that starts mid-run (a test suite) shows here, not in the start and end
  // figures.
  let loadMax = load0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmlp-predict-'));
  try {
    process.stderr.write(`set-up: weights, ONNX export, inputs and reference outputs in ${dir}\n`);
    const setup = runChild(process.execPath, [path.join(CASES, 'predict_setup.mjs'), JSON.stringify({ dir, nets: NETS })], { cwd: ROOT });
    if (setup.error) throw new Error(`set-up failed: ${setup.error} (build first: npm run build)`);
    const cases = plan(dir, opts);
    const results = cases.map((c, i) => {
      const { argv, repeat, ...record } = c;
      const what = `[${i + 1}/${cases.length}] ${c.impl} ${c.net} batch ${c.batch}`;
      if (c.skipped) return record;
      const out = runChild(process.execPath, argv, { cwd: ROOT });
      loadMax = Math.max(loadMax, os.loadavg()[0]);
      process.stderr.write(`${what}: ${out.error ? `error: ${out.error}`
        : `${out.medianUs.toFixed(0)} µs median, ${out.p99Us.toFixed(0)} µs p99, ${Math.round(out.samplesPerSec)} samples/s, diff ${out.maxAbsDiff.toExponential(1)}`}\n`);
      return { ...record, ...out };
    });
    report(mergeRounds(results), opts, { start: load0, max: loadMax }, (Date.now() - started) / 1000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(results, opts, load, elapsedSec) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const out = [`# fastmlp inference benchmark, ${new Date().toISOString().slice(0, 10)}`, '',
    `${cpu}, ${os.availableParallelism?.() ?? os.cpus().length} threads, ${os.type()} ${os.release()} ${os.arch()}, Node ${process.version}; ` +
    `${opts.profile} profile: native, onnxruntime and tfjs-wasm the median of ${opts.rounds} round${opts.rounds > 1 ? 's (alternating order)' : ''}, ` +
    `the others one run; each case ≥ ${opts.minTime} s of single timed calls after a warm-up, in a fresh process.`, '',
    'Every library at one thread, float32, the same weights; a call takes the request\'s Float32Array and returns the ' +
    'output array (wrapping and reading included). max abs diff: the batch\'s outputs against a float64 reference ' +
    '(softmax; brain.js has no softmax and is checked on relu(logits)). samples/s = rows × calls / timed seconds.'];
  // The benchmark keeps one core busy itself (a 1-minute load average of
  // about 1 between cases), so another process shows as load above ~1.5.
  if (load.start > 0.5 || load.max > 1.5) {
    out.push('', `**Shared machine**: load average ${load.start.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end ` +
      `and up to ${load.max.toFixed(2)} between cases; ` +
      'other work ran on the same cores, so these figures are noisy and understate an idle machine.');
  } else {
    out.push('', `Quiet machine: load average ${load.start.toFixed(2)} at the start and at most ${load.max.toFixed(2)} ` +
      'between cases (the benchmark\'s own process counts about 1).');
  }
  for (const net of NETS) {
    out.push('', `## ${net.name}`, '', predictTable(results.filter((r) => r.net === net.name), IMPLS, BATCHES));
  }
  out.push('', `Total ${elapsedSec.toFixed(0)} s. Chart: predict.svg`);
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'predict.md'), `${out.join('\n')}\n`);
  fs.writeFileSync(path.join(RESULTS, 'predict.svg'), predictChart(results, NETS.map((n) => n.name), BATCHES, IMPLS));
  console.log(out.join('\n'));
}

main();
