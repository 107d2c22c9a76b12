// Optional baselines, used only when this machine already has them (nothing is
// ever installed): OpenBLAS sgemm — through a small C program compiled on the
// fly when cblas.h exists, else through numpy's matmul when numpy is built on
// OpenBLAS — and PyTorch CPU for MLP training. Each detector returns either a
// way to run the baseline or { skipped: reason } for the report.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CBLAS_HEADERS = [
  '/usr/include/cblas.h',
  '/usr/include/openblas/cblas.h',
  '/usr/include/x86_64-linux-gnu/cblas.h',
  '/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h',
  '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h',
  '/usr/local/include/cblas.h',
  '/opt/homebrew/opt/openblas/include/cblas.h',
];

function run(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return { ok: !r.error && r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/**
 * Environment of a baseline process: the thread counts that OpenBLAS (pthreads
 * or OpenMP build) and PyTorch read at start-up, and no __pycache__ in bench/.
 */
export function baselineEnv(threads) {
  return { OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), PYTHONDONTWRITEBYTECODE: '1' };
}

/**
 * The sgemm baseline: { label, command, argv(shape, minTime) } or { skipped }.
 * The C program is preferred (no interpreter between the timer and sgemm).
 */
export function detectBlas(casesDir) {
  const c = compileCblas(casesDir);
  if (!c.skipped) return c;
  const np = numpyOpenBlas(casesDir);
  if (!np.skipped) return np;
  return { skipped: `${c.skipped}; ${np.skipped}` };
}

/**
 * Builds cases/cblas_gemm.c against the system's OpenBLAS. BENCH_CBLAS_CFLAGS
 * and BENCH_CBLAS_LIBS (space-separated) point it at another build instead,
 * e.g. "-I$HOME/openblas/include" and "-L$HOME/openblas/lib -lopenblas".
 */
function compileCblas(casesDir) {
  const env = (name) => process.env[name]?.split(' ').filter(Boolean);
  const header = CBLAS_HEADERS.find((h) => fs.existsSync(h));
  const cflags = env('BENCH_CBLAS_CFLAGS') ?? (header ? [`-I${path.dirname(header)}`] : undefined);
  if (!cflags) return { skipped: 'no cblas.h (OpenBLAS headers not installed)' };
  const exe = path.join(os.tmpdir(), `fastmlp-bench-cblas-${process.pid}`);
  const base = ['-O2', '-std=c11', ...cflags, path.join(casesDir, 'cblas_gemm.c'), '-o', exe];
  // openblas_get_config() in the program only links against OpenBLAS, so a
  // reference BLAS behind the same header is rejected rather than mislabelled.
  const libChoices = env('BENCH_CBLAS_LIBS') ? [env('BENCH_CBLAS_LIBS')] : [['-lopenblas'], ['-lblas']];
  for (const libs of libChoices) {
    if (run('cc', [...base, ...libs, '-lm']).ok) {
      return {
        label: 'OpenBLAS (C, cblas_sgemm)',
        command: exe,
        argv: (s, minTime) => [s.m, s.n, s.k, s.transA ? 1 : 0, s.transB ? 1 : 0, minTime].map(String),
        cleanup: () => fs.rmSync(exe, { force: true }),
      };
    }
  }
  return { skipped: `found ${header ?? 'BENCH_CBLAS_CFLAGS'} but could not build against OpenBLAS` };
}

const NUMPY_PROBE = `
import json, numpy as np
try:
    blas = np.show_config(mode='dicts')['Build Dependencies']['blas']
except Exception:
    blas = {}
print(json.dumps({'numpy': np.__version__, 'name': blas.get('name', ''), 'version': blas.get('version', '')}))
`;

function numpyOpenBlas(casesDir) {
  const r = run('python3', ['-c', NUMPY_PROBE]);
  if (!r.ok) return { skipped: r.error ? 'python3 not found' : 'numpy not installed' };
  const info = JSON.parse(r.stdout.trim().split('\n').at(-1));
  // OPENBLAS_NUM_THREADS only governs OpenBLAS: another BLAS would ignore the thread setting.
  if (!/openblas/i.test(info.name)) return { skipped: `numpy's BLAS is '${info.name || 'unknown'}', not OpenBLAS` };
  return {
    label: `OpenBLAS ${info.version} via numpy ${info.numpy} matmul`,
    command: 'python3',
    argv: (s, minTime) => [path.join(casesDir, 'numpy_gemm.py'), JSON.stringify({ ...s, minTime })],
  };
}

/** PyTorch: { label, version } or { skipped }. */
export function detectTorch() {
  const r = run('python3', ['-c', 'import torch; print(torch.__version__)']);
  if (r.error) return { skipped: 'python3 not found' };
  if (!r.ok) return { skipped: "PyTorch not installed (python3 -c 'import torch' failed)" };
  const version = r.stdout.trim();
  return { label: `PyTorch ${version}`, version };
}
