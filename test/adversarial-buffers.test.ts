// An adversarial audit's regression tests: arrays that change or vanish under
// a call, and sizes or buffers the argument checks missed. Each case failed
// before its fix (see the commit that added it); probes that were already
// handled are covered elsewhere (robustness, zero-copy, model-file-damage).
import { describe, expect, it } from 'vitest';
import { Dense, Sequential, data, io, losses, models, type Matrix } from '../lib';
import { ENGINES, thrown } from './helpers';

const ROWS = 256;
const COLS = 4;
const CLASSES = 3;

function chunkArrays(c: number): { x: Float32Array; y: Int32Array } {
  return {
    x: Float32Array.from({ length: ROWS * COLS }, (_, i) => Math.sin(i * 0.37 + c)),
    y: Int32Array.from({ length: ROWS }, (_, i) => (i + c) % CLASSES),
  };
}

type Mode = 'engine epochs' | 'custom loss' | 'acting callback';
type Spoil = 'none' | 'refill' | 'transfer';

/**
 * One epoch over a stream of three chunks of the caller's own typed arrays.
 * `spoil`: after the first batch of each chunk, a callback refills the
 * chunk's x and y with other values, or transfers their buffers away (as a
 * reader that reuses or posts its buffers would). fit must train on each
 * chunk as it was yielded, as the native engine's own epochs always did.
 */
async function streamFit(engine: 'native' | 'js', mode: Mode, spoil: Spoil) {
  const model = new Sequential([new Dense(COLS, 8, { activation: 'tanh' }), new Dense(8, CLASSES)], { engine, seed: 5 });
  const ce = losses.create('cross-entropy');
  model.compile({
    loss: mode === 'custom loss' ? { forward: (p: Matrix, t) => ce.forward(p, t), backward: (p: Matrix, t) => ce.backward(p, t) } : 'cross-entropy',
    optimizer: 'adam',
  });
  let current: { x: Float32Array; y: Int32Array } | null = null;
  let spoiled = 0;
  const source = function* () {
    for (let c = 0; c < 3; c++) {
      current = chunkArrays(c);
      yield { x: { data: current.x, rows: ROWS, cols: COLS }, y: current.y };
    }
  };
  const onBatchEnd = () => {
    if (spoil === 'none' || current === null) return;
    const { x, y } = current;
    current = null;
    if (spoil === 'refill') {
      x.fill(0);
      y.fill(CLASSES - 1);
    } else {
      structuredClone([x.buffer, y.buffer], { transfer: [x.buffer, y.buffer] });
    }
    spoiled++;
  };
  // observeOnly: the engine runs the chunk's epoch (native: on its worker); an
  // acting callback (or a custom loss) makes fit drive the batches itself.
  const callbacks = [{ observeOnly: mode !== 'acting callback', onBatchEnd }];
  const history = await model.fit(source, { epochs: 1, batchSize: 16, callbacks });
  const weights = model.getWeights();
  model.dispose();
  return { loss: history.history.loss, weights, spoiled };
}

describe.each(ENGINES)('a streamed chunk changed or transferred while it trains (%s engine)', (engine) => {
  it.each<[Mode, Spoil]>([
    ['engine epochs', 'refill'], ['engine epochs', 'transfer'],
    ['custom loss', 'refill'], ['custom loss', 'transfer'],
    ['acting callback', 'refill'], ['acting callback', 'transfer'],
  ])('%s, %s: trains on the chunk as it was yielded, bit for bit', async (mode, spoil) => {
    const clean = await streamFit(engine, mode, 'none');
    const spoilt = await streamFit(engine, mode, spoil);
    expect(spoilt.spoiled).toBe(3);  // every chunk was spoiled mid-epoch: the comparison means something
    expect(spoilt.loss).toEqual(clean.loss);
    expect(Number.isFinite(spoilt.loss[0])).toBe(true);
    for (const [name, values] of Object.entries(clean.weights)) expect(spoilt.weights[name]).toEqual(values);
  });
});

describe('sizes and buffers the argument checks missed', () => {
  it('the synchronous file decoders refuse a transferred (detached) buffer with a RangeError naming buf', () => {
    const model = new Sequential([new Dense(COLS, CLASSES)], { engine: 'js', seed: 1 });
    const bytes = new Uint8Array(model.toBuffer());
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    // Before: V8's bare "Cannot perform Construct on a detached ArrayBuffer" (a TypeError without code or name).
    for (const decode of [() => Sequential.fromBuffer(bytes), () => io.weightsFromBuffer(bytes),
      () => io.modelInfoFromBuffer(bytes), () => models.fromBuffer(bytes)]) {
      const e = thrown(decode);
      expect(e).toBeInstanceOf(RangeError);
      expect(e.code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
      expect(e.message).toMatch(/for buf but received .*detached|not detached .*for buf/);
    }
  });

  it('data.permutation refuses a length no buffer can hold with a RangeError naming n', () => {
    // Before: V8's bare "Invalid typed array length: 1099511627776".
    const e = thrown(() => data.permutation(2 ** 40, 1));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
    expect(e.message).toMatch(/for n /);
    expect(Array.from(data.permutation(4, 1)).sort()).toEqual([0, 1, 2, 3]);
  });
});
