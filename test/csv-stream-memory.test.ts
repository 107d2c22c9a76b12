// data.csvBatches holds a chunk and a batch, never the file: reading a file 4×
// as long takes no more memory, and far less than the file, while loadCsv's
// memory grows with it. In fresh processes (test/fixtures/csv-stream-memory.cjs),
// so nothing else in the test run moves the figures.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

interface Run { rows: number; fileBytes: number; peakGrowthBytes: number }

function run(mode: 'stream' | 'load', rows: number): Run {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'csv-stream-memory.cjs'), mode, String(rows)], {
    cwd: path.resolve(__dirname, '..'), encoding: 'utf8', timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

const MB = 1024 * 1024;

describe('csvBatches memory', () => {
  it('does not grow with the row count, unlike loadCsv', () => {
    const small = run('stream', 25_000);
    const large = run('stream', 100_000);
    expect(small.rows).toBe(25_000);
    expect(large.rows).toBe(100_000);
    expect(large.fileBytes).toBeGreaterThan(12 * MB);     // ~190 chunks of 64 KiB
    // A chunk of text, its records' offsets and a few 512-row batches: a few MB at most, whatever the file.
    expect(large.peakGrowthBytes).toBeLessThan(6 * MB);
    // Fresh processes still differ by up to ~2.5 MB (fs read buffers in flight at a sample), so
    // the bound is 4 MB: a reader that held the file would differ by the 10.5 MB the file grew.
    expect(large.peakGrowthBytes - small.peakGrowthBytes).toBeLessThan(4 * MB);
    // loadCsv on the same file holds its text and every row: what the streaming reader avoids.
    const whole = run('load', 100_000);
    expect(whole.rows).toBe(100_000);
    expect(whole.peakGrowthBytes).toBeGreaterThan(large.fileBytes / 2);
  }, 120_000);
});
