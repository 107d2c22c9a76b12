import { describe, expect, it } from 'vitest';
import { Matrix, metrics } from '../lib';

describe('Matrix', () => {
  it('wraps a typed array without copying and reads row-major', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const m = new Matrix(2, 3, data);
    expect(m.data).toBe(data);
    expect(m.get(1, 0)).toBe(4);
    expect(Array.from(m.row(1))).toEqual([4, 5, 6]);
    expect(m.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(m.dtype).toBe('float32');
  });

  it('builds from nested arrays in either dtype', () => {
    const m = Matrix.from([[1, 2], [3, 4]], 'float64');
    expect(m.data).toBeInstanceOf(Float64Array);
    expect(m.rows).toBe(2);
    expect(m.cols).toBe(2);
    m.set(0, 1, 9);
    expect(m.get(0, 1)).toBe(9);
  });

  it('argmax takes the first maximum of each row', () => {
    expect(Array.from(Matrix.from([[0, 3, 3], [5, 1, 2]]).argmax())).toEqual([1, 0]);
  });

  it('rejects bad shapes, data and indices with named errors', () => {
    expect(() => new Matrix(2, 2, new Float32Array(3))).toThrow(RangeError);
    expect(() => new Matrix(2, 2, [1, 2, 3])).toThrow(/data/);
    expect(() => new Matrix(-1, 2)).toThrow(RangeError);
    expect(() => new Matrix(1.5, 2)).toThrow(/rows/);
    expect(() => new Matrix('2' as unknown as number, 2)).toThrow(TypeError);
    expect(() => new Matrix(1, 1, new Int8Array(1) as unknown as Float32Array)).toThrow(TypeError);
    expect(() => new Matrix(1, 1, undefined, 'int8' as 'float32')).toThrow(/dtype/);
    expect(() => Matrix.from([[1, 2], [3]])).toThrow(/rows\[1\]/);
    expect(() => Matrix.from([[1, 'x' as unknown as number]])).toThrow(TypeError);
    expect(() => Matrix.from([] as number[][])).toThrow(RangeError);
    const m = Matrix.zeros(2, 2);
    expect(() => m.get(2, 0)).toThrow(/row/);
    expect(() => m.get(0, -1)).toThrow(/col/);
    expect(() => m.row(5)).toThrow(RangeError);
  });
});

describe('metrics.accuracy', () => {
  it('compares argmax with class indices or one-hot rows, and thresholds one column at 0.5', () => {
    const pred = Matrix.from([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6]]);
    expect(metrics.accuracy(pred, [1, 0, 0])).toBeCloseTo(2 / 3, 12);
    expect(metrics.accuracy(pred, Matrix.from([[0, 1], [1, 0], [0, 1]]))).toBe(1);
    expect(metrics.accuracy([[0.7], [0.2]], [[1], [1]])).toBe(0.5);
  });

  it('rejects bad input with named errors', () => {
    const pred = Matrix.from([[0.1, 0.9]]);
    expect(() => metrics.accuracy(pred, [2])).toThrow(/class indices/);
    expect(() => metrics.accuracy(pred, [0, 1])).toThrow(/1 class indices/);
    expect(() => metrics.accuracy('p' as never, [0])).toThrow(TypeError);
    expect(() => metrics.accuracy(pred, 'y' as never)).toThrow(TypeError);
  });
});
