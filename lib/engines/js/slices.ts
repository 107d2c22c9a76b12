// Work in slices, for the pure-TypeScript engine's passes (plan-passes.ts,
// plan.ts). The forward pass, loss, backward pass and optimizer update are
// generator functions that yield between slices of their work: a row block of
// an activation, a run of a gemm's units (gemm.ts, "Units of work"), a range of
// the optimizer's flat loop. The synchronous methods (trainStep, predict, ...)
// drain them without pausing; trainEpoch and predictAsync let the event loop
// run at a yield once the main thread's budget is spent (lib/event-loop.ts).
// Before, they could only pause between batches: one batch of 784-2048-2048-10
// at 256 rows held the event loop ~2 s.
//
// The hot loops stay in plain functions (V8 optimises those, not generator
// bodies); only the drivers are generators. A generator yields only once
// SLICE_WORK of work is done since its last yield (WorkMeter), so a small
// net's batch runs through in one or two resumptions and pays nothing per
// layer. A slice is at most one unit of work bigger than SLICE_WORK: a packed
// gemm block (2·64·256·256 ≈ 8.4 MFLOP, a few ms) is the largest.

/**
 * Work between two yields, in floating-point operations (a multiply-add is 2):
 * ~2 MFLOP, under a millisecond of gemm on a 2–5 GFLOP/s JS kernel, so a pause
 * comes within a few ms of the budget and checking the clock ~1,000 times a
 * second costs nothing measurable.
 */
export const SLICE_WORK = 2 ** 21;

/**
 * Work counted per element of an activation (forward or backward), of the
 * optimizer's update and of a finiteness scan, relative to a gemm FLOP. The
 * costly activations (erf GELU, tanh, ELU) take ~20–40 ns an element against
 * ~0.3 ns a FLOP, ReLU ~1 ns: 64 keeps a GELU slice near a millisecond, and a
 * ReLU slice is only more, cheaper slices.
 */
export const ELEMENT_WORK = 64;
export const UPDATE_WORK = 32;
export const SCAN_WORK = 2;

/** Counts work since the last yield; one per plan, shared by its nested generators. */
export class WorkMeter {
  private done = 0;

  /** Adds work; true when a yield is due (and the count starts again). */
  add(work: number): boolean {
    this.done += work;
    if (this.done < SLICE_WORK) return false;
    this.done = 0;
    return true;
  }
}

/** Items per slice when each costs `work`: at least one. */
export function perSlice(work: number): number {
  return Math.max(1, Math.floor(SLICE_WORK / Math.max(work, 1)));
}

/** Runs steps to the end without pausing (the synchronous methods); returns its result. */
export function drain<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}
