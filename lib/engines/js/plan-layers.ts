// The layers of the TypeScript engine's plan (plan.ts): their shapes, spec
// validation, views into the plan's flat buffers, and the backward of the
// regularisation and normalisation layers (kernels in dropout.ts, norm.ts,
// prelu.ts; conv2d, convtranspose2d and maxpool2d in conv.ts,
// convtranspose.ts, maxpool.ts, window2d.ts). Same
// checks and layouts as native/core/network.cc.

import type { Dtype, FloatArray, LayerSpec } from '../../engine';
import { activationKernel, type ActivationKernel } from './activations';
import { dropoutBackward } from './dropout';
import { batchnormBackward, layernormBackward } from './norm';
import { preluBackward } from './prelu';
import type { Conv2dLayer, ConvolutionFields } from './conv';
import type { ConvTranspose2dLayer } from './convtranspose';
import type { MaxPool2dLayer } from './maxpool';
import { checkImageWidth, checkSize, integerField, validateTransposedWindow, validateWindow, type Geometry } from './window2d';
import { alloc, copy, isCount } from './plan-arrays';
import { ArgumentTypeError, ArgumentRangeError } from '../../validate';
import { COUNT_SLOTS } from '../../batch-count';

export interface DenseLayer {
  kind: 'dense';
  inF: number;
  outF: number;
  weight: FloatArray; // view (outF × inF) into params
  bias: FloatArray; // view (outF) into params
  dWeight: FloatArray; // views into grads, same layout
  dBias: FloatArray;
  l1: number;
  l2: number;
}

export interface ActivationLayer {
  kind: 'activation';
  /** The activation with its parameters bound, resolved once at compile time. */
  kernel: ActivationKernel;
  width: number;
}

export interface DropoutLayer {
  kind: 'dropout';
  p: number;
  width: number;
  mask: FloatArray; // capacity × width, the last training forward's mask
}

/** Batch norm and layer norm share a shape: optional affine views and stats. */
export interface NormLayer {
  kind: 'batchnorm' | 'layernorm';
  width: number;
  eps: number;
  momentum: number | null; // batch norm only; null: cumulative average (torch's momentum=None)
  trackRunningStats: boolean; // batch norm only; false: batch statistics in eval too, no buffers
  gamma: FloatArray | null; // views into params (null without affine)
  beta: FloatArray | null;
  dGamma: FloatArray | null;
  dBeta: FloatArray | null;
  runningMean: FloatArray; // views into buffers (batch norm; empty for layer norm)
  runningVar: FloatArray;
  /** num_batches_tracked as three base-2^24 digits (lib/batch-count.ts). */
  tracked: FloatArray;
  /**
   * μ and 1/σ used by a forward, twice: [mean, invstd] of the training forward
   * that backward differentiates, then [mean, invstd] of predict. Batch norm:
   * C values each, then 2C of backward scratch; layer norm: capacity values
   * each (one per row). Views made once (here and in reserve), so steps
   * allocate nothing.
   */
  stats: FloatArray[];
}

export interface PReLULayer {
  kind: 'prelu';
  width: number;
  slopes: number;
  weight: FloatArray;
  dWeight: FloatArray;
}

export type Layer = DenseLayer | ActivationLayer | DropoutLayer | NormLayer | PReLULayer | Conv2dLayer | ConvTranspose2dLayer
  | MaxPool2dLayer;

/** A layer's sizes and offsets, found while validating the spec. */
export interface Shape {
  spec: LayerSpec;
  inF: number;
  outF: number;
  off: number; // first parameter, or -1
  bufOff: number; // first buffer, or -1
}

/**
 * Consecutive views of n values: training mean, invstd, predict mean, invstd,
 * and (batch norm, whose buffer is 6n long) a 2n backward scratch.
 */
export function splitStats(buf: FloatArray, n: number): FloatArray[] {
  const views = [0, 1, 2, 3].map((k) => buf.subarray(k * n, (k + 1) * n));
  if (buf.length > 4 * n) views.push(buf.subarray(4 * n));
  return views;
}

/** Views into the flat buffers (params, grads, buffers) for one validated layer. */
export function buildLayer(s: Shape, dtype: Dtype, params: FloatArray, grads: FloatArray, buffers: FloatArray): Layer {
  const { spec, inF, outF, off, bufOff } = s;
  const view = (buf: FloatArray, from: number, n: number) => buf.subarray(from, from + n);
  // A convolution's shapes and views: col has K = colChannels·kH·kW rows; the weight is K times the other channel count.
  const convolution = (g: Geometry, inC: number, outC: number, colChannels: number): ConvolutionFields => {
    const K = colChannels * g.kH * g.kW;
    const w = inC * outC * g.kH * g.kW;
    return {
      inF, outF, inC, outC, g, K, P: g.outH * g.outW,
      weight: view(params, off, w), bias: view(params, off + w, outC),
      dWeight: view(grads, off, w), dBias: view(grads, off + w, outC),
      // Sized by the plan's reserve() (plan-memory.ts).
      blockRows: 0, col: alloc(dtype, 0),
    };
  };
  switch (spec.kind) {
    case 'dense': {
      const w = outF * inF;
      return {
        kind: 'dense', inF, outF, l1: spec.l1 ?? 0, l2: spec.l2 ?? 0,
        weight: view(params, off, w), bias: view(params, off + w, outF),
        dWeight: view(grads, off, w), dBias: view(grads, off + w, outF),
      };
    }
    case 'activation':
      return { kind: 'activation', kernel: activationKernel(spec.activation, spec), width: inF };
    case 'dropout':
      return { kind: 'dropout', p: spec.p, width: inF, mask: alloc(dtype, 0) };
    case 'prelu':
      return {
        kind: 'prelu', width: inF, slopes: spec.numParameters,
        weight: view(params, off, spec.numParameters), dWeight: view(grads, off, spec.numParameters),
      };
    case 'conv2d': {
      const g = validateWindow(spec, 'conv2d', false);
      return { kind: 'conv2d', ...convolution(g, spec.inChannels, spec.outChannels, spec.inChannels), yBlock: alloc(dtype, 0) };
    }
    case 'convtranspose2d': {
      const g = validateTransposedWindow(spec, 'convtranspose2d');
      return { kind: 'convtranspose2d', ...convolution(g, spec.inChannels, spec.outChannels, spec.outChannels), xBlock: alloc(dtype, 0) };
    }
    case 'maxpool2d':
      return { kind: 'maxpool2d', channels: spec.channels, inF, outF, g: validateWindow(spec, 'maxpool2d', true) };
    case 'batchnorm':
    case 'layernorm': {
      const affine = off >= 0;
      const bn = spec.kind === 'batchnorm';
      const layer: NormLayer = {
        kind: spec.kind, width: inF, eps: spec.eps, momentum: bn ? spec.momentum : 0,
        trackRunningStats: bn && bufOff >= 0,
        gamma: affine ? view(params, off, inF) : null, beta: affine ? view(params, off + inF, inF) : null,
        dGamma: affine ? view(grads, off, inF) : null, dBeta: affine ? view(grads, off + inF, inF) : null,
        runningMean: bufOff >= 0 ? view(buffers, bufOff, inF) : alloc(dtype, 0),
        runningVar: bufOff >= 0 ? view(buffers, bufOff + inF, inF) : alloc(dtype, 0),
        tracked: bufOff >= 0 ? view(buffers, bufOff + 2 * inF, COUNT_SLOTS) : alloc(dtype, 0),
        stats: splitStats(alloc(dtype, bn ? 6 * inF : 0), bn ? inF : 0),
      };
      layer.runningVar.fill(1); // torch.nn.BatchNorm1d.reset_running_stats
      return layer;
    }
  }
}

/**
 * Backward of a layer other than dense and activation; x is its input, dx null:
 * parameter gradients only. forwardTraining: the mode of the forward.
 */
export function otherBackward(layer: DropoutLayer | NormLayer | PReLULayer, x: FloatArray, dy: FloatArray,
                              dx: FloatArray | null, rows: number, forwardTraining: boolean): void {
  const C = layer.width;
  switch (layer.kind) {
    case 'dropout':
      if (dx === null) return;
      if (forwardTraining) dropoutBackward(dx, dy, layer.mask, rows * C);
      else copy(dy, 0, dx, 0, rows * C);
      return;
    case 'prelu':
      layer.dWeight.fill(0);
      preluBackward(dx, layer.dWeight, dy, x, layer.weight, rows, C, layer.slopes);
      return;
    case 'batchnorm':
    case 'layernorm': {
      layer.dGamma?.fill(0);
      layer.dBeta?.fill(0);
      if (layer.kind === 'batchnorm') {
        batchnormBackward(dx, layer.dGamma, layer.dBeta, dy, x, layer.gamma, layer.stats[0]!,
          layer.stats[1]!, rows, C, forwardTraining || !layer.trackRunningStats, layer.stats[4]!);
      } else {
        layernormBackward(dx, layer.dGamma, layer.dBeta, dy, x, layer.gamma, layer.stats[0]!,
          layer.stats[1]!, rows, C);
      }
      return;
    }
  }
}

/** The layer kinds whose spec fixes the network's input width when it comes first among them. */
export type WidthFixingKind = 'dense' | 'conv2d' | 'convtranspose2d' | 'maxpool2d';
export const WIDTH_FIXING_KINDS: readonly string[] = ['dense', 'conv2d', 'convtranspose2d', 'maxpool2d'];

/**
 * The network's input width, fixed by its first dense, conv2d,
 * convtranspose2d or maxpool2d layer (at index i): inFeatures (checked with
 * the layer later), or channels·inHeight·inWidth, whose fields are checked
 * here first so a layer before it is not checked against a meaningless width.
 */
export function inputWidth(layer: LayerSpec & { kind: WidthFixingKind }, i: number): number {
  if (layer.kind === 'dense') return layer.inFeatures;
  const at = `layers[${i}]`;
  if (layer.kind === 'convtranspose2d') {
    const g = validateTransposedWindow(layer, at);
    return integerField(layer, 'inChannels', 1, at) * g.outH * g.outW;
  }
  const g = validateWindow(layer, at, layer.kind === 'maxpool2d');
  const channels = layer.kind === 'conv2d' ? 'inChannels' : 'channels';
  return integerField(layer, channels, 1, at) * g.inH * g.inW;
}

/**
 * Checks one layer spec against the width before it; returns its parameter
 * count, buffer count and output width.
 */
export function validateLayer(layer: LayerSpec, i: number, width: number): [number, number, number] {
  if (layer === null || typeof layer !== 'object') {
    throw new ArgumentTypeError(`Expected a layer object for layers[${i}] but received ${String(layer)}`);
  }
  const at = `layers[${i}]`;
  const finite = (v: unknown, name: string, ok: (x: number) => boolean, what: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new ArgumentRangeError(`Expected ${what} for ${at}.${name} but received ${String(v)}`);
    }
  };
  const flag = (v: unknown, name: string) => {
    if (typeof v !== 'boolean') throw new ArgumentTypeError(`Expected a boolean for ${at}.${name} but received ${typeof v}`);
  };
  const sameWidth = (v: unknown, name: string) => {
    if (v !== width) throw new ArgumentRangeError(`Expected ${width} (the width before it) for ${at}.${name} but received ${String(v)}`);
  };
  switch (layer.kind) {
    case 'dense': {
      const { inFeatures, outFeatures } = layer;
      if (!isCount(inFeatures, 1) || !isCount(outFeatures, 1)) {
        throw new ArgumentRangeError(`Expected integer sizes ≥ 1 for ${at} but received ${String(inFeatures)}×${String(outFeatures)}`);
      }
      if (inFeatures !== width) {
        throw new ArgumentRangeError(`Expected inFeatures ${width} (the width before it) for ${at} but received ${inFeatures}`);
      }
      if (layer.l1 !== undefined) finite(layer.l1, 'l1', (x) => x >= 0, 'a finite number ≥ 0');
      if (layer.l2 !== undefined) finite(layer.l2, 'l2', (x) => x >= 0, 'a finite number ≥ 0');
      return [outFeatures * inFeatures + outFeatures, 0, outFeatures];
    }
    case 'activation':
      activationKernel(layer.activation, layer, at);  // validates the name and parameters
      return [0, 0, width];
    case 'dropout':
      finite(layer.p, 'p', (x) => x >= 0 && x < 1, 'a number in [0, 1)');
      return [0, 0, width];
    case 'batchnorm':
      sameWidth(layer.numFeatures, 'numFeatures');
      finite(layer.eps, 'eps', (x) => x > 0, 'a finite number > 0');
      if (layer.momentum !== null) finite(layer.momentum, 'momentum', (x) => x >= 0 && x <= 1, 'a number in [0, 1] or null');
      flag(layer.affine, 'affine');
      if (layer.trackRunningStats !== undefined) flag(layer.trackRunningStats, 'trackRunningStats');
      return [layer.affine ? 2 * width : 0, layer.trackRunningStats === false ? 0 : 2 * width + COUNT_SLOTS, width];
    case 'layernorm':
      sameWidth(layer.normalizedShape, 'normalizedShape');
      finite(layer.eps, 'eps', (x) => x > 0, 'a finite number > 0');
      flag(layer.elementwiseAffine, 'elementwiseAffine');
      return [layer.elementwiseAffine ? 2 * width : 0, 0, width];
    case 'prelu':
      if (layer.numParameters !== 1 && layer.numParameters !== width) {
        throw new ArgumentRangeError(`Expected 1 or ${width} (the width) for ${at}.numParameters but received ${String(layer.numParameters)}`);
      }
      return [layer.numParameters, 0, width];
    case 'conv2d': {
      const inC = integerField(layer, 'inChannels', 1, at);
      const outC = integerField(layer, 'outChannels', 1, at);
      const g = validateWindow(layer, at, false);
      checkImageWidth(inC, g, width, 'inChannels', at);
      const outF = outC * g.outH * g.outW;
      const params = outC * inC * g.kH * g.kW + outC;
      checkSize(outF, 'outChannels·outHeight·outWidth', at);
      checkSize(params, 'the parameter count', at);
      // One image's unrolled windows (conv.ts's im2col scratch holds at least that).
      checkSize(inC * g.kH * g.kW * g.outH * g.outW, 'inChannels·kernelHeight·kernelWidth·outHeight·outWidth', at);
      return [params, 0, outF];
    }
    case 'convtranspose2d': {
      const inC = integerField(layer, 'inChannels', 1, at);
      const outC = integerField(layer, 'outChannels', 1, at);
      const g = validateTransposedWindow(layer, at);  // g: the conv2d over the output image (window2d.ts)
      checkImageWidth(inC, { inH: g.outH, inW: g.outW }, width, 'inChannels', at);
      const outF = outC * g.inH * g.inW;
      const params = inC * outC * g.kH * g.kW + outC;
      checkSize(outF, 'outChannels·outHeight·outWidth', at);
      checkSize(params, 'the parameter count', at);
      // One image's columns (convtranspose.ts's col scratch holds at least that).
      checkSize(outC * g.kH * g.kW * g.outH * g.outW, 'outChannels·kernelHeight·kernelWidth·inHeight·inWidth', at);
      return [params, 0, outF];
    }
    case 'maxpool2d': {
      const channels = integerField(layer, 'channels', 1, at);
      const g = validateWindow(layer, at, true);
      checkImageWidth(channels, g, width, 'channels', at);
      return [0, 0, channels * g.outH * g.outW];
    }
    default:
      throw new ArgumentRangeError(`Expected kind 'dense', 'activation', 'dropout', 'batchnorm', 'layernorm', 'prelu', 'conv2d', 'convtranspose2d' or 'maxpool2d' for ${at} but received ${String((layer as { kind: unknown }).kind)}`);
  }
}
