// Splitting and batching (SPEC.md §5; notes 001/002): seeded shuffles,
// train/test and train/validation/test splits (optionally stratified by
// class), and a mini-batch iterator (batchSize = n: batch gradient descent;
// 1: stochastic). Shuffles use the library's seeded xoshiro128** (lib/rng.ts),
// so a seed gives the same split on every engine and platform.
import { Matrix, toMatrix, type MatrixLike } from '../matrix';
import { Rng, randomSeed } from '../rng';
import { ArgumentRangeError, allocationSize, boolean, integer, number, options, rangeError, typeError } from '../validate';

/** Labels or targets: one value per row (flat array) or a matrix with one row per row of x. */
export type Labels = number[] | Int32Array | Float32Array | Float64Array | Matrix | number[][];

type Rows = { count: number; take(indices: ArrayLike<number>): unknown };

function isFlat(value: unknown): value is number[] | Int32Array | Float32Array | Float64Array {
  return value instanceof Int32Array || value instanceof Float32Array || value instanceof Float64Array ||
    (Array.isArray(value) && (value.length === 0 || typeof value[0] === 'number'));
}

/** x as a Matrix that keeps its dtype when it is one already. */
function xRows(x: unknown): Rows & { matrix: Matrix } {
  const m = x instanceof Matrix ? x : toMatrix(x, 'x', 'float32');
  return {
    matrix: m,
    count: m.rows,
    take: (idx) => selectRows(m, idx),
  };
}

function yRows(y: unknown, rows: number): Rows {
  if (isFlat(y)) {
    if (y.length !== rows) throw rangeError('y', `${rows} values (one per row of x)`, y);
    return {
      count: y.length,
      take: (idx) => {
        if (Array.isArray(y)) return Array.from(idx, (i) => y[i]!);
        const out = new (y.constructor as Int32ArrayConstructor)(idx.length);
        for (let i = 0; i < idx.length; i++) out[i] = y[idx[i]!]!;
        return out;
      },
    };
  }
  const m = y instanceof Matrix ? y : toMatrix(y, 'y', 'float32');   // toMatrix checks rows of rows too
  if (m.rows !== rows) throw new ArgumentRangeError(`Expected ${rows} rows for y (as x) but received ${m.rows}`);
  if (Array.isArray(y)) {
    // Rows given as arrays come back as arrays (copies), as Labels' type says, not as a float32 Matrix.
    const list = y as ArrayLike<number>[];
    return { count: m.rows, take: (idx) => Array.from(idx, (i) => Array.from(list[i]!)) };
  }
  return { count: m.rows, take: (idx) => selectRows(m, idx) };
}

function selectRows(m: Matrix, idx: ArrayLike<number>): Matrix {
  const out = new Matrix(idx.length, m.cols, undefined, m.dtype);
  for (let i = 0; i < idx.length; i++) out.data.set(m.data.subarray(idx[i]! * m.cols, (idx[i]! + 1) * m.cols), i * m.cols);
  return out;
}

function seedOf(value: unknown): number {
  return value === undefined ? randomSeed() : integer('seed', value, 0);
}

/** Class of each row for stratification: integer labels, or argmax of one-hot rows. */
function classesOf(y: unknown, rows: number): Int32Array {
  if (isFlat(y)) {
    const out = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const v = y[i]!;
      if (!Number.isInteger(v)) throw new ArgumentRangeError(`Expected integer class labels for y (stratify) but received ${v} at index ${i}`);
      out[i] = v;
    }
    return out;
  }
  return (y instanceof Matrix ? y : toMatrix(y, 'y', 'float32')).argmax();
}

export interface SeedOptions {
  /** Seed of the shuffle: an integer ≥ 0; the same seed gives the same order on every engine and platform (default: random). */
  seed?: number;
}

/**
 * The seed of permutation and shuffle, given either way: a number (the older
 * form of permutation) or `{ seed }` (the form of every other data helper).
 */
function seedArgument(value: unknown, what: string): number {
  if (value === undefined || typeof value === 'number') return seedOf(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(what, 'a seed (an integer ≥ 0) or an options object { seed }', value);
  }
  return seedOf(options(what, value, ['seed']).seed);
}

/**
 * A seeded permutation of 0..n−1. The seed comes as a number or as `{ seed }`
 * (as shuffle's and the splits'); without one, a random seed. The same seed
 * gives the order in which `shuffle(x, y, { seed })` puts n rows.
 */
export function permutation(n: number, seed?: number | SeedOptions): Int32Array {
  const s = seedArgument(seed, 'permutation options');
  // An Int32Array of n: a size no buffer can hold is a RangeError naming n, not V8's bare one.
  return new Rng(s).permutation(allocationSize('n', integer('n', n, 0), 4));
}

/**
 * Rows of x (and y, in the same order) shuffled with a seed, given as
 * `{ seed }` or as a number (as permutation's); copies, the inputs are
 * unchanged. Without a seed, a random one.
 */
export function shuffle<Y extends Labels>(x: MatrixLike, y?: Y, opts?: SeedOptions | number): { x: Matrix; y: Y | undefined } {
  const seed = seedArgument(opts, 'shuffle options');
  const xs = xRows(x);
  const order = new Rng(seed).permutation(xs.count);
  return { x: xs.take(order) as Matrix, y: y === undefined ? undefined : (yRows(y, xs.count).take(order) as Y) };
}

/**
 * Rows per class for a part of `total` rows drawn from classes of `counts` rows:
 * each class its proportional share rounded down, then one more to the classes
 * with the largest remainders (ties in seeded random order) until the total is
 * exact. This is scikit-learn 1.2's `_approximate_mode`
 * (sklearn/utils/extmath.py), which StratifiedShuffleSplit uses.
 */
function approximateMode(counts: number[], total: number, rng: Rng): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  const share = counts.map((c) => (c / sum) * total);
  const out = share.map(Math.floor);
  let missing = total - out.reduce((a, b) => a + b, 0);
  const tieOrder = rng.permutation(counts.length);
  const byRemainder = Array.from(tieOrder).sort((a, b) => (share[b]! - out[b]!) - (share[a]! - out[a]!));
  for (const k of byRemainder) {
    if (missing === 0) break;
    if (share[k]! - out[k]! > 0) { out[k]!++; missing--; }
  }
  return out;
}

/**
 * Splits row indices into parts of the given sizes (rows; they sum to `rows`),
 * shuffled with a seed; with stratify each class is split on its own so every
 * part keeps the class proportions (approximateMode, part by part, as
 * scikit-learn allots train first, then the next part from what is left).
 */
function splitIndices(rows: number, sizes: number[], seed: number, shuffleRows: boolean, classes: Int32Array | null): Int32Array[] {
  const rng = new Rng(seed);
  const groups: Int32Array[] = [];
  if (classes) {
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < rows; i++) {
      const list = byClass.get(classes[i]!) ?? [];
      list.push(i);
      byClass.set(classes[i]!, list);
    }
    for (const key of [...byClass.keys()].sort((a, b) => a - b)) groups.push(Int32Array.from(byClass.get(key)!));
  } else {
    groups.push(Int32Array.from({ length: rows }, (_, i) => i));
  }
  // perGroup[p][g]: rows of group g in part p; the last part takes what is left.
  let left = groups.map((g) => g.length);
  const perGroup = sizes.map((size, p) => {
    const take = p === sizes.length - 1 ? left : approximateMode(left, size, rng);
    left = left.map((n, g) => n - take[g]!);
    return take;
  });
  const parts: number[][] = sizes.map(() => []);
  groups.forEach((g, gi) => {
    const order = shuffleRows ? rng.permutation(g.length).map((i) => g[i]!) : g;
    let begin = 0;
    perGroup.forEach((take, p) => {
      // A loop, not push(...rows): spreading a class of ~500 k rows overflows the call stack.
      const part = parts[p]!;
      for (let i = begin; i < begin + take[gi]!; i++) part.push(order[i]!);
      begin += take[gi]!;
    });
  });
  // Stratified parts are concatenated by class; shuffle them so batches mix classes.
  return parts.map((p) => {
    const arr = Int32Array.from(p);
    if (!shuffleRows || !classes) return arr;
    const perm = rng.permutation(arr.length);
    return perm.map((i) => arr[i]!);
  });
}

/**
 * Rows of a part given as a fraction in (0, 1) — ⌈size·n⌉, as scikit-learn
 * rounds test_size (so 0.07 of 100 rows is 8: 0.07·100 is 7.000000000000001
 * in float64, in both) — or as a count, an integer ≥ 1.
 */
function partRows(name: string, size: unknown, rows: number): number {
  if (typeof size === 'number' && Number.isInteger(size) && size >= 1) {
    if (size >= rows) throw new ArgumentRangeError(`Expected a fraction in (0, 1) or a row count below ${rows} (the rows of x) for ${name} but received ${size}`);
    return size;
  }
  if (typeof size === 'number' && size > 0 && size < 1) return Math.ceil(size * rows);
  if (typeof size !== 'number') number(name, size);   // the TypeError
  throw new ArgumentRangeError(`Expected a fraction in (0, 1) or a row count (an integer ≥ 1) for ${name} but received ${size}`);
}

/** The stratify option, refused without shuffling (as scikit-learn's train_test_split refuses it). */
function stratifyOption(o: Partial<Record<string, unknown>>, shuffleRows: boolean): boolean {
  const stratify = o['stratify'] === undefined ? false : boolean('stratify', o['stratify']);
  if (stratify && !shuffleRows) throw new ArgumentRangeError('Expected shuffle: true for a stratified split but received shuffle: false');
  return stratify;
}

export interface SplitOptions {
  /** The test part: a fraction of the rows in (0, 1) (⌈testSize·n⌉ rows, as scikit-learn), or a row count ≥ 1. Default 0.25. */
  testSize?: number;
  /** Seed of the shuffle, an integer ≥ 0: the same seed gives the same split (default: random). */
  seed?: number;
  /** Shuffle the rows before splitting (default true); false: the test part is the last rows. */
  shuffle?: boolean;
  /** Keep class proportions in each part (y must hold class labels or one-hot rows; needs shuffle). Default false. */
  stratify?: boolean;
}

export interface Split<Y> {
  xTrain: Matrix;
  xTest: Matrix;
  yTrain: Y;
  yTest: Y;
}

/**
 * Train/test split of x (and y) by rows, shuffled with a seed by default; y keeps
 * its form (array, typed array, rows or Matrix). x's parts are Matrix copies.
 * Defaults: testSize 0.25, shuffle true, stratify false, a random seed.
 */
export function trainTestSplit<Y extends Labels>(x: MatrixLike, y: Y, opts?: SplitOptions): Split<Y> {
  const o = options('trainTestSplit options', opts, ['testSize', 'seed', 'shuffle', 'stratify']);
  const testSize = o.testSize === undefined ? 0.25 : (o.testSize as number);
  const shuffleRows = o.shuffle === undefined ? true : boolean('shuffle', o.shuffle);
  const stratify = stratifyOption(o, shuffleRows);
  const xs = xRows(x);
  const ys = yRows(y, xs.count);
  const nTest = partRows('testSize', testSize, xs.count);
  const [train, test] = splitIndices(xs.count, [xs.count - nTest, nTest], seedOf(o.seed), shuffleRows,
    stratify ? classesOf(y, xs.count) : null) as [Int32Array, Int32Array];
  if (train.length === 0 || test.length === 0) {
    throw new ArgumentRangeError(`testSize ${testSize} of ${xs.count} rows leaves ${train.length} to train on and ${test.length} to test`);
  }
  return { xTrain: xs.take(train) as Matrix, xTest: xs.take(test) as Matrix, yTrain: ys.take(train) as Y, yTest: ys.take(test) as Y };
}

export interface ThreeWaySplitOptions {
  /** The validation part: a fraction of all rows in (0, 1) (⌈valSize·n⌉ rows) or a row count ≥ 1. Default 0.15. */
  valSize?: number;
  /** The test part, as valSize (default 0.15); training gets the rest. */
  testSize?: number;
  /** Seed of the shuffle, an integer ≥ 0 (default: random). */
  seed?: number;
  /** Shuffle the rows before splitting (default true). */
  shuffle?: boolean;
  /** Keep class proportions in each part (needs shuffle). Default false. */
  stratify?: boolean;
}

export interface ThreeWaySplit<Y> extends Split<Y> {
  xVal: Matrix;
  yVal: Y;
}

/**
 * Train/validation/test split by rows: valSize and testSize are fractions of all
 * rows (or row counts), training gets the rest. Defaults: valSize 0.15,
 * testSize 0.15, shuffle true, stratify false, a random seed.
 */
export function trainValTestSplit<Y extends Labels>(x: MatrixLike, y: Y, opts?: ThreeWaySplitOptions): ThreeWaySplit<Y> {
  const o = options('trainValTestSplit options', opts, ['valSize', 'testSize', 'seed', 'shuffle', 'stratify']);
  const valSize = o.valSize === undefined ? 0.15 : (o.valSize as number);
  const testSize = o.testSize === undefined ? 0.15 : (o.testSize as number);
  const shuffleRows = o.shuffle === undefined ? true : boolean('shuffle', o.shuffle);
  const stratify = stratifyOption(o, shuffleRows);
  const xs = xRows(x);
  const ys = yRows(y, xs.count);
  const nVal = partRows('valSize', valSize, xs.count);
  const nTest = partRows('testSize', testSize, xs.count);
  if (valSize < 1 && testSize < 1 && valSize + testSize >= 1) throw rangeError('valSize + testSize', 'a sum below 1', valSize + testSize);
  const nTrain = Math.max(0, xs.count - nVal - nTest);
  if (nTrain === 0) {
    throw new ArgumentRangeError(`valSize ${valSize} and testSize ${testSize} of ${xs.count} rows leave 0 rows to train on`);
  }
  const [train, val, test] = splitIndices(xs.count, [nTrain, nVal, nTest], seedOf(o.seed), shuffleRows,
    stratify ? classesOf(y, xs.count) : null) as [Int32Array, Int32Array, Int32Array];
  if (train.length === 0 || val.length === 0 || test.length === 0) {
    throw new ArgumentRangeError(`valSize ${valSize} and testSize ${testSize} of ${xs.count} rows leave ${train.length}/${val.length}/${test.length} rows`);
  }
  return {
    xTrain: xs.take(train) as Matrix, xVal: xs.take(val) as Matrix, xTest: xs.take(test) as Matrix,
    yTrain: ys.take(train) as Y, yVal: ys.take(val) as Y, yTest: ys.take(test) as Y,
  };
}

export interface BatchOptions {
  /** Rows per batch, an integer ≥ 1 (default 32); the last batch may hold fewer. */
  batchSize?: number;
  /** Visit the rows in a seeded random order (default false: x's order). */
  shuffle?: boolean;
  /** Seed of that order, an integer ≥ 0 (default: random). */
  seed?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/**
 * Mini-batches of rows (copies), lazily: `for (const { x, y } of batches(x, y, { batchSize: 32 }))`.
 * Without y, each batch's y is undefined. Defaults: batchSize 32, no shuffle, keep the last batch.
 */
export function* batches<Y extends Labels>(x: MatrixLike, y?: Y, opts?: BatchOptions): Generator<{ x: Matrix; y: Y | undefined }> {
  const o = options('batches options', opts, ['batchSize', 'shuffle', 'seed', 'dropLast']);
  const batchSize = o.batchSize === undefined ? 32 : integer('batchSize', o.batchSize, 1);
  const shuffleRows = o.shuffle === undefined ? false : boolean('shuffle', o.shuffle);
  const dropLast = o.dropLast === undefined ? false : boolean('dropLast', o.dropLast);
  const xs = xRows(x);
  const ys = y === undefined ? null : yRows(y, xs.count);
  const order = shuffleRows ? new Rng(seedOf(o.seed)).permutation(xs.count) : Int32Array.from({ length: xs.count }, (_, i) => i);
  for (let start = 0; start < xs.count; start += batchSize) {
    const idx = order.subarray(start, Math.min(start + batchSize, xs.count));
    if (dropLast && idx.length < batchSize) return;
    yield { x: xs.take(idx) as Matrix, y: ys ? (ys.take(idx) as Y) : undefined };
  }
}

