// A CSV file read a chunk at a time, as blocks of records (csv-records.ts's
// CsvRecords) whose line numbers continue across blocks: the streaming
// counterpart of csvRecords(text) for files larger than memory. csv-stream.ts
// turns the blocks into batches of rows.
//
// Each chunk's complete lines go to the quote-free reader (quoteFreeRecords),
// the leftover partial line waits for the next chunk, so memory holds one
// chunk and the longest line, never the file. The quote-free reader gives
// csv-parse's records only for texts that quoteFreeReadable accepts (no quote
// character, one line-break style: see csv-records.ts). The first block that
// fails that test, and everything after it, goes through csv-parse's streaming
// parser instead, started at that block's first line: no quote came before, so
// that line starts a record, and csv-parse is told the line break it would
// have found at the top of the file (the first one, '\n' or '\r\n'), so the
// records, cells and line numbers are those csv-parse gives the whole text.
import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import { parse } from 'csv-parse';
import { quoteFreeReadable, quoteFreeRecords, type CsvRecords } from './csv-records';

export interface RecordBlock {
  records: CsvRecords;
  /** File lines before this block: records.line(r) + lineOffset is the line in the file. */
  lineOffset: number;
}

/** csv-parse's streaming parser hands over records in blocks of this many. */
const PARSED_BLOCK = 4096;

/** The bytes of `path`, `chunkSize` at a time (decompressed first for a .gz file). */
function fileChunks(path: string, chunkSize: number): AsyncIterator<Buffer> & { destroy(): void } {
  const file = createReadStream(path, { highWaterMark: chunkSize });
  let stream: NodeJS.ReadableStream & { destroy(): void } = file;
  if (path.endsWith('.gz')) {
    const gunzip = createGunzip({ chunkSize: Math.max(64, chunkSize) });
    pipeline(file, gunzip, () => {});  // a read error reaches gunzip, and the iteration below
    stream = gunzip;
  }
  const iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  return Object.assign(iterator, { destroy: () => { file.destroy(); stream.destroy(); } });
}

/**
 * The records of a CSV file in blocks, read `chunkSize` bytes at a time.
 * Breaking out of the loop (or an error) closes the file.
 */
export async function* csvRecordBlocks(path: string, delimiter: string, chunkSize: number): AsyncGenerator<RecordBlock> {
  const chunks = fileChunks(path, chunkSize);
  // UTF-8 as loadCsv's Buffer.toString reads it (a bad byte becomes U+FFFD, a
  // BOM stays and is trimmed from the first cell); a character split between
  // two chunks is completed by the next. Faster here than TextDecoder.
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let lineOffset = 0;
  let crlf: boolean | null = null;  // the file's line break, from its first
  try {
    for (;;) {
      const step = await chunks.next();
      const text = pending + (step.done ? decoder.end() : decoder.write(step.value));
      const lastLf = text.lastIndexOf('\n');
      const complete = step.done ? text : text.slice(0, lastLf + 1);
      pending = step.done ? '' : text.slice(lastLf + 1);
      if (complete.length > 0) {
        const firstLf = complete.indexOf('\n');
        if (crlf === null && firstLf >= 0) crlf = complete.charCodeAt(firstLf - 1) === 13;
        if (!quoteFreeReadable(complete, delimiter) || (firstLf >= 0 && complete.includes('\r') !== crlf)) {
          yield* parsedBlocks(complete + pending, step.done ? null : chunks, decoder, delimiter, crlf, lineOffset);
          return;
        }
        const records = quoteFreeRecords(complete, delimiter);
        if (records.length > 0) yield { records, lineOffset };
        lineOffset += lineCount(complete);
      }
      if (step.done) return;
    }
  } finally {
    chunks.destroy();
  }
}

/** Lines in a text that quoteFreeRecords counted: one per '\n', and a last one without it. */
function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n : n + 1;
}

/**
 * The rest of the file through csv-parse: `head` (the text from a record's
 * start on), then what `chunks` still holds. Options as csvParseRecords's.
 */
async function* parsedBlocks(head: string, chunks: AsyncIterator<Buffer> | null, decoder: StringDecoder, delimiter: string,
  crlf: boolean | null, lineOffset: number): AsyncGenerator<RecordBlock> {
  async function* texts(): AsyncGenerator<string> {
    yield head;
    if (chunks === null) return;
    for (;;) {
      const step = await chunks.next();
      if (step.done) {
        const tail = decoder.end();
        if (tail.length > 0) yield tail;
        return;
      }
      yield decoder.write(step.value);
    }
  }
  const parser = parse({
    delimiter,
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    info: true,
    // What csv-parse detects at the top of the file; unknown (no line break before this block): it detects it here.
    ...(crlf === null ? {} : { record_delimiter: crlf ? '\r\n' : '\n' }),
  });
  pipeline(Readable.from(texts()), parser, () => {});  // an error ends the loop below with it
  let cells: string[][] = [];
  let lines: number[] = [];
  const block = (): RecordBlock => {
    const c = cells;
    const l = lines;
    cells = [];
    lines = [];
    return { records: { length: c.length, record: (r) => c[r]!, line: (r) => l[r]! }, lineOffset };
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      cells.push(record);
      lines.push(info.lines);
      if (cells.length === PARSED_BLOCK) yield block();
    }
  } finally {
    parser.destroy();
  }
  if (cells.length > 0) yield block();
}
