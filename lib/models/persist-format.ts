// The classic models (models.*) as model files and JSON, in the container that
// Sequential's files use (lib/io/model-file.ts): safetensors with the same
// 'fastmlp.version' and 'fastmlp.checksum' (sha256 of every tensor byte), written
// atomically by lib/io/files.ts. Instead of 'fastmlp.architecture' the metadata
// holds CLASSIC_MODEL_KEY → JSON { model, options, fitted }; the fitted
// parameters are tensors (bit-exact bytes in the model's dtype), so predictions
// after a load are those of the saved model. Each loader refuses the other's files.
//
// This file only encodes and decodes; lib/models/persist.ts builds the models.
import type { Dtype, FloatArray } from '../engine';
import { sha256 } from '../io/checksum';
import { filePath, readSafetensorsFile, writeFileAtomic } from '../io/files';
import { CLASSIC_MODEL_KEY, FORMAT_VERSION, checkVersion, tensorsFromJSON } from '../io/model-file';
import { ModelFileError, bytesOf, decodeSafetensors, safetensorsHeader, type StoredTensor } from '../io/safetensors';
import { fileBytes, isPlainObject, typeError } from '../validate';

export const CLASSIC_MODELS = [
  'Perceptron', 'Adaline', 'LogisticRegression', 'SoftmaxRegression', 'ProjectionPursuitRegressor',
] as const;
export type ClassicModelName = typeof CLASSIC_MODELS[number];

/** Option values as saved: the model's options after defaults, without the engine (chosen at load). */
export type SavedOptions = Record<string, number | string | boolean>;

/** What a classic model saves: its name, options and (when fitted) parameters. */
export interface ClassicState {
  model: ClassicModelName;
  options: SavedOptions;
  /** False for a model saved before fit: it loads unfitted, with its options. */
  fitted: boolean;
  tensors: StoredTensor[];
}

/** The JSON form of a classic model (toJSON / models.fromJSON): a file's content, tensors in base64. */
export interface ClassicModelJSON {
  format: 'fastmlp';
  version: number;
  model: ClassicModelName;
  options: SavedOptions;
  fitted: boolean;
  checksum: string;
  tensors: { name: string; dtype: Dtype; shape: number[]; data: string }[];
}

const VERSION_KEY = 'fastmlp.version';
const CHECKSUM_KEY = 'fastmlp.checksum';
const ARCHITECTURE_KEY = 'fastmlp.architecture';

/** A tensor of `shape` holding `data` (the model's own array: encoders only read it). */
export function tensor(name: string, dtype: Dtype, shape: number[], data: FloatArray): StoredTensor {
  return { name, dtype, shape, data };
}

function checksumOf(tensors: StoredTensor[]): string {
  return sha256(...tensors.map((t) => bytesOf(t.data)));
}

export function classicToJSON(state: ClassicState): ClassicModelJSON {
  return {
    format: 'fastmlp',
    version: FORMAT_VERSION,
    model: state.model,
    options: { ...state.options },
    fitted: state.fitted,
    checksum: checksumOf(state.tensors),
    tensors: state.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: bytesOf(t.data).toString('base64') })),
  };
}

/** The file's pieces: header, then each tensor's bytes. */
function filePieces(state: ClassicState): Uint8Array[] {
  const metadata: Record<string, string> = {
    format: 'pt',
    [VERSION_KEY]: String(FORMAT_VERSION),
    [CLASSIC_MODEL_KEY]: JSON.stringify({ model: state.model, options: state.options, fitted: state.fitted }),
    [CHECKSUM_KEY]: checksumOf(state.tensors),
  };
  return [safetensorsHeader(state.tensors, metadata), ...state.tensors.map((t) => bytesOf(t.data))];
}

export function classicToBuffer(state: ClassicState): Buffer {
  return Buffer.concat(filePieces(state));
}

/** Atomic save (temporary file, fsync, rename), as Sequential's. */
export async function saveClassic(state: ClassicState, path: unknown): Promise<void> {
  const file = filePath(path);
  await writeFileAtomic(file, filePieces(state));
}

/** The header fields every classic model carries, checked; tensors come separately. */
function checkHeader(source: string, held: unknown): Omit<ClassicState, 'tensors'> {
  const bad = (why: string): never => { throw new ModelFileError(`${source} is not a valid classic model file: ${why}`); };
  if (!isPlainObject(held)) return bad(`'${CLASSIC_MODEL_KEY}' is not an object`);
  const model = held['model'];
  if (typeof model !== 'string' || !(CLASSIC_MODELS as readonly string[]).includes(model)) {
    bad(`it holds model ${JSON.stringify(model)}; fastmlp's classic models are ${CLASSIC_MODELS.join(', ')}`);
  }
  const options = held['options'];
  if (!isPlainObject(options)) return bad('its options are not an object');
  for (const [k, v] of Object.entries(options)) {
    if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') bad(`option '${k}' is ${JSON.stringify(v)}`);
  }
  if (typeof held['fitted'] !== 'boolean') bad(`'fitted' is ${JSON.stringify(held['fitted'])}, not true or false`);
  return { model: model as ClassicModelName, options: options as SavedOptions, fitted: held['fitted'] as boolean };
}

function refuseSequential(source: string): never {
  throw new ModelFileError(`${source} holds a Sequential network, not a classic model; load it with Sequential.load / Sequential.fromBuffer / Sequential.fromJSON`);
}

/** Decodes and verifies a classic model file's bytes (every length, the version and the checksum). */
export function classicFromBuffer(buf: unknown, source: string): ClassicState {
  const bytes = fileBytes('buf', buf);
  const file = decodeSafetensors(bytes, source);  // copies: the model must not keep the file's bytes alive
  const m = file.metadata;
  checkVersion(source, m[VERSION_KEY]);
  const held = m[CLASSIC_MODEL_KEY];
  if (held === undefined) {
    if (m[ARCHITECTURE_KEY] !== undefined) refuseSequential(source);
    throw new ModelFileError(`${source} is not a classic model file (no '${CLASSIC_MODEL_KEY}' in its metadata)`);
  }
  const checksum = m[CHECKSUM_KEY];
  if (checksum === undefined) throw new ModelFileError(`${source} is not a valid classic model file: it has no checksum`);
  if (sha256(file.dataSection) !== checksum) {
    throw new ModelFileError(`${source} failed its checksum: the tensor data was modified or damaged after saving`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(held);
  } catch (e) {
    throw new ModelFileError(`${source} is not a valid classic model file: '${CLASSIC_MODEL_KEY}' is not valid JSON (${(e as Error).message})`);
  }
  return { ...checkHeader(source, parsed), tensors: file.tensors };
}

export async function readClassicFile(path: unknown): Promise<{ state: ClassicState; source: string }> {
  const file = filePath(path);
  const source = `'${file}'`;
  return { state: classicFromBuffer(await readSafetensorsFile(file), source), source };
}

/** Decodes and verifies a toJSON object (a copy of every tensor). */
export function classicFromJSON(obj: unknown): ClassicState {
  const source = 'the JSON model';
  if (!isPlainObject(obj)) throw typeError('obj', 'a classic model object from toJSON()', obj);
  if (obj['format'] !== 'fastmlp') throw new ModelFileError(`${source} is not a fastmlp model (format is ${JSON.stringify(obj['format'])})`);
  checkVersion(source, obj['version']);
  if (obj['model'] === undefined && obj['architecture'] !== undefined) refuseSequential(source);
  const header = checkHeader(source, obj);
  const tensors = tensorsFromJSON(source, obj['tensors']);
  if (checksumOf(tensors) !== obj['checksum']) {
    throw new ModelFileError(`${source} failed its checksum: the tensor data was modified or damaged after saving`);
  }
  return { ...header, tensors };
}

/**
 * What every classic model offers for saving, from the one thing each defines:
 * classicState(), its options and fitted arrays (see each class for what it holds).
 */
export abstract class SavableModel {
  /** @internal What the model saves (its own arrays: encoders only read them). */
  abstract classicState(): ClassicState;

  /** Options and, when fitted, the fitted parameters: what models.fromJSON takes back. */
  toJSON(): ClassicModelJSON {
    return classicToJSON(this.classicState());
  }

  /** The model file's bytes (what save writes); models.fromBuffer reads them. */
  toBuffer(): Buffer {
    return classicToBuffer(this.classicState());
  }

  /** Writes the model file atomically (safetensors, checksummed); models.load reads it. */
  async save(path: string | URL): Promise<void> {
    await saveClassic(this.classicState(), path);
  }
}
