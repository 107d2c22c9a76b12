// Argument checks for the public API (STYLE.md §2, after sharp's lib/is.mjs):
// TypeError for a wrong type, RangeError for a bad shape or value, with
// messages of the form "Expected {what} for {name} but received {actual}".
import { constants as bufferConstants } from 'node:buffer';
import { totalmem } from 'node:os';

/**
 * The stable `code` of every argument error lib/ throws, the same the native
 * binding sets (native/binding/errors.h): callers can branch on it without
 * parsing messages. Subclasses of the built-ins, so `instanceof TypeError`,
 * `err.name` and stack traces stay as users expect.
 */
export const INVALID_ARGUMENT = 'ERR_FASTMLP_INVALID_ARGUMENT';

export class ArgumentTypeError extends TypeError {
  readonly code = INVALID_ARGUMENT;
}

export class ArgumentRangeError extends RangeError {
  readonly code = INVALID_ARGUMENT;
}

/** The code of every call on a disposed model or plan (the binding's too). */
export const DISPOSED = 'ERR_FASTMLP_DISPOSED';

/** The code of a call on a model or plan that is training (the binding's too). */
export const BUSY = 'ERR_FASTMLP_BUSY';

/** An Error carrying a code (DISPOSED, BUSY, ...), and its cause when given. */
export function codedError(message: string, code: string, cause?: unknown): Error {
  const e = cause === undefined ? new Error(message) : new Error(message, { cause });
  (e as Error & { code: string }).code = code;
  return e;
}

export function disposedError(what: string): Error {
  return codedError(`Cannot run ${what}: this model was disposed (dispose() freed its memory); create a new one`, DISPOSED);
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  switch (typeof value) {
    case 'number': return `${value}`;
    case 'string': return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
    case 'undefined': return 'undefined';
    case 'function': return 'a function';
    case 'object': return `an object (${(value as object).constructor?.name ?? 'Object'})`;
    default: return `a ${typeof value}`;
  }
}

export function typeError(name: string, what: string, actual: unknown): TypeError {
  return new ArgumentTypeError(`Expected ${what} for ${name} but received ${describe(actual)}`);
}

export function rangeError(name: string, what: string, actual: unknown): RangeError {
  return new ArgumentRangeError(`Expected ${what} for ${name} but received ${describe(actual)}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An integer in [min, max]. */
export function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw typeError(name, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(name, `an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]`, value);
  }
  return value;
}

/** A finite number in [min, max] (bounds inclusive unless stated otherwise). */
export function number(name: string, value: unknown, min = -Infinity, max = Infinity,
                       { minExclusive = false, maxExclusive = false } = {}): number {
  if (typeof value !== 'number') throw typeError(name, 'a number', value);
  const ok = Number.isFinite(value) &&
    (minExclusive ? value > min : value >= min) && (maxExclusive ? value < max : value <= max);
  if (!ok) {
    const lo = min === -Infinity ? '(-∞' : `${minExclusive ? '(' : '['}${min}`;
    const hi = max === Infinity ? '∞)' : `${max}${maxExclusive ? ')' : ']'}`;
    throw rangeError(name, `a finite number in ${lo}, ${hi}`, value);
  }
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
  return value;
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw typeError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  if (!(allowed as readonly string[]).includes(value)) {
    throw rangeError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

/**
 * An options object (or undefined → {}) whose keys are all known: a typo such
 * as `{ epoch: 5 }` fails loudly instead of being silently ignored.
 */
export function options<K extends string>(name: string, value: unknown, known: readonly K[]): Partial<Record<K, unknown>> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw typeError(name, 'an options object', value);
  for (const key of Object.keys(value)) {
    if (!(known as readonly string[]).includes(key)) {
      throw new ArgumentRangeError(`Unknown option '${key}' for ${name}; expected one of ${known.join(', ')}`);
    }
  }
  return value as Partial<Record<K, unknown>>;
}

/**
 * A typed array the engines may read later, possibly from a worker thread:
 * its buffer must be a plain, fixed-length, attached ArrayBuffer. A
 * SharedArrayBuffer could change under a running epoch and a resizable one
 * could shrink below the length checked here (classic-level rejects both);
 * a transferred (detached) buffer reads as empty.
 */
export function ownedBuffer(name: string, view: ArrayBufferView): void {
  const buf = view.buffer as ArrayBuffer & { detached?: boolean; resizable?: boolean };
  if (typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer) {
    throw typeError(name, 'a typed array over an ArrayBuffer, not a SharedArrayBuffer (copy it with .slice() first)', view);
  }
  if (buf.resizable === true) {
    throw typeError(name, 'a typed array over a fixed-length ArrayBuffer, not a resizable one (copy it with .slice() first)', view);
  }
  attachedBuffer(name, view);
}

/** A typed array whose buffer was not transferred away (a detached buffer reads as empty). */
export function attachedBuffer(name: string, view: ArrayBufferView): void {
  const buf = view.buffer as ArrayBuffer & { detached?: boolean };
  // `detached` is Node ≥ 22; before that a detached buffer has byteLength 0.
  if (buf.detached === true || (buf.byteLength === 0 && isDetached(buf))) {
    throw rangeError(name, 'a typed array whose buffer is not detached (it was transferred)', view);
  }
}

/**
 * A file's bytes for the synchronous decoders (fromBuffer and the others): a
 * Uint8Array (a Buffer is one) whose buffer is attached. Shared or resizable
 * buffers are fine: the decoder reads them within the call.
 */
export function fileBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw typeError(name, 'a Buffer or Uint8Array', value);
  attachedBuffer(name, value);
  return value;
}

function isDetached(buf: ArrayBuffer): boolean {
  try {
    // Any view over a detached buffer throws a TypeError; over an empty attached one it is fine.
    new Uint8Array(buf);
    return false;
  } catch {
    return true;
  }
}

// The largest typed array this Node can allocate, and the machine's memory: a
// size beyond either fails here with a RangeError naming the argument, not
// later as an engine's out-of-memory error or a half-built object.
const MAX_TYPED_ARRAY_BYTES = bufferConstants.MAX_LENGTH;
const TOTAL_MEMORY_BYTES = totalmem();

/**
 * Checks that `elements` values of `bytesPerElement` bytes each (a product of
 * sizes the caller computed in doubles, so an overflow shows as a huge or
 * unsafe number rather than wrapping) can be allocated; returns `elements`.
 */
export function allocationSize(name: string, elements: number, bytesPerElement: number): number {
  const bytes = elements * bytesPerElement;
  if (!Number.isSafeInteger(elements) || elements < 0) {
    throw new ArgumentRangeError(`Expected sizes whose product is a safe integer for ${name} but received ${elements}`);
  }
  if (bytes > MAX_TYPED_ARRAY_BYTES || bytes > TOTAL_MEMORY_BYTES) {
    const limit = Math.min(MAX_TYPED_ARRAY_BYTES, TOTAL_MEMORY_BYTES);
    throw new ArgumentRangeError(`Expected at most ${limit} bytes for ${name} (the largest buffer this machine and Node can hold) ` +
      `but received ${elements} values of ${bytesPerElement} bytes (${bytes} bytes)`);
  }
  return elements;
}
