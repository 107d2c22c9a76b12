// `fastmlp train`: CSV (or the bundled digits) → split → standardise on the
// training rows → fit an MLP → test metrics → model file with the scaling
// folded in (lib/cli/fold.ts) and an SVG of the training curves beside it.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { loadCsv, type CsvData } from '../data/csv';
import { csvBatches } from '../data/csv-stream';
import { StandardScaler } from '../data/preprocess';
import { trainTestSplit, trainValTestSplit } from '../data/split';
import { Dense } from '../layers';
import { Matrix } from '../matrix';
import { confusionMatrix, mae, r2, rmse } from '../metrics';
import { Adagrad, Adam, AdamW, RMSprop, SGD, type Optimizer } from '../optim';
import { Sequential } from '../sequential';
import type { ActivationName } from '../engine';
import { CliError, choiceFlag, helpText, inputFile, intFlag, numberFlag, outputFile, parseCommand, sizesFlag, type Flags, type Parsed } from './args';
import { cliCsvError, delimiterFlag } from './csv-input';
import { foldInputScaling, foldOutputScaling } from './fold';
import { curvesSvg, panelsFromHistory } from './plot';
import { progressCallback } from './progress';
import { classReport, valueReport } from './train-report';
import { trainStreamed } from './train-stream';

/** data/ beside dist/ and lib/: this file is dist/cli/train.js or lib/cli/train.ts. */
export const DIGITS_CSV = join(__dirname, '..', '..', 'data', 'digits.csv.gz');

const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'leaky-relu', 'elu', 'selu', 'softplus', 'gelu', 'silu', 'swish', 'relu6', 'hardtanh', 'logsigmoid', 'identity'] as const;
const OPTIMIZERS = ['adam', 'adamw', 'sgd', 'rmsprop', 'adagrad'] as const;
const CLASS_LOSSES = ['cross-entropy'] as const;
const VALUE_LOSSES = ['mse', 'mae', 'huber'] as const;
const LOSSES = ['auto', ...CLASS_LOSSES, ...VALUE_LOSSES] as const;
export type CliLoss = (typeof LOSSES)[number];
/** A numeric target with at most this many distinct integers counts as classes under --task auto. */
const MAX_AUTO_CLASSES = 20;

export const TRAIN_FLAGS: Flags = {
  target: { value: 'COL', help: 'target column: a header name, else a 0-based index (negative from the end); a name wins: ' +
    "with a column named '2020', --target 2020 is that column (default: the last column)" },
  'target-index': { value: 'N', help: 'target column by position only: 0-based, negative from the end (instead of --target)' },
  task: { value: 'T', help: 'auto | classification | regression; auto: text labels or ≤ 20 distinct integers are classes', default: 'auto' },
  layers: { value: 'N,N', help: 'hidden layer sizes, comma-separated (empty: a linear model)', default: '128,64' },
  activation: { value: 'NAME', help: `hidden activation: ${ACTIVATIONS.join(', ')}`, default: 'relu' },
  epochs: { value: 'N', help: 'training epochs', default: '20' },
  'batch-size': { value: 'B', help: 'rows per optimizer step', default: '32' },
  lr: { value: 'X', help: 'learning rate', default: '0.001' },
  optimizer: { value: 'NAME', help: OPTIMIZERS.join(', '), default: 'adam' },
  loss: { value: 'NAME', help: 'auto (cross-entropy for classes, mse for values), cross-entropy, mse, mae, huber', default: 'auto' },
  'val-split': { value: 'F', help: 'fraction of rows for validation, in [0, 1)', default: '0.1' },
  'test-split': { value: 'F', help: 'fraction of rows for the final test, in [0, 1)', default: '0.2' },
  engine: { value: 'E', help: 'auto | native | js', default: 'auto' },
  seed: { value: 'S', help: 'seed for the split, the initial weights and the shuffling', default: '42' },
  out: { value: 'FILE', help: 'model file to write; the curves go to FILE with .svg', default: 'model.safetensors' },
  'no-header': { help: 'the CSV has no header line (columns are then named by index)' },
  delimiter: { value: 'C', help: "cell separator, e.g. ';' or '\\t' (stored in the model file for predict)", default: ',' },
  stream: { help: 'read the CSV in passes, a batch at a time, never whole (files larger than memory): ' +
    'row-hash split by --seed (not stratified), rows shuffled within 8192-row batches' },
};

export const TRAIN_HELP = helpText('fastmlp train [data.csv] [options]',
  `Trains an MLP on a CSV file (or .csv.gz), or on the bundled 8×8 digits (1797 images, 10 classes)
when no file is given. Rows are split into training, validation and test parts (stratified for
classes); features are standardised with the training part's mean and σ, and that scaling is
folded into the first layer's weights (W' = W/σ, b' = b − W'μ) before saving, so the saved
model takes RAW columns. A regression target is standardised too and unfolded into the last
layer. Class labels and column names are stored in the model file for 'fastmlp predict'.
Prints one line per epoch (a progress bar on a terminal), the test accuracy and confusion
matrix (classes) or MAE/RMSE/R² (values), and writes the loss/metric curves as an SVG.

With --stream the file is never held: one pass computes the training part's mean and σ
(and a first pass learns text labels), each epoch reads the file again, and each row's
part (train, validation, test) follows from a hash of its row number and --seed, so the
parts are the fractions asked for up to sampling noise, without stratification.`, TRAIN_FLAGS);

interface Task {
  kind: 'classification' | 'regression';
  y: Int32Array | Float64Array;
  classNames: string[] | null;
}

/** Decides classification or regression from --task, --loss and the target's values. */
function taskOf(data: CsvData, task: string, loss: string): Task {
  const y = data.y!;
  const wanted = task !== 'auto' ? task
    : (CLASS_LOSSES as readonly string[]).includes(loss) ? 'classification'
    : (VALUE_LOSSES as readonly string[]).includes(loss) ? 'regression'
    : null;
  if (data.classNames) {
    if (wanted === 'regression') throw new CliError(`target '${data.target}' holds text labels such as '${data.classNames[0]}'; regression needs numbers`);
    return { kind: 'classification', y, classNames: data.classNames };
  }
  const values = y as Float64Array;
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  const integers = distinct.every(Number.isInteger);
  const asClasses = wanted === 'classification' || (wanted === null && integers && distinct.length <= MAX_AUTO_CLASSES);
  if (!asClasses) return { kind: 'regression', y: values, classNames: null };
  if (distinct.length < 2) throw new CliError(`target '${data.target}' has a single class (${distinct[0]}); nothing to learn`);
  const index = new Map(distinct.map((v, i) => [v, i]));
  return { kind: 'classification', y: Int32Array.from(values, (v) => index.get(v)!), classNames: distinct.map(String) };
}

function optimizerOf(name: typeof OPTIMIZERS[number], lr: number): Optimizer {
  switch (name) {
    case 'adam': return new Adam({ lr });
    case 'adamw': return new AdamW({ lr });
    case 'sgd': return new SGD({ lr, momentum: 0.9 });
    case 'rmsprop': return new RMSprop({ lr });
    case 'adagrad': return new Adagrad({ lr });
  }
}

/**
 * The target column as --target or --target-index give it. --target is a
 * header name when the CSV has a column of that name — so a year or a code
 * as a column name ('2020') is never taken for a position — else an integer
 * is a 0-based index (negative from the end); --target-index is always a
 * position. The names are read from the file's first records with loadCsv's
 * naming rules (repeated names made distinct, scikit-learn's layout), without
 * reading the rest.
 */
async function targetOf(values: Parsed['values'], header: boolean, path: string, delimiter: string):
    Promise<{ target: string | number; note: string | null }> {
  const text = values['target'];
  const index = values['target-index'];
  if (typeof text === 'string' && index !== undefined) {
    throw new CliError(`Expected --target or --target-index but received both (--target ${text}, --target-index ${String(index)})`);
  }
  if (index !== undefined) return { target: intFlag(values, 'target-index', -Number.MAX_SAFE_INTEGER), note: null };
  if (typeof text !== 'string') return { target: -1, note: null };  // the last column
  const integer = /^[+-]?\d+$/.test(text);
  if (!header) {
    if (!integer) throw new CliError(`Expected a column index for --target (the CSV has no header) but received '${text}'`);
    return { target: Number(text), note: null };
  }
  if (!integer) return { target: text, note: null };
  const columns = await csvBatches(path, { header, delimiter }).info().then((i) => i.columns, () => null);
  if (columns === null || !columns.includes(text)) return { target: Number(text), note: null };
  // Both readings exist and differ: say which one was taken, and how to get the other.
  const k = Number(text);
  const at = k < 0 ? columns.length + k : k;
  const other = at >= 0 && at < columns.length && columns[at] !== text ? columns[at]! : null;
  return { target: text, note: other === null ? null
    : `note: --target ${text} is the column named '${text}' (index ${columns.indexOf(text)}); --target-index ${text} would be '${other}'\n` };
}

interface Parts {
  xTrain: Matrix; yTrain: Int32Array | Float64Array;
  xVal: Matrix | null; yVal: Int32Array | Float64Array | null;
  xTest: Matrix | null; yTest: Int32Array | Float64Array | null;
}

function split(x: Matrix, y: Int32Array | Float64Array, val: number, test: number, seed: number, stratify: boolean): Parts {
  try {
    if (val > 0 && test > 0) {
      const s = trainValTestSplit(x, y, { valSize: val, testSize: test, seed, stratify });
      return { ...s, xVal: s.xVal, yVal: s.yVal };
    }
    if (val > 0 || test > 0) {
      const s = trainTestSplit(x, y, { testSize: val + test, seed, stratify });
      return val > 0
        ? { xTrain: s.xTrain, yTrain: s.yTrain, xVal: s.xTest, yVal: s.yTest, xTest: null, yTest: null }
        : { xTrain: s.xTrain, yTrain: s.yTrain, xVal: null, yVal: null, xTest: s.xTest, yTest: s.yTest };
    }
  } catch (e) {
    throw new CliError(`cannot split ${x.rows} rows with --val-split ${val} and --test-split ${test}: ${(e as Error).message}`, 1);
  }
  return { xTrain: x, yTrain: y, xVal: null, yVal: null, xTest: null, yTest: null };
}

function standardiseTarget(y: Float64Array, mean: number, scale: number): Matrix {
  return new Matrix(y.length, 1, Float32Array.from(y, (v) => (v - mean) / scale));
}

export async function train(argv: string[], out: NodeJS.WritableStream & { isTTY?: boolean }): Promise<void> {
  const { values, positionals } = parseCommand('train', argv, TRAIN_FLAGS, 1);
  if (values['help']) { out.write(TRAIN_HELP); return; }
  const epochs = intFlag(values, 'epochs', 1);
  const batchSize = intFlag(values, 'batch-size', 1);
  const lr = numberFlag(values, 'lr', Number.MIN_VALUE, Infinity, 'a learning rate > 0');
  const valSplit = numberFlag(values, 'val-split', 0, 0.99, 'a fraction in [0, 1)');
  const testSplit = numberFlag(values, 'test-split', 0, 0.99, 'a fraction in [0, 1)');
  if (valSplit + testSplit >= 1) throw new CliError(`Expected --val-split + --test-split below 1 but received ${valSplit + testSplit}`);
  const seed = intFlag(values, 'seed', 0, 2 ** 32 - 1);
  const hidden = sizesFlag(values, 'layers');
  const activation = choiceFlag(values, 'activation', ACTIVATIONS);
  const optimizer = choiceFlag(values, 'optimizer', OPTIMIZERS);
  const loss = choiceFlag(values, 'loss', LOSSES);
  const task = choiceFlag(values, 'task', ['auto', 'classification', 'regression'] as const);
  const engine = choiceFlag(values, 'engine', ['auto', 'native', 'js'] as const);
  const outPath = outputFile(values['out'] as string, '--out');
  // 'm.safetensors' → 'm.svg'; never the model file itself ('--out m.svg' → 'm.svg.svg').
  const svgBase = outPath.replace(/\.[^./\\]*$/, '') + '.svg';
  const svgPath = svgBase === outPath ? `${outPath}.svg` : svgBase;

  const header = positionals.length > 0 ? values['no-header'] !== true : false;
  const dataPath = positionals.length > 0 ? inputFile(positionals[0]!, 'data file') : DIGITS_CSV;
  const delimiter = delimiterFlag(values) ?? ',';
  const { target, note: targetNote } = positionals.length > 0 ? await targetOf(values, header, dataPath, delimiter) : { target: 64, note: null };
  const readError = async (e: unknown): Promise<unknown> => {
    if (e instanceof CliError) return e;
    const hinted = await cliCsvError(dataPath, delimiter, e);  // a wrong separator is the likelier cause
    // An index out of range or an unknown name is a usage error of --target (exit 2), named as the flag.
    if (hinted === e && e instanceof RangeError && / for target /.test(e.message)) {
      const flag = values['target-index'] !== undefined ? '--target-index' : '--target';
      return new CliError(e.message.replace(' for target ', ` for ${flag} `));
    }
    return hinted;
  };
  const targetKind = positionals.length > 0 ? 'auto' as const : 'class' as const;
  if (values['stream'] === true) {
    const wanted = task !== 'auto' ? task
      : (CLASS_LOSSES as readonly string[]).includes(loss) ? 'classification'
      : (VALUE_LOSSES as readonly string[]).includes(loss) ? 'regression' : null;
    await trainStreamed({
      dataPath, source: positionals.length > 0 ? positionals[0]! : 'bundled digits (data/digits.csv.gz)', header, delimiter,
      target, targetKind, targetNote, wanted, loss, valSplit, testSplit, seed, epochs, batchSize, hidden,
      activation: activation as ActivationName, optimizer: optimizerOf(optimizer, lr), optimizerText: `${optimizer} lr ${lr}`,
      engine, outPath, svgPath, readError,
    }, out);
    return;
  }
  const data = await loadCsv(dataPath, { header, target, delimiter, targetKind })
    .catch(async (e: unknown) => { throw await readError(e); });
  const t = taskOf(data, task, loss);
  const classes = t.classNames?.length ?? 0;
  const lossName = loss !== 'auto' ? loss : t.kind === 'classification' ? 'cross-entropy' : 'mse';
  if (t.kind === 'classification' && lossName !== 'cross-entropy') throw new CliError(`--loss ${lossName} needs a numeric target; '${data.target}' is a class target`);
  if (t.kind === 'regression' && lossName === 'cross-entropy') throw new CliError(`--loss cross-entropy needs a class target; '${data.target}' is numeric`);

  const parts = split(data.x, t.y, valSplit, testSplit, seed, t.kind === 'classification');
  const scaler = new StandardScaler().fit(parts.xTrain);
  const scaleX = (m: Matrix | null) => (m ? scaler.transform(m) : null);
  const regression = t.kind === 'regression';
  let yMean = 0;
  let yScale = 1;
  if (regression) {
    const y = parts.yTrain as Float64Array;
    yMean = y.reduce((s, v) => s + v, 0) / y.length;
    yScale = Math.sqrt(y.reduce((s, v) => s + (v - yMean) ** 2, 0) / y.length) || 1;
  }
  const yFor = (y: Int32Array | Float64Array) => (regression ? standardiseTarget(y as Float64Array, yMean, yScale) : y);

  const widths = [data.x.cols, ...hidden, regression ? 1 : classes];
  const layers = widths.slice(1).map((w, i) => new Dense(widths[i]!, w, i < hidden.length ? { activation: activation as ActivationName } : {}));
  const model = new Sequential(layers, { engine, seed });
  model.compile({ loss: lossName, optimizer: optimizerOf(optimizer, lr), metrics: regression ? ['mae'] : ['accuracy'] });

  const source = positionals.length > 0 ? positionals[0]! : 'bundled digits (data/digits.csv.gz)';
  out.write(`data: ${source}: ${data.x.rows} rows, ${data.x.cols} features, target '${data.target}' ` +
    `(${regression ? 'regression' : `${classes} classes`})\n`);
  if (targetNote) out.write(targetNote);
  out.write(`split: ${parts.xTrain.rows} train, ${parts.xVal?.rows ?? 0} validation, ${parts.xTest?.rows ?? 0} test (seed ${seed})\n`);
  out.write(`model: ${widths.join('-')} ${activation}, ${model.paramCount} parameters, ${lossName}, ${optimizer} lr ${lr}, engine ${model.engine}\n`);
  if (regression) out.write('(per-epoch loss and mae are in standardised target units)\n');

  const t0 = performance.now();
  const history = await model.fit(scaleX(parts.xTrain)!, yFor(parts.yTrain), {
    epochs, batchSize, shuffle: true,
    ...(parts.xVal ? { validationData: [scaleX(parts.xVal), yFor(parts.yVal!)] as [unknown, unknown] } : {}),
    callbacks: [progressCallback(out)],
  });
  out.write(`trained ${epochs} epochs in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);

  // From here on the model takes raw columns and gives raw values.
  foldInputScaling(model, scaler);
  if (regression) foldOutputScaling(model, yMean, yScale);
  if (parts.xTest) out.write(testReport(model, parts.xTest, parts.yTest!, t.classNames));

  const metadata: Record<string, string> = {
    task: t.kind,
    target: data.target ?? '',
    columns: JSON.stringify(data.columns),
    header: String(header),
    delimiter,
    inputs: 'raw columns (standardisation folded into layer 0)',
  };
  if (t.classNames) metadata['classes'] = JSON.stringify(t.classNames);
  await model.save(outPath, { metadata });
  await fs.writeFile(svgPath, curvesSvg(panelsFromHistory(history.history), `fastmlp train: ${source}`));
  out.write(`saved ${outPath} and ${svgPath}\n`);
}

/** Test accuracy and confusion matrix (classes) or MAE/RMSE/R² (values), in raw units. */
export function testReport(model: Sequential, x: Matrix, y: Int32Array | Float64Array, classNames: string[] | null): string {
  const pred = model.predict(x);
  if (!classNames) return valueReport(x.rows, mae(pred.data, y), rmse(pred.data, y), r2(pred.data, y));
  return classReport(confusionMatrix(pred, y as Int32Array), classNames, x.rows);
}
