// Model files: save/load, toBuffer/fromBuffer, toJSON/fromJSON round trips in
// both engines and dtypes, resuming training from a saved optimizer state,
// atomic writes, configs, and argument validation.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Activation, BatchNorm1d, Dense, Layer, Matrix, Sequential, io, layerFromConfig, losses, optim,
  type Dtype,
} from '../lib';
import { ENGINES, engine, randomArray } from './helpers';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-io-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const X = new Matrix(12, 5, randomArray(60, 9, Float64Array) as Float64Array);
const Y = Int32Array.from({ length: 12 }, (_, i) => i % 3);

function net(engineName: 'native' | 'js', dtype: Dtype, seed = 4) {
  return new Sequential([
    new Dense(5, 8, { activation: 'relu' }),
    new Activation('tanh'),
    new Dense(8, 6, { activation: 'sigmoid', biasInit: 0.1 }),
    new Dense(6, 3, { activation: 'log-softmax', weightInit: 'xavier-normal' }),
  ], { engine: engineName, seed, dtype });
}

function trained(engineName: 'native' | 'js', dtype: Dtype, optimizer: optim.Optimizer = new optim.Adam({ lr: 0.05 })) {
  const m = net(engineName, dtype);
  m.compile({ loss: 'cross-entropy', optimizer, metrics: ['accuracy'] });
  for (let i = 0; i < 3; i++) m.trainStep(X, Y);
  return m;
}

const arrays = (w: Record<string, ArrayLike<number>>) =>
  Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Array.from(v)]));

describe.each(ENGINES)('model files (%s engine)', (engineName) => {
  describe.each(['float32', 'float64'] as const)('%s', (dtype) => {
    it('save → load predicts bit-identically and keeps architecture, weights and compile settings', async () => {
      const m = trained(engineName, dtype);
      const file = path.join(dir, `${engineName}-${dtype}.safetensors`);
      await m.save(file);
      const back = await Sequential.load(file, { engine: engineName });
      expect(back.engine).toBe(engineName);
      expect(back.dtype).toBe(dtype);
      expect(back.seed).toBe(m.seed);
      expect(back.summary()).toBe(m.summary());
      expect(back.layerConfigs()).toEqual(m.layerConfigs());
      expect(arrays(back.getWeights())).toEqual(arrays(m.getWeights()));
      expect(back.predict(X).data).toEqual(m.predict(X).data);
      // Compiled with the same loss and metrics: evaluate works and agrees.
      expect(back.evaluate(X, Y)).toEqual(m.evaluate(X, Y));
    });

    it('toBuffer/fromBuffer and toJSON/fromJSON (through a JSON string) are the same round trip', () => {
      const m = trained(engineName, dtype);
      const fromBuf = Sequential.fromBuffer(m.toBuffer(), { engine: engineName });
      expect(fromBuf.predict(X).data).toEqual(m.predict(X).data);
      const text = JSON.stringify(m);  // calls model.toJSON(key)
      const obj = JSON.parse(text) as io.ModelJSON;
      expect(obj.format).toBe('fastmlp');
      expect(obj.version).toBe(io.FORMAT_VERSION);
      expect(obj.architecture.layers[0]).toEqual({ type: 'Dense', inFeatures: 5, outFeatures: 8, activation: 'relu', weightInit: { type: 'he-normal' }, biasInit: { type: 'zeros' } });
      const fromJson = Sequential.fromJSON(obj, { engine: engineName });
      expect(fromJson.predict(X).data).toEqual(m.predict(X).data);
      expect(fromJson.evaluate(X, Y)).toEqual(m.evaluate(X, Y));
    });

    it('batch norm: its running statistics are stored and restored, so the loaded model predicts as the saved one', async () => {
      const m = new Sequential([new Dense(5, 8, { activation: 'relu' }), new BatchNorm1d(8), new Dense(8, 3)],
        { engine: engineName, seed: 2, dtype });
      m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.05 }) });
      for (let i = 0; i < 3; i++) m.trainStep(X, Y);
      const stats = arrays(m.getWeights());
      expect(stats['1.running_mean']!.some((v) => v !== 0)).toBe(true);  // training moved them off their start
      const file = path.join(dir, `bn-${engineName}-${dtype}.safetensors`);
      await m.save(file);
      for (const back of [await Sequential.load(file, { engine: engineName }),
        Sequential.fromBuffer(m.toBuffer(), { engine: engineName }),
        Sequential.fromJSON(JSON.parse(JSON.stringify(m)) as io.ModelJSON, { engine: engineName })]) {
        expect(arrays(back.getWeights())).toEqual(stats);
        expect(back.predict(X).data).toEqual(m.predict(X).data);
      }
    });

    it.each([
      ['Adam', () => new optim.Adam({ lr: 0.02, betas: [0.8, 0.99] })],
      ['AdamW', () => new optim.AdamW({ lr: 0.02 })],
      ['SGD with Nesterov momentum', () => new optim.SGD({ lr: 0.1, momentum: 0.9, nesterov: true })],
    ])('includeOptimizer resumes %s training exactly (and without it, it does not)', (_name, makeOpt) => {
      const original = trained(engineName, dtype, makeOpt());
      const withState = Sequential.fromBuffer(original.toBuffer({ includeOptimizer: true }), { engine: engineName });
      const withoutState = Sequential.fromBuffer(original.toBuffer(), { engine: engineName });
      for (let i = 0; i < 3; i++) {
        const a = original.trainStep(X, Y);
        const b = withState.trainStep(X, Y);
        expect(b).toBe(a);
        withoutState.trainStep(X, Y);
      }
      expect(arrays(withState.getWeights())).toEqual(arrays(original.getWeights()));
      expect(arrays(withoutState.getWeights())).not.toEqual(arrays(original.getWeights()));
    });

    it('includeOptimizer resumes fit with shuffling exactly (the shuffle generator is saved too)', async () => {
      const m = net(engineName, dtype);
      m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.02 }) });
      await m.fit(X, Y, { epochs: 2, batchSize: 4, shuffle: true });
      const resumed = Sequential.fromBuffer(m.toBuffer({ includeOptimizer: true }), { engine: engineName });
      const a = await m.fit(X, Y, { epochs: 2, batchSize: 4, shuffle: true });
      const b = await resumed.fit(X, Y, { epochs: 2, batchSize: 4, shuffle: true });
      expect(b.history).toEqual(a.history);
      expect(arrays(resumed.getWeights())).toEqual(arrays(m.getWeights()));
    });

    it('keeps a learning rate changed after compile (as a schedule would)', () => {
      const opt = new optim.Adam({ lr: 0.05 });
      const m = trained(engineName, dtype, opt);
      opt.lr = 0.003;
      const json = m.toJSON({ includeOptimizer: true });
      expect(json.compile?.optimizer).toEqual({ name: 'adam', options: { lr: 0.003 } });
      expect(json.optimizerSteps).toBe(3);
    });
  });

  it('loads a file saved by the other engine with bit-identical weights', async () => {
    const other = engineName === 'native' ? 'js' : 'native';
    const m = trained(other, 'float64');
    const back = Sequential.fromBuffer(m.toBuffer(), { engine: engineName });
    expect(back.engine).toBe(engineName);
    expect(arrays(back.getWeights())).toEqual(arrays(m.getWeights()));
    const a = back.predict(X).data;
    const b = m.predict(X).data;
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 12);
  });

  it('a model with a custom loss saves its weights, warns that the loss is not saved, and refuses includeOptimizer', () => {
    const m = net(engineName, 'float32');
    const custom = { forward: (p: Matrix) => p.data[0]!, backward: (p: Matrix) => new Matrix(p.rows, p.cols) };
    m.compile({ loss: custom, optimizer: 'sgd' });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const back = Sequential.fromBuffer(m.toBuffer(), { engine: engineName });
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('custom loss, which cannot be saved'), expect.anything());
      expect(back.predict(X).data).toEqual(m.predict(X).data);
      expect(() => back.trainStep(X, Y)).toThrow(/compile/);
    } finally {
      warn.mockRestore();
    }
    expect(() => m.toBuffer({ includeOptimizer: true })).toThrow(/custom loss cannot be saved for resuming/);
  });

  it('refuses to save while fit runs (the parameters are changing)', async () => {
    const m = trained(engineName, 'float32');
    const fitting = m.fit(X, Y, { epochs: 2, batchSize: 2 });
    expect(() => m.toBuffer()).toThrow(/Sequential.toBuffer: the model is training/);
    await expect(m.save(path.join(dir, 'busy.safetensors'))).rejects.toThrow(/Sequential.save: the model is training/);
    await fitting;
    expect(Sequential.fromBuffer(m.toBuffer(), { engine: engineName }).predict(X).data).toEqual(m.predict(X).data);
  });

  it('an uncompiled model saves and loads uncompiled; includeOptimizer needs compile', () => {
    const m = net(engineName, 'float32');
    const back = Sequential.fromBuffer(m.toBuffer(), { engine: engineName });
    expect(back.toJSON().compile).toBeNull();
    expect(() => back.evaluate(X, Y)).toThrow(/compile/);
    expect(() => m.toBuffer({ includeOptimizer: true })).toThrow(/call compile\(\)/);
  });

  it('plans get and set the flat optimizer state and step count, and check both', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const plan = engine(engineName).createPlan({ dtype, layers: [{ kind: 'dense', inFeatures: 3, outFeatures: 2 }], maxBatch: 4 });
      expect(plan.optimizerStateSize).toBe(0);  // SGD without momentum keeps no state
      plan.setOptimizer({ kind: 'adam', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      expect(plan.optimizerStateSize).toBe(2 * plan.paramCount);  // Adam: m and v
      const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
      const state = Ctor.from({ length: plan.optimizerStateSize }, (_, i) => i / 7);
      plan.setOptimizerState(state, 41);
      expect(plan.stepCount).toBe(41);
      const out = new Ctor(plan.optimizerStateSize);
      plan.getOptimizerState(out);
      expect(out).toEqual(state);
      expect(() => plan.setOptimizerState(new Ctor(3), 1)).toThrow(RangeError);
      expect(() => plan.getOptimizerState(new Ctor(plan.optimizerStateSize + 1))).toThrow(RangeError);
      expect(() => plan.setOptimizerState(state, -1)).toThrow(RangeError);
      expect(() => plan.setOptimizerState(state, 1.5)).toThrow(RangeError);
      expect(plan.stepCount).toBe(41);  // the refused calls changed nothing
    }
  });
});

describe('engine parity', () => {
  it.each(['float32', 'float64'] as const)('the same seeded model writes byte-identical files and ONNX graphs in both engines (%s)', (dtype) => {
    const native = net('native', dtype, 77);
    const js = net('js', dtype, 77);
    expect(native.toBuffer().equals(js.toBuffer())).toBe(true);
    expect(io.exportOnnxBuffer(native).equals(io.exportOnnxBuffer(js))).toBe(true);
    expect(native.toJSON()).toEqual(js.toJSON());
  });

  it('a trained model moved between engines keeps its optimizer state and trains on alike', () => {
    const native = trained('native', 'float64');
    const js = Sequential.fromBuffer(native.toBuffer({ includeOptimizer: true }), { engine: 'js' });
    for (let i = 0; i < 3; i++) expect(js.trainStep(X, Y)).toBeCloseTo(native.trainStep(X, Y), 12);
    const a = js.getWeights();
    const b = native.getWeights();
    for (const k of Object.keys(a)) for (let i = 0; i < a[k]!.length; i++) expect(a[k]![i]).toBeCloseTo(b[k]![i]!, 10);
  });

  it('the native binding re-checks the optimizer-state arguments itself', () => {
    const plan = engine('native').createPlan({ dtype: 'float32', layers: [{ kind: 'dense', inFeatures: 2, outFeatures: 2 }], maxBatch: 2 });
    expect(() => plan.getOptimizerState(new Float64Array(0))).toThrow(/Expected a Float32Array for out but received Float64Array/);
    expect(() => plan.setOptimizerState([] as unknown as Float32Array, 0)).toThrow(TypeError);
    expect(() => plan.setOptimizerState(new Float32Array(0), 'x' as unknown as number)).toThrow(/for stepCount/);
    expect(() => plan.setOptimizerState(new Float32Array(0), 2 ** 60)).toThrow(RangeError);
  });
});

describe('saving is atomic', () => {
  it('replaces an existing file and leaves no temporary file behind', async () => {
    const file = path.join(dir, 'atomic.safetensors');
    await writeFile(file, 'old contents');
    const m = net('js', 'float32');
    await m.save(file);
    expect((await readFile(file)).equals(m.toBuffer())).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('a failed save (missing directory) rejects and leaves nothing behind', async () => {
    const m = net('js', 'float32');
    await expect(m.save(path.join(dir, 'no-such-dir', 'm.safetensors'))).rejects.toThrow(/ENOENT/);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe.each(ENGINES)('file-system errors name the caller\'s path (%s engine)', (engineName) => {
  it('save to a missing directory, to a directory, under a file; load of a directory or a missing file', async () => {
    const m = net(engineName, 'float32');
    const file = path.join(dir, `plain-${engineName}.safetensors`);
    await writeFile(file, 'x');
    const cases: [() => Promise<unknown>, string, string, string][] = [
      [() => m.save(path.join(dir, 'no-such-dir', 'm.safetensors')), 'ENOENT', 'write', path.join(dir, 'no-such-dir', 'm.safetensors')],
      [() => m.save(dir), 'EISDIR', 'write', dir],
      [() => m.save(path.join(file, 'm.safetensors')), 'ENOTDIR', 'write', path.join(file, 'm.safetensors')],
      [() => Sequential.load(dir, { engine: engineName }), 'EISDIR', 'read', dir],
      [() => io.readWeights(dir), 'EISDIR', 'read', dir],
      [() => io.readModelInfo(path.join(dir, 'missing.safetensors')), 'ENOENT', 'read', path.join(dir, 'missing.safetensors')],
    ];
    for (const [call, code, action, where] of cases) {
      const e = await call().then(() => null, (err: NodeJS.ErrnoException) => err);
      expect(e).toBeInstanceOf(Error);
      expect(e!.code).toBe(code);
      expect(e!.path).toBe(where);
      // "EISDIR: cannot write '<dir>': ...": the path given, never the temporary file's name.
      expect(e!.message.startsWith(`${code}: cannot ${action} '${where}': `)).toBe(true);
      expect(e!.message).not.toMatch(/\.tmp/);
    }
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe.each(ENGINES)('paths as file: URLs, as ESM code writes them (%s engine)', (engineName) => {
  it('save, load, readModelInfo, readWeights and exportOnnx take a URL', async () => {
    const m = net(engineName, 'float32');
    m.compile({ loss: 'mse' });
    const url = pathToFileURL(path.join(dir, `url model ${engineName}.safetensors`));
    await m.save(url, { metadata: { via: 'url' } });
    const loaded = await Sequential.load(url, { engine: engineName });
    expect(Array.from(loaded.predict(X).data)).toEqual(Array.from(m.predict(X).data));
    expect((await io.readModelInfo(url)).metadata).toEqual({ via: 'url' });
    expect(Object.keys(await io.readWeights(url))).toEqual(Object.keys(m.getWeights()));
    const onnx = pathToFileURL(path.join(dir, `url model ${engineName}.onnx`));
    await io.exportOnnx(m, onnx);
    expect((await readFile(fileURLToPath(onnx))).equals(io.exportOnnxBuffer(m))).toBe(true);
  });
});

describe('configs and registries', () => {
  it('layerFromConfig rebuilds each layer from getConfig and refuses unknown types and options', () => {
    for (const layer of [new Dense(3, 4, { activation: 'tanh', biasInit: 0.5 }), new Activation('softmax')]) {
      const copy = layerFromConfig(JSON.parse(JSON.stringify(layer.getConfig())));
      expect(copy.getConfig()).toEqual(layer.getConfig());
      expect(copy.describe()).toBe(layer.describe());
    }
    expect(() => layerFromConfig({ type: 'Conv3d' })).toThrow(/Expected a known layer type .* but received 'Conv3d'/);
    expect(() => layerFromConfig('Dense')).toThrow(TypeError);
    expect(() => layerFromConfig({ type: 'Dense', inFeatures: 3, outFeatures: 4, colour: 'red' })).toThrow(/Unknown option 'colour'/);
    expect(() => layerFromConfig({ type: 'Dense', inFeatures: -3, outFeatures: 4 })).toThrow(RangeError);
    expect(() => layerFromConfig({ type: 'Activation', activation: 'relu', alpha: 1 })).toThrow(/Unknown option 'alpha'/);
  });

  it('a layer class without getConfig cannot be saved, with an error naming it', () => {
    class Doubler extends Layer {
      toSpecs() { return []; }
      outFeatures(n: number) { return n; }
      describe() { return 'Doubler()'; }
    }
    const m = new Sequential([new Dense(2, 2), new Doubler()], { engine: 'js' });
    expect(() => m.toBuffer()).toThrow(/Doubler\(\) cannot be serialised/);
  });

  it('optimizers and losses report their name and options and rebuild from them', () => {
    const adam = new optim.Adam({ lr: 0.01, betas: [0.5, 0.6], eps: 1e-6, weightDecay: 0.1 });
    expect(adam.getConfig()).toEqual({ name: 'adam', options: { lr: 0.01, betas: [0.5, 0.6], eps: 1e-6, weightDecay: 0.1 } });
    expect(optim.optimizerFromConfig(adam.getConfig()).toSpec()).toEqual(adam.toSpec());
    const adamw = new optim.AdamW();
    expect(adamw.getConfig()).toEqual({ name: 'adamw', options: { lr: 1e-3 } });
    expect(optim.optimizerFromConfig(adamw.getConfig()).toSpec()).toEqual(adamw.toSpec());
    const sgd = new optim.SGD({ momentum: 0.5 });
    expect(optim.optimizerFromConfig(sgd.getConfig()).toSpec()).toEqual(sgd.toSpec());
    expect(() => optim.optimizerFromConfig({ name: 'lbfgs', options: {} })).toThrow(/known optimizer .* 'lbfgs'/);

    const ce = losses.create('cross-entropy', { labelSmoothing: 0.1, engine: 'js' });
    expect(ce.getConfig()).toEqual({ name: 'cross-entropy', options: { labelSmoothing: 0.1 } });
    expect(losses.lossFromConfig(ce.getConfig()).spec).toEqual(ce.spec);
    expect(() => losses.lossFromConfig({ name: 'nope', options: {} })).toThrow(RangeError);
  });
});

describe('argument validation', () => {
  const m = net('js', 'float32');
  it('save, toBuffer and toJSON check their options and path', async () => {
    await expect(m.save(42 as unknown as string)).rejects.toThrow(/Expected a non-empty file path string or file: URL for path but received 42/);
    await expect(m.save(new URL('https://example.com/m.safetensors'))).rejects.toThrow(/Expected a file: URL for path but received 'https:/);
    await expect(m.save('')).rejects.toThrow(TypeError);
    expect(() => m.toBuffer({ includeOptimiser: true } as never)).toThrow(/Unknown option 'includeOptimiser'/);
    expect(() => m.toBuffer({ includeOptimizer: 'yes' } as never)).toThrow(/Expected a boolean for includeOptimizer/);
    expect(() => m.toJSON(7 as never)).toThrow(TypeError);
  });

  it('load, fromBuffer and fromJSON check their arguments', async () => {
    await expect(Sequential.load(undefined as unknown as string)).rejects.toThrow(TypeError);
    await expect(Sequential.load(path.join(dir, 'missing.safetensors'))).rejects.toThrow(/ENOENT/);
    expect(() => Sequential.fromBuffer('abc' as never)).toThrow(/Expected a Buffer or Uint8Array for buf but received 'abc'/);
    expect(() => Sequential.fromBuffer(m.toBuffer(), { engine: 'gpu' } as never)).toThrow(/Expected one of 'native', 'js', 'auto' for engine/);
    expect(() => Sequential.fromJSON(null)).toThrow(TypeError);
    expect(() => Sequential.fromJSON({ format: 'keras' })).toThrow(/not a fastmlp model/);
  });
});
