// Saving and loading the classic models (models.*): toJSON/fromJSON,
// toBuffer/fromBuffer and save/load round trips in both engines and dtypes,
// bit-identical predictions after a load (also across engines), unfitted
// models, refusal of Sequential files and vice versa, and bad input.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dense, Sequential, io, models } from '../lib';
import { gaussianSource } from './datasets';
import { ENGINES, maxRelDiff } from './helpers';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-classic-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

type EngineName = 'native' | 'js';
type Dtype = 'float32' | 'float64';

const g = gaussianSource(31);
const X = Array.from({ length: 60 }, () => [g(), g(), g()]);
const XTEST = Array.from({ length: 25 }, () => [g(), g(), g()]);
const BINARY = X.map((r) => (r[0]! - 0.5 * r[1]! + 0.3 * g() > 0 ? 1 : 0));
const CLASSES = X.map((r) => (r[0]! > 0.4 ? 2 : r[1]! > 0 ? 1 : 0));
const REAL = X.map((r) => Math.tanh(r[0]! - r[2]!) + 0.3 * (r[1]! + r[2]!) ** 2 + 0.05 * g());

/** A fitted model of each kind, and what its outputs are (as raw bytes: bit-exact comparisons). */
interface Case {
  name: string;
  make: (engine: EngineName, dtype: Dtype) => models.ClassicModel;
  fit: (m: models.ClassicModel) => void;
  outputs: (m: models.ClassicModel) => ArrayLike<number>[];
}

const CASES: Case[] = [
  {
    name: 'Perceptron',
    make: (engine, dtype) => new models.Perceptron({ engine, dtype, lr: 0.3, maxEpochs: 7, shuffle: true, seed: 3 }),
    fit: (m) => (m as models.Perceptron).fit(X, BINARY),
    outputs: (m) => [(m as models.Perceptron).decisionFunction(XTEST).data, (m as models.Perceptron).predict(XTEST)],
  },
  {
    name: 'Adaline',
    make: (engine, dtype) => new models.Adaline({ engine, dtype, lr: 0.02, maxEpochs: 15, threshold: 0.4 }),
    fit: (m) => (m as models.Adaline).fit(X, BINARY),
    outputs: (m) => [(m as models.Adaline).decisionFunction(XTEST).data, (m as models.Adaline).predict(XTEST)],
  },
  {
    name: 'LogisticRegression',
    make: (engine, dtype) => new models.LogisticRegression({ engine, dtype, lr: 0.4, epochs: 20, batchSize: 16, l2: 1e-3 }),
    fit: (m) => (m as models.LogisticRegression).fit(X, BINARY),
    outputs: (m) => [(m as models.LogisticRegression).predictProba(XTEST).data, (m as models.LogisticRegression).predict(XTEST)],
  },
  {
    name: 'SoftmaxRegression',
    make: (engine, dtype) => new models.SoftmaxRegression({ engine, dtype, lr: 0.4, epochs: 20, batchSize: 16, classes: 4 }),
    fit: (m) => (m as models.SoftmaxRegression).fit(X, CLASSES),
    outputs: (m) => [(m as models.SoftmaxRegression).predictProba(XTEST).data, (m as models.SoftmaxRegression).predict(XTEST)],
  },
  {
    name: 'ProjectionPursuitRegressor',
    make: (engine) => new models.ProjectionPursuitRegressor({ engine, terms: 2, maxIterations: 8, seed: 5 }),
    fit: (m) => (m as models.ProjectionPursuitRegressor).fit(X, REAL),
    outputs: (m) => [(m as models.ProjectionPursuitRegressor).predict(XTEST).data],
  },
];

const bytes = (a: ArrayLike<number>) => {
  const v = a as unknown as ArrayBufferView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
};
const sameBits = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => expect(b.map(bytes)).toEqual(a.map(bytes));

function fitted(c: Case, engine: EngineName, dtype: Dtype): models.ClassicModel {
  const m = c.make(engine, dtype);
  c.fit(m);
  return m;
}

/** Recomputes a toJSON object's checksum after a test edits its tensors (to reach the checks behind it). */
function reseal(obj: models.ClassicModelJSON): models.ClassicModelJSON {
  const hash = createHash('sha256');
  for (const t of obj.tensors) hash.update(Buffer.from(t.data, 'base64'));
  return { ...obj, checksum: 'sha256:' + hash.digest('hex') };
}

function encode(values: number[], dtype: Dtype): string {
  return Buffer.from((dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values)).buffer).toString('base64');
}

describe.each(ENGINES)('classic models saved and loaded on the %s engine', (engine) => {
  for (const c of CASES) {
    for (const dtype of (c.name === 'ProjectionPursuitRegressor' ? ['float64'] : ['float32', 'float64']) as Dtype[]) {
      it(`${c.name} (${dtype}): JSON, bytes and file give bit-identical predictions`, async () => {
        const m = fitted(c, engine, dtype);
        const before = c.outputs(m);
        const viaJson = models.fromJSON(JSON.parse(JSON.stringify(m)), { engine });
        const viaBuffer = models.fromBuffer(m.toBuffer(), { engine });
        const file = path.join(dir, `${engine}-${c.name}-${dtype}.safetensors`);
        await m.save(file);
        const viaFile = await models.load(file, { engine });
        for (const loaded of [viaJson, viaBuffer, viaFile]) {
          expect(loaded.constructor).toBe(m.constructor);
          expect(loaded.engine).toBe(engine);
          sameBits(before, c.outputs(loaded));
          expect(loaded.toJSON()).toEqual(m.toJSON());  // options and parameters, byte for byte
        }
        expect(Buffer.compare(await readFile(file), m.toBuffer())).toBe(0);
      });
    }

    it(`${c.name}: an unfitted model saves its options and loads unfitted`, () => {
      const m = c.make(engine, 'float64');
      const json = m.toJSON();
      expect(json.fitted).toBe(false);
      expect(json.tensors).toEqual([]);
      const loaded = models.fromBuffer(m.toBuffer(), { engine });
      expect(() => c.outputs(loaded)).toThrow(/call fit\(x, y\) first/);
      // Same options: fitting the loaded model repeats the original's fit exactly.
      c.fit(m);
      c.fit(loaded);
      sameBits(c.outputs(m), c.outputs(loaded));
    });
  }

  it('keeps options a model needs after loading (threshold, classes, dtype)', () => {
    const a = models.fromJSON(fitted(CASES[1]!, engine, 'float32').toJSON(), { engine }) as models.Adaline;
    expect([a.threshold, a.lr, a.maxEpochs, a.dtype]).toEqual([0.4, 0.02, 15, 'float32']);
    const s = models.fromJSON(fitted(CASES[3]!, engine, 'float64').toJSON(), { engine }) as models.SoftmaxRegression;
    expect(s.classes).toBe(4);
    expect(() => s.score(XTEST, XTEST.map(() => 4))).toThrow(RangeError);  // class 4 is outside the saved 4 classes
  });
});

describe('classic models across engines', () => {
  it.each(CASES.map((c) => c.name))('%s saved by native, loaded by js and back: the same bits', (name) => {
    const c = CASES.find((k) => k.name === name)!;
    const dtype: Dtype = name === 'ProjectionPursuitRegressor' ? 'float64' : 'float32';
    const native = fitted(c, 'native', dtype);
    const js = models.fromBuffer(native.toBuffer(), { engine: 'js' });
    expect(js.engine).toBe('js');
    expect(Buffer.compare(js.toBuffer(), native.toBuffer())).toBe(0);  // parameters bit-exact
    // The engines' gemms may round differently (test/classic-parity.test.ts): agreement to dtype precision.
    const [a, b] = [c.outputs(native)[0]!, c.outputs(js)[0]!];
    expect(maxRelDiff(a, b)).toBeLessThan(dtype === 'float64' ? 1e-12 : 1e-5);
    sameBits(c.outputs(native), c.outputs(models.fromBuffer(js.toBuffer(), { engine: 'native' })));
  });
});

describe('classic model files and Sequential files refuse each other', () => {
  it('Sequential.load / fromBuffer / fromJSON / io.readModelInfo name the classic model', async () => {
    const m = fitted(CASES[2]!, 'js', 'float32');
    const file = path.join(dir, 'logistic.safetensors');
    await m.save(file);
    const named = /holds a classic model \(models\.LogisticRegression\), not a Sequential network; load it with models\.load/;
    await expect(Sequential.load(file)).rejects.toThrow(io.ModelFileError);
    await expect(Sequential.load(file)).rejects.toThrow(named);
    expect(() => Sequential.fromBuffer(m.toBuffer())).toThrow(named);
    expect(() => Sequential.fromJSON(m.toJSON())).toThrow(named);
    await expect(io.readModelInfo(file)).rejects.toThrow(named);
  });

  it('models.load / fromBuffer / fromJSON name the Sequential network', async () => {
    const net = new Sequential([new Dense(3, 2)], { engine: 'js' });
    const file = path.join(dir, 'net.safetensors');
    await net.save(file);
    const named = /holds a Sequential network, not a classic model; load it with Sequential\.load/;
    await expect(models.load(file)).rejects.toThrow(io.ModelFileError);
    await expect(models.load(file)).rejects.toThrow(named);
    expect(() => models.fromBuffer(net.toBuffer())).toThrow(named);
    expect(() => models.fromJSON(JSON.parse(JSON.stringify(net)))).toThrow(named);
  });
});

describe('bad classic model files and JSON', () => {
  const logistic = () => fitted(CASES[2]!, 'js', 'float64') as models.LogisticRegression;
  const ppr = () => fitted(CASES[4]!, 'js', 'float64') as models.ProjectionPursuitRegressor;

  it('a damaged tensor byte fails the checksum; a truncated file is refused', async () => {
    const buf = logistic().toBuffer();
    const flipped = Buffer.from(buf);
    flipped[flipped.length - 3]! ^= 0x10;
    expect(() => models.fromBuffer(flipped)).toThrow(/failed its checksum/);
    for (const cut of [4, 40, buf.length - 1]) {
      expect(() => models.fromBuffer(buf.subarray(0, cut))).toThrow(io.ModelFileError);
    }
    const file = path.join(dir, 'truncated.safetensors');
    await writeFile(file, buf.subarray(0, buf.length - 8));
    await expect(models.load(file)).rejects.toThrow(/truncated/);
  });

  it('edited options in the header are checked by the model', () => {
    const buf = logistic().toBuffer();
    const text = buf.toString('latin1');
    // The options are JSON inside the header's JSON (escaped quotes); same length, both still valid JSON.
    const edited = Buffer.from(text.replace('lr\\":0.4', 'lr\\":-1 '), 'latin1');
    expect(edited.length).toBe(buf.length);
    expect(() => models.fromBuffer(edited)).toThrow(/has LogisticRegression options fastmlp cannot use: .*lr/);
    const renamed = Buffer.from(text.replace('LogisticRegression', 'LogisticRegressioX'), 'latin1');
    expect(() => models.fromBuffer(renamed)).toThrow(/holds model "LogisticRegressioX"/);
  });

  it('JSON with NaN, wrong shapes, wrong dtypes or stray tensors names the tensor', () => {
    const good = logistic().toJSON();
    const withTensor = (i: number, patch: Partial<models.ClassicModelJSON['tensors'][number]>) =>
      reseal({ ...good, tensors: good.tensors.map((t, k) => (k === i ? { ...t, ...patch } : t)) });
    expect(() => models.fromJSON(withTensor(0, { data: encode([1, Number.NaN, 2], 'float64') })))
      .toThrow(/tensor 'weight' holds NaN at index 1/);
    expect(() => models.fromJSON(withTensor(1, { shape: [2], data: encode([0, 0], 'float64') })))
      .toThrow(/tensor 'bias' has shape \[2\], the weight needs \[1\]/);
    expect(() => models.fromJSON(withTensor(0, { shape: [3, 1] }))).toThrow(/needs \[1, inputs\]/);
    expect(() => models.fromJSON(withTensor(0, { dtype: 'float32', data: encode([1, 2, 3], 'float32') })))
      .toThrow(/tensor 'weight' is float32 but the model is float64/);
    expect(() => models.fromJSON(withTensor(0, { shape: [1, 4] }))).toThrow(/holds 24 bytes; shape \[1, 4\] needs 32/);
    expect(() => models.fromJSON(reseal({ ...good, tensors: [good.tensors[0]!] }))).toThrow(/tensor 'bias' is missing/);
    expect(() => models.fromJSON(reseal({ ...good, tensors: [...good.tensors, { ...good.tensors[1]!, name: 'extra' }] })))
      .toThrow(/unexpected tensor\(s\) 'extra'/);
    expect(() => models.fromJSON({ ...good, checksum: 'sha256:00' })).toThrow(/failed its checksum/);
    expect(() => models.fromJSON({ ...good, fitted: 'yes' })).toThrow(/'fitted' is "yes"/);
    expect(() => models.fromJSON({ ...good, options: { ...good.options, lr: [1] } })).toThrow(/option 'lr' is \[1\]/);
    expect(() => models.fromJSON({ ...good, version: 99 })).toThrow(/format version 99/);
    expect(() => models.fromJSON(reseal({ ...good, fitted: false }))).toThrow(/unexpected tensor\(s\) 'weight', 'bias'/);
  });

  it('a softmax weight that does not match the saved classes is refused', () => {
    const good = fitted(CASES[3]!, 'js', 'float32').toJSON();
    expect(() => models.fromJSON({ ...good, options: { ...good.options, classes: 3 } }))
      .toThrow(/tensor 'weight' has 4 row\(s\), SoftmaxRegression needs 3/);
  });

  it('projection pursuit terms: unsorted knots, a non-unit direction, too many terms', () => {
    const good = ppr().toJSON();
    const patch = (name: string, values: (v: Float64Array) => void) => reseal({
      ...good,
      tensors: good.tensors.map((t) => {
        if (t.name !== name) return t;
        const v = new Float64Array(new Uint8Array(Buffer.from(t.data, 'base64')).buffer);
        values(v);
        return { ...t, data: Buffer.from(v.buffer).toString('base64') };
      }),
    });
    expect(() => models.fromJSON(patch('terms.1.knots', (v) => { [v[3], v[4]] = [v[4]!, v[3]!]; })))
      .toThrow(/tensor 'terms\.1\.knots' is not sorted \(index 4\)/);
    expect(() => models.fromJSON(patch('terms.0.direction', (v) => { v[0] = v[0]! * 2 + 1; })))
      .toThrow(/tensor 'terms\.0\.direction' has length .*; directions are unit vectors/);
    expect(() => models.fromJSON(patch('terms.0.slopes', (v) => { v[2] = Infinity; })))
      .toThrow(/tensor 'terms\.0\.slopes' holds Infinity at index 2/);
    expect(() => models.fromJSON({ ...good, options: { ...good.options, terms: 1 } }))
      .toThrow(/more than the 1 term\(s\) its options allow/);
    expect(() => models.fromJSON(reseal({ ...good, tensors: good.tensors.filter((t) => t.name !== 'terms.1.values') })))
      .toThrow(/tensor 'terms\.1\.values' is missing/);
  });

  it('arguments are checked and named', async () => {
    const m = logistic();
    expect(() => models.fromJSON(42)).toThrow(TypeError);
    expect(() => models.fromJSON(42)).toThrow(/Expected a classic model object from toJSON\(\) for obj but received 42/);
    expect(() => models.fromJSON({ format: 'other' })).toThrow(/not a fastmlp model \(format is "other"\)/);
    expect(() => models.fromBuffer('abc' as never)).toThrow(/for buf/);
    expect(() => models.fromBuffer(m.toBuffer(), { engine: 'gpu' as never })).toThrow(RangeError);
    expect(() => models.fromBuffer(m.toBuffer(), { device: 'cpu' } as never)).toThrow(/device/);
    await expect(models.load('')).rejects.toThrow(TypeError);
    await expect(m.save(42 as never)).rejects.toThrow(/for path/);
    await expect(models.load(path.join(dir, 'missing.safetensors'))).rejects.toThrow(/ENOENT: cannot read/);
  });
});
