// Behaviours from the notes (SPEC.md §6–7): an MLP learns XOR where a single
// linear model cannot, and both engines learn the bundled digits to > 90 %.
import { describe, expect, it } from 'vitest';
import { Dense, Sequential, optim } from '../lib';
// @ts-expect-error — a plain ES module shared with the example script
import { loadDigits } from '../examples/digits-data.mjs';
import { ENGINES } from './helpers';

const XOR_X = [[0, 0], [0, 1], [1, 0], [1, 1]];
const XOR_Y = [0, 1, 1, 0];

function correct(pred: Int32Array, y: number[]): number {
  return y.filter((v, i) => pred[i] === v).length;
}

describe.each(ENGINES)('learning (%s engine)', (engine) => {
  it('an MLP learns XOR to 4/4', async () => {
    const m = new Sequential([new Dense(2, 8, { activation: 'tanh' }), new Dense(8, 2)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.05 }) });
    await m.fit(XOR_X, XOR_Y, { epochs: 300, batchSize: 4 });
    expect(correct(m.predict(XOR_X).argmax(), XOR_Y)).toBe(4);
    expect(m.evaluate(XOR_X, XOR_Y).loss).toBeLessThan(0.05);
  });

  it('a single linear layer cannot learn XOR (at most 3/4, whatever the seed)', async () => {
    for (const seed of [1, 2, 3]) {
      const m = new Sequential([new Dense(2, 2)], { engine, seed });
      m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.05 }) });
      await m.fit(XOR_X, XOR_Y, { epochs: 300, batchSize: 4 });
      expect(correct(m.predict(XOR_X).argmax(), XOR_Y)).toBeLessThanOrEqual(3);
      // The best linear fit of XOR's labels is 1/2 everywhere: cross-entropy stays near ln 2.
      expect(m.evaluate(XOR_X, XOR_Y).loss).toBeGreaterThan(0.6);
    }
  });

  it('learns the bundled digits to > 90 % test accuracy', async () => {
    const { trainX, trainY, testX, testY } = loadDigits();
    const m = new Sequential([new Dense(64, 64, { activation: 'relu' }), new Dense(64, 10)], { engine, seed: 42 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 3e-3 }), metrics: ['accuracy'] });
    await m.fit(trainX, trainY, { epochs: 15, batchSize: 32 });
    const { accuracy } = m.evaluate(testX, testY);
    expect(accuracy).toBeGreaterThan(0.9);
  });
});
