// ops.matmul(a, b, { out }): the product written into a caller's Matrix, on
// both engines — same values as a fresh result, the same object returned,
// stale contents never read, and every bad destination refused with a coded
// error before anything is written.
import { describe, expect, it } from 'vitest';
import { Matrix, ops } from '../lib';
import type { Dtype } from '../lib/engine';
import { INVALID_ARGUMENT } from '../lib/validate';
import { ENGINES, engine, maxRelDiff, naiveGemm, randomArray } from './helpers';

// Small (the engines' unpacked paths), packed with ragged edge tiles, and skinny shapes: [m, n, k].
const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 33, 9], [70, 70, 70], [130, 257, 65], [1, 300, 40]];
const TOLERANCE: Record<Dtype, number> = { float32: 1e-5, float64: 1e-12 };

/** a and b stored so that op(a) is m × k and op(b) is k × n. */
function operands(m: number, n: number, k: number, transA: boolean, transB: boolean, dtype: Dtype, seed: number) {
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const a = new Matrix(transA ? k : m, transA ? m : k, randomArray(m * k, seed, Ctor), dtype);
  const b = new Matrix(transB ? n : k, transB ? k : n, randomArray(k * n, seed + 7, Ctor), dtype);
  return { a, b };
}

function filled(rows: number, cols: number, dtype: Dtype, value: number): Matrix {
  const out = Matrix.zeros(rows, cols, dtype);
  out.data.fill(value);
  return out;
}

function coded(fn: () => unknown, kind: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(kind);
  expect((error as { code?: string }).code).toBe(INVALID_ARGUMENT);
  expect((error as Error).message).toMatch(pattern);
}

/** A Matrix-typed object whose fields were set by hand, as a caller could do at run time. */
function forged(rows: number, cols: number, data: unknown): Matrix {
  return Object.assign(Object.create(Matrix.prototype) as Matrix, { rows, cols, data });
}

describe.each(ENGINES)('ops.matmul with out (%s engine)', (name) => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`equals the allocating matmul (${dtype}, transA=${transA}, transB=${transB})`, () => {
          for (const [m, n, k] of SHAPES) {
            const { a, b } = operands(m, n, k, transA, transB, dtype, m + n + k);
            const fresh = ops.matmul(a, b, { transA, transB, engine: name });
            const out = new Matrix(m, n, randomArray(m * n, 99, dtype === 'float32' ? Float32Array : Float64Array), dtype);
            const result = ops.matmul(a, b, { transA, transB, engine: name, out });
            expect(result).toBe(out);
            expect(result.data).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
            expect(Array.from(out.data)).toEqual(Array.from(fresh.data));
            const reference = naiveGemm(transA, transB, m, n, k, 1, a.data, b.data, 0, out.data);
            expect(maxRelDiff(out.data, reference)).toBeLessThan(TOLERANCE[dtype]);
          }
        });
      }
    }
  }

  it('returns the very Matrix passed, keeping its data array', () => {
    const a = Matrix.from([[1, 2], [3, 4]]);
    const out = Matrix.zeros(2, 2);
    const data = out.data;
    expect(ops.matmul(a, a, { engine: name, out })).toBe(out);
    expect(out.data).toBe(data);
    expect(out.toArray()).toEqual([[7, 10], [15, 22]]);
  });

  it('never reads the old contents: NaN and ±Infinity in out are fully overwritten', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [m, n, k] of SHAPES) {
        const { a, b } = operands(m, n, k, false, true, dtype, 3 * m + k);
        const expected = ops.matmul(a, b, { transB: true, engine: name });
        for (const stale of [NaN, Infinity, -Infinity]) {
          const out = filled(m, n, dtype, stale);
          ops.matmul(a, b, { transB: true, engine: name, out });
          expect(Array.from(out.data).every(Number.isFinite)).toBe(true);
          expect(Array.from(out.data)).toEqual(Array.from(expected.data));
        }
      }
    }
  });

  it('with k = 0 fills out with zeros, whatever it held', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const a = Matrix.zeros(3, 0, dtype);
      const b = Matrix.zeros(0, 4, dtype);
      const out = filled(3, 4, dtype, NaN);
      expect(ops.matmul(a, b, { engine: name, out })).toBe(out);
      expect(Array.from(out.data)).toEqual(new Array(12).fill(0));
      const outT = filled(4, 3, dtype, Infinity);
      ops.matmul(b, a, { transA: true, transB: true, engine: name, out: outT });   // (4×0)·(0×3)
      expect(Array.from(outT.data)).toEqual(new Array(12).fill(0));
    }
  });

  it('accepts an empty out when m × n = 0', () => {
    const a = Matrix.zeros(0, 5);
    const b = new Matrix(5, 3, randomArray(15, 4, Float32Array));
    const rowsOut = Matrix.zeros(0, 3);
    expect(ops.matmul(a, b, { engine: name, out: rowsOut })).toBe(rowsOut);
    const colsOut = Matrix.zeros(2, 0);
    expect(ops.matmul(Matrix.zeros(2, 5), Matrix.zeros(5, 0), { engine: name, out: colsOut })).toBe(colsOut);
    // Still shape-checked: 0 × 3 is not 3 × 0.
    coded(() => ops.matmul(a, b, { engine: name, out: Matrix.zeros(3, 0) }), RangeError, /0 × 3 Matrix .*for out but received a 3 × 0/);
  });

  it('gives the right answer on every call when one out is reused', () => {
    const [m, n, k] = [48, 40, 36];
    const out = Matrix.zeros(m, n, 'float64');
    const b = new Matrix(n, k, randomArray(n * k, 5), 'float64');      // used transposed
    for (let call = 0; call < 25; call++) {
      const a = new Matrix(m, k, randomArray(m * k, 100 + call), 'float64');
      ops.matmul(a, b, { transB: true, engine: name, out });
      expect(maxRelDiff(out.data, naiveGemm(false, true, m, n, k, 1, a.data, b.data, 0, out.data))).toBeLessThan(1e-12);
    }
  });

  it('writes into disjoint views of one ArrayBuffer', () => {
    // a (2×3), b (3×2) and out (2×2) side by side in one float64 buffer.
    const buffer = new ArrayBuffer((6 + 6 + 4) * 8);
    const a = new Matrix(2, 3, new Float64Array(buffer, 0, 6), 'float64');
    const b = new Matrix(3, 2, new Float64Array(buffer, 48, 6), 'float64');
    const out = new Matrix(2, 2, new Float64Array(buffer, 96, 4), 'float64');
    a.data.set([1, 2, 3, 4, 5, 6]);
    b.data.set([1, 0, 0, 1, 1, 1]);
    out.data.fill(NaN);
    expect(ops.matmul(a, b, { engine: name, out })).toBe(out);
    expect(out.toArray()).toEqual([[4, 5], [10, 11]]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(b.data)).toEqual([1, 0, 0, 1, 1, 1]);
  });

  describe('refuses a bad out with a coded error, writing nothing', () => {
    const a = Matrix.from([[1, 2, 3], [4, 5, 6]]);        // 2×3
    const b = Matrix.from([[1, 0], [0, 1], [1, 1]]);      // 3×2 → product 2×2

    it('that is not a Matrix', () => {
      for (const bad of [null, 0, 'c', [[0, 0], [0, 0]], new Float32Array(4), { data: new Float32Array(4), rows: 2, cols: 2 }]) {
        coded(() => ops.matmul(a, b, { engine: name, out: bad as never }), TypeError, /Expected a 2 × 2 Matrix for out but received/);
      }
    });

    it('of another dtype', () => {
      const out = filled(2, 2, 'float64', 7);
      coded(() => ops.matmul(a, b, { engine: name, out }), TypeError, /Expected a float32 Matrix .*for out but received a float64 Matrix/);
      const a64 = Matrix.from([[1, 2], [3, 4]], 'float64');
      coded(() => ops.matmul(a64, a64, { engine: name, out: Matrix.zeros(2, 2) }), TypeError, /float64 Matrix .*for out but received a float32/);
      expect(Array.from(out.data)).toEqual([7, 7, 7, 7]);
    });

    it('of the wrong shape, naming the expected m × n', () => {
      for (const [r, c] of [[2, 3], [3, 2], [1, 4], [4, 1], [0, 0]] as const) {
        const out = filled(r, c, 'float32', 7);
        coded(() => ops.matmul(a, b, { engine: name, out }), RangeError,
          new RegExp(`Expected a 2 × 2 Matrix .*for out but received a ${r} × ${c} Matrix`));
        expect(Array.from(out.data).every((v) => v === 7)).toBe(true);
      }
      // With transposes the product is 3 × 3 here.
      coded(() => ops.matmul(a, b, { transA: true, transB: true, engine: name, out: Matrix.zeros(2, 2) }), RangeError, /3 × 3 Matrix/);
    });

    it('that shares memory with a or b', () => {
      const sq = new Matrix(2, 2, new Float32Array([1, 2, 3, 4]));
      const other = new Matrix(2, 2, new Float32Array([5, 6, 7, 8]));
      coded(() => ops.matmul(sq, other, { engine: name, out: sq }), RangeError, /shares no memory with a for out/);
      coded(() => ops.matmul(other, sq, { engine: name, out: sq }), RangeError, /shares no memory with b for out/);
      coded(() => ops.matmul(sq, sq, { engine: name, out: sq }), RangeError, /for out/);
      // A second Matrix over the same typed array.
      coded(() => ops.matmul(sq, other, { engine: name, out: new Matrix(2, 2, sq.data) }), RangeError, /with a for out/);
      // A subarray view of a inside its buffer, and partly overlapping views of one buffer.
      const wide = new Matrix(2, 4, randomArray(8, 6, Float32Array));            // 2×4 · 4×2 → 2×2
      const tall = new Matrix(4, 2, randomArray(8, 7, Float32Array));
      const inside = new Matrix(2, 2, wide.data.subarray(2, 6) as Float32Array);
      coded(() => ops.matmul(wide, tall, { engine: name, out: inside }), RangeError, /with a for out/);
      const buffer = new ArrayBuffer(12 * 4);
      const left = new Matrix(2, 4, new Float32Array(buffer, 0, 8));              // bytes 0..32
      const right = new Matrix(2, 2, new Float32Array(buffer, 28, 4));            // bytes 28..44: one float shared
      coded(() => ops.matmul(left, tall, { engine: name, out: right }), RangeError, /with a for out/);
      const bBuffer = new ArrayBuffer(12 * 4);
      const bView = new Matrix(4, 2, new Float32Array(bBuffer, 16, 8));           // bytes 16..48
      const bOut = new Matrix(2, 2, new Float32Array(bBuffer, 0, 4));             // bytes 0..16: disjoint, accepted
      expect(ops.matmul(wide, bView, { engine: name, out: bOut })).toBe(bOut);
      const bOverlap = new Matrix(2, 2, new Float32Array(bBuffer, 4, 4));         // bytes 4..20: overlaps b
      coded(() => ops.matmul(wide, bView, { engine: name, out: bOverlap }), RangeError, /with b for out/);
      expect(Array.from(sq.data)).toEqual([1, 2, 3, 4]);
    });

    it('whose buffer was transferred, is shared or is resizable (as Matrix refuses for data)', () => {
      const detached = Matrix.zeros(2, 2);
      structuredClone(detached.data.buffer, { transfer: [detached.data.buffer as ArrayBuffer] });
      coded(() => ops.matmul(a, b, { engine: name, out: detached }), RangeError, /detached .*for out\.data/);
      const shared = forged(2, 2, new Float32Array(new SharedArrayBuffer(16)));
      coded(() => ops.matmul(a, b, { engine: name, out: shared }), TypeError, /SharedArrayBuffer .*for out\.data/);
      const resizable = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(16, { maxByteLength: 64 });
      coded(() => ops.matmul(a, b, { engine: name, out: forged(2, 2, new Float32Array(resizable)) }), TypeError, /resizable .*for out\.data/);
    });

    it('whose fields were altered so that its data is not rows × cols long (no crash, nothing written)', () => {
      const short = new Float32Array([7, 7, 7]);
      coded(() => ops.matmul(a, b, { engine: name, out: forged(2, 2, short) }), RangeError, /Expected 4 values .*for out\.data/);
      coded(() => ops.matmul(a, b, { engine: name, out: forged(2, 2, new Int32Array(4)) }), TypeError, /Float32Array or Float64Array for out\.data/);
      coded(() => ops.matmul(a, b, { engine: name, out: forged(2, 2, undefined) }), TypeError, /for out\.data/);
      const grown = Matrix.zeros(1, 2);
      (grown as { rows: number }).rows = 2;                                         // claims 2 × 2 over 2 values
      coded(() => ops.matmul(a, b, { engine: name, out: grown }), RangeError, /out\.data/);
      expect(Array.from(short)).toEqual([7, 7, 7]);
    });

    it('and the engine itself re-checks the length of c (the binding, for native)', () => {
      const c = new Float32Array([7, 7, 7]);
      coded(() => engine(name).gemm(false, false, 2, 2, 3, 1, a.data, b.data, 0, c), RangeError, /for c/);
      expect(Array.from(c)).toEqual([7, 7, 7]);
    });
  });

  it('checks a and b the same way: a transferred input fails instead of reading as empty', () => {
    const a = Matrix.from([[1, 2], [3, 4]]);
    const b = Matrix.from([[1, 0], [0, 1]]);
    structuredClone(a.data.buffer, { transfer: [a.data.buffer as ArrayBuffer] });
    coded(() => ops.matmul(a, b, { engine: name, out: Matrix.zeros(2, 2) }), RangeError, /detached .*for a\.data/);
    coded(() => ops.matmul(b, a, { engine: name }), RangeError, /detached .*for b\.data/);
  });
});

describe('ops.matmul with out: native and js agree', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`on every transpose combination (${dtype})`, () => {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [m, n, k] of SHAPES) {
            const { a, b } = operands(m, n, k, transA, transB, dtype, 11 * m + n);
            const native = filled(m, n, dtype, NaN);
            const js = filled(m, n, dtype, NaN);
            ops.matmul(a, b, { transA, transB, engine: 'native', out: native });
            ops.matmul(a, b, { transA, transB, engine: 'js', out: js });
            expect(maxRelDiff(native.data, js.data)).toBeLessThan(TOLERANCE[dtype]);
          }
        }
      }
    });
  }

  it("and 'auto' writes into out like the engine it picks", () => {
    const { a, b } = operands(9, 11, 13, false, false, 'float64', 21);
    const out = filled(9, 11, 'float64', NaN);
    expect(ops.matmul(a, b, { engine: 'auto', out })).toBe(out);
    expect(maxRelDiff(out.data, ops.matmul(a, b, { engine: 'js' }).data)).toBeLessThan(1e-12);
  });
});
