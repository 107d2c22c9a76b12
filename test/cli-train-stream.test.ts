// `fastmlp train --stream` (lib/cli/train-stream.ts): the file read in passes,
// never whole. Its pieces checked against references — the streamed moments
// against StandardScaler, the row-hash split's sizes and determinism — and the
// command end to end in both engines: the bundled digits reach the in-memory
// path's accuracy, a seed reproduces a run bit for bit, text labels and a
// numeric target go through, the model takes raw columns, errors name rows.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { StandardScaler } from '../lib/data/preprocess';
import { Matrix } from '../lib/matrix';
import { StreamingMoments, rowPartOf } from '../lib/cli/stream-stats';
import { ENGINES, randomArray } from './helpers';
import { fastmlp, tempDir, writeBlobsCsv, writeRegressionCsv } from './cli-helpers';

const DIGITS = join(__dirname, '..', 'data', 'digits.csv.gz');

describe('StreamingMoments (Chan et al. pairwise merge)', () => {
  it('gives StandardScaler\'s mean and σ whatever the batches, rows masked out or not', () => {
    const rows = 1000;
    const cols = 5;
    const data = randomArray(rows * cols, 3);
    for (let r = 0; r < rows; r++) {
      data[r * cols + 1] = 1e6 + data[r * cols + 1]!;   // a large mean over a small spread
      data[r * cols + 2] = 0.3;                          // a constant column
    }
    const keep = Uint8Array.from({ length: rows }, (_, r) => (r % 7 === 3 ? 0 : 1));
    const kept = new Float64Array(data.filter((_, i) => keep[Math.floor(i / cols)] === 1));
    const want = new StandardScaler().fit(new Matrix(kept.length / cols, cols, kept));
    for (const batch of [1, 13, 256, rows]) {
      const m = new StreamingMoments(cols);
      for (let r0 = 0; r0 < rows; r0 += batch) {
        const n = Math.min(batch, rows - r0);
        m.add(data.subarray(r0 * cols, (r0 + n) * cols), n, keep.subarray(r0, r0 + n));
      }
      expect(m.count).toBe(kept.length / cols);
      const got = m.scaling();
      for (let c = 0; c < cols; c++) {
        expect(Math.abs(got.mean[c]! - want.mean[c]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want.mean[c]!)));
        expect(Math.abs(got.scale[c]! - want.scale[c]!)).toBeLessThanOrEqual(1e-9 * want.scale[c]!);
      }
      expect(got.mean[2]).toBe(0.3);   // exactly, as StandardScaler gives a constant column
      expect(got.scale[2]).toBe(1);
    }
  });
});

describe('rowPartOf (the row-hash split)', () => {
  it('gives each row one part from its number and the seed: fractions as asked, the same every time', () => {
    const n = 100_000;
    const count = (seed: number) => {
      const part = rowPartOf(seed, 0.1, 0.2);
      const sizes = { train: 0, val: 0, test: 0 };
      for (let r = 0; r < n; r++) sizes[part(r)]++;
      return sizes;
    };
    const a = count(42);
    // Binomial noise: σ = √(n·f(1−f)) ≈ 95 rows for validation, 126 for test; 5σ bounds.
    expect(Math.abs(a.val - 0.1 * n)).toBeLessThan(5 * 95);
    expect(Math.abs(a.test - 0.2 * n)).toBeLessThan(5 * 126);
    expect(count(42)).toEqual(a);
    const other = rowPartOf(7, 0.1, 0.2);
    const same = rowPartOf(42, 0.1, 0.2);
    let moved = 0;
    for (let r = 0; r < 10_000; r++) if (other(r) !== same(r)) moved++;
    expect(moved).toBeGreaterThan(2000);   // another seed, another split (≈ 46 % of rows move)
    const none = rowPartOf(42, 0, 0);
    for (let r = 0; r < 1000; r++) expect(none(r)).toBe('train');
  });
});

const accuracy = (stdout: string): number => Number(/test accuracy: ([\d.]+) %/.exec(stdout)?.[1] ?? NaN);
/** stdout without the timings, which differ between two identical runs. */
const untimed = (stdout: string): string => stdout.replace(/ - [\d.]+ s( - \d+ samples\/s)?$/gm, '').replace(/in [\d.]+ s/, '');

describe.each(ENGINES)('fastmlp train --stream (%s engine)', (engine) => {
  const dir = tempDir();

  it('trains the bundled digits to the in-memory path\'s accuracy, with a per-epoch validation', () => {
    const streamed = fastmlp(['train', '--stream', '--engine', engine, '--out', 's.safetensors'], dir);
    const inMemory = fastmlp(['train', '--engine', engine, '--out', 'm.safetensors'], dir);
    expect(streamed.code, streamed.stderr).toBe(0);
    expect(inMemory.code, inMemory.stderr).toBe(0);
    expect(streamed.stdout).toMatch(/^data: bundled digits .*: 1797 rows, 64 features, target '64' \(10 classes\), streamed/m);
    const split = /^split: (\d+) train, (\d+) validation, (\d+) test \(seed 42, row-hash split\)$/m.exec(streamed.stdout);
    expect(split, streamed.stdout).not.toBeNull();
    const [train, val, test] = split!.slice(1).map(Number);
    expect(train! + val! + test!).toBe(1797);
    expect(Math.abs(val! - 180)).toBeLessThan(60);
    expect(Math.abs(test! - 360)).toBeLessThan(80);
    expect(streamed.stdout).toMatch(/^epoch 20\/20 - loss \d\.\d{4} - accuracy [\d.]+ % - val_loss \d\.\d{4} - val_accuracy [\d.]+ %/m);
    // Seen here: 98.83 % streamed (342 test rows) against 96.67 % in memory (360 rows), both engines.
    expect(accuracy(streamed.stdout)).toBeGreaterThan(95);
    expect(Math.abs(accuracy(streamed.stdout) - accuracy(inMemory.stdout))).toBeLessThan(3);
    // The saved model takes raw pixels: predict on the whole file scores as the in-memory model does.
    const p = fastmlp(['predict', 's.safetensors', DIGITS], dir);
    expect(p.code, p.stderr).toBe(0);
    expect(Number(/accuracy on the 1797 labelled rows: ([\d.]+) %/.exec(p.stderr)?.[1])).toBeGreaterThan(97);
  }, 120_000);

  it('is reproducible with --seed: the same split, the same weights, the same log; another seed differs', () => {
    const args = ['train', '--stream', '--engine', engine, '--epochs', '3'];
    const a = fastmlp([...args, '--out', 'a.safetensors'], dir);
    const b = fastmlp([...args, '--out', 'b.safetensors'], dir);
    const c = fastmlp([...args, '--seed', '7', '--out', 'c.safetensors'], dir);
    for (const r of [a, b, c]) expect(r.code, r.stderr).toBe(0);
    expect(untimed(b.stdout).replace(/b\.s/g, 'a.s')).toBe(untimed(a.stdout));
    expect(readFileSync(join(dir, 'b.safetensors')).equals(readFileSync(join(dir, 'a.safetensors')))).toBe(true);
    expect(/^split: .*$/m.exec(c.stdout)![0]).not.toBe(/^split: .*$/m.exec(a.stdout)![0]);
  }, 120_000);

  it('text labels and a numeric target: the classes and raw values reach predict', () => {
    writeBlobsCsv(join(dir, 'blobs.csv'), 600);
    const { labels } = writeBlobsCsv(join(dir, 'blobs-unlabelled.csv'), 60, false);
    const cls = fastmlp(['train', 'blobs.csv', '--stream', '--layers', '16', '--epochs', '30', '--lr', '0.01',
      '--engine', engine, '--out', 'blobs.safetensors'], dir);
    expect(cls.code, cls.stderr).toBe(0);
    expect(cls.stdout).toMatch(/600 rows, 3 features, target 'color' \(3 classes\)/);
    expect(accuracy(cls.stdout)).toBeGreaterThan(95);
    const got = fastmlp(['predict', 'blobs.safetensors', 'blobs-unlabelled.csv'], dir).stdout.trim().split('\n');
    expect(got.filter((l, i) => l === labels[i]).length).toBeGreaterThan(55);

    writeRegressionCsv(join(dir, 'prices.csv'), 1200);
    const { values } = writeRegressionCsv(join(dir, 'prices-x.csv'), 50, false);
    const reg = fastmlp(['train', 'prices.csv', '--stream', '--layers', '32', '--epochs', '60', '--lr', '0.01',
      '--engine', engine, '--out', 'prices.safetensors'], dir);
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.stdout).toMatch(/target 'price' \(regression\)/);
    const r2 = Number(/R² (-?[\d.]+)/.exec(reg.stdout)?.[1]);
    expect(r2).toBeGreaterThan(0.95);
    const predicted = fastmlp(['predict', 'prices.safetensors', 'prices-x.csv'], dir).stdout.trim().split('\n').map(Number);
    const mae = predicted.reduce((s, p, i) => s + Math.abs(p - values[i]!), 0) / values.length;
    expect(mae).toBeLessThan(40);   // prices span 380–1250: raw units, not standardised ones
  }, 120_000);

  it('numeric labels (≤ 20 distinct integers) are classes, as in memory: digits as a plain headerless CSV', () => {
    writeFileSync(join(dir, 'digits.csv'), gunzipSync(readFileSync(DIGITS)));
    const run = fastmlp(['train', 'digits.csv', '--no-header', '--stream', '--epochs', '10', '--engine', engine, '--out', 'dn.safetensors'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/1797 rows, 64 features, target '64' \(10 classes\)/);
    expect(accuracy(run.stdout)).toBeGreaterThan(93);
    const asValues = fastmlp(['train', 'digits.csv', '--no-header', '--stream', '--epochs', '1', '--task', 'regression',
      '--engine', engine, '--out', 'dv.safetensors'], dir);
    expect(asValues.code, asValues.stderr).toBe(0);
    expect(asValues.stdout).toMatch(/target '64' \(regression\)/);
    expect(asValues.stdout).toMatch(/^test \(\d+ rows\): MAE [\d.]+, RMSE [\d.]+, R² -?[\d.]+$/m);
  }, 120_000);

  it('a bad row fails with its row and line; bad option use is a usage error naming the flag', () => {
    writeBlobsCsv(join(dir, 'blobs.csv'), 600);
    const lines = readFileSync(join(dir, 'blobs.csv'), 'utf8').split('\n');
    lines[300] = 'oops' + lines[300]!.slice(lines[300]!.indexOf(','));
    writeFileSync(join(dir, 'bad.csv'), lines.join('\n'));
    const bad = fastmlp(['train', 'bad.csv', '--stream', '--engine', engine, '--out', 'bad.safetensors'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^fastmlp: Expected a number in row 300 \(line 301\), column 'x' \(index 0\) but received 'oops'/);
    const flag = fastmlp(['train', 'blobs.csv', '--stream=yes'], dir);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^fastmlp: option --stream takes no value/);
    expect(flag.stderr.trim().split('\n')).toHaveLength(1);
    const target = fastmlp(['train', 'blobs.csv', '--stream', '--target', 'nope'], dir);
    expect(target.code).toBe(2);
    expect(target.stderr).toMatch(/--target/);
  }, 120_000);
});

describe('fastmlp train --stream: engine parity', () => {
  it('the native and JS engines train the same model from the same seed and split', () => {
    const dir = tempDir();
    const a = fastmlp(['train', '--stream', '--engine', 'native', '--epochs', '5', '--out', 'n.safetensors'], dir);
    const b = fastmlp(['train', '--stream', '--engine', 'js', '--epochs', '5', '--out', 'j.safetensors'], dir);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(/^split: .*$/m.exec(a.stdout)![0]).toBe(/^split: .*$/m.exec(b.stdout)![0]);
    const losses = (s: string) => [...s.matchAll(/^epoch \d+\/5 - loss (\d\.\d{4})/gm)].map((m) => Number(m[1]));
    expect(losses(a.stdout).length).toBe(5);
    losses(a.stdout).forEach((l, i) => expect(Math.abs(l - losses(b.stdout)[i]!)).toBeLessThanOrEqual(2e-4));
    const pa = fastmlp(['predict', 'n.safetensors', DIGITS], dir).stdout.trim().split('\n');
    const pb = fastmlp(['predict', 'j.safetensors', DIGITS], dir).stdout.trim().split('\n');
    expect(pa.filter((p, i) => p === pb[i]).length / pa.length).toBeGreaterThan(0.995);
  }, 120_000);
});
