// A compiled network for the pure-TypeScript engine: the NetworkPlan of
// lib/engine.ts with the semantics of native/core/network.h.
//
// Memory follows llm.c: one flat buffer each for parameters, gradients and
// optimizer state, and per-layer activation buffers sized for the largest
// batch (maxBatch rows), allocated once and only replaced by reserve(). Layers
// hold subarray views into the flat buffers (llm.c malloc_and_point_parameters),
// so the optimizer is one loop and getParams/setParams are one copy. In steady
// state — trainStep, computeGradients, trainEpoch batches, predict — nothing
// is allocated: backward ping-pongs between two preallocated scratch buffers,
// the loss gradient has its own buffer, and trainEpoch gathers each batch
// straight into the input buffer.
//
// Parameter layout (shared with the native engine, see NetworkPlan in
// lib/engine.ts): per layer its learnable tensors in state_dict order; batch-norm
// running statistics live in a second flat buffer. Dropout masks are drawn from
// lib/rng.ts's xoshiro128** in row-major order, as native/core/dropout.h does.
// Batch norm, layer norm, PReLU and the dense L1/L2 penalties: norm.ts,
// prelu.ts, penalty.ts (formulas and sources there).
//
// Dense layer (SPEC.md §1, notes 001; native/core/dense.h):
//   forward   Z (B,OC) = A (B,C) · Wᵀ + b
//   backward  dW (OC,C) = dZᵀ · A,  db = column sums of dZ,  dA (B,C) = dZ · W
// The 1/B of a mean-reduced loss lives in the loss gradient, not here.

import type {
  Dtype, EpochHooks, EpochResult, FloatArray, LayerSpec, LossSpec, NetworkPlan,
  OptimizerSpec, PlanSpec, Target,
} from '../../engine';
import { Rng } from '../../rng';
import { dropoutForward } from './dropout';
import { gemm } from './gemm';
import { batchnormForward, layernormForward } from './norm';
import { densePenaltyBackward } from './penalty';
import { preluForward } from './prelu';
import { buildLayer, otherBackward, splitStats, validateLayer, type Layer, type Shape } from './plan-layers';
import { lossForwardBackward, lossSpecForTraining, validateTarget } from './losses';
import {
  completeOptimizer, optimizerStateCompatible, optimizerStateSize, optimizerUpdate, validateOptimizer,
} from './optim';
import {
  ArgumentRangeError, ArgumentTypeError, BUSY, DISPOSED, codedError, describe, disposedError, ownedBuffer, rangeError, typeError,
} from '../../validate';

/**
 * Every plan this engine constructed: copyStateFrom's brand check. instanceof
 * alone would accept Object.create(JsNetworkPlan.prototype), whose missing
 * buffers would then fail with an uncoded error half-way through.
 */
const constructedPlans = new WeakSet<object>();

/** network.h: SGD(lr = 0.01) until setOptimizer; the other fields are torch defaults. */
const DEFAULT_OPTIMIZER: OptimizerSpec = completeOptimizer({
  kind: 'sgd', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8,
});

/**
 * trainEpoch yields to the event loop once this many milliseconds of work have
 * passed since the last yield, so the loop's delay stays under the 20 ms p99
 * target of DESIGN.md while batches too short to be worth a yield each run
 * back to back.
 */
const YIELD_MS = 15;

function alloc(dtype: Dtype, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

function isCount(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= min;
}

function need(arr: ArrayLike<number>, len: number, name: string): void {
  if (arr.length < len) {
    throw new ArgumentRangeError(`Expected at least ${len} elements for ${name} but received ${arr.length}`);
  }
}

/** dst[dOff + i] = src[sOff + i] for i < n, without the view a subarray() would allocate. */
function copy(src: ArrayLike<number>, sOff: number, dst: FloatArray, dOff: number, n: number): void {
  for (let i = 0; i < n; i++) dst[dOff + i] = src[sOff + i];
}

/** Rows of one call: an integer in [1, max] (the native binding rejects 0 too). */
function checkRows(rows: unknown, max: number): void {
  if (!isCount(rows, 1) || rows > max) {
    const bound = max === Infinity ? '' : ` and ≤ maxBatch (${max}; call reserve first)`;
    throw new ArgumentRangeError(`Expected an integer ≥ 1${bound} for rows but received ${String(rows)}`);
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export class JsNetworkPlan implements NetworkPlan {
  readonly dtype: Dtype;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly paramCount: number;

  private readonly layers: Layer[];
  /** widths[l] is the width of acts[l]: the input of layer l (widths[L] the output). */
  private readonly widths: number[];
  private readonly maxWidth: number;
  /** Index of the first layer with parameters: backward need not go below it without dinput. */
  private readonly firstParam: number;
  private params: FloatArray;
  private grads: FloatArray;
  private buffers: FloatArray;
  private isTraining = true;
  /** The mode of the last forwardTrain, which backward differentiates. */
  private forwardTraining = true;
  private rng = new Rng(0);
  /** The dense L1/L2 penalties' value, computed with their gradient by the last backward. */
  private lastPenalty = 0;

  private optimizer: OptimizerSpec = { ...DEFAULT_OPTIMIZER };
  private optState: FloatArray;
  private steps = 0;
  private loss: LossSpec | null = null;

  private capacity = 0;
  /** acts[0] is the input copy, acts[l + 1] the output of layer l; capacity rows each. */
  private acts: FloatArray[] = [];
  private scratch: [FloatArray, FloatArray];
  private dout: FloatArray;
  /** trainEpoch's target gather buffers, created on first use and grown with capacity. */
  private yIdx: Int32Array | null = null;
  private yDense: FloatArray | null = null;
  /** Rows of the forwardTrain whose activations are held, or -1 if none are. */
  private trainedRows = -1;
  /** Set while trainEpoch or predictAsync runs: they yield between batches, and nothing may interleave. */
  private busy: false | 'training' | 'predicting' = false;
  /** dispose() was called: buffers dropped (or dropped when the running epoch stops). */
  private isDisposed = false;

  constructor(spec: PlanSpec) {
    if (spec.dtype !== 'float32' && spec.dtype !== 'float64') {
      throw new ArgumentRangeError(`Expected 'float32' or 'float64' for dtype but received ${String(spec.dtype)}`);
    }
    if (!Array.isArray(spec.layers)) {
      throw new ArgumentTypeError(`Expected an array for layers but received ${typeof spec.layers}`);
    }
    if (!isCount(spec.maxBatch, 1)) {
      throw new ArgumentRangeError(`Expected an integer ≥ 1 for maxBatch but received ${String(spec.maxBatch)}`);
    }
    this.dtype = spec.dtype;

    const first = spec.layers.findIndex((l) => l !== null && typeof l === 'object' && l.kind === 'dense');
    if (first < 0) {
      throw new ArgumentRangeError('Expected at least one dense layer in layers but received none');
    }
    const firstIn = (spec.layers[first] as { inFeatures: number }).inFeatures;

    // Validate each layer and lay out its parameters and buffers in the flat buffers.
    let width = firstIn;
    let offset = 0;
    let bufOffset = 0;
    const shapes: Shape[] = [];
    const widths: number[] = [];
    spec.layers.forEach((layer: LayerSpec, i: number) => {
      widths.push(width);
      const [params, buffers, outF] = validateLayer(layer, i, width);
      shapes.push({ spec: layer, inF: width, outF, off: params > 0 ? offset : -1, bufOff: buffers > 0 ? bufOffset : -1 });
      offset += params;
      bufOffset += buffers;
      width = outF;
    });
    widths.push(width);

    this.inputSize = firstIn;
    this.outputSize = width;
    this.paramCount = offset;
    this.widths = widths;
    this.maxWidth = Math.max(...widths);
    this.params = alloc(this.dtype, offset);
    this.grads = alloc(this.dtype, offset);
    this.buffers = alloc(this.dtype, bufOffset);
    this.layers = shapes.map((s) => buildLayer(s, this.dtype, this.params, this.grads, this.buffers));
    // Backward without dinput need not go below the first layer with parameters.
    this.firstParam = Math.max(0, shapes.findIndex((s) => s.off >= 0));
    this.optState = alloc(this.dtype, optimizerStateSize(this.optimizer, offset));
    this.scratch = [alloc(this.dtype, 0), alloc(this.dtype, 0)];
    this.dout = alloc(this.dtype, 0);
    this.reserve(spec.maxBatch);
    constructedPlans.add(this);
  }


  get maxBatch(): number {
    if (this.isDisposed) throw disposedError('maxBatch');
    return this.capacity;
  }

  get penalty(): number {
    return this.lastPenalty;
  }

  get bufferCount(): number {
    return this.buffers.length;
  }

  get training(): boolean {
    return this.isTraining;
  }

  setTraining(training: boolean): void {
    this.assertIdle('setTraining');
    if (typeof training !== 'boolean') {
      throw new ArgumentTypeError(`Expected a boolean for training but received ${typeof training}`);
    }
    this.isTraining = training;
  }

  setSeed(seed: number): void {
    this.assertIdle('setSeed');
    if (!isCount(seed, 0) || seed > Number.MAX_SAFE_INTEGER) {
      throw new ArgumentRangeError(`Expected an integer in [0, 2^53) for seed but received ${String(seed)}`);
    }
    this.rng = new Rng(seed);
  }

  getBuffers(out: FloatArray): void {
    this.assertIdle('getBuffers');
    need(out, this.buffers.length, 'out');
    out.set(this.buffers);
  }

  setBuffers(src: FloatArray): void {
    this.assertIdle('setBuffers');
    need(src, this.buffers.length, 'src');
    copy(src, 0, this.buffers, 0, this.buffers.length);
  }

  /**
   * Copies source's parameters and buffers into this plan's own arrays (one
   * typed-array set each, no intermediate array); the checks and what is not
   * copied are documented on NetworkPlan.copyStateFrom, and run in the native
   * binding's order so both engines refuse alike. A refused copy changes nothing.
   */
  copyStateFrom(source: NetworkPlan): void {
    this.assertIdle('copyStateFrom');
    if (typeof source !== 'object' || source === null || !constructedPlans.has(source)) {
      throw new ArgumentTypeError(`Expected a network plan of the js engine for source but received ${describe(source)}`);
    }
    const from = source as JsNetworkPlan;
    if (from === this) {
      throw new ArgumentRangeError('Expected another plan than this one for source but received the same plan');
    }
    if (from.isDisposed) {
      throw codedError('Cannot copy from source: it has been disposed (dispose() freed its memory)', DISPOSED);
    }
    if (from.busy) {
      throw codedError('Cannot copy from source: it is training (an epoch is running); wait for it to finish', BUSY);
    }
    if (from.dtype !== this.dtype) {
      throw new ArgumentTypeError(`Expected a ${this.dtype} plan for source but received a ${from.dtype} plan`);
    }
    if (from.inputSize !== this.inputSize || from.outputSize !== this.outputSize ||
        from.paramCount !== this.paramCount || from.bufferCount !== this.bufferCount) {
      throw new ArgumentRangeError(
        `Expected a plan of the same layout for source (inputSize ${this.inputSize}, outputSize ${this.outputSize}, ` +
        `paramCount ${this.paramCount}, bufferCount ${this.bufferCount}) but received inputSize ${from.inputSize}, ` +
        `outputSize ${from.outputSize}, paramCount ${from.paramCount}, bufferCount ${from.bufferCount}`);
    }
    this.params.set(from.params);
    this.buffers.set(from.buffers);
  }

  get stepCount(): number {
    if (this.isDisposed) throw disposedError('stepCount');
    return this.steps;
  }

  /** Every method but the size getters refuses while an epoch runs, as the native binding does. */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /**
   * Drops every buffer for the GC to reclaim (as the native engine frees its
   * memory). During an epoch: the epoch stops before its next batch and the
   * buffers go when it returns. Idempotent.
   */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    if (!this.busy) this.releaseBuffers();
  }

  private releaseBuffers(): void {
    const empty = alloc(this.dtype, 0);
    this.params = empty;
    this.grads = empty;
    this.optState = empty;
    this.acts = [];
    this.scratch = [empty, empty];
    this.dout = empty;
    this.yIdx = null;
    this.yDense = null;
    this.capacity = 0;
    // The dense layers' views keep the flat buffers alive: point them at nothing.
    for (const layer of this.layers) {
      if (layer.kind === 'dense') {
        layer.weight = layer.bias = layer.dWeight = layer.dBias = empty;
      }
    }
  }

  private assertIdle(what: string): void {
    if (this.isDisposed) throw disposedError(what);
    if (this.busy === 'predicting') {
      throw codedError(`Cannot run ${what}: this plan is predicting (predictAsync is running); wait for it to finish`, BUSY);
    }
    if (this.busy) {
      throw codedError(`Cannot run ${what}: this plan is training (an epoch is running); wait for it to finish`, BUSY);
    }
  }

  private requireLoss(what: string): LossSpec {
    if (this.loss === null) {
      throw new Error(`${what} needs a built-in loss, but none is set (call setLoss first)`);
    }
    return this.loss;
  }

  reserve(rows: number): void {
    this.assertIdle('reserve');
    if (!isCount(rows, 0)) {
      throw new ArgumentRangeError(`Expected an integer ≥ 0 for rows but received ${String(rows)}`);
    }
    if (rows <= this.capacity) return;
    // Allocate everything before replacing anything, so a failed allocation
    // (RangeError for an absurd size) leaves the plan exactly as it was.
    const acts = this.widths.map((w) => alloc(this.dtype, rows * w));
    const scratch: [FloatArray, FloatArray] = [alloc(this.dtype, rows * this.maxWidth),
      alloc(this.dtype, rows * this.maxWidth)];
    const dout = alloc(this.dtype, rows * this.outputSize);
    const aux = this.layers.map((l) =>
      l.kind === 'dropout' ? alloc(this.dtype, rows * l.width)
        : l.kind === 'layernorm' ? alloc(this.dtype, 4 * rows) : null);
    this.layers.forEach((l, i) => {
      if (l.kind === 'dropout') l.mask = aux[i]!;
      else if (l.kind === 'layernorm') l.stats = splitStats(aux[i]!, rows);
    });
    this.acts = acts;
    this.scratch = scratch;
    this.dout = dout;
    this.capacity = rows;
    this.trainedRows = -1; // the activations of the last forwardTrain are gone
  }

  setLoss(loss: LossSpec | null): void {
    this.assertIdle('setLoss');
    if (loss === null) {
      this.loss = null;
      return;
    }
    this.loss = lossSpecForTraining(loss, this.outputSize);
  }

  setOptimizer(optimizer: OptimizerSpec): void {
    this.assertIdle('setOptimizer');
    validateOptimizer(optimizer);
    const next: OptimizerSpec = completeOptimizer({ ...DEFAULT_OPTIMIZER, ...optimizer });
    const size = optimizerStateSize(next, this.paramCount);
    // A hyper-parameter change (same kind and state layout) keeps the moments
    // and the step count, as changing lr in a torch optimizer's param_groups does.
    if (!optimizerStateCompatible(next, this.optimizer) || size !== this.optState.length) {
      this.optState = alloc(this.dtype, size);
      this.steps = 0;
    }
    this.optimizer = next;
  }

  resetOptimizer(): void {
    this.assertIdle('resetOptimizer');
    this.optState.fill(0);
    this.steps = 0;
  }

  get optimizerStateSize(): number {
    return this.optState.length;
  }

  getOptimizerState(out: FloatArray): void {
    this.assertIdle('getOptimizerState');
    if (out.length !== this.optState.length) {
      throw new ArgumentRangeError(`Expected ${this.optState.length} elements for out but received ${out.length}`);
    }
    out.set(this.optState);
  }

  setOptimizerState(src: FloatArray, stepCount: number): void {
    this.assertIdle('setOptimizerState');
    if (src.length !== this.optState.length) {
      throw new ArgumentRangeError(`Expected ${this.optState.length} elements for src but received ${src.length}`);
    }
    if (!isCount(stepCount, 0) || stepCount > Number.MAX_SAFE_INTEGER) {
      throw new ArgumentRangeError(`Expected an integer ≥ 0 for stepCount but received ${String(stepCount)}`);
    }
    copy(src, 0, this.optState, 0, src.length);
    this.steps = stepCount;
  }

  getParams(out: FloatArray): void {
    this.assertIdle('getParams');
    need(out, this.paramCount, 'out');
    out.set(this.params);
  }

  setParams(src: FloatArray): void {
    this.assertIdle('setParams');
    need(src, this.paramCount, 'src');
    copy(src, 0, this.params, 0, this.paramCount);
  }

  getGrads(out: FloatArray): void {
    this.assertIdle('getGrads');
    need(out, this.paramCount, 'out');
    out.set(this.grads);
  }

  /**
   * One layer's forward of `rows` rows from inp into out. keep: a training-path
   * forward whose statistics backward will use; otherwise predict's (eval, and
   * into the second half of the norm layers' stats so the first survives).
   */
  private layerForward(layer: Layer, inp: FloatArray, out: FloatArray, rows: number,
                       training: boolean, keep: boolean): void {
    switch (layer.kind) {
      case 'dense': {
        // out (B,OC) = inp (B,C) · weight (OC,C)ᵀ + bias (OC); beta = 0, so
        // whatever out held before (even NaN) is never read.
        const { inF, outF, weight, bias } = layer;
        gemm(false, true, rows, outF, inF, 1, inp, weight, 0, out);
        for (let r = 0; r < rows; r++) {
          const o = r * outF;
          for (let j = 0; j < outF; j++) out[o + j] += bias[j];
        }
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
      case 'batchnorm': {
        const C = layer.width;
        const k = keep ? 0 : 2;
        batchnormForward(out, inp, layer.gamma, layer.beta, layer.runningMean, layer.runningVar,
          layer.stats[k]!, layer.stats[k + 1]!, rows, C, layer.eps, layer.momentum, training);
        if (training) layer.tracked[0] += 1;
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

  /** Training forward of the rows already in acts[0]; every layer's output stays in acts. */
  private forwardRows(rows: number): void {
    this.trainedRows = -1; // stays so if a layer throws
    if (this.isTraining && rows < 2 && this.layers.some((l) => l.kind === 'batchnorm')) {
      throw new ArgumentRangeError(`Expected batches of at least 2 rows for batch norm in training mode (the variance of one row is undefined) but received ${rows}`);
    }
    for (let l = 0; l < this.layers.length; l++) {
      this.layerForward(this.layers[l], this.acts[l], this.acts[l + 1], rows, this.isTraining, true);
    }
    this.forwardTraining = this.isTraining;
    this.trainedRows = rows;
  }

  /**
   * Backward from dOut (rows, outputSize) through the activations of the last
   * forward. Overwrites every gradient; writes dLoss/dInput when dinput is given.
   */
  private backwardRows(dOut: FloatArray, rows: number, dinput: FloatArray | null): void {
    const { layers, acts, scratch } = this;
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
        gemm(true, false, outF, inF, rows, 1, cur, acts[l], 0, dWeight);
        // dbias (OC) = column sums of dZ, summed in double
        for (let j = 0; j < outF; j++) {
          let s = 0;
          for (let r = 0; r < rows; r++) s += cur[r * outF + j];
          dBias[j] = s;
        }
        if (layer.l1 > 0 || layer.l2 > 0) this.lastPenalty += densePenaltyBackward(dWeight, weight, layer.l1, layer.l2);
        if (l === stop && dinput === null) break; // nothing below needs dA
        // dinp (B,C) = dZ (B,OC) · weight (OC,C)
        gemm(false, false, rows, inF, outF, 1, cur, weight, 0, next);
      } else if (layer.kind === 'activation') {
        layer.kernel.backward(acts[l]!, acts[l + 1]!, cur, next, rows, layer.width);
      } else {
        const last = l === stop && dinput === null;
        otherBackward(layer, acts[l], cur, last ? null : next, rows, this.forwardTraining);
        if (last) break;
      }
      cur = next;
    }
    if (dinput !== null) copy(cur, 0, dinput, 0, rows * this.inputSize);
  }

  predict(x: FloatArray, rows: number, out: FloatArray): void {
    this.assertIdle('predict');
    checkRows(rows, Infinity);
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    need(x, rows * nIn, 'x');
    need(out, rows * nOut, 'out');
    this.predictRows(x, rows, out);
  }

  private predictRows(x: FloatArray, rows: number, out: FloatArray): void {
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    // Eval mode keeps no activations: each chunk ping-pongs through the two
    // scratch buffers (capacity × maxWidth each), so the activations of the
    // last forwardTrain survive for a later backward (as in network.cc).
    const { layers, scratch } = this;
    for (let start = 0; start < rows; start += this.capacity) {
      const n = Math.min(this.capacity, rows - start);
      let src = scratch[0];
      copy(x, start * nIn, src, 0, n * nIn);
      for (let l = 0; l < layers.length; l++) {
        const dst = src === scratch[0] ? scratch[1] : scratch[0];
        this.layerForward(layers[l], src, dst, n, false, false);
        src = dst;
      }
      copy(src, 0, out, start * nOut, n * nOut);
    }
  }

  /**
   * The contract's predictAsync (lib/engine.ts), on the main thread: chunks of
   * batchSize rows rounded up to a multiple of capacity — whole predict
   * passes, so the output is predict's bit for bit — with a yield to the
   * event loop between them. Busy meanwhile, like an epoch; dispose() stops it
   * before its next chunk and the promise rejects with ERR_FASTMLP_DISPOSED.
   */
  predictAsync(x: FloatArray, rows: number, out: FloatArray, batchSize: number): Promise<void> {
    this.assertIdle('predictAsync');
    checkRows(rows, Infinity);
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    need(x, rows * nIn, 'x');
    this.checkOwnOutput(out, rows * nOut);
    if (!isCount(batchSize, 1)) {
      throw new ArgumentRangeError(`Expected an integer ≥ 1 for batchSize but received ${String(batchSize)}`);
    }
    const chunk = Math.ceil(batchSize / this.capacity) * this.capacity;
    // Private copies both ways, as the native binding makes: x may change once
    // this returns, and out is only written when every chunk has run.
    const input = x.slice(0, rows * nIn);
    const result = alloc(this.dtype, rows * nOut);
    this.busy = 'predicting';
    return this.runPredict(input, rows, result, out, chunk);
  }

  private async runPredict(x: FloatArray, rows: number, result: FloatArray, out: FloatArray, chunk: number): Promise<void> {
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    try {
      for (let start = 0; start < rows; start += chunk) {
        if (start > 0) await yieldToEventLoop();
        if (this.isDisposed) {
          throw codedError('predictAsync was cancelled: the plan was disposed (dispose() freed its memory) before it finished', DISPOSED);
        }
        const n = Math.min(chunk, rows - start);
        this.predictRows(x.subarray(start * nIn, (start + n) * nIn), n, result.subarray(start * nOut, (start + n) * nOut));
      }
      if (this.isDisposed) {
        throw codedError('predictAsync was cancelled: the plan was disposed (dispose() freed its memory) before it finished', DISPOSED);
      }
      if (out.length !== rows * nOut) {
        throw new ArgumentRangeError(`Expected out to keep its ${rows * nOut} elements until predictAsync settled but its buffer was transferred or resized`);
      }
      out.set(result);
    } finally {
      this.busy = false;
      if (this.isDisposed) this.releaseBuffers();
    }
  }

  /** predictAsync's out: a typed array of the plan's dtype and length, over an ordinary ArrayBuffer (as the binding checks). */
  private checkOwnOutput(out: unknown, length: number): void {
    const Ctor = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(out instanceof Ctor)) throw typeError('out', `a ${Ctor.name}`, out);
    ownedBuffer('out', out);
    if (out.length !== length) throw rangeError('out', `${length} elements (rows × outputSize)`, out);
  }

  /** Copies x into the input buffer and runs the training forward. */
  private forwardBatch(x: FloatArray, rows: number): void {
    checkRows(rows, this.capacity);
    need(x, rows * this.inputSize, 'x');
    copy(x, 0, this.acts[0], 0, rows * this.inputSize);
    this.forwardRows(rows);
  }

  forwardTrain(x: FloatArray, rows: number, out: FloatArray): void {
    this.assertIdle('forwardTrain');
    checkRows(rows, this.capacity);
    need(out, rows * this.outputSize, 'out');
    this.forwardBatch(x, rows);
    copy(this.acts[this.layers.length], 0, out, 0, rows * this.outputSize);
  }

  backward(dout: FloatArray, rows: number, dinput?: FloatArray | null): void {
    this.assertIdle('backward');
    if (this.trainedRows < 0) {
      throw new ArgumentRangeError('Expected a last forwardTrain to differentiate for backward but received none (reserve() discards it)');
    }
    if (rows !== this.trainedRows) {
      throw new ArgumentRangeError(`Expected ${this.trainedRows} (the rows of the last forwardTrain) for rows but received ${String(rows)}`);
    }
    need(dout, rows * this.outputSize, 'dout');
    if (dinput) need(dinput, rows * this.inputSize, 'dinput');
    this.backwardRows(dout, rows, dinput ?? null);
  }

  /** Forward, loss and its gradient into this.dout; no backward yet. */
  private forwardLoss(loss: LossSpec, rows: number, y: Target): number {
    const pred = this.acts[this.layers.length];
    return lossForwardBackward(loss, pred, rows, this.outputSize, y, this.dout);
  }

  computeGradients(x: FloatArray, rows: number, y: Target): number {
    this.assertIdle('computeGradients');
    const loss = this.requireLoss('computeGradients');
    checkRows(rows, this.capacity);
    validateTarget(loss, rows, this.outputSize, y); // before the forward replaces anything
    this.forwardBatch(x, rows);
    const value = this.forwardLoss(loss, rows, y);
    this.backwardRows(this.dout, rows, null);
    return value + this.lastPenalty; // the penalties' value comes with their gradient
  }

  step(): void {
    this.assertIdle('step');
    this.steps++;
    optimizerUpdate(this.optimizer, this.params, this.grads, this.optState, this.paramCount,
                    this.steps);
  }

  trainStep(x: FloatArray, rows: number, y: Target): number {
    const value = this.computeGradients(x, rows, y);
    // As trainEpoch and the native engine: a NaN/Inf loss leaves the parameters unchanged.
    if (Number.isFinite(value)) this.step();
    return value;
  }

  /**
   * Argument checks that the native binding makes before it queues its worker
   * throw synchronously; the checks the core makes on the worker (order is a
   * permutation, class indices in range) reject the promise. Either way they
   * all run before the first step, so bad input never half-trains the model.
   * X and y are read batch by batch, not copied: a caller must not modify
   * them until the promise settles (Sequential trains on private copies).
   */
  trainEpoch(x: FloatArray, rows: number, y: Target, batchSize: number,
             order: Int32Array | null, hooks?: EpochHooks): Promise<EpochResult> {
    this.assertIdle('trainEpoch');
    checkRows(rows, Infinity);
    need(x, rows * this.inputSize, 'x');
    need(y, y instanceof Int32Array ? rows : rows * this.outputSize, 'y');
    if (!isCount(batchSize, 1)) {
      throw new ArgumentRangeError(`Expected an integer ≥ 1 for batchSize but received ${String(batchSize)}`);
    }
    if (order !== null && (!(order instanceof Int32Array) || order.length !== rows)) {
      throw new ArgumentRangeError(`Expected an Int32Array of ${rows} row indices for order but received ${String((order as { length?: unknown }).length)} values`);
    }
    if (hooks?.outputs !== undefined) this.checkOutputs(hooks.outputs, rows);
    const loss = this.requireLoss('trainEpoch');
    return this.runEpoch(loss, x, rows, y, batchSize, order, hooks ?? {});
  }

  /** EpochHooks.outputs: a typed array of the plan's dtype, rows × outputSize long (as the binding checks). */
  private checkOutputs(outputs: unknown, rows: number): void {
    const Ctor = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(outputs instanceof Ctor)) throw typeError('outputs', `a ${Ctor.name}`, outputs);
    ownedBuffer('outputs', outputs);  // refused in both engines (the native one writes it after its worker)
    if (outputs.length !== rows * this.outputSize) {
      throw rangeError('outputs', `${rows * this.outputSize} elements (rows × outputSize)`, outputs);
    }
  }

  private async runEpoch(loss: LossSpec, x: FloatArray, rows: number, y: Target,
                         batchSize: number, order: Int32Array | null,
                         hooks: EpochHooks): Promise<EpochResult> {
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    if (order !== null) checkPermutation(order, rows);
    // The target form and every class index, before the first step.
    validateTarget(loss, rows, nOut, y);
    const indices = y instanceof Int32Array ? y : null;

    const bs = Math.min(batchSize, rows);
    // A last batch of one row would stop batch norm part-way through the epoch.
    if (this.isTraining && Math.min(bs, rows - Math.floor((rows - 1) / bs) * bs) < 2 &&
        this.layers.some((l) => l.kind === 'batchnorm')) {
      throw new ArgumentRangeError(`Expected every batch to have at least 2 rows for batch norm in training mode but ${rows} rows in batches of ${batchSize} leave a batch of 1`);
    }
    this.reserve(bs);
    if (indices !== null && (this.yIdx === null || this.yIdx.length < this.capacity)) {
      this.yIdx = new Int32Array(this.capacity);
    }
    if (indices === null && (this.yDense === null || this.yDense.length < this.capacity * nOut)) {
      this.yDense = alloc(this.dtype, this.capacity * nOut);
    }
    const yb: Target = indices !== null ? (this.yIdx as Int32Array) : (this.yDense as FloatArray);
    const recorded = hooks.outputs;

    this.busy = 'training';
    let lossSum = 0;
    let done = 0; // rows of the completed batches
    let batches = 0;
    let badBatch = -1;
    let cancelled = false;
    try {
      const started = performance.now();
      let lastYield = started;
      for (let start = 0; start < rows; start += batchSize) {
        if (hooks.signal?.aborted || this.isDisposed) {
          cancelled = true;
          break;
        }
        const n = Math.min(batchSize, rows - start);
        // Gather the batch straight into the input buffer (and its targets).
        const input = this.acts[0];
        for (let i = 0; i < n; i++) {
          const src = order !== null ? order[start + i] : start + i;
          copy(x, src * nIn, input, i * nIn, nIn);
          if (indices !== null) (yb as Int32Array)[i] = indices[src];
          else copy(y, src * nOut, yb as FloatArray, i * nOut, nOut);
        }
        // The same sequence as trainStep: forward, loss, backward, step.
        this.forwardRows(n);
        let value = this.forwardLoss(loss, n, yb);
        if (Number.isFinite(value)) {
          this.backwardRows(this.dout, n, null);
          value += this.lastPenalty;
        }
        // A non-finite loss stops the epoch before its update is applied, so the
        // parameters stay those of the last good batch (network.cc train_epoch).
        if (!Number.isFinite(value)) {
          badBatch = batches;
          break;
        }
        // The outputs the loss saw, at each row's own position (backward only reads the activations).
        if (recorded !== undefined) {
          const out = this.acts[this.layers.length];
          for (let i = 0; i < n; i++) {
            copy(out, i * nOut, recorded, (order !== null ? order[start + i] : start + i) * nOut, nOut);
          }
        }
        this.steps++;
        optimizerUpdate(this.optimizer, this.params, this.grads, this.optState,
                        this.paramCount, this.steps);
        lossSum += value * n;
        done += n;
        batches++;
        hooks.onBatch?.(batches - 1, n, value, (performance.now() - started) / 1000);
        if (start + batchSize < rows && performance.now() - lastYield >= YIELD_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
    } finally {
      this.busy = false;
      if (this.isDisposed) this.releaseBuffers();
    }
    return { loss: done > 0 ? lossSum / done : 0, batches, badBatch, cancelled };
  }
}

/** RangeError unless order holds each of 0..rows-1 exactly once. */
function checkPermutation(order: Int32Array, rows: number): void {
  const seen = new Uint8Array(rows); // once per epoch, not per step
  for (let i = 0; i < rows; i++) {
    const r = order[i];
    if (r < 0 || r >= rows || seen[r] !== 0) {
      throw new ArgumentRangeError(`Expected a permutation of 0..${rows - 1} for order but received order[${i}] = ${r}${r >= 0 && r < rows ? ', a repeat' : ', out of range'}`);
    }
    seen[r] = 1;
  }
}
