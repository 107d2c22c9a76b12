// PReLU for the pure-TypeScript engine (native/core/prelu.h; He et al. 2015,
// torch.nn.PReLU): y = x for x > 0, a·x otherwise, with one learnable slope per
// layer (P = 1) or per feature (P = C).
//   dL/dx = dy for x > 0, a·dy otherwise;  dL/da = Σ over x ≤ 0 of dy·x.

import type { FloatArray } from '../../engine';

/** x, y (B,C); slope (P). */
export function preluForward(y: FloatArray, x: FloatArray, slope: FloatArray, B: number, C: number, P: number): void {
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const v = x[b * C + c];
      y[b * C + c] = v > 0 ? v : slope[P === 1 ? 0 : c] * v;
    }
  }
}

/** Accumulates dslope (P); writes dx (B,C) when given. */
export function preluBackward(dx: FloatArray | null, dslope: FloatArray, dy: FloatArray, x: FloatArray,
                              slope: FloatArray, B: number, C: number, P: number): void {
  const f32 = dslope instanceof Float32Array;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const k = P === 1 ? 0 : c;
      const v = x[b * C + c];
      const g = dy[b * C + c];
      if (v > 0) {
        if (dx !== null) dx[b * C + c] = g;
      } else {
        dslope[k] += f32 ? Math.fround(g * v) : g * v;
        if (dx !== null) dx[b * C + c] = slope[k] * g;
      }
    }
  }
}
