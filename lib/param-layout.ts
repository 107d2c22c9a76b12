// Where each named parameter and buffer of a Sequential lives in its plan's
// flat buffers: PyTorch state_dict names ('0.weight', '1.running_mean') with
// their shapes and offsets, laid out layer by layer (lib/sequential.ts), and
// the strict, validated gathering of named weights into those buffers.
import { COUNT_SLOTS, readCount, writeCount } from './batch-count';
import type { Dtype, FloatArray, LayerSpec } from './engine';
import type { Layer } from './layers';
import type { ParamShape } from './layer';
import { allocate } from './matrix';
import { STEP_BYTES, runSteps, type Steps } from './steps';
import { ArgumentRangeError, rangeError, typeError } from './validate';

export interface ParamEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
  /** A buffer (batch-norm running statistic) rather than a learnable parameter. */
  buffer: boolean;
  /**
   * Batch norm's num_batches_tracked: one value (length 1) kept in COUNT_SLOTS
   * buffer slots from offset, as base-2^24 digits exact in any dtype (lib/batch-count.ts).
   */
  count: boolean;
}

/** The buffer slots an entry takes. */
export function slotsOf(e: ParamEntry): number {
  return e.count ? COUNT_SLOTS : e.length;
}

/** An entry's values out of the flat arrays: a view, or for a count a fresh Float64Array (exact past 2^24). */
export function entryValues(e: ParamEntry, params: FloatArray, buffers: FloatArray): FloatArray {
  if (e.count) return Float64Array.of(readCount(buffers, e.offset));
  return (e.buffer ? buffers : params).subarray(e.offset, e.offset + e.length);
}

/**
 * The engine specs and named entries of `layers` fed `inputSize` columns;
 * throws when widths do not chain or a layer's params()/buffers() are not a
 * list of distinct names with valid shapes. paramCount and bufferCount are
 * what the entries describe: Sequential compares them with its plan's, built
 * from the specs (a custom layer's two descriptions may disagree).
 */
export function layoutParams(layers: readonly Layer[], inputSize: number):
    { specs: LayerSpec[]; entries: ParamEntry[]; outputSize: number; paramCount: number; bufferCount: number } {
  const specs: LayerSpec[] = [];
  const entries: ParamEntry[] = [];
  let width = inputSize;
  let offset = 0;
  let bufferOffset = 0;
  layers.forEach((layer, i) => {
    if (layer.inFeatures !== null && layer.inFeatures !== width) {
      throw new ArgumentRangeError(`Expected layers[${i}] to take ${width} inputs (the width before it) but it takes ${layer.inFeatures}`);
    }
    specs.push(...layer.toSpecs(width));
    const names = new Set<string>();
    for (const p of shapesOf(layer.params(), `layers[${i}].params()`, names)) {
      const length = p.shape.reduce((a, b) => a * b, 1);
      entries.push({ name: `${i}.${p.name}`, shape: p.shape, offset, length, buffer: false, count: false });
      offset += length;
    }
    for (const b of shapesOf(layer.buffers(), `layers[${i}].buffers()`, names)) {
      const length = b.shape.reduce((x, y) => x * y, 1);
      const entry: ParamEntry = { name: `${i}.${b.name}`, shape: b.shape, offset: bufferOffset, length, buffer: true,
        count: b.name === 'num_batches_tracked' };
      entries.push(entry);
      bufferOffset += slotsOf(entry);
    }
    width = layer.outFeatures(width);
  });
  return { specs, entries, outputSize: width, paramCount: offset, bufferCount: bufferOffset };
}

/**
 * A layer's params() or buffers() (`what`), checked and copied: { name, shape }
 * objects with a non-empty name not in `names` (the layer's names so far, which
 * this adds to) and a shape of integers ≥ 0. The built-in layers always pass; a
 * custom layer with two tensors of one name made getWeights drop one and
 * setWeights refuse its own output, and a negative dimension was taken as
 * long as the product came out right.
 */
function shapesOf(list: unknown, what: string, names: Set<string>): ParamShape[] {
  if (!Array.isArray(list)) throw typeError(what, 'an array of { name, shape }', list);
  return list.map((p: unknown, j) => {
    if (typeof p !== 'object' || p === null) throw typeError(`${what}[${j}]`, 'an object { name, shape }', p);
    const { name, shape } = p as { name: unknown; shape: unknown };
    if (typeof name !== 'string' || name === '') throw typeError(`${what}[${j}].name`, 'a non-empty string', name);
    if (names.has(name)) {
      throw new ArgumentRangeError(`Expected distinct tensor names in a layer for ${what}[${j}].name but received '${name}' again`);
    }
    names.add(name);
    const dims = Array.isArray(shape) ? [...shape] : null;
    if (dims === null || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw rangeError(`${what}[${j}].shape`, 'an array of integers ≥ 0', shape);
    }
    return { name, shape: dims as number[] };
  });
}

/**
 * The parameters and buffers named in `weights`, each validated (all names,
 * right lengths, finite numbers), in flat arrays the plan's setParams and
 * setBuffers take; throws before anything is written.
 * `currentBuffers` (the plan's buffers now) supplies a batch norm step count
 * the weights leave out (see isOptionalBuffer); without it, every name is required.
 */
export function gatherWeights(entries: readonly ParamEntry[], weights: Record<string, ArrayLike<number>>, dtype: Dtype,
                              paramCount: number, bufferCount: number,
                              currentBuffers?: FloatArray): { all: FloatArray; buffers: FloatArray } {
  return runSteps(gatherWeightsSteps(entries, weights, dtype, paramCount, bufferCount, currentBuffers));
}

/**
 * BatchNorm1d's num_batches_tracked may be left out of weights: torch stores it
 * as int64, which io.readWeights reads only to skip ({ skipNonFloat: true }), so
 * a torch state_dict could not otherwise be set. fastmlp's arithmetic never reads
 * it (it only matters to torch's momentum=None cumulative average); the model
 * keeps its own count, as torch's BatchNorm fills in a missing one on loading.
 */
function isOptionalBuffer(e: ParamEntry): boolean {
  return e.buffer && e.name.endsWith('.num_batches_tracked');
}

/** "3 values (shape 3)", "1 value (a scalar)": the size in messages. */
function describeSize(e: ParamEntry): string {
  return `${e.length} value${e.length === 1 ? '' : 's'} (${e.shape.length === 0 ? 'a scalar' : `shape ${e.shape.join(' × ')}`})`;
}

/** gatherWeights in steps of at most STEP_BYTES copied and checked (lib/steps.ts), for an async caller to yield between. */
export function* gatherWeightsSteps(entries: readonly ParamEntry[], weights: Record<string, ArrayLike<number>>, dtype: Dtype,
                                    paramCount: number, bufferCount: number,
                                    currentBuffers?: FloatArray): Steps<{ all: FloatArray; buffers: FloatArray }> {
  const known = new Set(entries.map((e) => e.name));
  const unknown = Object.keys(weights).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new ArgumentRangeError(`Unknown parameter name(s) ${unknown.map((k) => `'${k}'`).join(', ')} for weights; expected ${[...known].join(', ')}`);
  }
  const all = allocate(dtype, paramCount);
  const buffers = allocate(dtype, bufferCount);
  const stepLength = STEP_BYTES / (dtype === 'float64' ? 8 : 4);
  for (const e of entries) {
    const src = weights[e.name];
    const name = `weights['${e.name}']`;
    if (src === undefined && currentBuffers !== undefined && isOptionalBuffer(e)) {
      buffers.set(currentBuffers.subarray(e.offset, e.offset + slotsOf(e)), e.offset);
      continue;
    }
    if (src === undefined) throw new ArgumentRangeError(`Missing ${name}: expected ${describeSize(e)}`);
    if (!Array.isArray(src) && !(ArrayBuffer.isView(src) && !(src instanceof DataView))) {
      throw typeError(name, 'a Float32Array, Float64Array or number[]', src);
    }
    if (src.length !== e.length) throw new ArgumentRangeError(`Expected ${describeSize(e)} for ${name} but received ${src.length}`);
    if (e.count) {
      writeCount(buffers, e.offset, checkedCount(name, src[0]));
      continue;
    }
    const dest = (e.buffer ? buffers : all).subarray(e.offset, e.offset + e.length);
    for (let start = 0; start < e.length; start += stepLength) {
      const end = Math.min(e.length, start + stepLength);
      if (src instanceof Float32Array || src instanceof Float64Array) {
        dest.set(src.subarray(start, end), start);
      } else {
        for (let i = start; i < end; i++) {
          const v = src[i];
          if (typeof v !== 'number') throw new ArgumentRangeError(`Expected finite numbers for ${name} but received ${String(v)} at index ${i}`);
          dest[i] = v;
        }
      }
      // Checked as stored: a finite float64 beyond ±3.4e38 becomes ±Infinity in a float32 model.
      for (let i = start; i < end; i++) {
        if (!Number.isFinite(dest[i]!)) {
          const v = src[i]!;
          throw new ArgumentRangeError(Number.isFinite(v)
            ? `Expected finite numbers within float32's range (±3.4e38) for ${name} but received ${v} at index ${i}`
            : `Expected finite numbers for ${name} but received ${String(v)} at index ${i}`);
        }
      }
      yield;
    }
    if (e.buffer) checkBatchNormBuffer(e.name, name, src);
  }
  return { all, buffers };
}

/**
 * Batch norm's buffers have ranges beyond finiteness: a variance below 0 makes
 * eval mode's √(var + ε) NaN for every row (PyTorch copies it and predicts NaN;
 * a strict setWeights refuses it instead). (The step count: checkedCount.)
 */
function checkBatchNormBuffer(entryName: string, name: string, src: ArrayLike<number>): void {
  if (entryName.endsWith('.running_var')) {
    for (let i = 0; i < src.length; i++) {
      if (src[i]! < 0) throw new ArgumentRangeError(`Expected values ≥ 0 for ${name} but received ${src[i]} at index ${i}`);
    }
  }
}

/**
 * A step count as given: a whole number in [0, 2^53) — exact in float64, and
 * in the model's buffers whatever its dtype (lib/batch-count.ts); beyond, +1
 * would no longer change it.
 */
function checkedCount(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ArgumentRangeError(`Expected finite numbers for ${name} but received ${String(v)} at index 0`);
  }
  if (!Number.isInteger(v) || v < 0) throw new ArgumentRangeError(`Expected a whole number ≥ 0 for ${name} but received ${v}`);
  if (!Number.isSafeInteger(v)) throw new ArgumentRangeError(`Expected a whole number ≥ 0 below 2^53 for ${name} but received ${v}`);
  return v;
}
