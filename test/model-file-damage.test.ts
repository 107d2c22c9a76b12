// Damaged, tampered and foreign model files are refused with a clear error
// (io.ModelFileError, code ERR_FASTMLP_MODEL_FILE) before anything is read
// past the end of the bytes, in both engines.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dense, Sequential, io } from '../lib';
import { ENGINES, randomArray } from './helpers';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'fastmlp-damage-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

function model(engine: 'native' | 'js') {
  const m = new Sequential([new Dense(3, 4, { activation: 'relu' }), new Dense(4, 2)], { engine, seed: 1 });
  m.compile({ loss: 'mse', optimizer: 'adam' });
  m.trainStep([[1, 2, 3], [0, -1, 2]], [[1, 0], [0, 1]]);
  return m;
}

/** Splits a file into its header object and data bytes. */
function split(buf: Buffer): { header: Record<string, any>; data: Buffer } {
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.toString('utf8', 8, 8 + n)), data: buf.subarray(8 + n) };
}

/** Reassembles a file from a (modified) header and data, with a correct header length. */
function join(header: object, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

function refused(buf: Uint8Array, engine: 'native' | 'js', message: RegExp): void {
  let error: unknown;
  try {
    Sequential.fromBuffer(buf, { engine });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(io.ModelFileError);
  expect((error as io.ModelFileError).code).toBe('ERR_FASTMLP_MODEL_FILE');
  expect((error as Error).message).toMatch(message);
}

describe.each(ENGINES)('damaged model files (%s engine)', (engine) => {
  const good = model(engine).toBuffer({ includeOptimizer: true });

  it('the undamaged file loads (the baseline for every case below)', () => {
    expect(Sequential.fromBuffer(good, { engine }).paramCount).toBe(26);
  });

  it('refuses every truncation: empty, inside the length, inside the header, inside the data', () => {
    refused(good.subarray(0, 0), engine, /too short for the 8-byte header length/);
    refused(good.subarray(0, 5), engine, /too short/);
    const headerEnd = 8 + Number(good.readBigUInt64LE(0));
    for (const cut of [8, 9, headerEnd - 1]) refused(good.subarray(0, cut), engine, /header claims \d+ bytes but only \d+ follow/);
    for (const cut of [headerEnd, headerEnd + 1, good.length - 1]) refused(good.subarray(0, cut), engine, /truncated/);
  });

  it('refuses a flipped byte in the tensor data (checksum) and in the header', () => {
    const headerEnd = 8 + Number(good.readBigUInt64LE(0));
    for (const at of [headerEnd, headerEnd + 17, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] ^= 0x40;
      refused(bad, engine, /failed its checksum: the tensor data was modified or damaged/);
    }
    const bad = Buffer.from(good);
    bad[8] ^= 0x01;  // '{' → 'z'
    refused(bad, engine, /header is not a JSON object/);
    const bad2 = Buffer.from(good);
    bad2[headerEnd - 3] = 0x22;  // a stray quote inside the padding or closing braces
    expect(() => Sequential.fromBuffer(bad2, { engine })).toThrow(io.ModelFileError);
  });

  it('refuses a huge header length without allocating it', () => {
    for (const n of [2n ** 63n, 2n ** 64n - 1n, BigInt(good.length)]) {
      const bad = Buffer.from(good);
      bad.writeBigUInt64LE(n, 0);
      refused(bad, engine, /header claims \d+ bytes but only \d+ follow/);
    }
    const big = Buffer.alloc(8 + 101 * 1024 * 1024, 0x20);
    big.writeBigUInt64LE(BigInt(big.length - 8), 0);
    refused(big, engine, /exceeds the 104857600-byte limit/);
  });

  it('Sequential.load and io.readWeights refuse damaged files on disk, naming the file', async () => {
    const file = path.join(dir, `${engine}-cut.safetensors`);
    await writeFile(file, good.subarray(0, good.length - 3));
    await expect(Sequential.load(file, { engine })).rejects.toThrow(new RegExp(`'${file}' is not a valid model file: .*truncated`));
    await expect(io.readWeights(file)).rejects.toThrow(io.ModelFileError);
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(2n ** 62n, 0);
    await writeFile(file, huge);
    await expect(Sequential.load(file, { engine })).rejects.toThrow(/header claims 4611686018427387904 bytes but only \d+ follow/);
    await writeFile(file, Buffer.alloc(0));
    await expect(Sequential.load(file, { engine })).rejects.toThrow(/0 bytes is too short/);
  });

  it('reads a tensor or metadata key named __proto__ as a name, not as the result\'s prototype', () => {
    // JSON.parse makes '__proto__' an own key; assigning it to a plain object replaced that object's prototype.
    const header = JSON.parse('{"__proto__":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"__proto__":"x"}}') as object;
    const file = join(header, Buffer.from(new Float32Array([1, 2, 3]).buffer));
    const w = io.weightsFromBuffer(file);
    expect(Object.getPrototypeOf(w)).toBe(Object.prototype);
    expect(Object.keys(w)).toEqual(['__proto__', 'a']);
    expect(Array.from(Object.getOwnPropertyDescriptor(w, '__proto__')!.value as Float32Array)).toEqual([1, 2]);
    // Such a name is then an unknown parameter for setWeights, as any other.
    expect(() => model(engine).setWeights(w)).toThrow(/Unknown parameter name\(s\) '__proto__', 'a'/);
    // And user metadata under that key round-trips through save and readModelInfo.
    const meta = JSON.parse('{"__proto__":"kept","b":"c"}') as Record<string, string>;
    const info = io.modelInfoFromBuffer(model(engine).toBuffer({ metadata: meta }));
    expect(Object.getPrototypeOf(info.metadata)).toBe(Object.prototype);
    expect(Object.entries(info.metadata)).toEqual([['__proto__', 'kept'], ['b', 'c']]);
  });

  it('refuses garbage', () => {
    const noise = Buffer.from(randomArray(64, 5, Float64Array).buffer);
    expect(() => Sequential.fromBuffer(noise, { engine })).toThrow(io.ModelFileError);
    refused(Buffer.from('PK\u0003\u0004 this is a zip file, not a model'), engine, /header claims/);
    const notJson = join({}, Buffer.alloc(0));
    notJson.write('{nope', 8);
    refused(notJson, engine, /not valid JSON/);
  });

  it('refuses a wrong dtype or shape in the header', () => {
    const { header, data } = split(good);
    const i32 = structuredClone(header);
    i32['0.weight'].dtype = 'I32';
    refused(join(i32, data), engine, /tensor '0.weight' has dtype "I32"; fastmlp reads F32, F64, F16 and BF16 only/);
    const f16 = structuredClone(header);
    f16['0.weight'].dtype = 'F16';  // read (widened to float32), but half the width
    refused(join(f16, data), engine, /'0.weight' of shape \[4, 3\] \(F16\) needs 24 bytes but its offsets span 48/);
    const f64 = structuredClone(header);
    f64['0.bias'].dtype = 'F64';
    refused(join(f64, data), engine, /'0.bias' of shape \[4\] \(float64\) needs 32 bytes but its offsets span 16/);
    const shape = structuredClone(header);
    shape['0.weight'].shape = [3, 4];  // same size, transposed: only the architecture can tell
    refused(join(shape, data), engine, /tensor '0.weight' has shape \[3, 4\], the architecture needs \[4, 3\]/);
    const negative = structuredClone(header);
    negative['1.bias'].shape = [-2];
    refused(join(negative, data), engine, /has shape \[-2\]/);
  });

  it('refuses overlapping offsets, gaps, offsets past the end and trailing bytes', () => {
    const { header, data } = split(good);
    const overlap = structuredClone(header);
    const [b0] = overlap['0.bias'].data_offsets;
    overlap['1.bias'].data_offsets = [b0, b0 + 8];
    refused(join(overlap, data), engine, /overlaps|belong to no tensor/);
    const past = structuredClone(header);
    past['1.bias'].data_offsets = [data.length, data.length + 8];
    refused(join(past, data), engine, /spans bytes .* but the data section holds/);
    refused(join(header, Buffer.concat([data, Buffer.alloc(8)])), engine, /trailing bytes/);
    const reversed = structuredClone(header);
    reversed['0.weight'].data_offsets = [10, 2];
    refused(join(reversed, data), engine, /spans bytes \[10, 2\)/);
  });

  it('refuses foreign files and unknown format versions with advice', () => {
    const { header, data } = split(good);
    const plain = structuredClone(header);
    plain.__metadata__ = { format: 'pt' };
    refused(join(plain, data), engine, /not a fastmlp model file .* model\.setWeights\(await io\.readWeights\(path\)\)/);
    const future = structuredClone(header);
    future.__metadata__['fastmlp.version'] = '2';
    refused(join(future, data), engine, /format version 2; this fastmlp reads version 1/);
    const noSum = structuredClone(header);
    delete noSum.__metadata__['fastmlp.checksum'];
    refused(join(noSum, data), engine, /no checksum/);
  });

  it('refuses tampered metadata: architecture, compile settings, optimizer state', () => {
    const { header, data } = split(good);
    const arch = structuredClone(header);
    arch.__metadata__['fastmlp.architecture'] = '{"dtype":"float32","seed":1,"layers":[{"type":"Eval","code":"process.exit(1)"}]}';
    refused(join(arch, data), engine, /cannot build: Expected a known layer type .* 'Eval'/);
    const proto = structuredClone(header);
    proto.__metadata__['fastmlp.architecture'] = proto.__metadata__['fastmlp.architecture']
      .replace('"type":"Dense",', '"type":"Dense","__proto__":{"activation":"sigmoid"},');
    refused(join(proto, data), engine, /Unknown option '__proto__'/);
    const broken = structuredClone(header);
    broken.__metadata__['fastmlp.architecture'] = '{"dtype":';
    refused(join(broken, data), engine, /'fastmlp.architecture'\] is not valid JSON/);
    const wide = structuredClone(header);
    wide.__metadata__['fastmlp.architecture'] = wide.__metadata__['fastmlp.architecture'].replace('"outFeatures":2', '"outFeatures":3');
    refused(join(wide, data), engine, /'2.weight' is missing|'1.weight' has shape/);
    // An architecture claiming a huge layer (it is outside the checksum) is refused by the tensors'
    // shapes before the model is built: the native engine once allocated the claimed 15000 × 15000
    // layer (1.8 GB, 5 s) for this 600-byte file before noticing.
    const huge = structuredClone(header);
    huge.__metadata__['fastmlp.architecture'] = huge.__metadata__['fastmlp.architecture']
      .replace('"inFeatures":3,"outFeatures":4', '"inFeatures":15000,"outFeatures":15000').replace('"inFeatures":4', '"inFeatures":15000');
    expect(huge.__metadata__['fastmlp.architecture']).toMatch(/"inFeatures":15000,"outFeatures":15000.*"inFeatures":15000/);
    const rss = process.memoryUsage().rss;
    refused(join(huge, data), engine, /tensor '0.weight' has shape \[4, 3\], the architecture needs \[15000, 15000\]/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200e6);
    const compile = structuredClone(header);
    compile.__metadata__['fastmlp.compile'] = '{"loss":{"name":"mse","options":{}},"optimizer":{"name":"adam","options":{"lr":-1}},"metrics":[]}';
    refused(join(compile, data), engine, /compile settings fastmlp cannot use: Expected a finite number in \[0, ∞\) for lr/);
    const steps = structuredClone(header);
    steps.__metadata__['fastmlp.optimizer_steps'] = '1e99';
    refused(join(steps, data), engine, /optimizer state needs/);
    // readModelInfo (the CLI's info) refuses it too, instead of reporting 1e+99 steps.
    expect(() => io.modelInfoFromBuffer(join(steps, data))).toThrow(/'fastmlp.optimizer_steps' is "1e99", not an integer ≥ 0/);
    expect(io.modelInfoFromBuffer(good).optimizerSteps).toBe(1);
    const rng = structuredClone(header);
    rng.__metadata__['fastmlp.rng_state'] = '{"words":[0,0,0,0],"spareNormal":null}';
    refused(join(rng, data), engine, /Expected four 32-bit words, not all zero/);
    const noRng = structuredClone(header);
    delete noRng.__metadata__['fastmlp.rng_state'];
    refused(join(noRng, data), engine, /optimizer state needs/);
    const sgd = structuredClone(header);
    sgd.__metadata__['fastmlp.compile'] = sgd.__metadata__['fastmlp.compile'].replace('"adam"', '"sgd"');
    refused(join(sgd, data), engine, /optimizer state that does not fit its optimizer/);
  });

  it('refuses non-finite weights even with a matching checksum', () => {
    const { header, data } = split(good);
    const nan = Buffer.from(data);
    nan.writeFloatLE(Number.NaN, header['0.weight'].data_offsets[0] + 4);
    const resigned = structuredClone(header);
    resigned.__metadata__['fastmlp.checksum'] = 'sha256:' + createHash('sha256').update(nan).digest('hex');
    refused(join(resigned, nan), engine, /holds unusable weights: Expected finite numbers for weights\['0.weight'\] but received NaN at index 1/);
  });

  it('refuses damaged JSON models', () => {
    const json = model(engine).toJSON();
    const tampered = structuredClone(json);
    const bytes = Buffer.from(tampered.tensors[0]!.data, 'base64');
    bytes[0] ^= 1;
    tampered.tensors[0]!.data = bytes.toString('base64');
    expect(() => Sequential.fromJSON(tampered, { engine })).toThrow(/failed its checksum/);
    const short = structuredClone(json);
    short.tensors[1]!.data = short.tensors[1]!.data.slice(0, 8);
    expect(() => Sequential.fromJSON(short, { engine })).toThrow(/tensors\[1\] holds 6 bytes; shape \[4\] needs 16/);
    expect(() => Sequential.fromJSON({ ...json, version: 9 }, { engine })).toThrow(/format version 9/);
    expect(() => Sequential.fromJSON({ ...json, tensors: 'x' }, { engine })).toThrow(/no tensors array/);
  });
});
