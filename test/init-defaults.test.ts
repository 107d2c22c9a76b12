// Dense's default initialiser (SPEC.md §5: He-normal before ReLU-like
// activations, Xavier-uniform otherwise) must not depend on whether the
// activation is fused into Dense or written as its own layer, PyTorch-style
// (Linear, ReLU), which is how torch-shaped models are built for state_dict interop.
import { describe, expect, it } from 'vitest';
import { Activation, BatchNorm1d, Dense, PReLU, Sequential, layerFromConfig } from '../lib';
import { ENGINES } from './helpers';

const variance = (w: ArrayLike<number>) => Array.from(w).reduce((s, x) => s + x * x, 0) / w.length;

describe.each(ENGINES)('default Dense initialiser with a separate activation layer (%s engine)', (engine) => {
  it.each(['relu', 'leaky-relu', 'elu', 'gelu', 'silu', 'swish'])(
    'Dense then Activation(%s) draws the weights of Dense with the activation fused (He-normal)', (act) => {
      const fused = new Sequential([new Dense(40, 30, { activation: act }), new Dense(30, 3)], { engine, seed: 11 }).getWeights();
      const separate = new Sequential([new Dense(40, 30), new Activation(act), new Dense(30, 3)], { engine, seed: 11 }).getWeights();
      expect(separate['0.weight']).toEqual(fused['0.weight']);
      expect(separate['2.weight']).toEqual(fused['1.weight']);
      expect(variance(separate['0.weight']!) * 40).toBeGreaterThan(1.7); // 2/fan_in, not Xavier's 2/(in+out)
    });

  it('Dense then PReLU is He-normal; Dense then tanh, sigmoid or BatchNorm1d stays Xavier-uniform', () => {
    const he = new Sequential([new Dense(40, 30, { activation: 'relu' })], { engine, seed: 4 }).getWeights()['0.weight'];
    const xavier = new Sequential([new Dense(40, 30)], { engine, seed: 4 }).getWeights()['0.weight'];
    expect(new Sequential([new Dense(40, 30), new PReLU()], { engine, seed: 4 }).getWeights()['0.weight']).toEqual(he);
    expect(new Sequential([new Dense(40, 30), new PReLU({ numParameters: 30 })], { engine, seed: 4 }).getWeights()['0.weight']).toEqual(he);
    for (const next of [new Activation('tanh'), new Activation('sigmoid'), new BatchNorm1d(30)]) {
      expect(new Sequential([new Dense(40, 30), next], { engine, seed: 4 }).getWeights()['0.weight']).toEqual(xavier);
    }
  });

  it('an explicit weightInit wins over the next layer, and a saved config rebuilds the same initialiser', () => {
    const explicit = new Sequential([new Dense(40, 30, { weightInit: 'xavier-uniform' }), new Activation('relu')], { engine, seed: 4 });
    expect(explicit.getWeights()['0.weight']).toEqual(new Sequential([new Dense(40, 30)], { engine, seed: 4 }).getWeights()['0.weight']);
    const layers = [new Dense(40, 30), new Activation('relu'), new Dense(30, 2)];
    const original = new Sequential(layers, { engine, seed: 9 }).getWeights();
    const rebuilt = new Sequential(layers.map((l) => layerFromConfig(JSON.parse(JSON.stringify(l.getConfig())))), { engine, seed: 9 });
    expect(rebuilt.getWeights()).toEqual(original);
  });
});
