// Runs a test fixture in a child process of its own, so that a crash in it
// fails a test instead of killing the runner. A fixture reports by printing
// one line of JSON last; `result` is that line parsed (null if it printed none).
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export interface FixtureRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  result: Record<string, unknown> | null;
  stderr: string;
}

const root = path.resolve(__dirname, '..');

/** node [nodeArgs] fixture args…, from the package root; asynchronous, so the runner's own messages keep flowing. */
export function runFixture(fixture: string, args: string[], timeoutMs: number, nodeArgs: string[] = []): Promise<FixtureRun> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [...nodeArgs, fixture, ...args], { cwd: root, encoding: 'utf8', timeout: timeoutMs },
      (_err, stdout, stderr) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        resolve({ status: p.exitCode, signal: p.signalCode, result: last.startsWith('{') ? JSON.parse(last) : null, stderr });
      });
  });
}
