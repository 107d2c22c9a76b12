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
// Parameter layout (shared with the native engine): for each dense layer in
// order, its weight (out × in, row-major, torch.nn.Linear) then its bias (out).
//
// Dense layer (SPEC.md §1, notes 001; native/core/dense.h):
//   forward   Z (B,OC) = A (B,C) · Wᵀ + b
//   backward  dW (OC,C) = dZᵀ · A,  db = column sums of dZ,  dA (B,C) = dZ · W
// The 1/B of a mean-reduced loss lives in the loss gradient, not here.

import type {
  ActivationName, Dtype, EpochHooks, EpochResult, FloatArray, LayerSpec, LossSpec, NetworkPlan,
  OptimizerSpec, PlanSpec, Target,
} from '../../engine';
import { activationBackward, activationForward } from './activations';
import { gemm } from './gemm';
import { lossForwardBackward, validateLossSpec, validateTarget } from './losses';
import { optimizerStateSize, optimizerUpdate, validateOptimizer } from './optim';
import { ArgumentRangeError, ArgumentTypeError, disposedError } from '../../validate';

interface DenseLayer {
  kind: 'dense';
  inF: number;
  outF: number;
  weight: FloatArray; // view (outF × inF) into params
  bias: FloatArray; // view (outF) into params
  dWeight: FloatArray; // views into grads, same layout
  dBias: FloatArray;
}

interface ActivationLayer {
  kind: 'activation';
  act: ActivationName;
  width: number;
}

type Layer = DenseLayer | ActivationLayer;

const ACTIVATIONS: readonly string[] = ['identity', 'relu', 'sigmoid', 'tanh', 'softmax'];

/** network.h: SGD(lr = 0.01) until setOptimizer; the other fields are torch defaults. */
const DEFAULT_OPTIMIZER: OptimizerSpec = {
  kind: 'sgd', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8,
};

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
  /** Index of the first dense layer: backward need not go below it without dinput. */
  private readonly firstDense: number;
  private params: FloatArray;
  private grads: FloatArray;

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
  /** Set while trainEpoch runs: it yields between batches, and nothing may interleave. */
  private busy = false;
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
    this.firstDense = first;
    const firstIn = (spec.layers[first] as { inFeatures: number }).inFeatures;

    // Validate each layer and lay out its parameters in the flat buffers.
    let width = firstIn;
    let offset = 0;
    const shapes: { act?: ActivationName; inF: number; outF: number; off: number }[] = [];
    const widths: number[] = [];
    spec.layers.forEach((layer: LayerSpec, i: number) => {
      widths.push(width);
      if (layer === null || typeof layer !== 'object') {
        throw new ArgumentTypeError(`Expected a layer object for layers[${i}] but received ${String(layer)}`);
      }
      if (layer.kind === 'dense') {
        const { inFeatures, outFeatures } = layer;
        if (!isCount(inFeatures, 1) || !isCount(outFeatures, 1)) {
          throw new ArgumentRangeError(`Expected integer sizes ≥ 1 for layers[${i}] but received ${String(inFeatures)}×${String(outFeatures)}`);
        }
        if (inFeatures !== width) {
          throw new ArgumentRangeError(`Expected inFeatures ${width} (the width before it) for layers[${i}] but received ${inFeatures}`);
        }
        shapes.push({ inF: inFeatures, outF: outFeatures, off: offset });
        offset += outFeatures * inFeatures + outFeatures;
        width = outFeatures;
      } else if (layer.kind === 'activation') {
        if (!ACTIVATIONS.includes(layer.activation)) {
          throw new ArgumentRangeError(`Expected one of ${ACTIVATIONS.join(', ')} for layers[${i}].activation but received ${String(layer.activation)}`);
        }
        shapes.push({ act: layer.activation, inF: width, outF: width, off: -1 });
      } else {
        throw new ArgumentRangeError(`Expected kind 'dense' or 'activation' for layers[${i}] but received ${String((layer as { kind: unknown }).kind)}`);
      }
    });
    widths.push(width);

    this.inputSize = firstIn;
    this.outputSize = width;
    this.paramCount = offset;
    this.widths = widths;
    this.maxWidth = Math.max(...widths);
    this.params = alloc(this.dtype, offset);
    this.grads = alloc(this.dtype, offset);
    this.layers = shapes.map((s): Layer => {
      if (s.act !== undefined) return { kind: 'activation', act: s.act, width: s.inF };
      const wEnd = s.off + s.outF * s.inF;
      const bEnd = wEnd + s.outF;
      return {
        kind: 'dense', inF: s.inF, outF: s.outF,
        weight: this.params.subarray(s.off, wEnd), bias: this.params.subarray(wEnd, bEnd),
        dWeight: this.grads.subarray(s.off, wEnd), dBias: this.grads.subarray(wEnd, bEnd),
      };
    });
    this.optState = alloc(this.dtype, optimizerStateSize(this.optimizer, offset));
    this.scratch = [alloc(this.dtype, 0), alloc(this.dtype, 0)];
    this.dout = alloc(this.dtype, 0);
    this.reserve(spec.maxBatch);
  }

  get maxBatch(): number {
    if (this.isDisposed) throw disposedError('maxBatch');
    return this.capacity;
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
    if (this.busy) {
      const e = new Error(`Cannot run ${what}: this plan is training (an epoch is running); wait for it to finish`);
      (e as Error & { code: string }).code = 'ERR_FASTMLP_BUSY';
      throw e;
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
    validateLossSpec(loss);
    this.loss = { kind: loss.kind, reduction: loss.reduction, labelSmoothing: loss.labelSmoothing };
  }

  setOptimizer(optimizer: OptimizerSpec): void {
    this.assertIdle('setOptimizer');
    validateOptimizer(optimizer);
    const next: OptimizerSpec = { ...DEFAULT_OPTIMIZER, ...optimizer };
    const size = optimizerStateSize(next, this.paramCount);
    // A hyper-parameter change (same kind, same state size) keeps the moments
    // and the step count, as changing lr in a torch optimizer's param_groups does.
    if (next.kind !== this.optimizer.kind || size !== this.optState.length) {
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

  /** One layer's forward of `rows` rows from inp into out. */
  private layerForward(layer: Layer, inp: FloatArray, out: FloatArray, rows: number): void {
    if (layer.kind === 'dense') {
      // out (B,OC) = inp (B,C) · weight (OC,C)ᵀ + bias (OC); beta = 0, so
      // whatever out held before (even NaN) is never read.
      const { inF, outF, weight, bias } = layer;
      gemm(false, true, rows, outF, inF, 1, inp, weight, 0, out);
      for (let r = 0; r < rows; r++) {
        const o = r * outF;
        for (let j = 0; j < outF; j++) out[o + j] += bias[j];
      }
    } else {
      activationForward(layer.act, inp, out, rows, layer.width);
    }
  }

  /** Training forward of the rows already in acts[0]; every layer's output stays in acts. */
  private forwardRows(rows: number): void {
    this.trainedRows = -1; // stays so if a layer throws
    for (let l = 0; l < this.layers.length; l++) {
      this.layerForward(this.layers[l], this.acts[l], this.acts[l + 1], rows);
    }
    this.trainedRows = rows;
  }

  /**
   * Backward from dOut (rows, outputSize) through the activations of the last
   * forward. Overwrites every gradient; writes dLoss/dInput when dinput is given.
   */
  private backwardRows(dOut: FloatArray, rows: number, dinput: FloatArray | null): void {
    const { layers, acts, scratch } = this;
    const stop = dinput !== null ? 0 : this.firstDense;
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
        if (l === stop && dinput === null) break; // nothing below needs dA
        // dinp (B,C) = dZ (B,OC) · weight (OC,C)
        gemm(false, false, rows, inF, outF, 1, cur, weight, 0, next);
      } else {
        activationBackward(layer.act, acts[l], acts[l + 1], cur, next, rows, layer.width);
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
        this.layerForward(layers[l], src, dst, n);
        src = dst;
      }
      copy(src, 0, out, start * nOut, n * nOut);
    }
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
    return value;
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
    const loss = this.requireLoss('trainEpoch');
    return this.runEpoch(loss, x, rows, y, batchSize, order, hooks ?? {});
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

    this.reserve(Math.min(batchSize, rows));
    if (indices !== null && (this.yIdx === null || this.yIdx.length < this.capacity)) {
      this.yIdx = new Int32Array(this.capacity);
    }
    if (indices === null && (this.yDense === null || this.yDense.length < this.capacity * nOut)) {
      this.yDense = alloc(this.dtype, this.capacity * nOut);
    }
    const yb: Target = indices !== null ? (this.yIdx as Int32Array) : (this.yDense as FloatArray);

    this.busy = true;
    let lossSum = 0;
    let done = 0; // rows of the completed batches
    let batches = 0;
    let badBatch = -1;
    let cancelled = false;
    try {
      let lastYield = performance.now();
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
        const value = this.forwardLoss(loss, n, yb);
        // A non-finite loss stops the epoch before its update is applied, so the
        // parameters stay those of the last good batch (network.cc train_epoch).
        if (!Number.isFinite(value)) {
          badBatch = batches;
          break;
        }
        this.backwardRows(this.dout, n, null);
        this.steps++;
        optimizerUpdate(this.optimizer, this.params, this.grads, this.optState,
                        this.paramCount, this.steps);
        lossSum += value * n;
        done += n;
        batches++;
        hooks.onBatch?.(batches - 1, n, value);
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
