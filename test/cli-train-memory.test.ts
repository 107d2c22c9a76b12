// `fastmlp train --stream` holds a batch, the model and the statistics, never
// the file: training on 8× the rows takes about the same memory, and far less
// than the in-memory path takes for the same file. In fresh processes
// (test/fixtures/cli-train-memory.cjs), so nothing else in the test run moves
// the figures; both engines.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINES } from './helpers';

interface Run { code: number; rows: number; fileBytes: number; accuracy: number; seconds: number; peakGrowthBytes: number; rssGrowthBytes: number }

function run(mode: 'stream' | 'load', rows: number, engine: string): Run {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'cli-train-memory.cjs'), mode, String(rows), engine], {
    cwd: path.resolve(__dirname, '..'), encoding: 'utf8', timeout: 180_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

const MB = 1024 * 1024;

describe.each(ENGINES)('fastmlp train --stream memory (%s engine)', (engine) => {
  it('does not grow with the row count, unlike the in-memory path', () => {
    const small = run('stream', 25_000, engine);
    const large = run('stream', 200_000, engine);
    expect([small.code, large.code]).toEqual([0, 0]);
    expect([small.rows, large.rows]).toEqual([25_000, 200_000]);
    expect(large.fileBytes).toBeGreaterThan(25 * MB);
    // It learns (one epoch over a linear rule): the model was trained, not just the file read.
    expect(large.accuracy).toBeGreaterThan(85);
    // Seen here: 8.8–9.0 MB at 25 k rows, 10.5–11.8 MB at 200 k, 12.6 MB at 800 k (a 112 MB file).
    expect(large.peakGrowthBytes).toBeLessThan(16 * MB);
    expect(large.peakGrowthBytes - small.peakGrowthBytes).toBeLessThan(6 * MB);
    // The in-memory path on the same file holds its text and every row.
    const whole = run('load', 200_000, engine);
    expect(whole.code).toBe(0);
    expect(whole.peakGrowthBytes).toBeGreaterThan(large.fileBytes);
    expect(large.peakGrowthBytes).toBeLessThan(whole.peakGrowthBytes / 2);
    expect(large.rssGrowthBytes).toBeLessThan(whole.rssGrowthBytes / 1.5);
  }, 240_000);
});
