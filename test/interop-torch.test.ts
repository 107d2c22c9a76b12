// Interop with PyTorch through safetensors files, with fixtures made once by
// test/fixtures/torch_safetensors_interop.py (tests never run Python):
//  - a torch nn.Sequential's state_dict, written as safetensors, loads into the
//    matching fastmlp model and predicts what torch recorded;
//  - a fastmlp-written file (fastmlp_mlp.safetensors) loaded into torch gave
//    outputs that fastmlp's own predictions on that file reproduce.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Matrix, Sequential, io } from '../lib';
import { ENGINES, maxRelDiff } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');
const recorded = JSON.parse(readFileSync(path.join(FIXTURES, 'torch_safetensors_interop.json'), 'utf8'));

/** nn.Sequential(Linear(4,8), ReLU(), Linear(8,6), Tanh(), Linear(6,3), Softmax(dim=1)), index for index. */
function torchShaped(engine: 'native' | 'js', dtype: 'float32' | 'float64') {
  return new Sequential([new Dense(4, 8), new Activation('relu'), new Dense(8, 6), new Activation('tanh'),
    new Dense(6, 3), new Activation('softmax')], { engine, dtype, seed: 0 });
}

describe.each(ENGINES)('PyTorch interop (%s engine)', (engine) => {
  it.each([['float32', 'f32', 1e-6], ['float64', 'f64', 1e-13]] as const)(
    'a torch state_dict in safetensors (%s) loads with setWeights and predicts as torch did', async (dtype, suffix, tol) => {
      const fixture = recorded[`torch_${suffix}`];
      const weights = await io.readWeights(path.join(FIXTURES, `torch_mlp_${suffix}.safetensors`));
      expect(Object.keys(weights).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight']);
      expect(weights['0.weight']).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
      const m = torchShaped(engine, dtype);
      m.setWeights(weights);
      const y = m.predict(Matrix.from(fixture.x, dtype));
      expect(maxRelDiff(y.data, (fixture.y as number[][]).flat())).toBeLessThan(tol);
    });

  it('readWeights refuses int64 tensors (BatchNorm num_batches_tracked) unless asked to skip them', () => {
    const file = readFileSync(path.join(FIXTURES, 'torch_mlp_f32.safetensors'));
    const n = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.toString('utf8', 8, 8 + n));
    const data = file.subarray(8 + n);
    header['9.num_batches_tracked'] = { dtype: 'I64', shape: [], data_offsets: [data.length, data.length + 8] };
    header['9.half'] = { dtype: 'I16', shape: [3], data_offsets: [data.length + 8, data.length + 14] };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const withInts = Buffer.concat([len, json, data, Buffer.alloc(14)]);
    expect(() => io.weightsFromBuffer(withInts)).toThrow(/'9.num_batches_tracked' has dtype "I64"; .* \{ skipNonFloat: true \}/);
    const w = io.weightsFromBuffer(withInts, { skipNonFloat: true });
    expect(Object.keys(w).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight']);
    expect(w['4.bias']).toEqual(io.weightsFromBuffer(file)['4.bias']);
    // Skipped tensors are still bounds-checked.
    header['9.half'].data_offsets = [data.length + 8, data.length + 16];
    const bad = Buffer.concat([len, Buffer.from(JSON.stringify(header).padEnd(json.length)), data, Buffer.alloc(16)]);
    expect(() => io.weightsFromBuffer(bad, { skipNonFloat: true })).toThrow(/'9.half' .*\(I16\) needs 6 bytes but its offsets span 8/);
    expect(() => io.weightsFromBuffer(file, { skip: true } as never)).toThrow(/Unknown option 'skip'/);
  });

  it('a torch file is not a fastmlp model file: Sequential.load says how to use it', async () => {
    await expect(Sequential.load(path.join(FIXTURES, 'torch_mlp_f32.safetensors'), { engine }))
      .rejects.toThrow(/not a fastmlp model file .* io\.readWeights/);
  });

  it('fastmlp_mlp.safetensors predicts what PyTorch computed after loading it', async () => {
    const fixture = recorded.fastmlp_f32;
    const m = await Sequential.load(path.join(FIXTURES, 'fastmlp_mlp.safetensors'), { engine });
    expect(Object.keys(m.getWeights()).sort()).toEqual(fixture.names);
    const y = m.predict(Matrix.from(fixture.x));
    expect(maxRelDiff(y.data, (fixture.y as number[][]).flat())).toBeLessThan(1e-6);
  });
});
