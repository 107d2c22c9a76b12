// The memory of the pure-TypeScript engine's compiled network (JsNetworkPlan,
// plan.ts): construction from a PlanSpec, the flat and per-batch buffers,
// reserve(), dispose() and the busy/disposed guard every method runs first.
// Every field of the plan is declared here; the files built on it (see plan.ts)
// add methods only.
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
// prelu.ts, penalty.ts (formulas and sources there); conv2d, convtranspose2d
// and maxpool2d: conv.ts, convtranspose.ts, maxpool.ts, whose column scratch
// reserve() sizes with the rest.

import type { Dtype, FloatArray, LayerSpec, LossSpec, OptimizerSpec, PlanSpec } from '../../engine';
import { Rng } from '../../rng';
import { buildLayer, inputWidth, splitStats, validateLayer, WIDTH_FIXING_KINDS, type Layer, type Shape,
  type WidthFixingKind } from './plan-layers';
import { completeOptimizer, optimizerStateSize } from './optim';
import { alloc, isCount } from './plan-arrays';
import { WorkMeter } from './slices';
import { convBlockRows } from './conv';
import { ArgumentRangeError, ArgumentTypeError, BUSY, codedError, disposedError } from '../../validate';

/**
 * Every plan this engine constructed: copyStateFrom's brand check. instanceof
 * alone would accept Object.create(JsNetworkPlan.prototype), whose missing
 * buffers would then fail with an uncoded error half-way through.
 */
const constructedPlans = new WeakSet<object>();

/** Whether source was constructed by this engine (copyStateFrom's brand check). */
export function isJsPlan(source: unknown): boolean {
  return typeof source === 'object' && source !== null && constructedPlans.has(source);
}

/** network.h: SGD(lr = 0.01) until setOptimizer; the other fields are torch defaults. */
export const DEFAULT_OPTIMIZER: OptimizerSpec = completeOptimizer({
  kind: 'sgd', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8,
});

export abstract class PlanMemory {
  readonly dtype: Dtype;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly paramCount: number;

  protected readonly layers: Layer[];
  /** widths[l] is the width of acts[l]: the input of layer l (widths[L] the output). */
  private readonly widths: number[];
  private readonly maxWidth: number;
  /** Index of the first layer with parameters: backward need not go below it without dinput. */
  protected readonly firstParam: number;
  protected params: FloatArray;
  protected grads: FloatArray;
  protected buffers: FloatArray;
  protected isTraining = true;
  /** The mode of the last forwardTrain, which backward differentiates. */
  protected forwardTraining = true;
  protected rng = new Rng(0);
  /** The dense L1/L2 penalties' value, computed with their gradient by the last backward. */
  protected lastPenalty = 0;
  /** Whether the last backward's gradients are all finite (true before any); step() refuses them otherwise. */
  protected gradsFinite = true;

  protected optimizer: OptimizerSpec = { ...DEFAULT_OPTIMIZER };
  protected optState: FloatArray;
  protected steps = 0;
  protected loss: LossSpec | null = null;

  protected capacity = 0;
  /** acts[0] is the input copy, acts[l + 1] the output of layer l; capacity rows each. */
  protected acts: FloatArray[] = [];
  protected scratch: [FloatArray, FloatArray];
  protected dout: FloatArray;
  /** trainEpoch's target gather buffers, created on first use and grown with capacity. */
  protected yIdx: Int32Array | null = null;
  protected yDense: FloatArray | null = null;
  /** Rows of the forwardTrain whose activations are held, or -1 if none are. */
  protected trainedRows = -1;
  /**
   * Set while trainEpoch, predictAsync or an async pass (forwardTrainAsync,
   * backwardStepAsync) runs: they yield to the event loop between batches and
   * within one (slices.ts), and nothing may interleave.
   */
  protected busy: false | 'training' | 'predicting' | 'pass' = false;
  /** dispose() was called: buffers dropped (or dropped when the running epoch stops). */
  protected isDisposed = false;
  /** Work since the passes' last yield (slices.ts). */
  protected readonly meter = new WorkMeter();

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

    const first = spec.layers.findIndex((l) => l !== null && typeof l === 'object' &&
      WIDTH_FIXING_KINDS.includes(l.kind));
    if (first < 0) {
      throw new ArgumentRangeError('Expected at least one dense, conv2d, convtranspose2d or maxpool2d layer in layers but received none');
    }
    const firstIn = inputWidth(spec.layers[first] as LayerSpec & { kind: WidthFixingKind }, first);

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

  get bufferCount(): number {
    return this.buffers.length;
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

  protected releaseBuffers(): void {
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
      } else if (layer.kind === 'conv2d') {
        layer.weight = layer.bias = layer.dWeight = layer.dBias = layer.col = layer.yBlock = empty;
        layer.blockRows = 0;
      } else if (layer.kind === 'convtranspose2d') {
        layer.weight = layer.bias = layer.dWeight = layer.dBias = layer.col = layer.xBlock = empty;
        layer.blockRows = 0;
      }
    }
  }

  protected assertIdle(what: string): void {
    if (this.isDisposed) throw disposedError(what);
    if (this.busy) throw codedError(`Cannot run ${what}: this plan is ${this.busyReason()}; wait for it to finish`, BUSY);
  }

  /** What keeps a busy plan busy, for the refusals' messages. */
  protected busyReason(): string {
    if (this.busy === 'predicting') return 'predicting (predictAsync is running)';
    return this.busy === 'pass' ? 'training (a forward or backward pass is running)' : 'training (an epoch is running)';
  }

  protected requireLoss(what: string): LossSpec {
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
    // conv2d's and convtranspose2d's column scratch: blocks of up to
    // convBlockRows images (conv.ts, convtranspose.ts); block: yBlock
    // (outC × n·P) or xBlock (inC × n·P).
    const convScratch = this.layers.map((l) => {
      if (l.kind !== 'conv2d' && l.kind !== 'convtranspose2d') return null;
      const n = convBlockRows(l, rows);
      if (n === l.blockRows) return null; // capped by COL_BUDGET already: keep the buffers
      const blockChannels = l.kind === 'conv2d' ? l.outC : l.inC;
      return { n, col: alloc(this.dtype, l.K * n * l.P), block: alloc(this.dtype, blockChannels * n * l.P) };
    });
    this.layers.forEach((l, i) => {
      if (l.kind === 'dropout') l.mask = aux[i]!;
      else if (l.kind === 'layernorm') l.stats = splitStats(aux[i]!, rows);
      else if (l.kind === 'conv2d' && convScratch[i] !== null) {
        const { n, col, block } = convScratch[i]!;
        l.blockRows = n;
        l.col = col;
        l.yBlock = block;
      } else if (l.kind === 'convtranspose2d' && convScratch[i] !== null) {
        const { n, col, block } = convScratch[i]!;
        l.blockRows = n;
        l.col = col;
        l.xBlock = block;
      }
    });
    this.acts = acts;
    this.scratch = scratch;
    this.dout = dout;
    this.capacity = rows;
    this.trainedRows = -1; // the activations of the last forwardTrain are gone
  }
}
