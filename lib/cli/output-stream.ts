// Where `fastmlp predict` writes while it reads: stdout, or an --out file that
// appears only once every row is written. Each write honours backpressure
// (waits for 'drain' when the stream's buffer is full), so a slow consumer —
// a pipe into gzip, a full disk cache — holds the reader back instead of
// letting the predictions pile up in memory.
import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';

export interface LineSink {
  write(text: string): Promise<void>;
  /** Flushes and, for a file, moves it into place. */
  close(): Promise<void>;
  /** After a failure: drops a half-written file (stdout keeps what it has). */
  abort(): Promise<void>;
}

/** Writes `text`, then waits for 'drain' if the stream asked for a pause; a stream error rejects. */
async function writeHonouringBackpressure(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (stream.write(text)) return;
  await once(stream as NodeJS.EventEmitter, 'drain');   // rejects if the stream emits 'error' meanwhile
}

export function streamSink(stream: NodeJS.WritableStream): LineSink {
  return {
    write: (text) => writeHonouringBackpressure(stream, text),
    close: async () => {},
    abort: async () => {},
  };
}

/**
 * A file written under a temporary name beside `path` and renamed over it at
 * the end, as the whole-file write it replaces behaved: a failure at row
 * 10 million leaves no truncated predictions file (nor clobbers an old one).
 */
export function fileSink(path: string): LineSink {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const stream = createWriteStream(temp);
  let failure: unknown = null;
  stream.on('error', (e) => { failure ??= e; });
  return {
    write: async (text) => {
      if (failure) throw failure;
      await writeHonouringBackpressure(stream, text);
    },
    close: async () => {
      if (failure) throw failure;
      stream.end();
      await once(stream, 'close');
      if (failure) throw failure;
      await fs.rename(temp, path);
    },
    abort: async () => {
      stream.destroy();
      await fs.rm(temp, { force: true });
    },
  };
}
