// Sequential: compile / fit / predict / evaluate / trainStep / getWeights /
// setWeights, in both engines, including the error paths.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Matrix, Sequential, losses, optim } from '../lib';
import { ENGINES, randomArray } from './helpers';

const X = new Matrix(30, 4, randomArray(120, 2, Float32Array));
const Y = Int32Array.from({ length: 30 }, (_, i) => i % 3);

function model(engine: 'native' | 'js', seed = 3) {
  return new Sequential([new Dense(4, 8, { activation: 'tanh' }), new Dense(8, 3)], { engine, seed });
}

describe.each(ENGINES)('Sequential (%s engine)', (engine) => {
  it('names parameters as a PyTorch state_dict and counts them (4-3-3-1 has 31, SPEC.md §7)', () => {
    const m = new Sequential([new Dense(4, 3, { activation: 'relu' }), new Dense(3, 3, { activation: 'relu' }), new Activation('tanh'), new Dense(3, 1)], { engine });
    expect(m.paramCount).toBe(31);
    const w = m.getWeights();
    expect(Object.keys(w)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias']);
    expect(w['0.weight']!.length).toBe(12);
    expect(Array.from(w['0.bias']!)).toEqual([0, 0, 0]);
    expect(m.summary()).toContain('Total parameters: 31');
    expect(m.engine).toBe(engine);
  });

  it('summary keeps its columns apart when a layer description is longer than the default column', () => {
    const m = new Sequential([new Dense(3, 4, { activation: { name: 'softplus', beta: 2, threshold: 10 } }), new Dense(4, 2)], { engine });
    const lines = m.summary().split('\n');
    // '0: Dense(3 → 4, activation: 'softplus' (beta 2, threshold 10))' ran into its output width: '...10))4        16'.
    const outputAt = lines[0]!.indexOf('Output');
    const paramsAt = lines[0]!.indexOf('Params');
    for (const [line, output, params] of [[lines[1]!, '4', '16'], [lines[2]!, '2', '10']] as const) {
      expect(line.slice(0, outputAt)).toMatch(/\S\s+$/);        // the description, then at least one space
      expect(line.slice(outputAt, paramsAt).trim()).toBe(output);
      expect(line.slice(paramsAt).trim()).toBe(params);
    }
  });

  it('predict gives one row per input row, in eval mode, for nested arrays too', () => {
    const m = model(engine);
    const p = m.predict(X);
    expect([p.rows, p.cols]).toEqual([30, 3]);
    expect(Array.from(m.predict(X.toArray()).data)).toEqual(Array.from(p.data));
    expect(Array.from(m.predict({ data: Array.from(X.data), rows: 30, cols: 4 }).data)).toEqual(Array.from(p.data));
  });

  it('fit lowers the loss and records a Keras-style history with validation', async () => {
    const m = model(engine);
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.05 }), metrics: ['accuracy'] });
    const before = m.evaluate(X, Y).loss;
    const epochsSeen: number[] = [];
    const h = await m.fit(X, Y, { epochs: 20, batchSize: 8, validationSplit: 0.2, onEpochEnd: (e) => { epochsSeen.push(e); } });
    expect(h.epoch).toEqual([...Array(20).keys()]);
    expect(epochsSeen).toEqual(h.epoch);
    expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(h.history.loss!.at(-1)!).toBeLessThan(h.history.loss![0]!);
    const after = m.evaluate(X, Y);
    expect(after.loss).toBeLessThan(before);
    expect(after.accuracy).toBeGreaterThan(0.5);
  });

  it('trainStep returns the loss before the step, like fit on one batch', () => {
    const a = model(engine, 5);
    const b = model(engine, 5);
    for (const m of [a, b]) m.compile({ loss: 'cross-entropy', optimizer: 'sgd' });
    const before = a.evaluate(X, Y).loss;
    expect(a.trainStep(X, Y)).toBeCloseTo(before, 5);
    return b.fit(X, Y, { epochs: 1, batchSize: 30, shuffle: false }).then(() => {
      expect(Array.from(b.predict(X).data)).toEqual(Array.from(a.predict(X).data));
    });
  });

  it('regresses with mse on a matrix or a flat target for one output', async () => {
    const m = new Sequential([new Dense(1, 16, { activation: 'tanh' }), new Dense(16, 1)], { engine, seed: 1 });
    m.compile({ loss: 'mse', optimizer: new optim.Adam({ lr: 0.02 }) });
    const xs = Array.from({ length: 64 }, (_, i) => [i / 32 - 1]);
    const ys = xs.map(([v]) => Math.sin(3 * v!));
    await m.fit(xs, ys, { epochs: 300, batchSize: 16 });
    expect(m.evaluate(xs, ys.map((v) => [v])).loss).toBeLessThan(0.01);
  });

  it('trains with a custom TypeScript loss (SPEC.md §7: custom CE 0.407606)', async () => {
    // Categorical cross-entropy written here from its definition.
    const customCE = {
      forward(pred: Matrix, target: Int32Array) {
        let total = 0;
        for (let r = 0; r < pred.rows; r++) {
          const row = Array.from(pred.row(r));
          const max = Math.max(...row);
          const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
          total += lse - row[target[r]!]!;
        }
        return total / pred.rows;
      },
      backward(pred: Matrix, target: Int32Array) {
        const g = new Matrix(pred.rows, pred.cols, undefined, pred.dtype);
        for (let r = 0; r < pred.rows; r++) {
          const row = Array.from(pred.row(r));
          const max = Math.max(...row);
          const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
          row.forEach((v, c) => g.set(r, c, (Math.exp(v - max) / sum - (c === target[r] ? 1 : 0)) / pred.rows));
        }
        return g;
      },
    };
    const logits = Matrix.from([[1.5, 0.5, -0.5], [-0.5, 1.5, 0.5], [0.5, -0.5, 1.5]], 'float64');
    expect(customCE.forward(logits, new Int32Array([0, 1, 2]))).toBeCloseTo(0.407606, 6);

    const a = model(engine, 8);
    const b = model(engine, 8);
    a.compile({ loss: customCE, optimizer: new optim.SGD({ lr: 0.1 }) });
    b.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.1 }) });
    expect(a.evaluate(X, Y).loss).toBeCloseTo(b.evaluate(X, Y).loss, 5);
    const ha = await a.fit(X, Y, { epochs: 3, batchSize: 8, shuffle: true });
    const hb = await b.fit(X, Y, { epochs: 3, batchSize: 8, shuffle: true });
    for (let e = 0; e < 3; e++) expect(ha.history.loss![e]!).toBeCloseTo(hb.history.loss![e]!, 4);
  });

  it('round-trips weights and rejects partial, misnamed or non-finite ones without changing the model', () => {
    const a = model(engine, 1);
    const b = model(engine, 2);
    b.setWeights(a.getWeights());
    expect(Array.from(b.predict(X).data)).toEqual(Array.from(a.predict(X).data));
    const w = a.getWeights();
    const before = Array.from(b.predict(X).data);
    expect(() => b.setWeights({ ...w, '9.weight': new Float32Array(1) })).toThrow(/Unknown parameter name.*'9.weight'/);
    const { ['1.bias']: _dropped, ...partial } = w;
    expect(() => b.setWeights(partial)).toThrow(/Missing weights\['1.bias'\]/);
    expect(() => b.setWeights({ ...w, '0.bias': new Float32Array(3) })).toThrow(/Expected 8 values/);
    expect(() => b.setWeights({ ...w, '1.bias': [0, NaN, 0] })).toThrow(/finite/);
    expect(() => b.setWeights({ ...w, '1.bias': 'abc' as never })).toThrow(TypeError);
    expect(() => b.setWeights(null as never)).toThrow(TypeError);
    expect(Array.from(b.predict(X).data)).toEqual(before);
    // getWeights returns copies: editing them does not touch the model.
    w['0.weight']!.fill(0);
    expect(Array.from(a.getWeights()['0.weight']!)).not.toEqual(Array.from(w['0.weight']!));
  });

  it('setWeights refuses a float64 value that a float32 model would store as Infinity, changing nothing', () => {
    const a = model(engine, 1);
    expect(a.dtype).toBe('float32');
    const w = a.getWeights();
    const before = Array.from(a.predict(X).data);
    const huge = Float64Array.from(w['0.bias']!);
    huge[2] = 1e300;   // finite in float64, +Infinity in float32: predict then gave Infinity/NaN
    expect(() => a.setWeights({ ...w, '0.bias': huge })).toThrow(RangeError);
    expect(() => a.setWeights({ ...w, '0.bias': Array.from(huge) })).toThrow(
      /Expected finite numbers within float32's range \(±3.4e38\) for weights\['0.bias'\] but received 1e\+300 at index 2/);
    expect(Array.from(a.predict(X).data)).toEqual(before);
    a.setWeights({ ...w, '0.bias': Float64Array.from(w['0.bias']!) });   // in range: fine
    expect(Array.from(a.predict(X).data)).toEqual(before);
  });

  it('getWeights gives each tensor its own buffer: all can go in one transfer list, one can go without the rest', () => {
    const a = model(engine, 3);
    const w = a.getWeights();
    for (const v of Object.values(w)) expect(v.buffer.byteLength).toBe(v.byteLength);
    const { port1, port2 } = new MessageChannel();
    try {
      // One buffer behind every tensor made this a DataCloneError (a duplicate in the transfer list).
      port1.postMessage(w, Object.values(w).map((v) => v.buffer));
      const mine = a.getWeights();
      port1.postMessage(mine['0.bias'], [mine['0.bias']!.buffer]);
      expect(mine['0.bias']!.length).toBe(0);          // transferred
      expect(mine['0.weight']!.length).toBe(a.getWeights()['0.weight']!.length);   // the others stay
    } finally {
      port1.close();
      port2.close();
    }
  });

  it('refuses a second fit or trainStep while fit runs; predict answers from the snapshot', async () => {
    const m = model(engine);
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    const beforeFit = Array.from(m.predict(X).data);
    const big = new Matrix(4000, 4, randomArray(16000, 9, Float32Array));
    const bigY = Int32Array.from({ length: 4000 }, (_, i) => i % 3);
    const running = m.fit(big, bigY, { epochs: 2, batchSize: 4 });
    expect(() => m.trainStep(X, Y)).toThrow(/the model is training/);
    expect(Array.from(m.predict(X).data)).toEqual(beforeFit);  // the weights at fit's start
    await expect(m.fit(X, Y)).rejects.toThrow(/the model is training/);
    await running;
    expect(() => m.predict(X)).not.toThrow();
  });

  it('stops on a non-finite loss naming the epoch and batch, without applying that update', async () => {
    // Finite data whose squared error overflows float64: the first batch's loss is +Infinity.
    const m = new Sequential([new Dense(4, 3)], { engine, seed: 4, dtype: 'float64' });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    const initial = m.getWeights();
    const huge = new Matrix(30, 4, new Float64Array(120).fill(1e200));
    const target = new Matrix(30, 3, undefined, 'float64');
    await expect(m.fit(huge, target, { epochs: 2, batchSize: 10, shuffle: false })).rejects.toThrow(/epoch 1, batch 1 /);
    expect(() => m.trainStep(huge, target)).toThrow(/step was not applied/);
    const after = m.getWeights();
    for (const k of Object.keys(initial)) expect(Array.from(after[k]!)).toEqual(Array.from(initial[k]!));
  });

  it('rejects bad arguments with named TypeErrors and RangeErrors', async () => {
    expect(() => new Sequential([], { engine })).toThrow(/at least one layer/);
    expect(() => new Sequential('dense' as never)).toThrow(TypeError);
    expect(() => new Sequential([{} as never])).toThrow(/layers\[0\]/);
    expect(() => new Sequential([new Dense(4, 8), new Dense(9, 2)], { engine })).toThrow(/layers\[1\] to take 8 inputs/);
    expect(() => new Sequential([new Activation('relu')], { engine })).toThrow(/Dense/);
    expect(() => new Sequential([new Dense(2, 2)], { engine, seed: -1 })).toThrow(/seed/);
    expect(() => new Sequential([new Dense(2, 2)], { engine, dtype: 'float16' as never })).toThrow(/dtype/);
    expect(() => new Sequential([new Dense(2, 2)], { engine, lr: 1 } as never)).toThrow(/Unknown option 'lr'/);
    expect(() => new Dense(0, 2)).toThrow(/inFeatures/);
    expect(() => new Dense(2, 2.5)).toThrow(/outFeatures/);
    expect(() => new Dense(2, 2, { activation: 'mish' as never })).toThrow(/activation/);
    expect(() => new Dense(2, 2, { weightInit: 'magic' as never })).toThrow(/weightInit/);
    expect(() => new Activation('nope' as never)).toThrow(RangeError);

    const m = model(engine);
    expect(() => m.trainStep(X, Y)).toThrow(/compile/);
    expect(() => m.evaluate(X, Y)).toThrow(/compile/);
    await expect(m.fit(X, Y)).rejects.toThrow(/compile/);
    expect(() => m.compile({} as never)).toThrow(/loss/);
    expect(() => m.compile({ loss: 'cosh' })).toThrow(/loss/);
    expect(() => m.compile({ loss: 'mse', optimizer: 'lbfgs' })).toThrow(/optimizer/);
    expect(() => m.compile({ loss: 'mse', metrics: ['auc' as never] })).toThrow(/metrics\[0\]/);
    expect(() => m.compile({ loss: { forward: 1 } as never })).toThrow(TypeError);
    m.compile({ loss: losses.create('cross-entropy'), optimizer: 'adam' });

    expect(() => m.predict(new Matrix(2, 5))).toThrow(/4 columns for x/);
    expect(() => m.predict('x')).toThrow(TypeError);
    expect(() => m.predict([[1, 2, 3, 'a']] as never)).toThrow(TypeError);
    expect(() => m.trainStep(X, Y.subarray(0, 5))).toThrow(/30 class indices/);
    expect(() => m.trainStep(X, Array(30).fill(3))).toThrow(/class indices/);
    expect(() => m.trainStep(X, Array(30).fill(1.5))).toThrow(RangeError);
    await expect(m.fit(X, Y, { epochs: 0 })).rejects.toThrow(/epochs/);
    await expect(m.fit(X, Y, { batchSize: -1 })).rejects.toThrow(/batchSize/);
    await expect(m.fit(X, Y, { validationSplit: 1 })).rejects.toThrow(/validationSplit/);
    await expect(m.fit(X, Y, { epoch: 3 } as never)).rejects.toThrow(/Unknown option 'epoch'/);
    await expect(m.fit(X, Y, { onEpochEnd: 3 } as never)).rejects.toThrow(/onEpochEnd/);
    await expect(m.fit(X, Y, { validationData: [X] } as never)).rejects.toThrow(/validationData/);
    const nanX = new Matrix(30, 4, X.data.slice());
    nanX.data[45] = NaN;
    await expect(m.fit(nanX, Y)).rejects.toThrow(/finite values in x .* row 11, column 1/);
  });
});
