// Weight penalties of dense layers for the pure-TypeScript engine.

import type { FloatArray } from '../../engine';

/**
 * L1/L2 penalty of a dense weight (Keras kernel_regularizer naming; the same as
 * native/core/dense.h): dweight += l1·sign(w) + 2·l2·w (sign(0) = 0, as
 * torch.sign), and returns the value l1·Σ|w| + l2·Σw², in one pass over the
 * weights. Biases are not penalised, as in Keras.
 */
export function densePenaltyBackward(dweight: FloatArray, weight: FloatArray, l1: number, l2: number): number {
  let a = 0;
  let q = 0;
  for (let i = 0; i < weight.length; i++) {
    const w = weight[i];
    const sign = w > 0 ? 1 : (w < 0 ? -1 : 0);
    dweight[i] += l1 * sign + 2 * l2 * w;
    a += Math.abs(w);
    q += w * w;
  }
  return l1 * a + l2 * q;
}
