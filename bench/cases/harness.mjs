// Shared by the Node case scripts: the one-JSON-line protocol with bench/run.mjs
// and the timing loops. Each case runs in a fresh process (STYLE.md §13), so
// nothing here keeps state between cases.

import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Seconds since an arbitrary origin, from the monotonic high-resolution clock. */
export function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

/**
 * Runs a case: parses the JSON argument, awaits `body(args)` and prints its
 * result as one JSON line. A failure prints { error } instead and exits 1, so
 * the runner can show the reason in its table rather than a stack trace.
 */
export async function runCase(body) {
  try {
    const args = JSON.parse(process.argv[2] ?? '{}');
    const result = await body(args);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
    process.exitCode = 1;
  }
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Times fn: a warm-up (lets V8 tier up the JS kernels and the native thread
 * pool spin up), then samples until minTime seconds have been spent timing.
 * A sample repeats fn enough times to last about SAMPLE_SEC, because a single
 * small product (tens of µs) is too close to the clock's and the call's
 * overhead to time alone. Returns seconds per call for each sample.
 */
const SAMPLE_SEC = 0.01;
const MIN_SAMPLES = 3;

export function measure(fn, minTime) {
  const warmUntil = now() + Math.max(0.05, minTime / 5);
  let calls = 0;
  const w0 = now();
  do {
    fn();
    calls++;
  } while (calls < 2 || now() < warmUntil);
  const perCall = (now() - w0) / calls;
  const reps = Math.max(1, Math.round(SAMPLE_SEC / perCall));

  const samples = [];
  let spent = 0;
  while (spent < minTime || samples.length < MIN_SAMPLES) {
    const t0 = now();
    for (let r = 0; r < reps; r++) fn();
    const dt = now() - t0;
    samples.push(dt / reps);
    spent += dt;
  }
  return { samples, reps };
}

/** Deterministic values in [lo, hi): a small LCG, so runs see the same data. */
export function fillUniform(array, seed, lo = 0, hi = 1) {
  let s = seed >>> 0 || 1;
  const scale = (hi - lo) / 4294967296;
  for (let i = 0; i < array.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;   // Numerical Recipes' LCG constants
    array[i] = lo + s * scale;
  }
  return array;
}

/**
 * Times a training run of `epochs` epochs over `rows` rows. `fit(onEpochEnd)`
 * starts the library's own fit with that per-epoch hook and resolves with its
 * history ({ history: { loss: [...] } }, as fastmlp and tfjs both return).
 * Reports samples/s from the median epoch, and the event loop's delay while fit
 * ran (DESIGN.md: p99 < 20 ms) — a library that computes on the main thread
 * shows here how long it blocks the loop at a time.
 */
export async function timeFit(fit, { rows, epochs }) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const ends = [];
  delay.enable();
  // The monitor records a delay between two of its timer's ticks, and its first
  // tick only starts the count: a library that blocks the loop from the start
  // of fit (tfjs's cpu backend, for its whole first batch) would go unrecorded.
  // One turn of the loop first lets that tick happen (measured: a 500 ms block
  // right after enable() showed as a 5 ms max, after a 20 ms wait as 502 ms).
  await new Promise((resolve) => setTimeout(resolve, 20));
  const t0 = now();
  const history = await fit(() => { ends.push(now()); });
  const total = now() - t0;
  // One more turn of the loop: a stretch that blocked it until fit returned
  // is only recorded when the delay monitor's timer next fires.
  await new Promise((resolve) => setTimeout(resolve, 20));
  delay.disable();

  if (ends.length !== epochs) throw new Error(`onEpochEnd ran ${ends.length} times in ${epochs} epochs`);
  // The first interval also holds the library's set-up of fit (fastmlp's private copy of x).
  const epochSec = ends.map((t, i) => t - (i === 0 ? t0 : ends[i - 1]));
  return {
    samplesPerSec: rows / median(epochSec),
    samplesPerSecMean: (rows * epochs) / total,
    epochs,
    rows,
    loss: history.history.loss.at(-1),
    eventLoopP99Ms: delay.percentile(99) / 1e6,
    eventLoopMaxMs: delay.max / 1e6,
  };
}

/**
 * A fastmlp model's timed training (cases/mlp.mjs, cases/cnn.mjs): one untimed
 * warm-up epoch of fit, which also sizes the timed run to about minTime
 * seconds (at least minEpochs, at most maxEpochs epochs), then timeFit.
 */
export async function timeFastmlpFit(model, x, y, { batchSize, minTime, maxEpochs, minEpochs = 1 }) {
  const fitOptions = { batchSize, shuffle: true };
  const w0 = now();
  await model.fit(x, y, { ...fitOptions, epochs: 1 });
  const warmupSec = now() - w0;
  const epochs = Math.max(minEpochs, Math.min(maxEpochs, Math.ceil(minTime / warmupSec)));
  const timing = await timeFit((onEpochEnd) => model.fit(x, y, { ...fitOptions, epochs, onEpochEnd }), { rows: x.rows, epochs });
  return { ...timing, warmupSec };
}
