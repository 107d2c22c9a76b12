// Streamed training data for Sequential.fit: data larger than memory, read a
// chunk at a time (from disk, a database, a socket). A source is
//   - a function returning a fresh AsyncIterable or Iterable of chunks — called
//     once per epoch, so it suits any number of epochs; or
//   - an AsyncIterable or Iterable (an array too) of chunks, iterated once per
//     epoch as it is: an async generator object gives its chunks only once,
//     so with epochs > 1 the second epoch finds it empty (fit then throws).
// Each chunk is `{ x, y }` with any number of rows, in any form fit accepts for
// x and y; fit trains it in mini-batches of batchSize, in the stream's order
// (shuffle, off by default for streams, shuffles rows within each chunk).
import type { Target } from './engine';
import type { DataChunk } from './fit-epoch';
import { Matrix, requireFinite } from './matrix';
import { typeError } from './validate';

export interface StreamChunk {
  x: unknown;
  y: unknown;
}

export type StreamSource = (() => AsyncIterable<StreamChunk> | Iterable<StreamChunk>)
  | AsyncIterable<StreamChunk> | Iterable<StreamChunk>;

/**
 * True for what fit treats as streamed data rather than an in-memory x: a
 * function, a non-array (async) iterable, or an array of { x, ... } objects
 * (an in-memory x is never that: its rows are arrays).
 */
export function isStreamSource(value: unknown): value is StreamSource {
  if (typeof value === 'function') return true;
  if (Array.isArray(value)) {
    const first: unknown = value[0];
    return typeof first === 'object' && first !== null && !Array.isArray(first) && !ArrayBuffer.isView(first) && 'x' in first;
  }
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  if (value instanceof Matrix) return false;
  return typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
    typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function';
}

/** Converts one chunk's x and y (validating both); `name` names the chunk in messages. */
export type ChunkConverter = (x: unknown, y: unknown, name: string) => { x: Matrix; y: Target };

/**
 * The per-epoch chunk stream fit's loop consumes: validates and converts each
 * chunk, names the epoch and chunk in errors.
 */
export function streamChunks(source: StreamSource, convert: ChunkConverter): (epoch: number) => AsyncIterable<DataChunk> {
  return (epoch) => ({
    async *[Symbol.asyncIterator]() {
      const iterable = typeof source === 'function' ? source() : source;
      if (!isIterable(iterable)) {
        throw typeError('the data source function\'s result', 'an AsyncIterable or Iterable of { x, y } chunks', iterable);
      }
      let index = 0;
      for await (const chunk of iterable) {
        const name = `epoch ${epoch + 1} chunk ${index}`;
        if (typeof chunk !== 'object' || chunk === null || !('x' in chunk) || !('y' in chunk)) {
          throw typeError(`data ${name}`, 'an object { x, y }', chunk);
        }
        const { x, y } = convert(chunk.x, chunk.y, name);
        requireFinite(x, `x of ${name}`);
        yield { x: x.data, rows: x.rows, y };
        index++;
      }
    },
  });
}

function isIterable(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  return typeof value === 'object' && value !== null &&
    (typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
     typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function');
}
