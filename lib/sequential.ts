// Sequential: a stack of layers compiled into one engine plan. The model keeps
// no parameters of its own — they live in the plan's flat buffer — and every
// method validates its input before an engine sees it.
import { getEngine } from './backend';
import { BufferScratch } from './buffer-scratch';
import type { Dtype, Engine, EngineName, FloatArray, LayerSpec, LossName, NetworkPlan, Target } from './engine';
import { BatchNorm1d, Layer, type LayerConfig } from './layers';
import { layerInitSteps } from './layer';
import { bindImageLayers } from './layers-conv';
import { layoutParams, type ParamEntry } from './param-layout';
import { runSteps, runStepsYielding, type Steps } from './steps';
import { writeInSteps, type StateCopy } from './state-copy';
import { ModelState } from './model-state';
import { Loss, resolveLoss, type LossFunction } from './losses';
import { warnLossPairing } from './loss-pairing';
import { outputReading } from './output-reading';
import { Matrix, allocate, type InputLike } from './matrix';
import type { Logs } from './callbacks';
import { ModelData } from './model-data';
import { formatSummary } from './summary';
import { ModelReads, asyncReadOptions, initialMaxBatch, type Scoring } from './model-reads';
import { runFit, type FitHost, type FitSettings, type History, type TrainingData } from './fit-loop';
import { requireFiniteInChunks, requireFiniteTargetInChunks } from './fit-input';
import { checkBatchNormBatches, checkBatchNormStep, parseFitOptions, splitValidation, trainingLoss } from './fit-options';
import { streamChunks, type StreamSource } from './fit-stream';
import type { TargetLike } from './targets';
import { checkMetricNames, type MetricName } from './metrics';
import { Optimizer, resolveOptimizer } from './optim';
import * as modelFile from './io/model-file';
import { Rng, randomSeed } from './rng';
import type { CompileOptions, EvaluateAsyncOptions, FitOptions, PredictAsyncOptions, SequentialOptions, TrainingRngState,
  TrainingState } from './sequential-options';
import { trainBatch, type EpochContext } from './training';
import { allocationSize, ArgumentRangeError, boolean, BUSY, codedError, disposedError, integer, oneOf, options, typeError } from './validate';

export type { Logs } from './callbacks';
export type { History } from './fit-loop';
export type { StreamChunk, StreamSource } from './fit-stream';

export type { SequentialOptions, CompileOptions, FitOptions, PredictAsyncOptions, EvaluateAsyncOptions, TrainingState,
  TrainingRngState } from './sequential-options';

/** Set only inside Sequential.forLoading. */
let skipInitForLoading = false;

const DTYPES = ['float32', 'float64'] as const;
/**
 * A stack of layers trained and run as one network on the native or the
 * TypeScript engine: `compile` it, then `fit`, `predict`, `evaluate`, `save`.
 * Weights are named as PyTorch's state_dict ('0.weight', '0.bias', ...).
 * @example
 * const model = new Sequential([new Dense(4, 16, { activation: 'relu' }), new Dense(16, 3)], { seed: 1 });
 * model.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });
 * const { history } = await model.fit(x, y, { epochs: 20, validationSplit: 0.1 });
 */
export class Sequential {
  /** The layers, in order (their configs: layerConfigs()). */
  readonly layers: readonly Layer[];
  /** 'float32' or 'float64': the parameters' and outputs' type. */
  readonly dtype: Dtype;
  /** The seed of the initial weights, shuffling and dropout masks. */
  readonly seed: number;
  /** Columns of x: the first layer's inputs. */
  readonly inputSize: number;
  /** Columns of the output: the last layer's outputs. */
  readonly outputSize: number;
  private readonly engineImpl: Engine;
  private readonly plan: NetworkPlan;
  private readonly entries: ParamEntry[];
  private readonly rng: Rng;
  private loss: Loss | LossFunction | null = null;
  private compiledOptimizer: Optimizer | null = null;
  private optimizerVersion = -1;
  private metricNames: MetricName[] = [];
  private lossPairingWarned = false;
  private busy = false;
  /** The state going out to saves and in from loads (lib/model-state.ts). */
  private readonly stateIO: ModelState;
  /** Saves in progress, which stateIO adds and completes before anything writes the plan (lib/state-copy.ts). */
  private readonly openCopies = new Set<StateCopy>();
  /**
   * True from fit's start to its end, hooks included (busy is false while a
   * hook runs, so hooks may use the model): a hook may not start another fit
   * or recompile, which would change the loss and optimizer under the loop.
   */
  private fitting = false;
  private readonly specs: LayerSpec[];
  /** predict, predictAsync, evaluate(Async): fit's snapshot, the private plans, the write count (lib/model-reads.ts). */
  private readonly reads: ModelReads;
  /** Checks and private copies of the data callers pass (lib/model-data.ts). */
  private readonly data: ModelData;
  /** trainStep's copy of the layer buffers, made once and reused (lib/buffer-scratch.ts). */
  private readonly bufferScratch = new BufferScratch();
  /** Set to true (from a callback) to stop fit after the current batch (with batch hooks) or epoch. */
  stopTraining = false;

  constructor(layers: Layer[], opts?: SequentialOptions) {
    if (!Array.isArray(layers)) throw typeError('layers', 'an array of layers', layers);
    if (layers.length === 0) throw new ArgumentRangeError('Expected at least one layer for layers but received an empty array');
    layers.forEach((l, i) => {
      if (!(l instanceof Layer)) throw typeError(`layers[${i}]`, 'a layer (Dense, Conv2d, ConvTranspose2d, MaxPool2d, Activation, Dropout, BatchNorm1d, LayerNorm, PReLU)', l);
    });
    const o = options('Sequential options', opts, ['engine', 'seed', 'dtype', 'reuseFitMemory']);
    this.dtype = o.dtype === undefined ? 'float32' : oneOf('dtype', o.dtype, DTYPES);
    this.seed = o.seed === undefined ? randomSeed() : integer('seed', o.seed, 0);
    this.engineImpl = getEngine(o.engine ?? 'auto');
    // Image layers after the first take their input shape from the layer before (lib/layers-conv.ts).
    this.layers = bindImageLayers(layers);

    const first = this.layers.find((l) => l.inFeatures !== null);
    if (!first) throw new ArgumentRangeError('Expected at least one Dense, Conv2d or ConvTranspose2d layer in layers (or a MaxPool2d given its channels and inputSize), to fix the input width');
    this.inputSize = first.inFeatures as number;
    const { specs, entries, outputSize, paramCount, bufferCount } = layoutParams(this.layers, this.inputSize);
    this.specs = specs;
    this.data = new ModelData(this.engineImpl, this.dtype, this.inputSize, outputSize, () => this.lossKind(),
      o.reuseFitMemory === undefined ? true : boolean('reuseFitMemory', o.reuseFitMemory));
    this.entries = entries;
    this.outputSize = outputSize;
    // Parameters, gradients and up to two optimizer moments: refuse sizes that cannot fit before allocating.
    allocationSize('layers (parameters, gradients, optimizer state)', paramCount * 4, this.dtype === 'float64' ? 8 : 4);
    this.plan = this.engineImpl.createPlan({ dtype: this.dtype, layers: specs, maxBatch: initialMaxBatch(this.engineImpl) });
    // The built-in layers always agree; a custom layer's params()/buffers() may not match its toSpecs(),
    // and getWeights, setWeights and save would then read or write the wrong values (or lose batch norm's statistics).
    if (this.plan.paramCount !== paramCount || this.plan.bufferCount !== bufferCount) {
      const [planParams, planBuffers] = [this.plan.paramCount, this.plan.bufferCount];
      this.plan.dispose();  // its memory now: this model will never be returned
      throw new ArgumentRangeError(`Expected the layers' params() and buffers() to describe the ${planParams} parameter ` +
        `and ${planBuffers} buffer values of their ops (toSpecs()) but they describe ${paramCount} and ${bufferCount}: ` +
        'a custom layer\'s params() or buffers() does not match its toSpecs()');
    }
    this.rng = new Rng(this.seed);
    this.stateIO = new ModelState(this.plan, this.dtype, entries, this.rng, this.openCopies);
    // A model being loaded gets its weights next: skip the random init (2/3 of a load's time).
    if (!skipInitForLoading) this.plan.setParams(runSteps(this.initialParamsSteps()));
    // The dropout mask stream: its own seed, so adding a Dropout layer leaves
    // the initial weights and the shuffles of a seed unchanged.
    this.plan.setSeed((this.seed + 1) % 2 ** 53);
    this.reads = new ModelReads(this.plan, this.engineImpl,
      (maxBatch) => this.engineImpl.createPlan({ dtype: this.dtype, layers: this.specs, maxBatch }),
      initialMaxBatch(this.engineImpl), () => this.busy);
  }

  /**
   * `new Sequential(layers, opts)` without holding the event loop while the
   * initial weights are drawn (~210 ms for the 5.8 M of 784-2048-2048-10): the
   * random fills run in ~1 ms steps with the event loop let in between, then
   * the weights go into the plan in 1 MB ranges. The model is bit for bit the
   * one the constructor makes from the same arguments (weights, and the
   * generator's state for fit's shuffles). Bad arguments reject with the
   * constructor's TypeError or RangeError. A custom layer that overrides
   * initParams runs it whole (Layer.initParamsSteps).
   * @example
   * const model = await Sequential.create([new Dense(784, 2048, { activation: 'relu' }), new Dense(2048, 10)], { seed: 1 });
   */
  static async create(layers: Layer[], opts?: SequentialOptions): Promise<Sequential> {
    const model = Sequential.forLoading(layers, opts);
    try {
      const params = await runStepsYielding(model.initialParamsSteps());
      await runStepsYielding(writeInSteps(model.plan, params, null));
    } catch (e) {
      model.dispose();  // a custom layer's init threw: this model is never returned
      throw e;
    }
    return model;
  }

  /** @internal For lib/io: a model whose parameters the caller sets next (they start at zero). */
  static forLoading(layers: Layer[], opts: SequentialOptions | undefined): Sequential {
    skipInitForLoading = true;
    try {
      return new Sequential(layers, opts);
    } finally {
      skipInitForLoading = false;
    }
  }

  /**
   * Training mode (the default): dropout drops and batch norm uses batch
   * statistics in trainStep. fit() always trains in training mode; predict()
   * and evaluate() always run in eval mode. Returns this, for chaining.
   */
  train(): this {
    this.requireIdle('train');
    this.requireNotFitting('train');  // fit trains in training mode throughout
    this.plan.setTraining(true);
    return this;
  }

  /** Eval mode for trainStep: dropout is the identity, batch norm uses its running statistics. */
  eval(): this {
    this.requireIdle('eval');
    this.requireNotFitting('eval');  // fit trains in training mode throughout
    this.plan.setTraining(false);
    return this;
  }

  /** True in training mode, false in eval mode. */
  get training(): boolean {
    return this.plan.training;
  }

  /** The compiled optimizer (schedules set its lr), or null before compile(). */
  get optimizer(): Optimizer | null {
    return this.compiledOptimizer;
  }

  /** Which engine runs this model. */
  get engine(): EngineName {
    return this.engineImpl.name;
  }

  /** Trainable parameters (batch norm's running statistics are buffers, not counted). */
  get paramCount(): number {
    return this.plan.paramCount;
  }

  /** Sets the loss, optimizer and metrics used by fit, trainStep and evaluate. */
  compile(opts: CompileOptions): void {
    this.requireIdle('compile');
    this.requireNotFitting('compile');
    const o = options('compile options', opts, ['loss', 'optimizer', 'metrics']);
    if (o.loss === undefined) throw typeError('loss', "a loss ('mse', 'cross-entropy', losses.create(...) or a custom loss)", undefined);
    const loss = resolveLoss(o.loss, 'loss');
    const optimizer = resolveOptimizer(o.optimizer ?? 'adam', 'optimizer');
    const metricNames = checkMetricNames(o.metrics, loss instanceof Loss ? loss.name : null);
    if (loss instanceof Loss && !this.lossPairingWarned) this.lossPairingWarned = warnLossPairing(this.layers, loss.name);
    this.stateIO.beforeWrite();  // setOptimizer may reset the optimizer state
    this.plan.setLoss(loss instanceof Loss ? loss.spec : null);
    this.plan.setOptimizer(optimizer.toSpec());
    // State belongs to the optimizer object (torch.optim, Keras): a new one
    // starts from zero moments and step 1; the same one recompiled carries on.
    if (optimizer !== this.compiledOptimizer) this.plan.resetOptimizer();
    this.loss = loss;
    this.compiledOptimizer = optimizer;
    this.optimizerVersion = optimizer.version;
    this.metricNames = metricNames;
  }

  /** One synchronous optimizer step on a batch; returns the batch loss before the step. */
  trainStep(x: InputLike, y: TargetLike): number {
    this.requireIdle('trainStep');
    const { loss } = this.requireCompiled('trainStep');
    const { X, Y } = this.data.checkedBatch(x, y);  // as fit: finite x, y in the loss's range
    checkBatchNormStep(this.layers.some((l) => l instanceof BatchNorm1d), this.plan.training, X.rows);
    if (X.rows > this.plan.maxBatch) this.plan.reserve(X.rows);
    this.stateIO.beforeWrite();
    this.syncOptimizer();
    this.reads.stateChanged();  // before: a throw half-way may have written some of the weights
    // Finite inputs can still overflow: the forward then has updated batch norm's
    // running statistics, which a skipped step must not leave behind.
    const saved = this.bufferScratch.save(this.plan);
    try {
      return trainBatch(this.context(loss), X.data, X.rows, Y);
    } catch (err) {
      if (saved) this.bufferScratch.restore(this.plan);
      throw err;
    }
  }

  /**
   * Trains on streamed chunks `{ x, y }` for a number of epochs; resolves with
   * the per-epoch history. `source` is a function returning a fresh
   * (Async)Iterable of chunks, called once per epoch, or an (Async)Iterable
   * iterated as it is each epoch (lib/fit-stream.ts).
   */
  fit(source: StreamSource, opts?: FitOptions): Promise<History>;
  /**
   * Trains on `x` (rows) and `y` (class indices or target rows) for a number of
   * epochs; resolves with the per-epoch history.
   */
  fit(x: InputLike, y: TargetLike, opts?: FitOptions): Promise<History>;
  // Overloads, streaming first: a typed `opts` for fit(source, opts) (its hooks'
  // parameters, its option names checked), which fit(x, y?: unknown) lost to y.
  async fit(x: unknown, y?: unknown, opts?: FitOptions): Promise<History> {
    this.requireIdle('fit');
    this.requireNotFitting('fit');
    return this.data.fitMemory.during(() => this.fitOwningMemory(x, y, opts));  // its copies' blocks, kept once it settles
  }

  private async fitOwningMemory(x: unknown, y: unknown, opts: FitOptions | undefined): Promise<History> {
    const { loss } = this.requireCompiled('fit');
    const { stream, settings, split, validationData: vd, classWeight } = parseFitOptions(x, y, opts);
    const trainLoss = trainingLoss(loss, classWeight, this.outputSize, this.engineImpl);

    const validationData = vd === undefined ? null : this.data.validationPair(vd);
    // The finiteness checks of the private copies run in chunks once fit is marked running (lib/fit-input.ts).
    const checkValidation = async () => {
      if (validationData === null) return;
      await requireFiniteInChunks(validationData.x, 'validationData[0]', this.data.anyNonFinite);
      await requireFiniteTargetInChunks(validationData.y, 'validationData[1]', this.lossKind(), this.data.anyNonFinite);
    };
    if (stream) {
      // Each chunk private (copied when it is the caller's array): its epoch reads it after the event loop ran.
      const chunks = streamChunks(stream, (cx, cy, name) => {
        const X = this.data.privateMatrix(cx, `x of ${name}`);
        return { x: X, y: this.data.privateTarget(this.data.target(cy, `y of ${name}`, X.rows), `y of ${name}`) };
      }, this.data.anyNonFinite);
      return this.runTraining(trainLoss, { x: allocate(this.dtype, 0), rows: 0, y: new Int32Array(0), stream: chunks,
        validation: validationData }, settings, checkValidation);
    }

    // Private copies, made now (one memcpy each): the caller may change or transfer its arrays while we train.
    const X = this.data.matrix(x, 'x', true);
    const Y = this.data.privateTarget(this.data.target(y, 'y', X.rows), 'y', false, true);
    const checkData = async () => {
      await requireFiniteInChunks(X, 'x', this.data.anyNonFinite);
      await requireFiniteTargetInChunks(Y, 'y', this.lossKind(), this.data.anyNonFinite);
      await checkValidation();
    };
    const data = splitValidation(X, Y, split, this.outputSize, validationData);
    checkBatchNormBatches(this.layers.some((l) => l instanceof BatchNorm1d), data.rows, settings.batchSize);
    return this.runTraining(trainLoss, data, settings, checkData);
  }

  /**
   * Outputs for x in eval mode, as a Matrix of rows × outputs. While fit runs,
   * predict answers from a snapshot of the weights taken when the current
   * epoch began (the weights at the last epoch end), never a half-updated model.
   */
  predict(x: InputLike): Matrix {
    if (this.plan.disposed) throw disposedError('Sequential.predict');  // as every other method, not the engine's wording
    return this.reads.predict(this.data.matrix(x, 'x'));
  }

  /**
   * predict for large inputs without blocking the event loop: the native
   * engine runs it on a worker thread, the JS engine in chunks of batchSize
   * rows with the event loop running between them.
   *
   * Consistency: it answers with the weights predict would use at the moment
   * of the call (during fit, the epoch's snapshot), bit for bit predict's
   * output: they are copied into a private plan before the call returns
   * (lib/predict-async.ts), and x is copied too. So fit, trainStep,
   * setWeights or another predictAsync may run meanwhile without changing the
   * answer. dispose() before it settles rejects it with ERR_FASTMLP_DISPOSED;
   * an abort of signal with an AbortError (the model is not touched).
   */
  async predictAsync(x: InputLike, opts?: PredictAsyncOptions): Promise<Matrix> {
    const { batchSize, signal } = asyncReadOptions('predictAsync options', opts);
    if (this.plan.disposed) throw disposedError('Sequential.predictAsync');
    return this.reads.predictAsync(this.data.matrix(x, 'x'), batchSize, signal);
  }

  /** Loss (and compiled metrics) on x, y in eval mode. */
  evaluate(x: InputLike, y: TargetLike): Logs {
    const { X, Y, scoring } = this.evaluationData('evaluate', x, y);
    return this.reads.evaluate(X, Y, scoring);
  }

  /**
   * evaluate without blocking the event loop: its forward pass runs as
   * predictAsync's (native: a worker thread; JS: chunks of batchSize rows, and
   * ~10 ms slices inside one, with the event loop between them), and it
   * resolves with evaluate's Logs bit for bit (lib/model-reads.ts). It checks x and y as evaluate does and, as evaluate, is refused while
   * fit runs (ERR_FASTMLP_BUSY; fit's hooks may call it). Once called it
   * answers for the weights, loss and metrics of that moment, on private
   * copies of them and of x and y: fit, trainStep, setWeights or compile may
   * run meanwhile. dispose() before it settles rejects it with
   * ERR_FASTMLP_DISPOSED; an abort of signal with an AbortError (the model is
   * not touched).
   */
  async evaluateAsync(x: InputLike, y: TargetLike, opts?: EvaluateAsyncOptions): Promise<Logs> {
    const { batchSize, signal } = asyncReadOptions('evaluateAsync options', opts);
    const { X, Y, scoring } = this.evaluationData('evaluateAsync', x, y);
    return this.reads.evaluateAsync(X, this.data.privateTarget(Y, 'y', false), scoring, batchSize, signal);
  }

  /**
   * Copies of the parameters under PyTorch state_dict names ('0.weight', '0.bias', ...),
   * each in its own ArrayBuffer: one may be transferred to a worker (or listed
   * with the others in a transfer list) without detaching the rest. Arrays of
   * the model's dtype, except batch norm's num_batches_tracked: a Float64Array
   * (one value, exact to 2^53; torch keeps it as int64).
   */
  getWeights(): Record<string, FloatArray> {
    this.requireIdle('getWeights');
    const views = this.weightViews();
    for (const name of Object.keys(views)) views[name] = views[name]!.slice();
    return views;
  }

  /** @internal For lib/io: getWeights' values as views into two fresh flat arrays (parameters, buffers). */
  weightViews(): Record<string, FloatArray> {
    this.requireIdle('getWeights');
    return this.stateIO.weightViews();
  }

  /**
   * @internal For lib/io: views of flat parameters and buffers (a StateCopy's)
   * under state_dict names; batch norm's num_batches_tracked comes as a
   * Float64Array of its own whatever the dtype (exact to 2^53, lib/batch-count.ts).
   */
  namedViews(all: FloatArray, buffers: FloatArray): Record<string, FloatArray> {
    return this.stateIO.namedViews(all, buffers);
  }

  /** @internal For lib/io's save: this moment's state, copied in ~1 MB steps (lib/model-state.ts, state-copy.ts). */
  stateCopy(includeOptimizer: boolean): StateCopy {
    this.requireIdle('save');
    return this.stateIO.copy(includeOptimizer);
  }

  /**
   * Replaces every parameter (strict, like torch's load_state_dict): all names
   * must be present with the right length and finite values, or nothing changes.
   * Batch norm's num_batches_tracked may be left out (torch stores it as int64,
   * which io.readWeights skips): the model then keeps its own count. Counts are
   * exact to 2^53 in either dtype (getWeights gives them as Float64Array).
   */
  setWeights(weights: Record<string, ArrayLike<number>>): void {
    this.requireIdle('setWeights');
    if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) {
      throw typeError('weights', 'an object of named arrays', weights);
    }
    runSteps(this.setWeightsSteps(weights));
  }

  /** @internal setWeights in steps (lib/steps.ts): lib/io's async load yields between them. */
  *setWeightsSteps(weights: Record<string, ArrayLike<number>>): Steps<void> {
    yield* this.stateIO.setWeightsSteps(weights, () => {
      this.requireIdle('setWeights');  // again: the event loop may have run between steps
      this.reads.stateChanged();  // (the open save copies complete first)
    });
  }

  // ---- saving and loading (lib/io/model-file.ts does the work) -------------

  /**
   * Writes a safetensors model file atomically: weights under state_dict names,
   * architecture, compile options, format version and checksum in __metadata__.
   * { includeOptimizer: true } also stores the optimizer state, to resume training.
   */
  async save(path: string | URL, opts?: modelFile.SaveOptions): Promise<void> {
    this.requireIdle('save');
    await modelFile.saveModel(this, path, opts);
  }

  /** The model file's bytes (what save writes), e.g. to store in a database. */
  toBuffer(opts?: modelFile.SaveOptions): Buffer {
    this.requireIdle('toBuffer');
    return modelFile.modelToBuffer(this, opts);
  }

  /** The model as a JSON-safe object (tensors base64-encoded); JSON.stringify(model) uses it. */
  toJSON(opts?: modelFile.SaveOptions | string): modelFile.ModelJSON {
    this.requireIdle('toJSON');
    // JSON.stringify calls toJSON(key) with a string: treat it as no options.
    return modelFile.modelToJSON(this, typeof opts === 'string' ? undefined : opts);
  }

  /** Reads a model file written by save (checksum and every length checked first), compiled as it was saved. */
  static async load(path: string | URL, opts?: modelFile.LoadOptions): Promise<Sequential> {
    return modelFile.loadModel(path, opts);
  }

  /** A model from toBuffer's bytes (a model file's contents). */
  static fromBuffer(buf: Uint8Array, opts?: modelFile.LoadOptions): Sequential {
    return modelFile.modelFromBuffer(buf, opts);
  }

  /** A model from toJSON's object (or JSON.parse of JSON.stringify(model)). */
  static fromJSON(obj: unknown, opts?: modelFile.LoadOptions): Sequential {
    return modelFile.modelFromJSON(obj, opts);
  }

  /** Layer configs (layers/getConfig) of this model, in order. */
  layerConfigs(): LayerConfig[] {
    return this.layers.map((l) => l.getConfig());
  }

  /**
   * @internal For lib/io: compile settings (null before compile) and optionally the optimizer
   * state: copy's (stateCopy(true) in the same turn) when given, else a whole copy made now.
   */
  trainingState(includeOptimizer: boolean, copy?: StateCopy): TrainingState | null {
    if (!this.loss || !this.optimizer) return null;
    this.syncOptimizer();  // a schedule may have changed lr since the last step
    const state: TrainingState = {
      loss: this.loss instanceof Loss ? this.loss.getConfig() : 'custom',
      optimizer: this.optimizer.getConfig(),
      metrics: [...this.metricNames],
    };
    if (includeOptimizer) state.optimizerState = this.stateIO.optimizerState(copy);
    return state;
  }

  /** @internal For lib/io: restores what trainingState(true) returned, after compile. */
  restoreOptimizerState(state: FloatArray, steps: number, rng: TrainingRngState): void {
    runSteps(this.restoreOptimizerStateSteps(state, steps, rng));
  }

  /** @internal restoreOptimizerState in ~1 MB steps (lib/io's load yields between them). */
  *restoreOptimizerStateSteps(state: FloatArray, steps: number, rng: TrainingRngState): Steps<void> {
    this.requireCompiled('restoreOptimizerState');
    // The compiled optimizer's spec: the layout of the state the checks read (the plan's since compile).
    yield* this.stateIO.restoreOptimizerSteps(state, steps, rng, (this.compiledOptimizer as Optimizer).toSpec());
  }

  /**
   * Frees the model's memory now (the native engine's C++ buffers included).
   * During fit, the running epoch stops before its next batch, the memory is
   * freed when it returns, and fit rejects. Every later call throws an Error
   * with code ERR_FASTMLP_DISPOSED. Idempotent; dropping a model without it is
   * fine too (the GC frees it), this only makes the moment deterministic.
   */
  dispose(): void {
    if (!this.plan.disposed) this.stateIO.beforeWrite();  // a save in progress still writes what it was called with
    this.reads.stateChanged();
    this.plan.dispose();
    this.reads.dispose();  // fit's snapshot; pending predictAsync/evaluateAsync calls reject with ERR_FASTMLP_DISPOSED
    this.bufferScratch.release();
    this.data.fitMemory.release();
  }

  get disposed(): boolean {
    return this.plan.disposed;
  }

  /** A table of the layers and their parameter counts. */
  summary(): string {
    return formatSummary(this.layers, this.inputSize, `Total parameters: ${this.paramCount} (${this.dtype}, engine '${this.engine}')`);
  }

  // ---- internals -------------------------------------------------------------

  /** The initial parameters, drawn from this.rng layer by layer: the constructor runs it at once, create yielding. */
  private *initialParamsSteps(): Steps<FloatArray> {
    const params = allocate(this.dtype, this.plan.paramCount);
    for (const [i, layer] of this.layers.entries()) {
      const views = this.entries.filter((e) => !e.buffer && e.name.startsWith(`${i}.`))
        .map((e) => params.subarray(e.offset, e.offset + e.length));
      if (views.length > 0) yield* layerInitSteps(layer, views, this.rng, this.layers[i + 1]);
    }
    return params;
  }

  private context(loss: Loss | LossFunction): EpochContext {
    return { plan: this.plan, engine: this.engineImpl.name, loss: loss instanceof Loss ? null : loss, outputSize: this.outputSize,
             dtype: this.dtype };
  }

  /** checkData: the chunked finiteness checks, run with the model already busy (no second fit meanwhile). */
  private async runTraining(loss: Loss | LossFunction, data: TrainingData, settings: FitSettings,
                            checkData: () => Promise<void>): Promise<History> {
    this.stateIO.beforeWrite();
    const wasTraining = this.plan.training;
    this.reads.takeSnapshot();  // before busy: predict never sees a stale snapshot from an earlier fit
    this.plan.setTraining(true);
    this.busy = true;
    this.fitting = true;
    try {
      await checkData();
      if (this.plan.disposed) throw disposedError('Sequential.fit');  // dispose() while the check yielded
      return await runFit(this.fitHost(loss), data, settings);
    } finally {
      this.busy = false;
      this.fitting = false;
      this.reads.stateChanged();  // the epochs wrote the weights
      this.plan.releaseEpochData();  // the native engine's copy of the data, kept across epochs
      // A disposed plan refuses setTraining; throwing here would replace fit's own error.
      if (!this.plan.disposed) this.plan.setTraining(wasTraining);
    }
  }

  private fitHost(loss: Loss | LossFunction): FitHost {
    return {
      ctx: this.context(loss),
      engine: this.engineImpl,
      lossSpec: loss instanceof Loss ? loss.spec : null,
      outputReading: outputReading(this.lossKind()),  // the compiled loss's, not the class-weighted wrapper's
      rng: this.rng,
      model: this,
      metricNames: this.metricNames,
      syncOptimizer: () => this.syncOptimizer(),
      // The fit loop calls these between epochs, with the live plan idle: they use it, not the snapshot.
      // The validation forward runs as predictAsync (native: a worker thread; JS: chunks of batchSize
      // rows with the event loop between them): a synchronous predict of a large validation set held
      // the event loop for the whole pass every epoch (8192 rows of 256-1024-1024-10: 0.23 s native).
      evaluate: async (x, y, batchSize) => {
        const out = allocate(this.dtype, x.rows * this.outputSize);
        await this.plan.predictAsync(x.data, x.rows, out, batchSize);
        return this.reads.score(this.scoring(), new Matrix(x.rows, this.outputSize, out), y);
      },
      // Not busy (a hook runs): predict and predictAsync read the live plan, which the epochs wrote.
      setBusy: (busy) => {
        if (busy) this.stateIO.beforeWrite();  // a save a hook started (un-awaited) completes before the next epoch
        this.busy = busy;
        if (!busy) this.reads.stateChanged();
      },
      snapshot: () => this.reads.takeSnapshot(),
    };
  }

  private lossKind(): LossName | 'custom' {
    return this.loss instanceof Loss ? this.loss.name : 'custom';
  }

  /** x and y checked as evaluate checks them (as trainStep does), and what to score them with. */
  private evaluationData(method: string, x: unknown, y: unknown): { X: Matrix; Y: Target; scoring: Scoring } {
    this.requireIdle(method);
    this.requireCompiled(method);
    return { ...this.data.checkedBatch(x, y), scoring: this.scoring() };
  }

  /** The compiled loss and metrics (after compile). */
  private scoring(): Scoring {
    return { loss: this.loss as Loss | LossFunction, metricNames: this.metricNames };
  }

  private syncOptimizer(): void {
    const opt = this.compiledOptimizer as Optimizer;
    if (opt.version !== this.optimizerVersion) {
      this.stateIO.beforeWrite();
      this.plan.setOptimizer(opt.toSpec());
      this.optimizerVersion = opt.version;
    }
  }

  private requireIdle(method: string): void {
    if (this.plan.disposed) throw disposedError(`Sequential.${method}`);
    if (this.busy) throw codedError(`Sequential.${method}: the model is training (fit is running); await fit() first`, BUSY);
  }

  /** requireIdle lets hooks use the model; this also refuses them (nested fit, recompiling). */
  private requireNotFitting(method: string): void {
    if (this.fitting) {
      throw codedError(`Sequential.${method}: fit is running on this model (a callback may not start another fit or recompile); await fit() first`, BUSY);
    }
  }

  private requireCompiled(method: string): { loss: Loss | LossFunction } {
    if (!this.loss) throw new Error(`Sequential.${method}: call compile({ loss, optimizer }) first`);
    return { loss: this.loss };
  }
}
