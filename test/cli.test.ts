// The fastmlp command line, run as a user runs it (node bin/fastmlp.js in a
// fresh process): train on the bundled digits, on a CSV with text labels and on
// a regression CSV, in both engines; predict, info, bench, --help, --version.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Sequential } from '../lib/sequential';
import { Dense } from '../lib/layers';
import { loadCsv } from '../lib/data/csv';
import { ENGINES } from './helpers';
import { fastmlp, tempDir, writeBlobsCsv, writeRegressionCsv } from './cli-helpers';

const DIGITS = join(__dirname, '..', 'data', 'digits.csv.gz');

function testAccuracy(stdout: string): number {
  const m = /test accuracy: ([\d.]+) %/.exec(stdout);
  expect(m, stdout).not.toBeNull();
  return Number(m![1]);
}

function argmaxRows(data: ArrayLike<number>, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (data[r * cols + c]! > data[r * cols + best]!) best = c;
    return best;
  });
}

describe.each(ENGINES)('fastmlp train on the bundled digits (%s engine)', (engine) => {
  const dir = tempDir();
  const run = fastmlp(['train', '--engine', engine, '--out', 'digits.safetensors'], dir);

  it('trains to > 95 % test accuracy and prints epochs, accuracy and the confusion matrix', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`engine ${engine}`));
    expect(run.stdout).toMatch(/^epoch 20\/20 - loss \d\.\d{4} - accuracy [\d.]+ % - val_loss \d\.\d{4} - val_accuracy [\d.]+ %/m);
    expect(testAccuracy(run.stdout)).toBeGreaterThan(95);
    expect(run.stdout).toMatch(/confusion matrix/);
    const rows = run.stdout.split('\n').filter((l) => /^\d\s+(\d+\s+){9}\d+$/.test(l));
    expect(rows.length).toBe(10);
  });

  it('writes the model and the SVG of its curves', () => {
    expect(existsSync(join(dir, 'digits.safetensors'))).toBe(true);
    const svg = readFileSync(join(dir, 'digits.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/<polyline/);
    expect(svg).toMatch(/>accuracy</);
  });

  it('saves a model that takes raw pixels: loaded, it predicts what fastmlp predict prints', async () => {
    const model = await Sequential.load(join(dir, 'digits.safetensors'), { engine });
    const { x, y } = await loadCsv(DIGITS, { header: false, target: 64, targetKind: 'class' });
    const pred = model.predict(x);  // raw 0–16 pixel values: the scaling is in the weights
    const ours = argmaxRows(pred.data, pred.rows, pred.cols);
    const correct = ours.filter((p, i) => p === y![i]).length;
    expect(correct / x.rows).toBeGreaterThan(0.95);

    const cli = fastmlp(['predict', 'digits.safetensors', DIGITS, '--engine', engine], dir);
    expect(cli.code, cli.stderr).toBe(0);
    const lines = cli.stdout.trim().split('\n');
    expect(lines.length).toBe(x.rows);
    expect(lines).toEqual(ours.map(String));
    expect(cli.stderr).toMatch(/accuracy on the 1797 labelled rows: [\d.]+ %/);
  });
});

describe('fastmlp train: engine parity', () => {
  it('the native and JS engines train the same model from the same seed', () => {
    const dir = tempDir();
    const a = fastmlp(['train', '--engine', 'native', '--epochs', '5', '--out', 'n.safetensors'], dir);
    const b = fastmlp(['train', '--engine', 'js', '--epochs', '5', '--out', 'j.safetensors'], dir);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const losses = (s: string) => [...s.matchAll(/^epoch \d+\/5 - loss (\d\.\d{4})/gm)].map((m) => Number(m[1]));
    expect(losses(a.stdout).length).toBe(5);
    losses(a.stdout).forEach((l, i) => expect(Math.abs(l - losses(b.stdout)[i]!)).toBeLessThanOrEqual(2e-4));
    const pa = fastmlp(['predict', 'n.safetensors', DIGITS], dir).stdout.trim().split('\n');
    const pb = fastmlp(['predict', 'j.safetensors', DIGITS], dir).stdout.trim().split('\n');
    const same = pa.filter((p, i) => p === pb[i]).length;
    expect(same / pa.length).toBeGreaterThan(0.995);
  });
});

describe.each(ENGINES)('fastmlp on user CSVs (%s engine)', (engine) => {
  it('a text class column: labels survive into the model file and predict prints them', () => {
    const dir = tempDir();
    writeBlobsCsv(join(dir, 'blobs.csv'));
    const { labels } = writeBlobsCsv(join(dir, 'blobs-unlabelled.csv'), 60, false);
    const run = fastmlp(['train', 'blobs.csv', '--target', 'color', '--layers', '16', '--epochs', '40', '--lr', '0.01',
      '--engine', engine, '--out', 'blobs.safetensors'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/3 classes/);
    expect(testAccuracy(run.stdout)).toBeGreaterThanOrEqual(90);
    expect(run.stdout).toMatch(/^\s+blue\s+green\s+red$/m);

    const info = fastmlp(['info', 'blobs.safetensors'], dir);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/classes: \["blue","green","red"\]/);
    expect(info.stdout).toMatch(/target: color/);

    // Without the target column: one label per row, from the training file's names.
    const plain = fastmlp(['predict', 'blobs.safetensors', 'blobs-unlabelled.csv', '--engine', engine], dir);
    expect(plain.code, plain.stderr).toBe(0);
    const predicted = plain.stdout.trim().split('\n');
    expect(predicted.length).toBe(60);
    expect(predicted.filter((p, i) => p === labels[i]).length / 60).toBeGreaterThanOrEqual(0.9);
    // With it, and --out: the same labels in a CSV with a header.
    const withOut = fastmlp(['predict', 'blobs.safetensors', 'blobs.csv', '--out', 'preds.csv'], dir);
    expect(withOut.code, withOut.stderr).toBe(0);
    const csv = readFileSync(join(dir, 'preds.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('predicted_color');
    expect(csv.length).toBe(181);
    expect(new Set(csv.slice(1))).toEqual(new Set(['red', 'green', 'blue']));
  });

  it('predict matches columns by header name: reordered columns give the same labels, unknown names are refused', () => {
    const dir = tempDir();
    writeBlobsCsv(join(dir, 'blobs.csv'));
    writeBlobsCsv(join(dir, 'blobs-unlabelled.csv'), 60, false);
    const run = fastmlp(['train', 'blobs.csv', '--target', 'color', '--layers', '8', '--epochs', '5', '--engine', engine, '--out', 'b.safetensors'], dir);
    expect(run.code, run.stderr).toBe(0);
    const lines = readFileSync(join(dir, 'blobs-unlabelled.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    // z, x, y instead of x, y, z: fed in file order, every row went to the wrong inputs.
    writeFileSync(join(dir, 'zxy.csv'), lines.map(([x, y, z]) => [z, x, y].join(',')).join('\n') + '\n');
    writeFileSync(join(dir, 'renamed.csv'), ['x,y,depth', ...lines.slice(1).map((l) => l.join(','))].join('\n') + '\n');
    const plain = fastmlp(['predict', 'b.safetensors', 'blobs-unlabelled.csv', '--engine', engine], dir);
    const swapped = fastmlp(['predict', 'b.safetensors', 'zxy.csv', '--engine', engine], dir);
    expect(swapped.code, swapped.stderr).toBe(0);
    expect(swapped.stdout).toBe(plain.stdout);
    const renamed = fastmlp(['predict', 'b.safetensors', 'renamed.csv', '--engine', engine], dir);
    expect(renamed.code).toBe(1);
    expect(renamed.stderr).toMatch(/'renamed.csv' has columns 'x', 'y', 'depth' but the model was trained on 'x', 'y', 'z' \(missing: 'z'\)/);
  });

  it('a numeric target: mse, MAE/RMSE/R² in raw units, predict gives raw values', () => {
    const dir = tempDir();
    writeRegressionCsv(join(dir, 'houses.csv'));
    const { values } = writeRegressionCsv(join(dir, 'houses-x.csv'), 300, false);
    const run = fastmlp(['train', 'houses.csv', '--target', 'price', '--layers', '32', '--epochs', '60',
      '--lr', '0.01', '--engine', engine, '--out', 'houses.safetensors'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/regression/);
    expect(run.stdout).toMatch(/mse, adam/);
    const m = /test \(\d+ rows\): MAE ([\d.e+-]+), RMSE ([\d.e+-]+), R² ([\d.-]+)/.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    expect(Number(m![3])).toBeGreaterThan(0.95);
    expect(Number(m![1])).toBeLessThan(40);  // prices span ~500–1250

    const pred = fastmlp(['predict', 'houses.safetensors', 'houses-x.csv', '--engine', engine], dir);
    expect(pred.code, pred.stderr).toBe(0);
    const got = pred.stdout.trim().split('\n').map(Number);
    expect(got.length).toBe(300);
    const mae = got.reduce((s, v, i) => s + Math.abs(v - values[i]!), 0) / got.length;
    expect(mae).toBeLessThan(40);
  });
});

describe.each(ENGINES)('fastmlp on a European CSV: semicolons, CRLF, a BOM, quoted names (%s engine)', (engine) => {
  it('--delimiter reads it; the model file keeps the separator, so predict reads the same file without the flag', () => {
    const dir = tempDir();
    writeRegressionCsv(join(dir, 'plain.csv'));
    const text = readFileSync(join(dir, 'plain.csv'), 'utf8').trim().split('\n')
      .map((line, i) => (i === 0 ? line.split(',').map((n) => `"${n}"`) : line.split(',')).join(';')).join('\r\n');
    writeFileSync(join(dir, 'semi.csv'), `\ufeff${text}`);
    // Without the flag: one line naming the fix, not csv-parse's "Invalid Opening Quote".
    const plain = fastmlp(['train', 'semi.csv', '--target', 'price', '--engine', engine], dir);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/'semi.csv'.*';'.*--delimiter ';'/);
    const run = fastmlp(['train', 'semi.csv', '--delimiter', ';', '--target', 'price', '--layers', '16',
      '--epochs', '5', '--engine', engine, '--out', 'semi.safetensors'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/300 rows, 3 features, target 'price' \(regression\)/);
    const pred = fastmlp(['predict', 'semi.safetensors', 'semi.csv', '--engine', engine], dir);
    expect(pred.code, pred.stderr).toBe(0);
    expect(pred.stdout.trim().split('\n').map(Number).every(Number.isFinite)).toBe(true);
    expect(pred.stdout.trim().split('\n').length).toBe(300);
    const tab = fastmlp(['train', 'semi.csv', '--delimiter', '', '--engine', engine], dir);
    expect([tab.code, tab.stderr]).toEqual([2, expect.stringMatching(/--delimiter/)]);
  });
});

describe.each(ENGINES)("fastmlp on the bundled scikit-learn CSVs (%s engine)", (engine) => {
  it('trains on data/breast_cancer.csv with its class names and predicts them', () => {
    const dir = tempDir();
    const file = join(__dirname, '..', 'data', 'breast_cancer.csv');
    const run = fastmlp(['train', file, '--engine', engine, '--epochs', '10', '--out', 'bc.safetensors'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/569 rows, 30 features, target 'target' \(2 classes\)/);
    expect(run.stdout).toMatch(/^malignant\s+\d+\s+\d+$/m);
    expect(testAccuracy(run.stdout)).toBeGreaterThan(90);
    const pred = fastmlp(['predict', 'bc.safetensors', file, '--engine', engine], dir);
    expect(pred.code, pred.stderr).toBe(0);
    const labels = pred.stdout.trim().split('\n');
    expect(labels.length).toBe(569);
    expect(new Set(labels)).toEqual(new Set(['malignant', 'benign']));
    expect(Number(/accuracy on the 569 labelled rows: ([\d.]+) %/.exec(pred.stderr)?.[1])).toBeGreaterThan(90);
    // The same rows under a header of real names: the model's column names are mere indices, so the file's order is taken.
    const rows = readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 30).join(','));
    writeFileSync(join(dir, 'named.csv'), [Array.from({ length: 30 }, (_, i) => `feature ${i}`).join(','), ...rows].join('\n'));
    const named = fastmlp(['predict', 'bc.safetensors', 'named.csv', '--engine', engine], dir);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toBe(pred.stdout);
    // Rows with no header line at all: the first row is data, not column names. The model's
    // names are '0', '1', …, so "a first line of numbers" alone cannot tell; the first row was dropped.
    writeFileSync(join(dir, 'rows.csv'), rows.slice(0, 5).join('\n') + '\n');
    const bare = fastmlp(['predict', 'bc.safetensors', 'rows.csv', '--engine', engine], dir);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout.trim().split('\n')).toEqual(labels.slice(0, 5));
  });
});

describe('fastmlp info, bench, --help, --version', () => {
  const dir = tempDir();

  it('predict on a model saved through the API: class indices for a classifier, every output otherwise', async () => {
    writeFileSync(join(dir, 'abc.csv'), 'a,b,c\n0.5,-1,2\n3,0.25,-0.5\n-2,1,1\n');
    const { x } = await loadCsv(join(dir, 'abc.csv'));
    for (const loss of ['cross-entropy', 'mse']) {
      const m = new Sequential([new Dense(3, 2)], { engine: 'js', seed: 5 });
      m.compile({ loss });
      await m.save(join(dir, `${loss}.safetensors`));
      const r = fastmlp(['predict', `${loss}.safetensors`, 'abc.csv'], dir);
      expect(r.code, r.stderr).toBe(0);
      const p = m.predict(x).data;
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(3);
      if (loss === 'mse') {
        lines.forEach((l, i) => l.split(',').map(Number).forEach((v, j) => expect(v).toBeCloseTo(p[2 * i + j]!, 5)));
      } else {
        expect(lines).toEqual([0, 1, 2].map((i) => String(p[2 * i + 1]! > p[2 * i]! ? 1 : 0)));
      }
    }
  });

  it.each(ENGINES)('predict on an API model: a headerless CSV keeps its first row, --out names every output column (%s engine)', async (engine) => {
    writeFileSync(join(dir, 'nohead.csv'), '0.5,-1,2\n3,0.25,-0.5\n-2,1,1\n');
    writeFileSync(join(dir, 'head.csv'), 'a,b,c\n0.5,-1,2\n3,0.25,-0.5\n-2,1,1\n');
    const { x } = await loadCsv(join(dir, 'head.csv'));
    const m = new Sequential([new Dense(3, 2)], { engine, seed: 6 });
    m.compile({ loss: 'mse' });
    await m.save(join(dir, `two-outputs-${engine}.safetensors`));
    const p = m.predict(x).data;
    const expected = [0, 1, 2].map((i) => [p[2 * i]!, p[2 * i + 1]!]);
    for (const args of [['nohead.csv'], ['head.csv'], ['nohead.csv', '--no-header']]) {
      const r = fastmlp(['predict', `two-outputs-${engine}.safetensors`, ...args, '--engine', engine], dir);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => l.split(',').map(Number));
      expect(lines).toHaveLength(3);   // the first data row was read as a header and dropped
      lines.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i]![j]!, 5)));
    }
    const r = fastmlp(['predict', `two-outputs-${engine}.safetensors`, 'nohead.csv', '--out', `p-${engine}.csv`, '--engine', engine], dir);
    expect(r.code, r.stderr).toBe(0);
    const csv = readFileSync(join(dir, `p-${engine}.csv`), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('prediction_0,prediction_1');   // one name per column: a well-formed CSV
    expect(csv.slice(1).every((l) => l.split(',').length === 2)).toBe(true);
    expect(csv).toHaveLength(4);
  });

  it('info lists the architecture, parameters, dtype, compile options and metadata', () => {
    expect(fastmlp(['train', '--epochs', '1', '--layers', '8', '--out', 'small.safetensors'], dir).code).toBe(0);
    const r = fastmlp(['info', 'small.safetensors'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/dtype: float32/);
    expect(r.stdout).toMatch(/0: Dense\(64 → 8, activation: 'relu'\)/);
    expect(r.stdout).toMatch(/parameters: 610\b/);  // 64·8 + 8 + 8·10 + 10
    expect(r.stdout).toMatch(/compile: loss \{"name":"cross-entropy"/);
    expect(r.stdout).toMatch(/"lr":0\.001/);
    expect(r.stdout).toMatch(/task: classification/);
  });

  it('bench prints samples/s for both engines', () => {
    const r = fastmlp(['bench', '--inputs', '16', '--layers', '16', '--rows', '256', '--seconds', '0.05'], dir);
    expect(r.code, r.stderr).toBe(0);
    for (const engine of ['native', 'js']) {
      const m = new RegExp(`^${engine} \\(.*\\)\\s+(\\d+)\\s+(\\d+)$`, 'm').exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(0);
      expect(Number(m![2])).toBeGreaterThan(0);
    }
    expect(r.stdout).toMatch(/native \/ js: [\d.]+× training/);
  });

  it('--help on the top level and on every command; --version', () => {
    const top = fastmlp(['--help'], dir);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:[\s\S]*train[\s\S]*predict[\s\S]*info[\s\S]*bench/);
    for (const [command, flag] of [['train', '--val-split'], ['predict', '--out'], ['info', '--help'], ['bench', '--seconds']]) {
      const r = fastmlp([command!, '--help'], dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: fastmlp ${command}`));
      expect(r.stdout).toContain(flag);
    }
    expect(fastmlp(['train', '--help'], dir).stdout).toMatch(/RAW columns/);
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(fastmlp(['--version'], dir).stdout.trim()).toBe(`fastmlp ${pkg.version}`);
  });
});

// The activations added beside torch's (relu6, hardtanh, logsigmoid) are offered by --activation
// too, and the model they build is what `info` reads back.
describe.each(ENGINES)('fastmlp train --activation with the clamping activations (%s engine)', (engine) => {
  const dir = tempDir();
  it.each(['relu6', 'hardtanh', 'logsigmoid'])('%s trains the digits and is saved in the model', (activation) => {
    const out = `${activation}.safetensors`;
    const run = fastmlp(['train', '--engine', engine, '--activation', activation, '--epochs', '10', '--out', out], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(testAccuracy(run.stdout)).toBeGreaterThan(85);
    const info = fastmlp(['info', out], dir);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(new RegExp(`0: Dense\\(64 → \\d+, activation: '${activation}'`));
  });
});
