// bench/run.mjs merges each training case's alternating rounds into its
// median run; gemm and soak records pass through, one per case. A wrong key
// once merged every gemm shape into the first, so `npm run bench` printed a
// gemm table of one row (and saved one shape in latest.json).
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the bench, without type declarations
import { mergeRepeats } from '../bench/lib/merge-repeats.mjs';

interface BenchRecord {
  group: string; impl: string; threads: number; net?: string; variant?: string;
  shape?: { name: string }; samplesPerSec?: number; gflops?: number; runs?: number[]; error?: string;
}
const merge = mergeRepeats as (records: BenchRecord[]) => BenchRecord[];

const gemm = (name: string, impl: string, threads: number, gflops: number): BenchRecord =>
  ({ group: 'gemm', shape: { name }, impl, threads, gflops });
const mlp = (impl: string, threads: number, samplesPerSec: number, net = 'small'): BenchRecord =>
  ({ group: 'mlp', net, impl, threads, samplesPerSec });

describe('bench mergeRepeats', () => {
  it('keeps one gemm record per shape, implementation and thread count, in the order run', () => {
    const records = ['128³', '256³', '128×512×784 NT'].flatMap((name, i) =>
      [gemm(name, 'native', 1, 10 + i), gemm(name, 'native', 2, 20 + i), gemm(name, 'blas', 1, 30 + i)]);
    const merged = merge(records);
    expect(merged).toHaveLength(9);
    expect(merged.map((r) => [r.shape!.name, r.impl, r.threads, r.gflops])).toEqual(
      records.map((r) => [r.shape!.name, r.impl, r.threads, r.gflops]));
  });

  it('reports the median run of each training case with every run beside it', () => {
    const merged = merge([
      mlp('native', 1, 300), mlp('torch', 1, 200), mlp('native', 1, 100), mlp('torch', 1, 250),
      mlp('native', 1, 200), mlp('torch', 1, 150), mlp('torch', 1, 175),
    ]);
    expect(merged.map((r) => [r.impl, r.samplesPerSec, r.runs])).toEqual([
      ['native', 200, [300, 100, 200]],
      ['torch', 175, [200, 250, 150, 175]],  // an even count: the lower middle run
    ]);
  });

  it('reports a failed run of a case instead of a median, and keeps the two nets and thread counts apart', () => {
    const merged = merge([
      mlp('torch', 1, 10, 'large'), mlp('native', 2, 30, 'large'), { ...mlp('native', 2, 0, 'large'), error: 'boom' },
      mlp('native', 1, 40, 'small'), mlp('native', 1, 50, 'small'), mlp('js', 1, 5, 'small'),
    ]);
    expect(merged.map((r) => [r.net, r.impl, r.threads, r.error ?? r.samplesPerSec])).toEqual([
      ['large', 'native', 2, 'boom'],
      ['large', 'torch', 1, 10],
      ['small', 'native', 1, 40],
      ['small', 'js', 1, 5],
    ]);
  });
});
