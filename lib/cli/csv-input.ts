// The CLI's CSV reading: the --delimiter flag, and a hint when a file is read
// with the wrong separator. A semicolon CSV (what spreadsheets write where the
// decimal mark is a comma) read with ',' failed with csv-parse's "Invalid
// Opening Quote" or a non-number cell — neither says what to do.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
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

/** The separator a file's first line suggests instead of `used`: one it holds while holding no `used`. */
function otherSeparator(path: string, used: string): string | null {
  let first: string;
  try {
    const bytes = readFileSync(path);
    first = (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split(/\r?\n/, 1)[0]!;
  } catch {
    return null;
  }
  if (first.includes(used)) return null;
  return COMMON.find((d) => d !== used && first.includes(d)) ?? null;
}

/** loadCsv, with a failure that looks like the wrong separator turned into a hint naming the flag. */
export async function loadCliCsv(path: string, opts: CsvOptions): Promise<CsvData> {
  try {
    return await loadCsv(path, opts);
  } catch (e) {
    const used = opts.delimiter ?? ',';
    const other = otherSeparator(path, used);
    if (other === null) throw withTextColumnHint(e);
    throw new CliError(`'${path}' has no '${shown(used)}' in its first line but has '${shown(other)}': ` +
      `its cells are separated by '${shown(other)}'? Use --delimiter '${shown(other)}' (${(e as Error).message})`, 1);
  }
}

/** A text cell in a feature column: the CLI has no encoder, so say what to do about it. */
function withTextColumnHint(e: unknown): unknown {
  const m = e instanceof RangeError ? /^Expected a number in .*, column '(.*)' \(index \d+\) but received '(.+)'$/.exec(e.message) : null;
  if (!m) return e;
  return new CliError(`${e instanceof Error ? e.message : ''}; feature columns must hold numbers: drop column '${m[1]}' ` +
    'or encode it (one-hot) first, or name it with --target if it is the target', 1);
}
