// Unrolling of sliding windows (im2col) and its adjoint (col2im), shared by
// conv2d (conv.ts) and convtranspose2d (convtranspose.ts) in the
// pure-TypeScript engine. A Geometry g describes a window sliding over an
// image of g.inH × g.inW with `channels` channels; rows hold such images
// flattened as torch's x.flatten(1) (NCHW), rowWidth apart. For a block of n
// rows starting at r0, col is K × n·P (K = channels·kH·kW, P = outH·outW):
// col[k][m·P + p] is image element (c, oh·sH − pH + i, ow·sW − pW + j) of row
// r0 + m, or 0 in the padding, for k = (c·kH + i)·kW + j and p = oh·outW + ow
// (Chellapilla, Puri, Simard, IWFHR 2006).
//
// conv2d unrolls its input with them; convtranspose2d is conv2d run backwards,
// so it unrolls its output gradient and folds (col2im) its forward's columns.

import type { FloatArray } from '../../engine';
import type { Geometry } from './window2d';

/** col (channels·kH·kW × n·P) = the windows of rows [r0, r0 + n) of src. */
export function im2col(g: Geometry, channels: number, rowWidth: number, src: FloatArray, r0: number, n: number,
                       col: FloatArray): void {
  const { inH, inW, kH, kW, sH, sW, pH, pW, outH, outW } = g;
  const P = outH * outW;
  const N = n * P;
  const plane = inH * inW;
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < kH; i++) {
      for (let j = 0; j < kW; j++) {
        const rowBase = ((c * kH + i) * kW + j) * N;
        for (let m = 0; m < n; m++) {
          const from = (r0 + m) * rowWidth + c * plane;
          let dst = rowBase + m * P;
          for (let oh = 0; oh < outH; oh++) {
            const ih = oh * sH - pH + i;
            if (ih < 0 || ih >= inH) {
              col.fill(0, dst, dst + outW);
              dst += outW;
              continue;
            }
            const line = from + ih * inW;
            for (let ow = 0, iw = j - pW; ow < outW; ow++, iw += sW, dst++) {
              col[dst] = iw >= 0 && iw < inW ? src[line + iw] : 0;
            }
          }
        }
      }
    }
  }
}

/**
 * dst rows [r0, r0 + n) = col2im of col: zeroed, then each column entry added
 * to the image element it came from (overlapping windows add up; padding
 * entries are dropped; elements no window covers stay 0).
 */
export function col2im(g: Geometry, channels: number, rowWidth: number, col: FloatArray, dst: FloatArray, r0: number,
                       n: number): void {
  const { inH, inW, kH, kW, sH, sW, pH, pW, outH, outW } = g;
  const P = outH * outW;
  const N = n * P;
  const plane = inH * inW;
  dst.fill(0, r0 * rowWidth, (r0 + n) * rowWidth);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < kH; i++) {
      for (let j = 0; j < kW; j++) {
        const rowBase = ((c * kH + i) * kW + j) * N;
        for (let m = 0; m < n; m++) {
          const dstPlane = (r0 + m) * rowWidth + c * plane;
          let src = rowBase + m * P;
          for (let oh = 0; oh < outH; oh++) {
            const ih = oh * sH - pH + i;
            if (ih < 0 || ih >= inH) {
              src += outW;
              continue;
            }
            const line = dstPlane + ih * inW;
            for (let ow = 0, iw = j - pW; ow < outW; ow++, iw += sW, src++) {
              if (iw >= 0 && iw < inW) dst[line + iw] += col[src];
            }
          }
        }
      }
    }
  }
}

/**
 * block (channels × n·P) = rows [r0, r0 + n) of src (rowWidth = channels·P
 * apart) with the images side by side: channel c of row r0 + m at c·n·P + m·P.
 */
export function gatherImages(channels: number, P: number, src: FloatArray, r0: number, n: number,
                             block: FloatArray): void {
  const N = n * P;
  const rowWidth = channels * P;
  for (let m = 0; m < n; m++) {
    for (let c = 0; c < channels; c++) {
      const dst = c * N + m * P;
      const from = (r0 + m) * rowWidth + c * P;
      for (let p = 0; p < P; p++) block[dst + p] = src[from + p];
    }
  }
}

/** gatherImages' inverse: rows [r0, r0 + n) of dst = block rearranged to NCHW rows. */
export function scatterImages(channels: number, P: number, block: FloatArray, dst: FloatArray, r0: number,
                              n: number): void {
  const N = n * P;
  const rowWidth = channels * P;
  for (let m = 0; m < n; m++) {
    for (let c = 0; c < channels; c++) {
      const from = c * N + m * P;
      const to = (r0 + m) * rowWidth + c * P;
      for (let p = 0; p < P; p++) dst[to + p] = block[from + p];
    }
  }
}
