// describe() and summary() show the options of BatchNorm1d, LayerNorm and PReLU
// that differ from PyTorch's defaults, so two different models never print alike.
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, LayerNorm, PReLU, Sequential } from '../lib';
import { ENGINES } from './helpers';

describe('layer descriptions name their non-default options', () => {
  it('defaults print as before; other values are listed', () => {
    expect(new BatchNorm1d(8).describe()).toBe('BatchNorm1d(8)');
    expect(new BatchNorm1d(8, { eps: 1e-3, momentum: 0.3, affine: false }).describe())
      .toBe('BatchNorm1d(8, eps 0.001, momentum 0.3, affine false)');
    expect(new LayerNorm(6).describe()).toBe('LayerNorm(6)');
    expect(new LayerNorm(6, { elementwiseAffine: false }).describe()).toBe('LayerNorm(6, elementwiseAffine false)');
    expect(new LayerNorm(6, { eps: 0.1 }).describe()).toBe('LayerNorm(6, eps 0.1)');
    expect(new PReLU().describe()).toBe('PReLU(1)');
    expect(new PReLU({ numParameters: 4, init: -0.5 }).describe()).toBe('PReLU(4, init -0.5)');
  });

  it.each(ENGINES)('summary tells apart models that differ only in layer options (%s engine)', (engine) => {
    const a = new Sequential([new Dense(4, 8), new BatchNorm1d(8), new PReLU()], { engine, seed: 1 });
    const b = new Sequential([new Dense(4, 8), new BatchNorm1d(8, { affine: false }), new PReLU()], { engine, seed: 1 });
    expect(a.summary()).not.toBe(b.summary());
    expect(b.summary()).toMatch(/BatchNorm1d\(8, affine false\)\s+8\s+0/);
  });
});
