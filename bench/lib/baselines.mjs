// Optional baselines, used only when this machine already has them (nothing is
// ever installed): OpenBLAS sgemm — through a small C program compiled on the
// fly when cblas.h exists, else through numpy's matmul when numpy is built on
// OpenBLAS — and, for MLP training, TensorFlow.js (cpu and wasm backends, from
// this package's devDependencies) and PyTorch CPU. Each detector returns
// either a way to run the baseline or { skipped: reason } for the report.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
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
 * or OpenMP build) and PyTorch read at start-up, no __pycache__ in bench/, and
 * OpenBLAS's kernel family when its own detection misses this CPU
 * (openblasCore below).
 */
export function baselineEnv(threads) {
  const core = openblasCore().forced;
  return { OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), PYTHONDONTWRITEBYTECODE: '1',
    ...(core ? { OPENBLAS_CORETYPE: core } : {}) };
}

// OpenBLAS's run-time kernel families with FMA and AVX2 or wider. A CPU that
// a build's table does not know gets a generic family outside this list.
const FMA_CORES = ['skylakex', 'cooperlake', 'sapphirerapids', 'haswell', 'zen', 'skylake', 'excavator'];

/** The family OpenBLAS should use on a CPU with these /proc/cpuinfo flags, or undefined if none is better than generic. */
export function openblasCoreFor(flags) {
  const has = (f) => flags.includes(f);
  if (['avx512f', 'avx512dq', 'avx512bw', 'avx512vl'].every(has)) return has('avx512_bf16') ? 'Cooperlake' : 'SkylakeX';
  if (has('avx2') && has('fma')) return 'Haswell';
  return undefined;
}

/**
 * Decides whether OpenBLAS's own CPU detection is to be overridden: detected
 * is the family it chose (openblas_get_corename), flags the CPU's. An
 * OpenBLAS older than the CPU does not know its model number and falls back to
 * a generic SSE family (0.3.21, Debian 12's, runs Prescott kernels on Intel
 * Emerald Rapids: sgemm ~25 GFLOP/s a core instead of ~130, and PyTorch's
 * training ~5× slower). A baseline that slow would flatter fastmlp, so the
 * baselines get the family OpenBLAS would choose if it knew the CPU.
 * Returns { detected, forced } (forced undefined: no override).
 */
export function openblasCoreChoice(detected, flags) {
  // Only a miss is corrected: a family with FMA that OpenBLAS chose on purpose
  // (Zen's AVX2 kernels on a Zen 4, say) is its own call and stays.
  const best = openblasCoreFor(flags);
  const missed = detected && !FMA_CORES.includes(String(detected).toLowerCase());
  return { detected, forced: best && missed ? best : undefined };
}

let coreCache;
/**
 * OpenBLAS's family on this machine: { detected, forced, userSet }. Nothing is
 * forced when the user set OPENBLAS_CORETYPE, off Linux, or when OpenBLAS
 * cannot be asked (no python3 or no libopenblas.so.0).
 */
export function openblasCore() {
  if (coreCache) return coreCache;
  if (process.env.OPENBLAS_CORETYPE) return (coreCache = { detected: undefined, forced: undefined, userSet: process.env.OPENBLAS_CORETYPE });
  let flags = [];
  try {
    flags = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
  } catch {
    return (coreCache = { detected: undefined, forced: undefined });
  }
  const probe = "import ctypes; f = ctypes.CDLL('libopenblas.so.0').openblas_get_corename; " +
    'f.restype = ctypes.c_char_p; print(f().decode())';
  const r = spawnSync('python3', ['-c', probe], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  const detected = r.status === 0 ? r.stdout.trim() : undefined;
  return (coreCache = openblasCoreChoice(detected, flags));
}

/** A note for the reports when the baselines run with a forced OpenBLAS family, else ''. */
export function openblasCoreNote() {
  const { detected, forced, userSet } = openblasCore();
  if (userSet) return `OpenBLAS family set by the user: OPENBLAS_CORETYPE=${userSet}.`;
  return forced ? `OpenBLAS baselines run with OPENBLAS_CORETYPE=${forced}: its own detection chose ${detected} ` +
    'on this CPU, which it does not know (generic kernels, several times slower).' : '';
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

// Prints torch's version and the BLAS libraries its process has mapped (Linux
// only; elsewhere the list is empty). PyPI wheels link MKL in statically, so
// no libblas appears; distribution builds (Debian's python3-torch,
// BLAS_INFO=generic) load whatever libblas.so.3 the system points at.
const TORCH_PROBE = `
import json, os, torch
try:
    maps = [l.split()[-1] for l in open('/proc/self/maps') if '/' in l]
except OSError:
    maps = []
blas = sorted({os.path.realpath(p) for p in maps if 'blas' in os.path.basename(p).lower()})
print(json.dumps({'version': torch.__version__, 'blas': blas}))
`;

/**
 * PyTorch: { label, version, python } or { skipped }. The `python3` on PATH is
 * tried first, then the system's /usr/bin/python3 (Debian's python3-torch
 * installs there, which a pyenv or venv python3 on PATH does not see).
 * A torch whose matmuls run on the netlib reference BLAS (Debian's
 * blas/libblas.so.3 when no OpenBLAS is installed) is ~30× slower than a
 * normal PyTorch, so it is skipped rather than shown as "PyTorch", as
 * detectBlas refuses a reference BLAS; BENCH_TORCH_ANY_BLAS=1 runs it anyway.
 */
export function detectTorch() {
  const tried = [];
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = run(python, ['-c', TORCH_PROBE]);
    if (r.error) continue;   // no such interpreter
    if (!r.ok) {
      tried.push(python);
      continue;
    }
    const { version, blas } = JSON.parse(r.stdout.trim().split('\n').at(-1));
    const reference = blas.filter((lib) => /libblas\.so/.test(path.basename(lib)) && !/openblas|blis|atlas|mkl/i.test(lib));
    const label = `PyTorch ${version} (${python})`;
    if (reference.length && process.env.BENCH_TORCH_ANY_BLAS !== '1') {
      return { skipped: `${label} runs on the reference BLAS ${reference[0]}, not representative ` +
        '(install OpenBLAS, e.g. libopenblas0-pthread, or set BENCH_TORCH_ANY_BLAS=1 to run it anyway)' };
    }
    return { label: reference.length ? `${label}, reference BLAS ${reference[0]}` : label, version, python };
  }
  return tried.length ? { skipped: `PyTorch not installed (import torch failed in ${tried.join(' and ')})` }
    : { skipped: 'python3 not found' };
}

/**
 * TensorFlow.js, resolved from the project root as the case scripts resolve it:
 * { cpu, wasm }, each { label } or { skipped }. The wasm backend also needs
 * its .wasm binaries, which ship in the package's dist/ directory.
 */
export function detectTfjs(root) {
  const require = createRequire(path.join(root, 'package.json'));
  const version = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return undefined;
    }
  };
  const tfjs = version('@tensorflow/tfjs');
  if (!tfjs) {
    const skipped = '@tensorflow/tfjs not installed (a devDependency: npm install)';
    return { cpu: { skipped }, wasm: { skipped } };
  }
  const cpu = { label: `@tensorflow/tfjs ${tfjs}, cpu backend` };
  const wasmVersion = version('@tensorflow/tfjs-backend-wasm');
  if (!wasmVersion) return { cpu, wasm: { skipped: '@tensorflow/tfjs-backend-wasm not installed (a devDependency: npm install)' } };
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  if (!fs.readdirSync(dist).some((f) => f.endsWith('.wasm'))) {
    return { cpu, wasm: { skipped: `no .wasm binary in ${path.relative(root, dist)}` } };
  }
  return { cpu, wasm: { label: `@tensorflow/tfjs-backend-wasm ${wasmVersion}, wasm backend` } };
}
