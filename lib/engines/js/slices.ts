// Work in slices, for the pure-TypeScript engine's passes (plan-passes.ts,
// plan.ts). The forward pass, loss, backward pass and optimizer update are
// generator functions that yield between slices of their work: a row block of
// an activation, a run of a gemm's units (gemm.ts, "Units of work"), a range of
// the optimizer's flat loop. The synchronous methods (trainStep, predict, ...)
// drain them without pausing; trainEpoch and predictAsync let the event loop
// run at a yield once the main thread's budget is spent (lib/event-loop.ts).
// Before, they could only pause between batches: one batch of 784-2048-2048-10
// at 256 rows held the event loop ~2 s. A pause is also where they see a
// dispose() or an abort (plan.ts runSteps): a batch dropped there, before its
// update, is put back (plan.ts dropBatch).
//
// The hot loops stay in plain functions (V8 optimises those, not generator
// bodies); only the drivers are generators. A generator yields only once
// SLICE_WORK of work is done since its last yield (WorkMeter), and a layer or
// product within one slice runs whole through the plain functions, so a small
// net's batch runs through in one or two resumptions and pays nothing per
// layer. The largest slices: a packed gemm unit (2·64·256·256 ≈ 8.4 MFLOP);
// a dense layer's L1/L2 penalty, and a batch norm, layer norm, dropout or
// PReLU layer, or the loss, each whole; a conv2d or convtranspose2d layer's
// unrolling (im2col, col2im) of one block of images (conv.ts,
// convtranspose.ts, COL_BUDGET); a maxpool2d layer's block of images
// (maxpool.ts). Measured on 784-2048-2048-10 at 256
// rows (Adam, ReLU; a shared 2-core machine), each slice's least time over 4
// batches to remove the machine's noise: 1,246 slices a batch, median 1.9 ms,
// p99 2.3 ms, the largest 3.6 ms.

/**
 * Work between two yields, in floating-point operations (a multiply-add is 2):
 * ~2 MFLOP, ~0.5 ms of this engine's gemm (~4.5 GFLOP/s, 0.22 ns a FLOP, on
 * the machine above), so a pause comes within a few ms of the budget and the
 * ~1,000 checks of the clock a second cost nothing measurable.
 */
export const SLICE_WORK = 2 ** 21;

/**
 * Work counted per element, relative to a gemm FLOP, from ns per element
 * measured on 256 × 2048 float32 (the machine above): an activation's forward
 * or backward (GELU 80 ns, tanh 26, sigmoid 22, ELU 17, ReLU 3; 128 keeps a
 * GELU slice near 1.3 ms), the optimizer's update (Adam 11 ns) and a
 * finiteness scan or bias pass (allFinite 1.1 ns).
 */
export const ELEMENT_WORK = 128;
export const UPDATE_WORK = 48;
export const SCAN_WORK = 4;
/**
 * A max-pooling window element (maxpool.ts): its scans took 5.8–9.3 ns an
 * element against the gemm's 0.29 ns a FLOP (64 rows of 32×26×26 and 64×11×11
 * planes, 2×2 windows, forward and backward; a 2-core Xeon). Counted as
 * SCAN_WORK before, a pool's forward or backward on a small CNN's batch ran
 * 10–15 ms whole between two pauses.
 */
export const POOL_WORK = 32;

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

/** Nothing to pause for, and one pause: what work run whole hands to `yield*` (pauseIf). */
const NO_PAUSE: readonly void[] = [];
const ONE_PAUSE: readonly void[] = [undefined];

/**
 * For work run whole inside a generator: `yield* pauseIf(meter.add(work))`
 * yields once when a pause is due, without a generator of its own.
 */
export function pauseIf(due: boolean): Iterable<void> {
  return due ? ONE_PAUSE : NO_PAUSE;
}

/** Runs steps to the end without pausing (the synchronous methods); returns its result. */
export function drain<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}
