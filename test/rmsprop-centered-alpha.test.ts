// Centered RMSprop with alpha = 0 (an audit against PyTorch 1.13): the
// centered variance estimate s − a² is g² − g² = 0 at α = 0, so every step
// divides g by ε; torch 1.13 moves a weight of 1 to −2e6 in one step (and
// to NaN where the difference rounds below 0). Refused with a RangeError
// naming alpha, in the public optimizer and in both engines' spec checks.
import { describe, expect, it } from 'vitest';
import { optim } from '../lib';
import type { LayerSpec } from '../lib/engine';
import { ENGINES, engine } from './helpers';

describe('centered RMSprop with alpha = 0 is refused (torch divides g by ε: a weight of 1 goes to −2e6)', () => {
  it('the public optimizer', () => {
    expect(() => new optim.RMSprop({ centered: true, alpha: 0 })).toThrow(RangeError);
    expect(() => new optim.RMSprop({ centered: true, alpha: 0 })).toThrow(/alpha/);
    expect(new optim.RMSprop({ alpha: 0 }).alpha).toBe(0);  // uncentered, α = 0 is sign-like and fine
    expect(new optim.RMSprop({ centered: true, alpha: 0.5 }).centered).toBe(true);
  });

  it.each(ENGINES)('the engine spec (%s engine) re-checks it', (engineName) => {
    const layers: LayerSpec[] = [{ kind: 'dense', inFeatures: 3, outFeatures: 2 }];
    const plan = engine(engineName).createPlan({ dtype: 'float64', layers, maxBatch: 4 });
    const spec = { ...new optim.RMSprop({ centered: true }).toSpec(), alpha: 0 };
    expect(() => plan.setOptimizer(spec)).toThrow(RangeError);
    expect(() => plan.setOptimizer(spec)).toThrow(/alpha/);
    plan.setOptimizer({ ...spec, alpha: 0.5 });
    plan.dispose();
  });
});
