// `fastmlp predict model.safetensors data.csv`: one label (classification) or
// value (regression) per row, read with the model file's stored CSV settings
// (header, column names, target name, class labels) so a file with or without
// its target column works.
//
// The file is streamed (data.csvBatches, a batch of rows at a time) and each
// batch's predictions are written before the next batch is read, so memory
// stays bounded whatever the row count; the output is the same bytes the
// whole-file version wrote. With the target column present, the accuracy (or
// MAE) is summed batch by batch; a class target costs csvBatches' first pass
// over the file (it learns the labels). On an error at some row, stdout keeps
// the rows before it; an --out file is written only whole (renamed at the end).
import { parse } from 'csv-parse/sync';
import { sklearnHeaderClasses } from '../data/csv';
import { csvBatches } from '../data/csv-stream';
import { readModelInfo } from '../io/model-file';
import { Matrix } from '../matrix';
import { Sequential } from '../sequential';
import { cliCsvError, delimiterFlag, firstLines } from './csv-input';
import { fileSink, streamSink, type LineSink } from './output-stream';
import { CliError, choiceFlag, helpText, inputFile, outputFile, parseCommand, type Flags } from './args';

export const PREDICT_FLAGS: Flags = {
  out: { value: 'FILE', short: 'o', help: 'write the predictions to FILE (a CSV with a header) instead of stdout (no header)' },
  engine: { value: 'E', help: 'auto | native | js', default: 'auto' },
  delimiter: { value: 'C', help: "cell separator, e.g. ';' or '\\t' (default: the training CSV's, else ',')" },
  'no-header': { help: 'data.csv has no header line (default: as the training CSV; for a model saved through the API, a first line of numbers is data)' },
};

export const PREDICT_HELP = helpText('fastmlp predict model.safetensors data.csv [-o preds.csv]',
  `Predicts one label (classification: the class names of the training CSV) or one value
(regression) per row of data.csv. The CSV has the training file's columns, with or without
the target column; the model takes raw columns (training folded its scaling into the
weights). When the target column is present, the accuracy (or MAE) is printed on stderr.
The file is read a batch of rows at a time and each batch's predictions are written before
the next is read, so a file larger than memory works; a class target column costs one
more read of the file (to learn its labels). On a bad row, stdout keeps the predictions
before it; an --out file is only written whole.`, PREDICT_FLAGS);

function jsonArray(text: string | undefined, key: string, path: string): string[] | null {
  if (text === undefined) return null;
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  } catch { /* reported below */ }
  throw new CliError(`model file '${path}' has a malformed '${key}' metadata entry`, 1);
}

/**
 * The first record of a CSV (or .csv.gz) file: its header, or its first row's
 * cells. For scikit-learn's layout (data/breast_cancer.csv: a first line of
 * counts and class names, which loadCsv reads as such), the names loadCsv
 * gives its columns instead: '0', '1', …, 'target'.
 */
async function firstRow(path: string, delimiter: string): Promise<string[]> {
  const text = await firstLines(path, 2);
  let rows: string[][];
  try {
    if (text === null) throw new Error(`cannot read '${path}'`);
    rows = parse(text, { delimiter, to_line: 2, trim: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
  } catch (e) {
    // The same failure the streamed read would meet, with the CLI's hint.
    const error = await csvBatches(path, { header: false, delimiter }).info().then(() => e, (streamed: unknown) => streamed);
    throw await cliCsvError(path, delimiter, error);
  }
  if (rows.length === 0) throw new CliError(`'${path}' holds no CSV rows`, 1);
  if (rows.length > 1 && sklearnHeaderClasses(rows[0]!, null, rows[1]!.length)) {
    return [...Array.from({ length: rows[1]!.length - 1 }, (_, i) => String(i)), 'target'];
  }
  return rows[0]!;
}

const isNumberCell = (cell: string): boolean => cell !== '' && Number.isFinite(Number(cell));

/**
 * Whether data.csv starts with a header line. The training CSV's setting is
 * stored in the model file ('header'); a model saved through the API has none,
 * and a first line of numbers is then data, not column names (reading it as a
 * header silently dropped the first row). A CLI model trained with a header
 * whose names are not numbers likewise reads a file whose first line is all
 * numbers as headerless; with names that are numbers, only a first line of
 * those names is a header.
 */
function startsWithHeader(first: string[], meta: Record<string, string>, noHeaderFlag: boolean, path: string): boolean {
  if (noHeaderFlag || meta['header'] === 'false') return false;
  const numeric = first.every(isNumberCell);
  if (meta['header'] !== 'true') return !numeric;
  const columns = jsonArray(meta['columns'], 'columns', path);
  if (!numeric || columns === null) return true;
  // Column names that are numbers themselves ('0', '1', … of scikit-learn's layout): a first
  // line of numbers is the header only if it holds those names, else it is the first row.
  const names = new Set([...columns, meta['target'] ?? '']);
  return first.every((cell) => names.has(cell));
}

/**
 * x's columns in the order the model was trained on, matched by header name
 * (as a DataFrame is): the same columns in another order are reordered, not
 * fed to the wrong inputs; names the model does not know are an error. Without
 * stored names (a model saved through the API), or with names that are only
 * column positions, the file's order is taken.
 */
function inTrainingOrder(x: Matrix, names: string[], trained: string[] | null, path: string): Matrix {
  if (trained === null || trained.length !== names.length || trained.every((n, i) => n === names[i])) return x;
  // Names that are only positions ('0', '1', …: scikit-learn's layout) say nothing to match by.
  if (trained.every((n, i) => n === String(i))) return x;
  const at = new Map(names.map((n, i) => [n, i]));
  const missing = trained.filter((n) => !at.has(n));
  if (missing.length > 0 || at.size !== names.length) {
    throw new CliError(`'${path}' has columns ${names.map((n) => `'${n}'`).join(', ')} but the model was trained on ` +
      `${trained.map((n) => `'${n}'`).join(', ')}${missing.length > 0 ? ` (missing: ${missing.map((n) => `'${n}'`).join(', ')})` : ''}`, 1);
  }
  const order = trained.map((n) => at.get(n)!);
  const out = new Matrix(x.rows, x.cols, x.dtype === 'float32' ? new Float32Array(x.data.length) : new Float64Array(x.data.length));
  for (let r = 0; r < x.rows; r++) {
    for (let c = 0; c < x.cols; c++) out.data[r * x.cols + c] = x.data[r * x.cols + order[c]!]!;
  }
  return out;
}

/** The --out header: one name per printed column (a regression model may have several outputs). */
function outputHeader(target: string | undefined, columns: number): string {
  const base = target ? `predicted_${target}` : 'prediction';
  return columns === 1 ? base : Array.from({ length: columns }, (_, i) => `${base}_${i}`).join(',');
}

export async function predict(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const { values, positionals } = parseCommand('predict', argv, PREDICT_FLAGS, 2);
  if (values['help']) { out.write(PREDICT_HELP); return; }
  if (positionals.length < 2) throw new CliError('fastmlp predict needs a model file and a CSV file (see fastmlp predict --help)');
  const engine = choiceFlag(values, 'engine', ['auto', 'native', 'js'] as const);
  const modelPath = inputFile(positionals[0]!, 'model file');
  const csvPath = inputFile(positionals[1]!, 'data file');
  if (typeof values['out'] === 'string') outputFile(values['out'], '--out');

  const info = await readModelInfo(modelPath);
  const model = await Sequential.load(modelPath, { engine });
  const meta = info.metadata;
  // A model saved through the API has no class names: a classification loss
  // then means class indices as labels; anything else prints the raw outputs.
  const lossName = (info.compile?.loss as { name?: string } | undefined)?.name;
  const classes = jsonArray(meta['classes'], 'classes', modelPath)
    ?? (lossName === 'cross-entropy' || lossName === 'nll' ? Array.from({ length: model.outputSize }, (_, i) => String(i)) : null);
  const delimiter = delimiterFlag(values) ?? meta['delimiter'] ?? ',';
  const first = await firstRow(csvPath, delimiter);
  const header = startsWithHeader(first, meta, values['no-header'] === true, modelPath);
  const target = meta['target'];

  // Without the target column the file has exactly the model's inputs; with it, one more.
  const width = first.length;
  let targetColumn: string | number | undefined;
  if (width === model.inputSize + 1) {
    const names = header ? first : [];
    if (header && target && names.includes(target)) targetColumn = target;
    else if (!header && target !== undefined && /^\d+$/.test(target)) targetColumn = Number(target);
    else throw new CliError(`'${csvPath}' has ${width} columns: the model takes ${model.inputSize}, ` +
      `and its target column '${target ?? '?'}' is not among them`, 1);
  } else if (width !== model.inputSize) {
    throw new CliError(`'${csvPath}' has ${width} columns but the model takes ${model.inputSize} ` +
      `(or ${model.inputSize + 1} with the target column '${target ?? '?'}')`, 1);
  }
  const reader = csvBatches(csvPath, { header, delimiter, batchSize: PREDICT_BATCH,
    ...(targetColumn === undefined ? {} : { target: targetColumn, targetKind: classes ? 'class' : 'value' }) });
  const trainedColumns = jsonArray(meta['columns'], 'columns', modelPath);
  const outPath = typeof values['out'] === 'string' ? values['out'] : null;
  const sink: LineSink = outPath === null ? streamSink(out) : fileSink(outPath);
  const score = { rows: 0, correct: 0, absError: 0 };
  let labelled: 'class' | 'value' | null = null;
  try {
    const streamInfo = await reader.info();
    if (outPath !== null) await sink.write(`${outputHeader(target, classes ? 1 : model.outputSize)}\n`);
    for await (const batch of reader) {
      const x = header ? inTrainingOrder(batch.x, streamInfo.columns, trainedColumns, csvPath) : batch.x;
      const pred = model.predict(x);
      const lines = classes ? labels(pred, classes) : outputValues(pred);
      if (batch.y && classes && streamInfo.classNames) {
        labelled = 'class';
        const names = streamInfo.classNames;
        for (let r = 0; r < lines.length; r++) if (lines[r] === names[batch.y[r]!]) score.correct++;
      } else if (batch.y && !classes && model.outputSize === 1) {
        labelled = 'value';
        for (let r = 0; r < lines.length; r++) score.absError += Math.abs(Number(lines[r]) - batch.y[r]!);
      }
      score.rows += lines.length;
      await sink.write(lines.join('\n') + '\n');
    }
    await sink.close();
  } catch (e) {
    await sink.abort();
    throw e instanceof CliError ? e : await cliCsvError(csvPath, delimiter, e);
  }

  if (labelled === 'class') {
    err.write(`accuracy on the ${score.rows} labelled rows: ${(100 * score.correct / score.rows).toFixed(2)} %\n`);
  } else if (labelled === 'value') {
    err.write(`MAE on the ${score.rows} labelled rows: ${(score.absError / score.rows).toPrecision(5)}\n`);
  }
  if (outPath !== null) err.write(`wrote ${score.rows} predictions to ${outPath}\n`);
}

/** Rows predicted per model.predict call: the reader's batch. */
const PREDICT_BATCH = 4096;

/** The label of each row's largest output (the first of a tie). */
function labels(pred: Matrix, classes: string[]): string[] {
  const lines: string[] = [];
  for (let r = 0; r < pred.rows; r++) {
    let best = 0;
    for (let c = 1; c < pred.cols; c++) if (pred.data[r * pred.cols + c]! > pred.data[r * pred.cols + best]!) best = c;
    lines.push(classes[best]!);
  }
  return lines;
}

/** Each row's outputs as numbers, comma-separated. */
function outputValues(pred: Matrix): string[] {
  const lines: string[] = [];
  for (let r = 0; r < pred.rows; r++) lines.push(Array.from(pred.data.subarray(r * pred.cols, (r + 1) * pred.cols), String).join(','));
  return lines;
}
