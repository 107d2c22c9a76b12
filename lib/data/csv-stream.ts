// csvBatches: a CSV file larger than memory as batches of { x, y } rows, the
// streamed input Sequential.fit takes (lib/fit-stream.ts). The file is read a
// chunk at a time (csv-blocks.ts) and each row goes through parseCsv's own
// rules (csv.ts: header names, scikit-learn's layout, decimal cells, float32
// range, empty targets, ragged rows — the same messages, with the row and file
// line), so a file gives the rows parseCsv gives, batch by batch.
//
// A target's encoding must be known before the first batch: class indices
// need every label, and 'auto' needs to know whether every cell is a number.
// With `classes` given (or targetKind 'value', or scikit-learn's layout, whose
// first line names the classes) nothing more is read; otherwise a first pass
// over the file reads the target column (and checks every row) before
// training starts. That pass costs one more read of the file, but no memory
// per row: it keeps the distinct labels only, at most MAX_SCANNED_LABELS.
import { stat } from 'node:fs/promises';
import type { Dtype } from '../engine';
import { Matrix, allocate } from '../matrix';
import { ArgumentRangeError, integer, options, typeError } from '../validate';
import { csvRecordBlocks, type RecordBlock } from './csv-blocks';
import type { CsvRecords } from './csv-records';
import {
  CSV_OPTIONS, cellError, classIndexReader, csvLayout, isNumericLabel, numericCell, raggedRowError, readCsvOptions, resolveColumn,
  sklearnClassIndex, sklearnLayoutWithClasses, sortedClassNames, type CsvOptions, type CsvSettings,
} from './csv';

export interface CsvBatchOptions extends CsvOptions {
  /** Rows per batch, an integer ≥ 1 (default 1024; the last may hold fewer). */
  batchSize?: number;
  /**
   * The class labels of a class target, in index order (as parseCsv's): the
   * label classes[i] becomes class i, and no first pass reads the file.
   */
  classes?: string[];
  /** Bytes read from the file at a time, an integer ≥ 1 (default 1 MiB, 1048576). */
  chunkSize?: number;
}

export interface CsvStreamInfo {
  /** Names of x's columns (column numbers as strings without a header). */
  columns: string[];
  /** The target's name, or null. */
  target: string | null;
  /** 'class' (y: Int32Array of class indices), 'value' (y: Float64Array), or null without a target. */
  targetKind: 'class' | 'value' | null;
  /** For a class target: the label of each class index. */
  classNames: string[] | null;
  /** Data rows in the file when a first pass counted them, else null. */
  rows: number | null;
}

export interface CsvBatch {
  /** batchSize rows (fewer in the last batch) of the feature columns. */
  x: Matrix;
  /** The target column of those rows; null without a target. */
  y: Int32Array | Float64Array | null;
}

/** A first pass keeps at most this many distinct labels: beyond, it asks for `classes` (or targetKind 'value'). */
export const MAX_SCANNED_LABELS = 65_536;

const DEFAULT_BATCH = 1024;
const DEFAULT_CHUNK = 1 << 20;

/** The layout read from the file's first records and the options. */
interface Layout {
  names: string[];
  width: number;
  header: boolean;
  targetIndex: number;
  featureIndices: number[];
  sklearnClasses: string[] | null;
}

/**
 * Streams a CSV file (or .csv.gz) as `{ x, y }` batches of `batchSize` rows,
 * read `chunkSize` bytes at a time. Each iteration reads the file from the
 * top, so `fit(batches, { epochs })` trains every epoch on it:
 * ```ts
 * const train = data.csvBatches('big.csv', { target: 'label', classes: ['cat', 'dog'] });
 * await model.fit(train, { epochs: 5, batchSize: 128 });
 * ```
 */
export function csvBatches(path: string, opts?: CsvBatchOptions): CsvBatches {
  return new CsvBatches(path, opts);
}

export class CsvBatches implements AsyncIterable<CsvBatch> {
  private readonly settings: CsvSettings;
  private readonly batchSize: number;
  private readonly chunkSize: number;
  private readonly classes: string[] | null;
  private described: Promise<{ info: CsvStreamInfo; layout: Layout }> | null = null;

  constructor(private readonly path: string, opts?: CsvBatchOptions) {
    if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a file path', path);
    const o = options('CSV options', opts, [...CSV_OPTIONS, 'batchSize', 'chunkSize']);
    this.settings = readCsvOptions(o);
    this.batchSize = o.batchSize === undefined ? DEFAULT_BATCH : integer('batchSize', o.batchSize, 1, 2 ** 31 - 1);
    this.chunkSize = o.chunkSize === undefined ? DEFAULT_CHUNK : integer('chunkSize', o.chunkSize, 1, 2 ** 30);
    this.classes = this.settings.classes;
  }

  /**
   * The columns and the target's encoding: reads the first records, and runs
   * the first pass when the encoding needs one (once; later calls reuse it).
   */
  info(): Promise<CsvStreamInfo> {
    return this.describe().then(({ info }) => ({ ...info, columns: [...info.columns], classNames: info.classNames && [...info.classNames] }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<CsvBatch> {
    const { info, layout } = await this.describe();
    const featureCount = layout.featureIndices.length;
    const dtype = this.settings.dtype;
    const toY = targetReader(info, layout);
    let x = allocate(dtype, this.batchSize * featureCount);
    let y = newTarget(info, this.batchSize);
    let filled = 0;
    for await (const block of this.blocks()) {
      // Rows are read in a plain (synchronous) loop, a batch at a time: the generator steps once per batch.
      for (let r = block.first; r < block.records.length;) {
        const end = Math.min(block.records.length, r + this.batchSize - filled);
        for (; r < end; r++, filled++) {
          const row = block.row0 + r - block.first;
          const line = block.records.line(r) + block.lineOffset;
          const cell = readRow(layout, dtype, block.records, r, row, line, x, filled * featureCount);
          if (y) y[filled] = toY(cell, row, line);
        }
        if (filled === this.batchSize) {
          yield { x: new Matrix(filled, featureCount, x), y };
          x = allocate(dtype, this.batchSize * featureCount);
          y = newTarget(info, this.batchSize);
          filled = 0;
        }
      }
    }
    if (filled > 0) {
      yield { x: new Matrix(filled, featureCount, x.slice(0, filled * featureCount)), y: y && y.slice(0, filled) };
    }
  }

  private describe(): Promise<{ info: CsvStreamInfo; layout: Layout }> {
    this.described ??= this.readLayout().then((layout) => this.encoding(layout));
    // A failed read (a missing file) is not cached: the next call tries again.
    this.described.catch(() => { this.described = null; });
    return this.described;
  }

  /** Names and width from the first two records (parseCsv's rules; scikit-learn's layout without its row count). */
  private async readLayout(): Promise<Layout> {
    await stat(this.path);  // a missing file fails here with ENOENT, before any parsing
    const first: string[][] = [];
    for await (const { records } of csvRecordBlocks(this.path, this.settings.delimiter, Math.min(this.chunkSize, 1 << 16))) {
      for (let r = 0; r < records.length && first.length < 2; r++) first.push(records.record(r));
      if (first.length === 2) break;
    }
    if (first.length === 0) throw new ArgumentRangeError('Expected at least one row in the CSV text but received none');
    const { header, target } = this.settings;
    if (header && first.length === 1) {
      throw new ArgumentRangeError('Expected at least one data row in the CSV text but received only a header');
    }
    const { names, width, sklearnClasses } = csvLayout(first[0]!, first[1] ?? null, null, header);
    const targetIndex = target === undefined ? -1 : resolveColumn(target, names, header);
    return { names, width, header, targetIndex, sklearnClasses, featureIndices: names.map((_, i) => i).filter((i) => i !== targetIndex) };
  }

  /** The target's encoding: from `classes`, targetKind 'value' or scikit-learn's header, else from a first pass. */
  private async encoding(layout: Layout): Promise<{ info: CsvStreamInfo; layout: Layout }> {
    const { names, targetIndex, sklearnClasses } = layout;
    const info: CsvStreamInfo = {
      columns: layout.featureIndices.map((i) => names[i]!),
      target: targetIndex >= 0 ? names[targetIndex]! : null,
      targetKind: null,
      classNames: null,
      rows: null,
    };
    if (targetIndex < 0) return { info, layout };
    const kind = this.settings.targetKind;
    if (sklearnClasses && targetIndex === layout.width - 1 && kind !== 'value') {
      if (this.classes) throw sklearnLayoutWithClasses();
      return { info: { ...info, targetKind: 'class', classNames: sklearnClasses }, layout };
    }
    if (kind === 'value') return { info: { ...info, targetKind: 'value' }, layout };
    if (this.classes) return { info: { ...info, targetKind: 'class', classNames: this.classes }, layout };

    // The first pass: every row read (and checked), the target cells' distinct values kept.
    const scratch = allocate('float64', layout.featureIndices.length);
    const labels = new Set<string>();
    let numeric = true;
    let rows = 0;
    scan: for await (const block of this.blocks()) {
      for (let r = block.first; r < block.records.length; r++) {
        const row = block.row0 + r - block.first;
        const line = block.records.line(r) + block.lineOffset;
        const cell = readRow(layout, this.settings.dtype, block.records, r, row, line, scratch, 0);
        rows++;
        if (cell === '') throw cellError(row, line, names[targetIndex]!, targetIndex, 'a target value', 'an empty cell');
        if (numeric && !isNumericLabel(cell)) numeric = false;
        if (labels.size <= MAX_SCANNED_LABELS) labels.add(cell);
        else if (!(numeric && kind === 'auto')) break scan;
      }
    }
    if (numeric && kind === 'auto') return { info: { ...info, targetKind: 'value', rows }, layout };
    if (labels.size > MAX_SCANNED_LABELS) {
      throw new ArgumentRangeError(`Expected at most ${MAX_SCANNED_LABELS} distinct labels in target column '${names[targetIndex]}' ` +
        "for a class target read in a first pass but received more; pass classes, or targetKind 'value' for a numeric target");
    }
    return { info: { ...info, targetKind: 'class', classNames: sortedClassNames([...labels], numeric), rows }, layout };
  }

  /**
   * The file's record blocks, each with the index of its first data record
   * (past the header) and that record's 0-based data row number.
   */
  private async *blocks(): AsyncGenerator<RecordBlock & { first: number; row0: number }> {
    let skip = this.settings.header ? 1 : 0;
    let row0 = 0;
    for await (const block of csvRecordBlocks(this.path, this.settings.delimiter, this.chunkSize)) {
      const first = Math.min(skip, block.records.length);
      skip -= first;
      yield { ...block, first, row0 };
      row0 += block.records.length - first;
    }
  }
}

/**
 * Reads record r (data row `row`, file line `line`) as parseCsv reads a row:
 * its features into out[at…], and returns its target cell ('' without a target).
 */
function readRow(layout: Layout, dtype: Dtype, records: CsvRecords, r: number, row: number, line: number,
  out: Float32Array | Float64Array, at: number): string {
  const { width, names, targetIndex, featureIndices } = layout;
  const fast = records.readNumbers?.(r, width, targetIndex, out, at);
  if (fast !== undefined) return fast;
  const record = records.record(r);
  if (record.length !== width) throw raggedRowError(width, row, line, record.length);
  for (let j = 0; j < featureIndices.length; j++) {
    const c = featureIndices[j]!;
    out[at + j] = numericCell(record[c]!, row, line, names[c]!, c, dtype);
  }
  return targetIndex >= 0 ? record[targetIndex]! : '';
}

function newTarget(info: CsvStreamInfo, rows: number): Int32Array | Float64Array | null {
  if (info.targetKind === 'class') return new Int32Array(rows);
  if (info.targetKind === 'value') return new Float64Array(rows);
  return null;
}

/** A target cell as y holds it: a class index or a value, checked as parseCsv checks it. */
function targetReader(info: CsvStreamInfo, layout: Layout): (cell: string, row: number, line: number) => number {
  const { targetIndex, names, sklearnClasses, width } = layout;
  const name = names[targetIndex] ?? '';
  const empty = (cell: string, row: number, line: number) => {
    if (cell === '') throw cellError(row, line, name, targetIndex, 'a target value', 'an empty cell');
  };
  if (info.targetKind === 'value') {
    return (cell, row, line) => { empty(cell, row, line); return numericCell(cell, row, line, name, targetIndex, 'float64'); };
  }
  if (sklearnClasses && info.classNames === sklearnClasses && targetIndex === width - 1) {
    return (cell, row, line) => { empty(cell, row, line); return sklearnClassIndex(cell, row, line, targetIndex, sklearnClasses); };
  }
  const read = classIndexReader(info.classNames ?? [], name, targetIndex);
  return (cell, row, line) => {
    empty(cell, row, line);
    return read(cell, row, line);
  };
}

