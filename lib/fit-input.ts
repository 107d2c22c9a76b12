// fit's checks of its in-memory data without holding the event loop. fit
// copies x, y and validationData synchronously at the call (one memcpy each:
// fit trains on the arrays as they were then, whatever the caller does next),
// then checks the private copies for NaN/±Infinity in chunks, letting the
// event loop run between them. On 60,000 × 784 float32 rows one loop over
// every value held the event loop for ~120 ms of the ~230 ms that fit's start
// took before the first batch.
//
// Each chunk is first asked of anyNonFinite, one fast pass (lib/finite-scan.ts:
// the engine's test); the per-value walk that names the row and column runs
// only over a chunk that holds a non-finite value, so the messages are those
// of the walk alone. The check of those 60,000 float32 rows went from 100-210
// ms to 21-25 ms with the native engine's test (bench/fit-check.mjs, a machine
// under load; the JS engine's sum showed no clear gain over the walk there).
//
// Why a yield after every chunk rather than on the shared clock
// (lib/event-loop.ts yieldIfDue, as before): a chunk now takes ~1 ms (native)
// to ~5 ms (JS sum), so the whole check of those rows lasts a few multiples of
// the clock's 10 ms budget and would run in several turns of 10 ms each —
// long turns for so short a task. A yield with the event loop idle is cheap:
// one per chunk (45 here) added ~3 ms to a 33 ms native check on a loaded
// machine, and keeps every turn a few ms long.
//
// With the native engine the check usually reads nothing: its copyData tests
// the values in the copy's own pass, and the model's test knows a copy found
// finite (NonFiniteTest.knownFinite: lib/fit-memory.ts, lib/model-data.ts),
// so x's check returns at once (no chunks, no yields) and a dense target's
// chunks are answered without a read; only a copy holding a bad value, or
// the JS engine's, is read again here.
import type { FloatArray, LossName, Target } from './engine';
import { span, type NonFiniteTest } from './finite-scan';
import { firstBadTargetFast, targetError } from './target-checks';
import { yieldToEventLoop } from './event-loop';
import type { Matrix } from './matrix';
import { ArgumentRangeError } from './validate';

/** Values checked between two yields: 4 MB of float32, ~1-5 ms of work. */
export const CHECK_CHUNK_VALUES = 1 << 20;

/** Index of the first non-finite value of d in [from, to), or -1. */
function firstNonFinite(d: FloatArray, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(d[i]!)) return i;
  }
  return -1;
}

/** Calls check(from, to) over [0, length) in chunks, letting the event loop run between every two of them. */
async function inChunks(length: number, check: (from: number, to: number) => void): Promise<void> {
  for (let from = 0; from < length; from += CHECK_CHUNK_VALUES) {
    check(from, Math.min(length, from + CHECK_CHUNK_VALUES));
    if (from + CHECK_CHUNK_VALUES < length) await yieldToEventLoop();
  }
}

/**
 * requireFinite (lib/matrix.ts) in chunks, with its message: a RangeError
 * naming the row and column of the first NaN/±Infinity in m. m must be private
 * to the caller (nothing else may change it while the check yields).
 * anyNonFinite: the model's engine's test (Engine.anyNonFinite).
 */
export async function requireFiniteInChunks(m: Matrix, name: string,
                                            anyNonFinite: NonFiniteTest): Promise<void> {
  // Known finite without a read (the native engine tested fit's copy as it made it): no chunk to check or yield after.
  if (anyNonFinite.knownFinite?.(m.data) === true) return;
  await inChunks(m.data.length, (from, to) => {
    if (!anyNonFinite(span(m.data, from, to))) return;
    const i = firstNonFinite(m.data, from, to);
    if (i < 0) return;
    const r = Math.floor(i / m.cols);
    throw new ArgumentRangeError(`Expected finite values in ${name} but received ${m.data[i]} at row ${r}, column ${i - r * m.cols}`);
  });
}

/**
 * The same for a dense target (class indices are integers, always finite),
 * with the loss's range (lib/target-checks.ts): names the first bad index.
 * anyNonFinite helps only losses without a range (their check is finiteness alone).
 */
export async function requireFiniteTargetInChunks(t: Target, name: string, loss: LossName | 'custom',
                                                  anyNonFinite: NonFiniteTest): Promise<void> {
  if (t instanceof Int32Array) return;
  await inChunks(t.length, (from, to) => {
    const i = firstBadTargetFast(t, loss, from, to, anyNonFinite);
    if (i >= 0) throw targetError(t, i, name, loss);
  });
}
