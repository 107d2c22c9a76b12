// Inverted dropout for the pure-TypeScript engine (native/core/dropout.h;
// Srivastava et al. 2014, torch.nn.Dropout): training keeps each element with
// probability 1 − p and scales it by 1/(1 − p); eval mode is the identity.
// One draw of lib/rng.ts's xoshiro128** per element in row-major order, dropped
// when uniform() < p — the native core draws the same stream from the same seed.

import type { FloatArray } from '../../engine';
import type { Rng } from '../../rng';

/** y (n) = x ⊙ mask, with a freshly drawn mask (n) of 0 or 1/(1 − p). */
export function dropoutForward(y: FloatArray, x: FloatArray, mask: FloatArray, n: number, p: number, rng: Rng): void {
  const scale = 1 / (1 - p);
  for (let i = 0; i < n; i++) {
    mask[i] = rng.uniform() < p ? 0 : scale;
    y[i] = x[i] * mask[i];
  }
}

/** dx (n) = dy ⊙ mask. */
export function dropoutBackward(dx: FloatArray, dy: FloatArray, mask: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
}
