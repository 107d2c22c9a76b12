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
  /** l1, l2: weight penalties l1·Σ|w| + l2·Σw² added to the loss and its gradient (default 0). */
  | { kind: 'dense'; inFeatures: number; outFeatures: number; l1?: number; l2?: number }
  | { kind: 'activation'; activation: ActivationName }
  /** Inverted dropout, p in [0, 1); identity in eval mode. */
  | { kind: 'dropout'; p: number }
  /** torch.nn.BatchNorm1d; parameters weight, bias (affine); buffers running_mean, running_var, num_batches_tracked. */
  | { kind: 'batchnorm'; numFeatures: number; eps: number; momentum: number; affine: boolean }
  /** torch.nn.LayerNorm over the last dimension; parameters weight, bias (elementwiseAffine). */
  | { kind: 'layernorm'; normalizedShape: number; eps: number; elementwiseAffine: boolean }
  /** torch.nn.PReLU; numParameters is 1 or the width; parameter weight. */
  | { kind: 'prelu'; numParameters: number };

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
}

/**
 * A compiled network. Parameter layout: for each layer in order, its learnable
 * tensors in PyTorch state_dict order — dense: weight (out × in, row-major, as
 * torch.nn.Linear) then bias (out); batch/layer norm (affine): weight, bias (C);
 * prelu: weight (numParameters). Parameters start at zero; gradients are
 * overwritten (not accumulated) by each backward/computeGradients.
 * Buffers (non-learnable state): per batch-norm layer running_mean (C),
 * running_var (C), num_batches_tracked (1), starting at 0, 1, 0.
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

  /** Non-learnable state values (batch-norm running statistics). */
  readonly bufferCount: number;
  /** Copies the buffers into out (length bufferCount). */
  getBuffers(out: FloatArray): void;
  /** Copies src (length bufferCount) into the buffers. */
  setBuffers(src: FloatArray): void;
  /** True (the default) for training mode, false for eval mode. */
  readonly training: boolean;
  setTraining(training: boolean): void;
  /** Restarts the dropout mask stream; seed an integer in [0, 2^53). */
  setSeed(seed: number): void;
  /**
   * The dense layers' L1/L2 penalty value computed by the last backward (with
   * its gradient); computeGradients, trainStep and trainEpoch include it in
   * their loss, a custom-loss loop adds it itself.
   */
  readonly penalty: number;

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
             order: Int32Array | null): Promise<EpochResult>;
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
