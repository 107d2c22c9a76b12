// Steady-state memory: one `await model.fit` of `steps` optimizer steps
// (784-512-256-10, batch 32, Adam, float32). RSS is sampled at the end of every
// epoch; the growth is from the end of the first tenth of the run (buffers
// sized, allocator warm) to the end, and rssMB is RSS at the end of each tenth,
// so a slow climb shows apart from a one-off step. DESIGN.md: no allocation per
// step, RSS flat over 10⁵ steps. Args: { engine, steps }.
import { Dense, Matrix, Sequential } from 'fastmlp';
import { CLASSES, INPUTS, trainingData } from './data.mjs';
import { runCase } from './harness.mjs';

const BATCH = 32;
const BATCHES_PER_EPOCH = 100;

runCase(async ({ engine, steps = 20000 }) => {
  const data = trainingData(BATCH * BATCHES_PER_EPOCH);
  const x = new Matrix(data.rows, INPUTS, data.x);
  const model = new Sequential([
    new Dense(INPUTS, 512, { activation: 'relu' }), new Dense(512, 256, { activation: 'relu' }), new Dense(256, CLASSES),
  ], { engine, seed: 1 });
  model.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  const epochs = Math.ceil(steps / BATCHES_PER_EPOCH);
  const warm = Math.max(1, Math.floor(epochs / 10));
  const rss = [];
  const history = await model.fit(x, data.y, {
    epochs, batchSize: BATCH,
    onEpochEnd: () => { rss.push(process.memoryUsage().rss); },
  });
  return {
    net: '784-512-256-10', batchSize: BATCH, steps: epochs * BATCHES_PER_EPOCH,
    growthBytes: rss.at(-1) - rss[warm - 1],
    maxGrowthBytes: Math.max(...rss.slice(warm)) - rss[warm - 1],
    rssStartBytes: rss[warm - 1],
    rssMB: Array.from({ length: 10 }, (_, i) => +(rss[Math.max(0, Math.round(((i + 1) * rss.length) / 10) - 1)] / 2 ** 20).toFixed(1)),
    loss: history.history.loss.at(-1),
  };
});
