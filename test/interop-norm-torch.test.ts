// PyTorch interop for models with BatchNorm1d, PReLU and LayerNorm, through
// safetensors files made once by test/fixtures/torch_norm_interop.py (tests
// never run Python):
//  - torch → fastmlp: torch's state_dict (num_batches_tracked as int64, as torch
//    stores it) loads with io.readWeights({ skipNonFloat: true }) + setWeights
//    and predicts what torch recorded in eval mode;
//  - fastmlp → torch: fastmlp_norm.safetensors (make_fastmlp_norm_safetensors.cjs)
//    loaded with load_state_dict(strict=True) gave outputs fastmlp reproduces;
//  - names, shapes and parameter counts are torch's.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Activation, BatchNorm1d, Dense, Dropout, LayerNorm, Matrix, PReLU, Sequential, io } from '../lib';
import type { EngineName } from '../lib/engine';
import { ENGINES, maxRelDiff } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');
const recorded = JSON.parse(readFileSync(path.join(FIXTURES, 'torch_norm_interop.json'), 'utf8')) as {
  torch_f32: TorchSide; torch_f64: TorchSide;
  fastmlp_f32: { x: number[][]; y: number[][]; names: string[]; num_batches_tracked: number };
};
interface TorchSide {
  x: number[][]; y: number[][]; numel: Record<string, number>; shapes: Record<string, number[]>; param_count: number;
}

/** The fixture's nn.Sequential, module for module (so the state_dict names agree). */
function torchShaped(engine: EngineName, dtype: 'float32' | 'float64'): Sequential {
  return new Sequential([
    new Dense(5, 8), new BatchNorm1d(8, { momentum: 0.3 }), new PReLU({ numParameters: 8 }),
    new Dense(8, 6), new LayerNorm(6), new Activation('relu'), new Dropout(0.1),
    new Dense(6, 4), new BatchNorm1d(4, { affine: false, eps: 1e-3 }), new PReLU(), new Dense(4, 3),
  ], { engine, dtype, seed: 0 });
}

/** Name → shape of the tensors in a safetensors buffer's header (what torch's loader sees). */
function headerShapes(buf: Uint8Array): Record<string, number[]> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const header = JSON.parse(b.toString('utf8', 8, 8 + Number(b.readBigUInt64LE(0)))) as Record<string, { shape: number[] }>;
  delete header['__metadata__'];
  return Object.fromEntries(Object.entries(header).map(([k, v]) => [k, v.shape]));
}

describe.each(ENGINES)('PyTorch interop with BatchNorm1d, PReLU and LayerNorm (%s engine)', (engine) => {
  it.each([['float32', 'f32', 1e-5], ['float64', 'f64', 1e-12]] as const)(
    'a torch state_dict (%s, int64 num_batches_tracked) loads with readWeights({ skipNonFloat }) + setWeights and predicts as torch',
    async (dtype, suffix, tol) => {
      const fixture = recorded[`torch_${suffix}`];
      const weights = await io.readWeights(path.join(FIXTURES, `torch_norm_${suffix}.safetensors`), { skipNonFloat: true });
      expect(weights['1.num_batches_tracked']).toBeUndefined();
      const m = torchShaped(engine, dtype);
      m.setWeights(weights);
      const y = m.predict(Matrix.from(fixture.x, dtype));
      expect(maxRelDiff(y.data, fixture.y.flat())).toBeLessThan(tol);
      // The skipped step counts keep the model's own (0 for a new model); the statistics are torch's.
      const after = m.getWeights();
      expect(Array.from(after['1.num_batches_tracked']!)).toEqual([0]);
      expect(Array.from(after['8.running_var']!)).toEqual(Array.from(weights['8.running_var']!));
    });

  it('a step count given with the weights is kept; other missing tensors are still refused, naming them', () => {
    const m = torchShaped(engine, 'float64');
    const w = m.getWeights();
    m.setWeights({ ...w, '1.num_batches_tracked': [7] });
    expect(Array.from(m.getWeights()['1.num_batches_tracked']!)).toEqual([7]);
    const { ['8.num_batches_tracked']: _count, ...withoutCount } = w;
    m.setWeights(withoutCount);
    expect(Array.from(m.getWeights()['8.num_batches_tracked']!)).toEqual([0]);
    const { ['8.running_mean']: _mean, ...withoutMean } = w;
    expect(() => m.setWeights(withoutMean)).toThrow(/Missing weights\['8.running_mean'\]: expected 4 values \(shape 4\)/);
    const { ['9.weight']: _slope, ...withoutSlope } = w;
    expect(() => m.setWeights(withoutSlope)).toThrow(/Missing weights\['9.weight'\]: expected 1 value \(shape 1\)/);
  });

  it('names, shapes and the parameter count are those of torch\'s state_dict', () => {
    const fixture = recorded.torch_f32;
    const m = torchShaped(engine, 'float32');
    const w = m.getWeights();
    expect(Object.keys(w).sort()).toEqual(Object.keys(fixture.numel).sort());
    for (const [name, n] of Object.entries(fixture.numel)) expect(w[name]!.length, name).toBe(n);
    expect(headerShapes(m.toBuffer())).toEqual(fixture.shapes);
    expect(m.paramCount).toBe(fixture.param_count);
    expect(m.summary()).toContain(`Total parameters: ${fixture.param_count}`);
  });

  it('fastmlp_norm.safetensors loaded into torch (strict) predicted what fastmlp predicts', async () => {
    const fixture = recorded.fastmlp_f32;
    const m = await Sequential.load(path.join(FIXTURES, 'fastmlp_norm.safetensors'), { engine });
    expect(Object.keys(m.getWeights()).sort()).toEqual(fixture.names);
    expect(m.getWeights()['1.num_batches_tracked']![0]).toBe(fixture.num_batches_tracked);
    const y = m.predict(Matrix.from(fixture.x));
    expect(maxRelDiff(y.data, fixture.y.flat())).toBeLessThan(1e-5);
  });
});
