// One MLP training case: 784-512-256-10 (ReLU), cross-entropy, Adam, float32,
// trained with model.fit exactly as a user would. One warm-up epoch is not
// timed; it also sizes the timed run so that it lasts about minTime seconds.
// Args: { engine, threads, rows, batchSize, minTime, maxEpochs }.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Dense, Matrix, Sequential, backend, optim, setThreads } from 'fastmlp';
import { CLASSES, INPUTS, trainingData } from './data.mjs';
import { median, now, runCase } from './harness.mjs';

runCase(async ({ engine, threads, rows, batchSize = 128, minTime = 2, maxEpochs = 20 }) => {
  setThreads(threads);
  const data = trainingData(rows);
  const x = new Matrix(data.rows, INPUTS, data.x);
  const model = new Sequential([
    new Dense(INPUTS, 512, { activation: 'relu' }),
    new Dense(512, 256, { activation: 'relu' }),
    new Dense(256, CLASSES),
  ], { engine, seed: 1 });
  model.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }) });
  const fitOptions = { batchSize, shuffle: true };

  const w0 = now();
  await model.fit(x, data.y, { ...fitOptions, epochs: 1 });
  const warmupSec = now() - w0;
  const epochs = Math.max(1, Math.min(maxEpochs, Math.ceil(minTime / warmupSec)));

  // The event loop's delay while fit runs: the native engine trains on a worker
  // thread, so the main thread should stay free (DESIGN.md: p99 < 20 ms).
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const ends = [];
  delay.enable();
  const t0 = now();
  const history = await model.fit(x, data.y, { ...fitOptions, epochs, onEpochEnd: () => { ends.push(now()); } });
  const total = now() - t0;
  // One more turn of the loop: a stretch that blocked it until fit returned
  // is only recorded when the delay monitor's timer next fires.
  await new Promise((resolve) => setTimeout(resolve, 20));
  delay.disable();

  if (ends.length !== epochs) throw new Error(`onEpochEnd ran ${ends.length} times in ${epochs} epochs`);
  // The first interval also holds fit's private copy of x (as every user's fit does).
  const epochSec = ends.map((t, i) => t - (i === 0 ? t0 : ends[i - 1]));
  return {
    samplesPerSec: data.rows / median(epochSec),
    samplesPerSecMean: (data.rows * epochs) / total,
    epochs,
    rows: data.rows,
    dataset: data.source,
    warmupSec,
    loss: history.history.loss.at(-1),
    eventLoopP99Ms: delay.percentile(99) / 1e6,
    eventLoopMaxMs: delay.max / 1e6,
    threadsInUse: backend(engine).threads,   // confirms setThreads took effect
  };
});
