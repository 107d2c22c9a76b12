// save copies the model out of its plan in ~1 MB ranges with the event loop
// let in between (lib/state-copy.ts), and load writes it in the same way —
// yet a save still writes ONE moment's state, the call's, whatever runs
// between its steps: fit started right after it, a save started un-awaited in
// a fit hook, compile with another optimizer, setWeights, dispose. Both engines.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential } from '../lib';
import { STEP_BYTES } from '../lib/steps';
import { halfTimeGap, timerGaps } from './event-loop-gaps';
import { ENGINES, randomArray } from './helpers';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-save-steps-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** 300-1000-10 with Adam, trained a step: 1.2 MB of weights and 2.5 MB of state in float32, several steps each. */
function wide(engine: 'native' | 'js') {
  const m = new Sequential([new Dense(300, 1000, { activation: 'relu' }), new Dense(1000, 10)], { engine, seed: 3 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  m.trainStep(batch(5), Int32Array.from([0, 1, 2, 3]));
  return m;
}

function batch(seed: number): Matrix {
  return new Matrix(4, 300, randomArray(1200, seed, Float64Array) as Float64Array);
}

/** The number of open save copies (Sequential's private set): 0 once every save finished or was given up. */
function openCopies(m: Sequential): number {
  return (m as unknown as { openCopies: Set<unknown> }).openCopies.size;
}

describe.each(ENGINES)('a stepped save writes the moment of its call (%s engine)', (engine) => {
  it('needs several steps for this model (the tests below interleave with them)', () => {
    const m = wide(engine);
    expect(m.paramCount * 4).toBeGreaterThan(STEP_BYTES);
  });

  it('fit started right after an un-awaited save does not reach the file', async () => {
    const m = wide(engine);
    const expected = m.toBuffer({ includeOptimizer: true });
    const file = path.join(dir, `fit-after-${engine}.safetensors`);
    const saving = m.save(file, { includeOptimizer: true });
    expect(openCopies(m)).toBe(1);  // the copy is still being taken in steps
    const x = new Matrix(8, 300, randomArray(2400, 6, Float64Array) as Float64Array);
    await m.fit(x, Int32Array.from({ length: 8 }, (_, i) => i % 10), { epochs: 2, batchSize: 4 });
    await saving;
    expect((await readFile(file)).equals(expected)).toBe(true);
    expect(m.toBuffer({ includeOptimizer: true }).equals(expected)).toBe(false);  // fit did train
    expect(openCopies(m)).toBe(0);
  });

  it('a save a fit hook starts without awaiting it holds that epoch\'s weights, not a later one\'s', async () => {
    const m = wide(engine);
    const file = path.join(dir, `hook-${engine}.safetensors`);
    let saving: Promise<void> | null = null;
    let atSave: Buffer | null = null;
    const x = new Matrix(8, 300, randomArray(2400, 7, Float64Array) as Float64Array);
    await m.fit(x, Int32Array.from({ length: 8 }, (_, i) => (i * 3) % 10), {
      epochs: 3, batchSize: 4,
      callbacks: [{ onEpochEnd: (epoch: number) => {
        if (epoch !== 0) return;
        atSave = m.toBuffer({ includeOptimizer: true });
        saving = m.save(file, { includeOptimizer: true });  // not awaited: epoch 2 starts at once
      } }],
    });
    await saving;
    expect(atSave).not.toBeNull();
    expect((await readFile(file)).equals(atSave!)).toBe(true);
    expect(m.toBuffer({ includeOptimizer: true }).equals(atSave!)).toBe(false);
  });

  it('compile with another optimizer, setWeights or dispose while it runs do not reach the file', async () => {
    for (const change of ['compile', 'setWeights', 'dispose'] as const) {
      const m = wide(engine);
      const expected = m.toBuffer({ includeOptimizer: true });
      const file = path.join(dir, `${change}-${engine}.safetensors`);
      const saving = m.save(file, { includeOptimizer: true });
      if (change === 'compile') m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });  // drops Adam's state
      if (change === 'setWeights') m.setWeights({ ...m.getWeights(), '0.weight': new Float32Array(300_000).fill(0.25) });
      if (change === 'dispose') m.dispose();
      await saving;
      expect((await readFile(file)).equals(expected), change).toBe(true);
      expect(openCopies(m)).toBe(0);
    }
  });

  it('two saves in flight each write their own moment', async () => {
    const m = wide(engine);
    const first = m.toBuffer();
    const files = [0, 1].map((i) => path.join(dir, `two-${engine}-${i}.safetensors`));
    const a = m.save(files[0]!);
    m.trainStep(batch(9), Int32Array.from([4, 5, 6, 7]));
    const second = m.toBuffer();
    const b = m.save(files[1]!);
    m.trainStep(batch(10), Int32Array.from([1, 2, 3, 4]));
    await Promise.all([a, b]);
    expect((await readFile(files[0]!)).equals(first)).toBe(true);
    expect((await readFile(files[1]!)).equals(second)).toBe(true);
    expect(first.equals(second)).toBe(false);
  });

  it('a save refused for its path leaves no copy open', async () => {
    const m = wide(engine);
    await expect(m.save(42 as unknown as string)).rejects.toThrow(TypeError);
    expect(openCopies(m)).toBe(0);
  });

  it('a save lets the event loop run while it copies and hashes: its call returns before the copy is made', async () => {
    // 784-2048-2048-10 with Adam's state: 70 MB, which save used to copy out of the model in the
    // call itself (0.1-0.3 s, a fifth to a half of the whole save here), before its first turn.
    const m = new Sequential([new Dense(784, 2048, { activation: 'relu' }), new Dense(2048, 2048, { activation: 'relu' }),
      new Dense(2048, 10)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    const file = path.join(dir, `big-save-${engine}.safetensors`);
    // Relative bounds (a loaded machine stretches every step alike), and the best of up to three
    // timed saves must meet them (another process can stretch one step in a single run).
    let best = { ticks: 0, callShare: Infinity, halfShare: Infinity };
    // The call's share: 0.2-0.5 for the old one-turn copy, 0.01-0.05 stepped on a quiet machine
    // (0.054 seen beside two other jobs' builds and tests), so 0.1 still tells them apart.
    for (let attempt = 0; attempt < 3 && !(best.ticks > 3 && best.callShare < 0.1 && best.halfShare < 1 / 3); attempt++) {
      let callMs = 0;
      const gaps = await timerGaps(2, async () => {
        const t0 = performance.now();
        const saving = m.save(file, { includeOptimizer: true });
        callMs = performance.now() - t0;  // the synchronous part: validation and the copy's first step
        await saving;
      });
      const run = { ticks: gaps.ticks, callShare: callMs / gaps.elapsed, halfShare: halfTimeGap(gaps.gaps) / gaps.elapsed };
      if (run.callShare + run.halfShare < best.callShare + best.halfShare) best = run;
    }
    expect(best.ticks).toBeGreaterThan(3);
    expect(best.callShare).toBeLessThan(0.1);
    expect(best.halfShare).toBeLessThan(1 / 3);
    const loaded = await Sequential.load(file, { engine });
    expect(loaded.toBuffer({ includeOptimizer: true }).equals(await readFile(file))).toBe(true);
    m.dispose();
    loaded.dispose();
  });
});
