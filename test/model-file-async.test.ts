// The asynchronous model-file paths (save, load, readWeights) work in steps
// with the event loop let in between (lib/steps.ts), and write or read exactly
// what the synchronous ones do:
//  - save writes toBuffer's bytes, and the bytes the previous save wrote
//    (test/fixtures/save_bytes.safetensors, from make_save_bytes.cjs run on
//    the build before save streamed its tensors);
//  - the weights saved are those of the moment save was called;
//  - a load lets the event loop turn while it hashes and copies.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, io, type Dtype } from '../lib';
import { STEP_BYTES } from '../lib/steps';
import { halfTimeGap, timerGaps } from './event-loop-gaps';
import { ENGINES, randomArray } from './helpers';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-io-async-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const FIXTURE = path.join(__dirname, 'fixtures', 'save_bytes.safetensors');

/** 300-1000-10: 311,010 parameters, 1.2 MB in float32, so hashing and copying take several steps. */
/** The same names with bit-identical values (toEqual walks millions of elements one by one: minutes). */
function sameWeights(a: Record<string, ArrayLike<number>>, b: Record<string, ArrayLike<number>>): boolean {
  const bytes = (v: ArrayLike<number>) => Buffer.from((v as Float32Array).buffer, (v as Float32Array).byteOffset, (v as Float32Array).byteLength);
  return Object.keys(a).join() === Object.keys(b).join() &&
    Object.keys(a).every((k) => a[k]!.constructor === b[k]!.constructor && bytes(a[k]!).equals(bytes(b[k]!)));
}

function wide(engine: 'native' | 'js', dtype: Dtype) {
  const m = new Sequential([new Dense(300, 1000, { activation: 'relu' }), new Dense(1000, 10)], { engine, dtype, seed: 3 });
  m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
  const x = new Matrix(4, 300, randomArray(1200, 5, Float64Array) as Float64Array);
  m.trainStep(x, Int32Array.from([0, 1, 2, 3]));
  return m;
}

describe.each(ENGINES)('asynchronous save and load (%s engine)', (engine) => {
  it('a file saved before streaming loads and saves again to the same bytes, but for the batch norm count, now F64', async () => {
    // The fixture stores num_batches_tracked as F32, as float32 files did before
    // the count became exact past 2^24 (lib/batch-count.ts): saved again, that
    // one tensor is F64, so the bytes are compared tensor by tensor.
    const before = readFileSync(FIXTURE);
    const opts = { includeOptimizer: true, metadata: { classes: '["a","b","c"]' } };
    const m = await Sequential.load(FIXTURE, { engine });
    const file = path.join(dir, `again-${engine}.safetensors`);
    await m.save(file, opts);
    const again = await readFile(file);
    expect(m.toBuffer(opts).equals(again)).toBe(true);
    // The new file loads and saves again to the same bytes.
    const file2 = path.join(dir, `again2-${engine}.safetensors`);
    await (await Sequential.load(file, { engine })).save(file2, opts);
    expect((await readFile(file2)).equals(again)).toBe(true);
    // Against the old file: every tensor bit for bit, the count the same number.
    const old = io.weightsFromBuffer(before);
    const now = io.weightsFromBuffer(again);
    expect(Object.keys(now)).toEqual(Object.keys(old));
    for (const name of Object.keys(old)) {
      if (name.endsWith('.num_batches_tracked')) {
        expect(old[name]).toBeInstanceOf(Float32Array);
        expect(now[name]).toEqual(Float64Array.from(old[name]!));
      } else {
        expect(sameWeights({ [name]: now[name]! }, { [name]: old[name]! }), name).toBe(true);
      }
    }
    const [oldInfo, nowInfo] = [before, again].map((b) => io.modelInfoFromBuffer(b));
    expect({ ...nowInfo, tensors: [] }).toEqual({ ...oldInfo, tensors: [] });
  });

  it.each(['float32', 'float64'] as const)('%s: save writes toBuffer\'s bytes, with and without the optimizer state', async (dtype) => {
    const m = wide(engine, dtype);
    expect(m.paramCount * (dtype === 'float32' ? 4 : 8)).toBeGreaterThan(STEP_BYTES);
    for (const includeOptimizer of [false, true]) {
      const file = path.join(dir, `wide-${engine}-${dtype}-${includeOptimizer}.safetensors`);
      await m.save(file, { includeOptimizer });
      const bytes = await readFile(file);
      expect(bytes.equals(m.toBuffer({ includeOptimizer })), `includeOptimizer ${includeOptimizer}`).toBe(true);
      const loaded = await Sequential.load(file, { engine });
      expect(sameWeights(loaded.getWeights(), m.getWeights())).toBe(true);
      expect(sameWeights(Sequential.fromBuffer(bytes, { engine }).getWeights(), m.getWeights())).toBe(true);
      const weights = await io.readWeights(file);
      expect(sameWeights(weights, io.weightsFromBuffer(bytes))).toBe(true);
      const { optimizer_state: _state, ...stored } = weights;
      expect(sameWeights(stored, m.getWeights())).toBe(true);
    }
  });

  it('save writes the weights of the moment it was called, whatever trains while it runs', async () => {
    const m = wide(engine, 'float32');
    const expected = m.toBuffer({ includeOptimizer: true });
    const file = path.join(dir, `moment-${engine}.safetensors`);
    const saving = m.save(file, { includeOptimizer: true });
    const x = new Matrix(2, 300, randomArray(600, 8, Float64Array) as Float64Array);
    m.trainStep(x, Int32Array.from([4, 5]));
    m.setWeights({ ...m.getWeights(), '1.bias': new Float32Array(10).fill(0.5) });
    await saving;
    expect((await readFile(file)).equals(expected)).toBe(true);
    expect(m.toBuffer({ includeOptimizer: true }).equals(expected)).toBe(false);
  });

  it('load lets the event loop run while it hashes and copies (most of the time in short turns)', async () => {
    // 784-2048-2048-10: 23 MB; loading it held the event loop in one turn of 0.10-0.33 s before.
    const m = new Sequential([new Dense(784, 2048, { activation: 'relu' }), new Dense(2048, 2048, { activation: 'relu' }),
      new Dense(2048, 10)], { engine, seed: 1 });
    const file = path.join(dir, `big-${engine}.safetensors`);
    await m.save(file);
    const expected = m.getWeights();
    m.dispose();
    // Before, one turn held most of the load (halfTimeGap 0.7-0.9 of elapsed); now it runs in steps of ~1 MB
    // with turns between (relative bounds: the machine's load stretches every step alike). Another process
    // on the cores can still stretch one of the few unsplit engine calls (allocation, the final copy) past
    // the bound in a single run, so the load is timed up to five times and one run must meet both bounds:
    // the old code, one long turn every time, fails all five. (Three were not enough on a 2-vCPU VM with the
    // rest of the suite running: once no run met both, though each bound was met by some run.)
    let best = { ticks: 0, ratio: Infinity };
    for (let attempt = 0; attempt < 5 && !(best.ticks > 3 && best.ratio < 1 / 3); attempt++) {
      let loaded: Sequential | undefined;
      const gaps = await timerGaps(2, async () => { loaded = await Sequential.load(file, { engine }); });
      expect(sameWeights(loaded!.getWeights(), expected)).toBe(true);
      loaded!.dispose();
      const ratio = halfTimeGap(gaps.gaps) / gaps.elapsed;
      // The run that meets both bounds if there is one, else the one with the shortest longest-half.
      const meets = gaps.ticks > 3 && ratio < 1 / 3;
      if (meets || ratio < best.ratio) best = { ticks: gaps.ticks, ratio };
    }
    expect(best.ticks).toBeGreaterThan(3);
    expect(best.ratio).toBeLessThan(1 / 3);
  });

  it('fromBuffer reads tensors in place when aligned, and copies them from an unaligned or shared buffer', () => {
    const m = wide(engine, 'float64');
    const bytes = m.toBuffer({ includeOptimizer: true });
    const unaligned = Buffer.alloc(bytes.length + 3);
    bytes.copy(unaligned, 3);
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
    shared.set(bytes);
    for (const buf of [bytes, unaligned.subarray(3), shared]) {
      const loaded = Sequential.fromBuffer(buf, { engine });
      expect(sameWeights(loaded.getWeights(), m.getWeights())).toBe(true);
      expect(loaded.toBuffer({ includeOptimizer: true }).equals(bytes)).toBe(true);
    }
    const scratch = Buffer.from(bytes);
    const kept = Sequential.fromBuffer(scratch, { engine });
    scratch.fill(0);  // the model copied the weights: the buffer is the caller's again
    expect(sameWeights(kept.getWeights(), m.getWeights())).toBe(true);
    const views = io.weightsFromBuffer(bytes);  // readWeights' arrays are copies: they never pin the file
    expect(views['0.weight']!.buffer).not.toBe(bytes.buffer);
  });

  it('refuses a damaged file on the asynchronous path as on the synchronous one', async () => {
    const bytes = Buffer.from(wide(engine, 'float32').toBuffer());
    bytes[bytes.length - 5]! ^= 1;  // a tensor byte: only the checksum can tell
    const file = path.join(dir, `damaged-${engine}.safetensors`);
    await writeFile(file, bytes);
    await expect(Sequential.load(file, { engine })).rejects.toThrow(/failed its checksum/);
    expect(() => Sequential.fromBuffer(bytes, { engine })).toThrow(/failed its checksum/);
  });
});

describe.each(ENGINES)('setWeights checks every step (%s engine)', (engine) => {
  it('a NaN beyond the first step is refused at its index, and nothing is written', () => {
    const m = new Sequential([new Dense(600, 1000)], { engine, seed: 2 });
    const before = m.getWeights();
    const w = m.getWeights();
    const bad = Float32Array.from(w['0.weight']!);
    bad[500_000] = Number.NaN;
    expect(() => m.setWeights({ ...w, '0.weight': bad })).toThrow(/Expected finite numbers for weights\['0.weight'\] but received NaN at index 500000/);
    expect(() => m.setWeights({ ...w, '0.weight': Array.from(bad) })).toThrow(/at index 500000/);
    expect(sameWeights(m.getWeights(), before)).toBe(true);
    const good = Float32Array.from(bad, (v, i) => (i === 500_000 ? 0.25 : v));
    m.setWeights({ ...w, '0.weight': good });
    expect(sameWeights({ w: m.getWeights()['0.weight']! }, { w: good })).toBe(true);
  });
});

describe('engine parity', () => {
  it('a file saved by either engine has the same bytes', async () => {
    const [a, b] = ENGINES.map((engine) => new Sequential([new Dense(300, 1000, { activation: 'relu' }), new Dense(1000, 10)],
      { engine, seed: 3 }));
    const files = ENGINES.map((engine) => path.join(dir, `parity-${engine}.safetensors`));
    await Promise.all([a!.save(files[0]!), b!.save(files[1]!)]);
    expect((await readFile(files[0]!)).equals(await readFile(files[1]!))).toBe(true);
  });
});
