// A native fit that would run for minutes, in a worker_thread or a child
// process, and the two checks that its environment going away ends it at once:
// worker.terminate() and process.exit() while the epoch's worker thread waits
// on a slow (or never-settling) observer. Shared by the backpressure tests.
// Child processes and threads load the built package (npm test builds dist/ first).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { expect } from 'vitest';

const dist = path.resolve(__dirname, '..', 'dist');

/**
 * A script that starts the fit and defines `seen`; `onBatchEnd` is the
 * observeOnly callback's source, which must call `started()` (defined by the
 * caller's script) once `++seen === 20`.
 */
export function fitForeverScript(onBatchEnd: string): string {
  return `
  const { Sequential, Dense, Matrix } = require(${JSON.stringify(dist)});
  const rows = 200000;
  const x = new Matrix(rows, 4, Float32Array.from({ length: rows * 4 }, (_, i) => Math.sin(i)));
  const y = Int32Array.from({ length: rows }, (_, i) => i % 3);
  const m = new Sequential([new Dense(4, 8, { activation: 'tanh' }), new Dense(8, 3)], { engine: 'native', seed: 1 });
  m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
  const busy = (ms) => { const until = performance.now() + ms; while (performance.now() < until); };
  let seen = 0;
  // 50,000 batches at a few ms each: minutes, unless the fit is cut short.
  const fit = m.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false,
    callbacks: [{ observeOnly: true, onBatchEnd: ${onBatchEnd} }] });
`;
}

/** Runs script in a worker_thread until it has trained 20 batches, then terminates it: within 3 s. */
export async function expectTerminatesPromptly(script: string): Promise<void> {
  const w = new Worker(`${script}
    const { parentPort } = require('node:worker_threads');
    function started() { parentPort.postMessage('training'); }
    fit.then(() => parentPort.postMessage('finished'), (e) => parentPort.postMessage(String(e && e.stack)));`,
  { eval: true });
  const messages: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    w.on('message', (msg) => { messages.push(msg); resolve(); });
    w.on('error', reject);
  });
  expect(messages).toEqual(['training']);
  const t0 = performance.now();
  expect(await w.terminate()).toBe(1);
  expect(performance.now() - t0).toBeLessThan(3000);
}

/** Runs script in a child process whose `started` is startedBody; it must exit with code 7, silently. */
export async function expectExitsWith7(script: string, startedBody: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `${script}
    function started() { ${startedBody} }`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 8000);
    child.on('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  expect(stderr).toBe('');
  expect(code).toBe(7);  // null: it hung, with its main thread joining the blocked worker
}
