// The safetensors container (https://huggingface.co/docs/safetensors, format
// section): an 8-byte little-endian header length N, N bytes of JSON header,
// then the tensor bytes. The header maps each tensor name to
// { dtype, shape, data_offsets: [begin, end] } (offsets relative to the byte
// after the header) and may hold "__metadata__", a string → string map.
//
// Written from the format description, not from the reference implementation.
// Reading trusts nothing in the file: every length and offset is checked
// against the bytes actually present before anything is read, the header is
// parsed with JSON.parse only (nothing from a file is ever evaluated), and the
// tensors must tile the data section exactly — no gaps, no overlaps — as the
// format requires.
import type { Dtype, FloatArray } from '../engine';
import { STEP_BYTES, runSteps, type Steps } from '../steps';
import { widenHalfInto } from './half';

/** One tensor as stored: a dtype, a shape and its values (a copy, never a view of the file). */
export interface StoredTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: FloatArray;
  /** 'F16' or 'BF16' when the file held half precision, widened exactly to float32 in `data`. */
  widenedFrom?: HalfCode;
}

/** The format's half-precision dtypes, read as float32 (lib/io/half.ts). */
export type HalfCode = 'F16' | 'BF16';

export interface SafetensorsContents {
  tensors: StoredTensor[];
  /** Names of tensors of other dtypes, left out when decoding with skipOtherDtypes. */
  skipped: string[];
  metadata: Record<string, string>;
  /** The data section (all bytes after the header), for checksums. */
  dataSection: Buffer;
}

/** The format's dtype codes for the two dtypes fastmlp computes in. */
const DTYPE_CODES: Record<Dtype, string> = { float32: 'F32', float64: 'F64' };
const CODE_DTYPES: Record<string, Dtype> = { F32: 'float32', F64: 'float64' };
const BYTES: Record<Dtype, number> = { float32: 4, float64: 8 };
const HALF_CODES: readonly string[] = ['F16', 'BF16'];
/**
 * Element sizes of the format's dtypes that fastmlp does not read: their
 * tensors can be bounds-checked and skipped (skipNonFloat). The 8-bit floats
 * are among them: no reference to test a conversion against here.
 */
const OTHER_DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8,
};

/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Thrown for any file that is not a well-formed safetensors file. */
export class ModelFileError extends Error {
  readonly code = 'ERR_FASTMLP_MODEL_FILE';
}

/**
 * obj[key] = value as an own, enumerable property whatever the key: names
 * come from files, and a plain assignment to '__proto__' (an own key after
 * JSON.parse) would replace obj's prototype instead of adding an entry.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function fail(source: string, why: string): never {
  throw new ModelFileError(`${source} is not a valid model file: ${why}`);
}

/** The bytes of a typed array, without copying (safetensors is little-endian, as is every host Node supports here). */
export function bytesOf(data: FloatArray): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The bytes before the data section: the 8-byte header length and the JSON
 * header describing `tensors` (laid out in the given order) and `metadata`.
 * The file is this followed by each tensor's bytes in that order (save writes
 * the pieces one after the other; toBuffer concatenates them).
 */
export function safetensorsHeader(tensors: StoredTensor[], metadata: Record<string, string>): Buffer {
  if (!isLittleEndianHost()) throw new Error('fastmlp model files need a little-endian host');
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const end = offset + t.data.byteLength;
    setOwn(header, t.name, { dtype: DTYPE_CODES[t.dtype], shape: t.shape, data_offsets: [offset, end] });
    offset = end;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(8 + headerBytes.length);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  return out;
}

function isLittleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

interface HeaderEntry {
  name: string;
  /** null: another dtype of the format, kept only to check the layout. */
  dtype: Dtype | null;
  /** Set for F16/BF16 tensors (dtype is then float32, their widened form). */
  half: HalfCode | null;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(source: string, name: string, value: unknown, dataLength: number, skipOthers: boolean): HeaderEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(source, `tensor '${name}' has no { dtype, shape, data_offsets } entry`);
  const v = value as Record<string, unknown>;
  const code = typeof v['dtype'] === 'string' ? v['dtype'] : '';
  const half = HALF_CODES.includes(code) ? code as HalfCode : null;
  const dtype = Object.hasOwn(CODE_DTYPES, code) ? CODE_DTYPES[code]! : half !== null ? 'float32' : null;
  const other = dtype === null && skipOthers && Object.hasOwn(OTHER_DTYPE_BYTES, code);
  if (dtype === null && !other) {
    fail(source, `tensor '${name}' has dtype ${JSON.stringify(v['dtype'])}; fastmlp reads F32, F64, F16 and BF16 only` +
      (skipOthers ? '' : ' (io.readWeights can skip other tensors: { skipNonFloat: true })'));
  }
  const width = half !== null ? 2 : dtype !== null ? BYTES[dtype] : OTHER_DTYPE_BYTES[code]!;
  const typeName = half ?? dtype ?? code;
  const shape = v['shape'];
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    fail(source, `tensor '${name}' has shape ${JSON.stringify(shape)}; expected an array of integers ≥ 0`);
  }
  const offsets = v['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(source, `tensor '${name}' has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) {
    fail(source, `tensor '${name}' spans bytes [${begin}, ${end}) but the data section holds ${dataLength} bytes (truncated?)`);
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  if (elements * width !== end - begin) {
    fail(source, `tensor '${name}' of shape [${(shape as number[]).join(', ')}] (${typeName}) needs ${elements * width} bytes but its offsets span ${end - begin}`);
  }
  return { name, dtype, half, shape: shape as number[], begin, end };
}

export interface DecodeOptions {
  /** Leave out tensors of the format's other dtypes instead of refusing the file (default false). */
  skipOtherDtypes?: boolean;
  /**
   * Tensors as views into `buf` where it is aligned for their type (a copy
   * where not), for a caller that copies them elsewhere and drops them (model
   * loading): no copy of the file. Default false: every tensor is a copy, so
   * keeping one does not keep the whole file in memory.
   */
  views?: boolean;
}

/**
 * Decodes a safetensors buffer; `source` (a path or 'buffer') names it in errors.
 * Throws ModelFileError for anything truncated, inconsistent or malformed.
 */
export function decodeSafetensors(buf: Uint8Array, source: string, opts: DecodeOptions = {}): SafetensorsContents {
  return runSteps(decodeSafetensorsSteps(buf, source, opts));
}

/** decodeSafetensors in steps of at most STEP_BYTES copied or widened (lib/steps.ts). */
export function* decodeSafetensorsSteps(buf: Uint8Array, source: string, opts: DecodeOptions = {}): Steps<SafetensorsContents> {
  const skipOtherDtypes = opts.skipOtherDtypes ?? false;
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (bytes.length < 8) fail(source, `${bytes.length} bytes is too short for the 8-byte header length`);
  const headerLength = bytes.readBigUInt64LE(0);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail(source, `its header claims ${headerLength} bytes but only ${bytes.length - 8} follow (truncated or not a safetensors file)`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(source, `its header of ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLength);
  if (n < 2 || bytes[8] !== 0x7b /* '{' */) fail(source, 'its header is not a JSON object (not a safetensors file)');
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', 8, 8 + n));
  } catch (e) {
    fail(source, `its header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(source, 'its header is not a JSON object');

  const dataSection = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(source, '__metadata__ is not a string map');
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(source, `__metadata__['${mk}'] is not a string`);
        setOwn(metadata, mk, mv);
      }
    } else {
      entries.push(parseEntry(source, key, value, dataSection.length, skipOtherDtypes));
    }
  }

  // The tensors must tile the data section: sorted by offset, each begins where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    if (e.begin < expected) fail(source, `tensor '${e.name}' overlaps the tensor before it (bytes ${e.begin} < ${expected})`);
    if (e.begin > expected) fail(source, `bytes [${expected}, ${e.begin}) before tensor '${e.name}' belong to no tensor`);
    expected = e.end;
  }
  if (expected !== dataSection.length) {
    fail(source, `the tensors cover ${expected} bytes but the data section holds ${dataSection.length} (trailing bytes)`);
  }

  const tensors: StoredTensor[] = [];
  const skipped: string[] = [];
  for (const e of entries) {
    if (e.dtype === null) {
      skipped.push(e.name);
      continue;
    }
    const bytesIn = dataSection.subarray(e.begin, e.end);
    if (e.half !== null) {
      const data = new Float32Array(bytesIn.length / 2);
      for (let start = 0; start < data.length; start += STEP_BYTES / 4) {
        const end = Math.min(data.length, start + STEP_BYTES / 4);
        widenHalfInto(bytesIn.subarray(2 * start, 2 * end), data.subarray(start, end), e.half);
        yield;
      }
      tensors.push({ name: e.name, dtype: 'float32', shape: e.shape, data, widenedFrom: e.half });
      continue;
    }
    const width = BYTES[e.dtype];
    const Ctor = e.dtype === 'float32' ? Float32Array : Float64Array;
    const file = bytesIn.buffer;
    if (opts.views === true && file instanceof ArrayBuffer && (bytesIn.byteOffset % width) === 0) {  // a shared buffer is copied
      tensors.push({ name: e.name, dtype: e.dtype, shape: e.shape, data: new Ctor(file, bytesIn.byteOffset, bytesIn.length / width) });
      continue;
    }
    // A copy into a fresh, aligned buffer: the data section need not be aligned,
    // and the model must not keep the file's buffer alive.
    const copy = new Uint8Array(bytesIn.length);
    for (let start = 0; start < copy.length; start += STEP_BYTES) {
      copy.set(bytesIn.subarray(start, Math.min(copy.length, start + STEP_BYTES)), start);
      yield;
    }
    tensors.push({ name: e.name, dtype: e.dtype, shape: e.shape, data: new Ctor(copy.buffer) });
  }
  return { tensors, skipped, metadata, dataSection };
}
