// The `cnn` group of bench/run.mjs: which CNN training cases run, with what
// arguments, in what order. The network (cases/cnn.mjs and its baselines) is
// MNIST-style: Conv2d(1→32, 3, relu) → MaxPool2d(2) → Conv2d(32→64, 3, relu) →
// MaxPool2d(2) → Dense(1600→128, relu) → Dense(128→10), cross-entropy, Adam
// (lr 1e-3), float32, batch 64.
import * as path from 'node:path';
import { baselineEnv } from './baselines.mjs';

// Rows each implementation trains on per epoch, sized so that a case lasts a
// few seconds (measured on the 2-core development machine: native ~2,900
// samples/s at 1 thread, PyTorch ~2,100, the JS engine ~210). tfjs's cpu
// backend takes tens of seconds for one batch of 64 (its conv gradients are
// plain loops), so it trains on a single batch, one timed epoch, and only in
// the full profile. tfjs-wasm keeps its rows though it reports 'skip': its
// case finds no Conv2DBackpropFilter kernel in that backend.
export const CNN = {
  name: 'cnn 28×28: conv32-pool-conv64-pool-128-10',
  batchSize: 64,
  rows: {
    full: { native: 2048, js: 256, torch: 2048, 'tfjs-cpu': 64, 'tfjs-wasm': 256 },
    quick: { native: 256, js: 64, torch: 256, 'tfjs-cpu': null, 'tfjs-wasm': 64 },   // null: not run
  },
};

const TFJS_CPU_QUICK_SKIP = 'one batch of 64 takes tfjs\'s cpu backend tens of seconds: it runs in the full profile only';

/**
 * The cnn group's cases. As for the MLP nets, the native and PyTorch cases run
 * back to back, `profile.mlpRepeats` rounds of them (the runner reports each
 * one's median run), so a slow spell of the machine hits both sides.
 * torch.dataFile, when set, holds data.mjs's rows for the PyTorch case.
 */
export function planCnn({ profile, profileName, threadSets, casesDir, node, nativeSkip, jsSkip, tfjs, torch }) {
  const rows = CNN.rows[profileName];
  const cnn = { group: 'cnn', net: CNN.name };
  const common = { batchSize: CNN.batchSize, minTime: profile.cnnMinTime, maxEpochs: profile.maxEpochs };
  const paired = [];
  for (const threads of threadSets) {
    paired.push({ ...cnn, impl: 'native', threads,
      ...node('cnn.mjs', { ...common, engine: 'native', threads, rows: rows.native }), ...nativeSkip });
  }
  const data = torch.dataFile ? { dataFile: torch.dataFile, dataset: torch.dataset } : {};
  for (const threads of threadSets) {
    const args = { ...common, threads, rows: rows.torch, ...data };
    const torchCase = (variant, argv, env) => (torch.skipped ? { ...cnn, impl: 'torch', threads, variant, skipped: torch.skipped }
      : { ...cnn, impl: 'torch', threads, variant, command: torch.python,
        argv: [path.join(casesDir, 'torch_cnn.py'), JSON.stringify(argv)], env });
    paired.push(torchCase(undefined, args, baselineEnv(threads)));
    if (threads > 1) {
      // PyTorch's convolutions run on oneDNN over its own OpenMP threads and
      // its Linear layers on OpenBLAS's threads; with both at `threads` on as
      // many cores they oversubscribe them. Its two other settings run too and
      // the report compares native with the fastest: the mlp group's (one torch
      // thread over a multi-threaded OpenBLAS) and its converse (torch threads,
      // a single-threaded OpenBLAS), which keeps the convolutions parallel.
      paired.push(torchCase('blas-threads', { ...args, opThreads: 1 }, { ...baselineEnv(threads), OMP_NUM_THREADS: '1' }));
      paired.push(torchCase('op-threads', args, { ...baselineEnv(threads), OPENBLAS_NUM_THREADS: '1' }));
    }
  }
  const cases = [];
  for (let round = 0; round < profile.mlpRepeats; round++) cases.push(...paired);
  cases.push({ ...cnn, impl: 'js', threads: 1,
    ...node('cnn.mjs', { ...common, engine: 'js', threads: 1, rows: rows.js, minEpochs: profile.tfjsMinEpochs }), ...jsSkip });
  // tfjs in Node computes on one thread with either backend, hence one 1T row each.
  for (const backend of ['cpu', 'wasm']) {
    const impl = `tfjs-${backend}`;
    const skipped = tfjs[backend].skipped ?? (rows[impl] === null ? TFJS_CPU_QUICK_SKIP : undefined);
    // A full-profile tfjs-cpu case lasts minutes on a loaded machine: more than the children's default 5.
    cases.push(skipped ? { ...cnn, impl, threads: 1, skipped }
      : { ...cnn, impl, threads: 1, timeoutSec: 900,
        ...node('tfjs_cnn.mjs', { ...common, backend, rows: rows[impl], minEpochs: backend === 'cpu' ? 1 : profile.tfjsMinEpochs }) });
  }
  return cases;
}
