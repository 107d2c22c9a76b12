// The CLI's train and predict on a CSV the quote-free reader takes, in both
// engines: the same file with its header quoted goes through csv-parse, and
// both must give the same model — same test accuracy, same predictions.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quoteFreeReadable } from '../lib/data/csv-records';
import { fastmlp, tempDir, writeBlobsCsv } from './cli-helpers';
import { ENGINES } from './helpers';

describe.each(ENGINES)('fastmlp train/predict on a quote-free CSV (%s engine)', (engine) => {
  it('gives the model csv-parse gives for the same rows', () => {
    const dir = tempDir();
    writeBlobsCsv(join(dir, 'blobs.csv'));
    // CRLF line breaks and a blank line: both readers must handle them alike.
    const lines = readFileSync(join(dir, 'blobs.csv'), 'utf8').trimEnd().split('\n');
    const crlf = [lines[0], '', ...lines.slice(1)].join('\r\n') + '\r\n';
    writeFileSync(join(dir, 'fast.csv'), crlf);
    writeFileSync(join(dir, 'quoted.csv'), crlf.replace('x,y,z,color', '"x","y","z","color"'));
    expect(quoteFreeReadable(readFileSync(join(dir, 'fast.csv'), 'utf8'), ',')).toBe(true);
    expect(quoteFreeReadable(readFileSync(join(dir, 'quoted.csv'), 'utf8'), ',')).toBe(false);

    const train = (file: string, out: string) => fastmlp(['train', file, '--target', 'color', '--layers', '8',
      '--epochs', '10', '--lr', '0.01', '--engine', engine, '--out', out], dir);
    const fast = train('fast.csv', 'fast.safetensors');
    const slow = train('quoted.csv', 'slow.safetensors');
    expect(fast.code, fast.stderr).toBe(0);
    expect(slow.code, slow.stderr).toBe(0);
    const accuracy = (stdout: string) => /test.*accuracy[^\d]*([\d.]+)/i.exec(stdout)?.[1];
    expect(accuracy(fast.stdout)).toBeDefined();
    expect(accuracy(fast.stdout)).toBe(accuracy(slow.stdout));
    expect(readFileSync(join(dir, 'fast.safetensors'))).toEqual(readFileSync(join(dir, 'slow.safetensors')));

    const predictFast = fastmlp(['predict', 'fast.safetensors', 'fast.csv', '--engine', engine], dir);
    const predictSlow = fastmlp(['predict', 'fast.safetensors', 'quoted.csv', '--engine', engine], dir);
    expect(predictFast.code, predictFast.stderr).toBe(0);
    expect(predictFast.stdout.trim().split('\n')).toHaveLength(180);
    expect(predictFast.stdout).toBe(predictSlow.stdout);
  });

  it('names the line of a bad cell in a CRLF file as csv-parse did', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.csv'), 'a,b,c\r\n\r\n1,2,x\r\n3,4,y\r\n5,oops,x\r\n');
    const run = fastmlp(['train', 'bad.csv', '--target', 'c', '--engine', engine], dir);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/row 3 \(line 5\), column 'b' \(index 1\) but received 'oops'/);
  });
});
