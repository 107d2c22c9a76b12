// Loss value errors read as the rest of the API ("Expected {what} for {name}
// but received {actual}") on every public path, in both engines: lib checks
// targets (and bce's pred in losses.create) before an engine sees them and
// names the caller's argument; where an engine's message is still reachable
// (a model's outputs out of bce's range), the native one words and formats
// its numbers as the TypeScript engine, as JS would (1.5, not 1.500000).
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Sequential, losses } from '../lib';
import type { Dtype } from '../lib/engine';
import { loadNative } from '../lib/native';
import { ENGINES } from './helpers';

function errorOf(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new Error('expected an error, nothing was thrown');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

function expectArgumentError(e: Error, message: string) {
  expect(e).toBeInstanceOf(RangeError);
  expect((e as Error & { code?: string }).code).toBe('ERR_FASTMLP_INVALID_ARGUMENT');
  expect(e.message).toBe(message);
}

/** A target value each element-wise loss with a range refuses, and what it expects. */
const BAD_TARGETS = [
  { loss: 'bce', value: 1.5, what: 'targets in [0, 1]', pred: 0.5 },
  { loss: 'bce-with-logits', value: -0.25, what: 'targets in [0, 1]', pred: 0.5 },
  { loss: 'focal', value: 2, what: 'targets in [0, 1]', pred: 0.5 },
  { loss: 'hinge', value: 0, what: 'labels -1 or 1', pred: 0.5 },
  { loss: 'squared-hinge', value: 0.5, what: 'labels -1 or 1', pred: 0.5 },
  { loss: 'kl-div', value: -0.1, what: 'probabilities (>= 0)', pred: -1 },
] as const;

/** The good target of each loss, for the rows that are not the bad one. */
function goodTarget(loss: string): number {
  return loss === 'hinge' || loss === 'squared-hinge' ? 1 : 0.5;
}

describe.each(ENGINES)('loss value errors name the argument (%s engine)', (engine) => {
  for (const { loss, value, what, pred } of BAD_TARGETS) {
    it(`losses.create('${loss}'): forward, backward and reduction 'none' refuse target ${value}`, () => {
      // number[][] becomes float32: the message shows the value as stored.
      const message = `Expected ${what} for target of loss '${loss}' but received ${Math.fround(value)} at index 2`;
      const p = [[pred, pred], [pred, pred]];
      const t = [[goodTarget(loss), goodTarget(loss)], [value, goodTarget(loss)]];
      expectArgumentError(errorOf(() => losses.create(loss, { engine }).forward(p, t)), message);
      expectArgumentError(errorOf(() => losses.create(loss, { engine }).backward(p, t)), message);
      expectArgumentError(errorOf(() => losses.create(loss, { engine, reduction: 'none' }).forward(p, t)), message);
      expect(Number.isFinite(losses.create(loss, { engine }).forward(p, [[goodTarget(loss), goodTarget(loss)], [goodTarget(loss), goodTarget(loss)]]))).toBe(true);
    });

    for (const dtype of ['float32', 'float64'] as const) {
      it(`${dtype}, '${loss}': evaluate, trainStep and fit (y, validationData, streamed chunks) refuse target ${value}`, async () => {
        // The losses that take logits get them (a sigmoid before them draws the loss-pairing warning).
        const output = loss === 'bce-with-logits' || loss === 'focal' ? 'identity' : 'sigmoid';
        const m = new Sequential([new Dense(2, 1), new Activation(output)], { engine, seed: 4, dtype });
        m.compile({ loss: loss as never, optimizer: 'sgd' });
        const x = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]];
        const y = [goodTarget(loss), goodTarget(loss), value];
        const good = [goodTarget(loss), goodTarget(loss), goodTarget(loss)];
        const stored = dtype === 'float32' ? Math.fround(value) : value;
        const expected = (name: string) => `Expected ${what} for ${name} of loss '${loss}' but received ${stored} at index 2`;
        const before = m.getWeights();
        expectArgumentError(errorOf(() => m.evaluate(x, y)), expected('y'));
        expectArgumentError(errorOf(() => m.trainStep(x, y)), expected('y'));
        expectArgumentError(await rejection(m.fit(x, y, { epochs: 1 })), expected('y'));
        expectArgumentError(await rejection(m.fit(x, good, { epochs: 1, validationData: [x, y] })), expected('validationData[1]'));
        // The class-weight path (fit wraps the loss) sees the same check first.
        if (loss === 'bce' || loss === 'bce-with-logits') {
          expectArgumentError(await rejection(m.fit(x, y, { epochs: 1, classWeight: { 0: 1 } } as never)), expected('y'));
        }
        async function* stream() { yield { x, y }; }
        expectArgumentError(await rejection(m.fit(() => stream(), { epochs: 1 })), expected('y of epoch 1 chunk 0'));
        expect(m.getWeights()).toEqual(before);  // nothing was trained on the refused data
        expect(Number.isFinite(m.evaluate(x, good).loss)).toBe(true);
      });
    }
  }

  it('bce: a pred outside [0, 1] is refused by losses.create before the engine, naming pred', () => {
    const e = errorOf(() => losses.create('bce', { engine }).forward([[0.5], [1.5]], [[1], [0]]));
    expectArgumentError(e, "Expected probabilities in [0, 1] for pred of loss 'bce' but received 1.5 at index 1");
    // NaN predictions pass (a diverged network reports a NaN loss, not a range error).
    expect(losses.create('bce', { engine }).forward([[NaN]], [[1]])).toBeNaN();
  });
});

describe('a model whose outputs leave bce\'s range: the engines\' own message, worded and formatted as JS', () => {
  // Dense(1, 1) with weight 0 outputs its bias exactly: numbers JS writes in each of its forms.
  const BIASES = [1.5, -1e-7, 1e21, 123456789012, -2.5e-6, 3.0000000000000004, 2 ** 70];
  for (const dtype of ['float32', 'float64'] as Dtype[]) {
    it(`${dtype}: trainStep and evaluate say the same in both engines`, () => {
      for (const bias of BIASES) {
        const messages = ENGINES.map((engine) => {
          const m = new Sequential([new Dense(1, 1)], { engine, seed: 1, dtype });
          m.compile({ loss: 'bce', optimizer: 'sgd' });
          m.setWeights({ '0.weight': [0], '0.bias': [bias] });
          const stored = m.getWeights()['0.bias']![0]!;   // float32 rounds the bias
          const expected = `Expected probabilities in [0, 1] for pred of loss 'bce' but received ${stored} at index 0`;
          expectArgumentError(errorOf(() => m.trainStep([[1]], [1])), expected);
          expectArgumentError(errorOf(() => m.evaluate([[1]], [1])), expected);
          return expected;
        });
        expect(messages[0]).toBe(messages[1]);
        expect(messages[0]).not.toMatch(/\d\.\d{6}(?!\d)/);   // no C-style fixed six decimals
      }
    });
  }

  it('the raw binding formats NaN and Infinity targets as JS does', () => {
    const binding = loadNative();
    const spec = losses.create('bce').spec;
    for (const [t, text] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [1.25, '1.25']] as const) {
      expectArgumentError(errorOf(() => binding.lossForward(spec, new Float64Array([0.5]), 1, 1, new Float64Array([t]))),
        `Expected targets in [0, 1] for target of loss 'bce' but received ${text} at index 0`);
    }
    expectArgumentError(errorOf(() => binding.lossForward({ ...spec, kind: 'huber', delta: -0.5 }, new Float64Array([0.5]), 1, 1, new Float64Array([1]))),
      'Expected a finite number > 0 for loss.delta but received -0.5');
  });
});
