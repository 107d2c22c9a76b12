// conv2d for the pure-TypeScript engine: torch.nn.functional.conv2d
// (cross-correlation, zero padding, no dilation or groups; SPEC.md §6) on rows
// holding images flattened as torch's x.flatten(1) (NCHW).
//
// im2col + gemm (Chellapilla, Puri, Simard, "High Performance Convolutional
// Neural Networks for Document Processing", IWFHR 2006): the receptive fields
// are unrolled into the columns of a matrix, so the convolution becomes one
// matrix product with the weights seen as outC × K (K = inC·kH·kW, torch's
// weight layout read row-major). With P = outH·outW positions per image:
//
//   forward   Y (outC × P) = W (outC × K) · col (K × P) + b
//   backward  dW = Σ_n dY_n · col_nᵀ,  db = Σ over rows and positions of dY,
//             dcol = Wᵀ · dY_n, scattered back into dx (col2im, adding where
//             windows overlap). im2col and col2im: im2col.ts, shared with
//             convtranspose2d (convtranspose.ts).
//
// Rows go through in blocks of blockRows images side by side (col is
// K × blockRows·P), so a small image still gives gemm a wide product and the
// scratch stays bounded (COL_BUDGET) whatever the batch. The scratch (col and
// yBlock) is allocated by the plan's reserve(), never per step. Gemm operands
// always start at index 0 of their arrays (gemm.ts's contract), so blocks are
// gathered into yBlock rather than viewed with subarray (which allocates).
// dW over blocks is summed in a fixed order (beta 1 after the first block), so
// results are bit-identical from run to run.

import type { FloatArray } from '../../engine';
import { gemm, gemmSteps } from './gemm';
import { SCAN_WORK, SLICE_WORK, pauseIf, type WorkMeter } from './slices';
import type { Geometry } from './window2d';
import { col2im, gatherImages, im2col } from './im2col';

/** What a conv2d and a convtranspose2d layer of the plan both hold (the shapes each gives K and P are theirs). */
export interface ConvolutionFields {
  inF: number; // inC·inH·inW
  outF: number; // outC·outH·outW
  inC: number;
  outC: number;
  /** The conv2d geometry col is unrolled over (a convtranspose2d's is over its output image). */
  g: Geometry;
  /** Rows of col. */
  K: number;
  /** Columns of col per image: g.outH·g.outW. */
  P: number;
  weight: FloatArray; // view into params (conv2d outC × K, convtranspose2d inC × K)
  bias: FloatArray; // view (outC) into params
  dWeight: FloatArray; // views into grads, same layout
  dBias: FloatArray;
  /** Images per block (≥ 1; ≤ the plan's capacity); 0 until the plan's reserve() sizes the scratch. */
  blockRows: number;
  /** K × blockRows·P: the unrolled windows of a block. */
  col: FloatArray;
}

export interface Conv2dLayer extends ConvolutionFields {
  kind: 'conv2d';
  /** outC × blockRows·P: a block's output (forward) or upstream gradient (backward). */
  yBlock: FloatArray;
}

/** Elements of col a block may hold (1 MB of doubles), unless one image needs more. */
export const COL_BUDGET = 2 ** 17;

/** Images per block for a plan of `capacity` rows (conv2d's or convtranspose2d's col: K × P an image). */
export function convBlockRows(layer: { K: number; P: number }, capacity: number): number {
  return Math.max(1, Math.min(capacity, Math.floor(COL_BUDGET / (layer.K * layer.P))));
}

/** out rows [r0, r0 + n) = yBlock (outC × n·P) rearranged to NCHW rows, plus the bias. */
function scatterOutput(layer: Conv2dLayer, out: FloatArray, r0: number, n: number): void {
  const { outC, outF, P, yBlock, bias } = layer;
  const N = n * P;
  for (let m = 0; m < n; m++) {
    for (let c = 0; c < outC; c++) {
      const b = bias[c];
      const src = c * N + m * P;
      const dst = (r0 + m) * outF + c * P;
      for (let p = 0; p < P; p++) out[dst + p] = yBlock[src + p] + b;
    }
  }
}

/** Work of one block's forward for the meter: the product's FLOPs, the unrolling and the scatter. */
function forwardBlockWork(layer: Conv2dLayer, n: number): number {
  return n * layer.P * (2 * layer.outC * layer.K + (layer.K + layer.outC) * SCAN_WORK);
}

/** The forward's work for rows (plan-passes.ts's meter). */
export function convForwardWork(layer: Conv2dLayer, rows: number): number {
  return forwardBlockWork(layer, rows);
}

/** Forward of rows rows of x into out, whole. */
export function convForward(layer: Conv2dLayer, x: FloatArray, out: FloatArray, rows: number): void {
  const { outC, K, P, blockRows } = layer;
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const n = Math.min(blockRows, rows - r0);
    im2col(layer.g, layer.inC, layer.inF, x, r0, n, layer.col);
    gemm(false, false, outC, n * P, K, 1, layer.weight, layer.col, 0, layer.yBlock);
    scatterOutput(layer, out, r0, n);
  }
}

/** convForward in slices: yields when the meter says a pause is due (slices.ts). Same values. */
export function* convForwardSteps(meter: WorkMeter, layer: Conv2dLayer, x: FloatArray, out: FloatArray,
                                  rows: number): Generator<void, void> {
  const { outC, K, P, blockRows } = layer;
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const n = Math.min(blockRows, rows - r0);
    im2col(layer.g, layer.inC, layer.inF, x, r0, n, layer.col);
    yield* product(meter, false, false, outC, n * P, K, layer.weight, layer.col, 0, layer.yBlock);
    scatterOutput(layer, out, r0, n);
    if (meter.add(n * P * (K + outC) * SCAN_WORK)) yield;
  }
}

/**
 * dBias[c] = Σ over the rows and positions of channel c of dy (rows of
 * channels × P values), summed in double: a convolution's bias gradient
 * (conv2d's and convtranspose2d's alike).
 */
export function biasGradient(dBias: FloatArray, dy: FloatArray, rows: number, channels: number, P: number): void {
  const width = channels * P;
  for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) {
      const from = r * width + c * P;
      for (let p = from; p < from + P; p++) s += dy[p];
    }
    dBias[c] = s;
  }
}

/**
 * Backward from dy (rows × outF) given the layer's input x: writes dWeight and
 * dBias (the batch's gradients, not accumulated across steps), and dx when it
 * is not null (null: the first learnable layer, whose input needs none).
 */
export function* convBackwardSteps(meter: WorkMeter, layer: Conv2dLayer, x: FloatArray, dy: FloatArray,
                                   dx: FloatArray | null, rows: number): Generator<void, void> {
  const { outC, outF, K, P, blockRows, dWeight, dBias } = layer;
  biasGradient(dBias, dy, rows, outC, P);
  if (meter.add(rows * outF * SCAN_WORK)) yield;
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const n = Math.min(blockRows, rows - r0);
    const N = n * P;
    gatherImages(outC, P, dy, r0, n, layer.yBlock);
    im2col(layer.g, layer.inC, layer.inF, x, r0, n, layer.col);
    if (meter.add(N * (K + outC) * SCAN_WORK)) yield;
    // dW (outC × K) (+)= dY_block (outC × N) · col (K × N)ᵀ; the first block overwrites.
    yield* product(meter, false, true, outC, K, N, layer.yBlock, layer.col, r0 === 0 ? 0 : 1, dWeight);
    if (dx === null) continue;
    // dcol (K × N) = Wᵀ (K × outC) · dY_block (outC × N), into col (read by dW already).
    yield* product(meter, true, false, K, N, outC, layer.weight, layer.yBlock, 0, layer.col);
    col2im(layer.g, layer.inC, layer.inF, layer.col, dx, r0, n);
    if (meter.add(N * K * SCAN_WORK)) yield;
  }
}

/**
 * C = op(A)·op(B) + beta·C inside a generator: whole through gemm when it is
 * within one slice of work (no generator of its own), otherwise gemm's units
 * in slices (the same values either way, gemm.ts).
 */
export function product(meter: WorkMeter, transA: boolean, transB: boolean, m: number, n: number, k: number,
                 a: FloatArray, b: FloatArray, beta: number, c: FloatArray): Iterable<void> {
  const flops = 2 * m * n * k;
  if (flops > SLICE_WORK) return gemmSteps(meter, transA, transB, m, n, k, 1, a, b, beta, c);
  gemm(transA, transB, m, n, k, 1, a, b, beta, c);
  return pauseIf(meter.add(flops));
}
