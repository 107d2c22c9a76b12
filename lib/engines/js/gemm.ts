// General matrix multiply for the pure-TypeScript engine, BLAS semantics on
// packed row-major storage (same contract as native/core/gemm.h):
//
//   C (m×n) = alpha · op(A) (m×k) · op(B) (k×n) + beta · C
//
// A is stored m×k (k×m when transA), B is stored k×n (n×k when transB), C is
// m×n; the row strides are the stored widths (lda = k or m, ldb = n or k,
// ldc = n). Arrays may be longer than the matrices they hold (the plan's
// activation buffers are sized for the largest batch); only the leading
// elements are touched.
//
// Order of work. C is first scaled by beta; with beta = 0 it is overwritten
// without being read, so NaN/Inf already in C never propagates (reference BLAS
// xGEMM does the same, and so does alpha = 0, which leaves A and B unread).
// Then alpha·op(A)·op(B) is added. Zeros in A or B are never skipped, so
// NaN/Inf in an operand propagates exactly as in the naive triple loop.
//
// Two paths:
//  - Packed (m ≥ DIRECT_ROWS and n ≥ NR): the BLIS structure (Van Zee & van de
//    Geijn, "BLIS", TOMS 2015; Goto & van de Geijn, TOMS 2008). Blocks of
//    op(B) (KC×NC) and op(A) (MC×KC) are copied into Float64Array micro-panels
//    NR columns / MR rows wide, interleaved by k and zero-padded at the edges;
//    a 4×4 register-tile micro-kernel then multiplies panel pairs. Packing
//    makes every transpose combination run the same contiguous inner loop,
//    converts Float32 to double once per element instead of once per use, and
//    keeps the hot kernel monomorphic (it only ever sees Float64Array operands,
//    which V8 optimises much better than a site that sees both array types).
//    Measured on a 2.5 GHz Xeon (Node 20, float32, 256³ and 512³), packed vs
//    the unpacked loop orders (NN i-p-j, TN p-i-j, NT dot products):
//    NN 0.6–0.8 → 1.9 GFLOP/s, TN 0.5–0.65 → 1.9, NT 1.1–1.7 → 1.9. The 4×4
//    tile beat 2×4, 3×4, 2×8, 4×5, 5×4, 4×6, 6×4 and 4×8 (kernel alone:
//    2.4 vs 1.6–2.1 GFLOP/s): 16 accumulators is what V8 keeps in registers.
//  - Direct (m < DIRECT_ROWS or n < NR: a few rows or output columns):
//    packing would cost as much as the product, so loop orders with a contiguous
//    inner loop are used as they are: NN/TN row-of-C "axpy" (i-p-j), NT/TT
//    dot products over k.
//
// Values are accumulated in JavaScript doubles within a KC block and stored in
// C's own type (a Float32Array rounds each store, as the native engine's
// float kernels do).

import type { FloatArray } from '../../engine';
import { perSlice, type WorkMeter } from './slices';

/** Register tile: rows of A and columns of B per micro-kernel call. */
const MR = 4;
const NR = 4;
/** Depth of a packed block (k): a 4-wide A or B micro-panel is 8 KB, L1-resident. */
const KC = 256;
/** Rows of op(A) packed per block: 128 KB of doubles. */
const MC = 64;
/** Columns of op(B) packed per block: 512 KB of doubles, L2-resident. */
const NC = 256;

/**
 * Fewer rows of C than this take the direct path: packing op(B) costs about as
 * much as a few rows of product (1×512×784 direct 0.64 ms; 4 rows packed 3.7 ms).
 */
const DIRECT_ROWS = 8;

// Packing buffers, allocated once for the largest block: gemm never allocates.
const packA = new Float64Array(MC * KC);
const packB = new Float64Array(NC * KC);
/** Spill for the accumulators of an edge tile (partial rows/columns). */
const edge = new Float64Array(MR * NR);

/** C (m×n) = beta·C, writing zeros without reading when beta = 0. */
function scaleC(m: number, n: number, beta: number, c: FloatArray): void {
  const len = m * n;
  if (beta === 0) {
    c.fill(0, 0, len);
  } else if (beta !== 1) {
    for (let i = 0; i < len; i++) c[i] = beta * c[i];
  }
}

/**
 * Packs rows [i0, i0+mb) × k-range [p0, p0+kb) of op(A) into MR-row
 * micro-panels: panel r0 holds dst[r0*kb + p*MR + r] = op(A)(i0+r0+r, p0+p).
 * Rows past mb are zero, so the kernel never needs a partial-row variant.
 */
function packPanelsA(transA: boolean, a: FloatArray, m: number, k: number, i0: number,
                     mb: number, p0: number, kb: number, dst: Float64Array): void {
  for (let r0 = 0; r0 < mb; r0 += MR) {
    const base = r0 * kb;
    for (let r = 0; r < MR; r++) {
      const i = i0 + r0 + r;
      if (r0 + r >= mb) {
        for (let p = 0; p < kb; p++) dst[base + p * MR + r] = 0;
      } else if (!transA) {
        const src = i * k + p0; // A stored m×k: row i contiguous over p
        for (let p = 0; p < kb; p++) dst[base + p * MR + r] = a[src + p];
      } else {
        const src = p0 * m + i; // A stored k×m: column i, stride m
        for (let p = 0; p < kb; p++) dst[base + p * MR + r] = a[src + p * m];
      }
    }
  }
}

/**
 * Packs columns [j0, j0+nb) × k-range [p0, p0+kb) of op(B) into NR-column
 * micro-panels: dst[c0*kb + p*NR + c] = op(B)(p0+p, j0+c0+c), zero-padded.
 */
function packPanelsB(transB: boolean, b: FloatArray, n: number, k: number, j0: number,
                     nb: number, p0: number, kb: number, dst: Float64Array): void {
  for (let c0 = 0; c0 < nb; c0 += NR) {
    const base = c0 * kb;
    for (let c = 0; c < NR; c++) {
      const j = j0 + c0 + c;
      if (c0 + c >= nb) {
        for (let p = 0; p < kb; p++) dst[base + p * NR + c] = 0;
      } else if (transB) {
        const src = j * k + p0; // B stored n×k: row j contiguous over p
        for (let p = 0; p < kb; p++) dst[base + p * NR + c] = b[src + p];
      } else {
        const src = p0 * n + j; // B stored k×n: column j, stride n
        for (let p = 0; p < kb; p++) dst[base + p * NR + c] = b[src + p * n];
      }
    }
  }
}

/**
 * C block (mb×nb at offset cOff, row stride ldc) += alpha · Ap · Bp over kb.
 * 4×4 register tile: per k step 4 + 4 loads feed 16 multiply-adds.
 */
function kernel4x4(ap: Float64Array, bp: Float64Array, mb: number, nb: number, kb: number,
                   alpha: number, c: FloatArray, ldc: number, cOff: number): void {
  for (let r0 = 0; r0 < mb; r0 += MR) {
    const aBase = r0 * kb;
    const rows = Math.min(MR, mb - r0);
    for (let c0 = 0; c0 < nb; c0 += NR) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let p = 0, x = aBase, y = c0 * kb; p < kb; p++, x += MR, y += NR) {
        const a0 = ap[x], a1 = ap[x + 1], a2 = ap[x + 2], a3 = ap[x + 3];
        let w = bp[y];
        s00 += a0 * w; s10 += a1 * w; s20 += a2 * w; s30 += a3 * w;
        w = bp[y + 1];
        s01 += a0 * w; s11 += a1 * w; s21 += a2 * w; s31 += a3 * w;
        w = bp[y + 2];
        s02 += a0 * w; s12 += a1 * w; s22 += a2 * w; s32 += a3 * w;
        w = bp[y + 3];
        s03 += a0 * w; s13 += a1 * w; s23 += a2 * w; s33 += a3 * w;
      }
      const cols = Math.min(NR, nb - c0);
      let ci = cOff + r0 * ldc + c0;
      if (rows === MR && cols === NR) {
        c[ci] += alpha * s00; c[ci + 1] += alpha * s01; c[ci + 2] += alpha * s02; c[ci + 3] += alpha * s03;
        ci += ldc;
        c[ci] += alpha * s10; c[ci + 1] += alpha * s11; c[ci + 2] += alpha * s12; c[ci + 3] += alpha * s13;
        ci += ldc;
        c[ci] += alpha * s20; c[ci + 1] += alpha * s21; c[ci + 2] += alpha * s22; c[ci + 3] += alpha * s23;
        ci += ldc;
        c[ci] += alpha * s30; c[ci + 1] += alpha * s31; c[ci + 2] += alpha * s32; c[ci + 3] += alpha * s33;
      } else {
        // Edge tile: the padded rows/columns computed zeros that must not be stored.
        edge[0] = s00; edge[1] = s01; edge[2] = s02; edge[3] = s03;
        edge[4] = s10; edge[5] = s11; edge[6] = s12; edge[7] = s13;
        edge[8] = s20; edge[9] = s21; edge[10] = s22; edge[11] = s23;
        edge[12] = s30; edge[13] = s31; edge[14] = s32; edge[15] = s33;
        for (let r = 0; r < rows; r++) {
          for (let q = 0; q < cols; q++) c[ci + r * ldc + q] += alpha * edge[r * NR + q];
        }
      }
    }
  }
}

// Units of work. gemm's loops are cut into units that can be run in any
// contiguous runs, with a pause between runs (the plan's passes yield to the
// event loop there: slices.ts), and give every element of C the same
// arithmetic, in the same order, as one uninterrupted product:
//  - packed path: one unit per (column block j0, depth block p0, row block i0)
//    in the loop order below. An element of C is touched by the units of its
//    own column and row blocks only, once per depth block, in ascending p0, so
//    where the runs are cut changes nothing about its sums.
//  - direct path: one unit per (row i, DIRECT_COLS columns): each element's
//    sum over k is the same loop whichever columns run beside it.
// The packing buffers are shared by every product (of every plan), so a run
// that starts within a (j0, p0) packs that block of B again unless packB still
// holds it (packedB: another product may have run during the pause). A
// product dropped part-way (its plan disposed during a pause) leaves packedB
// referring to its B until the next product packs one.

/** Columns of C per direct-path unit. */
const DIRECT_COLS = 256;

/** What packB holds: the operand, its transpose and shape, and the block (j0, p0). */
const packedB = { b: null as FloatArray | null, transB: false, n: 0, k: 0, j0: -1, p0: -1 };

function packBlockOfB(transB: boolean, b: FloatArray, n: number, k: number, j0: number, nb: number,
                p0: number, kb: number): void {
  packPanelsB(transB, b, n, k, j0, nb, p0, kb, packB);
  packedB.b = b; packedB.transB = transB; packedB.n = n; packedB.k = k; packedB.j0 = j0; packedB.p0 = p0;
}

function holdsB(transB: boolean, b: FloatArray, n: number, k: number, j0: number, p0: number): boolean {
  return packedB.b === b && packedB.transB === transB && packedB.n === n && packedB.k === k &&
    packedB.j0 === j0 && packedB.p0 === p0;
}

function isDirect(m: number, n: number): boolean {
  return m < DIRECT_ROWS || n < NR;
}

/** Units of the product (m, n ≥ 1, k ≥ 1): see "Units of work". */
export function gemmUnitCount(m: number, n: number, k: number): number {
  if (isDirect(m, n)) return m * Math.ceil(n / DIRECT_COLS);
  return Math.ceil(n / NC) * Math.ceil(k / KC) * Math.ceil(m / MC);
}

/** Multiply-adds ×2 of the largest unit, for sizing runs. */
export function gemmUnitFlops(m: number, n: number, k: number): number {
  if (isDirect(m, n)) return 2 * Math.min(n, DIRECT_COLS) * k;
  return 2 * Math.min(MC, m) * Math.min(NC, n) * Math.min(KC, k);
}

/** Packed path, units [from, to) of the BLIS loops jc (NC) → pc (KC, pack B) → ic (MC, pack A) → kernel. */
function gemmPacked(transA: boolean, transB: boolean, m: number, n: number, k: number,
                    alpha: number, a: FloatArray, b: FloatArray, c: FloatArray,
                    from: number, to: number): void {
  const iBlocks = Math.ceil(m / MC);
  const pBlocks = Math.ceil(k / KC);
  let unit = from;
  let ib = from % iBlocks;
  let pb = Math.floor(from / iBlocks) % pBlocks;
  let jb = Math.floor(from / (iBlocks * pBlocks));
  for (; unit < to; jb++, pb = 0) {
    const j0 = jb * NC;
    const nb = Math.min(NC, n - j0);
    for (; pb < pBlocks && unit < to; pb++, ib = 0) {
      const p0 = pb * KC;
      const kb = Math.min(KC, k - p0);
      if (ib === 0 || !holdsB(transB, b, n, k, j0, p0)) packBlockOfB(transB, b, n, k, j0, nb, p0, kb);
      for (; ib < iBlocks && unit < to; ib++, unit++) {
        const i0 = ib * MC;
        const mb = Math.min(MC, m - i0);
        packPanelsA(transA, a, m, k, i0, mb, p0, kb, packA);
        kernel4x4(packA, packB, mb, nb, kb, alpha, c, n, i0 * n + j0);
      }
    }
  }
  // The product is done: no run will ask for its B again, and the reference
  // would keep the operand (a plan's weights, even a disposed plan's) alive.
  if (to === Math.ceil(n / NC) * pBlocks * iBlocks) packedB.b = null;
}

/**
 * Direct path for skinny products (m or n below the tile size), where packing
 * would cost as much as the product; units [from, to), each a row i of C and
 * DIRECT_COLS of its columns [j0, j1). op(A)(i,p) is a[i*aRow + p*aCol].
 *  - B not transposed: row i of C += Σ_p op(A)(i,p) · row p of B (i-p-j), the
 *    inner loop contiguous over j in B and C; four p per pass, so each C
 *    element is loaded and stored once per four multiply-adds.
 *  - B transposed: C(i,j) = dot(op(A) row i, row j of B), B contiguous over p;
 *    four columns j per pass share each load of A.
 */
function gemmDirect(transA: boolean, transB: boolean, m: number, n: number, k: number,
                    alpha: number, a: FloatArray, b: FloatArray, c: FloatArray,
                    from: number, to: number): void {
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  const colBlocks = Math.ceil(n / DIRECT_COLS);
  for (let unit = from; unit < to; unit++) {
    const i = Math.floor(unit / colBlocks);
    const j0 = (unit % colBlocks) * DIRECT_COLS;
    const j1 = Math.min(n, j0 + DIRECT_COLS);
    const ai = i * aRow;
    const ci = i * n;
    if (!transB) {
      let p = 0;
      for (; p + 3 < k; p += 4) {
        const a0 = alpha * a[ai + p * aCol];
        const a1 = alpha * a[ai + (p + 1) * aCol];
        const a2 = alpha * a[ai + (p + 2) * aCol];
        const a3 = alpha * a[ai + (p + 3) * aCol];
        const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
        for (let j = j0; j < j1; j++) {
          c[ci + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
        }
      }
      for (; p < k; p++) {
        const a0 = alpha * a[ai + p * aCol];
        const b0 = p * n;
        for (let j = j0; j < j1; j++) c[ci + j] += a0 * b[b0 + j];
      }
    } else {
      // j0 is a multiple of 4 (DIRECT_COLS is): the same groups of four as one whole row.
      let j = j0;
      for (; j + 3 < j1; j += 4) {
        const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let p = 0, x = ai; p < k; p++, x += aCol) {
          const u = a[x];
          s0 += u * b[b0 + p]; s1 += u * b[b1 + p]; s2 += u * b[b2 + p]; s3 += u * b[b3 + p];
        }
        c[ci + j] += alpha * s0; c[ci + j + 1] += alpha * s1;
        c[ci + j + 2] += alpha * s2; c[ci + j + 3] += alpha * s3;
      }
      for (; j < j1; j++) {
        const b0 = j * k;
        let s = 0;
        for (let p = 0, x = ai; p < k; p++, x += aCol) s += a[x] * b[b0 + p];
        c[ci + j] += alpha * s;
      }
    }
  }
}

/**
 * The first part of a product: C = beta·C. Returns false when nothing is left
 * to add (an empty C, alpha = 0 or k = 0); otherwise gemmUnits adds the rest.
 */
export function gemmBegin(m: number, n: number, k: number, alpha: number, beta: number, c: FloatArray): boolean {
  if (m <= 0 || n <= 0) return false;
  scaleC(m, n, beta, c);
  return alpha !== 0 && k > 0;
}

/** Adds units [from, to) of alpha·op(A)·op(B) to C (after gemmBegin; see "Units of work"). */
export function gemmUnits(transA: boolean, transB: boolean, m: number, n: number, k: number,
                          alpha: number, a: FloatArray, b: FloatArray, c: FloatArray,
                          from: number, to: number): void {
  if (isDirect(m, n)) gemmDirect(transA, transB, m, n, k, alpha, a, b, c, from, to);
  else gemmPacked(transA, transB, m, n, k, alpha, a, b, c, from, to);
}

/**
 * Row-major C = alpha·op(A)·op(B) + beta·C (see the file comment), all units at once.
 * Never allocates: packing buffers are module-level and sized for one block.
 */
export function gemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
                     alpha: number, a: FloatArray, b: FloatArray, beta: number,
                     c: FloatArray): void {
  if (!gemmBegin(m, n, k, alpha, beta, c)) return;
  gemmUnits(transA, transB, m, n, k, alpha, a, b, c, 0, gemmUnitCount(m, n, k));
}

/**
 * gemm as a generator for the plan's passes (slices.ts): the same units in
 * runs of about SLICE_WORK, yielding when the meter says a pause is due. The
 * result is gemm's bit for bit, wherever it pauses.
 */
export function* gemmSteps(meter: WorkMeter, transA: boolean, transB: boolean, m: number, n: number,
                           k: number, alpha: number, a: FloatArray, b: FloatArray, beta: number,
                           c: FloatArray): Generator<void, void> {
  if (!gemmBegin(m, n, k, alpha, beta, c)) return;
  const units = gemmUnitCount(m, n, k);
  const unitFlops = gemmUnitFlops(m, n, k);
  const run = perSlice(unitFlops);
  for (let from = 0; from < units; from += run) {
    const to = Math.min(units, from + run);
    gemmUnits(transA, transB, m, n, k, alpha, a, b, c, from, to);
    if (meter.add(unitFlops * (to - from))) yield;
  }
}

/** Naive triple loop, the reference the tests compare against (BLIS ref_kernels). */
export function gemmRef(transA: boolean, transB: boolean, m: number, n: number, k: number,
                        alpha: number, a: FloatArray, b: FloatArray, beta: number,
                        c: FloatArray): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i] : a[i * k + p];
        const bv = transB ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      c[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * n + j]);
    }
  }
}
