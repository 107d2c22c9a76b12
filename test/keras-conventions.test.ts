// What a Keras user writes on first sight: fit's verbose levels 0/1/2, and the
// warning for an output activation the loss applies again (softmax before
// 'cross-entropy', lib/loss-pairing.ts) — on both engines.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Activation, Dense, Dropout, LayerNorm, Matrix, Sequential, losses, type Layer } from '../lib';
import { LOSS_PAIRING_WARNING, lossPairingProblem } from '../lib/loss-pairing';
import { ENGINES, randomArray } from './helpers';

const X = new Matrix(20, 3, randomArray(60, 5, Float64Array));
const Y = Int32Array.from({ length: 20 }, (_, i) => (X.data[3 * i]! > 0 ? 1 : 0));

afterEach(() => { vi.restoreAllMocks(); });

describe.each(ENGINES)('fit verbose levels (%s engine)', (engine) => {
  function model(): Sequential {
    const m = new Sequential([new Dense(3, 4, { activation: 'tanh' }), new Dense(4, 2)], { engine, seed: 3, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    return m;
  }
  function capture(): { out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => { out.push(String(line)); });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => { err.push(String(chunk)); return true; });
    return { out, err };
  }

  it('0 and false print nothing; 2 and true print a line per epoch on stdout', async () => {
    for (const verbose of [0, false] as const) {
      const { out, err } = capture();
      await model().fit(X, Y, { epochs: 2, batchSize: 5, verbose });
      vi.restoreAllMocks();
      expect(out, String(verbose)).toEqual([]);
      expect(err, String(verbose)).toEqual([]);
    }
    for (const verbose of [2, true] as const) {
      const { out, err } = capture();
      await model().fit(X, Y, { epochs: 2, batchSize: 5, verbose });
      vi.restoreAllMocks();
      expect(out.map((l) => l.slice(0, 9)), String(verbose)).toEqual(['Epoch 1/2', 'Epoch 2/2']);
      expect(err, String(verbose)).toEqual([]);
    }
  });

  it('1 draws the progress bar on stderr (a line per epoch outside a terminal), nothing on stdout', async () => {
    const { out, err } = capture();
    const h = await model().fit(X, Y, { epochs: 2, batchSize: 5, verbose: 1 });
    vi.restoreAllMocks();
    expect(out).toEqual([]);
    const lines = err.join('').split('\n').filter((l) => l.startsWith('epoch '));
    expect(lines.map((l) => l.slice(0, 9))).toEqual(['epoch 1/2', 'epoch 2/2']);
    expect(Number(lines[1]!.split(' ')[4])).toBeCloseTo(h.history['loss']![1]!, 4);
    expect(h.params.verbose).toBe(true);
  });

  it('refuses other values, naming verbose', async () => {
    const m = model();
    for (const bad of [3, -1, 0.5, NaN]) {
      await expect(m.fit(X, Y, { verbose: bad as never })).rejects.toThrow(RangeError);
      await expect(m.fit(X, Y, { verbose: bad as never })).rejects.toThrow(/Expected a boolean or 0, 1, 2 .* for verbose but received/);
    }
    for (const bad of ['1', null, {}]) {
      await expect(m.fit(X, Y, { verbose: bad as never })).rejects.toThrow(TypeError);
    }
  });
});

describe.each(ENGINES)('loss pairing warning (%s engine)', (engine) => {
  function warnings(): Array<{ message: string; code: unknown }> {
    const seen: Array<{ message: string; code: unknown }> = [];
    vi.spyOn(process, 'emitWarning').mockImplementation(((message: string, opts?: { code?: string }) => {
      seen.push({ message: String(message), code: opts?.code });
    }) as typeof process.emitWarning);
    return seen;
  }
  const build = (layers: Layer[]) => new Sequential(layers, { engine, seed: 1 });

  it('warns once per model when the loss would squash the output a second time', () => {
    const cases: Array<[Layer[], Parameters<Sequential['compile']>[0]['loss'], RegExp]> = [
      [[new Dense(3, 2, { activation: 'softmax' })], 'cross-entropy', /ends with 'softmax', and the loss 'cross-entropy' applies softmax itself: remove the activation/],
      [[new Dense(3, 2), new Activation('softmax'), new Dropout(0.2)], losses.create('cross-entropy', { labelSmoothing: 0.1 }), /'softmax'.*'cross-entropy'/],
      [[new Dense(3, 2, { activation: 'softmax' })], 'nll', /'nll' expects log-probabilities: end with 'log-softmax'/],
      [[new Dense(3, 2, { activation: 'sigmoid' })], 'bce-with-logits', /'bce-with-logits' applies sigmoid itself: remove the activation, or keep it and use 'bce'/],
      [[new Dense(3, 2), new Activation('sigmoid')], 'focal', /'focal' applies sigmoid itself/],
    ];
    for (const [layers, loss, text] of cases) {
      const seen = warnings();
      const m = build(layers);
      m.compile({ loss, optimizer: 'sgd' });
      m.compile({ loss, optimizer: 'adam' });  // once per model, not per compile
      vi.restoreAllMocks();
      expect(seen.length, String(text)).toBe(1);
      expect(seen[0]!.code).toBe(LOSS_PAIRING_WARNING);
      expect(seen[0]!.message).toMatch(text);
    }
  });

  it('stays silent for the pairings that are right, and for custom losses', () => {
    const custom = { forward: () => 0, backward: (p: Matrix) => new Matrix(p.rows, p.cols) };
    const cases: Array<[Layer[], Parameters<Sequential['compile']>[0]['loss']]> = [
      [[new Dense(3, 2)], 'cross-entropy'],
      [[new Dense(3, 2, { activation: 'log-softmax' })], 'nll'],
      [[new Dense(3, 2, { activation: 'log-softmax' })], 'cross-entropy'],  // shift-invariant: the same loss
      [[new Dense(3, 2, { activation: 'sigmoid' })], 'bce'],
      [[new Dense(3, 2, { activation: 'softmax' })], 'mse'],
      [[new Dense(3, 2, { activation: 'softmax' }), new LayerNorm(2)], 'cross-entropy'],  // not the output any more
      [[new Dense(3, 2, { activation: 'softmax' })], custom],
    ];
    for (const [layers, loss] of cases) {
      const seen = warnings();
      build(layers).compile({ loss, optimizer: 'sgd' });
      vi.restoreAllMocks();
      expect(seen, JSON.stringify(layers.map((l) => l.toString()))).toEqual([]);
    }
  });

  it('a warned model still compiles and trains as asked', async () => {
    warnings();
    const m = build([new Dense(3, 2, { activation: 'softmax' })]);
    m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    const before = m.evaluate(X, Y)['loss']!;
    await m.fit(X, Y, { epochs: 5, batchSize: 5 });
    expect(m.evaluate(X, Y)['loss']!).toBeLessThan(before);
  });
});

describe('lossPairingProblem', () => {
  it('looks through Dropout only', () => {
    expect(lossPairingProblem([new Dense(3, 2, { activation: 'softmax' }), new Dropout(0.5), new Dropout(0.1)], 'cross-entropy')).toMatch(/softmax/);
    expect(lossPairingProblem([new Activation('softmax'), new LayerNorm(3)], 'cross-entropy')).toBeNull();
    expect(lossPairingProblem([new Dropout(0.5)], 'cross-entropy')).toBeNull();
  });
});
