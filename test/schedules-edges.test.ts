// Schedules at their edges against torch.optim.lr_scheduler (PyTorch 1.13;
// test/fixtures/schedules_edges_torch.py): long runs past the end, step sizes
// of 1, γ > 1, ηmin above the base rate, one-cycle with tiny totals, and
// reduce-on-plateau with patience 0, cooldown, minLr, threshold 0, negative
// metrics and NaN epochs. schedules.test.ts covers the ordinary spans.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optim, schedules } from '../lib';

interface Case { schedule: keyof typeof FACTORIES; options: Record<string, number | string>; lr: number; lrs: number[]; metrics?: (number | string)[] }
const FIXTURE = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'schedules_edges_torch.json'), 'utf8')) as { cases: Case[] };

const FACTORIES = {
  step: schedules.step, exponential: schedules.exponential, cosine: schedules.cosine, linearWarmup: schedules.linearWarmup,
  oneCycle: schedules.oneCycle, reduceOnPlateau: schedules.reduceOnPlateau,
} as const;

describe('schedules at the edges match torch.optim.lr_scheduler', () => {
  for (const c of FIXTURE.cases) {
    it(`${c.schedule} ${JSON.stringify(c.options)} over ${c.lrs.length} steps`, () => {
      const opt = new optim.SGD({ lr: c.lr });
      const s = (FACTORIES[c.schedule] as (o: never, opt: optim.SGD) => schedules.Schedule)(c.options as never, opt);
      const seen: number[] = [];
      for (let i = 0; i < c.lrs.length; i++) {
        seen.push(opt.lr);
        if (c.metrics) (s as schedules.ReduceOnPlateau).step(Number(c.metrics[i]));
        else s.step();
      }
      // Relative 1e-12: torch steps most of these recursively, fastmlp in closed form.
      seen.forEach((v, i) => expect(Math.abs(v - c.lrs[i]!), `step ${i}: ${v} vs ${c.lrs[i]}`)
        .toBeLessThanOrEqual(1e-12 * Math.abs(c.lrs[i]!)));
    });
  }
});
