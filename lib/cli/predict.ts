// `fastmlp predict model.safetensors data.csv`: one label (classification) or
// value (regression) per row, read with the model file's stored CSV settings
// (header, column names, target name, class labels) so a file with or without
// its target column works.
import { promises as fs } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { sklearnHeaderClasses } from '../data/csv';
import { readModelInfo } from '../io/model-file';
import { Matrix } from '../matrix';
import { Sequential } from '../sequential';
import { delimiterFlag, loadCliCsv } from './csv-input';
import { CliError, choiceFlag, helpText, inputFile, outputFile, parseCommand, type Flags } from './args';

export const PREDICT_FLAGS: Flags = {
  out: { value: 'FILE', help: 'write the predictions to FILE (a CSV with a header) instead of stdout (no header)' },
  engine: { value: 'E', help: 'auto | native | js', default: 'auto' },
  delimiter: { value: 'C', help: "cell separator, e.g. ';' or '\\t' (default: the training CSV's, else ',')" },
  'no-header': { help: 'data.csv has no header line (default: as the training CSV; for a model saved through the API, a first line of numbers is data)' },
};

export const PREDICT_HELP = helpText('fastmlp predict model.safetensors data.csv [--out preds.csv]',
  `Predicts one label (classification: the class names of the training CSV) or one value
(regression) per row of data.csv. The CSV has the training file's columns, with or without
the target column; the model takes raw columns (training folded its scaling into the
weights). When the target column is present, the accuracy (or MAE) is printed on stderr.`, PREDICT_FLAGS);

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
  const bytes = await fs.readFile(path);
  const text = (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  let rows: string[][];
  try {
    rows = parse(text, { delimiter, to_line: 2, trim: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
  } catch {
    return (await loadCliCsv(path, { header: false, delimiter })).columns;   // the same failure, with the hint
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
  const data = await loadCliCsv(csvPath, { header, delimiter, ...(targetColumn === undefined ? {} : { target: targetColumn, targetKind: classes ? 'class' : 'value' }) });
  const x = header ? inTrainingOrder(data.x, data.columns, jsonArray(meta['columns'], 'columns', modelPath), csvPath) : data.x;

  const pred = model.predict(x);
  const lines: string[] = [];
  if (classes) {
    for (let r = 0; r < pred.rows; r++) {
      let best = 0;
      for (let c = 1; c < pred.cols; c++) if (pred.data[r * pred.cols + c]! > pred.data[r * pred.cols + best]!) best = c;
      lines.push(classes[best]!);
    }
  } else {
    for (let r = 0; r < pred.rows; r++) lines.push(Array.from(pred.data.subarray(r * pred.cols, (r + 1) * pred.cols), String).join(','));
  }

  if (data.y && data.classNames && classes) {
    const truth = data.y as Int32Array;
    let correct = 0;
    for (let r = 0; r < lines.length; r++) if (lines[r] === data.classNames[truth[r]!]) correct++;
    err.write(`accuracy on the ${lines.length} labelled rows: ${(100 * correct / lines.length).toFixed(2)} %\n`);
  } else if (data.y && !classes && model.outputSize === 1) {
    let abs = 0;
    for (let r = 0; r < lines.length; r++) abs += Math.abs(Number(lines[r]) - data.y[r]!);
    err.write(`MAE on the ${lines.length} labelled rows: ${(abs / lines.length).toPrecision(5)}\n`);
  }

  const body = lines.join('\n') + '\n';
  if (typeof values['out'] === 'string') {
    await fs.writeFile(values['out'], `${outputHeader(target, classes ? 1 : pred.cols)}\n${body}`);
    err.write(`wrote ${lines.length} predictions to ${values['out']}\n`);
  } else {
    out.write(body);
  }
}
