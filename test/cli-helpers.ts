// Helpers for the CLI tests: run bin/fastmlp.js in a fresh process (as a user
// would), and write small deterministic CSV files.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tempDir as freshTempDir } from './temp-dir';

export const BIN = resolve(__dirname, '..', 'bin', 'fastmlp.js');

export interface Run { code: number | null; stdout: string; stderr: string }

export function fastmlp(args: string[], cwd: string): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh directory for one CLI test, removed after the file's last test. */
export function tempDir(): string {
  return freshTempDir('fastmlp-cli-');
}

/** Deterministic values in [0, 1) (an LCG), so fixtures are the same on every run. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** Three Gaussian-ish blobs with text labels: columns x, y, z, color. */
export function writeBlobsCsv(path: string, rows = 180, withTarget = true): { labels: string[] } {
  const rnd = lcg(7);
  const centres: Record<string, number[]> = { red: [0, 0, 5], green: [4, 4, 0], blue: [-4, 4, -5] };
  const names = Object.keys(centres);
  const labels: string[] = [];
  const lines = [withTarget ? 'x,y,z,color' : 'x,y,z'];
  for (let i = 0; i < rows; i++) {
    const label = names[i % 3]!;
    const c = centres[label]!;
    const cells = c.map((m) => (m + (rnd() + rnd() + rnd() - 1.5) * 2).toFixed(4));
    labels.push(label);
    lines.push([...cells, ...(withTarget ? [label] : [])].join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return { labels };
}

/** price = 3·area − 20·age + 500 + noise, with columns on very different scales. */
export function writeRegressionCsv(path: string, rows = 300, withTarget = true): { values: number[] } {
  const rnd = lcg(11);
  const values: number[] = [];
  const lines = [withTarget ? 'area,age,rooms,price' : 'area,age,rooms'];
  for (let i = 0; i < rows; i++) {
    const area = 50 + 200 * rnd();
    const age = 40 * rnd();
    const rooms = 1 + Math.floor(5 * rnd());
    const price = 3 * area - 20 * age + 500 + (rnd() - 0.5) * 10;
    values.push(price);
    lines.push([area.toFixed(2), age.toFixed(2), rooms, ...(withTarget ? [price.toFixed(3)] : [])].join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return { values };
}
