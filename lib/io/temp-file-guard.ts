// A save's temporary file must not outlive a thread or process that stops
// mid-save: `.name.pid.hex.tmp` would stay beside the target (the target
// itself intact, the directory littered on every such shutdown).
// - process.exit() (main thread or worker) runs 'exit' listeners, but not the
//   save's finally: a listener here removes what is still pending.
// - A worker_thread terminated while its save awaits the write or fsync runs
//   no more JavaScript at all: the addon removes the tracked files at the
//   thread's teardown (native/binding/temp_files.h), so a save loads the
//   addon (once) even for a JS-engine model. Without the addon (the JS
//   fallback) that case leaves the file behind.
import { rmSync } from 'node:fs';
import { loadNative, nativeAvailable } from '../native';

const pending = new Set<string>();
let exitListener = false;

function removePending(): void {
  for (const path of pending) {
    try {
      rmSync(path, { force: true });
    } catch {
      // At exit there is no one to tell; the next save uses a fresh name.
    }
  }
}

/**
 * Tracks `path` until the returned function is called: if the thread or the
 * process ends first, the file is removed. Track before the file is created,
 * so that a stop during the open is covered too.
 */
export function guardTempFile(path: string): () => void {
  if (!exitListener) {
    process.on('exit', removePending);
    exitListener = true;
  }
  pending.add(path);
  const native = nativeAvailable() ? loadNative() : null;
  const id = native?.trackTempFile(path);
  return () => {
    pending.delete(path);
    if (id !== undefined) native!.untrackTempFile(id);
  };
}
