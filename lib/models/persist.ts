// Loading the classic models: models.load(path), models.fromBuffer(bytes) and
// models.fromJSON(obj) rebuild the estimator a file or toJSON() describes
// (lib/models/persist-format.ts decodes and verifies the container). The model
// is built from its saved options by its own constructor (which checks them),
// then every tensor is checked — name, dtype, shape, finite values, sorted
// knots — before any is handed to it: a bad file throws io.ModelFileError
// naming what is wrong and never yields a half-built model.
import type { EngineChoice } from '../backend';
import type { Dtype } from '../engine';
import { ModelFileError, type StoredTensor } from '../io/safetensors';
import { oneOf, options } from '../validate';
import { Adaline } from './adaline';
import { LogisticRegression, SoftmaxRegression } from './logistic';
import { Perceptron } from './perceptron';
import {
  classicFromBuffer, classicFromJSON, readClassicFile, type ClassicState,
} from './persist-format';
import { ProjectionPursuitRegressor, type ProjectionPursuitTerm } from './projection-pursuit';

export type { ClassicModelJSON, ClassicModelName } from './persist-format';

/** Any of the classic models. */
export type ClassicModel = Perceptron | Adaline | LogisticRegression | SoftmaxRegression | ProjectionPursuitRegressor;

export interface ClassicLoadOptions {
  /** Engine of the loaded model: 'native', 'js' or 'auto' (default); any engine reads any file. */
  engine?: EngineChoice;
}

function loadEngine(opts: unknown): EngineChoice {
  const o = options('load options', opts, ['engine']);
  return o.engine === undefined ? 'auto' : oneOf('engine', o.engine, ['native', 'js', 'auto'] as const);
}

/** A classic model from a toJSON() object (e.g. after JSON.parse), on the engine asked for. */
export function fromJSON(obj: unknown, opts?: ClassicLoadOptions): ClassicModel {
  const engine = loadEngine(opts);
  return build(classicFromJSON(obj), engine, 'the JSON model');
}

/** A classic model from toBuffer()'s bytes (a model file's contents). */
export function fromBuffer(buf: Uint8Array, opts?: ClassicLoadOptions): ClassicModel {
  const engine = loadEngine(opts);
  return build(classicFromBuffer(buf, 'the buffer'), engine, 'the buffer');
}

/** Reads a classic model file written by save (checksum and every length checked first). */
export async function load(path: string | URL, opts?: ClassicLoadOptions): Promise<ClassicModel> {
  const engine = loadEngine(opts);
  const { state, source } = await readClassicFile(path);
  return build(state, engine, source);
}

// ---- state → model ----------------------------------------------------------

/** The saved tensors by name; each taken once, and any left over is refused. */
class TensorSet {
  private readonly byName = new Map<string, StoredTensor>();

  constructor(private readonly source: string, tensors: StoredTensor[]) {
    for (const t of tensors) {
      if (this.byName.has(t.name)) this.fail(`tensor '${t.name}' appears twice`);
      this.byName.set(t.name, t);
    }
  }

  fail(why: string): never {
    throw new ModelFileError(`${this.source} is not a valid classic model file: ${why}`);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Tensor `name` of `dtype` with `rank` dimensions, its values finite; shape checked by the caller. */
  take(name: string, dtype: Dtype, rank: number): StoredTensor {
    const t = this.byName.get(name);
    if (!t) return this.fail(`tensor '${name}' is missing`);
    this.byName.delete(name);
    if (t.dtype !== dtype || t.widenedFrom !== undefined) this.fail(`tensor '${name}' is ${t.widenedFrom ?? t.dtype} but the model is ${dtype}`);
    if (t.shape.length !== rank) this.fail(`tensor '${name}' has shape [${t.shape.join(', ')}], expected ${rank} dimension(s)`);
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) this.fail(`tensor '${name}' holds ${t.data[i]} at index ${i}; a fitted model's values are finite`);
    }
    return t;
  }

  /** Refuses tensors nobody took. */
  finish(): void {
    if (this.byName.size > 0) this.fail(`unexpected tensor(s) ${[...this.byName.keys()].map((n) => `'${n}'`).join(', ')}`);
  }
}

function build(state: ClassicState, engine: EngineChoice, source: string): ClassicModel {
  const model = construct(state, engine, source);
  const tensors = new TensorSet(source, state.tensors);
  if (state.fitted) restore(model, tensors);
  tensors.finish();  // an unfitted model has no tensors
  return model;
}

function construct(state: ClassicState, engine: EngineChoice, source: string): ClassicModel {
  const opts = { ...state.options, engine };
  try {
    switch (state.model) {
      case 'Perceptron': return new Perceptron(opts as never);
      case 'Adaline': return new Adaline(opts as never);
      case 'LogisticRegression': return new LogisticRegression(opts as never);
      case 'SoftmaxRegression': return new SoftmaxRegression(opts as never);
      case 'ProjectionPursuitRegressor': return new ProjectionPursuitRegressor(opts as never);
    }
  } catch (e) {
    throw new ModelFileError(`${source} has ${state.model} options fastmlp cannot use: ${(e as Error).message}`, { cause: e });
  }
}

/** Checks the fitted parameters against the model, then hands them over (nothing is set before all pass). */
function restore(model: ClassicModel, t: TensorSet): void {
  if (model instanceof ProjectionPursuitRegressor) return restoreProjectionPursuit(model, t);
  const weight = t.take('weight', model.dtype, 2);
  const bias = t.take('bias', model.dtype, 1);
  const [outputs, inputs] = weight.shape as [number, number];
  if (inputs < 1) t.fail(`tensor 'weight' has shape [${weight.shape.join(', ')}]; a fitted model has at least one input`);
  if (model instanceof SoftmaxRegression) {
    const fixed = model.classesOption;
    if (outputs < 2 || (fixed !== null && outputs !== fixed)) {
      t.fail(`tensor 'weight' has ${outputs} row(s), SoftmaxRegression needs ${fixed ?? 'at least 2'} (one per class)`);
    }
  } else if (outputs !== 1) {
    t.fail(`tensor 'weight' has shape [${weight.shape.join(', ')}], ${model.classicState().model} needs [1, inputs]`);
  }
  if (bias.shape[0] !== outputs) t.fail(`tensor 'bias' has shape [${bias.shape.join(', ')}], the weight needs [${outputs}]`);
  if (model instanceof SoftmaxRegression || model instanceof LogisticRegression) model.restoreFitted(weight.data, bias.data, inputs, outputs);
  else model.restoreFitted(weight.data, bias.data);
}

function restoreProjectionPursuit(model: ProjectionPursuitRegressor, t: TensorSet): void {
  const mean = t.take('mean', 'float64', 1);
  if (mean.shape[0] !== 1) t.fail(`tensor 'mean' has shape [${mean.shape.join(', ')}], expected [1]`);
  const terms: ProjectionPursuitTerm[] = [];
  let inputs = 0;
  for (let m = 0; t.has(`terms.${m}.direction`); m++) {
    if (m >= model.terms) t.fail(`it holds more than the ${model.terms} term(s) its options allow`);
    const direction = t.take(`terms.${m}.direction`, 'float64', 1).data as Float64Array;
    if (m === 0) inputs = direction.length;
    if (direction.length !== inputs || inputs < 1) {
      t.fail(`tensor 'terms.${m}.direction' has ${direction.length} values, expected ${inputs || 'at least 1'} (one per input)`);
    }
    let norm2 = 0;
    for (const v of direction) norm2 += v * v;
    if (Math.abs(norm2 - 1) > 1e-6) t.fail(`tensor 'terms.${m}.direction' has length ${Math.sqrt(norm2)}; directions are unit vectors`);
    const [knots, values, slopes] = (['knots', 'values', 'slopes'] as const).map((k) => t.take(`terms.${m}.${k}`, 'float64', 1).data as Float64Array);
    if (knots!.length < 1 || values!.length !== knots!.length || slopes!.length !== knots!.length) {
      t.fail(`term ${m} has ${knots!.length} knots, ${values!.length} values and ${slopes!.length} slopes; expected as many of each, at least one`);
    }
    for (let i = 1; i < knots!.length; i++) {
      if (!(knots![i]! >= knots![i - 1]!)) t.fail(`tensor 'terms.${m}.knots' is not sorted (index ${i})`);
    }
    terms.push({ direction, curve: { knots: knots!, values: values!, slopes: slopes! } });
  }
  if (terms.length === 0) t.fail("tensor 'terms.0.direction' is missing: a fitted model has at least one term");
  model.restoreFitted(mean.data[0]!, inputs, terms);
}
