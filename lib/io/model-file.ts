// fastmlp model files: a Sequential ⇄ safetensors bytes (or a JSON object),
// and atomic saving to disk.
//
// A file holds the parameters under PyTorch state_dict names ('0.weight',
// '0.bias', …), so safetensors.torch.load_file reads them as they are (batch
// norm's num_batches_tracked as F64 in files of either dtype: exact to 2^53;
// float32 files written before keep it as F32, and load), and in
// __metadata__ (all strings, as the format requires):
//   format                   'pt' (the convention of torch-written files)
//   fastmlp.version          FORMAT_VERSION; files from another version are refused
//   fastmlp.architecture     JSON { dtype, seed, layers: [layer.getConfig(), …] }
//   fastmlp.compile          JSON { loss, optimizer, metrics } when the model was compiled
//                            with a built-in loss (a custom loss cannot be saved)
//   fastmlp.optimizer_steps  the step count, when the optimizer state is included
//   fastmlp.rng_state        JSON of the shuffling generator's state, likewise, with
//                            dropoutWords: the plan's dropout mask stream (absent in
//                            older files, which then resume with the seed's stream)
//   fastmlp.checksum         'sha256:<hex>' of the data section (every tensor byte)
//   fastmlp.metadata         JSON of the user's { key: string } map (save option
//                            `metadata`, e.g. the CLI's class names), when given
// With { includeOptimizer: true } one more tensor, OPTIMIZER_TENSOR, holds the
// engine's flat optimizer state (same dtype); with the step count and the
// generators that shuffle fit's batches and draw dropout masks, training resumes exactly.
import type { EngineChoice } from '../backend';
import type { Dtype, FloatArray } from '../engine';
import type { RngState } from '../rng';
import { layerFromConfig, type Layer, type LayerConfig } from '../layers';
import { lossFromConfig, type LossConfig } from '../losses';
import { optimizerFromConfig, type OptimizerConfig } from '../optim';
import { Sequential } from '../sequential';
import { runSteps, runStepsYielding, type Steps } from '../steps';
import type { StateCopy } from '../state-copy';
import { boolean, fileBytes, isPlainObject, oneOf, options, typeError } from '../validate';
import { sha256, sha256Steps } from './checksum';
import { filePath, readSafetensorsFile, writeFileAtomic } from './files';
import {
  ModelFileError, bytesOf, decodeSafetensors, decodeSafetensorsSteps, safetensorsHeader, setOwn,
  type StoredTensor,
} from './safetensors';

export { filePath, writeFileAtomic, fileError } from './files';

/** Bumped whenever the meaning of a stored field changes; older readers refuse newer files. */
export const FORMAT_VERSION = 1;
/** Name of the optimizer-state tensor (absent unless saved with includeOptimizer). */
export const OPTIMIZER_TENSOR = 'optimizer_state';
/**
 * Metadata key of a classic-model file (lib/models/persist-format.ts): the same
 * container, version and checksum, holding a models.* estimator instead of a
 * Sequential. Each loader refuses the other's files by this key.
 */
export const CLASSIC_MODEL_KEY = 'fastmlp.classic_model';

const KEY = {
  version: 'fastmlp.version',
  architecture: 'fastmlp.architecture',
  compile: 'fastmlp.compile',
  steps: 'fastmlp.optimizer_steps',
  rng: 'fastmlp.rng_state',
  checksum: 'fastmlp.checksum',
  metadata: 'fastmlp.metadata',
} as const;

export interface SaveOptions {
  /** Also store the optimizer state and step count (default false). */
  includeOptimizer?: boolean;
  /** Your own strings stored with the model (class names, data provenance…); io.readModelInfo returns them. */
  metadata?: Record<string, string>;
}

export interface LoadOptions {
  /** Engine of the loaded model: 'native', 'js' or 'auto' (default). */
  engine?: EngineChoice;
  /** As SequentialOptions.reuseFitMemory (default true): false frees fit's copies after each fit. */
  reuseFitMemory?: boolean;
}

export interface Architecture {
  dtype: Dtype;
  seed: number;
  layers: LayerConfig[];
}

export interface CompileConfig {
  loss: LossConfig;
  optimizer: OptimizerConfig;
  metrics: string[];
}

/** The JSON form of a model (toJSON/fromJSON): the same content as a file, tensors in base64. */
export interface ModelJSON {
  format: 'fastmlp';
  version: number;
  architecture: Architecture;
  compile: CompileConfig | null;
  optimizerSteps: number | null;
  rngState: RngState | null;
  checksum: string;
  /** The save option `metadata`, when given. */
  metadata?: Record<string, string>;
  tensors: { name: string; dtype: Dtype; shape: number[]; data: string }[];
}

/** Everything a model file holds, before encoding. */
interface ModelParts {
  /**
   * A save's copy of the model (lib/state-copy.ts), which the tensors view:
   * complete only after its steps (or finish()) ran. Absent on load.
   */
  copy?: StateCopy;
  architecture: Architecture;
  compile: CompileConfig | null;
  optimizerSteps: number | null;
  rngState: RngState | null;
  metadata: Record<string, string> | null;
  tensors: StoredTensor[];
}


// ---- model → parts --------------------------------------------------------

function saveOptions(opts: unknown): { includeOptimizer: boolean; metadata: Record<string, string> | null } {
  const o = options('save options', opts, ['includeOptimizer', 'metadata']);
  return {
    includeOptimizer: o.includeOptimizer === undefined ? false : boolean('includeOptimizer', o.includeOptimizer),
    metadata: o.metadata === undefined ? null : stringMap('metadata', o.metadata),
  };
}

/** A plain object whose values are all strings (safetensors metadata is string-only). */
function stringMap(name: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw typeError(name, 'an object of strings', value);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw typeError(`${name}.${k}`, 'a string', v);
    setOwn(out, k, v);
  }
  return out;
}

/**
 * The stored tensors' names and shapes in plan order, as Sequential lays them
 * out: each layer's parameters, then its buffers (batch norm's running
 * statistics, which predict uses and setWeights requires).
 */
function paramShapes(layers: readonly Layer[]): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  layers.forEach((layer, i) => {
    for (const p of [...layer.params(), ...layer.buffers()]) out.push({ name: `${i}.${p.name}`, shape: p.shape });
  });
  return out;
}

/**
 * The parts of a model file, its tensors views of a copy of the model made now
 * (parts.copy) and filled by the copy's steps: run them (or finish()) before
 * reading the tensors.
 */
function partsOf(model: Sequential, opts: unknown): ModelParts {
  if (!(model instanceof Sequential)) throw typeError('model', 'a Sequential', model);
  const { includeOptimizer, metadata } = saveOptions(opts);
  let training = model.trainingState(false);  // checks first, then the copy: nothing to forget on a throw
  if (includeOptimizer && training === null) {
    throw new Error('includeOptimizer: the model has no optimizer yet; call compile() (and train) before saving its state');
  }
  let compile: CompileConfig | null = null;
  let optimizerSteps: number | null = null;
  let rngState: RngState | null = null;
  if (training !== null && training.loss === 'custom') {
    if (includeOptimizer) {
      throw new Error('includeOptimizer: a model compiled with a custom loss cannot be saved for resuming, ' +
        'because its loss is code; save without includeOptimizer (weights and architecture) and compile again after loading');
    }
    process.emitWarning('The model uses a custom loss, which cannot be saved: the file holds the architecture and ' +
      'weights only. Compile the loaded model with your loss again.', { code: 'FASTMLP_CUSTOM_LOSS_NOT_SAVED' });
  }
  // One moment's state, all in this turn: the copy (filled in steps, lib/state-copy.ts),
  // then the step count and generators as they are at that moment.
  const copy = model.stateCopy(includeOptimizer);
  if (includeOptimizer) training = model.trainingState(true, copy);
  const weights = model.namedViews(copy.params, copy.buffers);
  // Batch norm's num_batches_tracked is float64 in either dtype: exact to 2^53, where float32 stops at 2^24.
  const tensors: StoredTensor[] = paramShapes(model.layers).map(({ name, shape }) => {
    const data = weights[name]!;
    return { name, dtype: data instanceof Float64Array ? 'float64' : 'float32', shape, data };
  });
  if (training !== null && training.loss !== 'custom') {
    compile = { loss: training.loss as LossConfig, optimizer: training.optimizer, metrics: training.metrics };
    if (training.optimizerState) {
      tensors.push({ name: OPTIMIZER_TENSOR, dtype: model.dtype, shape: [training.optimizerState.state.length],
        data: training.optimizerState.state });
      optimizerSteps = training.optimizerState.steps;
      rngState = training.optimizerState.rng;
    }
  }
  return {
    architecture: { dtype: model.dtype, seed: model.seed, layers: model.layerConfigs() },
    compile, optimizerSteps, rngState, metadata, tensors, copy,
  };
}

/**
 * A model file as its pieces: the header, then each tensor's bytes (views of
 * the copy partsOf made). The copy is of the moment of the call, whatever runs
 * between steps (lib/state-copy.ts); the steps fill it, then hash it.
 */
function modelFileSteps(parts: ModelParts): Steps<Uint8Array[]> {
  return (function* () {
    yield* parts.copy!.steps();
    const metadata: Record<string, string> = {
      format: 'pt',
      [KEY.version]: String(FORMAT_VERSION),
      [KEY.architecture]: JSON.stringify(parts.architecture),
      [KEY.checksum]: yield* sha256Steps(parts.tensors.map((t) => bytesOf(t.data))),
    };
    if (parts.compile) metadata[KEY.compile] = JSON.stringify(parts.compile);
    if (parts.optimizerSteps !== null) metadata[KEY.steps] = String(parts.optimizerSteps);
    if (parts.rngState !== null) metadata[KEY.rng] = JSON.stringify(parts.rngState);
    if (parts.metadata !== null) metadata[KEY.metadata] = JSON.stringify(parts.metadata);
    return [safetensorsHeader(parts.tensors, metadata), ...parts.tensors.map((t) => bytesOf(t.data))];
  })();
}

export function modelToBuffer(model: Sequential, opts?: SaveOptions): Buffer {
  return Buffer.concat(runSteps(modelFileSteps(partsOf(model, opts))));
}

export function modelToJSON(model: Sequential, opts?: SaveOptions): ModelJSON {
  const parts = partsOf(model, opts);
  parts.copy!.finish();
  return {
    format: 'fastmlp',
    version: FORMAT_VERSION,
    architecture: parts.architecture,
    compile: parts.compile,
    optimizerSteps: parts.optimizerSteps,
    rngState: parts.rngState,
    checksum: sha256(...parts.tensors.map((t) => bytesOf(t.data))),
    ...(parts.metadata !== null ? { metadata: parts.metadata } : {}),
    tensors: parts.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape,
      data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64') })),
  };
}

/**
 * model.save: the bytes of toBuffer, with the event loop let in between steps
 * of hashing, and the pieces written as they are (no file-sized buffer).
 */
export async function saveModel(model: Sequential, path: string | URL, opts?: SaveOptions): Promise<void> {
  const parts = partsOf(model, opts);  // validates and snapshots before touching the disk
  let file: string;
  try {
    file = filePath(path);
  } catch (e) {
    parts.copy!.release();  // no save: later writes to the model need not complete the copy
    throw e;
  }
  const steps = modelFileSteps(parts);
  await writeFileAtomic(file, await runStepsYielding(steps));
}

// ---- parts → model --------------------------------------------------------

function loadOptions(opts: unknown): LoadOptions {
  const o = options('load options', opts, ['engine', 'reuseFitMemory']);
  const out: LoadOptions = {};
  if (o.engine !== undefined) out.engine = oneOf('engine', o.engine, ['native', 'js', 'auto'] as const);
  if (o.reuseFitMemory !== undefined) out.reuseFitMemory = boolean('reuseFitMemory', o.reuseFitMemory);
  return out;
}

function parseJson(source: string, key: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(`${source} is not a valid model file: __metadata__['${key}'] is not valid JSON (${(e as Error).message})`);
  }
}

/** Refuses a classic-model file (or JSON) where a Sequential is expected, naming what it holds. */
function refuseClassic(source: string, held: unknown): void {
  if (held === undefined) return;
  let name = 'a classic model';
  try {
    const parsed: unknown = typeof held === 'string' ? JSON.parse(held) : held;
    const model = isPlainObject(parsed) ? parsed['model'] : undefined;
    if (typeof model === 'string' && /^\w{1,64}$/.test(model)) name = `a classic model (models.${model})`;
  } catch {
    // the name is only for the message
  }
  throw new ModelFileError(`${source} holds ${name}, not a Sequential network; load it with models.load / models.fromBuffer / models.fromJSON`);
}

/** Refuses bytes without a fastmlp format version, or of another version (also used by lib/models/persist-format.ts). */
export function checkVersion(source: string, version: unknown): void {
  if (version === undefined) {
    throw new ModelFileError(`${source} is not a fastmlp model file (no '${KEY.version}' in its metadata). ` +
      'To load a plain safetensors state_dict (e.g. from PyTorch), build the model and call ' +
      'model.setWeights(await io.readWeights(path)).');
  }
  if (String(version) !== String(FORMAT_VERSION)) {
    throw new ModelFileError(`${source} has fastmlp format version ${String(version)}; this fastmlp reads version ${FORMAT_VERSION} ` +
      '(written by a different fastmlp release?)');
  }
}

function checkArchitecture(source: string, a: unknown): Architecture {
  const bad = (why: string): never => { throw new ModelFileError(`${source} is not a valid model file: architecture ${why}`); };
  if (!isPlainObject(a)) return bad('is missing or not an object');
  if (a['dtype'] !== 'float32' && a['dtype'] !== 'float64') bad(`has dtype ${JSON.stringify(a['dtype'])}`);
  if (!Number.isSafeInteger(a['seed']) || (a['seed'] as number) < 0) bad(`has seed ${JSON.stringify(a['seed'])}`);
  if (!Array.isArray(a['layers']) || a['layers'].length === 0) bad('has no layers');
  return a as unknown as Architecture;
}

/** Builds the model a file describes; each step's failure names the file and what was wrong. */
function* restoreSteps(source: string, parts: ModelParts, opts: unknown): Steps<Sequential> {
  const { engine, reuseFitMemory } = loadOptions(opts);
  const arch = parts.architecture;
  let layers: Layer[];
  try {
    layers = arch.layers.map((c, i) => layerFromConfig(c, `layers[${i}]`));
  } catch (e) {
    throw new ModelFileError(`${source} describes a model fastmlp cannot build: ${(e as Error).message}`, { cause: e });
  }

  // The tensors are checked against the layers before the model is built: an
  // architecture edited to claim huge layers (it is outside the checksum) must
  // be refused by its tensors' shapes, not after allocating the plan it claims
  // (a 554-byte file claiming Dense(15000, 15000) cost 1.8 GB and 5 s).
  const byName = new Map(parts.tensors.map((t) => [t.name, t]));
  const weights: Record<string, Float32Array | Float64Array> = {};
  for (const { name, shape } of paramShapes(layers)) {
    const t = byName.get(name);
    if (!t) throw new ModelFileError(`${source} is not a valid model file: tensor '${name}' is missing`);
    // A half-precision tensor (widened to float32, exactly) fits either dtype: setWeights widens it again for float64.
    // A batch norm count is float64 in files of either dtype, float32 in float32 files written before it was.
    if (t.dtype !== arch.dtype && t.widenedFrom === undefined && !name.endsWith('.num_batches_tracked')) {
      throw new ModelFileError(`${source} is not a valid model file: tensor '${name}' is ${t.dtype} but the model is ${arch.dtype}`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFileError(`${source} is not a valid model file: tensor '${name}' has shape [${t.shape.join(', ')}], ` +
        `the architecture needs [${shape.join(', ')}]`);
    }
    weights[name] = t.data;
    byName.delete(name);
  }
  const optState = byName.get(OPTIMIZER_TENSOR);
  byName.delete(OPTIMIZER_TENSOR);
  if (byName.size > 0) {
    throw new ModelFileError(`${source} is not a valid model file: unexpected tensor(s) ${[...byName.keys()].map((n) => `'${n}'`).join(', ')}`);
  }
  let model: Sequential;
  try {
    model = Sequential.forLoading(layers, { dtype: arch.dtype, seed: arch.seed, ...(engine ? { engine } : {}),
      ...(reuseFitMemory === undefined ? {} : { reuseFitMemory }) });
  } catch (e) {
    throw new ModelFileError(`${source} describes a model fastmlp cannot build: ${(e as Error).message}`, { cause: e });
  }
  try {
    yield* fillModelSteps(source, parts, model, weights, optState);
  } catch (e) {
    model.dispose();  // its memory now, not at the next GC (the native plan may hold hundreds of MB)
    throw e;
  }
  return model;
}

/** restoreSteps' second half: weights, compile settings and optimizer state into the model just built. */
function* fillModelSteps(source: string, parts: ModelParts, model: Sequential, weights: Record<string, FloatArray>,
                         optState: StoredTensor | undefined): Steps<void> {
  const arch = parts.architecture;
  // Building the plan and compiling each hold the event loop once (allocations the
  // engine makes in one call): a step each. The weights and the optimizer state
  // go into the plan in ~1 MB ranges (NetworkPlan.writeParams, writeOptimizerState).
  yield;
  try {
    yield* model.setWeightsSteps(weights);
  } catch (e) {
    throw new ModelFileError(`${source} holds unusable weights: ${(e as Error).message}`, { cause: e });
  }

  if (parts.compile !== null) {
    yield;
    const c = parts.compile;
    try {
      if (!isPlainObject(c)) throw new Error('compile settings are not an object');
      model.compile({ loss: lossFromConfig(c.loss), optimizer: optimizerFromConfig(c.optimizer),
        metrics: c.metrics as 'accuracy'[] });
    } catch (e) {
      throw new ModelFileError(`${source} has compile settings fastmlp cannot use: ${(e as Error).message}`, { cause: e });
    }
  }
  if (optState !== undefined || parts.optimizerSteps !== null || parts.rngState !== null) {
    const steps = parts.optimizerSteps;
    const rng = parts.rngState;
    if (optState === undefined || steps === null || !Number.isSafeInteger(steps) || steps < 0 || rng === null ||
        parts.compile === null) {
      throw new ModelFileError(`${source} is not a valid model file: the optimizer state needs '${OPTIMIZER_TENSOR}', ` +
        `'${KEY.steps}' (an integer ≥ 0), '${KEY.rng}' and the compile settings together`);
    }
    if ((optState.dtype !== arch.dtype && optState.widenedFrom === undefined) || optState.shape.length !== 1) {
      throw new ModelFileError(`${source} is not a valid model file: '${OPTIMIZER_TENSOR}' must be a 1-D ${arch.dtype} tensor`);
    }
    const state = optState.dtype === arch.dtype ? optState.data : Float64Array.from(optState.data);  // widened half, exact
    yield;
    try {
      yield* model.restoreOptimizerStateSteps(state, steps, rng);
    } catch (e) {
      throw new ModelFileError(`${source} has an optimizer state that does not fit its optimizer: ${(e as Error).message}`, { cause: e });
    }
  }
}

export function modelFromBuffer(buf: Uint8Array, opts?: LoadOptions, source = 'the buffer'): Sequential {
  fileBytes('buf', buf);
  return runSteps(modelFromBufferSteps(buf, opts, source));
}

/**
 * A model from a file's bytes, in steps: the tensors are views of `buf` (where
 * aligned), hashed and copied into the model's plan a step at a time, never
 * copied whole first.
 */
function* modelFromBufferSteps(buf: Uint8Array, opts: unknown, source: string): Steps<Sequential> {
  const file = yield* decodeSafetensorsSteps(buf, source, { views: true });
  const m = file.metadata;
  checkVersion(source, m[KEY.version]);
  refuseClassic(source, m[CLASSIC_MODEL_KEY]);
  const checksum = m[KEY.checksum];
  if (checksum === undefined) throw new ModelFileError(`${source} is not a valid model file: it has no checksum`);
  if ((yield* sha256Steps([file.dataSection])) !== checksum) {
    throw new ModelFileError(`${source} failed its checksum: the tensor data was modified or damaged after saving`);
  }
  const stepsText = m[KEY.steps];
  const steps = stepsText === undefined ? null : stepCount(stepsText);
  return yield* restoreSteps(source, {
    architecture: checkArchitecture(source, parseJson(source, KEY.architecture, m[KEY.architecture])),
    compile: (parseJson(source, KEY.compile, m[KEY.compile]) ?? null) as CompileConfig | null,
    optimizerSteps: steps,
    rngState: (parseJson(source, KEY.rng, m[KEY.rng]) ?? null) as RngState | null,
    metadata: userMetadata(source, parseJson(source, KEY.metadata, m[KEY.metadata])),
    tensors: file.tensors,
  }, opts);
}

/** The stored optimizer step count, or NaN when it is not a plain integer ≥ 0 (restore() refuses NaN). */
function stepCount(text: string): number {
  return /^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : NaN;
}

function userMetadata(source: string, value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  try {
    return stringMap('metadata', value);
  } catch (e) {
    throw new ModelFileError(`${source} is not a valid model file: ${(e as Error).message}`);
  }
}

/** What a model file says about itself, without building the model (the CLI's `info`). */
export interface ModelInfo {
  version: number;
  architecture: Architecture;
  compile: CompileConfig | null;
  /** The save option `metadata`, or {} when none was given. */
  metadata: Record<string, string>;
  optimizerSteps: number | null;
  tensors: { name: string; dtype: Dtype; shape: number[] }[];
}

/**
 * What a model file's bytes (e.g. `model.toBuffer()`, or a file read yourself)
 * say about the model — version, architecture, compile settings, your save
 * `metadata`, optimizer step count and the tensors' names, dtypes and shapes —
 * without building it or reading its tensor data. io.readModelInfo reads a path.
 * @param buf the model file's bytes
 * @param source how errors name the bytes (default 'the buffer')
 * @throws TypeError when buf is not a Buffer/Uint8Array; io.ModelFileError when
 *   the bytes are not a fastmlp Sequential model file (truncated, malformed, another
 *   version, or a classic `models.*` file), the message naming what is wrong
 */
export function modelInfoFromBuffer(buf: Uint8Array, source = 'the buffer'): ModelInfo {
  fileBytes('buf', buf);
  const file = decodeSafetensors(buf, source, { views: true });  // only names and shapes are kept
  const m = file.metadata;
  checkVersion(source, m[KEY.version]);
  refuseClassic(source, m[CLASSIC_MODEL_KEY]);
  const stepsText = m[KEY.steps];
  const steps = stepsText === undefined ? null : stepCount(stepsText);
  if (Number.isNaN(steps)) {
    throw new ModelFileError(`${source} is not a valid model file: '${KEY.steps}' is ${JSON.stringify(stepsText)}, not an integer ≥ 0`);
  }
  return {
    version: FORMAT_VERSION,
    architecture: checkArchitecture(source, parseJson(source, KEY.architecture, m[KEY.architecture])),
    compile: (parseJson(source, KEY.compile, m[KEY.compile]) ?? null) as CompileConfig | null,
    metadata: userMetadata(source, parseJson(source, KEY.metadata, m[KEY.metadata])) ?? {},
    optimizerSteps: steps,
    tensors: file.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
  };
}

/** Reads a model file's description and user metadata (io.readModelInfo). */
export async function readModelInfo(path: string | URL): Promise<ModelInfo> {
  const file = filePath(path);
  const bytes = await readSafetensorsFile(file);
  return modelInfoFromBuffer(bytes, `'${file}'`);
}

export async function loadModel(path: string | URL, opts?: LoadOptions): Promise<Sequential> {
  const file = filePath(path);
  loadOptions(opts);
  const bytes = await readSafetensorsFile(file);
  // The event loop runs between steps; the model is nobody else's until it is returned.
  return runStepsYielding(modelFromBufferSteps(bytes, opts, `'${file}'`));
}

/** The tensors of a toJSON object (base64 bytes), each checked against its dtype and shape. */
export function tensorsFromJSON(source: string, list: unknown): StoredTensor[] {
  if (!Array.isArray(list)) throw new ModelFileError(`${source} is not a valid model: it has no tensors array`);
  return (list as unknown[]).map((t, i): StoredTensor => {
    const bad = (why: string): never => { throw new ModelFileError(`${source} is not a valid model: tensors[${i}] ${why}`); };
    if (!isPlainObject(t)) return bad('is not an object');
    const { name, dtype, shape, data } = t as Record<string, unknown>;
    if (typeof name !== 'string') bad('has no name');
    if (dtype !== 'float32' && dtype !== 'float64') bad(`has dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`has shape ${JSON.stringify(shape)}`);
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) bad('has data that is not base64');
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const width = dtype === 'float32' ? 4 : 8;
    const bytes = Buffer.from(data as string, 'base64');
    if (bytes.length !== elements * width) bad(`holds ${bytes.length} bytes; shape [${(shape as number[]).join(', ')}] needs ${elements * width}`);
    const copy = new Uint8Array(bytes);  // aligned, and independent of the string's buffer
    return { name: name as string, dtype: dtype as Dtype, shape: shape as number[],
      data: dtype === 'float32' ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer) };
  });
}

export function modelFromJSON(obj: unknown, opts?: LoadOptions): Sequential {
  const source = 'the JSON model';
  if (!isPlainObject(obj)) throw typeError('obj', 'a model object from model.toJSON()', obj);
  if (obj['format'] !== 'fastmlp') throw new ModelFileError(`${source} is not a fastmlp model (format is ${JSON.stringify(obj['format'])})`);
  checkVersion(source, obj['version']);
  if (typeof obj['model'] === 'string') refuseClassic(source, { model: obj['model'] });
  const tensors = tensorsFromJSON(source, obj['tensors']);
  if (sha256(...tensors.map((t) => bytesOf(t.data))) !== obj['checksum']) {
    throw new ModelFileError(`${source} failed its checksum: the tensor data was modified or damaged after saving`);
  }
  const steps = obj['optimizerSteps'];
  const rng = obj['rngState'];
  return runSteps(restoreSteps(source, {
    architecture: checkArchitecture(source, obj['architecture']),
    compile: (obj['compile'] ?? null) as CompileConfig | null,
    optimizerSteps: steps === null || steps === undefined ? null : (steps as number),
    rngState: rng === null || rng === undefined ? null : (rng as RngState),
    metadata: userMetadata(source, obj['metadata']),
    tensors,
  }, opts));
}

export interface ReadWeightsOptions {
  /**
   * Leave out tensors that are not floating point (e.g. BatchNorm's int64
   * num_batches_tracked in a PyTorch state_dict; also the 8-bit floats, which
   * fastmlp does not read) instead of refusing the file (default false).
   * F16 and BF16 tensors are always read, widened exactly to float32.
   */
  skipNonFloat?: boolean;
}

/**
 * The tensors of any safetensors file, e.g. a PyTorch state_dict, by name — for
 * model.setWeights on a model built to match. F32 and F64 come as stored; F16
 * and BF16 (a state_dict saved in half precision) as Float32Array, exactly.
 */
export async function readWeights(path: string | URL, opts?: ReadWeightsOptions): Promise<Record<string, Float32Array | Float64Array>> {
  const file = filePath(path);
  readWeightsOptions(opts);
  const bytes = await readSafetensorsFile(file);
  return runStepsYielding(weightsSteps(bytes, opts, `'${file}'`));
}

function readWeightsOptions(opts: unknown): boolean {
  const o = options('readWeights options', opts, ['skipNonFloat']);
  return o.skipNonFloat === undefined ? false : boolean('skipNonFloat', o.skipNonFloat);
}

/**
 * The tensors of any safetensors file's bytes by name (io.readWeights for a
 * buffer), e.g. a PyTorch state_dict fetched over the network, for
 * model.setWeights. Every tensor is a copy, not a view of `buf`. F32 and F64 come
 * as stored; F16 and BF16 widened exactly to Float32Array.
 * @param buf the file's bytes
 * @param opts `{ skipNonFloat: true }` leaves out integer, bool and 8-bit-float tensors instead of refusing the file
 * @param source how errors name the bytes (default 'the buffer')
 * @throws TypeError for a buf that is not a Buffer/Uint8Array; io.ModelFileError for
 *   bytes that are not a well-formed safetensors file (every length and offset is checked before reading)
 */
export function weightsFromBuffer(buf: Uint8Array, opts?: ReadWeightsOptions, source = 'the buffer'): Record<string, Float32Array | Float64Array> {
  fileBytes('buf', buf);
  return runSteps(weightsSteps(buf, opts, source));
}

function* weightsSteps(buf: Uint8Array, opts: unknown, source: string): Steps<Record<string, Float32Array | Float64Array>> {
  const skip = readWeightsOptions(opts);
  const out: Record<string, Float32Array | Float64Array> = {};
  for (const t of (yield* decodeSafetensorsSteps(buf, source, { skipOtherDtypes: skip })).tensors) setOwn(out, t.name, t.data);
  return out;
}
