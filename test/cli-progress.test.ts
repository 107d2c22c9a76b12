// The one progress implementation (lib/cli/progress.ts) as the CLI and
// callbacks.progressBar use it: a bar with ETA and samples/s on a terminal,
// one line per epoch elsewhere — and, off a terminal, no batch hooks, so the
// native engine keeps running whole epochs on its worker thread.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Dense } from '../lib/layers';
import { Matrix } from '../lib/matrix';
import { Sequential } from '../lib/sequential';
import { progressCallback } from '../lib/cli/progress';
import { ENGINES } from './helpers';

function capture(isTTY: boolean): Writable & { text: string; isTTY: boolean } {
  const stream = new Writable({ write(chunk, _enc, done) { stream.text += String(chunk); done(); } }) as Writable & { text: string; isTTY: boolean };
  stream.text = '';
  stream.isTTY = isTTY;
  // What cli-progress calls on a terminal stream (tty.WriteStream has them).
  Object.assign(stream, { cursorTo: () => true, clearLine: () => true, moveCursor: () => true, columns: 200 });
  return stream;
}

function model(engine: 'native' | 'js'): { m: Sequential; x: Matrix; y: Int32Array } {
  const m = new Sequential([new Dense(4, 8, { activation: 'relu' }), new Dense(8, 3)], { engine, seed: 3 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });
  const x = new Matrix(60, 4, Float32Array.from({ length: 240 }, (_, i) => Math.sin(i * 0.37)));
  return { m, x, y: Int32Array.from({ length: 60 }, (_, i) => i % 3) };
}

describe.each(ENGINES)('progressCallback (%s engine)', (engine) => {
  it('off a terminal: epoch hooks only, one line per epoch with the loss and samples/s', async () => {
    const out = capture(false);
    const cb = progressCallback(out);
    expect(cb.onBatchEnd).toBeUndefined();
    const { m, x, y } = model(engine);
    const h = await m.fit(x, y, { epochs: 3, batchSize: 16, callbacks: [cb] });
    const lines = out.text.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^epoch 3\/3 - loss \d\.\d{4} - accuracy [\d.]+ % - [\d.]+ s - \d+ samples\/s$/);
    expect(Number(lines[2]!.split(' ')[4])).toBeCloseTo(h.history['loss']![2]!, 4);
  });

  it('on a terminal: a per-batch bar with ETA, samples/s and the running loss, then the epoch line', async () => {
    const out = capture(true);
    const cb = progressCallback(out);
    expect(typeof cb.onBatchEnd).toBe('function');
    const { m, x, y } = model(engine);
    await m.fit(x, y, { epochs: 2, batchSize: 16, callbacks: [cb] });
    expect(out.text).toMatch(/epoch 2\/2 \[=+\] 4\/4 batches \| ETA \d+s \| \d+ samples\/s \| loss \d\.\d{4}/);
    expect(out.text).toMatch(/epoch 2\/2 - loss \d\.\d{4} - accuracy [\d.]+ % - [\d.]+ s - \d+ samples\/s\n/);
  });
});
