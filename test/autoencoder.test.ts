// Autoencoder (SPEC.md §6, seed 002 §4.1): an MLP trained to reproduce its
// input with MSE. A linear one (no activations) with a bottleneck of k units
// spans the subspace of the top-k principal components (Baldi & Hornik 1989,
// "Neural networks and principal component analysis"): the principal angles
// between the decoder's column space and the PCA subspace go to 0. Both engines.
import { describe, expect, it } from 'vitest';
import { Dense, Sequential, optim } from '../lib';
import { symmetricEigen } from '../lib/models/linalg';
import { gaussianSource } from './datasets';
import { ENGINES } from './helpers';

const D = 6;
const K = 2;

/** Centred rows with a clear spectrum: two strong directions, then weak isotropic noise. */
function lowRankData(n: number, seed: number): number[][] {
  const g = gaussianSource(seed);
  const u1 = [1, 1, 0, 1, 0, -1].map((v) => v / 2);
  const u2 = [0, 1, -1, -1, 1, 0].map((v) => v / 2);
  const rows = Array.from({ length: n }, () => {
    const a = 3 * g(), b = 1.5 * g();
    return u1.map((_, j) => a * u1[j]! + b * u2[j]! + 0.2 * g());
  });
  const mean = new Array<number>(D).fill(0);
  for (const r of rows) r.forEach((v, j) => { mean[j]! += v / n; });
  return rows.map((r) => r.map((v, j) => v - mean[j]!));
}

/** Top-k eigenvectors of the sample covariance, as k columns (D × k, row-major). */
function pcaBasis(rows: number[][]): Float64Array {
  const cov = new Float64Array(D * D);
  for (const r of rows) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) cov[i * D + j]! += r[i]! * r[j]! / rows.length;
  const { vectors } = symmetricEigen(cov, D);
  const basis = new Float64Array(D * K);
  for (let i = 0; i < D; i++) for (let c = 0; c < K; c++) basis[i * K + c] = vectors[i * D + c]!;
  return basis;
}

/** Orthonormal columns (Gram–Schmidt) of a D × k matrix. */
function orthonormalColumns(m: ArrayLike<number>): Float64Array {
  const q = Float64Array.from(m as ArrayLike<number>);
  for (let c = 0; c < K; c++) {
    for (let p = 0; p < c; p++) {
      let d = 0;
      for (let i = 0; i < D; i++) d += q[i * K + c]! * q[i * K + p]!;
      for (let i = 0; i < D; i++) q[i * K + c]! -= d * q[i * K + p]!;
    }
    let norm = 0;
    for (let i = 0; i < D; i++) norm += q[i * K + c]! ** 2;
    for (let i = 0; i < D; i++) q[i * K + c]! /= Math.sqrt(norm);
  }
  return q;
}

/** Cosines of the principal angles between two subspaces given by orthonormal columns: singular values of AᵀB. */
function principalCosines(a: Float64Array, b: Float64Array): number[] {
  const m = new Float64Array(K * K);
  for (let r = 0; r < K; r++) for (let c = 0; c < K; c++) for (let i = 0; i < D; i++) m[r * K + c]! += a[i * K + r]! * b[i * K + c]!;
  const mtm = new Float64Array(K * K);
  for (let r = 0; r < K; r++) for (let c = 0; c < K; c++) for (let i = 0; i < K; i++) mtm[r * K + c]! += m[i * K + r]! * m[i * K + c]!;
  return Array.from(symmetricEigen(mtm, K).values, (v) => Math.sqrt(Math.max(0, v)));
}

describe.each(ENGINES)('a linear autoencoder on the %s engine', (engine) => {
  it(`with a bottleneck of ${K} spans the top-${K} PCA subspace (principal angles near 0)`, async () => {
    const x = lowRankData(600, 21);
    const model = new Sequential([new Dense(D, K), new Dense(K, D)], { engine, seed: 3, dtype: 'float64' });
    model.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 1e-2 }) });
    const target = { data: Float64Array.from(x.flat()), rows: x.length, cols: D };
    const { history } = await model.fit(x, target, { epochs: 150, batchSize: 32 });
    expect(history['loss']!.at(-1)!).toBeLessThan(0.1 * history['loss']![0]!);
    // A smaller step at the end settles Adam's jitter around the minimum.
    model.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 1e-3 }) });
    await model.fit(x, target, { epochs: 50, batchSize: 32 });

    const decoder = model.getWeights()['1.weight']!;  // D × K (out × in): its columns span the code's image
    const cosines = principalCosines(orthonormalColumns(decoder), pcaBasis(x));
    const anglesDeg = cosines.map((c) => (Math.acos(Math.min(1, c)) * 180) / Math.PI);
    console.log(`[${engine}] principal angles to the PCA subspace: ${anglesDeg.map((a) => a.toFixed(3)).join(', ')} degrees`);
    for (const a of anglesDeg) expect(a).toBeLessThan(0.5);

    // A random 2-D subspace is far from it: the check can fail.
    const random = orthonormalColumns(Float64Array.from({ length: D * K }, gaussianSource(99)));
    expect(Math.min(...principalCosines(random, pcaBasis(x)))).toBeLessThan(0.9);
  });
});
