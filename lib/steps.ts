// Long synchronous work written once, as a generator that yields between
// bounded steps, and run two ways: to completion in one go (the synchronous
// API: toBuffer, fromBuffer, setWeights) or with the event loop let in between
// steps (the asynchronous API: save, load, readWeights). One code path, so the
// two cannot drift apart: `await model.save` writes the bytes toBuffer returns.
import { yieldIfDue } from './event-loop';

/** Work that yields (nothing) between steps and returns a T. */
export type Steps<T> = Generator<void, T, void>;

/**
 * Bytes one step handles at most (hashed, copied or checked): ~1 ms of work
 * here, well inside event-loop.ts's YIELD_MS budget between yields.
 */
export const STEP_BYTES = 1 << 20;

/** Runs all steps at once and returns the result (throws what a step throws). */
export function runSteps<T>(steps: Steps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/** Runs the steps, letting the event loop run whenever YIELD_MS of them have passed since the last turn. */
export async function runStepsYielding<T>(steps: Steps<T>): Promise<T> {
  let r = steps.next();
  while (!r.done) {
    await yieldIfDue();
    r = steps.next();
  }
  return r.value;
}
