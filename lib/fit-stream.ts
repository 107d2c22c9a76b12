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
import type { NonFiniteTest } from './finite-scan';
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
 * chunk, names the epoch and chunk in errors. An abort of `signal` ends it at
 * once, even while the source is still producing a chunk (a stalled read from
 * disk or a socket): the source's iterator is then closed with return(), not
 * awaited, since a source stuck in a read may never answer. anyNonFinite: the
 * model's engine's test for each chunk's x.
 */
export function streamChunks(source: StreamSource, convert: ChunkConverter, anyNonFinite: NonFiniteTest):
    (epoch: number, signal: AbortSignal | null) => AsyncIterable<DataChunk> {
  return (epoch, signal) => ({
    async *[Symbol.asyncIterator]() {
      const iterable = typeof source === 'function' ? source() : source;
      if (!isIterable(iterable)) {
        throw typeError('the data source function\'s result', 'an AsyncIterable or Iterable of { x, y } chunks', iterable);
      }
      const iterator = asyncIterator(iterable);
      // What for-await does when its loop ends early (a break, an error in the
      // body, an abort): close the source. Not after the source ended or threw.
      let open = true;
      let abandoned = false;
      try {
        for (let index = 0; ; index++) {
          let step: IteratorResult<unknown>;
          try {
            const next = await untilAborted(iterator.next(), signal);
            if (next === ABORTED) {
              abandoned = true;
              return;
            }
            step = next;
          } catch (err) {
            open = false;
            throw err;
          }
          if (step.done) {
            open = false;
            return;
          }
          const chunk = step.value;
          const name = `epoch ${epoch + 1} chunk ${index}`;
          if (typeof chunk !== 'object' || chunk === null || !('x' in chunk) || !('y' in chunk)) {
            throw typeError(`data ${name}`, 'an object { x, y }', chunk);
          }
          const { x, y } = convert(chunk.x, chunk.y, name);
          // The fast whole-chunk test first; the walk naming row and column only when it finds something.
          requireFinite(x, `x of ${name}`, anyNonFinite);
          yield { x: x.data, rows: x.rows, y };
        }
      } finally {
        if (open && typeof iterator.return === 'function') {
          const closing = Promise.resolve().then(() => iterator.return!());
          if (abandoned) closing.catch(() => {});  // the source may answer late or never
          else await closing;
        }
      }
    },
  });
}

const ABORTED = Symbol('aborted');

/** The promise's value, or ABORTED as soon as the signal aborts (the promise is then left to settle unobserved). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | null): Promise<T | typeof ABORTED> {
  if (signal === null) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.resolve(ABORTED);
  }
  return new Promise<T | typeof ABORTED>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      resolve(ABORTED);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

/** The source's async iterator; a sync one's values are awaited, as for-await does. */
function asyncIterator(iterable: AsyncIterable<unknown> | Iterable<unknown>): AsyncIterator<unknown> {
  const asyncMethod = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator];
  if (typeof asyncMethod === 'function') return asyncMethod.call(iterable);
  const sync = (iterable as Iterable<unknown>)[Symbol.iterator]();
  return {
    next: async () => {
      const step = sync.next();
      return step.done ? step : { done: false, value: await step.value };
    },
    return: typeof sync.return === 'function' ? async () => sync.return!() : undefined,
  } as AsyncIterator<unknown>;
}

function isIterable(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  return typeof value === 'object' && value !== null &&
    (typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
     typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function');
}
