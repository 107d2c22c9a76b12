// torch.nn.init's options (lib/init-torch.ts): calculate_gain against torch
// 1.13's table, kaiming/xavier/nn.Linear-default sample statistics against the
// formulas and against torch's own draws (test/fixtures/init_torch.py), the
// bias rule of nn.Linear, both engines bit-identical, getConfig and save/load
// round trips, and bad options.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dense, Sequential, init, layerFromConfig } from '../lib';
import { fillInit, resolveInit, type InitConfig } from '../lib/init';
import type { GainNonlinearity } from '../lib/init-torch';
import { Rng } from '../lib/rng';
import { ENGINES, maxRelDiff } from './helpers';
import fixture from './fixtures/init_torch.json';

const { fanIn: FAN_IN, fanOut: FAN_OUT } = fixture;
type Stats = { mean: number; variance: number; min: number; max: number };

function sample(config: InitConfig, n = FAN_IN * FAN_OUT, seed = 5): Float64Array {
  const out = new Float64Array(n);
  fillInit(config, out, FAN_IN, FAN_OUT, new Rng(seed));
  return out;
}

function moments(a: ArrayLike<number>): Stats {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < a.length; i++) { s += a[i]!; min = Math.min(min, a[i]!); max = Math.max(max, a[i]!); }
  const mean = s / a.length;
  let q = 0;
  for (let i = 0; i < a.length; i++) q += (a[i]! - mean) ** 2;
  return { mean, variance: q / a.length, min, max };
}

/** Our draws and torch's both agree with the formula: mean 0 within 5 standard errors, variance within 3 %, inside ±bound. */
function expectDistribution(ours: Stats, torch: Stats, variance: number, bound: number | null, n: number): void {
  for (const m of [ours, torch]) {
    expect(Math.abs(m.mean)).toBeLessThan(5 * Math.sqrt(variance / n));
    expect(Math.abs(m.variance / variance - 1)).toBeLessThan(0.03);
    if (bound !== null) {
      expect(m.min).toBeGreaterThanOrEqual(-bound * (1 + 1e-6));
      expect(m.max).toBeLessThanOrEqual(bound * (1 + 1e-6));
      expect(m.max).toBeGreaterThan(0.99 * bound);
    }
  }
  expect(Math.abs(ours.variance / torch.variance - 1)).toBeLessThan(0.04);
}

describe('calculateGain against torch 1.13', () => {
  it('every row of torch.nn.init.calculate_gain matches to 1e-15', () => {
    expect(fixture.gains.length).toBe(9);
    for (const { nonlinearity, param, gain } of fixture.gains) {
      expect(init.calculateGain(nonlinearity as GainNonlinearity, param ?? undefined)).toBeCloseTo(gain, 15);
    }
    expect(init.calculateGain('identity')).toBe(1);
  });

  it('rejects an unknown nonlinearity and a non-finite slope, naming the argument', () => {
    expect(() => init.calculateGain('gelu' as never)).toThrow(RangeError);
    expect(() => init.calculateGain('gelu' as never)).toThrow(/for nonlinearity/);
    expect(() => init.calculateGain(3 as never)).toThrow(TypeError);
    expect(() => init.calculateGain('leaky_relu', Number.NaN)).toThrow(/for param/);
  });
});

describe('kaiming and xavier with options: our draws and torch\'s against the formula (60 000 draws each)', () => {
  const n = FAN_IN * FAN_OUT;
  for (const d of fixture.draws) {
    const uniform = d.kind.endsWith('uniform');
    if (d.kind.startsWith('kaiming')) {
      const label = `${d.kind}(a ${d.a.toFixed(3)}, ${d.mode}, ${d.nonlinearity})`;
      it(label, () => {
        const opts = { a: d.a!, mode: d.mode as 'fanIn' | 'fanOut', nonlinearity: d.nonlinearity as GainNonlinearity };
        const config = uniform ? init.kaimingUniform(opts) : init.kaimingNormal(opts);
        const gain = init.calculateGain(opts.nonlinearity, opts.a);
        const fan = opts.mode === 'fanIn' ? FAN_IN : FAN_OUT;
        const std = gain / Math.sqrt(fan);
        const bound = uniform ? Math.sqrt(3) * std : null;
        expectDistribution(moments(sample(config)), d, std * std, bound, n);
      });
    } else {
      it(`${d.kind}(gain ${d.gain!.toFixed(3)})`, () => {
        const config = uniform ? init.xavierUniform(d.gain) : init.xavierNormal(d.gain);
        const std = d.gain! * Math.sqrt(2 / (FAN_IN + FAN_OUT));
        expectDistribution(moments(sample(config)), d, std * std, uniform ? Math.sqrt(3) * std : null, n);
      });
    }
  }

  it('defaults are torch\'s: kaiming a 0, fanIn, leaky_relu (gain √2); xavier gain 1 equals the plain name', () => {
    expect(init.kaimingUniform()).toEqual({ type: 'kaiming-uniform', a: 0, mode: 'fanIn', nonlinearity: 'leaky_relu' });
    expect(resolveInit('w', 'kaiming-normal')).toEqual({ type: 'kaiming-normal', a: 0, mode: 'fanIn', nonlinearity: 'leaky_relu' });
    // kaiming-normal with defaults is He-normal; xavier with gain 1 is the plain xavier: the same draws.
    expect(maxRelDiff(sample(init.kaimingNormal(), 500), sample({ type: 'he-normal' }, 500))).toBeLessThan(1e-15);
    expect(Array.from(sample(init.xavierUniform(1), 500))).toEqual(Array.from(sample({ type: 'xavier-uniform' }, 500)));
    expect(Array.from(sample(init.xavierNormal(2), 500)))
      .toEqual(Array.from(sample({ type: 'xavier-normal' }, 500), (v) => 2 * v));
  });
});

describe('torch.nn.Linear\'s default (\'torch-linear\')', () => {
  it('weight and bias U(±1/√fan_in), like torch\'s own nn.Linear draws', () => {
    const bound = 1 / Math.sqrt(FAN_IN);
    const variance = (bound * bound) / 3;
    expectDistribution(moments(sample(init.torchLinear())), fixture.linear.weight, variance, bound, FAN_IN * FAN_OUT);
    // The bias has only fanOut values but uses the weight's fan_in, as nn.Linear.reset_parameters does.
    const bias = new Float64Array(FAN_OUT);
    fillInit(init.torchLinear(), bias, FAN_IN, FAN_OUT, new Rng(4));
    const b = moments(bias);
    const t = fixture.linear.bias;
    for (const m of [b, t]) {
      expect(m.min).toBeGreaterThanOrEqual(-bound * (1 + 1e-6));
      expect(m.max).toBeLessThanOrEqual(bound * (1 + 1e-6));
      expect(m.max - m.min).toBeGreaterThan(1.8 * bound); // 200 draws span nearly the whole interval
      expect(Math.abs(m.variance / variance - 1)).toBeLessThan(0.3);
    }
  });

  it('is the same as kaimingUniform({ a: √5 }) for the weight, draw for draw', () => {
    const a = sample(init.kaimingUniform({ a: Math.sqrt(5) }), 1000);
    const b = sample(init.torchLinear(), 1000);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 15);
  });
});

describe.each(ENGINES)('through Dense (%s engine)', (engine) => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-init-torch-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const inits: InitConfig[] = [
    init.kaimingUniform({ a: 0.2, mode: 'fanOut', nonlinearity: 'leaky_relu' }),
    init.kaimingNormal({ nonlinearity: 'tanh' }),
    init.xavierUniform(5 / 3),
    init.xavierNormal(0.5),
    init.torchLinear(),
  ];

  it('weightInit and biasInit give the same weights as the JS engine and the formula\'s bounds', () => {
    for (const weightInit of inits) {
      const make = (e: typeof engine) => new Sequential([new Dense(40, 30, { weightInit, biasInit: 'torch-linear' })],
        { engine: e, seed: 11, dtype: 'float64' }).getWeights();
      const w = make(engine);
      const ref = make('js');
      expect(Array.from(w['0.weight']!)).toEqual(Array.from(ref['0.weight']!));
      expect(Array.from(w['0.bias']!)).toEqual(Array.from(ref['0.bias']!));
      expect(Array.from(w['0.bias']!).every((v) => Math.abs(v) <= 1 / Math.sqrt(40))).toBe(true);
      expect(new Set(w['0.bias']!).size).toBe(30);
    }
  });

  it('getConfig records the options and a saved model reloads with them and its weights', async () => {
    const model = new Sequential([
      new Dense(6, 5, { weightInit: init.kaimingNormal({ a: 0.1, mode: 'fanOut', nonlinearity: 'leaky_relu' }), biasInit: init.torchLinear() }),
      new Dense(5, 3, { weightInit: init.xavierUniform(0.8), biasInit: 'torch-linear' }),
    ], { engine, seed: 3 });
    const config = model.layers[0]!.getConfig();
    expect(config['weightInit']).toEqual({ type: 'kaiming-normal', a: 0.1, mode: 'fanOut', nonlinearity: 'leaky_relu' });
    expect(config['biasInit']).toEqual({ type: 'torch-linear' });
    expect(model.layers[1]!.getConfig()['weightInit']).toEqual({ type: 'xavier-uniform', gain: 0.8 });
    const copy = layerFromConfig(JSON.parse(JSON.stringify(config))) as Dense;
    expect(copy.weightInit).toEqual(config['weightInit']);
    const file = path.join(dir, `m-${engine}.safetensors`);
    await model.save(file);
    const back = await Sequential.load(file, { engine });
    expect(back.layers.map((l) => l.getConfig())).toEqual(model.layers.map((l) => l.getConfig()));
    expect(Array.from(back.getWeights()['0.weight']!)).toEqual(Array.from(model.getWeights()['0.weight']!));
    // A fresh model from the loaded configs draws the same weights from the same seed.
    const rebuilt = new Sequential(back.layers.map((l) => layerFromConfig(l.getConfig())), { engine, seed: 3 });
    expect(Array.from(rebuilt.getWeights()['1.weight']!)).toEqual(Array.from(model.getWeights()['1.weight']!));
  });
});

describe('bad options throw, naming the argument', () => {
  it('factories and object forms', () => {
    expect(() => init.kaimingUniform({ mode: 'fan_in' as never })).toThrow(/kaimingUniform options\.mode/);
    expect(() => init.kaimingUniform({ mode: 'fan_in' as never })).toThrow(RangeError);
    expect(() => init.kaimingNormal({ a: 'x' as never })).toThrow(TypeError);
    expect(() => init.kaimingNormal({ a: Number.POSITIVE_INFINITY })).toThrow(/kaimingNormal options\.a/);
    expect(() => init.kaimingNormal({ nonlinearity: 'softmax' as never })).toThrow(/nonlinearity/);
    expect(() => init.kaimingNormal({ slope: 1 } as never)).toThrow(/Unknown option 'slope'/);
    expect(() => init.kaimingNormal(5 as never)).toThrow(TypeError);
    expect(() => init.xavierUniform(Number.NaN)).toThrow(/for gain/);
    expect(() => init.xavierNormal('2' as never)).toThrow(TypeError);
    expect(() => new Dense(2, 2, { weightInit: { type: 'kaiming-uniform', mode: 'in' } as never })).toThrow(/weightInit\.mode/);
    expect(() => new Dense(2, 2, { weightInit: { type: 'xavier-normal', gain: null } as never })).toThrow(/weightInit\.gain/);
    expect(() => new Dense(2, 2, { biasInit: { type: 'torch-linear', a: 1 } as never })).toThrow(/Unknown option 'a'/);
    expect(() => new Dense(2, 2, { weightInit: 'torch' as never })).toThrow(/weightInit/);
  });
});
