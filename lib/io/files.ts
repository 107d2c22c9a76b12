// Model files on disk: paths as the caller gives them, atomic writes (temporary
// file, fsync, rename), whole-file reads that check the safetensors header
// length first, and system errors restated for the caller's path. All file
// I/O here is asynchronous (libuv's thread pool): nothing blocks the event loop
// for a syscall, and the bytes written are the caller's buffers, not a copy.
import { randomBytes } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';
import { ArgumentRangeError, rangeError, typeError } from '../validate';
import { ModelFileError } from './safetensors';
import { guardTempFile } from './temp-file-guard';

/**
 * Writes atomically: a temporary file in the same directory (so the rename
 * cannot cross file systems), written and fsynced, then renamed over the
 * target; the directory is fsynced so the rename itself survives a crash.
 * A failure leaves any previous file untouched and removes the temporary one,
 * and so does a thread or process that stops mid-write (temp-file-guard.ts).
 * `bytes` may be a list of pieces (a header and each tensor's bytes), written
 * one after the other as they are: the file is their concatenation, which
 * nobody has to build in memory.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
  try {
    await writeThenRename(path, bytes instanceof Uint8Array ? [bytes] : bytes);
  } catch (e) {
    // The system error names the temporary file ('.m.safetensors.1234.ab12.tmp'), which the caller never chose.
    throw fileError(e, 'write', path);
  }
}

/**
 * A file-system error restated for the path the caller gave: "ENOENT: cannot
 * write 'dir/m.safetensors': no such file or directory", with the original's
 * code, errno and syscall kept (and it as the cause). Other errors pass through.
 */
export function fileError(e: unknown, action: 'read' | 'write', path: string): unknown {
  const sys = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof sys.code !== 'string' || typeof sys.errno !== 'number') return e;
  const reason = getSystemErrorMap().get(sys.errno)?.[1] ?? sys.message;
  const out = new Error(`${sys.code}: cannot ${action} '${path}': ${reason}` +
    (sys.code === 'EISDIR' ? ' (the path is a directory; give a file name)' : ''), { cause: e }) as NodeJS.ErrnoException;
  out.code = sys.code;
  out.errno = sys.errno;
  if (sys.syscall !== undefined) out.syscall = sys.syscall;
  out.path = path;
  return out;
}

async function writeThenRename(path: string, pieces: readonly Uint8Array[]): Promise<void> {
  await refuseSpecialFile(path);
  const dir = nodePath.dirname(path);
  const tmp = nodePath.join(dir, `.${nodePath.basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const release = guardTempFile(tmp);
  try {
    const handle = await fs.open(tmp, 'wx');
    try {
      try {
        await writePieces(handle, pieces);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, path);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  } finally {
    release();
  }
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the file itself is synced.
  }
}

/**
 * The rename puts a new file in place of whatever the path names: refuse a
 * device, FIFO or socket there. Run as root, model.save('/dev/null') (a
 * benchmark discarding its output) replaced the system's /dev/null with a
 * model file. A symlink is replaced itself, as before; a directory fails
 * in rename (EISDIR); an absent path is simply created.
 */
async function refuseSpecialFile(path: string): Promise<void> {
  let kind: string | null = null;
  try {
    kind = specialFileKind(await fs.lstat(path));
  } catch {
    return;  // absent, or not inspectable: the write reports what is wrong
  }
  if (kind !== null) {
    throw new ArgumentRangeError(`Expected a regular file (or a new one) for path but received '${path}', ${kind}: ` +
      'saving writes a new file and renames it over the path, which would replace it');
  }
}

/** 'a FIFO' and the like for what is neither a regular file, a directory nor a symlink; null for those. */
function specialFileKind(st: Stats): string | null {
  return st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device'
    : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : null;
}

/** Writes each piece whole, in order (a write may take fewer bytes than given: loop until it took all). */
async function writePieces(handle: fs.FileHandle, pieces: readonly Uint8Array[]): Promise<void> {
  for (const piece of pieces) {
    let done = 0;
    while (done < piece.byteLength) {
      const { bytesWritten } = await handle.write(piece, done, piece.byteLength - done);
      done += bytesWritten;
    }
  }
}

/**
 * A file path as fs takes it: a non-empty string, or a file: URL (ESM code
 * writes `new URL('./model.safetensors', import.meta.url)`), as a string.
 */
export function filePath(path: unknown): string {
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw rangeError('path', "a file: URL", path.href);
    return fileURLToPath(path);
  }
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty file path string or file: URL', path);
  return path;
}

/**
 * Reads a safetensors file, checking its header length against the file's size
 * after reading only 8 bytes, so a garbage or foreign file of any size is
 * refused without being read. decodeSafetensors then bounds everything else.
 */
export async function readSafetensorsFile(path: string): Promise<Buffer> {
  try {
    return await readWhole(path);
  } catch (e) {
    throw fileError(e, 'read', path);  // e.g. a directory: Node's EISDIR message does not name it
  }
}

async function readWhole(path: string): Promise<Buffer> {
  // Before open: opening a FIFO blocks until a writer comes, which held one of
  // libuv's four pool threads for good (and with them the native engine's
  // workers); a FIFO or device has no size to check the header against anyway.
  const kind = specialFileKind(await fs.stat(path));
  if (kind !== null) {
    throw new ArgumentRangeError(`Expected a regular file for path but received '${path}', ${kind}: a model file is read whole, its size known first`);
  }
  const handle = await fs.open(path, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    if (bytesRead === 8 && head.readBigUInt64LE(0) > BigInt(size - 8)) {
      throw new ModelFileError(`'${path}' is not a valid model file: its header claims ${head.readBigUInt64LE(0)} bytes ` +
        `but only ${size - 8} follow (truncated or not a safetensors file)`);
    }
    const bytes = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const r = await handle.read(bytes, done, size - done, done);
      if (r.bytesRead === 0) break;  // shrank while we read: decode sees it truncated
      done += r.bytesRead;
    }
    return bytes.subarray(0, done);
  } finally {
    await handle.close();
  }
}
