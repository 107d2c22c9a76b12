// BatchNorm1d's num_batches_tracked past float32's 2^24 (lib/batch-count.ts):
// set near the boundary through setWeights and model files, stepped, and
// compared with the exact count and the cumulative average's formula
// (momentum null: factor 1/count), in both engines and dtypes; saved and loaded
// exactly (F64 in files of either dtype; old F32 files still load); and
// against PyTorch 1.13 loading a fastmlp file with such a count into its int64
// buffer and training from it (test/fixtures/bn_count_torch.py).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, Matrix, Sequential, io, optim, type Dtype } from '../lib';
import { ENGINES } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');
const TWO24 = 2 ** 24;
const DTYPES: Dtype[] = ['float32', 'float64'];
const CASES = ENGINES.flatMap((engine) => DTYPES.map((dtype) => [engine, dtype] as const));

interface TorchStep { x: number[][]; num_batches_tracked: number; running_mean: number[]; running_var: number[] }
const TORCH = JSON.parse(readFileSync(path.join(FIXTURES, 'bn_count_torch.json'), 'utf8')) as
  Record<Dtype, { file: string; loaded: number; steps: TorchStep[] }>;

/** A 4×3 batch (k picks it) with columns of different means. */
function batch(k: number): number[][] {
  return Array.from({ length: 4 }, (_, r) => Array.from({ length: 3 }, (_, c) => Math.cos(5 * k + 2 * r + c) * 3 + c + k));
}

/** Column means of rows, and their unbiased variances (torch's running_var uses n − 1), in float64. */
function columnStats(rows: number[][]): { mean: number[]; var: number[] } {
  const n = rows.length;
  const mean = [0, 1, 2].map((c) => rows.reduce((s, r) => s + r[c]!, 0) / n);
  const variance = [0, 1, 2].map((c) => rows.reduce((s, r) => s + (r[c]! - mean[c]!) ** 2, 0) / (n - 1));
  return { mean, var: variance };
}

/** BatchNorm1d(3, momentum null) then Dense(3, 2), compiled with SGD at lr 0: trainStep only runs the training forward. */
function model(engine: (typeof ENGINES)[number], dtype: Dtype): Sequential {
  const m = new Sequential([new BatchNorm1d(3, { momentum: null }), new Dense(3, 2)], { engine, seed: 2, dtype });
  m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0 }) });
  return m;
}

function step(m: Sequential, rows: number[][]): void {
  m.trainStep(Matrix.from(rows, m.dtype), Matrix.from(rows.map(() => [0, 0]), m.dtype));
}

const countOf = (m: Sequential): number => m.getWeights()['0.num_batches_tracked']![0]!;

function expectClose(got: ArrayLike<number>, want: readonly number[], rel: number, what: string): void {
  want.forEach((w, i) => expect(Math.abs(got[i]! - w), `${what}[${i}]: ${got[i]} vs ${w}`).toBeLessThanOrEqual(rel * Math.abs(w)));
}

describe.each(CASES)('the batch count past 2^24 (%s engine, %s)', (engine, dtype) => {
  const rel = dtype === 'float32' ? 2e-6 : 1e-12;

  it('counts exactly across 2^24 and averages with factor 1/count', () => {
    const m = model(engine, dtype);
    m.setWeights({ ...m.getWeights(), '0.num_batches_tracked': [TWO24 - 1] });
    const mean = [0, 0, 0];
    const variance = [1, 1, 1];
    for (let k = 0; k < 3; k++) {
      const rows = batch(k);
      step(m, rows);
      const count = TWO24 + k;  // 2^24, 2^24 + 1, 2^24 + 2: float32 in one slot stayed at 2^24
      expect(countOf(m)).toBe(count);
      // torch's cumulative moving average (BatchNorm1d docs, momentum=None).
      const stats = columnStats(rows);
      for (let c = 0; c < 3; c++) {
        mean[c] += (stats.mean[c]! - mean[c]!) / count;
        variance[c] += (stats.var[c]! - variance[c]!) / count;
      }
      const w = m.getWeights();
      expectClose(w['0.running_mean']!, mean, rel, `running_mean after step ${k}`);
      expectClose(w['0.running_var']!, variance, rel, `running_var after step ${k}`);
    }
  });

  it('far past 2^24 (5·2^24 + 7) the factor is 1/(count + 1), not that of a count stuck at 2^24', () => {
    const m = model(engine, dtype);
    const start = 5 * TWO24 + 7;  // not a float32 value: a float32 slot would have held 5·2^24 + 8
    m.setWeights({ ...m.getWeights(), '0.num_batches_tracked': [start] });
    expect(countOf(m)).toBe(start);
    const rows = batch(4);
    step(m, rows);
    expect(countOf(m)).toBe(start + 1);
    const { mean } = columnStats(rows);
    expectClose(m.getWeights()['0.running_mean']!, mean.map((v) => v / (start + 1)), rel, 'running_mean');
  });

  it('2^53 − 1 is held exactly, steps to 2^53, and larger counts are refused naming the weight', () => {
    const m = model(engine, dtype);
    const w = m.getWeights();
    m.setWeights({ ...w, '0.num_batches_tracked': [2 ** 53 - 2] });
    expect(countOf(m)).toBe(2 ** 53 - 2);
    step(m, batch(1));
    expect(countOf(m)).toBe(2 ** 53 - 1);
    for (const bad of [2 ** 53, 2 ** 60]) {
      expect(() => m.setWeights({ ...w, '0.num_batches_tracked': [bad] })).toThrow(RangeError);
      expect(() => m.setWeights({ ...w, '0.num_batches_tracked': [bad] }))
        .toThrow(/whole number ≥ 0 below 2\^53 for weights\['0.num_batches_tracked'\]/);
    }
    expect(() => m.setWeights({ ...w, '0.num_batches_tracked': [NaN] })).toThrow(/finite numbers for weights\['0.num_batches_tracked'\]/);
    expect(countOf(m)).toBe(2 ** 53 - 1);  // refused: nothing changed
  });

  it('getWeights gives the count as a Float64Array; model files store it as F64 and load it exactly', () => {
    const m = model(engine, dtype);
    m.setWeights({ ...m.getWeights(), '0.num_batches_tracked': Float64Array.of(3 * TWO24 + 1) });
    const w = m.getWeights();
    expect(w['0.num_batches_tracked']).toBeInstanceOf(Float64Array);
    expect(w['0.running_mean']).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
    const buf = m.toBuffer();
    const info = io.modelInfoFromBuffer(buf);
    expect(info.tensors.find((t) => t.name === '0.num_batches_tracked')!.dtype).toBe('float64');
    expect(info.tensors.find((t) => t.name === '0.running_mean')!.dtype).toBe(dtype);
    expect(io.weightsFromBuffer(buf)['0.num_batches_tracked']![0]).toBe(3 * TWO24 + 1);
    for (const back of [Sequential.fromBuffer(buf, { engine }), Sequential.fromJSON(JSON.parse(JSON.stringify(m.toJSON())), { engine })]) {
      expect(countOf(back)).toBe(3 * TWO24 + 1);
      step(back, batch(2));  // compiled from the file's settings: training counts on
      expect(countOf(back)).toBe(3 * TWO24 + 2);
    }
  });
});

describe.each(CASES)('PyTorch 1.13 loads the F64 count into its int64 buffer and trains on as fastmlp does (%s engine, %s)', (engine, dtype) => {
  const fixture = TORCH[dtype];

  it(`${fixture.file}: the count as torch read it, then two batches`, async () => {
    const m = await Sequential.load(path.join(FIXTURES, fixture.file), { engine });
    expect(countOf(m)).toBe(fixture.loaded);
    m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 0 }) });
    const rel = dtype === 'float32' ? 2e-6 : 1e-12;
    for (const [k, s] of fixture.steps.entries()) {
      step(m, s.x);
      expect(countOf(m)).toBe(s.num_batches_tracked);
      const w = m.getWeights();
      expectClose(w['0.running_mean']!, s.running_mean, rel, `running_mean after batch ${k}`);
      // running_var moves from 1 by ~1e-7 (float32) / ~1e-16 (float64): compare its distance from 1.
      expectClose(Array.from(w['0.running_var']!, (v) => v - 1), s.running_var.map((v) => v - 1),
        dtype === 'float32' ? 0.5 : 1e-3, `running_var − 1 after batch ${k}`);
    }
  });
});

describe('old files and the engines', () => {
  it('a float32 model file written before (count stored as F32) still loads, with its count', async () => {
    const file = readFileSync(path.join(FIXTURES, 'fastmlp_norm.safetensors'));
    const count = io.modelInfoFromBuffer(file).tensors.find((t) => t.name === '1.num_batches_tracked')!;
    expect(count.dtype).toBe('float32');
    const stored = io.weightsFromBuffer(file)['1.num_batches_tracked']![0]!;
    expect(stored).toBe(5);
    for (const engine of ENGINES) {
      const m = Sequential.fromBuffer(file, { engine });
      expect(m.getWeights()['1.num_batches_tracked']).toEqual(Float64Array.of(stored));
      // Saved again, the count is F64.
      expect(io.modelInfoFromBuffer(m.toBuffer()).tensors.find((t) => t.name === '1.num_batches_tracked')!.dtype).toBe('float64');
    }
  });

  it('native and js count and average alike past 2^24 in float32', () => {
    const [a, b] = ENGINES.map((engine) => {
      const m = model(engine, 'float32');
      m.setWeights({ ...m.getWeights(), '0.num_batches_tracked': [2 * TWO24 - 2] });
      for (let k = 0; k < 4; k++) step(m, batch(k));
      return m.getWeights();
    });
    expect(a!['0.num_batches_tracked']).toEqual(Float64Array.of(2 * TWO24 + 2));
    expect(b!['0.num_batches_tracked']).toEqual(a!['0.num_batches_tracked']);
    for (const name of ['0.running_mean', '0.running_var']) {
      Array.from(a![name]!).forEach((v, i) => expect(Math.abs(v - b![name]![i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(v)));
    }
  });
});
