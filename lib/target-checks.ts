// The one check of target values (and of bce's probabilities) that every
// public path runs before an engine sees them: trainStep, evaluate, fit (in
// memory, in chunks, streamed) and losses.create(...).forward/backward.
// Targets must be finite (a NaN target gives a NaN loss, or NaN weights after
// a step), and some losses take only a range of values (bce: probabilities;
// hinge: ±1 labels; kl-div: probabilities ≥ 0). The engines re-check the
// ranges (lib/engines/js/losses-elementwise.ts uses the table below;
// native/core/losses_elementwise.cc words its messages alike), but a message
// from there names the engine's 'target', not the caller's argument.
import type { FloatArray, LossName, Target } from './engine';
import { span, type NonFiniteTest } from './finite-scan';
import { ArgumentRangeError } from './validate';

export interface ValueRange {
  /** What the loss expects, for messages: 'targets in [0, 1]'. */
  readonly what: string;
  /** False for a value outside the range (NaN included). */
  readonly ok: (v: number) => boolean;
}

const PROBABILITY: ValueRange = { what: 'targets in [0, 1]', ok: (v) => v >= 0 && v <= 1 };
const SIGN_LABEL: ValueRange = { what: 'labels -1 or 1', ok: (v) => v === 1 || v === -1 };

/** The target values each element-wise loss accepts (SPEC.md §3; PyTorch's documented domains). */
export const TARGET_RANGES: Partial<Record<LossName, ValueRange>> = {
  'bce': PROBABILITY,
  'bce-with-logits': PROBABILITY,
  'focal': PROBABILITY,
  'hinge': SIGN_LABEL,
  'squared-hinge': SIGN_LABEL,
  'kl-div': { what: 'probabilities (>= 0)', ok: (v) => v >= 0 },
};

/**
 * bce's predictions are probabilities. NaN passes: a diverged network then
 * reports a NaN loss (which training refuses) rather than a range error.
 */
export const BCE_PRED_RANGE: ValueRange = { what: 'probabilities in [0, 1]', ok: (v) => !(v < 0 || v > 1) };

function rangeOf(loss: LossName | 'custom'): ValueRange | null {
  return loss === 'custom' ? null : TARGET_RANGES[loss] ?? null;
}

/**
 * Index of the first value of t in [from, to) that is not finite (when
 * `finite`) or outside the loss's target range, or -1.
 */
export function firstBadTarget(t: FloatArray, loss: LossName | 'custom', from: number, to: number, finite = true): number {
  const range = rangeOf(loss);
  if (range === null) {
    if (!finite) return -1;
    for (let i = from; i < to; i++) if (!Number.isFinite(t[i]!)) return i;
    return -1;
  }
  const ok = range.ok;
  for (let i = from; i < to; i++) {
    const v = t[i]!;
    if (!ok(v) || (finite && !Number.isFinite(v))) return i;
  }
  return -1;
}

/**
 * firstBadTarget (finite values required) with a fast first look: a loss with
 * no target range asks only for finite values, so anyNonFinite answers for all
 * of [from, to) at once and the walk that finds the index runs only when it
 * says yes. A loss with a range still walks every value (the range is the check).
 */
export function firstBadTargetFast(t: FloatArray, loss: LossName | 'custom', from: number, to: number,
                                   anyNonFinite: NonFiniteTest): number {
  if (rangeOf(loss) === null && !anyNonFinite(span(t, from, to))) return -1;
  return firstBadTarget(t, loss, from, to);
}

/** The RangeError for t[i], which firstBadTarget found: not finite, or out of the loss's range. */
export function targetError(t: FloatArray, i: number, name: string, loss: LossName | 'custom', finite = true): RangeError {
  const v = t[i]!;
  if (finite && !Number.isFinite(v)) return new ArgumentRangeError(`Expected finite values in ${name} but received ${v} at index ${i}`);
  return new ArgumentRangeError(`Expected ${rangeOf(loss)!.what} for ${name} of loss '${loss}' but received ${v} at index ${i}`);
}

/**
 * Throws a RangeError naming `name` and the index of the first target value
 * that is not finite or not in the loss's range. Class indices (an Int32Array,
 * already checked to be in [0, classes)) pass. anyNonFinite: the model's
 * engine's test (Engine.anyNonFinite).
 */
export function requireValidTarget(t: Target, name: string, loss: LossName | 'custom',
                                   anyNonFinite: NonFiniteTest): void {
  if (t instanceof Int32Array) return;
  const i = firstBadTargetFast(t, loss, 0, t.length, anyNonFinite);
  if (i >= 0) throw targetError(t, i, name, loss);
}

/**
 * For losses.create(...).forward/backward: the loss's ranges only (a NaN
 * target of mse there gives NaN, as in PyTorch): bce's pred and the target.
 */
export function requireLossDomain(loss: LossName, pred: FloatArray, predName: string, t: Target, targetName: string): void {
  if (loss === 'bce') {
    for (let i = 0; i < pred.length; i++) {
      if (!BCE_PRED_RANGE.ok(pred[i]!)) {
        throw new ArgumentRangeError(`Expected ${BCE_PRED_RANGE.what} for ${predName} of loss 'bce' but received ${pred[i]} at index ${i}`);
      }
    }
  }
  if (t instanceof Int32Array) return;
  const i = firstBadTarget(t, loss, 0, t.length, false);
  if (i >= 0) throw targetError(t, i, targetName, loss, false);
}
