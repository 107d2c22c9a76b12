// Checks on an optimizer state that comes from outside the model — a model
// file's OPTIMIZER_TENSOR (lib/io/model-file.ts, through
// Sequential.restoreOptimizerStateSteps) — before any of it reaches the plan.
//
// Why: the file's checksum covers the tensor bytes, but anyone editing a file
// can recompute it. A state holding NaN, or a negative sum of squared
// gradients (the update divides by its square root), used to load without a
// word; the first training step then failed with "the optimizer's update
// overflowed to NaN or infinite ... though its loss, gradients and statistics
// were finite", which points at the learning rate, not at the file. The
// weights of a file get the same treatment already: finite values, batch
// norm's running_var ≥ 0 (lib/param-layout.ts).
import type { FloatArray, OptimizerSpec } from './engine';
import { STEP_BYTES, type Steps } from './steps';
import { ArgumentRangeError } from './validate';

/** A slice of the flat state, [begin, end), named as torch.optim's state_dict names it. */
interface Slice {
  name: string;
  begin: number;
  end: number;
}

/**
 * The slices of the state that accumulate squared gradients, so are ≥ 0 in
 * any state training wrote. Layout (lib/engines/js/optim.ts, native/core/optim.h),
 * n values per slice: SGD [velocity] · Adagrad [sum] · RMSprop [square avg]
 * [grad avg if centered][buffer if momentum] · Adam/AdamW [m][v][max v if amsgrad].
 */
function squareSlices(spec: OptimizerSpec, n: number): Slice[] {
  switch (spec.kind) {
    case 'adagrad':
      return [{ name: 'sum', begin: 0, end: n }];
    case 'rmsprop':
      return [{ name: 'square_avg', begin: 0, end: n }];
    case 'adam':
    case 'adamw':
      return spec.amsgrad === true
        ? [{ name: 'exp_avg_sq', begin: n, end: 2 * n }, { name: 'max_exp_avg_sq', begin: 2 * n, end: 3 * n }]
        : [{ name: 'exp_avg_sq', begin: n, end: 2 * n }];
    default:
      return [];
  }
}

/**
 * Throws a RangeError naming the first value of `state` that is NaN or
 * ±Infinity, or negative in a slice of squared gradients; reads it in steps of
 * STEP_BYTES (lib/steps.ts), so a model load lets the event loop run between them.
 * `paramCount`: the plan's parameters (the length of one slice).
 */
export function* checkOptimizerStateSteps(spec: OptimizerSpec, state: FloatArray, paramCount: number): Steps<void> {
  const squares = squareSlices(spec, paramCount);
  const stepLength = STEP_BYTES / state.BYTES_PER_ELEMENT;
  for (let at = 0; at < state.length; at += stepLength) {
    const end = Math.min(state.length, at + stepLength);
    for (let i = at; i < end; i++) {
      const v = state[i]!;
      if (!Number.isFinite(v)) {
        throw new ArgumentRangeError(`Expected finite values for the optimizer state but received ${v} at index ${i}`);
      }
      if (v < 0) {
        const slice = squares.find((s) => i >= s.begin && i < s.end);
        if (slice !== undefined) {
          throw new ArgumentRangeError(`Expected values ≥ 0 for the optimizer state's ${slice.name} (squared gradients) ` +
            `but received ${v} at index ${i - slice.begin} of it`);
        }
      }
    }
    if (end < state.length) yield;
  }
}
