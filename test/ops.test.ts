// ops.matmul and the engines' gemm against a naive float64 reference.
import { describe, expect, it } from 'vitest';
import { Matrix, ops } from '../lib';
import { ENGINES, engine, maxRelDiff, naiveGemm, randomArray } from './helpers';

const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 33, 9], [64, 48, 100], [70, 70, 70], [130, 257, 65]];

describe.each(ENGINES)('gemm (%s engine)', (name) => {
  const e = engine(name);
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`matches the reference with transA=${transA}, transB=${transB}`, () => {
        for (const [m, n, k] of SHAPES) {
          const a = randomArray(m * k, m + 1);
          const b = randomArray(k * n, n + 2);
          const c = randomArray(m * n, k + 3);
          const expected = naiveGemm(transA, transB, m, n, k, 0.75, a, b, 0.5, c);
          e.gemm(transA, transB, m, n, k, 0.75, a, b, 0.5, c);
          expect(maxRelDiff(c, expected)).toBeLessThan(1e-12);
        }
      });
    }
  }

  it('agrees in float32 to float32 rounding', () => {
    const [m, n, k] = [96, 80, 200];
    const a = randomArray(m * k, 1, Float32Array);
    const b = randomArray(k * n, 2, Float32Array);
    const c = new Float32Array(m * n);
    e.gemm(false, true, m, n, k, 1, a, b, 0, c);
    expect(maxRelDiff(c, naiveGemm(false, true, m, n, k, 1, a, b, 0, c))).toBeLessThan(1e-5);
  });

  it('with beta = 0 ignores NaN already in C, as BLAS does', () => {
    const c = new Float64Array(4).fill(NaN);
    e.gemm(false, false, 2, 2, 2, 1, new Float64Array([1, 2, 3, 4]), new Float64Array([1, 0, 0, 1]), 0, c);
    expect(Array.from(c)).toEqual([1, 2, 3, 4]);
  });

  it('with k = 0 scales C by beta', () => {
    const c = new Float64Array([1, 2]);
    e.gemm(false, false, 1, 2, 0, 1, new Float64Array(0), new Float64Array(0), 3, c);
    expect(Array.from(c)).toEqual([3, 6]);
  });
});

describe.each(ENGINES)('ops.matmul (%s engine)', (name) => {
  it('multiplies with and without transposes', () => {
    const a = Matrix.from([[1, 2, 3], [4, 5, 6]]);        // 2×3
    const b = Matrix.from([[1, 0], [0, 1], [1, 1]]);      // 3×2
    expect(ops.matmul(a, b, { engine: name }).toArray()).toEqual([[4, 5], [10, 11]]);
    expect(ops.matmul(a, a, { transB: true, engine: name }).toArray()).toEqual([[14, 32], [32, 77]]);
    expect(ops.matmul(a, a, { transA: true, engine: name }).toArray()).toEqual([[17, 22, 27], [22, 29, 36], [27, 36, 45]]);
    const r = ops.matmul(b, a, { transA: true, transB: true, engine: name }); // (2×3)·(3×2)
    expect(r.toArray()).toEqual([[4, 10], [5, 11]]);
  });

  it('keeps float64', () => {
    const a = Matrix.from([[0.1]], 'float64');
    expect(ops.matmul(a, a, { engine: name }).data).toBeInstanceOf(Float64Array);
  });

  it('rejects bad input with named errors', () => {
    const a = Matrix.zeros(2, 3);
    expect(() => ops.matmul(a, a, { engine: name })).toThrow(/op\(a\) columns/);
    expect(() => ops.matmul([[1]] as unknown as Matrix, a)).toThrow(TypeError);
    expect(() => ops.matmul(a, null as unknown as Matrix)).toThrow(/for b/);
    expect(() => ops.matmul(a, Matrix.zeros(3, 1, 'float64'))).toThrow(/one dtype/);
    expect(() => ops.matmul(a, a, { transB: 1 as unknown as boolean })).toThrow(/transB/);
    expect(() => ops.matmul(a, a, { transpose: true } as never)).toThrow(/Unknown option 'transpose'/);
    expect(() => ops.matmul(a, a, { engine: 'gpu' as never })).toThrow(/engine/);
  });
});
