// `fastmlp bench`: the native and the JavaScript engine side by side on one
// MLP and random data — training and predict throughput in samples/s, each
// timed for about --seconds after one warm-up epoch. bench/ holds the full
// benchmarks against PyTorch and others; this is the quick look.
import { backend, type EngineChoice } from '../backend';
import { Dense } from '../layers';
import { Matrix } from '../matrix';
import { Sequential } from '../sequential';
import { choiceFlag, helpText, intFlag, numberFlag, parseCommand, sizesFlag, type Flags } from './args';

export const BENCH_FLAGS: Flags = {
  inputs: { value: 'N', help: 'input features', default: '784' },
  layers: { value: 'N,N', help: 'hidden layer sizes', default: '256,128' },
  classes: { value: 'N', help: 'output classes', default: '10' },
  rows: { value: 'N', help: 'rows of random data', default: '2048' },
  'batch-size': { value: 'B', help: 'training batch size', default: '128' },
  seconds: { value: 'S', help: 'time per measurement and engine', default: '1' },
  engine: { value: 'E', help: 'both | native | js', default: 'both' },
};

export const BENCH_HELP = helpText('fastmlp bench [options]',
  'Times training (Adam, cross-entropy, ReLU) and predict of one MLP on random data with the\n' +
  'native and the pure-JavaScript engine, and prints samples/s side by side.', BENCH_FLAGS);

interface Result { engine: string; detail: string; train: number; predict: number }

async function measure(engine: EngineChoice, widths: number[], x: Matrix, y: Int32Array, batchSize: number, seconds: number): Promise<Result> {
  const layers = widths.slice(1).map((w, i) => new Dense(widths[i]!, w, i < widths.length - 2 ? { activation: 'relu' } : {}));
  const model = new Sequential(layers, { engine, seed: 1 });
  model.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  await model.fit(x, y, { epochs: 1, batchSize });  // warm-up: plan buffers, caches, JIT
  let rows = 0;
  let t0 = performance.now();
  do {
    await model.fit(x, y, { epochs: 1, batchSize });
    rows += x.rows;
  } while (performance.now() - t0 < seconds * 1000);
  const train = rows / ((performance.now() - t0) / 1000);
  model.predict(x);
  rows = 0;
  t0 = performance.now();
  do {
    model.predict(x);
    rows += x.rows;
  } while (performance.now() - t0 < seconds * 1000);
  const predict = rows / ((performance.now() - t0) / 1000);
  const b = backend(model.engine);
  return { engine: model.engine, detail: `${b.isa}, ${b.threads} thread(s)`, train, predict };
}

export async function bench(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const { values } = parseCommand('bench', argv, BENCH_FLAGS, 0);
  if (values['help']) { out.write(BENCH_HELP); return; }
  const inputs = intFlag(values, 'inputs', 1);
  const hidden = sizesFlag(values, 'layers');
  const classes = intFlag(values, 'classes', 2);
  const rows = intFlag(values, 'rows', 1);
  const batchSize = intFlag(values, 'batch-size', 1);
  const seconds = numberFlag(values, 'seconds', 0, 600, 'a number of seconds in [0, 600]');
  const which = choiceFlag(values, 'engine', ['both', 'native', 'js'] as const);
  const widths = [inputs, ...hidden, classes];

  // Deterministic data (an LCG): the numbers only need to be finite and varied.
  const data = new Float32Array(rows * inputs);
  let s = 12345;
  for (let i = 0; i < data.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; data[i] = s / 2 ** 32 - 0.5; }
  const x = new Matrix(rows, inputs, data);
  const y = Int32Array.from({ length: rows }, (_, i) => i % classes);

  out.write(`MLP ${widths.join('-')}, ${rows} rows, batch ${batchSize}, Adam, float32; ~${seconds} s per measurement\n`);
  const results: Result[] = [];
  for (const engine of which === 'both' ? ['native', 'js'] as const : [which]) {
    results.push(await measure(engine, widths, x, y, batchSize, seconds));
  }
  out.write(`${'engine'.padEnd(28)}${'train samples/s'.padStart(18)}${'predict samples/s'.padStart(20)}\n`);
  for (const r of results) {
    out.write(`${`${r.engine} (${r.detail})`.padEnd(28)}${Math.round(r.train).toString().padStart(18)}${Math.round(r.predict).toString().padStart(20)}\n`);
  }
  if (results.length === 2) {
    out.write(`native / js: ${(results[0]!.train / results[1]!.train).toFixed(1)}× training, ` +
      `${(results[0]!.predict / results[1]!.predict).toFixed(1)}× predict\n`);
  }
}
