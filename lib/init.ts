// Weight initialisers (SPEC.md §5). Run in TypeScript for both engines, so the
// same seed gives bit-identical weights whichever engine trains.
//   xavier-uniform U(±√(6/(fan_in+fan_out))), xavier-normal N(0, 2/(fan_in+fan_out))
//   (Glorot & Bengio 2010); he-normal N(0, 2/fan_in), he-uniform U(±√(6/fan_in))
//   (He et al. 2015); lecun-normal N(0, 1/fan_in), lecun-uniform U(±√(3/fan_in)).
import type { FloatArray } from './engine';
import type { Rng } from './rng';

export const WEIGHT_INITS = ['he-normal', 'he-uniform', 'xavier-normal', 'xavier-uniform',
  'lecun-normal', 'lecun-uniform', 'zeros'] as const;
export type WeightInit = (typeof WEIGHT_INITS)[number];

/** Fills a weight of fanOut × fanIn values. */
export function initWeight(kind: WeightInit, out: FloatArray, fanIn: number, fanOut: number, rng: Rng): void {
  const n = out.length;
  const normal = (std: number) => { for (let i = 0; i < n; i++) out[i] = std * rng.normal(); };
  const uniform = (bound: number) => { for (let i = 0; i < n; i++) out[i] = bound * (2 * rng.uniform() - 1); };
  switch (kind) {
    case 'he-normal': return normal(Math.sqrt(2 / fanIn));
    case 'he-uniform': return uniform(Math.sqrt(6 / fanIn));
    case 'xavier-normal': return normal(Math.sqrt(2 / (fanIn + fanOut)));
    case 'xavier-uniform': return uniform(Math.sqrt(6 / (fanIn + fanOut)));
    case 'lecun-normal': return normal(Math.sqrt(1 / fanIn));
    case 'lecun-uniform': return uniform(Math.sqrt(3 / fanIn));
    case 'zeros': out.fill(0); return;
  }
}
