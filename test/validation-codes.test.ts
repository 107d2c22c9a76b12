// Every argument error the public API throws carries the stable code
// ERR_FASTMLP_INVALID_ARGUMENT (as the binding's do); buffers that could
// change or vanish under a running epoch are refused; sizes that cannot be
// allocated fail with a RangeError before anything is allocated.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, losses, ops, optim } from '../lib';
import { loadNative } from '../lib/native';
import { ArgumentRangeError, ArgumentTypeError, INVALID_ARGUMENT } from '../lib/validate';
import { ENGINES, randomArray, thrown } from './helpers';

function expectCoded(fn: () => unknown, kind: typeof TypeError | typeof RangeError, pattern?: RegExp): void {
  const e = thrown(fn) as Error & { code?: string };
  expect(e).toBeInstanceOf(kind);
  expect(e.code).toBe(INVALID_ARGUMENT);
  if (pattern) expect(e.message).toMatch(pattern);
}

function transferred(view: Float32Array): Float32Array {
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
}

describe('argument error classes', () => {
  it('keep the built-in class, name and stack, and add the code', () => {
    const t = new ArgumentTypeError('x');
    const r = new ArgumentRangeError('y');
    expect(t).toBeInstanceOf(TypeError);
    expect(r).toBeInstanceOf(RangeError);
    expect(t.name).toBe('TypeError');
    expect(r.name).toBe('RangeError');
    expect(String(r.stack)).toContain('validation-codes.test');
    expect([t.code, r.code]).toEqual([INVALID_ARGUMENT, INVALID_ARGUMENT]);
  });
});

describe.each(ENGINES)('argument errors carry a code (%s engine)', (engine) => {
  const model = () => {
    const m = new Sequential([new Dense(3, 4, { activation: 'relu' }), new Dense(4, 2)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    return m;
  };

  it('from constructors and option checks', () => {
    expectCoded(() => new Sequential('x' as never, { engine }), TypeError, /layers/);
    expectCoded(() => new Sequential([], { engine }), RangeError, /layers/);
    expectCoded(() => new Sequential([new Dense(3, 4), new Dense(5, 2)], { engine }), RangeError, /layers\[1\]/);
    expectCoded(() => new Sequential([new Dense(3, 4)], { engine, typo: 1 } as never), RangeError, /typo/);
    expectCoded(() => new Dense(0, 2), RangeError, /inFeatures/);
    expectCoded(() => new Dense(2, 2, { activation: 'mish' as never }), RangeError, /activation/);
    expectCoded(() => new optim.SGD({ lr: 0.1, nesterov: true }), RangeError, /Nesterov/);
    expectCoded(() => losses.create('mse', { labelSmoothing: 0.1 }), RangeError, /labelSmoothing/);
    expectCoded(() => new Matrix(2, 2, [1, 2, 3]), RangeError, /data/);
  });

  it('from shapes, class indices and values at train and predict time', () => {
    const m = model();
    const x = new Matrix(2, 3, randomArray(6, 1, Float32Array));
    expectCoded(() => m.predict(new Matrix(2, 4)), RangeError, /columns for x/);
    expectCoded(() => m.trainStep(x, [0, 2]), RangeError, /class indices/);
    expectCoded(() => m.trainStep(x, [0]), RangeError, /for y/);
    expectCoded(() => m.trainStep([[1, 2, NaN], [0, 0, 0]], [0, 1]), RangeError, /NaN/);
    expectCoded(() => m.setWeights({ nope: new Float32Array(1) } as never), RangeError, /nope/);
    expectCoded(() => ops.matmul(new Matrix(2, 3), new Matrix(2, 3), { engine }), RangeError, /matmul/);
    expectCoded(() => ops.matmul(new Matrix(2, 3), new Matrix(3, 2, undefined, 'float64'), { engine }), TypeError, /dtype/);
    const square = new Matrix(2, 2);
    expectCoded(() => ops.matmul(square, square, { engine, out: [[0, 0], [0, 0]] as never }), TypeError, /for out/);
    expectCoded(() => ops.matmul(square, square, { engine, out: new Matrix(2, 2, undefined, 'float64') }), TypeError, /for out/);
    expectCoded(() => ops.matmul(square, square, { engine, out: new Matrix(2, 3) }), RangeError, /2 × 2 Matrix .*for out/);
    expectCoded(() => ops.matmul(square, square, { engine, out: square }), RangeError, /shares no memory with a for out/);
    expect(Number.isFinite(m.trainStep(x, [0, 1]))).toBe(true);
  });

  it('refuses a transferred, shared or resizable buffer before an engine reads it', () => {
    const m = model();
    const x = new Matrix(2, 3, randomArray(6, 2, Float32Array));
    transferred(x.data as Float32Array);
    expectCoded(() => m.predict(x), RangeError, /detached/);
    expectCoded(() => ops.matmul(new Matrix(2, 2), new Matrix(2, 3), { engine, out: x }), RangeError, /detached .*for out/);
    expectCoded(() => new Matrix(0, 3, transferred(new Float32Array(6))), RangeError, /detached/);
    expectCoded(() => new Matrix(2, 3, new Float32Array(new SharedArrayBuffer(24))), TypeError, /SharedArrayBuffer/);
    const resizable = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(24, { maxByteLength: 48 });
    expectCoded(() => new Matrix(2, 3, new Float32Array(resizable)), TypeError, /resizable/);
    // Class indices, and the { data, rows, cols } form of another dtype, are copied, so a shared source is fine there
    // (test/adversarial-reads.test.ts: they train as plain ones do).
    expect(Number.isFinite(m.trainStep(new Matrix(2, 3), new Int32Array(new SharedArrayBuffer(8))))).toBe(true);
    const sharedF64 = new Float64Array(new SharedArrayBuffer(48));
    expect(m.predict({ data: sharedF64, rows: 2, cols: 3 }).rows).toBe(2);
  });

  it('copies a { data, rows, cols } over a shared or resizable buffer of the model\'s own dtype, as it does one of the other dtype', async () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const m = new Sequential([new Dense(3, 2)], { engine, seed: 4, dtype });
      m.compile({ loss: 'mse' });
      const values = randomArray(6, 9, dtype === 'float32' ? Float32Array : Float64Array);
      const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
      const shared = new Ctor(new SharedArrayBuffer(6 * Ctor.BYTES_PER_ELEMENT));
      shared.set(values);
      const resizable = new Ctor(new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(
        6 * Ctor.BYTES_PER_ELEMENT, { maxByteLength: 96 }));
      resizable.set(values);
      for (const data of [shared, resizable]) {
        const expected = Array.from(m.predict(new Matrix(2, 3, values)).data);   // trainStep below moves the weights
        expect(Array.from(m.predict({ data, rows: 2, cols: 3 }).data)).toEqual(expected);
        expect(Array.from((await m.predictAsync({ data, rows: 2, cols: 3 })).data)).toEqual(expected);
        expect(m.evaluate({ data, rows: 2, cols: 3 }, new Matrix(2, 2, undefined, dtype)).loss).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(m.trainStep({ data, rows: 2, cols: 3 }, new Matrix(2, 2, undefined, dtype)))).toBe(true);
      }
      // A transferred one is named as such, not as "received length 0".
      const gone = new Ctor(6);
      structuredClone(gone.buffer, { transfer: [gone.buffer] });
      expectCoded(() => m.predict({ data: gone, rows: 2, cols: 3 }), RangeError, /detached .*for x\.data/);
    }
  });

  it('refuses sizes whose product overflows or exceeds memory before allocating', () => {
    expectCoded(() => new Matrix(2 ** 40, 2 ** 40), RangeError, /rows × cols/);
    expectCoded(() => new Matrix(2 ** 20, 2 ** 20), RangeError, /bytes/);
    expectCoded(() => new Sequential([new Dense(2 ** 20, 2 ** 20)], { engine }), RangeError, /parameters/);
    expectCoded(() => new Sequential([new Dense(2 ** 31 - 1, 2 ** 31 - 1), new Dense(2 ** 31 - 1, 1)], { engine }), RangeError, /layers/);
    // Nothing was half-built: a normal model still works afterwards.
    expect(model().predict([[1, 2, 3]]).cols).toBe(2);
  });
});

describe('the raw addon refuses sizes beyond memory before allocating', () => {
  const binding = loadNative();
  const dense = (i: number, o: number) => ({ kind: 'dense' as const, inFeatures: i, outFeatures: o });

  it('in the constructor and in reserve, with a coded RangeError instead of a huge zero-filled allocation', () => {
    // 2³¹−1 rows × (32 activations + 2 × 16 scratch + 16 outputs) floats ≈ 690 GB: within the
    // core's element bound, beyond any test machine's memory.
    expectCoded(() => new binding.Network({ dtype: 'float32', maxBatch: 2 ** 31 - 1, layers: [dense(16, 16)] }), RangeError, /memory/);
    expectCoded(() => new binding.Network({ dtype: 'float64', maxBatch: 1, layers: [dense(2 ** 19, 2 ** 19)] }), RangeError, /memory/);
    const n = new binding.Network({ dtype: 'float32', maxBatch: 2, layers: [dense(16, 16)] });
    expectCoded(() => n.reserve(2 ** 31 - 1), RangeError, /memory/);
    expect(n.maxBatch).toBe(2);  // unchanged: nothing was allocated
    n.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    expect(Number.isFinite(n.trainStep(new Float32Array(32), 2, new Float32Array(32)))).toBe(true);
  });
});
