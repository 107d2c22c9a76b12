// One gemm case: C = op(A)·op(B) in float32 through the public ops.matmul, as
// a user calls it (the output Matrix is allocated per call, as numpy's `a @ b`
// does in the OpenBLAS baseline).
// Args: { engine, threads, m, n, k, transA, transB, minTime }.
import { backend, ops, setThreads } from 'fastmlp';
import { checkProduct, operands } from './gemm_operands.mjs';
import { measure, median, runCase } from './harness.mjs';

runCase(({ engine, threads, m, n, k, transA = false, transB = false, minTime = 0.5 }) => {
  setThreads(threads);
  const { a, b } = operands({ m, n, k, transA, transB });
  const opts = { transA, transB, engine };
  const maxError = checkProduct(ops.matmul(a, b, opts), a.data, b.data, m, n, k, transA, transB);

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
