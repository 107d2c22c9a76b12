// One gemm case: C = op(A)·op(B) in float32 through the public ops.matmul, as
// a user calls it (the output Matrix is allocated per call, as numpy's `a @ b`
// does in the OpenBLAS baseline).
// Args: { engine, threads, m, n, k, transA, transB, minTime }.
import { Matrix, backend, ops, setThreads } from 'fastmlp';
import { fillUniform, measure, median, runCase } from './harness.mjs';

// Entries checked against a float64 dot product before timing: a fast wrong
// kernel must not produce a benchmark figure.
const CHECKS = 64;

runCase(({ engine, threads, m, n, k, transA = false, transB = false, minTime = 0.5 }) => {
  setThreads(threads);
  // Stored shapes: A is k×m when transposed, B is n×k when transposed.
  const a = new Matrix(transA ? k : m, transA ? m : k, fillUniform(new Float32Array(m * k), 1, -1, 1));
  const b = new Matrix(transB ? n : k, transB ? k : n, fillUniform(new Float32Array(k * n), 2, -1, 1));
  const opts = { transA, transB, engine };
  const maxError = check(ops.matmul(a, b, opts), a.data, b.data, m, n, k, transA, transB);
  // Written so that NaN fails too.
  if (!(maxError <= 1e-4)) throw new Error(`wrong result: relative error ${maxError.toExponential(2)}`);

  const { samples, reps } = measure(() => ops.matmul(a, b, opts), minTime);
  const gflop = (2 * m * n * k) / 1e9;
  return {
    gflops: gflop / median(samples),
    gflopsBest: gflop / Math.min(...samples),
    samples: samples.length,
    repsPerSample: reps,
    maxError,
    threadsInUse: backend(engine).threads,   // confirms setThreads took effect
  };
});

/** Largest error relative to Σ|a·b| over CHECKS pseudo-random entries of C. */
function check(c, a, b, m, n, k, transA, transB) {
  let worst = 0;
  for (let t = 0; t < CHECKS; t++) {
    const i = (t * 7919) % m;
    const j = (t * 104729) % n;
    let sum = 0;
    let mag = 0;
    for (let p = 0; p < k; p++) {
      const prod = (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
      sum += prod;
      mag += Math.abs(prod);
    }
    worst = Math.max(worst, Math.abs(c.data[i * n + j] - sum) / (mag || 1));
  }
  return worst;
}
