// The fastmlp side of bench/gemm.mjs: a long-lived process that times one
// float32 product per request through the public ops.matmul, so the driver can
// interleave it round by round with the OpenBLAS server (cblas_gemm --serve).
// Reads one JSON line per request from stdin:
//   { m, n, k, transA, transB, threads, minTime }
// and answers each with one JSON line ({ gflops, gflopsBest, ... } or { error }).
import * as readline from 'node:readline';
import { backend, ops, setThreads } from 'fastmlp';
import { checkProduct, operands } from './gemm_operands.mjs';
import { measure, median } from './harness.mjs';

function timeOne({ m, n, k, transA = false, transB = false, threads = 1, minTime = 0.2 }) {
  setThreads(threads);
  const { a, b } = operands({ m, n, k, transA, transB });
  const opts = { transA, transB, engine: 'native' };
  const maxError = checkProduct(ops.matmul(a, b, opts), a.data, b.data, m, n, k, transA, transB);
  const { samples, reps } = measure(() => ops.matmul(a, b, opts), minTime);
  const gflop = (2 * m * n * k) / 1e9;
  return {
    gflops: gflop / median(samples),
    gflopsBest: gflop / Math.min(...samples),
    samples: samples.length,
    repsPerSample: reps,
    maxError,
    isa: backend('native').isa,
    threadsInUse: backend('native').threads,
  };
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let out;
  try {
    out = timeOne(JSON.parse(line));
  } catch (e) {
    out = { error: e instanceof Error ? e.message : String(e) };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
});
