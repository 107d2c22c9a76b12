// A model's state copied out of its plan in ~1 MB steps, for a save that lets
// the event loop in between steps, and still ONE moment's state.
//
// The steps use the engine contract's ranged reads (NetworkPlan.readParams,
// readOptimizerState). Between two steps other code may run: a fit started
// without awaiting the save, trainStep, setWeights, compile, dispose. Every
// such write to the plan first calls finish() on the open copies (ModelState's
// beforeWrite, lib/model-state.ts), which copies whatever is left in that one turn. So the
// copy always holds the state of the moment it was made — the moment of the
// save call — and a save that nothing interrupts never holds the event loop
// for more than a step. (A copy inside the engine at the call would be one
// moment too, but it is the long turn this avoids; refusing writes while a
// save runs would break callers that start fit right after an un-awaited save.)
//
// The small parts (batch norm's buffers, the step count and generators'
// states) are taken whole when the copy is made.
import type { Dtype, FloatArray, NetworkPlan } from './engine';
import { allocate } from './matrix';
import { STEP_BYTES, type Steps } from './steps';

export class StateCopy {
  /** All parameters, in the plan's flat layout; complete once done. */
  readonly params: FloatArray;
  /** The buffers (batch norm's running statistics), copied when the copy was made. */
  readonly buffers: FloatArray;
  /** The optimizer state when asked for (complete once done), else null. */
  readonly optimizerState: FloatArray | null;
  private paramsCopied = 0;
  private stateCopied = 0;
  private readonly stepLength: number;
  private released = false;

  /**
   * plan: idle, not disposed. onDone: called once, when the last value is
   * copied (by the steps or by finish), so the owner can forget the copy.
   */
  constructor(private readonly plan: NetworkPlan, dtype: Dtype, includeOptimizer: boolean,
              private readonly onDone: (copy: StateCopy) => void) {
    // Fresh arrays: their pages are touched by the steps that fill them, a
    // step at a time, not all at once here.
    this.params = allocate(dtype, plan.paramCount);
    this.buffers = allocate(dtype, plan.bufferCount);
    plan.getBuffers(this.buffers);
    this.optimizerState = includeOptimizer ? allocate(dtype, plan.optimizerStateSize) : null;
    this.stepLength = STEP_BYTES / (dtype === 'float64' ? 8 : 4);
    if (this.done) onDone(this);
  }

  get done(): boolean {
    return this.paramsCopied === this.params.length &&
      (this.optimizerState === null || this.stateCopied === this.optimizerState.length);
  }

  /** The copy in steps of at most STEP_BYTES, yielding between them; finish() may complete it meanwhile. */
  *steps(): Steps<void> {
    while (!this.done && !this.released) {
      this.copyNext(this.stepLength);
      yield;
    }
  }

  /** Copies everything that is left now, in one turn (before a write to the plan). Idempotent. */
  finish(): void {
    if (!this.done && !this.released) this.copyNext(Infinity);
  }

  /** Gives the copy up (a save that failed before its steps): it is forgotten, its arrays stay as they are. */
  release(): void {
    if (this.released || this.done) return;
    this.released = true;
    this.onDone(this);
  }

  /** Copies up to `limit` values, parameters first; reports done when nothing is left. */
  private copyNext(limit: number): void {
    let budget = limit;
    if (this.paramsCopied < this.params.length) {
      const end = Math.min(this.params.length, this.paramsCopied + budget);
      this.plan.readParams(this.paramsCopied, this.params.subarray(this.paramsCopied, end));
      budget -= end - this.paramsCopied;
      this.paramsCopied = end;
    }
    const state = this.optimizerState;
    if (state !== null && budget > 0 && this.stateCopied < state.length) {
      const end = Math.min(state.length, this.stateCopied + budget);
      this.plan.readOptimizerState(this.stateCopied, state.subarray(this.stateCopied, end));
      this.stateCopied = end;
    }
    if (this.done) this.onDone(this);
  }
}

/**
 * src written into the plan's parameters (or, with stepCount, its optimizer
 * state) in ranges of at most STEP_BYTES, yielding between them: lib/io's
 * load, into a model nobody else holds yet. Run all at once (runSteps) by the
 * synchronous API.
 */
export function* writeInSteps(plan: NetworkPlan, src: FloatArray, stepCount: number | null): Steps<void> {
  const stepLength = STEP_BYTES / src.BYTES_PER_ELEMENT;
  for (let at = 0; at < src.length || at === 0; at += stepLength) {
    const part = src.subarray(at, Math.min(src.length, at + stepLength));
    if (stepCount === null) plan.writeParams(at, part);
    else plan.writeOptimizerState(at, part, stepCount);
    if (at + stepLength < src.length) yield;
  }
}
