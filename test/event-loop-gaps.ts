// How tests see the event loop while work goes on, in a form that a loaded
// machine does not break. The tests used to bound the longest gap between two
// ticks of a timer; on a shared 2-core CI machine one descheduling of the
// process or one GC pause makes any single gap long, whatever the code does,
// so those bounds failed now and then. What a test wants to know is whether
// the code holds the event loop for most of its work or lets it turn often:
// halfTimeGap answers that and does not move with one pause.

/** Timer ticks recorded while some work ran. */
export interface TimerGaps {
  /** Ticks of the timer during the work. */
  ticks: number;
  /** Milliseconds between the start, each tick and the end (ticks + 1 values, summing to elapsed). */
  gaps: number[];
  /** The longest of gaps. */
  worst: number;
  /** Milliseconds the work took. */
  elapsed: number;
}

/** Runs run() while an interval timer of periodMs records its ticks. */
export async function timerGaps(periodMs: number, run: () => Promise<unknown>): Promise<TimerGaps> {
  const started = performance.now();
  const stamps: number[] = [started];
  const timer = setInterval(() => { stamps.push(performance.now()); }, periodMs);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  stamps.push(performance.now());
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
  return { ticks: stamps.length - 2, gaps, worst: Math.max(...gaps), elapsed: stamps[stamps.length - 1]! - started };
}

/**
 * The gap length below which half of the time ran: gaps sorted by length, the
 * one at which their running sum reaches half the total (a median weighted by
 * time). One long pause among many short gaps does not move it, unless that
 * pause is itself half of all the time; work held in one long turn moves it to
 * that turn's length, even with short turns around it.
 */
export function halfTimeGap(gaps: readonly number[]): number {
  const sorted = [...gaps].sort((a, b) => a - b);
  const total = sorted.reduce((sum, g) => sum + g, 0);
  let sum = 0;
  for (const g of sorted) {
    sum += g;
    if (sum >= total / 2) return g;
  }
  return sorted[sorted.length - 1] ?? 0;
}
