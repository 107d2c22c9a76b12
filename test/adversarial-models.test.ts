// An adversarial audit's regression tests for what describes a model: model
// files edited with a recomputed checksum, and custom layers whose
// descriptions contradict themselves. Each case failed before its fix.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, lstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dense, Layer, Matrix, Sequential, io, layerFromConfig, losses, models, optim, registerLayer, type LayerSpec, type ParamShape } from '../lib';
import { ENGINES } from './helpers';

/** Splits a model file into its header object and (a copy of) its data section. */
function split(buf: Buffer): { header: Record<string, any>; data: Buffer } {
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.toString('utf8', 8, 8 + n)), data: Buffer.from(buf.subarray(8 + n)) };
}

/** Reassembles a file with its checksum recomputed, as anyone editing one can. */
function join(header: Record<string, any>, data: Buffer): Buffer {
  header.__metadata__['fastmlp.checksum'] = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

const X = [[1, 2, 3], [0, -1, 2], [2, 0, 1], [-1, 1, 0]];
const Y = [0, 1, 1, 0];

/** A trained model's file with its optimizer state, and a way to edit one value of that state. */
function savedWith(engine: 'native' | 'js', optimizer: optim.Optimizer) {
  const m = new Sequential([new Dense(3, 4, { activation: 'relu' }), new Dense(4, 2)], { engine, seed: 3 });
  m.compile({ loss: 'cross-entropy', optimizer });
  m.trainStep(X, Y);
  const file = m.toBuffer({ includeOptimizer: true });
  const paramCount = m.paramCount;
  m.dispose();
  return {
    paramCount,
    /** The file with state[index] = value (its checksum recomputed). */
    edited(index: number, value: number): Buffer {
      const { header, data } = split(file);
      const [begin] = header['optimizer_state'].data_offsets as [number, number];
      new Float32Array(data.buffer, data.byteOffset + begin + 4 * index, 1)[0] = value;
      return join(header, data);
    },
  };
}

function refusal(buf: Buffer, engine: 'native' | 'js'): Error & { code?: string } {
  try {
    Sequential.fromBuffer(buf, { engine }).dispose();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the file to be refused');
}

describe.each(ENGINES)('a model file whose optimizer state was edited, checksum recomputed (%s engine)', (engine) => {
  // Before: these loaded, and the first training step failed with "the
  // optimizer's update overflowed ... though its loss, gradients and statistics were finite".
  it.each([
    ['adam', () => new optim.Adam(), 1, 'exp_avg_sq'],
    ['adam amsgrad', () => new optim.Adam({ amsgrad: true }), 2, 'max_exp_avg_sq'],
    ['adamw', () => new optim.AdamW(), 1, 'exp_avg_sq'],
    ['rmsprop', () => new optim.RMSprop(), 0, 'square_avg'],
    ['adagrad', () => new optim.Adagrad(), 0, 'sum'],
  ] as const)('%s: NaN anywhere, or a negative squared-gradient accumulator, is refused naming the value', (_name, make, slice, sliceName) => {
    const saved = savedWith(engine, make());
    const at = slice * saved.paramCount + 5;
    const nan = refusal(saved.edited(at, Number.NaN), engine);
    expect(nan).toBeInstanceOf(io.ModelFileError);
    expect(nan.message).toMatch(new RegExp(`finite values for the optimizer state but received NaN at index ${at}`));
    const negative = refusal(saved.edited(at, -0.5), engine);
    expect(negative).toBeInstanceOf(io.ModelFileError);
    expect(negative.message).toMatch(new RegExp(`≥ 0 for the optimizer state's ${sliceName} .* received -0.5 at index 5 of it`));
    // A negative first moment (or momentum) is a state training can write: it loads and trains.
    if (slice > 0) {
      const loaded = Sequential.fromBuffer(saved.edited(5, -0.5), { engine });
      expect(Number.isFinite(loaded.trainStep(X, Y))).toBe(true);
      loaded.dispose();
    }
  });

  it('sgd with momentum: a NaN velocity is refused, a negative one loads', () => {
    const saved = savedWith(engine, new optim.SGD({ lr: 0.1, momentum: 0.9 }));
    expect(refusal(saved.edited(7, Number.POSITIVE_INFINITY), engine).message)
      .toMatch(/finite values for the optimizer state but received Infinity at index 7/);
    const loaded = Sequential.fromBuffer(saved.edited(7, -0.5), { engine });
    expect(Number.isFinite(loaded.trainStep(X, Y))).toBe(true);
    loaded.dispose();
  });
});

/** A custom layer of one width-preserving op whose parameter and buffer descriptions are given, right or wrong. */
class Described extends Layer {
  constructor(private readonly ops: LayerSpec[], private readonly tensors: ParamShape[], private readonly stats: ParamShape[] = []) {
    super();
  }
  toSpecs(): LayerSpec[] { return this.ops; }
  outFeatures(n: number): number { return n; }
  override params(): ParamShape[] { return this.tensors; }
  override buffers(): ParamShape[] { return this.stats; }
  override get inFeatures(): number { return 4; }
  describe(): string { return 'Described()'; }
}

const DENSE: LayerSpec = { kind: 'dense', inFeatures: 4, outFeatures: 4 };
const BATCH_NORM: LayerSpec = { kind: 'batchnorm', numFeatures: 4, eps: 1e-5, momentum: 0.1, affine: false };

function constructionError(layer: Layer, engine: 'native' | 'js'): Error & { code?: string } {
  try {
    new Sequential([layer, new Dense(4, 2)], { engine, seed: 1 }).dispose();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected new Sequential to throw');
}

describe.each(ENGINES)('a custom layer whose params() or buffers() contradict its ops (%s engine)', (engine) => {
  it.each([
    // Before: getWeights kept one of the two, and setWeights refused getWeights' own output.
    ['two tensors of one name', new Described([DENSE], [{ name: 'w', shape: [4, 4] }, { name: 'w', shape: [4] }]),
      RangeError, /distinct tensor names .* for layers\[0\]\.params\(\)\[1\]\.name but received 'w' again/],
    // Before: taken, as the product 16 was right; a saved file then held shape [-4, -4].
    ['a negative dimension', new Described([DENSE], [{ name: 'weight', shape: [-4, -4] }, { name: 'bias', shape: [4] }]),
      RangeError, /integers ≥ 0 for layers\[0\]\.params\(\)\[0\]\.shape/],
    ['a name that is not a string', new Described([DENSE], [{ name: 7 as never, shape: [4, 4] }, { name: 'bias', shape: [4] }]),
      TypeError, /non-empty string for layers\[0\]\.params\(\)\[0\]\.name/],
    // Before: "fastmlp internal error: plan has 30 parameters, layers describe 26" (a plain Error).
    ['fewer parameters than its ops have', new Described([DENSE], [{ name: 'weight', shape: [4, 4] }]),
      RangeError, /describe the 30 parameter and 0 buffer values of their ops \(toSpecs\(\)\) but they describe 26 and 0/],
    // Before: getWeights and save left out the running statistics: a loaded model predicted differently.
    ['batch norm statistics it does not declare', new Described([BATCH_NORM], []),
      RangeError, /describe the 10 parameter and 11 buffer values .* but they describe 10 and 0/],
    // Before: getWeights gave an empty running_mean, which setWeights then refused.
    ['a buffer its ops do not have', new Described([{ kind: 'activation', activation: 'relu' }], [], [{ name: 'running_mean', shape: [4] }]),
      RangeError, /describe the 10 parameter and 0 buffer values .* but they describe 10 and 4/],
  ] as const)('%s: new Sequential throws, naming it', (_case, layer, kind, message) => {
    const e = constructionError(layer, engine);
    expect(e).toBeInstanceOf(kind);
    expect(e.code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });

  it('a custom layer that describes its ops rightly still builds, trains and round-trips its weights', () => {
    const m = new Sequential([new Described([BATCH_NORM], [], [
      { name: 'running_mean', shape: [4] }, { name: 'running_var', shape: [4] }, { name: 'num_batches_tracked', shape: [] },
    ]), new Dense(4, 2)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    expect(Number.isFinite(m.trainStep([[1, 2, 3, 4], [0, 1, 0, 1], [2, 2, 1, 0]], [0, 1, 1]))).toBe(true);
    const w = m.getWeights();
    expect(Object.keys(w)).toEqual(['0.running_mean', '0.running_var', '0.num_batches_tracked', '1.weight', '1.bias']);
    expect(w['0.num_batches_tracked']![0]).toBe(1);
    m.setWeights(w);
    m.dispose();
  });
});

describe('registerLayer and optim.registerOptimizer check what they are given, and what it makes', () => {
  // Before: both registries took anything; a bad entry surfaced only when a
  // config or file used it, as a bare TypeError ("factory is not a function",
  // "layer.params is not a function") out of Sequential.fromJSON or load.
  it('refuse a type or name that is not a non-empty string, and a factory that is not a function', () => {
    for (const call of [() => registerLayer(5 as never, () => new Dense(1, 1)), () => registerLayer('', () => new Dense(1, 1)),
      () => optim.registerOptimizer(null as never, () => new optim.SGD())]) {
      expect(call).toThrow(TypeError);
      expect(call).toThrow(/non-empty .* for (type|name) but received/);
    }
    expect(() => registerLayer('AuditNotAFunction', 'layer' as never)).toThrow(/function from a layer config to a Layer for fromConfig/);
    expect(() => optim.registerOptimizer('audit-not-a-function', {} as never)).toThrow(/function from options to an Optimizer for factory/);
  });

  it.each(ENGINES)('a factory that returns something else: configs and files using it are refused naming it (%s engine)', (engine) => {
    registerLayer('AuditNotALayer', () => ({}) as never);
    optim.registerOptimizer('audit-not-an-optimizer', () => ({}) as never);
    expect(() => layerFromConfig({ type: 'AuditNotALayer' })).toThrow(/Expected a Layer for the result of registerLayer\('AuditNotALayer'\)'s fromConfig/);
    expect(() => optim.optimizerFromConfig({ name: 'audit-not-an-optimizer', options: {} }))
      .toThrow(/Expected an Optimizer for the result of registerOptimizer\('audit-not-an-optimizer'\)'s factory/);
    const model = new Sequential([new Dense(2, 2)], { engine, seed: 1 });
    model.compile({ loss: 'mse', optimizer: 'sgd' });
    const json = model.toJSON();
    model.dispose();
    const withLayer = { ...json, architecture: { ...json.architecture, layers: [...json.architecture.layers, { type: 'AuditNotALayer' }] } };
    expect(() => Sequential.fromJSON(withLayer, { engine })).toThrow(io.ModelFileError);
    expect(() => Sequential.fromJSON(withLayer, { engine })).toThrow(/cannot build: Expected a Layer for the result of registerLayer/);
    const withOptimizer = { ...json, compile: { ...json.compile!, optimizer: { name: 'audit-not-an-optimizer', options: {} } } };
    expect(() => Sequential.fromJSON(withOptimizer, { engine })).toThrow(/compile settings fastmlp cannot use: Expected an Optimizer/);
  });
});

describe('saving to or loading from a path that is not a regular file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fastmlp-audit-'));
  const fifos: string[] = [];
  const makeFifo = (name: string): string => {
    const fifo = path.join(dir, name);
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    return fifo;
  };
  afterAll(() => {
    // A reader still blocked in open() (the bug below) is let go by a writer's open.
    for (const fifo of fifos) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting: nothing to release
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  // Before: the atomic save renamed its new file over whatever the path named.
  // Run as root, model.save('/dev/null') replaced the system's /dev/null with a
  // model file (found by this audit; a FIFO stands in for the device here).
  it.each(ENGINES)('refuses a FIFO with a RangeError naming the path, and leaves it a FIFO (%s engine)', async (engine) => {
    const fifo = makeFifo(`${engine}.safetensors`);
    const model = new Sequential([new Dense(2, 2)], { engine, seed: 1 });
    for (const save of [() => model.save(fifo), () => io.exportOnnx(model, fifo)]) {
      const e = await save().then(() => null, (err: unknown) => err as Error & { code?: string });
      expect(e).toBeInstanceOf(RangeError);
      expect(e!.code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
      expect(e!.message).toMatch(/regular file .* for path but received '.*', a FIFO/);
      expect(lstatSync(fifo).isFIFO()).toBe(true);
    }
    model.dispose();
  });

  // Before: open() of a FIFO blocks until a writer comes, so each of these held
  // one of libuv's four pool threads for good (and with them the native
  // engine's workers) and never settled.
  it.each(ENGINES)('loading from a FIFO rejects at once with a RangeError naming the path (%s engine)', async (engine) => {
    const fifo = makeFifo(`load-${engine}.safetensors`);
    const loads: [string, () => Promise<unknown>][] = [
      ['Sequential.load', () => Sequential.load(fifo, { engine })], ['io.readWeights', () => io.readWeights(fifo)],
      ['io.readModelInfo', () => io.readModelInfo(fifo)], ['models.load', () => models.load(fifo)],
    ];
    for (const [, load] of loads) {
      const hung = new Promise((resolve) => setTimeout(resolve, 2000, 'still pending after 2 s'));
      const outcome = await Promise.race([load().then(() => 'loaded', (err: unknown) => err), hung]);
      expect(outcome).toBeInstanceOf(RangeError);
      expect((outcome as { code?: string }).code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
      expect((outcome as Error).message).toMatch(/regular file for path but received '.*', a FIFO/);
    }
  });
});

describe.each(ENGINES)('a NaN prediction under the piecewise losses (%s engine)', (engine) => {
  // Before: quantile (pinball) fell through to its kink's 0 and hinge /
  // squared-hinge to their flat 0, so a NaN prediction scored a finite loss —
  // evaluate hid a model that predicted NaN. NaN now propagates, as
  // torch.clamp / torch.maximum give; finite predictions score as before.
  it.each([['quantile', [0.5, 0.5, 0.5]], ['pinball', [0.5, 0.5, 0.5]], ['hinge', [1, 1, -1]], ['squared-hinge', [1, 1, -1]]] as const)(
    '%s: forward, backward and per-value losses are NaN where the prediction is', (name, target) => {
      const loss = losses.create(name, { engine });
      const t = new Matrix(1, 3, Float32Array.from(target));
      const nan = new Matrix(1, 3, Float32Array.from([Number.NaN, 0.3, 0.5]));
      expect(loss.forward(nan, t)).toBeNaN();
      const grad = loss.backward(nan, t).data;
      expect(grad[0]).toBeNaN();
      expect(Array.from(grad.subarray(1)).every(Number.isFinite)).toBe(true);
      const none = losses.create(name, { engine, reduction: 'none' }).forward(nan, t);
      expect(none[0]).toBeNaN();
      expect(Number.isFinite(loss.forward(new Matrix(1, 3, Float32Array.from([0.5, 0.3, 0.5])), t))).toBe(true);
    });

  it('evaluate no longer scores a model whose outputs overflow to NaN with a finite quantile loss', () => {
    const model = new Sequential([new Dense(1, 1), new Dense(1, 1)], { engine, seed: 1 });
    model.compile({ loss: 'quantile', optimizer: 'sgd' });
    // Finite weights: 3e38·2 overflows float32 to +Inf in the first layer, and the second's 0·Inf is NaN.
    model.setWeights({ '0.weight': new Float32Array([3e38]), '0.bias': new Float32Array([0]),
      '1.weight': new Float32Array([0]), '1.bias': new Float32Array([0]) });
    const x = [[2], [0]];
    expect(model.predict(x).data[0]).toBeNaN();
    expect(model.evaluate(x, [[1], [1]]).loss).toBeNaN();
    model.dispose();
  });
});
