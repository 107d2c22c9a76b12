// fit's checks of its in-memory data without holding the event loop. fit
// copies x, y and validationData synchronously at the call (one memcpy each:
// fit trains on the arrays as they were then, whatever the caller does next),
// then checks the private copies for NaN/±Infinity in chunks, yielding to the
// event loop on the shared clock (lib/event-loop.ts) between them. On
// 60,000 × 784 float32 rows one loop over every value held the event loop for
// ~120 ms of the ~230 ms that fit's start took before the first batch.
import type { FloatArray, LossName, Target } from './engine';
import { firstBadTarget, targetError } from './target-checks';
import { yieldIfDue } from './event-loop';
import type { Matrix } from './matrix';
import { ArgumentRangeError } from './validate';

/** Values checked between two looks at the yield clock: 4 MB of float32, a few ms of work. */
const CHUNK_VALUES = 1 << 20;

/** Index of the first non-finite value of d in [from, to), or -1. */
function firstNonFinite(d: FloatArray, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(d[i]!)) return i;
  }
  return -1;
}

/** Calls check(from, to) over [0, length) in chunks, letting the event loop run between them when due. */
async function inChunks(length: number, check: (from: number, to: number) => void): Promise<void> {
  for (let from = 0; from < length; from += CHUNK_VALUES) {
    check(from, Math.min(length, from + CHUNK_VALUES));
    if (from + CHUNK_VALUES < length) await yieldIfDue();
  }
}

/**
 * requireFinite (lib/matrix.ts) in chunks, with its message: a RangeError
 * naming the row and column of the first NaN/±Infinity in m. m must be private
 * to the caller (nothing else may change it while the check yields).
 */
export async function requireFiniteInChunks(m: Matrix, name: string): Promise<void> {
  await inChunks(m.data.length, (from, to) => {
    const i = firstNonFinite(m.data, from, to);
    if (i < 0) return;
    const r = Math.floor(i / m.cols);
    throw new ArgumentRangeError(`Expected finite values in ${name} but received ${m.data[i]} at row ${r}, column ${i - r * m.cols}`);
  });
}

/**
 * The same for a dense target (class indices are integers, always finite),
 * with the loss's range (lib/target-checks.ts): names the first bad index.
 */
export async function requireFiniteTargetInChunks(t: Target, name: string, loss: LossName | 'custom'): Promise<void> {
  if (t instanceof Int32Array) return;
  await inChunks(t.length, (from, to) => {
    const i = firstBadTarget(t, loss, from, to);
    if (i >= 0) throw targetError(t, i, name, loss);
  });
}
