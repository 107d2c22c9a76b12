// A Sequential's state on its way out to a save and in from a load: the
// weights under state_dict names, the save's copy of one moment
// (lib/state-copy.ts) that every write to the plan completes first, and the
// optimizer state and generators a resumed fit needs. Sequential keeps the
// checks (idle, compiled) and calls this; lib/io/model-file.ts does the file.
import type { Dtype, FloatArray, NetworkPlan, OptimizerSpec } from './engine';
import { allocate } from './matrix';
import { checkOptimizerStateSteps } from './optimizer-state-checks';
import { entryValues, gatherWeightsSteps, type ParamEntry } from './param-layout';
import { Rng } from './rng';
import type { TrainingRngState, TrainingState } from './sequential-options';
import { StateCopy, writeInSteps } from './state-copy';
import type { Steps } from './steps';
import { ArgumentRangeError } from './validate';

export class ModelState {
  /**
   * rng: the model's shuffling generator, which a restore sets. openCopies:
   * the saves in progress (the owner's set; copy adds to it, a finished copy
   * leaves it), each completed by beforeWrite.
   */
  constructor(private readonly plan: NetworkPlan, private readonly dtype: Dtype,
              private readonly entries: readonly ParamEntry[], private readonly rng: Rng,
              private readonly openCopies: Set<StateCopy>) {}

  /** The parameters, buffers and (includeOptimizer) optimizer state of now, copied in steps (lib/state-copy.ts). */
  copy(includeOptimizer: boolean): StateCopy {
    const copy = new StateCopy(this.plan, this.dtype, includeOptimizer, (c) => { this.openCopies.delete(c); });
    if (!copy.done) this.openCopies.add(copy);
    return copy;
  }

  /** Completes the saves in progress: call before anything changes the plan's state. */
  beforeWrite(): void {
    for (const copy of this.openCopies) copy.finish();  // finish() removes it from the set
  }

  /** The parameters and buffers as views into two fresh flat arrays, under state_dict names. */
  weightViews(): Record<string, FloatArray> {
    const all = allocate(this.dtype, this.plan.paramCount);
    this.plan.getParams(all);
    const buffers = allocate(this.dtype, this.plan.bufferCount);
    this.plan.getBuffers(buffers);
    return this.namedViews(all, buffers);
  }

  /**
   * Views of flat parameters and buffers under state_dict names; batch norm's
   * num_batches_tracked comes as a Float64Array of its own whatever the dtype
   * (exact to 2^53, lib/batch-count.ts).
   */
  namedViews(all: FloatArray, buffers: FloatArray): Record<string, FloatArray> {
    const out: Record<string, FloatArray> = {};
    for (const e of this.entries) out[e.name] = entryValues(e, all, buffers);
    return out;
  }

  /**
   * Every parameter and buffer from `weights` (checked whole first, in steps),
   * then written in ~1 MB ranges. beforeWrite runs between the two: the
   * owner's checks again (the event loop may have run) and its bookkeeping.
   */
  *setWeightsSteps(weights: Record<string, ArrayLike<number>>, beforeWrite: () => void): Steps<void> {
    const current = allocate(this.dtype, this.plan.bufferCount);
    this.plan.getBuffers(current);
    const { all, buffers } = yield* gatherWeightsSteps(this.entries, weights, this.dtype, this.plan.paramCount,
      this.plan.bufferCount, current);
    beforeWrite();
    this.beforeWrite();
    this.plan.setBuffers(buffers);
    // In ~1 MB ranges (lib/state-copy.ts): lib/io's load yields between them, into
    // a model nobody else holds yet; setWeights runs them all at once.
    yield* writeInSteps(this.plan, all, null);
  }

  /** The optimizer state (copy's, when given, else a whole copy made now), step count and generators. */
  optimizerState(copy?: StateCopy): NonNullable<TrainingState['optimizerState']> {
    let buf = copy?.optimizerState ?? null;
    if (buf === null) {
      buf = allocate(this.dtype, this.plan.optimizerStateSize);
      this.plan.getOptimizerState(buf);
    }
    return { state: buf, steps: this.plan.stepCount, rng: { ...this.rng.getState(), dropoutWords: this.plan.getDropoutState() } };
  }

  /**
   * Restores what optimizerState returned, in ~1 MB steps; the generators and
   * the state's values (for `spec`, the plan's optimizer) are checked before anything changes.
   */
  *restoreOptimizerSteps(state: FloatArray, steps: number, rng: TrainingRngState, spec: OptimizerSpec): Steps<void> {
    if (state.length !== this.plan.optimizerStateSize) {
      throw new ArgumentRangeError(`Expected ${this.plan.optimizerStateSize} values of optimizer state for this optimizer but received ${state.length}`);
    }
    const check = new Rng(0);
    check.setState(rng);  // validates before anything changes
    yield* checkOptimizerStateSteps(spec, state, this.plan.paramCount);
    const dropoutBefore = this.plan.getDropoutState();
    // Validates its words before it changes anything (a file from before it has none).
    if (rng.dropoutWords !== undefined) this.plan.setDropoutState(rng.dropoutWords);
    this.beforeWrite();
    try {
      yield* writeInSteps(this.plan, state, steps);
    } catch (err) {
      this.plan.setDropoutState(dropoutBefore);
      throw err;
    }
    this.rng.setState(rng);
  }
}
