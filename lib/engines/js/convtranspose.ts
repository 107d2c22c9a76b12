// convtranspose2d for the pure-TypeScript engine: torch.nn.functional.
// conv_transpose2d(x, weight, bias, stride, padding, output_padding) (no
// dilation or groups; SPEC.md §6) on rows holding images flattened as torch's
// x.flatten(1) (NCHW).
//
// A transposed convolution is the adjoint of a convolution (Dumoulin, Visin,
// "A guide to convolution arithmetic for deep learning", 2016, §4), so it is
// conv2d (conv.ts) run backwards with the same im2col/col2im (im2col.ts). Let
// G be the conv2d geometry whose input is this layer's output image
// (outH × outW) and whose output is this layer's input (inH × inW; window2d.ts
// validateTransposedWindow). With W seen as inC × K (K = outC·kH·kW, torch's
// ConvTranspose2d weight layout read row-major) and x_n as inC × P
// (P = inH·inW):
//
//   forward   col = Wᵀ · x_n (K × P),  y_n = col2im_G(col) + b
//   backward  dcol = im2col_G(dy_n) (K × P),  dx_n = W · dcol,
//             dW = Σ_n x_n · dcolᵀ,  db = Σ over rows and positions of dy.
//
// Output elements in no window (the last outPad rows and columns) get only the
// bias forward and send nothing back. As in conv.ts, rows go through in blocks
// of blockRows images side by side (col is K × blockRows·P, bounded by
// COL_BUDGET), the scratch (col, xBlock) is sized by the plan's reserve(),
// never per step, and dW is summed over blocks in a fixed order, so results
// are bit-identical from run to run.

import type { FloatArray } from '../../engine';
import { gemm } from './gemm';
import { col2im, gatherImages, im2col, scatterImages } from './im2col';
import { biasGradient, product, type ConvolutionFields } from './conv';
import { SCAN_WORK, type WorkMeter } from './slices';

/** ConvolutionFields with K = outC·kH·kW and P = inH·inW (g is the conv2d over this layer's output image). */
export interface ConvTranspose2dLayer extends ConvolutionFields {
  kind: 'convtranspose2d';
  /** inC × blockRows·P: a block's input images side by side, then (backward) their gradient. */
  xBlock: FloatArray;
}

/** out rows [r0, r0 + n) += the bias of each output channel, on every position. */
function addBias(layer: ConvTranspose2dLayer, out: FloatArray, r0: number, n: number): void {
  const { outC, outF, bias } = layer;
  const plane = layer.g.inH * layer.g.inW;
  for (let m = 0; m < n; m++) {
    for (let c = 0; c < outC; c++) {
      const b = bias[c];
      const from = (r0 + m) * outF + c * plane;
      for (let p = from; p < from + plane; p++) out[p] += b;
    }
  }
}

/** Work of one block's forward for the meter: the product's FLOPs, the gather, the fold and the bias. */
function forwardBlockWork(layer: ConvTranspose2dLayer, n: number): number {
  const { inC, K, P, outF } = layer;
  return n * (P * (2 * inC * K + (inC + K) * SCAN_WORK) + outF * SCAN_WORK);
}

/** The forward's work for rows (plan-passes.ts's meter). */
export function convTransposeForwardWork(layer: ConvTranspose2dLayer, rows: number): number {
  return forwardBlockWork(layer, rows);
}

/** Forward of rows rows of x into out, whole. */
export function convTransposeForward(layer: ConvTranspose2dLayer, x: FloatArray, out: FloatArray, rows: number): void {
  const { inC, outC, outF, K, P, blockRows, g } = layer;
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const n = Math.min(blockRows, rows - r0);
    gatherImages(inC, P, x, r0, n, layer.xBlock);
    // col (K × N) = Wᵀ (K × inC) · xBlock (inC × N)
    gemm(true, false, K, n * P, inC, 1, layer.weight, layer.xBlock, 0, layer.col);
    col2im(g, outC, outF, layer.col, out, r0, n);
    addBias(layer, out, r0, n);
  }
}

/** convTransposeForward in slices: yields when the meter says a pause is due (slices.ts). Same values. */
export function* convTransposeForwardSteps(meter: WorkMeter, layer: ConvTranspose2dLayer, x: FloatArray,
                                           out: FloatArray, rows: number): Generator<void, void> {
  const { inC, outC, outF, K, P, blockRows, g } = layer;
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const n = Math.min(blockRows, rows - r0);
    gatherImages(inC, P, x, r0, n, layer.xBlock);
    yield* product(meter, true, false, K, n * P, inC, layer.weight, layer.xBlock, 0, layer.col);
    col2im(g, outC, outF, layer.col, out, r0, n);
    addBias(layer, out, r0, n);
    if (meter.add(n * (P * (inC + K) + outF) * SCAN_WORK)) yield;
  }
}

/**
 * Backward from dy (rows × outF) given the layer's input x: writes dWeight and
 * dBias (the batch's gradients, not accumulated across steps), and dx when it
 * is not null (null: the first learnable layer, whose input needs none).
 */
export function* convTransposeBackwardSteps(meter: WorkMeter, layer: ConvTranspose2dLayer, x: FloatArray,
                                            dy: FloatArray, dx: FloatArray | null,
                                            rows: number): Generator<void, void> {
  const { inC, outC, outF, K, P, blockRows, g, dWeight, dBias } = layer;
  const plane = g.inH * g.inW;
  biasGradient(dBias, dy, rows, outC, plane);
  if (meter.add(rows * outF * SCAN_WORK)) yield;
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const n = Math.min(blockRows, rows - r0);
    const N = n * P;
    gatherImages(inC, P, x, r0, n, layer.xBlock);
    im2col(g, outC, outF, dy, r0, n, layer.col);
    if (meter.add(N * (K + inC) * SCAN_WORK)) yield;
    // dW (inC × K) (+)= xBlock (inC × N) · dcol (K × N)ᵀ; the first block overwrites.
    yield* product(meter, false, true, inC, K, N, layer.xBlock, layer.col, r0 === 0 ? 0 : 1, dWeight);
    if (dx === null) continue;
    // dx block (inC × N) = W (inC × K) · dcol (K × N), into xBlock (read by dW already).
    yield* product(meter, false, false, inC, N, K, layer.weight, layer.col, 0, layer.xBlock);
    scatterImages(inC, P, layer.xBlock, dx, r0, n);
    if (meter.add(N * inC * SCAN_WORK)) yield;
  }
}
