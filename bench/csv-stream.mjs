#!/usr/bin/env node
// Streaming CSV (data.csvBatches) beside loadCsv on one large generated file:
// rows/s and the peak resident set of a fresh process per case. The file has
// --rows rows of 20 features (3 decimals) and a text class label. Cases:
//   baseline      nothing read: Node with fastmlp loaded (the RSS the others start from)
//   load          loadCsv: the whole text, then every row in one Matrix
//   stream        csvBatches with classes given: one pass, 1 MiB chunks, 1024-row batches
//   stream+scan   csvBatches without classes: a first pass finds the labels, then the batches
// Each case runs --runs times in fresh processes; the median time and the largest
// peak RSS are reported and written to bench/results/csv-stream.md.
// Build first (`npx tsc -p tsconfig.json`); run: node bench/csv-stream.mjs [--rows N] [--runs N]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '3' },
    case: { type: 'string' },
    file: { type: 'string' },
  },
});

if (values.case) {
  // Child: one case, one read of the file.
  const { data } = (await import(path.join(here, '..', 'dist', 'index.js'))).default;
  const t0 = performance.now();
  let rows = 0;
  if (values.case === 'baseline') {
    // Nothing read: the resident set of Node with fastmlp loaded, to read the others against.
  } else if (values.case === 'load') {
    rows = (await data.loadCsv(values.file, { target: 'label' })).x.rows;
  } else {
    const classes = values.case === 'stream' ? ['a', 'b', 'c'] : undefined;
    for await (const { x } of data.csvBatches(values.file, { target: 'label', classes })) rows += x.rows;
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ rows, seconds, peakRss: process.resourceUsage().maxRSS * 1024 }));
  process.exit(0);
}

const rows = Number(values.rows);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmlp-bench-csv-stream-'));
const file = path.join(dir, 'big.csv');
let seed = 7;
const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
const out = fs.openSync(file, 'w');
fs.writeSync(out, [...Array.from({ length: 20 }, (_, i) => `f${i}`), 'label'].join(',') + '\n');
let chunk = '';
for (let r = 0; r < rows; r++) {
  for (let c = 0; c < 20; c++) chunk += (next() * 100).toFixed(3) + ',';
  chunk += 'abc'[r % 3] + '\n';
  if (chunk.length > 1 << 20) { fs.writeSync(out, chunk); chunk = ''; }
}
fs.writeSync(out, chunk);
fs.closeSync(out);
const bytes = fs.statSync(file).size;

const results = [];
for (const c of ['baseline', 'load', 'stream', 'stream+scan']) {
  const runs = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const res = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--case', c, '--file', file], { encoding: 'utf8' });
    runs.push(JSON.parse(res));
  }
  runs.sort((a, b) => a.seconds - b.seconds);
  const median = runs[Math.floor(runs.length / 2)];
  const peak = Math.max(...runs.map((r) => r.peakRss));
  results.push({ c, rows: median.rows, seconds: median.seconds, peak });
  console.log(`${c.padEnd(12)} ${median.rows} rows in ${median.seconds.toFixed(2)} s  ${Math.round(median.rows / median.seconds).toLocaleString('en')} rows/s  peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
}
fs.rmSync(dir, { recursive: true, force: true });

const md = [`# CSV streaming (bench/csv-stream.mjs)`, '',
  `${rows.toLocaleString('en')} rows × 20 features + a label, ${(bytes / 2 ** 20).toFixed(0)} MB; ${os.cpus().length} cores` +
  ` (${os.cpus()[0].model}), Node ${process.version}; median of ${values.runs} fresh processes, largest peak RSS.`, '',
  '| case | seconds | rows/s | peak RSS |', '|---|---|---|---|',
  ...results.map((r) => `| ${r.c} | ${r.seconds.toFixed(2)} | ${r.rows ? Math.round(r.rows / r.seconds).toLocaleString('en') : '–'} | ${(r.peak / 2 ** 20).toFixed(0)} MB |`), ''];
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
fs.writeFileSync(path.join(here, 'results', 'csv-stream.md'), md.join('\n'));
