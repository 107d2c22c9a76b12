// Temporary directories for tests, removed after the test file's last test, so
// that a run of the suite leaves nothing behind in the system's temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const created: string[] = [];

/** A fresh directory named `<prefix>XXXXXX` under the system's temp dir. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

// Registered at import, so once per test file (vitest imports this module afresh in each file).
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});
