// The engine contract: what the native engine (C++ through Node-API) and the
// pure-TypeScript engine both implement. Its unit of work is coarse — a whole
// compiled network plan — so a training step crosses into C++ once.
//
// Engines trust their arguments' types and shapes: the public API in lib/ has
// validated them already (the native binding re-checks cheaply anyway, because
// it can be called directly).

export type Dtype = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;
export type ActivationName = 'identity' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';
export type LossName = 'mse' | 'cross-entropy';
export type Reduction = 'mean' | 'sum';
export type OptimizerName = 'sgd' | 'adam' | 'adamw';
export type EngineName = 'native' | 'js';

export type LayerSpec =
  | { kind: 'dense'; inFeatures: number; outFeatures: number }
  | { kind: 'activation'; activation: ActivationName };

/** Loss settings (SPEC.md §3, PyTorch conventions). */
export interface LossSpec {
  kind: LossName;
  reduction: Reduction;
  /** Cross-entropy only, in [0, 1]. */
  labelSmoothing: number;
}

/** Optimizer settings (SPEC.md §4, PyTorch conventions); unused fields are ignored. */
export interface OptimizerSpec {
  kind: OptimizerName;
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
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
  /** Index of the first batch whose loss was not finite (training stopped there), or -1. */
  badBatch: number;
  /** True when hooks.signal stopped the epoch early (between batches; the model stays consistent). */
  cancelled: boolean;
}

/** Optional observers and controls for one trainEpoch call. */
export interface EpochHooks {
  /**
   * Called after each completed batch, in order, before the epoch's promise
   * resolves. The native engine posts these from its worker thread without
   * waiting for JS, so the callback lags behind training by up to a few batches.
   */
  onBatch?: (batch: number, rows: number, loss: number) => void;
  /** Aborting stops the epoch before its next batch; the batch in flight completes. */
  signal?: AbortSignal;
}

/**
 * A compiled network. Parameter layout: for each dense layer in order, its
 * weight (out × in, row-major, as torch.nn.Linear) then its bias (out).
 * Parameters start at zero; gradients are overwritten (not accumulated) by
 * each backward/computeGradients.
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
  /** Keeps optimizer state when only hyper-parameters change; resets it when the kind changes. */
  setOptimizer(optimizer: OptimizerSpec): void;
  resetOptimizer(): void;
  readonly stepCount: number;

  /** Copies all parameters into out (length paramCount). */
  getParams(out: FloatArray): void;
  /** Copies src (length paramCount) into the parameters. */
  setParams(src: FloatArray): void;
  /** Copies the gradients of the last backward into out (length paramCount). */
  getGrads(out: FloatArray): void;

  /** Eval-mode forward of any number of rows: x (rows × in) → out (rows × out). */
  predict(x: FloatArray, rows: number, out: FloatArray): void;
  /** Training forward of one batch (rows ≤ maxBatch); keeps activations; output copied to out. */
  forwardTrain(x: FloatArray, rows: number, out: FloatArray): void;
  /** Backward of the last forwardTrain from dLoss/dOutput; optionally writes dLoss/dInput. */
  backward(dout: FloatArray, rows: number, dinput?: FloatArray | null): void;
  /** forwardTrain + loss + backward (needs a loss); returns the loss; parameters unchanged. */
  computeGradients(x: FloatArray, rows: number, y: Target): number;
  /** One optimizer update with the current gradients. */
  step(): void;
  /**
   * computeGradients + step; returns the batch loss before the update. A loss
   * that is not finite skips the step (parameters unchanged).
   */
  trainStep(x: FloatArray, rows: number, y: Target): number;
  /**
   * One epoch of mini-batches over X (rows × in) in `order` (a permutation of
   * 0..rows-1, or null for natural order). The native engine runs it on a worker
   * thread; the JS engine yields to the event loop between batches.
   */
  trainEpoch(x: FloatArray, rows: number, y: Target, batchSize: number,
             order: Int32Array | null, hooks?: EpochHooks): Promise<EpochResult>;
  /**
   * Frees the plan's memory now; while an epoch runs, stops it before its next
   * batch (the promise resolves with cancelled: true) and frees it when the
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
  createPlan(spec: PlanSpec): NetworkPlan;
}
