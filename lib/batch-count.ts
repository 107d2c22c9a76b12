// BatchNorm1d's num_batches_tracked in a plan's flat buffers, which hold the
// model's float type. One float32 slot counts exactly only to 2^24 (16.7 M
// batches): past it += 1 rounds back down, the count stops, and momentum: null
// (torch's cumulative average, factor 1/num_batches_tracked) uses a wrong
// factor. So the count is kept in three slots, base-2^24 digits
// [low, middle, high], each an integer below 2^24 that float32 holds exactly:
// count = (high·2^24 + middle)·2^24 + low, exact in a double to 2^53 and
// beyond. Both engines increment it the same way (native/core/network_passes.cc
// counts likewise), and every copy of the buffers (snapshots, the restore
// after a bad batch, copyStateFrom) carries it exactly, as any other buffer.
// Public names, files and torch see one number: getWeights gives it as a
// Float64Array, model files store it as F64 (torch stores int64; float64 is
// exact to 2^53 and torch's load_state_dict copies it into its int64 buffer).
import type { FloatArray } from './engine';

/** Slots a count takes in the buffers. */
export const COUNT_SLOTS = 3;
/** The base of the digits: the first integer float32 cannot step past by 1. */
const BASE = 2 ** 24;

/** The count whose digits start at buffers[offset]. */
export function readCount(buffers: ArrayLike<number>, offset: number): number {
  return (buffers[offset + 2]! * BASE + buffers[offset + 1]!) * BASE + buffers[offset]!;
}

/** Writes count (a safe integer ≥ 0, checked by the caller) as digits at buffers[offset]. */
export function writeCount(buffers: FloatArray, offset: number, count: number): void {
  const low = count % BASE;
  const rest = (count - low) / BASE;
  const middle = rest % BASE;
  buffers[offset] = low;
  buffers[offset + 1] = middle;
  buffers[offset + 2] = (rest - middle) / BASE;
}

/** Adds one batch to the count at buffers[offset], carrying into the next digit at 2^24. */
export function incrementCount(buffers: FloatArray, offset: number): void {
  let i = offset;
  buffers[i] += 1;
  while (buffers[i] === BASE && i < offset + 2) {
    buffers[i] = 0;
    buffers[++i] += 1;
  }
}
