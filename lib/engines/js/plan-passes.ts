// The passes of the TypeScript engine's plan (plan.ts) over its layers: the
// training forward, which keeps every layer's output for backward; predict's
// forward, through two scratch buffers; and backward. Kernels: gemm.ts,
// activations.ts, dropout.ts, norm.ts, prelu.ts, penalty.ts; the backward of
// the layers other than dense and activation: plan-layers.ts; conv2d,
// convtranspose2d and maxpool2d: conv.ts (im2col + gemm), convtranspose.ts
// (col2im + gemm) and maxpool.ts.
//
// Dense layer (SPEC.md §1, notes 001; native/core/dense.h):
//   forward   Z (B,OC) = A (B,C) · Wᵀ + b
//   backward  dW (OC,C) = dZᵀ · A,  db = column sums of dZ,  dA (B,C) = dZ · W
// The 1/B of a mean-reduced loss lives in the loss gradient, not here.
//
// The passes are generators that yield between slices of their work
// (slices.ts): trainEpoch and predictAsync pause there for the event loop;
// the synchronous methods drain them (forwardRows, backwardRows, predictRows).
// The batch norm, layer norm, dropout, PReLU and maxpool2d kernels and the
// loss run whole (one slice each): they are column- or row-statistics passes
// over one layer, cheap beside the dense layers around them. conv2d and
// convtranspose2d run their products in slices like a dense layer (conv.ts,
// convtranspose.ts).

import type { FloatArray, LossSpec, Target } from '../../engine';
import { dropoutForward } from './dropout';
import { gemm, gemmSteps } from './gemm';
import { batchnormForward, layernormForward } from './norm';
import { densePenaltyBackward } from './penalty';
import { preluForward } from './prelu';
import { convBackwardSteps, convForward, convForwardSteps, convForwardWork } from './conv';
import { convTransposeBackwardSteps, convTransposeForward, convTransposeForwardSteps,
  convTransposeForwardWork } from './convtranspose';
import { maxpoolBackwardSteps, maxpoolForward, maxpoolForwardSteps, maxpoolWork } from './maxpool';
import { otherBackward, type Layer } from './plan-layers';
import { lossForwardBackward } from './losses';
import { allFiniteFrom, checkRows, copy, need } from './plan-arrays';
import { ELEMENT_WORK, SCAN_WORK, SLICE_WORK, drain, pauseIf, perSlice, type WorkMeter } from './slices';
import { PlanState } from './plan-state';
import { ArgumentRangeError } from '../../validate';
import { incrementCount, readCount } from '../../batch-count';

export abstract class PlanPasses extends PlanState {
  /**
   * One layer's forward of `rows` rows from inp into out, whole. keep: a
   * training-path forward whose statistics backward will use; otherwise
   * predict's (eval, and into the second half of the norm layers' stats so
   * the first survives).
   */
  private layerForward(layer: Layer, inp: FloatArray, out: FloatArray, rows: number,
                       training: boolean, keep: boolean): void {
    switch (layer.kind) {
      case 'dense': {
        // out (B,OC) = inp (B,C) · weight (OC,C)ᵀ + bias (OC); beta = 0, so
        // whatever out held before (even NaN) is never read.
        const { inF, outF, weight, bias } = layer;
        gemm(false, true, rows, outF, inF, 1, inp, weight, 0, out);
        addBias(out, bias, rows, outF);
        return;
      }
      case 'activation':
        layer.kernel.forward(inp, out, rows, layer.width);
        return;
      case 'dropout':
        if (training) dropoutForward(out, inp, layer.mask, rows * layer.width, layer.p, this.rng);
        else copy(inp, 0, out, 0, rows * layer.width);
        return;
      case 'prelu':
        preluForward(out, inp, layer.weight, rows, layer.width, layer.slopes);
        return;
      case 'conv2d':
        convForward(layer, inp, out, rows);
        return;
      case 'convtranspose2d':
        convTransposeForward(layer, inp, out, rows);
        return;
      case 'maxpool2d':
        maxpoolForward(layer, inp, out, rows);
        return;
      case 'batchnorm': {
        const C = layer.width;
        const k = keep ? 0 : 2;
        // Without running statistics eval mode normalises with the batch's too, leaving no trace.
        const tracks = layer.trackRunningStats;
        const batchStats = training || !tracks;
        // momentum null: torch's cumulative average, 1/num_batches_tracked after counting this batch.
        const momentum = layer.momentum === null ? (training && tracks ? 1 / (readCount(layer.tracked, 0) + 1) : 0) : layer.momentum;
        const running = tracks && (training || !batchStats);
        batchnormForward(out, inp, layer.gamma, layer.beta, running ? layer.runningMean : null,
          running ? layer.runningVar : null, layer.stats[k]!, layer.stats[k + 1]!, rows, C, layer.eps, momentum, batchStats);
        if (training && tracks) incrementCount(layer.tracked, 0);  // exact past 2^24 in float32 (lib/batch-count.ts)
        return;
      }
      case 'layernorm': {
        const k = keep ? 0 : 2;
        layernormForward(out, inp, layer.gamma, layer.beta, layer.stats[k]!, layer.stats[k + 1]!,
          rows, layer.width, layer.eps);
        return;
      }
    }
  }

  /**
   * layerForward of a layer of more than one slice of work (layerWork), as
   * slices, yielding when the meter says a pause is due: a dense layer runs its
   * product in runs of gemm units, a conv2d layer its blocks of images (each
   * block's product likewise, conv.ts), a maxpool2d layer its blocks of
   * images (maxpool.ts), an activation in blocks of rows (every
   * activation works row by row, softmax's sums too, so blocks give the same
   * values as one call). The other kinds run whole.
   */
  private *layerForwardSteps(layer: Layer, inp: FloatArray, out: FloatArray, rows: number,
                             training: boolean, keep: boolean): Generator<void, void> {
    const meter = this.meter;
    if (layer.kind === 'conv2d') {
      yield* convForwardSteps(meter, layer, inp, out, rows);
    } else if (layer.kind === 'convtranspose2d') {
      yield* convTransposeForwardSteps(meter, layer, inp, out, rows);
    } else if (layer.kind === 'maxpool2d') {
      yield* maxpoolForwardSteps(meter, layer, inp, out, rows);
    } else if (layer.kind !== 'dense' && layer.kind !== 'activation') {
      this.layerForward(layer, inp, out, rows, training, keep);
      if (meter.add(layerWork(layer, rows))) yield;
    } else if (layer.kind === 'dense') {
      const { inF, outF, weight, bias } = layer;
      yield* gemmSteps(meter, false, true, rows, outF, inF, 1, inp, weight, 0, out);
      addBias(out, bias, rows, outF);
      if (meter.add(rows * outF * SCAN_WORK)) yield;
    } else {
      const C = layer.width;
      const block = perSlice(C * ELEMENT_WORK);
      for (let r = 0; r < rows; r += block) {
        const n = Math.min(block, rows - r);
        layer.kernel.forward(inp.subarray(r * C, (r + n) * C), out.subarray(r * C, (r + n) * C), n, C);
        if (meter.add(n * C * ELEMENT_WORK)) yield;
      }
    }
  }

  /**
   * One layer's forward for the passes: whole through layerForward when it is
   * within one slice of work, so a small net's step creates no generator per
   * layer; otherwise layerForwardSteps.
   */
  private layerSteps(layer: Layer, inp: FloatArray, out: FloatArray, rows: number,
                     training: boolean, keep: boolean): Iterable<void> {
    const work = layerWork(layer, rows);
    if (work > SLICE_WORK) return this.layerForwardSteps(layer, inp, out, rows, training, keep);
    this.layerForward(layer, inp, out, rows, training, keep);
    return pauseIf(this.meter.add(work));
  }

  /** Training forward of the rows already in acts[0]; every layer's output stays in acts. */
  protected forwardRows(rows: number): void {
    drain(this.forwardSteps(rows));
  }

  /** forwardRows in slices. */
  protected *forwardSteps(rows: number): Generator<void, void> {
    this.trainedRows = -1; // stays so if a layer throws
    if (this.isTraining && rows < 2 && this.layers.some((l) => l.kind === 'batchnorm')) {
      throw new ArgumentRangeError(`Expected batches of at least 2 rows for batch norm in training mode (the variance of one row is undefined) but received ${rows}`);
    }
    for (let l = 0; l < this.layers.length; l++) {
      yield* this.layerSteps(this.layers[l], this.acts[l], this.acts[l + 1], rows, this.isTraining, true);
    }
    this.forwardTraining = this.isTraining;
    this.trainedRows = rows;
  }

  /**
   * Backward from dOut (rows, outputSize) through the activations of the last
   * forward. Overwrites every gradient; writes dLoss/dInput when dinput is given.
   */
  protected backwardRows(dOut: FloatArray, rows: number, dinput: FloatArray | null): void {
    drain(this.backwardSteps(dOut, rows, dinput));
  }

  /** backwardRows in slices. */
  protected *backwardSteps(dOut: FloatArray, rows: number, dinput: FloatArray | null): Generator<void, void> {
    const { layers, acts, scratch, meter } = this;
    this.lastPenalty = 0;
    const stop = dinput !== null ? 0 : this.firstParam;
    let cur: FloatArray = dOut;
    for (let l = layers.length - 1; l >= stop; l--) {
      const layer = layers[l];
      const next = cur === scratch[0] ? scratch[1] : scratch[0];
      if (layer.kind === 'dense') {
        // dZ = cur (B,OC); inp (B,C) = acts[l]
        const { inF, outF, weight, dWeight, dBias } = layer;
        // dweight (OC,C) = dZᵀ (OC,B) · inp (B,C)
        yield* product(meter, true, false, outF, inF, rows, cur, acts[l], dWeight);
        // dbias (OC) = column sums of dZ, summed in double
        for (let j = 0; j < outF; j++) {
          let s = 0;
          for (let r = 0; r < rows; r++) s += cur[r * outF + j];
          dBias[j] = s;
        }
        if (meter.add(rows * outF * SCAN_WORK)) yield;
        if (layer.l1 > 0 || layer.l2 > 0) {
          this.lastPenalty += densePenaltyBackward(dWeight, weight, layer.l1, layer.l2);
          if (meter.add(weight.length * SCAN_WORK)) yield;
        }
        if (l === stop && dinput === null) break; // nothing below needs dA
        // dinp (B,C) = dZ (B,OC) · weight (OC,C)
        yield* product(meter, false, false, rows, inF, outF, cur, weight, next);
      } else if (layer.kind === 'conv2d') {
        const last = l === stop && dinput === null;
        yield* convBackwardSteps(meter, layer, acts[l], cur, last ? null : next, rows);
        if (last) break;
      } else if (layer.kind === 'convtranspose2d') {
        const last = l === stop && dinput === null;
        yield* convTransposeBackwardSteps(meter, layer, acts[l], cur, last ? null : next, rows);
        if (last) break;
      } else if (layer.kind === 'maxpool2d') {
        yield* maxpoolBackwardSteps(meter, layer, acts[l], cur, next, rows);
      } else if (layer.kind === 'activation') {
        // Row blocks, as in the forward (each row's gradient reads only that row).
        const C = layer.width;
        const block = Math.min(rows, perSlice(C * ELEMENT_WORK));
        for (let r = 0; r < rows; r += block) {
          const n = Math.min(block, rows - r);
          if (n === rows) layer.kernel.backward(acts[l]!, acts[l + 1]!, cur, next, rows, C);
          else {
            const a = r * C;
            const b = (r + n) * C;
            layer.kernel.backward(acts[l]!.subarray(a, b), acts[l + 1]!.subarray(a, b), cur.subarray(a, b), next.subarray(a, b), n, C);
          }
          if (meter.add(n * C * ELEMENT_WORK)) yield;
        }
      } else {
        const last = l === stop && dinput === null;
        otherBackward(layer, acts[l], cur, last ? null : next, rows, this.forwardTraining);
        if (meter.add(rows * layer.width * ELEMENT_WORK)) yield;
        if (last) break;
      }
      cur = next;
    }
    if (dinput !== null) copy(cur, 0, dinput, 0, rows * this.inputSize);
    // In float32 a finite loss (summed in double) can still overflow the
    // gradients; step() then refuses them (native/core/network.h
    // gradients_finite). One pass here: this engine's steps are slow anyway.
    const grads = this.grads;
    const range = perSlice(SCAN_WORK);
    let finite = true;
    for (let from = 0; finite && from < grads.length; from += range) {
      finite = allFiniteFrom(grads, from, Math.min(grads.length, from + range));
      if (meter.add(range * SCAN_WORK)) yield;
    }
    this.gradsFinite = finite;
  }

  protected predictRows(x: FloatArray, rows: number, out: FloatArray): void {
    // Batch norm without running statistics normalises with the statistics of
    // the whole input, as torch's eval forward of it does: one pass, not chunks.
    if (rows > this.capacity && this.layers.some((l) => l.kind === 'batchnorm' && !l.trackRunningStats)) this.reserve(rows);
    for (let start = 0; start < rows; start += this.capacity) {
      drain(this.predictPass(x, start, Math.min(this.capacity, rows - start), out));
    }
  }

  /**
   * Predict's forward of rows [start, start + n) of x into the same rows of
   * out, n ≤ capacity, in slices. Eval mode keeps no activations: the pass
   * ping-pongs through the two scratch buffers (capacity × maxWidth each), so
   * the activations of the last forwardTrain survive for a later backward (as
   * in network.cc).
   */
  protected *predictPass(x: FloatArray, start: number, n: number, out: FloatArray): Generator<void, void> {
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    const { layers, scratch } = this;
    let src = scratch[0];
    copy(x, start * nIn, src, 0, n * nIn);
    for (let l = 0; l < layers.length; l++) {
      const dst = src === scratch[0] ? scratch[1] : scratch[0];
      yield* this.layerSteps(layers[l], src, dst, n, false, false);
      src = dst;
    }
    copy(src, 0, out, start * nOut, n * nOut);
  }

  /** Copies x into the input buffer and runs the training forward. */
  protected forwardBatch(x: FloatArray, rows: number): void {
    this.loadBatch(x, rows);
    this.forwardRows(rows);
  }

  /** Checks rows and x, and copies x into the input buffer. */
  protected loadBatch(x: FloatArray, rows: number): void {
    checkRows(rows, this.capacity);
    need(x, rows * this.inputSize, 'x');
    copy(x, 0, this.acts[0], 0, rows * this.inputSize);
  }

  /** Forward, loss and its gradient into this.dout; no backward yet. */
  protected forwardLoss(loss: LossSpec, rows: number, y: Target): number {
    const pred = this.acts[this.layers.length];
    return lossForwardBackward(loss, pred, rows, this.outputSize, y, this.dout);
  }
}

/**
 * C = op(A)·op(B) for the passes: whole through gemm when it is within one
 * slice of work (no generator), otherwise gemm's units in slices.
 */
function product(meter: WorkMeter, transA: boolean, transB: boolean, m: number, n: number, k: number,
                 a: FloatArray, b: FloatArray, c: FloatArray): Iterable<void> {
  const flops = 2 * m * n * k;
  if (flops > SLICE_WORK) return gemmSteps(meter, transA, transB, m, n, k, 1, a, b, 0, c);
  gemm(transA, transB, m, n, k, 1, a, b, 0, c);
  return pauseIf(meter.add(flops));
}

/** out (rows × width) += bias on every row. */
function addBias(out: FloatArray, bias: FloatArray, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    for (let j = 0; j < width; j++) out[o + j] += bias[j];
  }
}

/**
 * A layer's forward work for the meter (slices.ts): a dense or conv2d layer's
 * FLOPs (and its bias, unrolling), maxpool2d's window scans, elements otherwise.
 */
function layerWork(layer: Layer, rows: number): number {
  switch (layer.kind) {
    case 'dense': return (2 * layer.inF + SCAN_WORK) * rows * layer.outF;
    case 'conv2d': return convForwardWork(layer, rows);
    case 'convtranspose2d': return convTransposeForwardWork(layer, rows);
    case 'maxpool2d': return maxpoolWork(layer, rows);
    default: return rows * layer.width * ELEMENT_WORK;
  }
}
