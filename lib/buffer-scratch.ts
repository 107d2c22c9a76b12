// The copy of a plan's layer buffers (batch norm's running statistics) that
// Sequential.trainStep keeps before each step. The step's forward updates the
// statistics before its loss is known; when the loss or the gradients then
// come out NaN/±Infinity the step is refused, and the statistics must go back
// to their values before it (DESIGN.md: bad input never corrupts state).
// Allocating that copy on every call was one array per step; the array here
// is made on the first step of a model with buffers and reused by every later
// one (DESIGN.md: "no allocation per step"). A model without buffers copies
// nothing and allocates nothing.
import type { FloatArray, NetworkPlan } from './engine';
import { allocate, dtypeOf } from './matrix';

export class BufferScratch {
  private scratch: FloatArray | null = null;

  /**
   * Copies plan's buffers into the scratch, allocated on first use and again
   * only when the plan's buffer count or dtype differs from the array's.
   * Returns false, copying nothing, when the plan has no buffers.
   */
  save(plan: NetworkPlan): boolean {
    const count = plan.bufferCount;
    if (count === 0) return false;
    const s = this.scratch;
    if (s === null || s.length !== count || dtypeOf(s) !== plan.dtype) this.scratch = allocate(plan.dtype, count);
    plan.getBuffers(this.scratch!);
    return true;
  }

  /** Puts back the buffers the last save copied (nothing when there is no copy, or the plan was disposed meanwhile). */
  restore(plan: NetworkPlan): void {
    if (this.scratch !== null && !plan.disposed) plan.setBuffers(this.scratch);
  }

  /** Drops the array (the model's dispose); a later save allocates a new one. */
  release(): void {
    this.scratch = null;
  }

  /** The array in use, null before the first save or after release (tests: the same array across steps). */
  get array(): FloatArray | null {
    return this.scratch;
  }
}
