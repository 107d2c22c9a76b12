// The main thread's share of training work between two turns of the event
// loop. Everything that trains on the main thread (the JS engine's epochs and
// the slices of each batch, lib/engines/js/slices.ts; the batch-driven fit
// loop; fit's epoch loop itself) asks here whether its turn is
// up, against one clock: a yield anywhere restarts it, so work split into many
// short calls (one-batch epochs, tiny epochs back to back) is held to the same
// budget as one long epoch. Before, each epoch restarted its own clock and never
// yielded when it took less than the budget, so a fit of short epochs could hold
// the event loop from its first epoch to its last.

/**
 * Milliseconds of main-thread work between yields: keeps the event loop's
 * delay under DESIGN.md's 20 ms p99 target while batches too short to be worth
 * a yield each run back to back. A turn overshoots the budget by the slice in
 * flight (slices.ts, 2–4 ms) and by any garbage collection, so 15 ms, the
 * value before, left too little margin on a slower machine: the JS engine's
 * fit measured a p99 of 19.3–19.9 ms with it and 13.3–14.2 ms with 10 ms
 * (bench/cases/mlp.mjs, 784-2048-2048-10 and 784-512-256-10, two alternating
 * rounds on a shared 2-core Xeon), samples/s the same within the noise. A
 * yield costs one setImmediate, tens of µs.
 */
export const YIELD_MS = 10;

let lastYield = performance.now();

/** True once YIELD_MS have passed since the last yield (by anyone). */
export function yieldDue(): boolean {
  return performance.now() - lastYield >= YIELD_MS;
}

/**
 * Lets the event loop run (timers, I/O, other requests) once, through
 * setImmediate: a resolved promise would only run microtasks.
 */
export async function yieldToEventLoop(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  lastYield = performance.now();
}

/** yieldToEventLoop when yieldDue; otherwise returns at once. */
export async function yieldIfDue(): Promise<void> {
  if (yieldDue()) await yieldToEventLoop();
}
