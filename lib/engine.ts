// The engine contract: what the native engine (C++ through Node-API) and the
// pure-TypeScript engine both implement. Its unit of work is coarse — a whole
// compiled network plan — so a training step crosses into C++ once.
//
// Engines trust their arguments' types and shapes: the public API in lib/ has
// validated them already (the native binding re-checks cheaply anyway, because
// it can be called directly).

export type Dtype = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;
export type ActivationName = 'identity' | 'relu' | 'sigmoid' | 'tanh' | 'softmax'
  | 'log-softmax' | 'leaky-relu' | 'elu' | 'selu' | 'softplus' | 'gelu' | 'silu' | 'swish'
  | 'hardtanh' | 'relu6' | 'logsigmoid';

/**
 * Parameters of the parameterised activations (SPEC.md §2), PyTorch's names in
 * camelCase. Each activation reads only its own; a missing one takes PyTorch's
 * default: negativeSlope 0.01 (leaky-relu), alpha 1 (elu), beta 1 (softplus,
 * swish), threshold 20 (softplus), approximate 'none' (gelu), minVal −1 and
 * maxVal 1 (hardtanh).
 */
export interface ActivationParams {
  negativeSlope?: number;
  alpha?: number;
  beta?: number;
  threshold?: number;
  approximate?: 'none' | 'tanh';
  minVal?: number;
  maxVal?: number;
}
export type LossName = 'mse' | 'cross-entropy' | 'mae' | 'huber' | 'tukey' | 'quantile' | 'barron' | 'bce'
  | 'bce-with-logits' | 'nll' | 'kl-div' | 'hinge' | 'squared-hinge' | 'dice' | 'focal';
/** 'none' keeps per-element/per-row values (lossValues; never in training); 'batchmean' is kl-div's. */
export type Reduction = 'mean' | 'sum' | 'none' | 'batchmean';
export type OptimizerName = 'sgd' | 'adagrad' | 'rmsprop' | 'adam' | 'adamw';
export type EngineName = 'native' | 'js';

export type LayerSpec =
  /** l1, l2: weight penalties l1·Σ|w| + l2·Σw² added to the loss and its gradient (default 0). */
  | { kind: 'dense'; inFeatures: number; outFeatures: number; l1?: number; l2?: number }
  | ({ kind: 'activation'; activation: ActivationName } & ActivationParams)
  /** Inverted dropout, p in [0, 1); identity in eval mode. */
  | { kind: 'dropout'; p: number }
  /**
   * torch.nn.BatchNorm1d; parameters weight, bias (affine); buffers running_mean, running_var,
   * num_batches_tracked unless trackRunningStats is false (default true: then no buffers and
   * batch statistics in eval mode too, predict in one pass). momentum null: torch's None,
   * a cumulative average with factor 1/num_batches_tracked.
   */
  | { kind: 'batchnorm'; numFeatures: number; eps: number; momentum: number | null; affine: boolean; trackRunningStats?: boolean }
  /** torch.nn.LayerNorm over the last dimension; parameters weight, bias (elementwiseAffine). */
  | { kind: 'layernorm'; normalizedShape: number; eps: number; elementwiseAffine: boolean }
  /** torch.nn.PReLU; numParameters is 1 or the width; parameter weight. */
  | { kind: 'prelu'; numParameters: number }
  /**
   * torch.nn.Conv2d (cross-correlation, zeros padding, no dilation or groups) on
   * rows that hold images flattened as torch's x.flatten(1): channel, then row,
   * then column (NCHW). In width inChannels·inHeight·inWidth, out width
   * outChannels·outHeight·outWidth with outHeight = ⌊(inHeight + 2·padHeight −
   * kernelHeight)/strideHeight⌋ + 1 (SPEC §6), likewise outWidth. Parameters
   * weight (outChannels × inChannels × kernelHeight × kernelWidth, torch's
   * layout) then bias (outChannels).
   */
  | ({ kind: 'conv2d'; inChannels: number; outChannels: number } & Window2d)
  /**
   * torch.nn.ConvTranspose2d (no dilation or groups): the adjoint of conv2d,
   * on the same NCHW-flattened rows. In width inChannels·inHeight·inWidth, out
   * width outChannels·outHeight·outWidth with outHeight = (inHeight − 1)·
   * strideHeight − 2·padHeight + kernelHeight + outPadHeight (SPEC §6, torch's
   * output_padding: outPadHeight < strideHeight), likewise outWidth; both ≥ 1.
   * Parameters weight (inChannels × outChannels × kernelHeight × kernelWidth,
   * torch's layout for ConvTranspose2d) then bias (outChannels).
   */
  | ({ kind: 'convtranspose2d'; inChannels: number; outChannels: number; outPadHeight: number; outPadWidth: number } & Window2d)
  /**
   * torch.nn.MaxPool2d (ceil_mode false, no dilation) over each of `channels`
   * images of a row, flattened as for conv2d; padding counts as −∞ and is at
   * most half the kernel. No parameters. Backward sends each output's gradient
   * to the first maximum of its window in row-major order (torch's CPU kernel;
   * a NaN counts as the maximum).
   */
  | ({ kind: 'maxpool2d'; channels: number } & Window2d);

/** The geometry conv2d and maxpool2d share: input image size, kernel, stride and padding (all ≥ 1, padding ≥ 0). */
export interface Window2d {
  inHeight: number;
  inWidth: number;
  kernelHeight: number;
  kernelWidth: number;
  strideHeight: number;
  strideWidth: number;
  padHeight: number;
  padWidth: number;
}

/** Loss settings (SPEC.md §3, PyTorch conventions). */
export interface LossSpec {
  kind: LossName;
  reduction: Reduction;
  /** Cross-entropy only, in [0, 1]. */
  labelSmoothing: number;
  // Options of the other losses (native/core/losses.h has the formulas). An
  // engine uses the loss's documented default where a field is undefined.
  /** huber (1) and tukey (4.685). */
  delta?: number;
  /** quantile (0.5). */
  tau?: number;
  /** barron α (1; −Infinity allowed) or focal α (0.25). */
  alpha?: number;
  /** barron c (1). */
  scale?: number;
  /** focal γ (2). */
  gamma?: number;
  /** dice s (1). */
  smooth?: number;
  /** bce-with-logits pos_weight (1). */
  posWeight?: number;
  /** One weight per output column: cross-entropy, nll, bce, bce-with-logits. */
  classWeights?: Float64Array | null;
}

/**
 * Optimizer settings (SPEC.md §4, PyTorch conventions); unused fields are ignored.
 * The optional fields default as noted (native/core/optim.h has the same defaults).
 */
export interface OptimizerSpec {
  kind: OptimizerName;
  lr: number;
  /** SGD and RMSprop. */
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** Coupled L2 (added to the gradient); AdamW: decoupled. */
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Adam/AdamW, RMSprop and Adagrad. */
  eps: number;
  /** Adam/AdamW: use the running maximum of v (default false). */
  amsgrad?: boolean;
  /** RMSprop smoothing constant (default 0.99). */
  alpha?: number;
  /** RMSprop: normalise by the variance estimate (default false). */
  centered?: boolean;
  /** Adagrad: lr / (1 + (t − 1)·lrDecay) (default 0). */
  lrDecay?: number;
  /** Adagrad: starting value of the sum of squares (default 0). */
  initialAccumulatorValue?: number;
  /** Clip the global gradient norm to this before the update (default 0: off). */
  clipNorm?: number;
  /** Clamp each gradient to ±clipValue before the update, after clipNorm (default 0: off). */
  clipValue?: number;
  /** Gradient ascent: the update reads −g (torch.optim's maximize; default false). */
  maximize?: boolean;
}

export interface PlanSpec {
  dtype: Dtype;
  layers: LayerSpec[];
  /** Initial activation capacity in rows; grows with reserve(). */
  maxBatch: number;
}

/** Class indices (one per row) or a dense target (rows × outputs) of the plan's dtype. */
export type Target = Int32Array | FloatArray;

export interface EpochResult {
  /** Mean batch loss, weighted by batch rows. */
  loss: number;
  /** Batches completed. */
  batches: number;
  /** Index of the first batch whose loss, gradients or running statistics were not finite (training stopped there), or -1. */
  badBatch: number;
  /**
   * True when hooks.signal (or dispose()) stopped the epoch early. The model
   * then holds exactly the state of the `batches` completed batches
   * (EpochHooks.signal says where each engine stops).
   */
  cancelled: boolean;
  /**
   * True when badBatch's loss and gradients were finite but the running
   * statistics its forward updated were not (a huge finite input overflowed
   * batch norm's variance); they were put back and the step refused.
   * Present only then (both engines), so other results keep four fields.
   */
  badStatistics?: boolean;
  /**
   * True when badBatch's loss, gradients and statistics were finite but its
   * optimizer update would have made some parameters or optimizer state
   * NaN/±Infinity: those kept their values exactly, the others were updated,
   * the step was not counted and the statistics were put back. Present only
   * then (both engines).
   */
  badUpdate?: boolean;
}

/**
 * How many batches the native engine's worker may train ahead of
 * EpochHooks.onBatch (native/binding/progress_gate.h, ProgressGate::kCapacity;
 * the addon reports it as maxBatchLag). The JS engine's lag is 0.
 */
export const ON_BATCH_MAX_LAG = 16;

/** True for what EpochHooks.onBatch may return to be awaited: a promise or any thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null &&
    typeof (value as { then?: unknown }).then === 'function';
}

/** Optional observers and controls for one trainEpoch call. */
export interface EpochHooks {
  /**
   * Called after each completed batch, in order, before the epoch's promise
   * resolves. The JS engine calls it synchronously between batches (lag 0).
   * The native engine posts it from its worker thread, which runs ahead by at
   * most ON_BATCH_MAX_LAG batches: when onBatch is called for batch b, no batch
   * after b + ON_BATCH_MAX_LAG has completed. A callback slower than a batch
   * therefore slows training (backpressure) instead of queueing events without
   * bound; every event is still delivered, once, in order.
   * onBatch may return a promise (any thenable): its batch then counts as
   * undelivered until it settles, and the next onBatch is called only after
   * that, in both engines — the JS engine starts no next batch (lag 0), the
   * native worker stays within ON_BATCH_MAX_LAG of the call in progress — so a
   * slow async observer slows training like a slow synchronous one. A
   * rejection stops the epoch and rejects trainEpoch with its reason, as a
   * throw does; the epoch's promise settles after the last one settled.
   * `seconds`: time from the epoch's start to the end of this batch, measured
   * where the batch ran (the worker thread; in the JS engine, the main thread
   * minus its yields to the event loop), so rows/seconds is a true rate.
   */
  onBatch?: (batch: number, rows: number, loss: number, seconds: number) => void | PromiseLike<void>;
  /**
   * Aborting stops the epoch (cancelled: true); the model is then exactly as
   * the completed batches left it, as a trainStep loop over them would have.
   * The native engine stops before its next batch: the batch in flight on
   * its worker completes (~45 ms for 784-2048-2048-10 at 256 rows). The JS
   * engine, whose batch of that net is ~2 s, also sees an abort at each pause
   * inside a batch (lib/engines/js/slices.ts): before the batch's optimizer
   * update it drops the batch — parameters, optimizer state and step count
   * untouched; batch norm's running statistics, the dropout stream and
   * `penalty` put back; no onBatch, no `outputs` rows, not in `loss` or
   * `batches` — leaving its gradients possibly half written, so step()
   * refuses them and backward() has no forward to differentiate until the
   * next training forward. An update already begun runs to its end and the
   * epoch stops after that batch, which counts as completed.
   */
  signal?: AbortSignal;
  /**
   * Where to record the outputs the loss saw (rows × outputSize, the plan's
   * dtype): each batch's training-mode output rows, after its forward and
   * before its step, written at the rows' own positions in x — row order[r]
   * (or r when order is null) gets its output — so after the epoch outputs
   * lines up with x and y (training metrics without a second pass). Rows of
   * batches that did not complete (a cancellation, the bad batch and after)
   * are left untouched. Must not be read or written until the promise settles.
   */
  outputs?: FloatArray;
  /**
   * The caller promises x and y stay unchanged until it calls the plan's
   * releaseEpochData() (fit's private copies do): the native engine then
   * copies them for the first such epoch only and reuses that copy in later
   * keepData epochs over the same two arrays and rows, instead of copying both
   * on the main thread every epoch; x and a dense y from Engine.allocData it
   * reads in place, with no copy at all. The JS engine reads them in place anyway.
   */
  keepData?: boolean;
}

/**
 * A compiled network. Parameter layout: for each layer in order, its learnable
 * tensors in PyTorch state_dict order — dense: weight (out × in, row-major, as
 * torch.nn.Linear) then bias (out); batch/layer norm (affine): weight, bias (C);
 * prelu: weight (numParameters). Parameters start at zero; gradients are
 * overwritten (not accumulated) by each backward/computeGradients.
 * Buffers (non-learnable state): per batch-norm layer running_mean (C),
 * running_var (C), num_batches_tracked (3: base-2^24 digits, low first, so the
 * count is exact past float32's 2^24; lib/batch-count.ts), starting at 0, 1, 0.
 * Mode: training (default) or eval, for forwardTrain/computeGradients/trainStep/
 * trainEpoch; predict is always eval. Dropout masks come from lib/rng.ts's
 * xoshiro128** seeded by setSeed (both engines draw the same stream).
 */
export interface NetworkPlan {
  readonly dtype: Dtype;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly paramCount: number;
  readonly maxBatch: number;

  /** Grows activation buffers so batches of up to `rows` fit. */
  reserve(rows: number): void;
  /** Sets the built-in loss, or null for custom-loss mode (forwardTrain/backward/step only). */
  setLoss(loss: LossSpec | null): void;
  /**
   * Keeps optimizer state when only hyper-parameters change; resets it when the kind or the
   * state layout changes (momentum on/off, RMSprop centered, amsgrad).
   */
  setOptimizer(optimizer: OptimizerSpec): void;
  resetOptimizer(): void;
  /** Steps applied so far; refused (ERR_FASTMLP_BUSY) while an async call runs, as penalty. */
  readonly stepCount: number;
  /**
   * Length of the flat optimizer state (0 for plain SGD). Its layout belongs to
   * the optimizer kind; savers treat it as an opaque array of the plan's dtype.
   */
  readonly optimizerStateSize: number;
  /** Copies the optimizer state into out (length optimizerStateSize). */
  getOptimizerState(out: FloatArray): void;
  /**
   * Restores a state taken by getOptimizerState (same optimizer kind, length
   * optimizerStateSize exactly) and the step count, so training resumes exactly.
   */
  setOptimizerState(src: FloatArray, stepCount: number): void;

  /** Copies all parameters into out (length paramCount). */
  getParams(out: FloatArray): void;
  /** Copies src (length paramCount) into the parameters. */
  setParams(src: FloatArray): void;
  /**
   * The ranged copies: values [offset, offset + array.length) of the flat
   * parameters (paramCount) or optimizer state (optimizerStateSize) into out /
   * from src, so a large model is saved or loaded in ~1 MB steps with the
   * event loop let in between (lib/io; lib/state-copy.ts keeps a save's
   * steps one moment's state). offset: an integer in [0, count] (RangeError
   * naming offset); the array: a Float32Array/Float64Array of the plan's dtype
   * (TypeError naming it) that ends by count (RangeError). An empty array is
   * fine. writeOptimizerState also sets the step count (an integer ≥ 0), as
   * setOptimizerState does: every range of one restore passes the same count.
   */
  readParams(offset: number, out: FloatArray): void;
  writeParams(offset: number, src: FloatArray): void;
  readOptimizerState(offset: number, out: FloatArray): void;
  writeOptimizerState(offset: number, src: FloatArray, stepCount: number): void;
  /** Copies the gradients of the last backward into out (length paramCount). */
  getGrads(out: FloatArray): void;

  /** Non-learnable state values (batch-norm running statistics). */
  readonly bufferCount: number;
  /** Copies the buffers into out (length bufferCount). */
  getBuffers(out: FloatArray): void;
  /** Copies src (length bufferCount) into the buffers. */
  setBuffers(src: FloatArray): void;
  /**
   * Copies source's parameters and buffers (batch-norm running statistics)
   * straight into this plan's memory, with no intermediate array — what fit's
   * per-epoch predict snapshot needs. Nothing else is copied: not the optimizer
   * state or step count, the gradients, the loss, the mode or the dropout seed.
   * source must be a plan of the same engine (TypeError otherwise) and dtype
   * (TypeError), not this plan (RangeError), with the same inputSize,
   * outputSize, paramCount and bufferCount (RangeError). Layer specs are not
   * compared (the native binding knows nothing of layers): plans compiled from
   * one PlanSpec always match, and a caller copying between other architectures
   * with equal counts gets the values in the flat layout order. Both plans must
   * be idle and not disposed (ERR_FASTMLP_BUSY / ERR_FASTMLP_DISPOSED, naming
   * source when it is source's fault). A refused copy changes nothing.
   */
  copyStateFrom(source: NetworkPlan): void;
  /** True (the default) for training mode, false for eval mode. */
  readonly training: boolean;
  setTraining(training: boolean): void;
  /** Restarts the dropout mask stream; seed an integer in [0, 2^53). */
  setSeed(seed: number): void;
  /**
   * The dropout mask stream's generator state: four 32-bit words (unsigned),
   * the same in both engines. Model files saved with includeOptimizer store it,
   * so a loaded model draws the masks an uninterrupted run would.
   */
  getDropoutState(): number[];
  /**
   * Restores getDropoutState's words: an array of four integers in [0, 2^32),
   * not all zero (TypeError/RangeError naming words otherwise; nothing changes).
   */
  setDropoutState(words: readonly number[]): void;
  /**
   * The dense layers' L1/L2 penalty value computed by the last backward (with
   * its gradient); computeGradients, trainStep and trainEpoch include it in
   * their loss, a custom-loss loop adds it itself. Kept after dispose; refused
   * (ERR_FASTMLP_BUSY) while an async call runs, whose worker may be summing it.
   */
  readonly penalty: number;

  /** Eval-mode forward of any number of rows: x (rows × in) → out (rows × out). */
  predict(x: FloatArray, rows: number, out: FloatArray): void;
  /**
   * predict without blocking the event loop: the native engine runs it on a
   * worker thread; the JS engine runs it on the main thread and yields to the
   * event loop between chunks. batchSize: rows per chunk, rounded up to a
   * multiple of maxBatch, so the forward passes are exactly predict's
   * (maxBatch rows each) and out equals predict's output bit for bit. x is
   * copied before the call returns (the caller may reuse it at once); out is
   * written only when the promise resolves, after a check that it still has
   * rows × outputSize elements (a transferred buffer rejects with a RangeError).
   * Until the promise settles the plan is busy: every other method throws
   * ERR_FASTMLP_BUSY. dispose() meanwhile stops it at its next chunk and the
   * promise rejects with ERR_FASTMLP_DISPOSED (out untouched). Arguments are
   * checked before anything runs, throwing synchronously.
   */
  predictAsync(x: FloatArray, rows: number, out: FloatArray, batchSize: number): Promise<void>;
  /** Training forward of one batch (rows ≤ maxBatch); keeps activations; output copied to out. */
  forwardTrain(x: FloatArray, rows: number, out: FloatArray): void;
  /** Backward of the last forwardTrain from dLoss/dOutput; optionally writes dLoss/dInput. */
  backward(dout: FloatArray, rows: number, dinput?: FloatArray | null): void;
  /**
   * forwardTrain off the main thread (a custom loss's batch, lib/training.ts):
   * the native engine runs it on a worker thread, the JS engine in slices
   * that pause for the event loop. x is read at the call (copied, natively),
   * out is written when the promise resolves; the plan is busy until then.
   * Arguments are checked before anything runs, throwing synchronously.
   */
  forwardTrainAsync(x: FloatArray, rows: number, out: FloatArray): Promise<void>;
  /**
   * backward from dout (rows as the last forwardTrain or forwardTrainAsync),
   * then step() when loss + penalty is finite, off the main thread as
   * forwardTrainAsync; resolves with loss + penalty (the penalty of this backward).
   */
  backwardStepAsync(dout: FloatArray, rows: number, loss: number): Promise<number>;
  /** forwardTrain + loss + backward (needs a loss); returns the loss; parameters unchanged. */
  computeGradients(x: FloatArray, rows: number, y: Target): number;
  /**
   * One optimizer update with the current gradients. Refused (nothing changes,
   * stepCount included) when the last backward's gradients are not all finite,
   * or the buffers (batch norm's running statistics) are not. Not counted
   * (stepCount stays) when the update would make some parameters or state
   * non-finite: those keep their values exactly, the others are updated.
   */
  step(): void;
  /**
   * computeGradients + step; returns the batch loss before the update. A loss
   * that is not finite skips the step (parameters unchanged); so do gradients
   * that are not (the loss is returned; stepCount stays).
   */
  trainStep(x: FloatArray, rows: number, y: Target): number;
  /**
   * One epoch of mini-batches over X (rows × in) in `order` (a permutation of
   * 0..rows-1, or null for natural order). The native engine runs it on a worker
   * thread; the JS engine runs it on the main thread, pausing for the event
   * loop between batches and inside them (lib/engines/js/slices.ts).
   */
  trainEpoch(x: FloatArray, rows: number, y: Target, batchSize: number,
             order: Int32Array | null, hooks?: EpochHooks): Promise<EpochResult>;
  /** Drops the copy of x and y that keepData epochs kept (EpochHooks.keepData). Idempotent. */
  releaseEpochData(): void;
  /**
   * Frees the plan's memory now; while an epoch runs, stops it before its next
   * batch (the JS engine: at its next pause, dropping the batch in flight;
   * the promise resolves with cancelled: true) and frees it when the
   * epoch returns. Afterwards every method and maxBatch/stepCount throw an
   * Error with code ERR_FASTMLP_DISPOSED; the size fields stay readable. Idempotent.
   */
  dispose(): void;
  readonly disposed: boolean;
}

export interface Engine {
  readonly name: EngineName;
  /** 'avx512' | 'avx2' | 'neon' | 'scalar' for native; 'js' for the TypeScript engine. */
  readonly isa: string;
  readonly version: string;
  setThreads(n: number): void;
  getThreads(): number;
  /**
   * Row-major C (m×n) = alpha·op(A)·op(B) + beta·C with packed storage
   * (lda = k or m, ldb = n or k, ldc = n). beta = 0 writes C without reading it.
   */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
       a: FloatArray, b: FloatArray, beta: number, c: FloatArray): void;
  lossForward(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target): number;
  /** Writes dLoss/dPred (rows × cols) into grad. */
  lossBackward(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target,
               grad: FloatArray): void;
  /**
   * The unreduced (class-weighted) values into out: rows·cols for element-wise
   * losses, rows for cross-entropy and nll; dice has none (throws). With
   * reduction 'none', lossForward returns their sum and lossBackward its gradient.
   */
  lossValues(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target,
             out: Float64Array): void;
  createPlan(spec: PlanSpec): NetworkPlan;
  /**
   * True when data holds a NaN or ±Infinity: the fast first look of lib's
   * finiteness checks of user data (requireFinite), which then find the index
   * only on the error path. No argument errors beyond a wrong array type.
   */
  anyNonFinite(data: FloatArray): boolean;
  /**
   * A zero-filled array of `length` values for data the engine will train on
   * (fit's private copy of x and of a dense y). The native engine allocates
   * it in memory the addon owns, so a keepData epoch (EpochHooks.keepData) over
   * it reads that memory in place, with no copy on the main thread; the memory
   * lives until the array is collected and no epoch uses it, so a detach or GC
   * of the array during an epoch cannot free it under the worker. The JS engine
   * returns a plain typed array. dtype: 'float32' | 'float64' (TypeError/
   * RangeError naming dtype otherwise); length: an integer in [0, 2^32]
   * (RangeError naming length).
   */
  allocData(dtype: Dtype, length: number): FloatArray;
  /**
   * target.set(source), synchronously, for two arrays of one dtype and length
   * (TypeError naming target or source for another kind of array or a dtype
   * that differs, RangeError naming source for another length). fit's private
   * copy of x goes through it: the native engine splits the copy, and the page
   * faults of fresh memory it mostly costs, across its thread pool while the
   * caller waits (native/binding/data_block.cc copyData); the JS engine calls set().
   * An engine may test the values for NaN/±Infinity as it copies them (the
   * native engine does, in the same pass) and return whether it found one;
   * one that does not returns undefined (the JS engine), and fit then checks
   * its copy itself (lib/fit-memory.ts knownFinite).
   */
  copyData(target: FloatArray, source: FloatArray): boolean | void;
}
