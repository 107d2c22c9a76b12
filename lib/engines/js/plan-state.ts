// The state of the TypeScript engine's plan (plan.ts) that callers set, read
// and copy: training mode, seed and dropout stream, loss and optimizer settings, and copies of
// parameters, gradients, batch-norm buffers and optimizer state in and out,
// or plan to plan (copyStateFrom). Each method checks assertIdle first.

import type { Dtype, FloatArray, LossSpec, NetworkPlan, OptimizerSpec } from '../../engine';
import { Rng } from '../../rng';
import { lossSpecForTraining } from './losses';
import {
  completeOptimizer, optimizerStateCompatible, optimizerStateSize, validateOptimizer,
} from './optim';
import { alloc, isCount, need } from './plan-arrays';
import { DEFAULT_OPTIMIZER, PlanMemory, isJsPlan } from './plan-memory';
import {
  ArgumentRangeError, ArgumentTypeError, BUSY, DISPOSED, codedError, describe, rangeError, typeError,
} from '../../validate';

export abstract class PlanState extends PlanMemory {
  get penalty(): number {
    // As the native plan, whose worker sums it during backward: kept after dispose, refused while busy.
    if (!this.isDisposed) this.assertIdle('penalty');
    return this.lastPenalty;
  }

  get training(): boolean {
    return this.isTraining;
  }

  setTraining(training: boolean): void {
    this.assertIdle('setTraining');
    if (typeof training !== 'boolean') {
      throw new ArgumentTypeError(`Expected a boolean for training but received ${typeof training}`);
    }
    this.isTraining = training;
  }

  setSeed(seed: number): void {
    this.assertIdle('setSeed');
    if (!isCount(seed, 0) || seed > Number.MAX_SAFE_INTEGER) {
      throw new ArgumentRangeError(`Expected an integer in [0, 2^53) for seed but received ${String(seed)}`);
    }
    this.rng = new Rng(seed);
  }

  getDropoutState(): number[] {
    this.assertIdle('getDropoutState');
    return this.rng.getState().words.map((w) => w >>> 0);  // unsigned, as the native engine's
  }

  setDropoutState(words: readonly number[]): void {
    this.assertIdle('setDropoutState');
    if (!Array.isArray(words)) throw typeError('words', 'an array of four 32-bit words', words);
    if (words.length !== 4) throw rangeError('words', 'an array of four 32-bit words', words);
    words.forEach((w, i) => {
      if (typeof w !== 'number') throw typeError(`words[${i}]`, 'an integer', w);
      if (!Number.isInteger(w) || w < 0 || w >= 2 ** 32) throw rangeError(`words[${i}]`, 'an integer in [0, 4294967295]', w);
    });
    if ((words[0]! | words[1]! | words[2]! | words[3]!) === 0) {
      throw new ArgumentRangeError('Expected four 32-bit words, not all zero, for words but received [0, 0, 0, 0]');
    }
    this.rng.setState({ words: [...words], spareNormal: null });  // dropout draws uniforms only
  }

  getBuffers(out: FloatArray): void {
    this.assertIdle('getBuffers');
    need(out, this.buffers.length, 'out');
    out.set(this.buffers);
  }

  setBuffers(src: FloatArray): void {
    this.assertIdle('setBuffers');
    need(src, this.buffers.length, 'src');
    copyWhole(src, this.buffers, this.buffers.length);
  }

  /**
   * Copies source's parameters and buffers into this plan's own arrays (one
   * typed-array set each, no intermediate array); the checks and what is not
   * copied are documented on NetworkPlan.copyStateFrom, and run in the native
   * binding's order so both engines refuse alike. A refused copy changes nothing.
   */
  copyStateFrom(source: NetworkPlan): void {
    this.assertIdle('copyStateFrom');
    if (!isJsPlan(source)) {
      throw new ArgumentTypeError(`Expected a network plan of the js engine for source but received ${describe(source)}`);
    }
    const from = source as unknown as PlanState; // isJsPlan: one this engine constructed
    if (from === this) {
      throw new ArgumentRangeError('Expected another plan than this one for source but received the same plan');
    }
    if (from.isDisposed) {
      throw codedError('Cannot copy from source: it has been disposed (dispose() freed its memory)', DISPOSED);
    }
    if (from.busy) {
      throw codedError(`Cannot copy from source: it is ${from.busyReason()}; wait for it to finish`, BUSY);
    }
    if (from.dtype !== this.dtype) {
      throw new ArgumentTypeError(`Expected a ${this.dtype} plan for source but received a ${from.dtype} plan`);
    }
    if (from.inputSize !== this.inputSize || from.outputSize !== this.outputSize ||
        from.paramCount !== this.paramCount || from.bufferCount !== this.bufferCount) {
      throw new ArgumentRangeError(
        `Expected a plan of the same layout for source (inputSize ${this.inputSize}, outputSize ${this.outputSize}, ` +
        `paramCount ${this.paramCount}, bufferCount ${this.bufferCount}) but received inputSize ${from.inputSize}, ` +
        `outputSize ${from.outputSize}, paramCount ${from.paramCount}, bufferCount ${from.bufferCount}`);
    }
    this.params.set(from.params);
    this.buffers.set(from.buffers);
  }

  get stepCount(): number {
    this.assertIdle('stepCount');
    return this.steps;
  }

  setLoss(loss: LossSpec | null): void {
    this.assertIdle('setLoss');
    if (loss === null) {
      this.loss = null;
      return;
    }
    this.loss = lossSpecForTraining(loss, this.outputSize);
  }

  setOptimizer(optimizer: OptimizerSpec): void {
    this.assertIdle('setOptimizer');
    validateOptimizer(optimizer);
    const next: OptimizerSpec = completeOptimizer({ ...DEFAULT_OPTIMIZER, ...optimizer });
    const size = optimizerStateSize(next, this.paramCount);
    // A hyper-parameter change (same kind and state layout) keeps the moments
    // and the step count, as changing lr in a torch optimizer's param_groups does.
    if (!optimizerStateCompatible(next, this.optimizer) || size !== this.optState.length) {
      this.optState = alloc(this.dtype, size);
      this.steps = 0;
    }
    this.optimizer = next;
  }

  resetOptimizer(): void {
    this.assertIdle('resetOptimizer');
    // A fresh (zero) array rather than a fill, which would write every page of
    // it in one turn of the event loop: the system zeroes a fresh array's pages
    // lazily, when the first step writes them, so a new one costs next to
    // nothing even right after setOptimizer made one (compile).
    this.optState = alloc(this.dtype, this.optState.length);
    this.steps = 0;
  }

  get optimizerStateSize(): number {
    // dispose() drops optState; the size stays readable, as the contract promises.
    return this.isDisposed ? optimizerStateSize(this.optimizer, this.paramCount) : this.optState.length;
  }

  getOptimizerState(out: FloatArray): void {
    this.assertIdle('getOptimizerState');
    if (out.length !== this.optState.length) {
      throw new ArgumentRangeError(`Expected ${this.optState.length} elements for out but received ${out.length}`);
    }
    out.set(this.optState);
  }

  setOptimizerState(src: FloatArray, stepCount: number): void {
    this.assertIdle('setOptimizerState');
    if (src.length !== this.optState.length) {
      throw new ArgumentRangeError(`Expected ${this.optState.length} elements for src but received ${src.length}`);
    }
    if (!isCount(stepCount, 0) || stepCount > Number.MAX_SAFE_INTEGER) {
      throw new ArgumentRangeError(`Expected an integer ≥ 0 for stepCount but received ${String(stepCount)}`);
    }
    copyWhole(src, this.optState, src.length);
    this.steps = stepCount;
  }

  getParams(out: FloatArray): void {
    this.assertIdle('getParams');
    need(out, this.paramCount, 'out');
    out.set(this.params);
  }

  setParams(src: FloatArray): void {
    this.assertIdle('setParams');
    need(src, this.paramCount, 'src');
    copyWhole(src, this.params, this.paramCount);
  }

  readParams(offset: number, out: FloatArray): void {
    this.assertIdle('readParams');
    const at = rangeStart(offset, out, 'out', this.dtype, this.paramCount);
    out.set(this.params.subarray(at, at + out.length));
  }

  writeParams(offset: number, src: FloatArray): void {
    this.assertIdle('writeParams');
    const at = rangeStart(offset, src, 'src', this.dtype, this.paramCount);
    this.params.set(src, at);
  }

  readOptimizerState(offset: number, out: FloatArray): void {
    this.assertIdle('readOptimizerState');
    const at = rangeStart(offset, out, 'out', this.dtype, this.optState.length);
    out.set(this.optState.subarray(at, at + out.length));
  }

  writeOptimizerState(offset: number, src: FloatArray, stepCount: number): void {
    this.assertIdle('writeOptimizerState');
    const at = rangeStart(offset, src, 'src', this.dtype, this.optState.length);
    if (!isCount(stepCount, 0) || stepCount > Number.MAX_SAFE_INTEGER) {
      throw new ArgumentRangeError(`Expected an integer ≥ 0 for stepCount but received ${String(stepCount)}`);
    }
    this.optState.set(src, at);
    this.steps = stepCount;
  }

  getGrads(out: FloatArray): void {
    this.assertIdle('getGrads');
    need(out, this.paramCount, 'out');
    out.set(this.grads);
  }
}

/**
 * dst[i] = src[i] for i < n as one typed-array set (it converts float64 to
 * float32 as the assignment does): a model's parameters are set once per
 * load or setWeights, not per step, so the view subarray() allocates is
 * nothing beside a per-element loop (25-40 ms for 23 MB).
 */
function copyWhole(src: FloatArray, dst: FloatArray, n: number): void {
  dst.set(src.length === n ? src : src.subarray(0, n));
}

/**
 * The checks of the ranged copies (NetworkPlan.readParams and the others), as
 * the native binding makes them: offset an integer in [0, count], the array
 * of the plan's dtype, ending by count. Returns offset.
 */
function rangeStart(offset: unknown, array: unknown, name: string, dtype: Dtype, count: number): number {
  if (typeof offset !== 'number') throw new ArgumentTypeError(`Expected an integer for offset but received ${describe(offset)}`);
  if (!isCount(offset, 0) || offset > count) {
    throw new ArgumentRangeError(`Expected an integer in [0, ${count}] for offset but received ${describe(offset)}`);
  }
  if (!(array instanceof Float32Array || array instanceof Float64Array)) {
    throw new ArgumentTypeError(`Expected a Float32Array or Float64Array for ${name} but received ${describe(array)}`);
  }
  const wanted = dtype === 'float32' ? 'Float32Array' : 'Float64Array';
  if (!(dtype === 'float32' ? array instanceof Float32Array : array instanceof Float64Array)) {
    throw new ArgumentTypeError(`Expected a ${wanted} for ${name} but received ${array.constructor.name}`);
  }
  if (array.length > count - offset) {
    throw new ArgumentRangeError(`Expected at most ${count - offset} elements for ${name} (from offset ${offset} of ${count}) but received ${array.length}`);
  }
  return offset;
}
