// Conv2d and MaxPool2d as a user meets them (SPEC.md §6 "CNN layers"), in both
// engines: output sizes ⌊(n + 2p − f)/s⌋ + 1, LeNet's parameter counts (SPEC
// §7), input shapes taken from the layer before, argument errors, whole fit()
// runs against PyTorch 1.13 (test/fixtures/conv_fit_torch.py), model files,
// ONNX, and a CNN that learns the bundled digits. The kernels themselves are
// checked against torch in test/conv-engine.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Activation, BatchNorm1d, Conv2d, ConvTranspose2d, Dense, Dropout, MaxPool2d, Matrix, Sequential, io, layerFromConfig, optim, type Dtype } from '../lib';
import { ENGINES, maxRelDiff, randomArray, thrown } from './helpers';
import { loadSplit } from './datasets';

interface FitCase { losses: number[]; final: Record<string, number[]> }
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'conv_fit_torch.json'), 'utf8')) as {
  x: number[]; y: number[]; initial: Record<string, number[]>; cases: Record<string, FitCase>;
  autoencoder: FitCase & { x: number[]; initial: Record<string, number[]> };
};

/** conv_fit_torch.py's autoencoder: 1 × 6 × 6 → 4 × 3 × 3 → 1 × 6 × 6. */
function autoencoder(engine: 'native' | 'js', dtype: Dtype): Sequential {
  return new Sequential([
    new Conv2d(1, 4, 3, { inputSize: 6, stride: 2, padding: 1, activation: 'relu' }),
    new ConvTranspose2d(4, 1, 3, { stride: 2, padding: 1, outputPadding: 1 }),
  ], { engine, dtype, seed: 0 });
}

function torchCnn(engine: 'native' | 'js', dtype: Dtype): Sequential {
  return new Sequential([
    new Conv2d(2, 4, 3, { inputSize: [6, 8], padding: 1, activation: 'relu' }),
    new MaxPool2d(2),
    new Conv2d(4, 6, [2, 3], { stride: [1, 2], activation: 'tanh' }),
    new Dense(12, 3),
  ], { engine, dtype, seed: 0 });
}

describe('Conv2d and MaxPool2d shapes', () => {
  it('give ⌊(n + 2p − f)/s⌋ + 1 per dimension', () => {
    const conv = new Conv2d(3, 5, [3, 2], { inputSize: [7, 10], stride: [2, 3], padding: [1, 0] });
    expect(conv.outputImage()).toEqual({ channels: 5, height: 4, width: 3 });   // ⌊(7+2−3)/2⌋+1, ⌊(10−2)/3⌋+1
    expect(conv.inFeatures).toBe(3 * 7 * 10);
    expect(conv.outFeatures()).toBe(5 * 4 * 3);
    const pool = new MaxPool2d(3, { stride: 2, padding: 1, channels: 2, inputSize: 5 });
    expect(pool.outputImage()).toEqual({ channels: 2, height: 3, width: 3 });    // ⌊(5+2−3)/2⌋+1
    expect(new MaxPool2d(2).stride).toEqual([2, 2]);                              // torch: stride defaults to the kernel
    // Transposed: (n − 1)·s − 2p + f + outputPadding.
    const up = new ConvTranspose2d(2, 3, [3, 2], { inputSize: [4, 3], stride: [2, 1], padding: [1, 0], outputPadding: [1, 0] });
    expect(up.outputImage()).toEqual({ channels: 3, height: 8, width: 4 });      // 3·2 − 2 + 3 + 1, 2·1 + 2
    expect(up.params()).toEqual([{ name: 'weight', shape: [2, 3, 3, 2] }, { name: 'bias', shape: [3] }]);   // torch's layout
  });

  it('count LeNet\'s parameters as SPEC §7 does: 608, 3216, 48120, 10164, 850', () => {
    const lenet = new Sequential([
      new Conv2d(3, 8, 5, { inputSize: 32, activation: 'relu' }), new MaxPool2d(2),
      new Conv2d(8, 16, 5, { activation: 'relu' }), new MaxPool2d(2),
      new Dense(400, 120, { activation: 'relu' }), new Dense(120, 84, { activation: 'relu' }), new Dense(84, 10),
    ], { seed: 1 });
    const counts = lenet.layers.map((l) => l.params().reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0));
    expect(counts).toEqual([608, 0, 3216, 0, 48120, 10164, 850]);
    expect(lenet.inputSize).toBe(32 * 32 * 3);
    expect(lenet.layers.map((l) => l.outFeatures(0))).toEqual([8 * 28 * 28, 8 * 14 * 14, 16 * 10 * 10, 400, 120, 84, 10]);
    expect(lenet.summary()).toContain("2: Conv2d(8 → 16, kernel 5×5, stride 1×1, padding 0×0, 14×14 → 10×10, activation: 'relu')");
  });

  it('take their input shape from the image layer before, through layers that keep the width', () => {
    const m = new Sequential([
      new Conv2d(1, 4, 3, { inputSize: [8, 8], padding: 1 }), new Activation('relu'), new Dropout(0.1), new BatchNorm1d(256),
      new MaxPool2d(2), new Conv2d(4, 2, 2), new Dense(18, 2),
    ], { seed: 1 });
    const pool = m.layers[4] as MaxPool2d;
    expect([pool.channels, pool.inputSize]).toEqual([4, [8, 8]]);
    expect((m.layers[5] as Conv2d).inputSize).toEqual([4, 4]);
    // A Dense ends the images, even one that keeps the width: an image layer after it needs its inputSize again.
    expect(thrown(() => new Sequential([new Conv2d(1, 1, 1, { inputSize: 4 }), new Dense(16, 16), new MaxPool2d(2)])).message)
      .toMatch(/inputSize for layers\[2\] \(MaxPool2d/);
    // The bound layers' configs carry the shapes, so a model file rebuilds them alone.
    const rebuilt = m.layers.map((l) => layerFromConfig(JSON.parse(JSON.stringify(l.getConfig()))));
    expect(rebuilt.map((l) => l.describe())).toEqual(m.layers.map((l) => l.describe()));
  });

  it('refuse bad arguments with TypeError/RangeError naming them', () => {
    const cases: [() => unknown, ErrorConstructor, RegExp][] = [
      [() => new Conv2d(0, 2, 3), RangeError, /inChannels/],
      [() => new Conv2d(1, 2, [3] as never), TypeError, /kernelSize/],
      [() => new Conv2d(1, 2, 3, { stride: 0 }), RangeError, /stride/],
      [() => new Conv2d(1, 2, 3, { padding: -1 }), RangeError, /padding/],
      [() => new Conv2d(1, 2, 3, { inputSize: [2, 8] }), RangeError, /kernelSize height/],
      [() => new Conv2d(1, 2, 3, { dilation: 2 } as never), RangeError, /dilation/],
      [() => new MaxPool2d(2, { padding: 2 }), RangeError, /half the kernel/],
      [() => new ConvTranspose2d(1, 1, 3, { stride: 2, outputPadding: 2 }), RangeError, /outputPadding below the stride/],
      [() => new ConvTranspose2d(1, 1, 1, { inputSize: 1, padding: 1 }), RangeError, /output height of at least 1/],
      [() => new Conv2d(1, 1, 3, { outputPadding: 1 } as never), RangeError, /outputPadding/],
      [() => new MaxPool2d(2, { channels: 3 }), TypeError, /inputSize/],
      [() => new Sequential([new Conv2d(1, 2, 3), new Dense(2, 1)]), RangeError, /inputSize for layers\[0\] \(Conv2d/],
      [() => new Sequential([new Conv2d(1, 2, 3, { inputSize: 5 }), new Conv2d(3, 1, 2)]), RangeError, /2 input channels .*layers\[1\]/],
      [() => new Sequential([new Conv2d(1, 2, 3, { inputSize: 5 }), new Dense(17, 2)]), RangeError, /18/],
    ];
    for (const [fn, type, message] of cases) {
      const e = thrown(fn);
      expect(e, String(fn)).toBeInstanceOf(type);
      expect(e.message).toMatch(message);
      expect(e.code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
    }
  });
});

const TOLERANCE: Record<Dtype, number> = { float64: 1e-10, float32: 1e-4 };

describe.each(ENGINES)('a CNN in fit() replays PyTorch 1.13 (%s engine)', (engine) => {
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(Object.keys(fixture.cases))(`%s (${dtype})`, async (name) => {
      const c = fixture.cases[name]!;
      const m = torchCnn(engine, dtype);
      m.setWeights(fixture.initial);
      m.compile({ loss: 'cross-entropy',
        optimizer: name === 'adam' ? new optim.Adam({ lr: 0.01 }) : new optim.SGD({ lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }) });
      const x = new Matrix(24, 2 * 6 * 8, Float64Array.from(fixture.x));
      const h = await m.fit(x, Int32Array.from(fixture.y), { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
      expect(maxRelDiff(h.history['loss']!, c.losses)).toBeLessThan(TOLERANCE[dtype]);
      const w = m.getWeights();
      expect(Object.keys(w).sort()).toEqual(Object.keys(c.final).sort());
      for (const [key, values] of Object.entries(c.final)) expect(maxRelDiff(w[key]!, values), key).toBeLessThan(TOLERANCE[dtype] * 10);
    });
  }
});

describe.each(ENGINES)('a convolutional autoencoder (Conv2d, ConvTranspose2d) in fit() replays PyTorch 1.13 (%s engine)', (engine) => {
  it.each(['float64', 'float32'] as const)('%s', async (dtype) => {
    const a = fixture.autoencoder;
    const m = autoencoder(engine, dtype);
    m.setWeights(a.initial);
    m.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 0.01 }) });
    const x = new Matrix(24, 36, Float64Array.from(a.x));
    const h = await m.fit(x, x, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    expect(maxRelDiff(h.history['loss']!, a.losses)).toBeLessThan(TOLERANCE[dtype]);
    const w = m.getWeights();
    for (const [key, values] of Object.entries(a.final)) expect(maxRelDiff(w[key]!, values), key).toBeLessThan(TOLERANCE[dtype] * 10);
  });
});

describe.each(ENGINES)('a CNN model (%s engine)', (engine) => {
  it('may start with a MaxPool2d given channels and inputSize: it pools the rows before the Dense', () => {
    const pooled = new Sequential([new MaxPool2d(2, { channels: 2, inputSize: [4, 2] }), new Dense(4, 3)], { engine, seed: 5 });
    const dense = new Sequential([new Dense(4, 3)], { engine, seed: 5 });
    dense.setWeights({ '0.weight': pooled.getWeights()['1.weight']!, '0.bias': pooled.getWeights()['1.bias']! });
    const x = new Matrix(3, 16, randomArray(48, 4, Float32Array));
    // Each 2 × 2 window of a 4 × 2 image is a pair of rows: its maximum by hand.
    const byHand = new Matrix(3, 4, Float32Array.from({ length: 12 }, (_, k) => {
      const [r, o] = [Math.floor(k / 4), k % 4];   // output o = channel · 2 + window row
      const base = r * 16 + Math.floor(o / 2) * 8 + (o % 2) * 4;
      return Math.max(...x.data.subarray(base, base + 4));
    }));
    expect(Array.from(pooled.predict(x).data)).toEqual(Array.from(dense.predict(byHand).data));
  });

  it('saves and loads (model file and toJSON) with the same predictions, and trains on after a load', async () => {
    const m = torchCnn(engine, 'float32');
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    const x = new Matrix(24, 96, Float32Array.from(fixture.x));
    const y = Int32Array.from(fixture.y);
    await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    for (const copy of [Sequential.fromBuffer(m.toBuffer({ includeOptimizer: true }), { engine }), Sequential.fromJSON(m.toJSON(), { engine })]) {
      expect(Array.from(copy.predict(x).data)).toEqual(Array.from(m.predict(x).data));
    }
    const resumed = Sequential.fromBuffer(m.toBuffer({ includeOptimizer: true }), { engine });
    expect(resumed.trainStep(x, y)).toBe(m.trainStep(x, y));
  });

  it.each(['float32', 'float64'] as const)('exports to ONNX: onnxruntime gives model.predict\'s outputs (%s)', async (dtype) => {
    // float64 goes through im2col in ONNX ops (onnxruntime's Conv kernel is float32 only).
    const m = new Sequential([
      new Conv2d(2, 3, 3, { inputSize: [7, 6], padding: 1, stride: [2, 1], activation: 'relu' }),
      new MaxPool2d([2, 3], { padding: [1, 1], stride: [1, 2] }),
      new Conv2d(3, 2, 2), new Activation('tanh'),                              // 3 × 4 × 6 → 3 × 5 × 3 → 2 × 4 × 2
      new ConvTranspose2d(2, 2, [3, 2], { stride: [2, 3], padding: [2, 0], outputPadding: [1, 2] }),   // → 2 × 6 × 7
      new ConvTranspose2d(2, 1, 2, { padding: 2 }), new Dense(1 * 3 * 4, 3),    // → 1 × 3 × 4; padding > kernel − 1: a crop
    ], { engine, dtype, seed: 3 });
    const x = new Matrix(5, 84, randomArray(5 * 84, 9, dtype === 'float32' ? Float32Array : Float64Array));
    const session = await ort.InferenceSession.create(io.exportOnnxBuffer(m));
    const out = await session.run({ input: new ort.Tensor(dtype, x.data, [5, 84]) });
    expect(maxRelDiff(out['output']!.data as Float32Array, m.predict(x).data)).toBeLessThan(dtype === 'float32' ? 2e-6 : 1e-12);
  });

  it('learns the bundled digits (8×8 images): test accuracy ≥ 95 %', async () => {
    const d = loadSplit('digits');
    const m = new Sequential([
      new Conv2d(1, 8, 3, { inputSize: 8, padding: 1, activation: 'relu' }), new MaxPool2d(2),
      new Conv2d(8, 16, 3, { padding: 1, activation: 'relu' }), new MaxPool2d(2), new Dense(64, 10),
    ], { engine, seed: 7 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 3e-3 }), metrics: ['accuracy'] });
    await m.fit(d.trainX, d.trainY, { epochs: 15, batchSize: 32, verbose: 0 });
    expect(m.evaluate(d.testX, d.testY)['accuracy']).toBeGreaterThanOrEqual(0.95);
  });
});

describe('both engines agree on a CNN', () => {
  it('predict and ten training steps to 1e-5', () => {
    const [a, b] = (['native', 'js'] as const).map((engine) => {
      const m = torchCnn(engine, 'float32');
      m.setWeights(fixture.initial);
      m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
      return m;
    }) as [Sequential, Sequential];
    const x = new Matrix(24, 96, Float32Array.from(fixture.x));
    const y = Int32Array.from(fixture.y);
    for (let i = 0; i < 10; i++) expect(Math.abs(a.trainStep(x, y) - b.trainStep(x, y))).toBeLessThan(1e-5);
    expect(maxRelDiff(a.predict(x).data, b.predict(x).data)).toBeLessThan(1e-5);
  });

  it('the autoencoder with a ConvTranspose2d: predict and ten training steps to 1e-5', () => {
    const [a, b] = (['native', 'js'] as const).map((engine) => {
      const m = autoencoder(engine, 'float32');
      m.setWeights(fixture.autoencoder.initial);
      m.compile({ loss: 'mse', optimizer: 'adam' });
      return m;
    }) as [Sequential, Sequential];
    const x = new Matrix(24, 36, Float32Array.from(fixture.autoencoder.x));
    for (let i = 0; i < 10; i++) expect(Math.abs(a.trainStep(x, x) - b.trainStep(x, x))).toBeLessThan(1e-5);
    expect(maxRelDiff(a.predict(x).data, b.predict(x).data)).toBeLessThan(1e-5);
  });
});
