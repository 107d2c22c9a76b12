// The lifecycle hazards a service author meets with worker_threads, in both
// engines: terminate() and process.exit() with native work in flight, models
// dropped with their thread, a model's copy carried across threads, and an
// AbortSignal aborted from another thread's message. The hazards that could
// crash run in a child process (test/fixtures/worker-lifecycle.cjs), so a crash
// fails the test instead of killing the runner; its JSON line is the result.
import * as path from 'node:path';
import { transferableAbortSignal } from 'node:util';
import { Worker, type Transferable } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Matrix, Sequential } from '../lib';
import { runFixture, type FixtureRun } from './fixture-child';
import { ENGINES } from './helpers';

const root = path.resolve(__dirname, '..');
const fixture = path.join(__dirname, 'fixtures', 'worker-lifecycle.cjs');
const MB = 1024 * 1024;
// The one error a call may give as its thread is torn down (lib/engines/native.ts, started).
const SHUTTING_DOWN = /could not start: this thread is shutting down/;

type Child = FixtureRun;

const child = (args: string[], timeoutMs: number): Promise<Child> => runFixture(fixture, args, timeoutMs, ['--expose-gc']);

/** The child ended by itself with `status` (no signal: no crash, and no timeout kill). */
function expectExit(c: Child, status: number): void {
  expect({ status: c.status, signal: c.signal, stderr: c.stderr.slice(0, 2000) }).toEqual({ status, signal: null, stderr: '' });
}

describe.each(ENGINES)('worker_threads lifecycle (%s engine)', (engine) => {
  // Each call would last a minute or more on one thread (the fixture's heavy
  // model). Before the binding probed its environment (native/binding/env_probe.h)
  // a native epoch without batch hooks or a predictAsync ran to its end after
  // terminate(): with the build before it, 2 terminations took > 100 s behind
  // fit and 84 s behind a prediction of half these rows; now ~1 s per run.
  it.each(['fit', 'fit-observe', 'predict', 'evaluate'])(
    'terminate() while a long %s runs in the worker: the thread ends (code 1) at once and the process survives', async (op) => {
      const c = await child(['terminate', engine, op, '3', '1'], 60_000);
      expectExit(c, 0);
      expect(c.result).toMatchObject({ runs: 3, codes: [1, 1, 1], errors: [] });
      for (const text of (c.result as { teardown: string[] }).teardown) expect(text).toMatch(SHUTTING_DOWN);
    }, 70_000);

  // Terminations landing anywhere in the work (the light model repeats it):
  // mid-batch, between epochs, while a save writes (leaving no temporary file), while a promise settles.
  // fit-acting-big and fit-loss-big: batches stepped off the main thread (a one-batch epoch, a custom loss's passes).
  it.each(['fit', 'fit-observe', 'fit-acting', 'fit-acting-big', 'fit-loss-big', 'predict', 'evaluate', 'save'])(
    'terminate() during a repeated %s, 12 times at varying moments: no crash, no error in the thread', async (op) => {
      const c = await child(['terminate', engine, op, '12', '0'], 90_000);
      expectExit(c, 0);
      expect(c.result).toMatchObject({ runs: 12, codes: Array(12).fill(1), errors: [], leftTemp: 0 });
      // A call starting as the thread was torn down may fail, with this message only.
      for (const text of (c.result as { teardown: string[] }).teardown) expect(text).toMatch(SHUTTING_DOWN);
    }, 100_000);

  describe.each(['observer', 'acting', 'timer-fit', 'timer-predict'])('process.exit(7) during a long fit or predictAsync (%s)', (how) => {
    it('on the main thread: the process ends with 7 instead of waiting for the work', async () => {
      expectExit(await child(['exit', engine, 'main', how], 60_000), 7);
    }, 70_000);

    it('in a worker: the thread ends with 7, the parent goes on', async () => {
      const c = await child(['exit', engine, 'worker', how], 60_000);
      expectExit(c, 0);
      expect(c.result).toEqual({ code: 7, errors: [] });
    }, 70_000);
  });

  it('8 workers each holding 3 models of ~67 MB end without dispose(): their memory is returned', async () => {
    const c = await child(['models', engine, '8', '3'], 120_000);
    expectExit(c, 0);
    const r = c.result as { created: number; startBytes: number; peakBytes: number; endBytes: number; errors: string[] };
    expect(r.errors).toEqual([]);
    expect(r.created).toBe(24);
    expect(r.peakBytes - r.startBytes).toBeGreaterThan(150 * MB);   // the models were there
    // Kept, 24 models would hold ~1.6 GB; a loose bound for allocator slack.
    expect(r.endBytes - r.startBytes).toBeLessThan(300 * MB);
  }, 130_000);
});

// ---- in this process: nothing here is expected to crash ----------------------

const dist = JSON.stringify(path.join(root, 'dist'));

/** Runs `code` in a worker; resolves with its messages once it exited (and its exit code). */
function runWorker(code: string, onMessage?: (w: Worker, m: unknown) => void): Promise<{ messages: unknown[]; code: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    const messages: unknown[] = [];
    w.on('message', (m) => { messages.push(m); onMessage?.(w, m); });
    w.on('error', reject);
    w.on('exit', (exitCode) => resolve({ messages, code: exitCode }));
  });
}

describe.each(ENGINES)('models across threads (%s engine)', (engine) => {
  it('a model is not shareable (postMessage throws DataCloneError); toBuffer bytes, transferred, load on the main thread after the worker exited', async () => {
    const { messages, code } = await runWorker(`
      const { parentPort } = require('node:worker_threads');
      const { Sequential, Dense, Matrix } = require(${dist});
      const m = new Sequential([new Dense(6, 16, { activation: 'tanh' }), new Dense(16, 3)], { engine: '${engine}', seed: 5 });
      m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
      const x = new Matrix(64, 6, Float32Array.from({ length: 384 }, (_, i) => Math.cos(i)));
      const y = Int32Array.from({ length: 64 }, (_, i) => i % 3);
      m.fit(x, y, { epochs: 3, batchSize: 8 }).then(() => {
        let refused = null;
        try { parentPort.postMessage(m); } catch (e) { refused = e.name; }
        const bytes = Uint8Array.from(m.toBuffer());   // its own ArrayBuffer (a Buffer may share a pool)
        const pred = Array.from(m.predict(x).data);
        parentPort.postMessage({ refused, bytes, pred }, [bytes.buffer]);
        m.dispose();
      });`);
    expect(code).toBe(0);   // exited: nothing of it is left to use
    const { refused, bytes, pred } = messages[0] as { refused: string; bytes: Uint8Array; pred: number[] };
    expect(refused).toBe('DataCloneError');
    const x = new Matrix(64, 6, Float32Array.from({ length: 384 }, (_, i) => Math.cos(i)));
    const same = Sequential.fromBuffer(bytes, { engine });
    expect(Array.from(same.predict(x).data)).toEqual(pred);   // bit for bit in the same engine
    const other = Sequential.fromBuffer(bytes, { engine: engine === 'native' ? 'js' : 'native' });
    const otherPred = other.predict(x).data;
    for (let i = 0; i < pred.length; i++) expect(otherPred[i]).toBeCloseTo(pred[i]!, 5);   // parity
    // Trains on where the worker stopped (the optimizer state travels too).
    const h = await same.fit(x, Int32Array.from({ length: 64 }, (_, i) => i % 3), { epochs: 1, batchSize: 8 });
    expect(Number.isFinite(h.history.loss![0])).toBe(true);
  });
});

describe.each(ENGINES)('AbortSignal driven from another thread (%s engine)', (engine) => {
  // The worker owns the controller; the parent's message aborts it with a reason
  // (structured-cloned), which fit / predictAsync / evaluateAsync must surface
  // as the AbortError's cause — the very object that is the signal's reason.
  const program = (op: string) => `
    const { parentPort } = require('node:worker_threads');
    const { Sequential, Dense, Matrix } = require(${dist});
    const heavy = ${op !== 'fit'};   // a prediction long enough that the abort arrives while it runs
    const rows = heavy ? 200000 : 2000;
    const m = new Sequential(heavy
      ? [new Dense(16, 2048, { activation: 'relu' }), new Dense(2048, 2048, { activation: 'relu' }), new Dense(2048, 4)]
      : [new Dense(16, 32, { activation: 'relu' }), new Dense(32, 4)], { engine: '${engine}', seed: 3 });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    const x = new Matrix(rows, 16, Float32Array.from({ length: rows * 16 }, (_, i) => Math.sin(i)));
    const y = Int32Array.from({ length: rows }, (_, i) => i % 4);
    const controller = new AbortController();
    parentPort.on('message', (msg) => { if ('reason' in msg) controller.abort(msg.reason); else controller.abort(); });
    const { signal } = controller;
    let told = false;
    const started = () => { if (!told) { told = true; parentPort.postMessage('started'); } };
    const run = ${JSON.stringify(op)} === 'fit'
      ? m.fit(x, y, { epochs: 100000, batchSize: 16, signal, callbacks: [{ observeOnly: true, onBatchEnd: started }] })
      : (setTimeout(started, 50), ${JSON.stringify(op)} === 'predict' ? m.predictAsync(x, { signal }) : m.evaluateAsync(x, y, { signal }));
    run.then(() => parentPort.postMessage({ resolved: true }), (e) => {
      parentPort.postMessage({ name: e.name, code: e.code, cause: e.cause, causeIsReason: e.cause === signal.reason,
                               causeName: e.cause && e.cause.name, history: e.history ? e.history.epoch.length : null });
      parentPort.close();
      m.dispose();
    });`;

  it.each(['fit', 'predict', 'evaluate'])('%s rejects with an AbortError whose cause is the reason sent by the parent', async (op) => {
    const reason = { why: 'shutdown', requestId: 42, nested: [1, 'two'] };
    const { messages, code } = await runWorker(program(op), (w, m) => { if (m === 'started') w.postMessage({ reason }); });
    expect(code).toBe(0);
    expect(messages[0]).toBe('started');
    expect(messages[1]).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason, causeIsReason: true });
    if (op === 'fit') expect(typeof (messages[1] as { history: unknown }).history).toBe('number');
  }, 60_000);

  it('a signal made transferable (util.transferableAbortSignal) and aborted on the main thread stops fit in the worker', async () => {
    const controller = new AbortController();
    const signal = transferableAbortSignal(controller.signal);
    const w = new Worker(`
      const { parentPort } = require('node:worker_threads');
      const { Sequential, Dense, Matrix } = require(${dist});
      parentPort.once('message', ({ signal }) => {
        const m = new Sequential([new Dense(16, 32, { activation: 'relu' }), new Dense(32, 4)], { engine: '${engine}', seed: 3 });
        m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
        const x = new Matrix(2000, 16, Float32Array.from({ length: 32000 }, (_, i) => Math.sin(i)));
        const y = Int32Array.from({ length: 2000 }, (_, i) => i % 4);
        let told = false;
        m.fit(x, y, { epochs: 100000, batchSize: 16, signal,
                      callbacks: [{ observeOnly: true, onBatchEnd: () => { if (!told) { told = true; parentPort.postMessage('started'); } } }] })
          .then(() => parentPort.postMessage({ resolved: true }), (e) => {
            parentPort.postMessage({ name: e.name, code: e.code, causeIsReason: e.cause === signal.reason, aborted: signal.aborted });
            parentPort.close();
          });
      });`, { eval: true });
    const messages: unknown[] = [];
    const exited = new Promise<number>((resolve, reject) => { w.on('exit', resolve); w.on('error', reject); });
    w.on('message', (m) => { messages.push(m); if (m === 'started') controller.abort('stop'); });
    w.postMessage({ signal }, [signal as unknown as Transferable]);
    expect(await exited).toBe(0);
    // Node 20 carries the abort across but not its reason (the worker's signal.reason is null
    // there): fit reports whatever reason the worker's own signal holds.
    expect(messages).toEqual(['started', { name: 'AbortError', code: 'ABORT_ERR', causeIsReason: true, aborted: true }]);
  }, 60_000);

  it('an abort without a reason surfaces the signal\'s default reason (a DOMException named AbortError)', async () => {
    const { messages } = await runWorker(program('fit'), (w, m) => { if (m === 'started') w.postMessage({}); });
    expect(messages[1]).toMatchObject({ name: 'AbortError', causeIsReason: true, causeName: 'AbortError' });
  }, 60_000);
});
