// The JS engine's maxpool2d in blocks of images (lib/engines/js/maxpool.ts
// maxpoolForwardSteps, maxpoolBackwardSteps): the same bits as one whole call,
// with pauses inside a layer of many images. Run whole, the pools of a small
// CNN's batch of 64 held the event loop 10–15 ms between two pauses.
import { describe, expect, it } from 'vitest';
import {
  maxpoolBackward, maxpoolBackwardSteps, maxpoolForward, maxpoolForwardSteps, maxpoolWork, type MaxPool2dLayer,
} from '../lib/engines/js/maxpool';
import { POOL_WORK, SLICE_WORK, WorkMeter } from '../lib/engines/js/slices';
import { Conv2d, Dense, Matrix, MaxPool2d, Sequential } from '../lib';
import { randomArray } from './helpers';

function pool(channels: number, inH: number, inW: number, k: number, s: number, p: number): MaxPool2dLayer {
  const outH = Math.floor((inH + 2 * p - k) / s) + 1;
  const outW = Math.floor((inW + 2 * p - k) / s) + 1;
  return { kind: 'maxpool2d', channels, inF: channels * inH * inW, outF: channels * outH * outW,
           g: { inH, inW, kH: k, kW: k, sH: s, sW: s, pH: p, pW: p, outH, outW } };
}

/** Runs a generator to its end; returns how many times it paused. */
function pauses(steps: Generator<void, void>): number {
  let n = 0;
  while (!steps.next().done) n++;
  return n;
}

/** The first byte at which a and b differ, or -1 (a short failure message, unlike a diff of MBs). */
function firstDifference(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  return x.findIndex((v, i) => v !== y[i]);
}

describe.each([
  ['2×2 stride 2, 32×26×26 (a small CNN\'s first pool)', pool(32, 26, 26, 2, 2, 0)],
  ['3×3 stride 2 padding 1, odd 5×13×11 planes', pool(5, 13, 11, 3, 2, 1)],
] as const)('maxpool2d in blocks of images: %s', (_name, layer) => {
  for (const Ctor of [Float32Array, Float64Array]) {
    it(`forward and backward give one call's bits and pause inside the layer (${Ctor.name})`, () => {
      // ~8 slices of work; ties, NaN and -Infinity in the input.
      const rows = Math.ceil((8 * SLICE_WORK) / maxpoolWork(layer, 1));
      const x = randomArray(rows * layer.inF, 7, Ctor);
      for (let i = 0; i < x.length; i += 97) x[i] = x[i + 1] ?? 0;
      for (let i = 5; i < x.length; i += 1009) x[i] = NaN;
      for (let i = 11; i < x.length; i += 503) x[i] = -Infinity;
      const dy = randomArray(rows * layer.outF, 9, Ctor);

      const whole = new Ctor(rows * layer.outF);
      maxpoolForward(layer, x, whole, rows);
      const sliced = new Ctor(rows * layer.outF);
      const forwardPauses = pauses(maxpoolForwardSteps(new WorkMeter(), layer, x, sliced, rows));
      expect(firstDifference(sliced, whole)).toBe(-1);

      const dxWhole = new Ctor(rows * layer.inF);
      maxpoolBackward(layer, x, dy, dxWhole, rows);
      const dxSliced = new Ctor(rows * layer.inF).fill(123);   // stale values must be overwritten
      const backwardPauses = pauses(maxpoolBackwardSteps(new WorkMeter(), layer, x, dy, dxSliced, rows));
      expect(firstDifference(dxSliced, dxWhole)).toBe(-1);

      // The meter pauses once SLICE_WORK is done, i.e. after every block or two (a block is
      // at most one slice of work); whole, the layer paused at most once, after it.
      expect(forwardPauses).toBeGreaterThanOrEqual(3);
      expect(backwardPauses).toBeGreaterThanOrEqual(3);
    });
  }

  it('counts POOL_WORK per window element, so a block of images is one slice of work', () => {
    expect(maxpoolWork(layer, 2)).toBe(2 * layer.outF * layer.g.kH * layer.g.kW * POOL_WORK);
  });
});

describe('a CNN batch with a large pool (JS engine)', () => {
  it('fit of one batch, its pool in blocks with pauses between them, equals trainStep', async () => {
    const make = () => {
      const m = new Sequential([new Conv2d(1, 16, 3, { inputSize: 40, activation: 'relu' }), new MaxPool2d(2),
        new Dense(16 * 19 * 19, 10)], { engine: 'js', seed: 3 });
      m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
      return m;
    };
    const rows = 96;
    const x = new Matrix(rows, 1600, randomArray(rows * 1600, 5, Float32Array));
    const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
    const stepped = make();
    stepped.trainStep(x, y);
    const fitted = make();
    await fitted.fit(x, y, { epochs: 1, batchSize: rows, shuffle: false });
    expect(firstDifference(fitted.predict(x).data, stepped.predict(x).data)).toBe(-1);
    stepped.dispose();
    fitted.dispose();
  });
});
