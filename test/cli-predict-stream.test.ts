// `fastmlp predict` streams its CSV (lib/cli/predict.ts): the output must be
// the bytes the whole-file computation gives — checked against a reference
// built here from loadCsv + one model.predict over every row — on files of
// several 4096-row batches, with and without header and target column, for
// class labels and regression values, on stdout and with -o; a bad row names
// its row and line; a slow reader holds the writer back (backpressure).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadCsv } from '../lib/data/csv';
import { readModelInfo } from '../lib/io/model-file';
import { Sequential } from '../lib/sequential';
import { main } from '../lib/cli/main';
import { ENGINES } from './helpers';
import { fastmlp, lcg, tempDir, writeBlobsCsv, writeRegressionCsv } from './cli-helpers';

const DIGITS = join(__dirname, '..', 'data', 'digits.csv.gz');
const ROWS = 10_000;  // three of predict's 4096-row batches, the last one partial

/** Big versions of cli-helpers' blobs and regression files: the same columns, ROWS rows, other values. */
function writeBigFiles(dir: string): void {
  const rnd = lcg(99);
  const centres: Record<string, number[]> = { red: [0, 0, 5], green: [4, 4, 0], blue: [-4, 4, -5] };
  const names = Object.keys(centres);
  const cls = ['x,y,z,color'];
  const clsNoTarget = ['x,y,z'];
  const reg = ['area,age,rooms,price'];
  const regNoHeader: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const label = names[i % 3]!;
    const cells = centres[label]!.map((m) => (m + (rnd() + rnd() + rnd() - 1.5) * 3).toFixed(4));
    cls.push([...cells, label].join(','));
    clsNoTarget.push(cells.join(','));
    const area = 50 + 200 * rnd();
    const age = 40 * rnd();
    const rooms = 1 + Math.floor(5 * rnd());
    reg.push([area.toFixed(2), age.toFixed(2), rooms, (3 * area - 20 * age + 500 + rnd() * 10).toFixed(3)].join(','));
    regNoHeader.push([area.toFixed(2), age.toFixed(2), rooms].join(','));
  }
  writeFileSync(join(dir, 'cls.csv'), cls.join('\n') + '\n');
  writeFileSync(join(dir, 'cls-no-target.csv'), clsNoTarget.join('\n') + '\n');
  writeFileSync(join(dir, 'reg.csv'), reg.join('\n') + '\n');
  writeFileSync(join(dir, 'reg-no-header.csv'), regNoHeader.join('\n') + '\n');
}

interface Reference { lines: string; header: string; score: string | null }

/**
 * What predict printed when it read the whole file: one predict over every
 * row, a label (argmax, first of a tie) or the values per line; the score of
 * the labelled rows as it was worded.
 */
async function reference(engine: 'native' | 'js', model: string, csv: string,
  opts: { header: boolean; target?: string | number; classes: boolean }): Promise<Reference> {
  const info = await readModelInfo(model);
  const m = await Sequential.load(model, { engine });
  const data = await loadCsv(csv, { header: opts.header, ...(opts.target === undefined ? {} : { target: opts.target, targetKind: opts.classes ? 'class' : 'value' }) });
  const pred = m.predict(data.x);
  const classes = opts.classes ? JSON.parse(info.metadata['classes']!) as string[] : null;
  const lines: string[] = [];
  for (let r = 0; r < pred.rows; r++) {
    const row = pred.data.subarray(r * pred.cols, (r + 1) * pred.cols);
    if (classes) lines.push(classes[row.indexOf(Math.max(...row))]!);
    else lines.push(Array.from(row, String).join(','));
  }
  let score: string | null = null;
  if (data.y && classes) {
    const correct = lines.filter((l, r) => l === data.classNames![data.y![r]!]).length;
    score = `accuracy on the ${lines.length} labelled rows: ${(100 * correct / lines.length).toFixed(2)} %`;
  } else if (data.y) {
    const abs = lines.reduce((s, l, r) => s + Math.abs(Number(l) - data.y![r]!), 0);
    score = `MAE on the ${lines.length} labelled rows: ${(abs / lines.length).toPrecision(5)}`;
  }
  const target = info.metadata['target'];
  return { lines: lines.join('\n') + '\n', header: target ? `predicted_${target}` : 'prediction', score };
}

describe.each(ENGINES)('fastmlp predict streams the CSV (%s engine)', (engine) => {
  const dir = tempDir();
  writeBlobsCsv(join(dir, 'blobs.csv'));
  writeRegressionCsv(join(dir, 'prices.csv'));
  writeBigFiles(dir);
  const trained = [
    fastmlp(['train', 'blobs.csv', '--epochs', '3', '--engine', engine, '--out', 'cls.safetensors'], dir),
    fastmlp(['train', 'prices.csv', '--epochs', '3', '--engine', engine, '--out', 'reg.safetensors'], dir),
    fastmlp(['train', '--epochs', '2', '--engine', engine, '--out', 'digits.safetensors'], dir),
  ];

  const cases: [string, string, string[], { header: boolean; target?: string | number; classes: boolean }][] = [
    ['labels, header, target column present', 'cls.safetensors', ['cls.csv'], { header: true, target: 'color', classes: true }],
    ['labels, header, no target column', 'cls.safetensors', ['cls-no-target.csv'], { header: true, classes: true }],
    ['values, header, target column present', 'reg.safetensors', ['reg.csv'], { header: true, target: 'price', classes: false }],
    ['values, no header (--no-header), no target column', 'reg.safetensors', ['reg-no-header.csv', '--no-header'], { header: false, classes: false }],
    ['the bundled digits: gzip, headerless, target present', 'digits.safetensors', [DIGITS], { header: false, target: 64, classes: true }],
  ];

  it.each(cases)('%s: stdout and -o are the whole-file bytes', async (_name, model, args, opts) => {
    for (const t of trained) expect(t.code, t.stderr).toBe(0);
    const csv = args[0]!.startsWith('/') ? args[0]! : join(dir, args[0]!);
    const want = await reference(engine, join(dir, model), csv, opts);
    const run = fastmlp(['predict', model, ...args, '--engine', engine], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(want.lines);
    if (want.score) expect(run.stderr).toBe(`${want.score}\n`);
    else expect(run.stderr).toBe('');
    const toFile = fastmlp(['predict', model, ...args, '--engine', engine, '-o', 'preds.csv'], dir);
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(toFile.stdout).toBe('');
    expect(readFileSync(join(dir, 'preds.csv'), 'utf8')).toBe(`${want.header}\n${want.lines}`);
    expect(toFile.stderr).toMatch(new RegExp(`wrote ${want.lines.split('\n').length - 1} predictions to preds\\.csv\\n$`));
  }, 60_000);

  it('a bad cell names its row and line; stdout keeps the batches before it, -o writes nothing', () => {
    const rows = readFileSync(join(dir, 'cls-no-target.csv'), 'utf8').split('\n');
    rows[7001] = 'abc' + rows[7001]!.slice(rows[7001]!.indexOf(','));   // data row 7001 is file line 7002
    writeFileSync(join(dir, 'bad.csv'), rows.join('\n'));
    const run = fastmlp(['predict', 'cls.safetensors', 'bad.csv', '--engine', engine], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^fastmlp: Expected a number in row 7001 \(line 7002\), column 'x' \(index 0\) but received 'abc'/);
    // The first 4096-row batch was predicted and written before the second met the bad row.
    expect(run.stdout.split('\n').length - 1).toBe(4096);
    const toFile = fastmlp(['predict', 'cls.safetensors', 'bad.csv', '--engine', engine, '-o', 'bad-preds.csv'], dir);
    expect(toFile.code).toBe(1);
    expect(existsSync(join(dir, 'bad-preds.csv'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});

describe('fastmlp predict honours backpressure', () => {
  it('a slow stdout holds the reader back: the buffered output stays a batch or two, not the file', async () => {
    const dir = tempDir();
    writeBlobsCsv(join(dir, 'blobs.csv'));
    writeBigFiles(dir);
    const rows = readFileSync(join(dir, 'cls-no-target.csv'), 'utf8');
    writeFileSync(join(dir, 'big.csv'), rows + rows.split('\n').slice(1).join('\n').repeat(3));  // 40 000 rows
    expect(fastmlp(['train', 'blobs.csv', '--epochs', '1', '--engine', 'js', '--out', join(dir, 'm.safetensors')], dir).code).toBe(0);
    let written = 0;
    let maxBuffered = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        written += chunk.length;
        setTimeout(done, 5);   // a consumer slower than the reader
      },
    });
    const write = slow.write.bind(slow);
    slow.write = ((chunk: string) => {
      const ok = write(chunk);
      maxBuffered = Math.max(maxBuffered, slow.writableLength);
      return ok;
    }) as typeof slow.write;
    const errors: string[] = [];
    const err = new Writable({ write(chunk: Buffer, _enc, done) { errors.push(chunk.toString()); done(); } });
    const code = await main(['predict', join(dir, 'm.safetensors'), join(dir, 'big.csv'), '--engine', 'js'], slow, err);
    await new Promise((resolve) => slow.end(resolve));
    expect(code, errors.join('')).toBe(0);
    const batchBytes = 4096 * 'green\n'.length;
    expect(written).toBeGreaterThan(9 * batchBytes);            // the whole output arrived…
    expect(maxBuffered).toBeLessThanOrEqual(batchBytes);         // …never more than one batch queued at once
  }, 60_000);
});
