#!/usr/bin/env node
// CSV reading time, loadCsv's work (readFile + parse into a Matrix and a
// target), with the quote-free reader (what parseCsv uses for a file without
// quotes) beside csv-parse (what every file went through before; the same
// conversion code after it). Two synthetic numeric files: 20,000 × 101
// (100 features with 4 decimals, a class column) and 60,000 × 785 laid out as
// MNIST's CSV (a label, then 784 pixels 0–255, mostly 0). Each case runs in a
// fresh process; the median of --runs runs is reported, and written to
// bench/results/csv-read.md.
// --before DIR adds parseCsv of an earlier build (a tsc output directory, e.g. main's dist/).
// Build first (`npx tsc -p tsconfig.json`); run: node bench/csv-read.mjs [--runs N] [--skip-slow] [--before DIR]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    case: { type: 'string' },
    reader: { type: 'string' },
    target: { type: 'string' },
    'skip-slow': { type: 'boolean', default: false },
    before: { type: 'string' },
  },
});

if (values.case) {
  // Child: time one reader on one file.
  const { parseCsvUsing } = await import(path.join(here, '..', 'dist', 'data', 'csv.js'));
  const records = await import(path.join(here, '..', 'dist', 'data', 'csv-records.js'));
  const read = values.reader === 'csv-parse' ? records.csvParseRecords : records.csvRecords;
  // --reader before: parseCsv of an earlier build (its dist/ directory), as it was.
  const earlier = values.reader === 'before' ? (await import(path.resolve(values.before, 'data', 'csv.js'))).parseCsv : null;
  const times = [];
  let shape;
  for (let i = 0; i < Number(values.runs); i++) {
    const t0 = performance.now();
    const text = await fs.promises.readFile(values.case, 'utf8');
    const d = earlier ? earlier(text, { target: values.target }) : parseCsvUsing(read, text, { target: values.target });
    times.push(performance.now() - t0);
    shape = `${d.x.rows}×${d.x.cols}`;
  }
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ ms: times[Math.floor(times.length / 2)], shape }));
  process.exit(0);
}

/** A small seeded generator (mulberry32) so the files are the same on every run. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function writeCsv(file, rows, header, row) {
  const out = fs.openSync(file, 'w');
  fs.writeSync(out, header + '\n');
  let chunk = '';
  for (let r = 0; r < rows; r++) {
    chunk += row() + '\n';
    if (chunk.length > 1 << 20) { fs.writeSync(out, chunk); chunk = ''; }
  }
  fs.writeSync(out, chunk);
  fs.closeSync(out);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmlp-bench-csv-'));
const random = rng(1);
const wide = path.join(dir, 'wide.csv');
writeCsv(wide, 20000, [...Array.from({ length: 100 }, (_, i) => `f${i}`), 'label'].join(','),
  () => [...Array.from({ length: 100 }, () => (random() * 10).toFixed(4)), String(Math.floor(random() * 10))].join(','));
const mnist = path.join(dir, 'mnist.csv');
writeCsv(mnist, 60000, ['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i}`)].join(','),
  () => [String(Math.floor(random() * 10)), ...Array.from({ length: 784 }, () => (random() < 0.8 ? '0' : String(Math.floor(random() * 256))))].join(','));

const cases = [
  { name: '20,000 × 101 (4-decimal features, class label)', file: wide, target: 'label' },
  { name: '60,000 × 785 (MNIST layout: label, 784 pixels)', file: mnist, target: 'label' },
];
const lines = [`| file | size | quote-free reader (ms) | csv-parse (ms) | speed-up |${values.before ? ' before: parseCsv of ' + path.basename(path.dirname(path.resolve(values.before))) + ' (ms) |' : ''}`,
  `|---|---|---|---|---|${values.before ? '---|' : ''}`];
try {
  for (const c of cases) {
    const mb = (fs.statSync(c.file).size / 1e6).toFixed(1);
    const time = (reader) => JSON.parse(execFileSync(process.execPath,
      ['--max-old-space-size=8192', fileURLToPath(import.meta.url), '--case', c.file, '--reader', reader, '--target', c.target, '--runs', values.runs,
        ...(values.before ? ['--before', values.before] : [])],
      { encoding: 'utf8', maxBuffer: 1 << 20 }));
    const fast = time('auto');
    const slow = values['skip-slow'] ? null : time('csv-parse');
    const before = values.before && !values['skip-slow'] ? time('before') : null;
    const row = `| ${c.name} → ${fast.shape} | ${mb} MB | ${fast.ms.toFixed(0)} | ${slow ? slow.ms.toFixed(0) : '—'} | ${slow ? `${(slow.ms / fast.ms).toFixed(1)}×` : '—'} |` +
      (values.before ? ` ${before ? before.ms.toFixed(0) : '—'} |` : '');
    console.log(row);
    lines.push(row);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const note = `\nMedian of ${values.runs} runs, each case in a fresh process; readFile + parseCsv (features into a float32 Matrix, the label as classes). ` +
  `Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${new Date().toISOString().slice(0, 10)}.\n`;
fs.writeFileSync(path.join(here, 'results', 'csv-read.md'), `# CSV reading\n\n${lines.join('\n')}\n${note}`);
