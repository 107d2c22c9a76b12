// The CLI's CSV reading: the --delimiter flag, and a hint when a file is read
// with the wrong separator. A semicolon CSV (what spreadsheets write where the
// decimal mark is a comma) read with ',' failed with csv-parse's "Invalid
// Opening Quote" or a non-number cell — neither says what to do.
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { loadCsv, type CsvData, type CsvOptions } from '../data/csv';
import { CliError, type Parsed } from './args';

/** Separators worth suggesting when the one used finds a single column. */
const COMMON = [',', ';', '\t', '|'];

/** --delimiter as given ('\t' or 'tab' for a tab); undefined when the flag is absent. */
export function delimiterFlag(values: Parsed['values']): string | undefined {
  const v = values['delimiter'];
  if (v === undefined) return undefined;
  const text = typeof v === 'string' ? v : '';
  if (text === '\\t' || text === 'tab') return '\t';
  if (text === '' || /["\r\n]/.test(text)) {
    throw new CliError(`Expected a cell separator such as ',' ';' '\\t' for --delimiter but received '${text}'`);
  }
  return text;
}

const shown = (d: string): string => (d === '\t' ? '\\t' : d);

/**
 * The text of the file's first `count` lines (fewer at its end), read a chunk
 * at a time (decompressed for .gz) and no further: neither the hint below nor
 * predict's look at the header may read a file larger than memory whole.
 * Null when the file cannot be read.
 */
export async function firstLines(path: string, count: number): Promise<string | null> {
  const file = createReadStream(path, { highWaterMark: 1 << 16 });
  const stream = path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  const decoder = new StringDecoder('utf8');  // a character split across two chunks stays whole
  let text = '';
  try {
    for await (const chunk of stream) {
      text += decoder.write(chunk as Buffer);
      let end = -1;
      for (let n = 0; n < count; n++) {
        end = text.indexOf('\n', end + 1);
        if (end < 0) break;
      }
      if (end >= 0) return text.slice(0, end + 1);
    }
    return text;
  } catch {
    return null;
  } finally {
    file.destroy();
    if (stream !== file) (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
  }
}

/** The separator a file's first line suggests instead of `used`: one it holds while holding no `used`. */
async function otherSeparator(path: string, used: string): Promise<string | null> {
  const first = (await firstLines(path, 1))?.split(/\r?\n/, 1)[0];
  if (first === undefined || first.includes(used)) return null;
  return COMMON.find((d) => d !== used && first.includes(d)) ?? null;
}

/** loadCsv, with a failure that looks like the wrong separator turned into a hint naming the flag. */
export async function loadCliCsv(path: string, opts: CsvOptions): Promise<CsvData> {
  try {
    return await loadCsv(path, opts);
  } catch (e) {
    throw await cliCsvError(path, opts.delimiter ?? ',', e);
  }
}

/**
 * A CSV reading failure (loadCsv's or csvBatches': the same messages) as the
 * CLI reports it: with a hint naming --delimiter when the file's first line
 * holds another common separator, or one about text in a feature column.
 */
export async function cliCsvError(path: string, used: string, e: unknown): Promise<unknown> {
  const other = await otherSeparator(path, used);
  if (other === null) return withTextColumnHint(e);
  return new CliError(`'${path}' has no '${shown(used)}' in its first line but has '${shown(other)}': ` +
    `its cells are separated by '${shown(other)}'? Use --delimiter '${shown(other)}' (${(e as Error).message})`, 1);
}

/** A text cell in a feature column: the CLI has no encoder, so say what to do about it. */
function withTextColumnHint(e: unknown): unknown {
  const m = e instanceof RangeError ? /^Expected a number in .*, column '(.*)' \(index \d+\) but received '(.+)'$/.exec(e.message) : null;
  if (!m) return e;
  return new CliError(`${e instanceof Error ? e.message : ''}; feature columns must hold numbers: drop column '${m[1]}' ` +
    'or encode it (one-hot) first, or name it with --target if it is the target', 1);
}
