// A stratified split of a large data set: a class of 600 k rows once overflowed
// the call stack (rows were appended with push(...rows)). fastmlp train on an
// 800 k-row CSV failed with "Maximum call stack size exceeded".
import { describe, expect, it } from 'vitest';
import { trainTestSplit } from '../lib/data/split';
import { Matrix } from '../lib/matrix';

describe('trainTestSplit on many rows', () => {
  it('splits 600 000 rows of two classes, stratified, every row in exactly one part', () => {
    const rows = 600_000;
    const x = new Matrix(rows, 1, Float32Array.from({ length: rows }, (_, i) => i));
    const y = Int32Array.from({ length: rows }, (_, i) => (i % 4 === 0 ? 1 : 0));
    const s = trainTestSplit(x, y, { testSize: 0.2, seed: 1, stratify: true });
    expect(s.xTrain.rows + s.xTest.rows).toBe(rows);
    expect(s.xTest.rows).toBe(120_000);
    const seen = new Uint8Array(rows);
    for (const v of [...s.xTrain.data, ...s.xTest.data]) seen[v]!++;
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(s.yTest.reduce((a, b) => a + b, 0)).toBe(30_000);   // a quarter of the test rows are class 1, as overall
  });
});
