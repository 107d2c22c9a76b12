// data.csvBatches (lib/data/csv-stream.ts, csv-blocks.ts): a CSV file read a
// chunk at a time gives, batch by batch, exactly the rows, targets, names and
// errors loadCsv gives for the whole file — whatever the chunk size (down to
// one byte: lines, CRLF pairs and UTF-8 characters split across chunks), with
// quotes (csv-parse takes over mid-file), CRLF, a BOM, blank lines, .gz; it
// trains a model end to end in both engines, the same as the rows in memory;
// bad options and bad files fail with named errors. Memory: see
// test/csv-stream-memory.test.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, data, optim } from '../lib';
import type { CsvBatchOptions } from '../lib/data/csv-stream';
import type { CsvData } from '../lib/data/csv';
import { ENGINES, maxRelDiff } from './helpers';
import { tempDir } from './temp-dir';

const dir = tempDir('fastmlp-csv-stream-');
let fileCount = 0;

function file(text: string | Buffer, ext = '.csv'): string {
  const path = join(dir, `f${fileCount++}${ext}`);
  writeFileSync(path, text);
  return path;
}

/** Every batch of the stream, joined, in loadCsv's shape. */
async function readAll(path: string, opts: CsvBatchOptions): Promise<CsvData & { batchRows: number[] }> {
  const batches = data.csvBatches(path, opts);
  const info = await batches.info();
  const xs: number[] = [];
  const ys: number[] = [];
  const batchRows: number[] = [];
  let cols = info.columns.length;
  for await (const { x, y } of batches) {
    cols = x.cols;
    batchRows.push(x.rows);
    for (const v of x.data) xs.push(v);
    if (y) for (const v of y) ys.push(v);
  }
  const dtypeArray = opts.dtype === 'float64' ? Float64Array : Float32Array;
  return {
    x: new Matrix(batchRows.reduce((a, b) => a + b, 0), cols, dtypeArray.from(xs)),
    y: info.targetKind === 'class' ? Int32Array.from(ys) : info.targetKind === 'value' ? Float64Array.from(ys) : null,
    columns: info.columns,
    target: info.target,
    classNames: info.classNames,
    batchRows,
  };
}

/** What loadCsv gives, or its error message. */
async function reference(path: string, opts: CsvBatchOptions): Promise<CsvData | string> {
  const { batchSize: _b, chunkSize: _c, classes: _k, ...csvOpts } = opts;
  try {
    return await data.loadCsv(path, csvOpts);
  } catch (e) {
    return (e as Error).message;
  }
}

async function streamed(path: string, opts: CsvBatchOptions): Promise<CsvData | string> {
  try {
    return await readAll(path, opts);
  } catch (e) {
    return (e as Error).message;
  }
}

function expectSame(got: CsvData | string, want: CsvData | string): void {
  if (typeof want === 'string' || typeof got === 'string') {
    expect(got).toEqual(want);
    return;
  }
  expect(got.columns).toEqual(want.columns);
  expect(got.target).toEqual(want.target);
  expect(got.classNames).toEqual(want.classNames);
  expect(got.x.rows).toBe(want.x.rows);
  expect(got.x.cols).toBe(want.x.cols);
  expect(Array.from(got.x.data)).toEqual(Array.from(want.x.data));
  expect(got.y === null ? null : Array.from(got.y)).toEqual(want.y === null ? null : Array.from(want.y));
  expect(got.y?.constructor).toBe(want.y?.constructor);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const CHUNKS = [1, 2, 3, 7, 64, 1 << 20];

const rows = (n: number, row: (i: number) => string) => Array.from({ length: n }, (_, i) => row(i));

const CASES: [string, string, CsvBatchOptions][] = [
  ['numbers, LF, text labels', ['a,b,label', ...rows(40, (i) => `${i},${(i * 0.37).toFixed(3)},${i % 3 ? 'dog' : 'cat'}`)].join('\n') + '\n',
    { target: 'label' }],
  ['CRLF, a BOM, no final line break', '\uFEFF' + ['x,y,t', ...rows(30, (i) => `${-i}.5,1e-${i % 5},${i % 2}`)].join('\r\n'),
    { target: 't' }],
  ['blank and whitespace lines, spaced cells', 'p , q,r\n\n 1, 2 ,3\n   \n4,5,6\n\t\n7 ,8, 9\n', { target: -1, targetKind: 'class' }],
  ['quotes after some rows (csv-parse takes over mid-file)',
    ['a,b,name', ...rows(25, (i) => `${i},${i / 4},plain${i % 2}`), '1,"2",quoted', '3,4,"multi\nline"', ...rows(5, (i) => `${i},${i},x${i}`)].join('\n'),
    { target: 'name' }],
  ['a quote in the header', '"a",b,"the, label"\n1,2,yes\n3,4,no\n', { target: 'the, label' }],
  ['LF first, then CRLF (mixed breaks)', 'a,b\n1,2\n3,4\r\n5,6\n', { target: 'b' }],
  ['lone CR breaks (csv-parse from the start)', 'a,b\r1,2\r3,4\r', { target: 0 }],
  ['UTF-8 labels split across chunks', ['f,label', ...rows(20, (i) => `${i},${['é', 'ü', '猫', '🐕'][i % 4]}`)].join('\n'), { target: 'label' }],
  ['no header, index target, float64 values', rows(33, (i) => `${i * 1.25},${-i},${i * i / 7}`).join('\n'), { header: false, target: -1, dtype: 'float64' }],
  ['no target', 'a;b;c\n1;2;3\n4;5;6\n', { delimiter: ';' }],
  ['numeric class labels in numeric order', ['v,k', ...rows(12, (i) => `${i},${[10, 2, 33][i % 3]}`)].join('\n'), { target: 'k', targetKind: 'class' }],
  ["scikit-learn's layout", ['6,2,setosa,versicolor', ...rows(6, (i) => `${i}.1,${i}.2,${i % 2}`)].join('\n'), { target: 'target' }],
  ['repeated header names', 'v,v,w\n1,2,3\n4,5,6\n', { target: 'v.1' }],
  ['long numbers and exponents (the slow path)', 'a,b\n0.1234567890123456789,1E+300\n-1e-7,+.5\n', { target: 'a', dtype: 'float64' }],
  // Errors: one bad row each, so the message is the same whichever order the readers look in.
  ['a bad cell', 'a,b,c\n1,2,3\nx,5,6\n7,8,9\n', { target: 'c' }],
  ['a ragged row', 'a,b,c\n1,2,3\n4,5\n7,8,9\n', { target: 'c' }],
  ['an empty target', 'a,b\n1,2\n3,\n', { target: 'b' }],
  ['beyond float32', 'a,b\n1,1e39\n', { target: 'a' }],
  ['an unknown target name', 'a,b\n1,2\n', { target: 'c' }],
  ['an empty file', '\n\n', { target: 'a' }],
  ['a header only', 'a,b\n', { target: 'a' }],
];

describe('csvBatches reads what loadCsv reads', () => {
  for (const [name, text, opts] of CASES) {
    it(name, async () => {
      const path = file(text);
      const want = await reference(path, opts);
      for (const chunkSize of CHUNKS) {
        for (const batchSize of [1, 4, 1000]) {
          expectSame(await streamed(path, { ...opts, chunkSize, batchSize }), want);
        }
      }
    });
  }

  it('a .gz file, read in chunks of the decompressed stream', async () => {
    const text = ['a,b,c', ...rows(500, (i) => `${i},${i % 7},${i % 3 ? 'u' : 'v'}`)].join('\n');
    const path = file(gzipSync(text), '.csv.gz');
    const want = await reference(path, { target: 'c' });
    expect(typeof want).not.toBe('string');
    for (const chunkSize of [64, 100, 1 << 20]) expectSame(await streamed(path, { target: 'c', chunkSize, batchSize: 64 }), want);
  });

  it('batches hold batchSize rows, the last the rest, each in its own buffer', async () => {
    const path = file(['a,b', ...rows(10, (i) => `${i},${i}`)].join('\n'));
    const got = await readAll(path, { target: 'b', batchSize: 4, chunkSize: 5 });
    expect(got.batchRows).toEqual([4, 4, 2]);
    const buffers = new Set<ArrayBufferLike>();
    for await (const { x } of data.csvBatches(path, { target: 'b', batchSize: 4 })) {
      expect(x.data.length).toBe(x.rows);           // no spare rows behind the last batch
      expect(buffers.has(x.data.buffer)).toBe(false);
      buffers.add(x.data.buffer);
    }
  });

  it('random files: the same rows or the same failure as loadCsv, at any chunk size', async () => {
    // Cells from an alphabet that hits every rule: numbers, signs, exponents,
    // spaces, quotes, CR, multi-byte characters, empty cells.
    const cell = fc.oneof(
      fc.integer({ min: -999, max: 999 }).map(String),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v.toPrecision(6)),
      fc.constantFrom('', ' 7 ', '1e3', '-0', '.5', 'x', 'é', '"q"', '"a,b"', '2\r', '🐕'),
    );
    const table = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 12 }), fc.boolean(), fc.boolean())
      .chain(([width, height, crlf, numericOnly]) => fc.tuple(
        fc.array(fc.array(numericOnly ? fc.integer({ min: -50, max: 50 }).map(String) : cell, { minLength: width, maxLength: width }),
          { minLength: height, maxLength: height }),
        fc.constant(crlf), fc.integer({ min: 1, max: 40 }), fc.boolean()));
    await fc.assert(fc.asyncProperty(table, async ([cells, crlf, chunkSize, header]) => {
      const text = cells.map((r) => r.join(',')).join(crlf ? '\r\n' : '\n');
      const path = file(text);
      const opts: CsvBatchOptions = { header, target: -1 };
      const want = await reference(path, opts);
      const got = await streamed(path, { ...opts, chunkSize, batchSize: 3 });
      // Several bad rows may be reported in another order (loadCsv: ragged rows first); a failure is a failure.
      if (typeof want === 'string') expect(typeof got).toBe('string');
      else expectSame(got, want);
    }), { numRuns: 150, seed: 11 });
  });
});

describe('csvBatches: target encoding', () => {
  it('classes given: no first pass, labels in the given order, an unknown label names its row', async () => {
    const path = file('a,label\n1,dog\n2,cat\n3,dog\n');
    const batches = data.csvBatches(path, { target: 'label', classes: ['dog', 'cat'] });
    expect(await batches.info()).toEqual({ columns: ['a'], target: 'label', targetKind: 'class', classNames: ['dog', 'cat'], rows: null });
    const [only] = await collect(batches);
    expect(Array.from(only!.y!)).toEqual([0, 1, 0]);
    const bad = data.csvBatches(file('a,label\n1,dog\n2,cow\n'), { target: 'label', classes: ['dog', 'cat'] });
    await expect(collect(bad)).rejects.toThrow("Expected one of the classes ('dog', 'cat') in row 2 (line 3), column 'label' (index 1) but received 'cow'");
  });

  it("a first pass counts rows and finds the labels; targetKind 'value' needs none", async () => {
    const path = file('a,y\n1,0.5\n2,1.5\n3,2\n');
    expect(await data.csvBatches(path, { target: 'y' }).info()).toMatchObject({ targetKind: 'value', rows: 3 });
    expect(await data.csvBatches(path, { target: 'y', targetKind: 'value' }).info()).toMatchObject({ targetKind: 'value', rows: null });
    expect(await data.csvBatches(path, { target: 'y', targetKind: 'class' }).info()).toMatchObject({ classNames: ['0.5', '1.5', '2'], rows: 3 });
  });

  it(`more than ${data.MAX_SCANNED_LABELS} distinct text labels ask for classes; as many distinct numbers are values`, async () => {
    const n = data.MAX_SCANNED_LABELS + 2;
    const text = file(['a,t', ...rows(n, (i) => `${i % 5},k${i}`)].join('\n'));
    await expect(data.csvBatches(text, { target: 't' }).info()).rejects.toThrow(/at most 65536 distinct labels .* pass classes/);
    const numbers = file(['a,t', ...rows(n, (i) => `${i % 5},${i}`)].join('\n'));
    expect(await data.csvBatches(numbers, { target: 't' }).info()).toMatchObject({ targetKind: 'value', rows: n });
  });
});

describe('csvBatches: arguments and files', () => {
  const path = file('a,b\n1,2\n');

  it('rejects bad options with errors that name them', () => {
    expect(() => data.csvBatches('' as never)).toThrow(TypeError);
    expect(() => data.csvBatches(3 as never)).toThrow(/for path/);
    expect(() => data.csvBatches(path, { batchSize: 0 })).toThrow(RangeError);
    expect(() => data.csvBatches(path, { batchSize: 0 })).toThrow(/for batchSize but received 0/);
    expect(() => data.csvBatches(path, { chunkSize: 1.5 })).toThrow(/for chunkSize/);
    expect(() => data.csvBatches(path, { target: 'b', classes: 'ab' as never })).toThrow(TypeError);
    expect(() => data.csvBatches(path, { target: 'b', classes: ['x', 'x'] })).toThrow(/distinct labels for classes/);
    expect(() => data.csvBatches(path, { classes: ['x'] })).toThrow(/classes without a target/);
    expect(() => data.csvBatches(path, { target: 'b', classes: ['x'], targetKind: 'value' })).toThrow(/targetKind/);
    expect(() => data.csvBatches(path, { delimiter: '' })).toThrow(/for delimiter/);
    expect(() => data.csvBatches(path, { batch: 3 } as never)).toThrow(/Unknown option 'batch'/);
  });

  it('a missing file rejects with ENOENT; a later call tries again', async () => {
    const missing = join(dir, 'later.csv');
    const batches = data.csvBatches(missing, { target: 'b' });
    await expect(batches.info()).rejects.toMatchObject({ code: 'ENOENT' });
    writeFileSync(missing, 'a,b\n1,2\n');
    expect(await batches.info()).toMatchObject({ columns: ['a'], target: 'b' });
  });

  it('a damaged .gz file and a directory reject with their system errors', async () => {
    await expect(collect(data.csvBatches(file('not gzip at all', '.csv.gz'), { target: 0 }))).rejects.toMatchObject({ code: 'Z_DATA_ERROR' });
    await expect(collect(data.csvBatches(dir, { target: 0 }))).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe.each(ENGINES)('csvBatches trains a model end to end (%s engine)', (engine) => {
  // Two interleaved half-moons-like classes with text labels, CRLF, a BOM.
  const N = 600;
  const lines = rows(N, (i) => {
    const t = (i * 0.7) % 6.283;
    const label = i % 2 === 0 ? 'left' : 'right';
    const x = i % 2 === 0 ? Math.cos(t) : 1 - Math.cos(t);
    const y = i % 2 === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
    return `${x.toFixed(4)},${y.toFixed(4)},${label}`;
  });
  const path = file('\uFEFFx,y,side\r\n' + lines.join('\r\n') + '\r\n');

  function model() {
    const m = new Sequential([new Dense(2, 16, { activation: 'tanh' }), new Dense(16, 2)], { engine, seed: 4, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.03 }), metrics: ['accuracy'] });
    return m;
  }

  it('learns from the stream, and equals training on the rows in memory', async () => {
    const batches = data.csvBatches(path, { target: 'side', batchSize: 120, chunkSize: 4096, dtype: 'float64' });
    const streamedModel = model();
    const h = await streamedModel.fit(batches, { epochs: 40, batchSize: 30 });
    expect(h.epoch.length).toBe(40);
    const all = await data.loadCsv(path, { target: 'side', dtype: 'float64' });
    expect(streamedModel.evaluate(all.x, all.y!)['accuracy']).toBeGreaterThan(0.9);
    // 120-row batches are whole multiples of fit's 30: the same steps as in memory without shuffling.
    const memoryModel = model();
    const hm = await memoryModel.fit(all.x, all.y!, { epochs: 40, batchSize: 30, shuffle: false });
    // The epoch loss sums chunk by chunk: the same value up to rounding (test/fit-stream.test.ts).
    h.history['loss']!.forEach((v, i) => expect(v).toBeCloseTo(hm.history['loss']![i]!, 12));
    expect(h.history['accuracy']).toEqual(hm.history['accuracy']);
    expect(Object.values(streamedModel.getWeights()).flatMap((a) => Array.from(a)))
      .toEqual(Object.values(memoryModel.getWeights()).flatMap((a) => Array.from(a)));
  });

  it('a bad row mid-file fails fit with its row and line', async () => {
    const bad = file(['x,y,side', ...lines.slice(0, 300), '0.5,oops,left', ...lines.slice(300)].join('\n'));
    const m = model();
    await expect(m.fit(data.csvBatches(bad, { target: 'side', classes: ['left', 'right'], batchSize: 50 }), { epochs: 2 }))
      .rejects.toThrow("Expected a number in row 301 (line 302), column 'y' (index 1) but received 'oops'");
  });
});

describe('csvBatches: engine parity', () => {
  it('native and js train the same weights from the same stream', async () => {
    const path = file(['a,b,c,v', ...rows(400, (i) => `${Math.sin(i)},${Math.cos(i * 0.3)},${(i % 17) / 17},${Math.sin(i) * 2 - (i % 17) / 17}`)].join('\n'));
    const weights: number[][] = [];
    for (const engine of ENGINES) {
      const m = new Sequential([new Dense(3, 8, { activation: 'relu' }), new Dense(8, 1)], { engine, seed: 9, dtype: 'float64' });
      m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0.05, momentum: 0.9 }) });
      const h = await m.fit(data.csvBatches(path, { target: 'v', batchSize: 64, dtype: 'float64' }), { epochs: 10, batchSize: 16 });
      expect(h.history['loss']![9]).toBeLessThan(h.history['loss']![0]!);
      weights.push(Object.values(m.getWeights()).flatMap((a) => Array.from(a)));
    }
    expect(maxRelDiff(weights[0]!, weights[1]!)).toBeLessThan(1e-9);
  });
});
