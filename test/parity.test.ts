// The native and the TypeScript engine implement one contract: the same seed
// gives bit-identical initial weights, and forward outputs, gradients and
// training trajectories agree to 1e-5.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim } from '../lib';
import type { Dtype } from '../lib/engine';
import { engine, maxRelDiff, randomArray } from './helpers';

function pair(dtype: Dtype, seed = 7) {
  const layers = () => [new Dense(6, 16, { activation: 'relu' }), new Dense(16, 8, { activation: 'tanh' }),
    new Dense(8, 4, { activation: 'sigmoid' }), new Dense(4, 3)];
  return {
    native: new Sequential(layers(), { engine: 'native', seed, dtype }),
    js: new Sequential(layers(), { engine: 'js', seed, dtype }),
  };
}

const X = new Matrix(40, 6, randomArray(240, 1, Float32Array));
const Y = Int32Array.from({ length: 40 }, (_, i) => (i * 7) % 3);

describe('engine parity', () => {
  it('the same seed gives bit-identical initial weights in both engines', () => {
    const { native, js } = pair('float32', 123);
    const a = native.getWeights();
    const b = js.getWeights();
    expect(Object.keys(a)).toEqual(Object.keys(b));
    for (const k of Object.keys(a)) expect(Array.from(a[k]!)).toEqual(Array.from(b[k]!));
    const other = new Sequential([new Dense(6, 16)], { engine: 'js', seed: 124 }).getWeights()['0.weight']!;
    expect(Array.from(other)).not.toEqual(Array.from(a['0.weight']!));
  });

  for (const dtype of ['float32', 'float64'] as const) {
    it(`forward outputs agree (${dtype})`, () => {
      const { native, js } = pair(dtype);
      expect(maxRelDiff(native.predict(X).data, js.predict(X).data)).toBeLessThan(1e-5);
    });

    it(`gradients agree (${dtype})`, () => {
      const layers = [{ kind: 'dense' as const, inFeatures: 6, outFeatures: 9 }, { kind: 'activation' as const, activation: 'softmax' as const },
        { kind: 'dense' as const, inFeatures: 9, outFeatures: 3 }];
      const plans = ['native', 'js'].map((n) => engine(n as 'native' | 'js').createPlan({ dtype, layers, maxBatch: 40 }));
      const params = randomArray(plans[0]!.paramCount, 5, dtype === 'float32' ? Float32Array : Float64Array);
      const x = dtype === 'float32' ? X.data : Float64Array.from(X.data);
      const grads = plans.map((p) => {
        p.setParams(params);
        p.setLoss({ kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0.1 });
        p.computeGradients(x, 40, Y);
        const g = dtype === 'float32' ? new Float32Array(p.paramCount) : new Float64Array(p.paramCount);
        p.getGrads(g);
        return g;
      });
      expect(maxRelDiff(grads[0]!, grads[1]!)).toBeLessThan(1e-5);
    });

    it(`several training steps agree (${dtype}, SGD momentum and Adam)`, () => {
      for (const makeOpt of [() => new optim.SGD({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
        () => new optim.Adam({ lr: 0.01, weightDecay: 1e-3 }), () => new optim.AdamW({ lr: 0.01 })]) {
        const { native, js } = pair(dtype);
        native.compile({ loss: 'cross-entropy', optimizer: makeOpt() });
        js.compile({ loss: 'cross-entropy', optimizer: makeOpt() });
        for (let step = 0; step < 10; step++) {
          const rows = new Matrix(8, 6, X.data.slice(step % 5 * 48, step % 5 * 48 + 48));
          const y = Y.slice(step % 5 * 8, step % 5 * 8 + 8);
          expect(native.trainStep(rows, y)).toBeCloseTo(js.trainStep(rows, y), 5);
        }
        const a = native.getWeights();
        const b = js.getWeights();
        for (const k of Object.keys(a)) expect(maxRelDiff(a[k]!, b[k]!), k).toBeLessThan(1e-5);
      }
    });
  }

  it('fit with shuffling follows the same trajectory in both engines', async () => {
    const { native, js } = pair('float64', 99);
    for (const m of [native, js]) m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }) });
    const h1 = await native.fit(X, Y, { epochs: 3, batchSize: 7, shuffle: true });
    const h2 = await js.fit(X, Y, { epochs: 3, batchSize: 7, shuffle: true });
    expect(maxRelDiff(h1.history.loss!, h2.history.loss!)).toBeLessThan(1e-5);
    expect(maxRelDiff(native.predict(X).data, js.predict(X).data)).toBeLessThan(1e-5);
  });
});
