// The fastmlp side of bench/gemm.mjs: a long-lived process that times one
// float32 product per request through the public ops.matmul, so the driver can
// interleave it round by round with the OpenBLAS server (cblas_gemm --serve).
// Reads one JSON line per request from stdin:
//   { m, n, k, transA, transB, threads, minTime }
// and answers each with one JSON line ({ gflops, gflopsBest, ... } or { error }).
import * as readline from 'node:readline';
import { timeMatmul } from './gemm_operands.mjs';

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let out;
  try {
    out = timeMatmul({ threads: 1, minTime: 0.2, ...JSON.parse(line), engine: 'native' });
  } catch (e) {
    out = { error: e instanceof Error ? e.message : String(e) };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
});
