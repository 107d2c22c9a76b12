#!/usr/bin/env node
// Worker-thread teardown, measured (the tests in test/worker-lifecycle.test.ts
// only bound these loosely): each case in a fresh process through the tests'
// fixture (test/fixtures/worker-lifecycle.cjs), one kernel thread.
//   terminate   the worst of 3 `worker.terminate()` latencies with a long call
//               in flight (4.2 M-weight net, 400,000 rows: minutes of work)
//   memory      resident set of the parent after 16 workers each held 3 models
//               of ~67 MB (2048-2048-10 with Adam state) and ended (half by
//               terminate) without dispose(): growth against the start, per
//               model dropped, and the peak one worker reported; and the
//               same bytes as plain Float32Arrays without fastmlp (baseline)
//   node bench/worker-lifecycle.mjs      (after npm run build)
// Writes bench/results/worker-lifecycle.md.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, '..', 'test', 'fixtures', 'worker-lifecycle.cjs');
const MB = 1024 * 1024;
const signedMB = (bytes) => `${bytes >= 0 ? '+' : ''}${(bytes / MB).toFixed(1)} MB`;

function run(args, env = {}) {
  const r = spawnSync(process.execPath, ['--expose-gc', fixture, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const lines = ['| engine | case | figure |', '|---|---|---|'];
const row = (engine, what, figure) => { lines.push(`| ${engine} | ${what} | ${figure} |`); console.log(engine.padEnd(7), what.padEnd(34), figure); };

for (const engine of ['native', 'js']) {
  for (const op of ['fit', 'fit-observe', 'predict', 'evaluate']) {
    const r = run(['terminate', engine, op, '3', '1']);
    row(engine, `terminate() behind ${op}`, `worst of 3: ${r.worstMs} ms`);
  }
  const workers = 16;
  const models = 3;
  const r = run(['models', engine, String(workers), String(models)]);
  const growth = r.endBytes - r.startBytes;
  row(engine, `${workers} workers × ${models} models dropped`,
      `RSS ${signedMB(growth)} (${signedMB(growth / r.created)} per model; peak in a worker ${(r.peakBytes / MB).toFixed(0)} MB)`);
  const fixed = run(['models', engine, String(workers), String(models)], { MALLOC_MMAP_THRESHOLD_: '131072' });
  row(engine, `the same, MALLOC_MMAP_THRESHOLD_=131072`, `RSS ${signedMB(fixed.endBytes - fixed.startBytes)}`);
}

// Baseline: the same bytes as plain typed arrays in the same workers, without
// fastmlp. (Each engine's "MALLOC_MMAP_THRESHOLD_" row above fixes glibc's mmap
// threshold at its 128 KiB default: by default glibc raises it to the size of
// each large block freed, up to 32 MiB (mallopt(3), M_MMAP_THRESHOLD), so later
// ~16 MB arrays come from malloc arenas, which keep freed pages; fixed, what
// the workers freed goes back to the system and the growth is ~0.)
{
  const r = run(['models', 'plain', '16', '3']);
  row('none', '16 workers × 3 models\' bytes as Float32Arrays', `RSS ${signedMB(r.endBytes - r.startBytes)}`);
}

const out = path.join(here, 'results', 'worker-lifecycle.md');
writeFileSync(out, `# Worker-thread teardown (bench/worker-lifecycle.mjs)\n\n${lines.join('\n')}\n`);
console.log(`written ${out}`);
