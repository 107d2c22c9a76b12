// The event loop's view of awaited calls, shared by the benches that ask how
// long a call holds it (io-event-loop, predict-async, evaluate-async).
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The middle value (the upper one of an even count). */
export const median = (values) => [...values].sort((p, q) => p - q)[Math.floor(values.length / 2)];

/**
 * Awaits `calls` calls of `call` one after another while
 * perf_hooks.monitorEventLoopDelay (1 ms resolution) watches the loop.
 * `after(result)`, if given, runs after each call outside its timing (a check,
 * or a turn of the loop so that the monitor records a call that held it).
 * Returns the median wall time per call and the loop's p99 and max delay, in ms.
 */
export async function watchCalls(call, { calls = 5, after } = {}) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const times = [];
  h.enable();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const result = await call();
    times.push(performance.now() - t0);
    if (after) await after(result);
  }
  h.disable();
  return { msPerCall: median(times), p99ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
}

/** Milliseconds until call() returns its promise (the main thread's synchronous part); then awaits it. */
export async function syncPart(call) {
  const t0 = performance.now();
  const pending = call();
  const ms = performance.now() - t0;
  await pending;
  return ms;
}
