// Small dense linear algebra in float64 for the classic models and their tests:
// a Cholesky solve for the p × p normal equations of projection pursuit's
// Gauss–Newton step, and a cyclic Jacobi eigen-solver for symmetric matrices
// (Golub & Van Loan, "Matrix Computations", 4th ed., §8.5) used for PCA.
// Sizes here are features × features, so O(p³) is cheap.

/**
 * Solves A·x = b for a symmetric positive semi-definite A (p × p, row-major)
 * by Cholesky. A ridge of `ridge`·mean(diag A) is added to the diagonal so a
 * singular A (collinear inputs) still gives the minimum-norm-like solution.
 */
export function solveSymmetric(a: ArrayLike<number>, b: ArrayLike<number>, p: number, ridge = 1e-10): Float64Array {
  let trace = 0;
  for (let i = 0; i < p; i++) trace += a[i * p + i]!;
  const jitter = Math.max(ridge * (trace / p), 1e-300);
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j]! + (i === j ? jitter : 0);
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        l[i * p + i] = Math.sqrt(Math.max(s, jitter));
      } else {
        l[i * p + j] = s / l[j * p + j]!;
      }
    }
  }
  // Forward (L·y = b) then backward (Lᵀ·x = y) substitution.
  const x = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * p + k]! * x[k]!;
    x[i] = s / l[i * p + i]!;
  }
  for (let i = p - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < p; k++) s -= l[k * p + i]! * x[k]!;
    x[i] = s / l[i * p + i]!;
  }
  return x;
}

/**
 * Eigen-decomposition of a symmetric matrix (n × n, row-major) by cyclic
 * Jacobi rotations. Returns eigenvalues in decreasing order and the matching
 * unit eigenvectors as the columns of `vectors` (n × n, row-major).
 */
export function symmetricEigen(m: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m as ArrayLike<number>);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        // The rotation angle that zeroes a[p][q] (Golub & Van Loan Alg. 8.5.1).
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {  // A ← A·J
          const akp = a[k * n + p]!, akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {  // A ← Jᵀ·A
          const apk = a[p * n + k]!, aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {  // V ← V·J
          const vkp = v[k * n + p]!, vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const idx = [...Array(n).keys()].sort((i, j) => a[j * n + j]! - a[i * n + i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  idx.forEach((src, dst) => {
    values[dst] = a[src * n + src]!;
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}
