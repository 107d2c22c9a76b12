// The records of a CSV text, from one of two readers that must agree exactly:
// csv-parse for any file, and a splitter of our own for the common quote-free
// file, about eight times faster on numeric files (bench/csv-read.mjs). parseCsv (csv.ts) turns
// records into numbers the same way whichever reader produced them, and
// test/csv-fast.test.ts runs both readers on the same texts and compares.
//
// The options parseCsv gives csv-parse (skip_empty_lines, trim,
// relax_column_count, quote '"', no comments, no BOM option) mean, for a text
// without a quote character:
// - a record ends at the first line break style the text uses (csv-parse
//   takes '\r\n', '\n' or '\r', whichever comes first); we only split texts
//   whose breaks are all '\n' or all '\r\n', since a lone '\r' or '\n' inside a
//   line still advances csv-parse's line count;
// - cells are the line split at every delimiter (leftmost first, as csv-parse
//   scans), each trimmed of the whitespace JavaScript's trim() removes
//   (csv-parse's list of trimmed characters is the same set: space, tab, CR,
//   LF, FF, VT, NBSP, the Zs spaces, LS, PS and U+FEFF — so a BOM goes too);
// - a line with no delimiter and nothing but whitespace is skipped, and still
//   counts as a line for the line numbers in error messages.
// csv-parse reads the text as UTF-8 bytes, so a lone surrogate becomes U+FFFD
// there: such texts, and delimiters holding a quote or a line break, go to
// csv-parse too.
import { parse } from 'csv-parse/sync';
import { POWERS_OF_TEN } from './decimal';

/** Records, read lazily by index so a large file is never held as an array of strings. */
export interface CsvRecords {
  readonly length: number;
  /** The trimmed cells of record r. */
  record(r: number): string[];
  /** The file line (1-based) of record r, for error messages. */
  line(r: number): number;
  /**
   * A shortcut for a row of plain numbers: writes the `width` cells of record r
   * except column `skip` (the target; -1: none) into out[at…] as Number() reads
   * them, and returns the skipped cell ('' without one). undefined, with out
   * partly written, when the row is anything else (a longer or signed-exponent
   * number, text, spaces, another width): then read record(r).
   */
  readNumbers?(r: number, width: number, skip: number, out: Float32Array | Float64Array, at: number): string | undefined;
}

/** Every record of `text` through csv-parse (quotes, any line breaks). */
export function csvParseRecords(text: string, delimiter: string): CsvRecords {
  // relax_column_count: ragged rows reach us, so the error can say which row and how.
  const records = parse(text, {
    delimiter,
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    info: true,
  }) as unknown as { record: string[]; info: { lines: number } }[];
  return {
    length: records.length,
    record: (r) => records[r]!.record,
    line: (r) => records[r]!.info.lines,
  };
}

const QUOTE = '"';
const LF = 10;
const CR = 13;

/** Whether the quote-free reader gives exactly what csv-parse gives for this text and delimiter. */
export function quoteFreeReadable(text: string, delimiter: string): boolean {
  if (/["\r\n]/.test(delimiter) || text.includes(QUOTE) || !(text as string & { isWellFormed(): boolean }).isWellFormed()) return false;
  if (!text.includes('\r')) return true;
  // '\r\n' only: every CR starts a CRLF and every LF ends one.
  for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 2)) {
    if (text.charCodeAt(i + 1) !== LF) return false;
  }
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (text.charCodeAt(i - 1) !== CR) return false;
  }
  return true;
}

/** Whether code unit c may be whitespace that trim() removes (checked exactly by trim itself). */
function maybeSpace(c: number): boolean {
  return c <= 32 || c >= 0xa0;
}

/**
 * The records of a text for which quoteFreeReadable holds, found in one pass
 * over its lines: only each record's start, end and line number are kept; its
 * cells are split when asked for.
 */
export function quoteFreeRecords(text: string, delimiter: string): CsvRecords {
  const crlf = text.includes('\r');
  let starts: Int32Array = new Int32Array(1024);
  let ends: Int32Array = new Int32Array(1024);
  let lines: Int32Array = new Int32Array(1024);
  let count = 0;
  let line = 0;
  for (let start = 0; start < text.length;) {
    const lf = text.indexOf('\n', start);
    const next = lf === -1 ? text.length : lf + 1;
    const end = lf === -1 ? text.length : crlf ? lf - 1 : lf;
    line++;
    if (!blank(text, start, end, delimiter)) {
      if (count === starts.length) {
        starts = grow(starts);
        ends = grow(ends);
        lines = grow(lines);
      }
      starts[count] = start;
      ends[count] = end;
      lines[count] = line;
      count++;
    }
    start = next;
  }
  // A delimiter that can be part of a number ('.', '-', a digit) would be read as one.
  const separator = delimiter.length === 1 && !/[\d.+-]/.test(delimiter) ? delimiter.charCodeAt(0) : -1;
  return {
    length: count,
    record: (r) => splitCells(text.slice(starts[r]!, ends[r]!), delimiter),
    line: (r) => lines[r]!,
    readNumbers: separator < 0 ? undefined
      : (r, width, skip, out, at) => readNumbers(text, starts[r]!, ends[r]!, separator, width, skip, out, at),
  };
}

/**
 * The cells of text[start, end) split at `separator`, read without making a
 * string per cell. Each cell must be a plain decimal of at most 15 digits
 * ('-12', '3.25', '.5', '5.'), read as decimalValue (decimal.ts) reads it:
 * Clinger's fast path, exactly Number(cell). Anything else: undefined.
 */
function readNumbers(text: string, start: number, end: number, separator: number, width: number, skip: number,
  out: Float32Array | Float64Array, at: number): string | undefined {
  let column = 0;
  let skipped = '';
  let i = start;
  for (;;) {
    if (column === width) return undefined;
    if (column === skip) {
      let e = text.indexOf(String.fromCharCode(separator), i);
      if (e === -1 || e > end) e = end;
      skipped = text.slice(i, e);
      if (skipped.length > 0 && (maybeSpace(skipped.charCodeAt(0)) || maybeSpace(skipped.charCodeAt(skipped.length - 1)))) return undefined;
      i = e;
    } else {
      const first = i;
      const sign = i < end ? text.charCodeAt(i) : 0;
      if (sign === 45 || sign === 43) i++;                // '-' or '+'
      let m = 0;
      let digits = 0;
      let point = -1;
      for (; i < end; i++) {
        const c = text.charCodeAt(i);
        if (c >= 48 && c <= 57) {
          m = m * 10 + (c - 48);
          digits++;
        } else if (c === 46 && point < 0) {
          point = digits;                                 // '.'
        } else {
          break;
        }
      }
      if (digits === 0 || digits > 15 || i - first > 17) return undefined;
      const v = point < 0 ? m : m / POWERS_OF_TEN[digits - point]!;
      out[at++] = sign === 45 ? -v : v;
    }
    column++;
    if (i === end) return column === width ? skipped : undefined;
    if (text.charCodeAt(i) !== separator) return undefined;
    i++;
  }
}

/** A line csv-parse skips: no delimiter and only whitespace. */
function blank(text: string, start: number, end: number, delimiter: string): boolean {
  if (start === end) return true;
  if (!maybeSpace(text.charCodeAt(start))) return false;
  const content = text.slice(start, end);
  return content.trim() === '' && !content.includes(delimiter);
}

function splitCells(line: string, delimiter: string): string[] {
  const cells = line.split(delimiter);
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    if (cell.length > 0 && (maybeSpace(cell.charCodeAt(0)) || maybeSpace(cell.charCodeAt(cell.length - 1)))) {
      cells[i] = cell.trim();
    }
  }
  return cells;
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** The records of `text`: the quote-free reader when it agrees with csv-parse, else csv-parse. */
export function csvRecords(text: string, delimiter: string): CsvRecords {
  return quoteFreeReadable(text, delimiter) ? quoteFreeRecords(text, delimiter) : csvParseRecords(text, delimiter);
}
