// The operands, the result check and the timing shared by the gemm cases
// (gemm.mjs, one product per process, and gemm_serve.mjs, many products on
// request): the same data as cblas_gemm.c, and a check of C against float64
// dot products, so a fast wrong kernel never produces a benchmark figure.
import { Matrix, backend, ops, setThreads } from 'fastmlp';
import { fillUniform, measure, median } from './harness.mjs';

const CHECKS = 64;

/** A (m×k, stored k×m when transA) and B (k×n, stored n×k when transB), float32. */
export function operands({ m, n, k, transA = false, transB = false }) {
  const a = new Matrix(transA ? k : m, transA ? m : k, fillUniform(new Float32Array(m * k), 1, -1, 1));
  const b = new Matrix(transB ? n : k, transB ? k : n, fillUniform(new Float32Array(k * n), 2, -1, 1));
  return { a, b };
}

/** Throws unless C matches CHECKS pseudo-random entries to 1e-4 relative to Σ|a·b|. Returns the worst error. */
export function checkProduct(c, a, b, m, n, k, transA, transB) {
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
  // Written so that NaN fails too.
  if (!(worst <= 1e-4)) throw new Error(`wrong result: relative error ${worst.toExponential(2)}`);
  return worst;
}

/**
 * Checks then times one product through the public ops.matmul (into a reused
 * `out`) on `engine` with `threads` threads: GFLOP/s of the median and of the best sample.
 */
export function timeMatmul({ engine = 'native', threads, m, n, k, transA = false, transB = false, minTime }) {
  setThreads(threads);
  const { a, b } = operands({ m, n, k, transA, transB });
  // The product goes into one reused Matrix ({ out }), as cblas_sgemm writes
  // into the caller's C: a fresh 64 MB result per call would time the
  // allocator and page faults, not the product.
  const out = Matrix.zeros(m, n);
  const opts = { transA, transB, engine, out };
  const maxError = checkProduct(ops.matmul(a, b, opts), a.data, b.data, m, n, k, transA, transB);
  const { samples, reps } = measure(() => ops.matmul(a, b, opts), minTime);
  const gflop = (2 * m * n * k) / 1e9;
  return {
    gflops: gflop / median(samples),
    gflopsBest: gflop / Math.min(...samples),
    samples: samples.length,
    repsPerSample: reps,
    maxError,
    isa: backend(engine).isa,
    threadsInUse: backend(engine).threads,   // confirms setThreads took effect
  };
}
