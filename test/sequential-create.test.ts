// Sequential.create: the constructor's model, drawn with the event loop let in.
import { describe, expect, it } from 'vitest';
import { Sequential, Dense, Conv2d, ConvTranspose2d, MaxPool2d, BatchNorm1d, LayerNorm, PReLU, Activation, init } from '../lib';
import { Layer } from '../lib/layer';
import type { FloatArray } from '../lib/engine';
import { fillInit } from '../lib/init';
import { Rng } from '../lib/rng';
import { ENGINES } from './helpers';

// Every initialiser kind, weights larger than one step (32,768 values) and a
// normal fill that starts with a pending second value (the 1,005 before it).
function mixedLayers(): Layer[] {
  return [
    new Dense(5, 201, { biasInit: init.normal(0, 0.1) }),  // 1,005 normals: odd, leaves one pending
    new Dense(201, 300, { activation: 'relu' }),  // 60,300 he-normal values across two steps
    new Dense(300, 120, { weightInit: 'xavier-uniform', biasInit: 'torch-linear' }),
    new BatchNorm1d(120),
    new PReLU({ numParameters: 120 }),
    new Dense(120, 90, { weightInit: 'orthogonal' }),
    new LayerNorm(90),
    new Dense(90, 3, { weightInit: init.uniform(-0.2, 0.3) }),
  ];
}

function imageLayers(): Layer[] {
  return [
    new Conv2d(1, 4, 3, { inputSize: [10, 10], activation: 'relu' }),
    new MaxPool2d(2),
    new ConvTranspose2d(4, 2, 2, { stride: 2, weightInit: 'kaiming-normal' }),
    new Activation('relu'),
  ];
}

function expectSameWeights(a: Sequential, b: Sequential): void {
  const wa = a.getWeights();
  const wb = b.getWeights();
  expect(Object.keys(wb)).toEqual(Object.keys(wa));
  expect(Object.keys(wa).length).toBeGreaterThan(0);
  for (const name of Object.keys(wa)) expect(wb[name], name).toEqual(wa[name]);
}

describe.each(ENGINES)('Sequential.create (%s engine)', (engine) => {
  it('gives the constructor\'s weights bit for bit, for every kind of initialiser and layer', async () => {
    for (const make of [mixedLayers, imageLayers]) {
      for (const dtype of ['float32', 'float64'] as const) {
        const built = new Sequential(make(), { seed: 11, engine, dtype });
        const created = await Sequential.create(make(), { seed: 11, engine, dtype });
        expect(created).toBeInstanceOf(Sequential);
        expect(created.engine).toBe(built.engine);
        expectSameWeights(built, created);
        // A different seed draws other weights: the comparison can fail.
        const other = await Sequential.create(make(), { seed: 12, engine, dtype });
        expect(other.getWeights()['0.weight']).not.toEqual(built.getWeights()['0.weight']);
        for (const m of [built, created, other]) m.dispose();
      }
    }
  });

  it('leaves the generator where the constructor does: the same seed trains to the same weights', async () => {
    const rows = 64;
    const x = Float32Array.from({ length: rows * 5 }, (_, i) => Math.sin(i * 0.37));
    const y = Int32Array.from({ length: rows }, (_, i) => i % 3);
    const models = [new Sequential(mixedLayers(), { seed: 5, engine }), await Sequential.create(mixedLayers(), { seed: 5, engine })];
    for (const m of models) {
      m.compile({ optimizer: 'adam', loss: 'cross-entropy' });
      await m.fit({ data: x, rows, cols: 5 }, y, { epochs: 2, batchSize: 16, shuffle: true });
    }
    expectSameWeights(models[0]!, models[1]!);
  });

  it('lets a timer run while it draws a large net, where the constructor holds the event loop', async () => {
    const layers = () => [new Dense(784, 2048, { activation: 'relu' }), new Dense(2048, 2048, { activation: 'relu' }), new Dense(2048, 10)];
    const ticksDuring = async (work: () => Promise<unknown>) => {
      let ticks = 0;
      const timer = setInterval(() => { ticks++; }, 2);
      try {
        await work();
      } finally {
        clearInterval(timer);
      }
      return ticks;
    };
    // 5.8 M normals: ~200 ms of drawing or more, let go every ~10 ms (a tick at most per turn).
    expect(await ticksDuring(async () => { new Sequential(layers(), { seed: 1, engine }).dispose(); })).toBe(0);
    expect(await ticksDuring(async () => (await Sequential.create(layers(), { seed: 1, engine })).dispose())).toBeGreaterThanOrEqual(8);
  });

  it('rejects bad arguments with the constructor\'s errors, naming them', async () => {
    await expect(Sequential.create('dense' as unknown as Layer[], { engine })).rejects.toThrow(TypeError);
    await expect(Sequential.create('dense' as unknown as Layer[], { engine })).rejects.toThrow(/layers/);
    await expect(Sequential.create([], { engine })).rejects.toThrow(RangeError);
    await expect(Sequential.create([{} as Layer], { engine })).rejects.toThrow(/layers\[0\]/);
    await expect(Sequential.create([new Dense(2, 2)], { engine, seed: -1 })).rejects.toThrow(RangeError);
    await expect(Sequential.create([new Dense(2, 2)], { engine, seed: -1 })).rejects.toThrow(/seed/);
    await expect(Sequential.create([new Dense(2, 2)], { engine, bogus: 1 } as never)).rejects.toThrow(/bogus/);
  });

  it('runs a custom layer\'s own initParams, and rejects with what it throws', async () => {
    class Ramp extends Dense {
      override initParams([weight, bias]: FloatArray[]): void {
        weight!.forEach((_, i) => { weight![i] = i / 100; });
        bias!.fill(0.5);
      }
    }
    const built = new Sequential([new Ramp(3, 4), new Dense(4, 2)], { seed: 3, engine });
    const created = await Sequential.create([new Ramp(3, 4), new Dense(4, 2)], { seed: 3, engine });
    expectSameWeights(built, created);
    expect(created.getWeights()['0.bias']).toEqual(new Float32Array(4).fill(0.5));

    class Broken extends Dense {
      override initParams(): void {
        throw new Error('no weights today');
      }
    }
    await expect(Sequential.create([new Broken(3, 4)], { engine })).rejects.toThrow('no weights today');
  });
});

describe('fillInit in steps', () => {
  it('draws a normal fill larger than one step as the normal() loop does, pending value and odd length included', () => {
    for (const pending of [false, true]) {
      const a = new Rng(9);
      const b = new Rng(9);
      if (pending) { a.normal(); b.normal(); }
      const n = 3 * 32768 + 7;
      const want = new Float64Array(n);
      for (let i = 0; i < n; i++) want[i] = 0 + 0.25 * a.normal();
      const got = new Float64Array(n);
      fillInit(init.normal(0, 0.25), got, 1, 1, b);
      expect(got).toEqual(want);
      expect(b.getState()).toEqual(a.getState());
    }
  });
});
