// CSV loading (SPEC.md §5, "CSV loading"; records from csv-records.ts), and the
// data sets bundled in data/ (see NOTICE). Errors name the row (1-based data
// row and file line) and the column of a bad cell, so a broken file is quick
// to fix.
import { readFileSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Dtype } from '../engine';
import { Matrix, allocate } from '../matrix';
import { csvRecords, type CsvRecords } from './csv-records';
import { DECIMAL, decimalValue } from './decimal';
import { ArgumentRangeError, boolean, integer, oneOf, options, typeError } from '../validate';

export interface CsvOptions {
  /** The first line names the columns (default true). */
  header?: boolean;
  /** The target column, by name (with a header) or index (negative counts from the end); none: y is null. */
  target?: string | number;
  /**
   * 'auto' (default): numbers become values (Float64Array), anything else class
   * indices with classNames; 'class' or 'value' forces either.
   */
  targetKind?: 'auto' | 'class' | 'value';
  /** The cell separator, a non-empty string (default ','). */
  delimiter?: string;
  /** x's element type: 'float32' (default) or 'float64'. y is Int32Array or Float64Array either way. */
  dtype?: Dtype;
  /**
   * The class labels of a class target, in index order: the label classes[i]
   * becomes class i, whichever labels the file holds (so a training and a test
   * file index their labels alike), and a label not in the list is an error
   * naming its row. Needs a target; not with targetKind 'value'.
   */
  classes?: string[];
}

export interface CsvData {
  /** Feature columns, one row per record. */
  x: Matrix;
  /** The target column: class indices (Int32Array) or values (Float64Array); null without a target. */
  y: Int32Array | Float64Array | null;
  /** Names of x's columns (column numbers as strings without a header). */
  columns: string[];
  /** The target's name, or null. */
  target: string | null;
  /** For a class target: the label of each class index (sorted; numeric labels in numeric order). */
  classNames: string[] | null;
}

export const CSV_OPTIONS = ['header', 'target', 'targetKind', 'delimiter', 'dtype', 'classes'] as const;

/**
 * Parses CSV text into features x (a Matrix of every column but the target)
 * and an optional target column y. Errors name the row, file line and column.
 */
export function parseCsv(text: string, opts?: CsvOptions): CsvData {
  return parseCsvUsing(csvRecords, text, opts);
}

/**
 * parseCsv with the reader given: csvRecords (quote-free reader or csv-parse,
 * as parseCsv), or one of the two, for the tests that compare them.
 */
export function parseCsvUsing(read: (text: string, delimiter: string) => CsvRecords, text: string, opts?: CsvOptions): CsvData {
  if (typeof text !== 'string') throw typeError('text', 'a string of CSV', text);
  const o = readCsvOptions(options('CSV options', opts, CSV_OPTIONS));
  return fromRecords(read(text, o.delimiter), o, o.header, o.targetKind, o.dtype, o.classes);
}

/** CsvOptions validated, with their defaults (parseCsv's and csvBatches's). */
export interface CsvSettings {
  header: boolean;
  target: string | number | undefined;
  targetKind: 'auto' | 'class' | 'value';
  delimiter: string;
  dtype: Dtype;
  /** The classes option: labels in index order, or null to infer them. */
  classes: string[] | null;
}

/** Validates the CsvOptions in `o` (already checked for unknown names) and fills in the defaults. */
export function readCsvOptions(o: Record<string, unknown>): CsvSettings {
  const header = o.header === undefined ? true : boolean('header', o.header);
  const targetKind = o.targetKind === undefined ? 'auto' : oneOf('targetKind', o.targetKind, ['auto', 'class', 'value'] as const);
  const dtype = o.dtype === undefined ? 'float32' : oneOf('dtype', o.dtype, ['float32', 'float64'] as const);
  if (o.delimiter !== undefined && (typeof o.delimiter !== 'string' || o.delimiter.length === 0)) {
    throw typeError('delimiter', 'a non-empty string', o.delimiter);
  }
  if (o.target !== undefined && typeof o.target !== 'string' && typeof o.target !== 'number') {
    throw typeError('target', 'a column name or index', o.target);
  }
  const classes = o.classes === undefined ? null : classList(o.classes);
  if (classes && o.target === undefined) {
    throw new ArgumentRangeError('Expected a target with classes for CSV options but received classes without a target');
  }
  if (classes && targetKind === 'value') {
    throw new ArgumentRangeError("Expected targetKind 'class' or 'auto' with classes for targetKind but received 'value'");
  }
  return { header, target: o.target as string | number | undefined, targetKind, delimiter: (o.delimiter as string | undefined) ?? ',', dtype, classes };
}

function classList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === 'string')) {
    throw typeError('classes', 'a non-empty array of class labels (strings)', value);
  }
  const seen = new Set<string>();
  for (const c of value as string[]) {
    if (seen.has(c)) throw new ArgumentRangeError(`Expected distinct labels for classes but received '${c}' twice`);
    seen.add(c);
  }
  return [...(value as string[])];
}

/** A file in scikit-learn's layout names its classes on its first line: a classes option would contradict it. */
export function sklearnLayoutWithClasses(): ArgumentRangeError {
  return new ArgumentRangeError("Expected no classes for a file in scikit-learn's layout (its first line names them) but received classes");
}

/** Target cell → index in `classes` (the classes option); an unknown label is an error naming its row. */
export function classIndexReader(classes: string[], column: string, index: number): (cell: string, row: number, line: number) => number {
  const byLabel = new Map(classes.map((label, i) => [label, i]));
  const listed = classes.length <= 10 ? classes.map((c) => `'${c}'`).join(', ') : `${classes.length} labels`;
  return (cell, row, line) => {
    const k = byLabel.get(cell);
    if (k === undefined) throw cellError(row, line, column, index, `one of the classes (${listed})`, `'${cell}'`);
    return k;
  };
}

function fromRecords(records: CsvRecords, o: { target?: unknown }, header: boolean, targetKind: 'auto' | 'class' | 'value', dtype: Dtype,
                     classes: string[] | null): CsvData {
  if (records.length === 0) throw new ArgumentRangeError('Expected at least one row in the CSV text but received none');

  const { names, width, sklearnClasses } = csvLayout(records.record(0), records.length > 1 ? records.record(1) : null,
    records.length - 1, header);
  const skip = header ? 1 : 0;
  const rowCount = records.length - skip;
  if (rowCount === 0) throw new ArgumentRangeError('Expected at least one data row in the CSV text but received only a header');
  const lineOf = (r: number): number => records.line(r + skip);

  // One pass reads every row's features: a ragged row anywhere still comes
  // first among errors (as when rows were checked before any cell), so an
  // error met on the way is thrown only when no row is ragged.
  let targetIndex = -1;
  let featureIndices: number[] = [];
  let x: Float32Array | Float64Array;
  let cells: string[] = [];
  try {
    targetIndex = o.target === undefined ? -1 : resolveColumn(o.target as string | number, names, header);
    featureIndices = names.map((_, i) => i).filter((i) => i !== targetIndex);
    const featureCount = featureIndices.length;
    x = allocate(dtype, rowCount * featureCount);
    if (targetIndex >= 0) cells = new Array<string>(rowCount);
    for (let r = 0; r < rowCount; r++) {
      const fast = records.readNumbers?.(r + skip, width, targetIndex, x, r * featureCount);
      if (fast !== undefined) {
        if (targetIndex >= 0) cells[r] = fast;
        continue;
      }
      const record = records.record(r + skip);
      if (record.length !== width) throw raggedRow(r, record.length);
      for (let j = 0; j < featureCount; j++) {
        const c = featureIndices[j]!;
        x[r * featureCount + j] = numericCell(record[c]!, r, lineOf(r), names[c]!, c, dtype);
      }
      if (targetIndex >= 0) cells[r] = record[targetIndex]!;
    }
  } catch (e) {
    for (let r = 0; r < rowCount; r++) {
      const length = records.record(r + skip).length;
      if (length !== width) throw raggedRow(r, length);
    }
    throw e;
  }

  function raggedRow(r: number, length: number): ArgumentRangeError {
    return raggedRowError(width, r, lineOf(r), length);
  }

  let y: Int32Array | Float64Array | null = null;
  let classNames: string[] | null = null;
  if (targetIndex >= 0) {
    // A missing target is never a label: as a class of its own ('') it would turn
    // a numeric target with one gap into a classification task.
    cells.forEach((cell, r) => {
      if (cell === '') throw cellError(r, lineOf(r), names[targetIndex]!, targetIndex, 'a target value', 'an empty cell');
    });
    if (sklearnClasses && targetIndex === width - 1 && targetKind !== 'value') {
      if (classes) throw sklearnLayoutWithClasses();
      return { ...result(), y: sklearnTarget(cells, lineOf, targetIndex, sklearnClasses), classNames: sklearnClasses };
    }
    if (classes) {
      const read = classIndexReader(classes, names[targetIndex]!, targetIndex);
      return { ...result(), y: Int32Array.from(cells, (cell, r) => read(cell, r, lineOf(r))), classNames: [...classes] };
    }
    const numeric = cells.every(isNumericLabel);
    if (targetKind === 'value' || (targetKind === 'auto' && numeric)) {
      y = Float64Array.from(cells, (cell, r) => numericCell(cell, r, lineOf(r), names[targetIndex]!, targetIndex, 'float64'));
    } else {
      classNames = sortedClassNames([...new Set(cells)], numeric);
      const index = new Map(classNames.map((name, i) => [name, i]));
      y = Int32Array.from(cells, (c) => index.get(c)!);
    }
  }
  return { ...result(), y, classNames };

  function result(): CsvData {
    return {
      x: new Matrix(rowCount, featureIndices.length, x),
      y: null,
      columns: featureIndices.map((i) => names[i]!),
      target: targetIndex >= 0 ? names[targetIndex]! : null,
      classNames: null,
    };
  }
}

/** Whether a target cell reads as a number (a numeric target, or numeric class labels). */
export function isNumericLabel(cell: string): boolean {
  return DECIMAL.test(cell) && Number.isFinite(Number(cell));
}

/** Class labels in index order: numeric labels in numeric order, text labels sorted. Sorts `unique` in place. */
export function sortedClassNames(unique: string[], numeric: boolean): string[] {
  return numeric ? unique.sort((a, b) => Number(a) - Number(b)) : unique.sort();
}

export function raggedRowError(width: number, row: number, line: number, length: number): ArgumentRangeError {
  return new ArgumentRangeError(`Expected ${width} cells in row ${row + 1} (line ${line}) as in the first line but received ${length}`);
}

/**
 * The column names and row width a CSV's first record (and second, if any)
 * give: header names made distinct, index names without a header, or
 * scikit-learn's layout. `dataRows`: the records after the first, or null when
 * not known (a stream read so far only as two records).
 */
export function csvLayout(first: string[], second: string[] | null, dataRows: number | null, header: boolean):
    { names: string[]; width: number; sklearnClasses: string[] | null } {
  // scikit-learn's layout (data/iris.csv, data/breast_cancer.csv): its first line is not column names.
  const sklearnClasses = header && second !== null ? sklearnHeaderClasses(first, dataRows, second.length) : null;
  const width = sklearnClasses ? second!.length : first.length;
  const names = sklearnClasses ? [...Array.from({ length: width - 1 }, (_, i) => String(i)), 'target']
    : header ? distinctNames(first) : Array.from({ length: width }, (_, i) => String(i));
  return { names, width, sklearnClasses };
}

/**
 * The class names of scikit-learn's bundled-data CSV layout
 * (sklearn/datasets/data/iris.csv and the like): a first line
 * "n_samples,n_features,name_0,name_1,…" above rows of n_features values and
 * a class index. null when `first` is not such a line for `rows` data rows of
 * `width` cells (rows null: not known yet, as when only two lines are read).
 */
export function sklearnHeaderClasses(first: string[], rows: number | null, width: number): string[] | null {
  if (first.length < 3 || !/^\d+$/.test(first[0]!) || first[1] !== String(width - 1)) return null;
  if (rows !== null && first[0] !== String(rows)) return null;
  const names = first.slice(2);
  return names.every((n) => n !== '' && !Number.isFinite(Number(n))) ? names : null;
}

/** The class-index column of scikit-learn's layout, each index checked against the names. */
function sklearnTarget(cells: string[], lineOf: (r: number) => number, column: number, classes: string[]): Int32Array {
  return Int32Array.from(cells, (cell, r) => sklearnClassIndex(cell, r, lineOf(r), column, classes));
}

/** One cell of scikit-learn's class-index column, checked against the header's class names. */
export function sklearnClassIndex(cell: string, row: number, line: number, column: number, classes: string[]): number {
  const v = Number(cell);
  if (!/^\d+$/.test(cell) || v >= classes.length) {
    throw cellError(row, line, 'target', column, `a class index in [0, ${classes.length - 1}]`, `'${cell}'`);
  }
  return v;
}

/**
 * Header names made distinct as pandas.read_csv makes them: the second 'v'
 * becomes 'v.1', the third 'v.2', skipping names already taken. A repeated
 * name otherwise made `target` pick the first silently and predict's
 * matching by name fail.
 */
function distinctNames(names: string[]): string[] {
  const taken = new Set<string>();
  const count = new Map<string, number>();
  return names.map((name) => {
    let out = name;
    while (taken.has(out)) {
      const k = (count.get(name) ?? 0) + 1;
      count.set(name, k);
      out = `${name}.${k}`;
    }
    taken.add(out);
    return out;
  });
}

export function resolveColumn(target: string | number, names: string[], header: boolean): number {
  if (typeof target === 'number') {
    const index = integer('target', target, -names.length, names.length - 1);
    return index < 0 ? names.length + index : index;
  }
  const index = header ? names.indexOf(target) : -1;
  if (index < 0) {
    throw new ArgumentRangeError(header
      ? `Expected a column named '${target}' for target but the columns are ${names.map((n) => `'${n}'`).join(', ')}`
      : `Expected a column index for target (the CSV has no header) but received '${target}'`);
  }
  return index;
}

/** The largest finite float32, (2 − 2⁻²³)·2¹²⁷: larger values round to ±Infinity when stored. */
const FLOAT32_MAX = 3.4028234663852886e38;

export function cellError(row: number, line: number, column: string, index: number, what: string, received: string): ArgumentRangeError {
  return new ArgumentRangeError(`Expected ${what} in row ${row + 1} (line ${line}), column '${column}' (index ${index}) but received ${received}`);
}

export function numericCell(cell: string, row: number, line: number, column: string, index: number, dtype: Dtype): number {
  const v = decimalValue(cell);
  if (!Number.isFinite(v)) throw cellError(row, line, column, index, 'a number', cell === '' ? 'an empty cell' : `'${cell}'`);
  // Math.fround(v) is what a Float32Array stores: a finite number beyond float32's range would become ±Infinity.
  if (dtype === 'float32' && !Number.isFinite(Math.fround(v))) {
    throw cellError(row, line, column, index, `a number within float32's range (|x| ≤ ${FLOAT32_MAX.toPrecision(5)}; or dtype: 'float64')`, `'${cell}'`);
  }
  return v;
}

/** Reads a CSV file (a path ending in .gz is gunzipped first) and parses it as parseCsv does, with the same options. */
export async function loadCsv(path: string, opts?: CsvOptions): Promise<CsvData> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a file path', path);
  options('CSV options', opts, CSV_OPTIONS);
  const bytes = await fs.readFile(path);
  return parseCsv((path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'), opts);
}

/** data/ beside lib/ (source) or dist/ (compiled): both are two levels above this file. */
const DATA_DIR = join(__dirname, '..', '..', 'data');

export interface Dataset {
  x: Matrix;
  y: Int32Array;
  classNames: string[];
}

/**
 * The 8×8 handwritten digits (UCI, Alpaydin & Kaynak 1998; CC BY 4.0): 1797
 * rows of 64 pixels, scaled from 0–16 to [0, 1] unless `scale: false`.
 */
export function loadDigits(opts?: { scale?: boolean; dtype?: Dtype }): Dataset {
  const o = options('loadDigits options', opts, ['scale', 'dtype']);
  const scale = o.scale === undefined ? true : boolean('scale', o.scale);
  const text = gunzipSync(readFileSync(join(DATA_DIR, 'digits.csv.gz'))).toString('utf8');
  const { x, y } = parseCsv(text, { header: false, target: 64, targetKind: 'class', dtype: o.dtype as Dtype | undefined });
  if (scale) for (let i = 0; i < x.data.length; i++) x.data[i]! /= 16;
  // The target column holds the digits 0–9; classNames maps index → digit.
  return { x, y: y as Int32Array, classNames: Array.from({ length: 10 }, (_, i) => String(i)) };
}

/**
 * Fisher's iris (UCI; CC BY 4.0): 150 rows of 4 measurements in cm, 3 classes.
 * The file's first line is scikit-learn's header "150,4,setosa,versicolor,virginica".
 */
export function loadIris(opts?: { dtype?: Dtype }): Dataset & { columns: string[] } {
  const o = options('loadIris options', opts, ['dtype']);
  const lines = readFileSync(join(DATA_DIR, 'iris.csv'), 'utf8').trim().split('\n');
  const classNames = lines[0]!.split(',').slice(2);
  const { x, y } = parseCsv(lines.slice(1).join('\n'), { header: false, target: 4, targetKind: 'value', dtype: o.dtype as Dtype | undefined });
  return {
    x,
    y: Int32Array.from(y as Float64Array),
    classNames,
    columns: ['sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', 'petal width (cm)'],
  };
}

/** scikit-learn's names for breast_cancer.csv's 30 columns: mean, standard error and worst of ten measurements. */
const BREAST_CANCER_MEASUREMENTS = ['radius', 'texture', 'perimeter', 'area', 'smoothness', 'compactness',
  'concavity', 'concave points', 'symmetry', 'fractal dimension'];

/**
 * Breast Cancer Wisconsin (Diagnostic) (UCI, Wolberg, Street & Mangasarian
 * 1995; CC BY 4.0): 569 rows of 30 measurements of cell nuclei, 2 classes
 * (malignant, benign). Unscaled: the columns span 10⁻³ to 10³, so scale them
 * (data.StandardScaler) before training. The file keeps scikit-learn's layout,
 * "569,30,malignant,benign" above the rows, which parseCsv reads with its class names.
 */
export function loadBreastCancer(opts?: { dtype?: Dtype }): Dataset & { columns: string[] } {
  const o = options('loadBreastCancer options', opts, ['dtype']);
  const text = readFileSync(join(DATA_DIR, 'breast_cancer.csv'), 'utf8');
  const { x, y, classNames } = parseCsv(text, { target: 'target', dtype: o.dtype as Dtype | undefined });
  return {
    x,
    y: y as Int32Array,
    classNames: classNames!,
    columns: [
      ...BREAST_CANCER_MEASUREMENTS.map((m) => `mean ${m}`),
      ...BREAST_CANCER_MEASUREMENTS.map((m) => `${m} error`),
      ...BREAST_CANCER_MEASUREMENTS.map((m) => `worst ${m}`),
    ],
  };
}
