// Memory behaviour over long runs, in fresh processes so nothing else in the
// test run moves the figures: steady-state training allocates nothing per step
// (both engines), and dropped native models give their memory back.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINES } from './helpers';

function runFixture(file: string, args: string[]): Record<string, number> {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', file), ...args], {
    cwd: path.resolve(__dirname, '..'), encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const MB = 1024 * 1024;

describe.each(ENGINES)('memory (%s engine)', (engine) => {
  it('20,000 training steps leave the resident set flat (< 4 MB growth)', () => {
    const r = runFixture('soak.cjs', [engine, '20000']);
    expect(r.steps).toBe(20000);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.growthBytes).toBeLessThan(4 * MB);
  });
});

describe('native memory of dropped models', () => {
  it('is freed: 40 models of ~67 MB each never hold more than a few at once', () => {
    const r = runFixture('gc-models.cjs', []);
    expect(r.freed).toBeGreaterThanOrEqual(r.created! - 2);
    // Kept alive, 40 models would hold ~2.7 GB; collected, a handful at a time.
    expect(r.peakBytes! - r.startBytes!).toBeLessThan(800 * MB);
    expect(r.endBytes! - r.startBytes!).toBeLessThan(300 * MB);
  });
});
