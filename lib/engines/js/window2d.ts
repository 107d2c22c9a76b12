// The window geometry conv2d, convtranspose2d and maxpool2d share
// (lib/engine.ts Window2d, SPEC.md §6): spec validation and the output size
// of a window sliding over an image, ⌊(n + 2p − f)/s⌋ + 1 (torch.nn.Conv2d
// and MaxPool2d with ceil_mode false, no dilation), and the transposed
// conv's s(n − 1) + f − 2p (+ output_padding). Kernels: conv.ts,
// convtranspose.ts, maxpool.ts (im2col.ts).

import type { Window2d } from '../../engine';
import { ArgumentRangeError, ArgumentTypeError } from '../../validate';

/** A validated Window2d with its output size. */
export interface Geometry {
  inH: number;
  inW: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  outH: number;
  outW: number;
}

/**
 * An integer field of a layer spec, at least min: TypeError when it is not a
 * number, RangeError when it is not an integer ≥ min. `at` is "layers[i]".
 */
export function integerField(spec: object, field: string, min: number, at: string): number {
  const v = (spec as Record<string, unknown>)[field];
  const what = `an integer ≥ ${min}`;
  if (typeof v !== 'number') {
    throw new ArgumentTypeError(`Expected ${what} for ${at}.${field} but received ${v === null ? 'null' : typeof v}`);
  }
  if (!Number.isInteger(v) || v < min) {
    throw new ArgumentRangeError(`Expected ${what} for ${at}.${field} but received ${String(v)}`);
  }
  return v;
}

/** The integer fields of a Window2d: sizes and strides ≥ 1, padding ≥ 0. */
function windowFields(spec: Window2d, at: string): Omit<Geometry, 'outH' | 'outW'> {
  return {
    inH: integerField(spec, 'inHeight', 1, at),
    inW: integerField(spec, 'inWidth', 1, at),
    kH: integerField(spec, 'kernelHeight', 1, at),
    kW: integerField(spec, 'kernelWidth', 1, at),
    sH: integerField(spec, 'strideHeight', 1, at),
    sW: integerField(spec, 'strideWidth', 1, at),
    pH: integerField(spec, 'padHeight', 0, at),
    pW: integerField(spec, 'padWidth', 0, at),
  };
}

/**
 * Checks the window fields of a conv2d or maxpool2d spec: sizes and strides
 * ≥ 1, padding ≥ 0, and a kernel no larger than the padded image (torch
 * refuses it: the output would be empty). Pooling also needs padding ≤ half
 * the kernel (torch.nn.functional.max_pool2d's rule, so no window lies wholly
 * in the padding).
 */
export function validateWindow(spec: Window2d, at: string, pooling: boolean): Geometry {
  const { inH, inW, kH, kW, sH, sW, pH, pW } = windowFields(spec, at);
  if (pooling) {
    if (2 * pH > kH) {
      throw new ArgumentRangeError(`Expected at most half of kernelHeight (${kH}) for ${at}.padHeight but received ${pH}`);
    }
    if (2 * pW > kW) {
      throw new ArgumentRangeError(`Expected at most half of kernelWidth (${kW}) for ${at}.padWidth but received ${pW}`);
    }
  }
  if (kH > inH + 2 * pH) {
    throw new ArgumentRangeError(`Expected at most inHeight + 2·padHeight (${inH + 2 * pH}) for ${at}.kernelHeight but received ${kH}`);
  }
  if (kW > inW + 2 * pW) {
    throw new ArgumentRangeError(`Expected at most inWidth + 2·padWidth (${inW + 2 * pW}) for ${at}.kernelWidth but received ${kW}`);
  }
  const outH = Math.floor((inH + 2 * pH - kH) / sH) + 1;
  const outW = Math.floor((inW + 2 * pW - kW) / sW) + 1;
  return { inH, inW, kH, kW, sH, sW, pH, pW, outH, outW };
}

/**
 * Checks the window fields of a convtranspose2d spec (sizes and strides ≥ 1,
 * padding ≥ 0, outPad < stride as torch's output_padding must be) and returns
 * the geometry of the conv2d it is the adjoint of: a window sliding over the
 * transposed conv's *output* image, of outHeight = (inHeight − 1)·strideHeight
 * − 2·padHeight + kernelHeight + outPadHeight (SPEC.md §6, s(n − 1) + f − 2p,
 * plus torch's output_padding), likewise outWidth, both ≥ 1. That conv's
 * output, ⌊(outHeight + 2p − k)/s⌋ + 1 = inHeight since outPad < stride, is
 * the transposed conv's input. With outPad > 0 the last outPad rows (columns)
 * of the output lie in no window.
 */
export function validateTransposedWindow(spec: Window2d & { outPadHeight: number; outPadWidth: number },
                                         at: string): Geometry {
  const { inH, inW, kH, kW, sH, sW, pH, pW } = windowFields(spec, at);
  const opH = integerField(spec, 'outPadHeight', 0, at);
  const opW = integerField(spec, 'outPadWidth', 0, at);
  if (opH >= sH) {
    throw new ArgumentRangeError(`Expected less than strideHeight (${sH}) for ${at}.outPadHeight but received ${opH}`);
  }
  if (opW >= sW) {
    throw new ArgumentRangeError(`Expected less than strideWidth (${sW}) for ${at}.outPadWidth but received ${opW}`);
  }
  // Only the padding can make the output empty: the other terms are ≥ 1 together.
  const outH = (inH - 1) * sH - 2 * pH + kH + opH;
  const outW = (inW - 1) * sW - 2 * pW + kW + opW;
  if (outH < 1) {
    const most = Math.floor(((inH - 1) * sH + kH + opH - 1) / 2);
    throw new ArgumentRangeError(`Expected at most ${most} for ${at}.padHeight (outHeight = (inHeight − 1)·strideHeight − 2·padHeight + kernelHeight + outPadHeight must be ≥ 1) but received ${pH}`);
  }
  if (outW < 1) {
    const most = Math.floor(((inW - 1) * sW + kW + opW - 1) / 2);
    throw new ArgumentRangeError(`Expected at most ${most} for ${at}.padWidth (outWidth = (inWidth − 1)·strideWidth − 2·padWidth + kernelWidth + outPadWidth must be ≥ 1) but received ${pW}`);
  }
  return { inH: outH, inW: outW, kH, kW, sH, sW, pH, pW, outH: inH, outW: inW };
}

/**
 * Checks that channels·inHeight·inWidth is the width before the layer; the
 * message names the channel field (inChannels or channels).
 */
export function checkImageWidth(channels: number, g: { inH: number; inW: number }, width: number, channelField: string, at: string): void {
  const inF = channels * g.inH * g.inW;
  if (inF !== width) {
    throw new ArgumentRangeError(`Expected ${channelField}·inHeight·inWidth ${width} (the width before it) for ${at} but received ${channels}·${g.inH}·${g.inW} = ${inF}`);
  }
}

/** Input and output widths must fit a typed array index: refuse absurd sizes with a coded error, not a crash. */
export function checkSize(n: number, what: string, at: string): void {
  if (n > 2 ** 31 - 1) {
    throw new ArgumentRangeError(`Expected ${what} below 2^31 for ${at} but received ${n}`);
  }
}
