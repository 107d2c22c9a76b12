// `fastmlp predict` holds a chunk of the input and a batch of predictions,
// never the file: predicting a file 16× as long takes no more memory, and far
// less than the file. In fresh processes (test/fixtures/cli-predict-memory.cjs),
// so nothing else in the test run moves the figures; both engines.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINES } from './helpers';

interface Run { code: number; rows: number; fileBytes: number; seconds: number; peakGrowthBytes: number; rssGrowthBytes: number }

// Asynchronous, so that vitest's worker keeps answering its runner while the
// children run (see cli-train-memory.test.ts).
async function run(rows: number, engine: string): Promise<Run> {
  const { stdout: out } = await promisify(execFile)(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'cli-predict-memory.cjs'), String(rows), engine], {
    cwd: path.resolve(__dirname, '..'), encoding: 'utf8', timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

const MB = 1024 * 1024;

describe.each(ENGINES)('fastmlp predict memory (%s engine)', (engine) => {
  it('does not grow with the row count', async () => {
    // The short run's peak is sampled only a few dozen times (every 10 ms), so one run can miss
    // the moment it held the most, the more so under load (a difference of 4.69 MB seen once with
    // the suite running): it keeps the higher peak of two runs.
    const first = await run(25_000, engine);
    const second = await run(25_000, engine);
    const small = first.peakGrowthBytes >= second.peakGrowthBytes ? first : second;
    let large = await run(400_000, engine);
    // Peak growth is sampled between GCs, so a late collection only ever adds to it (+4.7 MB once for the
    // JS engine with the suite running); a second run of the large file is taken when the first looks
    // grown. Growth with the rows shows in every run: a file 16× as long adds ~50 MB of text.
    if (large.peakGrowthBytes - small.peakGrowthBytes >= 4 * MB) {
      const again = await run(400_000, engine);
      if (again.peakGrowthBytes < large.peakGrowthBytes) large = again;
    }
    expect([first.code, second.code, large.code]).toEqual([0, 0, 0]);
    expect(small.rows).toBe(25_000);
    expect(large.rows).toBe(400_000);
    expect(large.fileBytes).toBeGreaterThan(50 * MB);
    // A chunk of text, a 4096-row batch, its predictions and the write buffer: a few MB whatever the file.
    expect(large.peakGrowthBytes).toBeLessThan(12 * MB);
    expect(large.peakGrowthBytes - small.peakGrowthBytes).toBeLessThan(4 * MB);
    // The whole process grows by far less than the 55 MB file it predicted (RSS is noisy: 10–25 MB
    // seen here at 25 k to 800 k rows), and no more for 16× the rows.
    expect(large.rssGrowthBytes).toBeLessThan(large.fileBytes / 2);
    expect(large.rssGrowthBytes - small.rssGrowthBytes).toBeLessThan(16 * MB);
  }, 180_000);
});
