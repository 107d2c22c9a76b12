// The user metadata of model files (save option `metadata`, io.readModelInfo):
// strings that travel with the weights, e.g. the CLI's class names, through
// files, buffers and JSON, in both engines; bad values are refused by name.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dense, Sequential, io } from '../lib';
import { modelToBuffer } from '../lib/io/model-file';
import { ENGINES } from './helpers';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-meta-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const META = { classes: JSON.stringify(['cat', 'dog', 'émeu']), note: 'trained on "v2" data, 2026' };

function net(engine: 'native' | 'js') {
  const m = new Sequential([new Dense(3, 4, { activation: 'relu' }), new Dense(4, 3)], { engine, seed: 2 });
  m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
  return m;
}

describe.each(ENGINES)('model file metadata (%s engine)', (engine) => {
  it('save → readModelInfo gives the strings back, beside the architecture and compile options', async () => {
    const file = path.join(dir, `${engine}.safetensors`);
    await net(engine).save(file, { metadata: META });
    const info = await io.readModelInfo(file);
    expect(info.metadata).toEqual(META);
    expect(info.architecture.layers).toHaveLength(2);
    expect(info.compile?.optimizer).toMatchObject({ name: 'sgd' });
    expect(info.tensors.map((t) => `${t.name}:${t.shape.join('x')}`)).toEqual(['0.weight:4x3', '0.bias:4', '1.weight:3x4', '1.bias:3']);
    // The model still loads as before, with the same weights.
    const loaded = await Sequential.load(file, { engine });
    expect(loaded.getWeights()['1.bias']).toEqual(net(engine).getWeights()['1.bias']);
  });

  it('without metadata the map is empty; buffers and JSON carry it too', () => {
    const m = net(engine);
    expect(io.modelInfoFromBuffer(m.toBuffer()).metadata).toEqual({});
    expect(io.modelInfoFromBuffer(modelToBuffer(m, { metadata: META })).metadata).toEqual(META);
    const doc = m.toJSON({ metadata: META });
    expect(doc.metadata).toEqual(META);
    expect(Sequential.fromJSON(JSON.parse(JSON.stringify(doc)), { engine }).paramCount).toBe(m.paramCount);
  });

  it('refuses metadata that is not an object of strings, naming the entry', async () => {
    const m = net(engine);
    expect(() => m.toBuffer({ metadata: { n: 3 } as never })).toThrow(TypeError);
    expect(() => m.toBuffer({ metadata: { n: 3 } as never })).toThrow(/Expected a string for metadata\.n but received 3/);
    expect(() => m.toBuffer({ metadata: ['a'] as never })).toThrow(/Expected an object of strings for metadata/);
    await expect(m.save(path.join(dir, 'bad.safetensors'), { metadata: 'x' as never })).rejects.toThrow(/metadata/);
    const doc = m.toJSON({ metadata: META }) as unknown as Record<string, unknown>;
    expect(() => Sequential.fromJSON({ ...doc, metadata: { a: 1 } })).toThrow(/not a valid model file: Expected a string for metadata\.a/);
  });
});
