// The data module: scalers (SPEC.md §5), one-hot (002's example), seeded
// splits and batches, CSV parsing with clear errors, the bundled data sets, and
// an end-to-end pipeline trained on both engines.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, data, metrics, optim } from '../lib';
import { ENGINES } from './helpers';
import { tempDir } from './temp-dir';

const sk = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'metrics.json'), 'utf8')).scalers;

describe('scalers', () => {
  it('StandardScaler uses the population σ and is fitted on training data only', () => {
    const train = Matrix.from([[1, 10], [2, 10], [3, 10], [4, 10]], 'float64');
    const s = new data.StandardScaler().fit(train);
    expect(Array.from(s.mean)).toEqual([2.5, 10]);
    expect(s.scale[0]).toBeCloseTo(Math.sqrt(1.25), 15);   // divide by n, not n − 1
    expect(s.scale[1]).toBe(1);                              // constant column: σ = 1, maps to 0
    const z = s.transform(train);
    expect(z.dtype).toBe('float64');
    expect(Array.from(z.data).filter((_, i) => i % 2 === 0).map((v) => +v.toFixed(6))).toEqual([-1.341641, -0.447214, 0.447214, 1.341641]);
    const test = s.transform([[6, 12]]);                     // test data uses the training μ and σ
    expect(test.get(0, 0)).toBeCloseTo(3.5 / Math.sqrt(1.25), 6);
    expect(test.get(0, 1)).toBeCloseTo(2, 6);
    const back = s.inverseTransform(z);
    expect(Array.from(back.data)).toEqual(Array.from(train.data).map((v) => expect.closeTo(v, 12)));
  });

  it('MinMaxScaler maps to [−1, 1] by default, or a chosen range, and inverts', () => {
    const x = Matrix.from([[0, 3], [5, 3], [10, 3]], 'float64');
    const s = new data.MinMaxScaler();
    expect(Array.from(s.fitTransform(x).data)).toEqual([-1, -1, 0, -1, 1, -1]);
    const u = new data.MinMaxScaler({ range: [0, 1] }).fit(x);
    expect(u.transform([[2.5, 3]]).toArray()).toEqual([[0.25, 0]]);
    expect(Array.from(s.inverseTransform(s.transform(x)).data)).toEqual(Array.from(x.data));
  });

  it('StandardScaler and MinMaxScaler agree with scikit-learn (fitted on training rows, applied to test rows)', () => {
    const x = Matrix.from(sk.x, 'float64');
    const test = Matrix.from(sk.xTest, 'float64');
    const s = new data.StandardScaler().fit(x);
    Array.from(s.mean).forEach((v, i) => expect(v).toBeCloseTo(sk.mean[i], 12));
    Array.from(s.scale).forEach((v, i) => expect(v).toBeCloseTo(sk.scale[i], 12));
    s.transform(test).toArray().flat().forEach((v, i) => expect(v).toBeCloseTo(sk.standardTest.flat()[i], 10));
    new data.MinMaxScaler().fit(x).transform(test).toArray().flat()
      .forEach((v, i) => expect(v).toBeCloseTo(sk.minMaxTest.flat()[i], 10));
  });

  it('StandardScaler treats columns constant up to rounding as constant (scikit-learn 1.2: σ = 1, maps to 0)', () => {
    // The mean of seven 0.3s is not exactly 0.3 in floating point; the variance left over
    // (~1e-33) once gave σ ≈ 6e-17 and mapped every row to −1 or +1.
    const x = Matrix.from(Array.from({ length: 7 }, (_, i) => [0.3, 0.1, i]), 'float64');
    const s = new data.StandardScaler().fit(x);
    expect(Array.from(s.scale).slice(0, 2)).toEqual([1, 1]);
    expect(Array.from(s.mean).slice(0, 2)).toEqual([0.3, 0.1]);
    expect(s.transform(x).toArray().map((r) => r.slice(0, 2))).toEqual(Array.from({ length: 7 }, () => [0, 0]));
    expect(s.transform([[0.5, 0.1, 3]]).get(0, 0)).toBeCloseTo(0.2, 6);   // test rows: x − μ, as scikit-learn
    // A float32 column of 0.1 (the float32 value is not the double 0.1) is constant too.
    const f = new data.StandardScaler().fit(Matrix.from([[0.1], [0.1], [0.1]], 'float32'));
    expect(f.scale[0]).toBe(1);
    // Variance that is real, however small against the mean, is kept (scikit-learn's bound).
    const big = new data.StandardScaler().fit(Matrix.from([[1e8], [1e8 + 1], [1e8 + 3]], 'float64'));
    expect(big.scale[0]).toBeCloseTo(1.247219128924647, 9);
  });

  it('MinMaxScaler treats a constant column as scikit-learn 1.2 does: its range counts as 1, so other values keep their offset', () => {
    // sklearn.preprocessing.MinMaxScaler((-1, 1)) fitted on [[0.1, 5], [0.1, 6]]:
    // transform([[0.2, 5.5]]) = [[-0.8, 0]], inverse_transform([[-0.8, 0]]) = [[0.2, 5.5]].
    const s = new data.MinMaxScaler().fit(Matrix.from([[0.1, 5], [0.1, 6]], 'float64'));
    expect(s.transform(Matrix.from([[0.1, 5]], 'float64')).toArray()).toEqual([[-1, -1]]);   // training rows: lo
    const z = s.transform(Matrix.from([[0.2, 5.5]], 'float64'));
    expect(z.get(0, 0)).toBeCloseTo(-0.8, 12);
    expect(z.get(0, 1)).toBeCloseTo(0, 12);
    const back = s.inverseTransform(Matrix.from([[-0.8, 0]], 'float64'));
    expect(back.get(0, 0)).toBeCloseTo(0.2, 12);
    expect(back.get(0, 1)).toBeCloseTo(5.5, 12);
  });

  it('rejects bad input', () => {
    expect(() => new data.StandardScaler().transform([[1]])).toThrow(/fit\(x\) first/);
    expect(() => new data.StandardScaler().fit([[1, NaN]] as never)).toThrow(/row 0, column 1/);
    expect(() => new data.StandardScaler().fit([[1, 2]]).transform([[1]])).toThrow(/2 columns/);
    expect(() => new data.MinMaxScaler({ range: [1, 0] })).toThrow(/range/);
    expect(() => new data.MinMaxScaler({ range: 1 as never })).toThrow(TypeError);
    expect(() => new data.StandardScaler().fit('x' as never)).toThrow(TypeError);
  });
});

describe('oneHot', () => {
  it('[3, 0, 2] with 4 classes → rows e3, e0, e2 (note 002)', () => {
    expect(data.oneHot([3, 0, 2], 4).toArray()).toEqual([[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 0]]);
    expect(data.oneHot(Int32Array.of(1, 0)).cols).toBe(2);
    expect(() => data.oneHot([0, 4], 4)).toThrow(/below classes = 4/);
    expect(() => data.oneHot([0, 1.5])).toThrow(/index 1/);
    expect(() => data.oneHot('x' as never)).toThrow(TypeError);
  });

  it('takes classes in its options too, { classes, dtype }, as SoftmaxRegression and the CSV readers do', () => {
    expect(data.oneHot([3, 0, 2], { classes: 5 }).toArray()).toEqual(data.oneHot([3, 0, 2], 5).toArray());
    const wide = data.oneHot([1], { classes: 3, dtype: 'float64' });
    expect(wide.dtype).toBe('float64');
    expect(wide.toArray()).toEqual(data.oneHot([1], 3, { dtype: 'float64' }).toArray());
    expect(data.oneHot([2, 0], { dtype: 'float64' }).cols).toBe(3);
    expect(() => data.oneHot([0, 4], { classes: 4 })).toThrow(/below classes = 4/);
    expect(() => data.oneHot([0], { classes: 0 })).toThrow(/classes/);
    expect(() => data.oneHot([0], { clases: 2 } as never)).toThrow(/Unknown option 'clases'/);
    expect(() => data.oneHot([0], { classes: 2 }, { dtype: 'float64' } as never)).toThrow(/options once/);
  });
});

describe('splits, shuffles and batches', () => {
  const x = Matrix.from(Array.from({ length: 40 }, (_, i) => [i, -i]));
  const y = Array.from({ length: 40 }, (_, i) => i % 4);

  it('trainTestSplit is seeded, keeps rows paired and loses none', () => {
    const a = data.trainTestSplit(x, y, { testSize: 0.25, seed: 1 });
    const b = data.trainTestSplit(x, y, { testSize: 0.25, seed: 1 });
    const c = data.trainTestSplit(x, y, { testSize: 0.25, seed: 2 });
    expect([a.xTrain.rows, a.xTest.rows]).toEqual([30, 10]);
    expect(a.xTest.toArray()).toEqual(b.xTest.toArray());
    expect(a.xTest.toArray()).not.toEqual(c.xTest.toArray());
    const ids = [...a.xTrain.toArray(), ...a.xTest.toArray()].map((r) => r[0]!).sort((p, q) => p - q);
    expect(ids).toEqual([...Array(40).keys()]);
    a.xTest.toArray().forEach((r, i) => expect(a.yTest[i]).toBe(r[0]! % 4));
    const unshuffled = data.trainTestSplit(x, y, { testSize: 0.25, shuffle: false });
    expect(unshuffled.xTest.toArray()[0]).toEqual([30, -30]);
  });

  it('stratify keeps the class proportions in every part', () => {
    const s = data.trainTestSplit(x, y, { testSize: 0.2, seed: 3, stratify: true });
    const counts = (labels: number[]) => [0, 1, 2, 3].map((k) => labels.filter((v) => v === k).length);
    expect(counts(s.yTest)).toEqual([2, 2, 2, 2]);
    expect(counts(s.yTrain)).toEqual([8, 8, 8, 8]);
    const t = data.trainValTestSplit(x, data.oneHot(y), { valSize: 0.2, testSize: 0.2, seed: 3, stratify: true });
    expect([t.xTrain.rows, t.xVal.rows, t.xTest.rows]).toEqual([24, 8, 8]);
    expect(counts(Array.from(t.yVal.argmax()))).toEqual([2, 2, 2, 2]);
  });

  it('part sizes follow scikit-learn 1.2: test = ⌈testSize·n⌉, a count ≥ 1 as it is, stratified totals exact', () => {
    // [n, testSize, train, test] from sklearn.model_selection.train_test_split (scikit-learn 1.2).
    const cases = [[10, 0.25, 7, 3], [7, 0.3, 4, 3], [150, 0.33, 100, 50], [1797, 0.2, 1437, 360],
      [5, 0.5, 2, 3], [11, 0.15, 9, 2], [100, 0.005, 99, 1], [100, 0.07, 92, 8], [10, 3, 7, 3], [10, 1, 9, 1]] as const;
    for (const [n, testSize, train, test] of cases) {
      const rows = Matrix.from(Array.from({ length: n }, (_, i) => [i]));
      const s = data.trainTestSplit(rows, new Array(n).fill(0), { testSize, seed: 0 });
      expect([n, testSize, s.xTrain.rows, s.xTest.rows]).toEqual([n, testSize, train, test]);
    }
    // Stratified: the requested total exactly (scikit-learn's 1437/360 on the digits, not 1438/359),
    // each class within one row of its share.
    const digits = data.loadDigits();
    const s = data.trainTestSplit(digits.x, digits.y, { testSize: 0.2, seed: 0, stratify: true });
    expect([s.xTrain.rows, s.xTest.rows]).toEqual([1437, 360]);
    const perClass = (labels: Int32Array, k: number) => labels.filter((v) => v === k).length;
    for (let k = 0; k < 10; k++) {
      const share = perClass(digits.y, k) * 360 / 1797;
      expect(perClass(s.yTest, k)).toBeGreaterThanOrEqual(Math.floor(share));
      expect(perClass(s.yTest, k)).toBeLessThanOrEqual(Math.ceil(share));
    }
    // 7/3/2 rows of three classes, testSize 0.25: scikit-learn's test part holds 2, 1 and 0 of them.
    const small = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2];
    const t = data.trainTestSplit(small.map((v) => [v]), small, { testSize: 0.25, seed: 0, stratify: true });
    expect([0, 1, 2].map((k) => t.yTest.filter((v) => v === k).length)).toEqual([2, 1, 0]);
    // Three parts: ⌈valSize·n⌉ and ⌈testSize·n⌉ rows, the rest trains (the CLI's digits split).
    const three = data.trainValTestSplit(digits.x, digits.y, { valSize: 0.1, testSize: 0.2, seed: 42, stratify: true });
    expect([three.xTrain.rows, three.xVal.rows, three.xTest.rows]).toEqual([1257, 180, 360]);
    const counts = data.trainValTestSplit(digits.x, digits.y, { valSize: 100, testSize: 200, seed: 1 });
    expect([counts.xTrain.rows, counts.xVal.rows, counts.xTest.rows]).toEqual([1497, 100, 200]);
    expect(() => data.trainTestSplit(digits.x, digits.y, { testSize: 1797 })).toThrow(/testSize/);
    expect(() => data.trainTestSplit(digits.x, digits.y, { testSize: 1.5 })).toThrow(/testSize/);
    expect(() => data.trainValTestSplit(digits.x, digits.y, { valSize: 900, testSize: 897 })).toThrow(/leave 0/);
  });

  it('y keeps its form: rows (number[][]) stay rows, as the types promise', () => {
    const rows = y.map((v) => [v, -v]);
    const s = data.trainTestSplit(x, rows, { testSize: 0.25, seed: 1 });
    expect(Array.isArray(s.yTrain) && Array.isArray(s.yTest[0])).toBe(true);
    s.xTest.toArray().forEach((r, i) => expect(s.yTest[i]).toEqual([r[0]! % 4, -(r[0]! % 4)]));
    const t = data.trainValTestSplit(x, rows, { seed: 2 });
    expect(Array.isArray(t.yVal[0])).toBe(true);
    expect(Array.isArray(data.shuffle(x, rows, { seed: 1 }).y![0])).toBe(true);
    const first = data.batches(x, rows, { batchSize: 8 }).next().value!;
    expect(first.y).toEqual(rows.slice(0, 8));
    expect(first.y![0]).not.toBe(rows[0]);   // copies: the caller's rows are never shared
    expect(() => data.trainTestSplit(x, [...rows.slice(1), [1]])).toThrow(RangeError);
  });

  it('shuffle and batches', () => {
    const s = data.shuffle(x, y, { seed: 5 });
    s.x.toArray().forEach((r, i) => expect(s.y![i]).toBe(r[0]! % 4));
    expect(s.x.toArray().map((r) => r[0])).not.toEqual([...Array(40).keys()]);
    const sizes = [...data.batches(x, y, { batchSize: 16 })].map((b) => [b.x.rows, (b.y as number[]).length]);
    expect(sizes).toEqual([[16, 16], [16, 16], [8, 8]]);
    expect([...data.batches(x, undefined, { batchSize: 16, dropLast: true })].length).toBe(2);
    const seen = [...data.batches(x, y, { batchSize: 7, shuffle: true, seed: 1 })].flatMap((b) => b.x.toArray().map((r) => r[0]!));
    expect(seen.sort((p, q) => p - q)).toEqual([...Array(40).keys()]);
    expect(Array.from(data.permutation(5, 9)).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('permutation and shuffle take the seed the same two ways: a number or { seed }', () => {
    const order = Array.from(data.permutation(40, 7));
    expect(Array.from(data.permutation(40, { seed: 7 }))).toEqual(order);
    const byNumber = data.shuffle(x, y, 7);
    const byOptions = data.shuffle(x, y, { seed: 7 });
    expect(byNumber.x.toArray()).toEqual(byOptions.x.toArray());
    expect(byNumber.y).toEqual(byOptions.y);
    // One seed, one order: shuffle's rows are x's rows in permutation's order.
    expect(byOptions.x.toArray().map((r) => r[0])).toEqual(order);
    expect(data.shuffle(x, undefined, 7).x.toArray()).toEqual(byOptions.x.toArray());
    expect(data.permutation(40, {}).length).toBe(40);   // no seed: a random one, as before
    expect(() => data.permutation(5, { seed: -1 })).toThrow(/seed/);
    expect(() => data.permutation(5, { sed: 1 } as never)).toThrow(/Unknown option 'sed'/);
    expect(() => data.permutation(5, '7' as never)).toThrow(TypeError);
    expect(() => data.shuffle(x, y, 1.5)).toThrow(/seed/);
    expect(() => data.shuffle(x, y, '7' as never)).toThrow(TypeError);
  });

  it('rejects bad options', () => {
    expect(() => data.trainTestSplit(x, y, { testSize: 0 })).toThrow(/testSize/);
    expect(() => data.trainTestSplit(x, y, { testSize: 40 })).toThrow(/row count below 40 .*testSize/);
    expect(() => data.trainTestSplit(x, y, { testSize: '0.2' as never })).toThrow(TypeError);
    expect(() => data.trainTestSplit(x, y.slice(1))).toThrow(/40 values/);
    expect(() => data.trainTestSplit(x, y, { stratify: true, shuffle: false })).toThrow(/shuffle/);
    // Both splits refuse it, as scikit-learn's train_test_split does (stratified parts are drawn at random).
    expect(() => data.trainValTestSplit(x, y, { stratify: true, shuffle: false })).toThrow(/shuffle: true for a stratified split/);
    expect(() => data.trainTestSplit(x, y.map((v) => v + 0.5), { stratify: true })).toThrow(/integer class labels/);
    expect(() => data.trainValTestSplit(x, y, { valSize: 0.5, testSize: 0.5 })).toThrow(/below 1/);
    expect(() => [...data.batches(x, y, { batchSize: 0 })]).toThrow(/batchSize/);
    expect(() => data.shuffle(x, y, { seed: -1 })).toThrow(/seed/);
  });
});

describe('CSV', () => {
  const text = 'a,b,label\n1,2,cat\n3,4,dog\n\n5,6,cat\n';

  it('parses features and a class target by name, numeric target by index', () => {
    const d = data.parseCsv(text, { target: 'label' });
    expect(d.x.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(Array.from(d.y!)).toEqual([0, 1, 0]);
    expect(d.classNames).toEqual(['cat', 'dog']);
    expect(d.columns).toEqual(['a', 'b']);
    const n = data.parseCsv('1;2;0.5\n3;4;1.5', { header: false, target: -1, delimiter: ';', dtype: 'float64' });
    expect(n.y).toBeInstanceOf(Float64Array);
    expect(Array.from(n.y!)).toEqual([0.5, 1.5]);
    expect(n.x.dtype).toBe('float64');
    expect(data.parseCsv('x\n1\n2').y).toBeNull();
  });

  it('parseCsv and loadCsv take classes, as csvBatches does, so train and test files index their labels alike', async () => {
    // test.csv without a 'cat' row: inferred, 'dog' would become class 0 there and class 1 in training.
    const test = 'a,b,label\n7,8,dog\n9,1,dog\n';
    expect(Array.from(data.parseCsv(test, { target: 'label' }).y!)).toEqual([0, 0]);
    const d = data.parseCsv(test, { target: 'label', classes: ['cat', 'dog'] });
    expect(Array.from(d.y!)).toEqual([1, 1]);
    expect(d.y).toBeInstanceOf(Int32Array);
    expect(d.classNames).toEqual(['cat', 'dog']);
    expect(d.x.toArray()).toEqual([[7, 8], [9, 1]]);
    // Numeric labels are labels too, in the order given.
    expect(Array.from(data.parseCsv('a,k\n1,3\n2,1\n', { target: 'k', classes: ['3', '1'] }).y!)).toEqual([0, 1]);
    const dir = tempDir('fastmlp-classes-');
    writeFileSync(join(dir, 'test.csv'), test);
    const loaded = await data.loadCsv(join(dir, 'test.csv'), { target: 'label', classes: ['cat', 'dog'] });
    const streamed = [];
    for await (const b of data.csvBatches(join(dir, 'test.csv'), { target: 'label', classes: ['cat', 'dog'] })) streamed.push(...b.y!);
    expect(Array.from(loaded.y!)).toEqual(streamed);
    // The same checks and messages as csvBatches.
    expect(() => data.parseCsv(test, { target: 'label', classes: ['cat'] }))
      .toThrow(/Expected one of the classes \('cat'\) in row 1 \(line 2\), column 'label' \(index 2\) but received 'dog'/);
    expect(() => data.parseCsv(test, { classes: ['dog'] })).toThrow(/classes without a target/);
    expect(() => data.parseCsv(test, { target: 'label', targetKind: 'value', classes: ['dog'] })).toThrow(/targetKind/);
    expect(() => data.parseCsv(test, { target: 'label', classes: [] })).toThrow(TypeError);
    expect(() => data.parseCsv(test, { target: 'label', classes: ['dog', 'dog'] })).toThrow(/distinct labels for classes/);
    expect(() => data.parseCsv('2,2,a,b\n1,2,0\n3,4,1\n', { target: -1, classes: ['a', 'b'] }))
      .toThrow(/scikit-learn's layout/);
    await expect(data.loadCsv(join(dir, 'test.csv'), { target: 'label', classes: 'dog' as never })).rejects.toThrow(TypeError);
  });

  it('names the row and column of ragged rows, non-numeric cells and a missing target', () => {
    expect(() => data.parseCsv('a,b\n1,2\n3\n')).toThrow(/Expected 2 cells in row 2 \(line 3\).*received 1/);
    expect(() => data.parseCsv('a,b\n1,2\n3,x\n')).toThrow(/row 2 \(line 3\), column 'b' \(index 1\) but received 'x'/);
    expect(() => data.parseCsv('a,b\n1,\n')).toThrow(/column 'b'/);
    expect(() => data.parseCsv(text, { target: 'y' })).toThrow(/column named 'y' for target.*'a', 'b', 'label'/);
    expect(() => data.parseCsv(text, { target: 5 })).toThrow(/target/);
    expect(() => data.parseCsv('a,b\n')).toThrow(/only a header/);
    expect(() => data.parseCsv(3 as never)).toThrow(TypeError);
    expect(() => data.parseCsv(text, { heder: true } as never)).toThrow(/Unknown option 'heder'/);
  });

  it('refuses an empty target cell instead of making it a class of its own', () => {
    // A numeric target with one missing value used to become a class target with a class ''.
    for (const targetKind of ['auto', 'class', 'value'] as const) {
      expect(() => data.parseCsv('a,b\n1,2\n3,\n5,6\n', { target: 'b', targetKind }))
        .toThrow(/row 2 \(line 3\), column 'b' \(index 1\) but received an empty cell/);
      expect(() => data.parseCsv('a,label\n1,cat\n3,""\n', { target: 'label', targetKind }))
        .toThrow(/row 2 \(line 3\), column 'label'/);
    }
  });

  it('refuses numbers that a float32 matrix cannot hold instead of storing ±Infinity', () => {
    expect(() => data.parseCsv('a,b\n1e39,1\n3,4\n', { target: 'b' }))
      .toThrow(/float32's range.*row 1 \(line 2\), column 'a' \(index 0\) but received '1e39'/);
    expect(() => data.parseCsv('a,b\n-4e38,1\n', { target: 'b' })).toThrow(RangeError);
    expect(data.parseCsv('a,b\n1e39,1\n', { target: 'b', dtype: 'float64' }).x.get(0, 0)).toBe(1e39);
    expect(data.parseCsv('a,b\n3.4e38,1\n', { target: 'b' }).x.get(0, 0)).toBeCloseTo(3.4e38, -32);
    // A value target is float64, whatever x's dtype.
    expect(data.parseCsv('a,b\n1,1e39\n', { target: 'b' }).y![0]).toBe(1e39);
  });

  it("reads scikit-learn's bundled CSV layout (first line: rows, features, class names) as data/iris.csv and data/breast_cancer.csv have it", async () => {
    // That first line was read as column names: breast_cancer.csv failed (4 names, 31 cells a row)
    // and iris.csv's target was called 'virginica', its classes '0', '1', '2'.
    const bc = await data.loadCsv(join(__dirname, '..', 'data', 'breast_cancer.csv'), { target: -1 });
    expect([bc.x.rows, bc.x.cols, bc.target]).toEqual([569, 30, 'target']);
    expect(bc.classNames).toEqual(['malignant', 'benign']);
    expect([0, 1].map((k) => (bc.y as Int32Array).filter((v) => v === k).length)).toEqual([212, 357]);
    expect(bc.columns.slice(0, 2)).toEqual(['0', '1']);
    const iris = await data.loadCsv(join(__dirname, '..', 'data', 'iris.csv'), { target: 'target' });
    expect(iris.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(iris.x.toArray()[0]!.map((v) => +v.toFixed(1))).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(Array.from(iris.y!)).toEqual(Array.from(data.loadIris().y));
    // A class index outside the names is an error naming the cell; 'value' keeps the numbers.
    expect(() => data.parseCsv('2,1,no,yes\n0.5,1\n0.7,2\n', { target: -1 })).toThrow(/class index in \[0, 1\] in row 2 \(line 3\), column 'target'.*received '2'/);
    expect(Array.from(data.parseCsv('2,1,no,yes\n0.5,1\n0.7,0\n', { target: -1, targetKind: 'value' }).y!)).toEqual([1, 0]);
    // Only that exact layout: a header of other names, or counts that do not match, is an ordinary header.
    expect(data.parseCsv('3,1,no,yes\n0.5,1,2,3\n0.7,0,2,3\n').columns).toEqual(['3', '1', 'no', 'yes']);
  });

  it('reads decimal numbers only: hex, binary and octal literals are text, as pandas and numpy read them', () => {
    // A BOM (Excel's "CSV UTF-8") and spaces around cells are not part of the number.
    expect(data.parseCsv('\ufeff1, 2 \r\n3,4', { header: false }).x.toArray()).toEqual([[1, 2], [3, 4]]);
    const d = data.parseCsv('a,b\n1e5,-0\n.5,+2\n5.,1E-3\n', { dtype: 'float64' });
    expect(d.x.toArray()).toEqual([[1e5, -0], [0.5, 2], [5, 1e-3]]);
    for (const cell of ['0x10', '0b11', '0o7', '1_000']) {
      expect(() => data.parseCsv(`a,b\n1,${cell}\n`)).toThrow(new RegExp(`column 'b' \\(index 1\\) but received '${cell}'`));
    }
    // A target of such codes is a class target (labels), not the numbers JavaScript reads in them.
    const t = data.parseCsv('a,id\n1,0x1F\n2,0x20\n', { target: 'id' });
    expect(t.classNames).toEqual(['0x1F', '0x20']);
  });

  it("names repeated header names apart as pandas does ('v', 'v.1', 'v.2'), so each column has a name of its own", () => {
    const d = data.parseCsv('v,w,v,v,y\n1,2,3,4,5\n', { target: 'y' });
    expect(d.columns).toEqual(['v', 'w', 'v.1', 'v.2']);
    expect(data.parseCsv('v,w,v,y\n1,2,3,5\n', { target: 'v.1' }).x.toArray()).toEqual([[1, 2, 5]]);
    // A name that is already taken is skipped, as pandas skips it.
    expect(data.parseCsv('v,v.1,v\n1,2,3\n').columns).toEqual(['v', 'v.1', 'v.2']);
  });

  it('loadCsv reads plain and gzipped files', async () => {
    const dir = tempDir('fastmlp-csv-');
    writeFileSync(join(dir, 'd.csv'), text);
    writeFileSync(join(dir, 'd.csv.gz'), gzipSync(text));
    for (const f of ['d.csv', 'd.csv.gz']) {
      const d = await data.loadCsv(join(dir, f), { target: 'label', targetKind: 'class' });
      expect(d.x.rows).toBe(3);
      expect(d.classNames).toEqual(['cat', 'dog']);
    }
    await expect(data.loadCsv(join(dir, 'missing.csv'))).rejects.toThrow(/ENOENT/);
    await expect(data.loadCsv(42 as never)).rejects.toThrow(TypeError);
  });

  it('loads the bundled digits and iris', () => {
    const d = data.loadDigits();
    expect([d.x.rows, d.x.cols]).toEqual([1797, 64]);
    expect(Math.max(...d.x.data)).toBe(1);
    expect(new Set(d.y).size).toBe(10);
    expect(Math.max(...data.loadDigits({ scale: false }).x.data)).toBe(16);
    const iris = data.loadIris();
    expect([iris.x.rows, iris.x.cols]).toEqual([150, 4]);
    expect(iris.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect([0, 1, 2].map((k) => iris.y.filter((v) => v === k).length)).toEqual([50, 50, 50]);
    expect(iris.x.toArray()[0]!.map((v) => +v.toFixed(1))).toEqual([5.1, 3.5, 1.4, 0.2]);
  });
});

describe.each(ENGINES)('a data pipeline trains (%s engine)', (engine) => {
  it('iris: stratified split, standardised on the training part, > 90 % test accuracy', async () => {
    const iris = data.loadIris();
    const split = data.trainTestSplit(iris.x, iris.y, { testSize: 0.3, seed: 7, stratify: true });
    const scaler = new data.StandardScaler().fit(split.xTrain);
    const m = new Sequential([new Dense(4, 16, { activation: 'relu' }), new Dense(16, 3)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.02 }), metrics: ['accuracy'] });
    await m.fit(scaler.transform(split.xTrain), split.yTrain, { epochs: 60, batchSize: 16 });
    const test = m.evaluate(scaler.transform(split.xTest), split.yTest);
    expect(test['accuracy']).toBeGreaterThan(0.9);
    expect(metrics.accuracy(m.predict(scaler.transform(split.xTest)), split.yTest)).toBe(test['accuracy']);
  });
});
