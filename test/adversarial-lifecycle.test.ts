// An adversarial audit's lifecycle probe that no other test covered: the
// kernels' thread count changed (setThreads) every millisecond while native
// fits, passes and predictions run on three threads at once. It did not crash
// when the audit tried it; this keeps it so. In a child process
// (test/fixtures/set-threads-while-training.cjs), so a crash fails the test
// instead of killing the runner. Native only: the JS engine ignores setThreads.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('setThreads while native work runs', () => {
  it('fits, a custom loss\'s passes, a stream, predictAsync and evaluateAsync on the main thread and two workers: no crash, finite results', async () => {
    const fixture = path.join(__dirname, 'fixtures', 'set-threads-while-training.cjs');
    const child = await new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
      const p = execFile(process.execPath, [fixture], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8', timeout: 120_000 },
        (_err, stdout, stderr) => resolve({ status: p.exitCode, signal: p.signalCode, stdout, stderr }));
    });
    expect({ status: child.status, signal: child.signal, stderr: child.stderr.slice(0, 2000) }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(JSON.parse(child.stdout.trim().split('\n').pop()!)).toEqual({ finite: [true, true, true] });
  }, 130_000);
});
