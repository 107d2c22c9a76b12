// The measures the event-loop tests rely on (test/event-loop-gaps.ts): a
// median weighted by time that one pause does not move and one long turn does.
import { describe, expect, it } from 'vitest';
import { halfTimeGap, timerGaps } from './event-loop-gaps';

describe('halfTimeGap', () => {
  it('is the short turn when one pause interrupts many short turns', () => {
    expect(halfTimeGap([10, 12, 11, 10, 300, 12, 11, 10, 12, 10, 11, 12, 10, 11, 12, 10, 11, 12, 10, 11, 12, 10, 11, 12, 10, 11, 12, 10, 11, 12])).toBe(12);
  });

  it('is the long turn when work holds the loop between short turns', () => {
    expect(halfTimeGap([1, 2, 250, 1, 2])).toBe(250);
  });

  it('is the middle of equal turns, and 0 for no time at all', () => {
    expect(halfTimeGap([20, 20, 20])).toBe(20);
    expect(halfTimeGap([])).toBe(0);
    expect(halfTimeGap([0, 0])).toBe(0);
  });
});

describe('timerGaps', () => {
  it('gaps sum to the elapsed time; a loop held 120 ms shows as one gap of at least that', async () => {
    const r = await timerGaps(2, async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const until = performance.now() + 120;
      while (performance.now() < until) { /* holds the event loop */ }
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    expect(r.gaps.length).toBe(r.ticks + 1);
    expect(r.gaps.reduce((a, b) => a + b, 0)).toBeCloseTo(r.elapsed, 6);
    expect(r.worst).toBeGreaterThanOrEqual(120);
    expect(r.worst).toBe(Math.max(...r.gaps));
  });
});
