// Whole fit() runs against PyTorch 1.13 (test/fixtures/fit_torch.py): the same
// initial weights, data and options give torch's per-epoch training and
// validation losses and its final parameters and batch-norm buffers — through
// fit's validationSplit (Keras's rows), its epoch-loss average, BatchNorm1d,
// PReLU, LayerNorm, every optimizer with weight decay, momentum/nesterov and
// clipping — in both engines and both dtypes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, LayerNorm, Matrix, PReLU, Sequential, optim, type Dtype } from '../lib';
import { ENGINES, maxRelDiff } from './helpers';

interface Case { clip: { clipNorm?: number; clipValue?: number }; loss: number[]; val_loss: number[]; final: Record<string, number[]> }
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'fit_torch.json'), 'utf8')) as {
  x: number[]; y: number[]; initial: Record<string, number[]>; cases: Record<string, Case>;
};

function optimizer(name: string, clip: Case['clip']) {
  switch (name) {
    case 'sgd-nesterov-wd-clipnorm': return new optim.SGD({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3, ...clip });
    case 'adam-amsgrad-wd-clipvalue': return new optim.Adam({ lr: 0.01, weightDecay: 1e-3, amsgrad: true, ...clip });
    case 'adamw': return new optim.AdamW({ lr: 0.01, ...clip });
    case 'rmsprop-centered-momentum': return new optim.RMSprop({ lr: 0.003, momentum: 0.5, centered: true, ...clip });
    case 'adagrad-lrdecay': return new optim.Adagrad({ lr: 0.05, lrDecay: 1e-3, ...clip });
    default: throw new Error(`no optimizer for ${name}`);
  }
}

const TOLERANCE: Record<Dtype, number> = { float64: 1e-10, float32: 1e-4 };

describe.each(ENGINES)('fit replays PyTorch 1.13 (%s engine)', (engine) => {
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(Object.keys(fixture.cases))(`%s (${dtype})`, async (name) => {
      const c = fixture.cases[name]!;
      const m = new Sequential([new Dense(8, 12, { activation: 'tanh' }), new BatchNorm1d(12), new PReLU(), new Dense(12, 8),
        new LayerNorm(8), new Dense(8, 3)], { engine, dtype, seed: 0 });
      m.setWeights(fixture.initial);
      m.compile({ loss: 'cross-entropy', optimizer: optimizer(name, c.clip) });
      const x = new Matrix(50, 8, Float64Array.from(fixture.x));
      const h = await m.fit(x, Int32Array.from(fixture.y), { epochs: 3, batchSize: 16, shuffle: false, validationSplit: 0.2 });
      expect(h.params.samples).toBe(40);
      expect(maxRelDiff(h.history['loss']!, c.loss)).toBeLessThan(TOLERANCE[dtype]);
      expect(maxRelDiff(h.history['val_loss']!, c.val_loss)).toBeLessThan(TOLERANCE[dtype]);
      const w = m.getWeights();
      expect(Object.keys(w).sort()).toEqual(Object.keys(c.final).sort());
      for (const [key, values] of Object.entries(c.final)) {
        expect(maxRelDiff(w[key]!, values), key).toBeLessThan(TOLERANCE[dtype] * 10);
      }
    });
  }
});
