// trainStep on a model with batch norm copies the layer buffers before each
// step, to put them back when the step is refused (a non-finite loss or
// overflowed gradients: test/bn-restore.test.ts). That copy is one array per
// model, made by the first step and reused (lib/buffer-scratch.ts), where it
// used to be a new array every call. These tests show the reuse changes
// nothing — every step's weights and buffers are bit-identical to the path
// that allocates a fresh copy per call (the scratch dropped before each step,
// which is what trainStep did before), refused steps included, in both
// engines, both dtypes, with the built-in and a custom loss — and that
// steady-state steps reuse the one array (its identity, through the model's
// private field, across calls).
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, Matrix, Sequential, losses, optim } from '../lib';
import type { Dtype, FloatArray } from '../lib/engine';
import type { LossFunction } from '../lib/losses';
import { BufferScratch } from '../lib/buffer-scratch';
import { planOf } from './diverging-model';
import { ENGINES, maxRelDiff, randomArray } from './helpers';

const IN = 6;
const OUT = 3;
const BATCH = 16;
const STEPS = 12;
/** Steps whose target is poisoned so that the step is refused (never the first: the statistics are then not the initial ones). */
const BAD_STEPS = new Set([3, 4, 8, 11]);

/** The model's private scratch (the internal hook these tests read). */
function scratchOf(m: Sequential): BufferScratch {
  return (m as unknown as { bufferScratch: BufferScratch }).bufferScratch;
}

/**
 * The built-in mse behind a plain object: not a Loss instance, so trainStep
 * takes the custom-loss path (forward, loss and backward as separate engine calls).
 */
const mse = losses.create('mse');
const customMse: LossFunction = {
  forward: (pred, target) => mse.forward(pred, target),
  backward: (pred, target) => mse.backward(pred, target),
};

type LossKind = 'built-in' | 'custom';

/** Two batch norms (buffers in two places of the flat array), Adam: a model that trains normally. */
function bnModel(engine: string, dtype: Dtype, loss: LossKind): Sequential {
  const m = new Sequential([
    new Dense(IN, 8), new BatchNorm1d(8), new Dense(8, 8, { activation: 'relu' }), new BatchNorm1d(8), new Dense(8, OUT),
  ], { engine: engine as 'native' | 'js', seed: 5, dtype });
  m.compile({ loss: loss === 'built-in' ? 'mse' : customMse, optimizer: new optim.Adam({ lr: 1e-2 }) });
  return m;
}

/**
 * Batch `step`. A bad step keeps finite inputs (trainStep accepts them), but
 * its first row holds the dtype's largest values: the first Dense layer's sums
 * overflow, batch norm turns them into NaN and the loss is NaN — the step is
 * refused after its forward has already moved the running statistics.
 */
function batch(step: number, dtype: Dtype) {
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const x = new Matrix(BATCH, IN, Ctor.from(randomArray(BATCH * IN, 100 + step)));
  const y = new Matrix(BATCH, OUT, Ctor.from(randomArray(BATCH * OUT, 200 + step)));
  if (BAD_STEPS.has(step)) x.data.fill(dtype === 'float32' ? 3e38 : 1.7e308, 0, IN);
  return { x, y };
}

/** Every weight and buffer as raw bytes, so equal means bit-identical (NaN payloads and −0 included). */
function bits(m: Sequential): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(m.getWeights())) out[k] = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  return out;
}

/** The step's loss, or the message of its error. */
function step(m: Sequential, s: number, dtype: Dtype): number | string {
  const { x, y } = batch(s, dtype);
  try {
    return m.trainStep(x, y);
  } catch (err) {
    expect(err).toBeInstanceOf(RangeError);
    return (err as Error).message;
  }
}

describe.each(ENGINES)('trainStep reuses one copy of the batch norm buffers (%s engine)', (engine) => {
  describe.each([
    ['float32', 'built-in'], ['float64', 'built-in'], ['float32', 'custom'], ['float64', 'custom'],
  ] as const)('%s, %s loss', (dtype, loss) => {
    it(`${STEPS} steps, ${BAD_STEPS.size} of them refused: bit-identical to a fresh copy per step, one array throughout`, () => {
      const cached = bnModel(engine, dtype, loss);
      const fresh = bnModel(engine, dtype, loss);
      expect(scratchOf(cached).array).toBeNull();  // nothing before the first step
      let first: FloatArray | null = null;
      let previousFresh: FloatArray | null = null;
      for (let s = 0; s < STEPS; s++) {
        const before = bits(cached);
        scratchOf(fresh).release();  // the old path: a new array for this call
        const a = step(cached, s, dtype);
        const b = step(fresh, s, dtype);
        expect(a).toEqual(b);
        expect(typeof a === 'string', `step ${s} refused`).toBe(BAD_STEPS.has(s));
        if (typeof a === 'string') {
          expect(a).toMatch(/the step was not applied/);
          // Restored: weights, running statistics and num_batches_tracked as before the call, bit for bit.
          expect(bits(cached)).toEqual(before);
        } else {
          expect(bits(cached)).not.toEqual(before);
        }
        expect(bits(cached)).toEqual(bits(fresh));
        // Steady state: the array the first step made, every time.
        first ??= scratchOf(cached).array;
        expect(first).not.toBeNull();
        expect(scratchOf(cached).array).toBe(first);
        // The hook does see a new array when one is made (so the line above can fail).
        expect(scratchOf(fresh).array).not.toBe(previousFresh);
        previousFresh = scratchOf(fresh).array;
      }
      expect(first!.length).toBe(planOf(cached).bufferCount);
    });
  });

  it('a model without buffers copies nothing and allocates no scratch', () => {
    const m = new Sequential([new Dense(IN, 8, { activation: 'relu' }), new Dense(8, OUT)], { engine, seed: 5 });
    m.compile({ loss: 'mse', optimizer: 'adam' });
    for (let s = 0; s < 5; s++) step(m, s, 'float32');
    expect(planOf(m).bufferCount).toBe(0);
    expect(scratchOf(m).array).toBeNull();
  });

  it('dispose drops the scratch; trainStep then refuses as before', () => {
    const m = bnModel(engine, 'float32', 'built-in');
    step(m, 0, 'float32');
    expect(scratchOf(m).array).not.toBeNull();
    m.dispose();
    expect(scratchOf(m).array).toBeNull();
    const { x, y } = batch(1, 'float32');
    expect(() => m.trainStep(x, y)).toThrow(/disposed/);
    expect(scratchOf(m).array).toBeNull();
  });
});

describe('BufferScratch', () => {
  /** A compiled batch-norm model's plan with `width` features (buffers: 2·width + 1). */
  function planWith(engine: string, width: number, dtype: Dtype = 'float32') {
    const m = new Sequential([new Dense(IN, width), new BatchNorm1d(width), new Dense(width, OUT)],
      { engine: engine as 'native' | 'js', seed: 1, dtype });
    return planOf(m);
  }

  it.each(ENGINES)('allocates again only when the buffer count or dtype changes; restore puts back what save copied (%s)', (engine) => {
    const s = new BufferScratch();
    const a = planWith(engine, 4);
    const b = planWith(engine, 8);
    const c = planWith(engine, 8, 'float64');
    expect(s.save(a)).toBe(true);
    const first = s.array!;
    expect(first).toBeInstanceOf(Float32Array);
    expect(first.length).toBe(a.bufferCount);
    expect(s.save(a)).toBe(true);
    expect(s.array).toBe(first);
    expect(s.save(b)).toBe(true);
    const second = s.array!;
    expect(second).not.toBe(first);
    expect(second.length).toBe(b.bufferCount);
    expect(b.bufferCount).not.toBe(a.bufferCount);
    expect(s.save(c)).toBe(true);
    expect(s.array).toBeInstanceOf(Float64Array);
    expect(s.array!.length).toBe(c.bufferCount);

    // restore: the buffers as save saw them, whatever was written since.
    const saved = new Float64Array(c.bufferCount);
    c.getBuffers(saved);
    c.setBuffers(new Float64Array(c.bufferCount).fill(7));
    s.restore(c);
    const now = new Float64Array(c.bufferCount);
    c.getBuffers(now);
    expect(now).toEqual(saved);
    expect(saved.some((v) => v !== 7)).toBe(true);

    s.release();
    expect(s.array).toBeNull();
    // After release there is nothing to put back: restore writes nothing.
    c.setBuffers(new Float64Array(c.bufferCount).fill(7));
    s.restore(c);
    c.getBuffers(now);
    expect(now.every((v) => v === 7)).toBe(true);
  });

  it.each(ENGINES)('a plan without buffers: save copies nothing and allocates nothing (%s)', (engine) => {
    const m = new Sequential([new Dense(IN, OUT)], { engine, seed: 1 });
    const s = new BufferScratch();
    expect(s.save(planOf(m))).toBe(false);
    expect(s.array).toBeNull();
  });
});

describe('engine parity of trainStep with refused steps', () => {
  it.each(['built-in', 'custom'] as const)('native and js refuse the same steps and end with the same state (%s loss)', (loss) => {
    const native = bnModel('native', 'float64', loss);
    const js = bnModel('js', 'float64', loss);
    for (let s = 0; s < STEPS; s++) {
      const a = step(native, s, 'float64');
      const b = step(js, s, 'float64');
      expect(typeof a, `step ${s}`).toBe(typeof b);
      if (typeof a === 'number') expect(maxRelDiff([a], [b as number])).toBeLessThan(1e-9);
    }
    const wa = native.getWeights();
    const wb = js.getWeights();
    expect(Object.keys(wa)).toEqual(Object.keys(wb));
    for (const k of Object.keys(wa)) expect(maxRelDiff(wa[k]!, wb[k]!), k).toBeLessThan(1e-9);
  });
});
