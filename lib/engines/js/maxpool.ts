// maxpool2d for the pure-TypeScript engine: torch.nn.functional.max_pool2d
// (ceil_mode false, no dilation; SPEC.md §6) over each channel of rows holding
// images flattened as x.flatten(1) (NCHW).
//
// Padding counts as −∞, so a window is its part inside the image (never empty:
// padding is at most half the kernel). Each window is scanned in row-major
// order and an element replaces the running maximum when it is greater or is
// NaN, starting from −∞ at the window's first element inside the image: the
// rule of PyTorch's CPU kernel (aten/src/ATen/native/cpu/MaxPoolKernel.cpp,
// `(val > maxval) || std::isnan(val)`), so ties go to the first maximum, a
// NaN wins (the last NaN of the window), and a window of −∞ picks its first
// element. Backward recomputes that argmax from the layer's input, which the
// plan keeps for backward, instead of storing indices: no memory, and the
// same scan gives the same element.

import type { FloatArray } from '../../engine';
import { POOL_WORK, perSlice, type WorkMeter } from './slices';
import type { Geometry } from './window2d';

export interface MaxPool2dLayer {
  kind: 'maxpool2d';
  channels: number;
  inF: number; // channels·inH·inW
  outF: number; // channels·outH·outW
  g: Geometry;
}

/**
 * Index within the plane (ih·inW + iw) of the maximum of output (oh, ow)'s
 * window over plane x[base .. base + inH·inW), by the rule above.
 */
function argmax(g: Geometry, x: FloatArray, base: number, oh: number, ow: number): number {
  const { inH, inW, kH, kW, sH, sW, pH, pW } = g;
  const h0 = oh * sH - pH;
  const w0 = ow * sW - pW;
  const ih0 = Math.max(h0, 0);
  const ih1 = Math.min(h0 + kH, inH);
  const iw0 = Math.max(w0, 0);
  const iw1 = Math.min(w0 + kW, inW);
  let best = ih0 * inW + iw0;
  let max = -Infinity;
  for (let ih = ih0; ih < ih1; ih++) {
    for (let iw = iw0; iw < iw1; iw++) {
      const at = ih * inW + iw;
      const v = x[base + at];
      if (v > max || v !== v) {
        max = v;
        best = at;
      }
    }
  }
  return best;
}

/** out (rows × outF) = the maximum of every window of every channel of x (rows × inF). */
export function maxpoolForward(layer: MaxPool2dLayer, x: FloatArray, out: FloatArray, rows: number): void {
  const { g } = layer;
  const plane = g.inH * g.inW;
  const planes = rows * layer.channels;
  let o = 0;
  for (let q = 0; q < planes; q++) {
    const base = q * plane;
    for (let oh = 0; oh < g.outH; oh++) {
      for (let ow = 0; ow < g.outW; ow++) out[o++] = x[base + argmax(g, x, base, oh, ow)];
    }
  }
}

/** dx (rows × inF) = each output's gradient added at its window's maximum in x, zero elsewhere. */
export function maxpoolBackward(layer: MaxPool2dLayer, x: FloatArray, dy: FloatArray, dx: FloatArray, rows: number): void {
  const { g } = layer;
  const plane = g.inH * g.inW;
  const planes = rows * layer.channels;
  dx.fill(0, 0, rows * layer.inF);
  let o = 0;
  for (let q = 0; q < planes; q++) {
    const base = q * plane;
    for (let oh = 0; oh < g.outH; oh++) {
      for (let ow = 0; ow < g.outW; ow++) dx[base + argmax(g, x, base, oh, ow)] += dy[o++];
    }
  }
}

/** Work of a forward or backward for the meter (slices.ts): POOL_WORK per window element. */
export function maxpoolWork(layer: MaxPool2dLayer, rows: number): number {
  return rows * layer.outF * layer.g.kH * layer.g.kW * POOL_WORK;
}

/**
 * run(r, n) over blocks of n images from row r, pausing when the meter says
 * so: each image's windows read only that image, so blocks give the values
 * of one call over all rows.
 */
function* inImageBlocks(meter: WorkMeter, layer: MaxPool2dLayer, rows: number,
                        run: (r: number, n: number) => void): Generator<void, void> {
  const block = perSlice(maxpoolWork(layer, 1));
  for (let r = 0; r < rows; r += block) {
    const n = Math.min(block, rows - r);
    run(r, n);
    if (meter.add(maxpoolWork(layer, n))) yield;
  }
}

/** maxpoolForward in blocks of images (inImageBlocks). */
export function maxpoolForwardSteps(meter: WorkMeter, layer: MaxPool2dLayer, x: FloatArray, out: FloatArray,
                                    rows: number): Generator<void, void> {
  const { inF, outF } = layer;
  return inImageBlocks(meter, layer, rows, (r, n) => maxpoolForward(layer, x.subarray(r * inF), out.subarray(r * outF), n));
}

/** maxpoolBackward in blocks of images (inImageBlocks). */
export function maxpoolBackwardSteps(meter: WorkMeter, layer: MaxPool2dLayer, x: FloatArray, dy: FloatArray,
                                     dx: FloatArray, rows: number): Generator<void, void> {
  const { inF, outF } = layer;
  return inImageBlocks(meter, layer, rows,
    (r, n) => maxpoolBackward(layer, x.subarray(r * inF), dy.subarray(r * outF), dx.subarray(r * inF), n));
}
