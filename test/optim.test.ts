// Optimizers against the update rules written out here from torch.optim's
// documentation (SPEC.md §4), step by step on real gradients, in both engines.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, optim } from '../lib';
import type { LayerSpec, OptimizerSpec } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, randomArray } from './helpers';

type Rule = (p: Float64Array, g: Float64Array, state: Float64Array[], t: number) => void;

function sgdRule(s: OptimizerSpec): Rule {
  return (p, g, [v], t) => {
    for (let i = 0; i < p.length; i++) {
      let d = g[i]! + s.weightDecay * p[i]!;
      if (s.momentum !== 0) {
        v![i] = t === 1 ? d : s.momentum * v![i]! + (1 - s.dampening) * d;
        d = s.nesterov ? d + s.momentum * v![i]! : v![i]!;
      }
      p[i]! -= s.lr * d;
    }
  };
}

function adamRule(s: OptimizerSpec): Rule {
  return (p, g, [m, v], t) => {
    for (let i = 0; i < p.length; i++) {
      if (s.kind === 'adamw') p[i]! -= s.lr * s.weightDecay * p[i]!;
      const d = g[i]! + (s.kind === 'adam' ? s.weightDecay * p[i]! : 0);
      m![i] = s.beta1 * m![i]! + (1 - s.beta1) * d;
      v![i] = s.beta2 * v![i]! + (1 - s.beta2) * d * d;
      const mHat = m![i]! / (1 - s.beta1 ** t);
      const vHat = v![i]! / (1 - s.beta2 ** t);
      p[i]! -= (s.lr * mHat) / (Math.sqrt(vHat) + s.eps);
    }
  };
}

const LAYERS: LayerSpec[] = [{ kind: 'dense', inFeatures: 4, outFeatures: 5 }, { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 5, outFeatures: 3 }];

const OPTIMIZERS: [string, optim.Optimizer][] = [
  ['sgd', new optim.SGD({ lr: 0.1 })],
  ['sgd momentum + dampening + weight decay', new optim.SGD({ lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 })],
  ['sgd nesterov', new optim.SGD({ lr: 0.05, momentum: 0.8, nesterov: true })],
  ['adam', new optim.Adam({ lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.02 })],
  ['adamw', new optim.AdamW({ lr: 0.01, weightDecay: 0.1 })],
];

describe.each(ENGINES)('optimizers (%s engine)', (name) => {
  for (const [label, opt] of OPTIMIZERS) {
    it(`${label} follows the torch.optim update rule for 5 steps`, () => {
      const spec = opt.toSpec();
      const plan = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 6 });
      plan.setLoss({ kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 });
      plan.setOptimizer(spec);
      const expected = randomArray(plan.paramCount, 3) as Float64Array;
      plan.setParams(expected);
      const state = [new Float64Array(plan.paramCount), new Float64Array(plan.paramCount)];
      const rule = spec.kind === 'sgd' ? sgdRule(spec) : adamRule(spec);
      const x = randomArray(24, 4) as Float64Array;
      const y = new Int32Array([0, 1, 2, 2, 1, 0]);
      const g = new Float64Array(plan.paramCount);
      const actual = new Float64Array(plan.paramCount);
      for (let t = 1; t <= 5; t++) {
        plan.computeGradients(x, 6, y);
        plan.getGrads(g);
        plan.step();
        rule(expected, g, state, t);
        plan.getParams(actual);
        expect(maxRelDiff(actual, expected)).toBeLessThan(1e-12);
      }
      expect(plan.stepCount).toBe(5);
    });
  }

  it('rejects out-of-range specs given to the plan directly', () => {
    const plan = engine(name).createPlan({ dtype: 'float32', layers: LAYERS, maxBatch: 6 });
    const base = new optim.SGD().toSpec();
    const bad: Partial<OptimizerSpec>[] = [
      { kind: 'adagrad', lrDecay: -1 }, { kind: 'adagrad', initialAccumulatorValue: -1 }, { kind: 'adagrad', eps: 0 },
      { kind: 'rmsprop', alpha: 2 }, { kind: 'rmsprop', momentum: -1 }, { kind: 'rmsprop', eps: NaN },
      { kind: 'adam', beta2: 1 }, { kind: 'sgd', clipNorm: -1 }, { kind: 'adamw', clipValue: Infinity },
      { kind: 'adadelta' as never },
    ];
    for (const b of bad) expect(() => plan.setOptimizer({ ...base, ...b }), JSON.stringify(b)).toThrow(RangeError);
    expect(() => plan.setOptimizer({ ...base, kind: 'rmsprop', centered: 'no' as never })).toThrow(TypeError);
    expect(() => plan.setOptimizer({ ...base, kind: 'adam', amsgrad: 1 as never })).toThrow(TypeError);
  });

  it('keeps state across hyper-parameter changes of every kind, and resets it when the state layout changes', () => {
    const plan = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 6 });
    plan.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    const x = randomArray(24, 1);
    const y = randomArray(18, 2);
    const keeps: [OptimizerSpec, OptimizerSpec][] = [
      [new optim.Adagrad({ lr: 0.1 }).toSpec(), new optim.Adagrad({ lr: 0.01, lrDecay: 0.1 }).toSpec()],
      [new optim.RMSprop({ centered: true, momentum: 0.9 }).toSpec(), new optim.RMSprop({ centered: true, momentum: 0.5, alpha: 0.9 }).toSpec()],
      [new optim.Adam({ amsgrad: true }).toSpec(), new optim.Adam({ amsgrad: true, lr: 0.1 }).toSpec()],
    ];
    for (const [a, b] of keeps) {
      plan.setOptimizer(a);
      plan.resetOptimizer();
      plan.trainStep(x, 6, y);
      plan.setOptimizer(b);
      expect(plan.stepCount, `${a.kind} → same layout`).toBe(1);
    }
    const resets: [OptimizerSpec, OptimizerSpec][] = [
      [new optim.RMSprop({ centered: true }).toSpec(), new optim.RMSprop({ momentum: 0.9 }).toSpec()], // same size, other slice
      [new optim.RMSprop().toSpec(), new optim.RMSprop({ centered: true }).toSpec()],
      [new optim.Adam().toSpec(), new optim.Adam({ amsgrad: true }).toSpec()],
      [new optim.Adagrad().toSpec(), new optim.RMSprop().toSpec()], // same size, other kind
    ];
    for (const [a, b] of resets) {
      plan.setOptimizer(a);
      plan.trainStep(x, 6, y);
      plan.setOptimizer(b);
      expect(plan.stepCount, `${a.kind} → ${b.kind}, new layout`).toBe(0);
    }
  });

  it('clipNorm bounds the update of plain SGD to lr·clipNorm; clipValue bounds each coordinate', () => {
    const plan = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 6 });
    plan.setLoss({ kind: 'mse', reduction: 'sum', labelSmoothing: 0 });
    const start = randomArray(plan.paramCount, 3) as Float64Array;
    const x = randomArray(24, 4);
    const y = randomArray(18, 5).map((v) => v * 10) as Float64Array; // large errors, large gradients
    const g = new Float64Array(plan.paramCount);
    plan.setParams(start);
    plan.computeGradients(x, 6, y);
    plan.getGrads(g);
    const norm = Math.hypot(...g);
    expect(norm).toBeGreaterThan(10);
    const after = new Float64Array(plan.paramCount);
    for (const [spec, check] of [
      [new optim.SGD({ lr: 0.1, clipNorm: 1 }), (d: number[]) => {
        // Direction kept, length lr·clipNorm (torch's 1e-6 in the coefficient aside).
        expect(Math.hypot(...d)).toBeCloseTo(0.1, 6);
        for (let i = 0; i < d.length; i++) expect(d[i]!).toBeCloseTo(-0.1 * g[i]! / norm, 8);
      }],
      [new optim.SGD({ lr: 0.1, clipValue: 0.5 }), (d: number[]) => {
        for (let i = 0; i < d.length; i++) expect(d[i]!).toBeCloseTo(-0.1 * Math.min(Math.max(g[i]!, -0.5), 0.5), 12);
        expect(Math.max(...d.map(Math.abs))).toBeCloseTo(0.05, 12);
      }],
    ] as const) {
      plan.setOptimizer(spec.toSpec());
      plan.setParams(start);
      plan.trainStep(x, 6, y);
      plan.getParams(after);
      check(Array.from(after, (v, i) => v - start[i]!));
    }
  });

  it('a too-large learning rate diverges, a small one converges (SPEC §7)', () => {
    // Linear regression y = x·w (MSE): plain gradient descent converges only
    // for lr < 2/λmax of the Hessian; far above it every step overshoots more.
    const run = (opt: optim.Optimizer): number[] => {
      const m = new Sequential([new Dense(3, 1)], { engine: name, seed: 5, dtype: 'float64' });
      m.compile({ loss: 'mse', optimizer: opt });
      const x = new Matrix(16, 3, randomArray(48, 11).map((v) => 3 * v) as Float64Array);
      const y = new Matrix(16, 1, Float64Array.from({ length: 16 }, (_, i) => x.data[3 * i]! - 2 * x.data[3 * i + 1]!));
      const losses: number[] = [];
      for (let t = 0; t < 30; t++) {
        try {
          losses.push(m.trainStep(x, y));
        } catch (e) {
          // A non-finite loss stops training with a RangeError naming it.
          expect(String(e)).toMatch(/Loss is (NaN|Infinity|-Infinity)/);
          losses.push(Infinity);
          break;
        }
      }
      return losses;
    };
    for (const opt of [new optim.SGD({ lr: 5 }), new optim.SGD({ lr: 2, momentum: 0.9 })]) {
      const losses = run(opt);
      const last = losses[losses.length - 1]!;
      expect(!Number.isFinite(last) || last > 1e6 * losses[0]!).toBe(true);
    }
    const good = run(new optim.SGD({ lr: 0.02 }));
    expect(good[good.length - 1]!).toBeLessThan(0.1 * good[0]!);
  });

  it('trainEpoch applies every optimizer and clipping exactly as successive trainStep calls', async () => {
    const x = randomArray(40, 8) as Float64Array; // 10 rows × 4
    const y = Int32Array.from({ length: 10 }, (_, i) => i % 3);
    const order = Int32Array.from([3, 7, 1, 9, 0, 5, 2, 8, 6, 4]);
    for (const opt of [new optim.Adagrad({ lr: 0.1, lrDecay: 0.1, clipValue: 0.05 }),
      new optim.RMSprop({ lr: 0.01, momentum: 0.9, centered: true, clipNorm: 0.1 }),
      new optim.AdamW({ lr: 0.01, amsgrad: true, clipNorm: 0.2, clipValue: 0.05 })]) {
      const [byEpoch, bySteps] = [0, 1].map(() => {
        const p = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 4 });
        p.setLoss({ kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 });
        p.setOptimizer(opt.toSpec());
        p.setParams(randomArray(p.paramCount, 9));
        return p;
      });
      const result = await byEpoch!.trainEpoch(x, 10, y, 4, order);
      expect(result.batches).toBe(3);
      for (let b = 0; b < 10; b += 4) {
        const rows = Math.min(4, 10 - b);
        const xb = new Float64Array(rows * 4);
        const yb = new Int32Array(rows);
        for (let r = 0; r < rows; r++) {
          xb.set(x.subarray(order[b + r]! * 4, order[b + r]! * 4 + 4), r * 4);
          yb[r] = y[order[b + r]!]!;
        }
        bySteps!.trainStep(xb, rows, yb);
      }
      const [a, b] = [byEpoch!, bySteps!].map((p) => {
        const out = new Float64Array(p.paramCount);
        p.getParams(out);
        return out;
      });
      expect(maxRelDiff(a!, b!), opt.toSpec().kind).toBeLessThan(1e-12);
      expect(byEpoch!.stepCount).toBe(3);
    }
  });

  it('keeps Adam state across a learning-rate change and resets it on a new kind', () => {
    const plan = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 6 });
    plan.setLoss({ kind: 'mse', reduction: 'mean', labelSmoothing: 0 });
    const adam = new optim.Adam({ lr: 0.01 });
    plan.setOptimizer(adam.toSpec());
    plan.trainStep(randomArray(24, 1), 6, randomArray(18, 2));
    adam.lr = 0.001;
    plan.setOptimizer(adam.toSpec());
    expect(plan.stepCount).toBe(1);
    plan.setOptimizer(new optim.SGD().toSpec());
    expect(plan.stepCount).toBe(0);
  });
});

describe('engine parity of every optimizer', () => {
  const OPTS: [string, () => optim.Optimizer][] = [
    ['adagrad', () => new optim.Adagrad({ lr: 0.05, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 1e-3 })],
    ['rmsprop centered momentum', () => new optim.RMSprop({ lr: 0.003, momentum: 0.9, centered: true, weightDecay: 1e-3 })],
    ['adam amsgrad clipNorm', () => new optim.Adam({ lr: 0.01, amsgrad: true, clipNorm: 0.5 })],
    ['adamw amsgrad clipValue', () => new optim.AdamW({ lr: 0.01, amsgrad: true, clipValue: 0.01 })],
    ['sgd nesterov clipNorm clipValue', () => new optim.SGD({ lr: 0.1, momentum: 0.9, nesterov: true, clipNorm: 0.3, clipValue: 0.02 })],
  ];
  const X = new Matrix(40, 6, randomArray(240, 1, Float32Array));
  const Y = Int32Array.from({ length: 40 }, (_, i) => (i * 7) % 3);
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [label, make] of OPTS) {
      it(`${label}: 10 mini-batch steps agree (${dtype})`, () => {
        const models = (['native', 'js'] as const).map((e) => {
          const m = new Sequential([new Dense(6, 16, { activation: 'relu' }), new Dense(16, 8, { activation: 'tanh' }),
            new Dense(8, 3)], { engine: e, seed: 7, dtype });
          m.compile({ loss: 'cross-entropy', optimizer: make() });
          return m;
        });
        const before = models[0]!.getWeights()['0.weight']!.slice();
        for (let step = 0; step < 10; step++) {
          const rows = new Matrix(8, 6, X.data.slice(step % 5 * 48, step % 5 * 48 + 48));
          const y = Y.slice(step % 5 * 8, step % 5 * 8 + 8);
          const [a, b] = models.map((m) => m.trainStep(rows, y));
          expect(Math.abs(a! - b!)).toBeLessThan(1e-5);
        }
        const [wa, wb] = models.map((m) => m.getWeights());
        for (const k of Object.keys(wa!)) expect(maxRelDiff(wa![k]!, wb![k]!), k).toBeLessThan(1e-5);
        expect(maxRelDiff(wa!['0.weight']!, before)).toBeGreaterThan(1e-3); // it trained
      });
    }
  }
});

describe('optimizer options', () => {
  it('have PyTorch defaults', () => {
    expect(new optim.SGD().toSpec()).toMatchObject({ kind: 'sgd', lr: 0.01, momentum: 0, nesterov: false, weightDecay: 0 });
    expect(new optim.Adam().toSpec()).toMatchObject({ kind: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0,
      amsgrad: false });
    expect(new optim.AdamW().toSpec()).toMatchObject({ kind: 'adamw', weightDecay: 0.01, amsgrad: false });
    expect(new optim.Adagrad().toSpec()).toMatchObject({ kind: 'adagrad', lr: 0.01, eps: 1e-10, lrDecay: 0,
      initialAccumulatorValue: 0, weightDecay: 0 });
    expect(new optim.RMSprop().toSpec()).toMatchObject({ kind: 'rmsprop', lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0,
      centered: false, weightDecay: 0 });
    for (const o of [new optim.SGD(), new optim.Adagrad(), new optim.RMSprop(), new optim.Adam()]) {
      expect(o.toSpec()).toMatchObject({ clipNorm: 0, clipValue: 0 }); // 0: off
      expect(o.clipNorm).toBeUndefined();
    }
    expect(new optim.SGD({ clipNorm: 1, clipValue: 0.5 }).toSpec()).toMatchObject({ clipNorm: 1, clipValue: 0.5 });
  });

  it('names give the defaults of their class', () => {
    for (const [name, Ctor] of [['sgd', optim.SGD], ['adagrad', optim.Adagrad], ['rmsprop', optim.RMSprop],
      ['adam', optim.Adam], ['adamw', optim.AdamW]] as const) {
      const m = new Sequential([new Dense(2, 2)], { engine: 'js', seed: 1 });
      m.compile({ loss: 'mse', optimizer: name });
      const ref = new Sequential([new Dense(2, 2)], { engine: 'js', seed: 1 });
      ref.compile({ loss: 'mse', optimizer: new Ctor() });
      const x = [[1, -2], [0.5, 3]];
      const y = new Matrix(2, 2, new Float32Array([1, 0, 0, 1]));
      for (let t = 0; t < 3; t++) expect(m.trainStep(x, y)).toBe(ref.trainStep(x, y));
      expect(m.getWeights()['0.weight']).toEqual(ref.getWeights()['0.weight']);
    }
    const m = new Sequential([new Dense(2, 2)], { engine: 'js' });
    expect(() => m.compile({ loss: 'mse', optimizer: 'adadelta' })).toThrow(RangeError);
    expect(() => m.compile({ loss: 'mse', optimizer: 'adadelta' })).toThrow(/'rmsprop'.*for optimizer but received 'adadelta'/);
    expect(() => m.compile({ loss: 'mse', optimizer: 3 as never })).toThrow(TypeError);
  });

  it('reject bad values of every new option with errors that name it', () => {
    const cases: [() => unknown, ErrorConstructor, RegExp][] = [
      [() => new optim.Adagrad({ lr: -0.1 }), RangeError, /for lr/],
      [() => new optim.Adagrad({ lrDecay: -1 }), RangeError, /for lrDecay/],
      [() => new optim.Adagrad({ initialAccumulatorValue: -0.1 }), RangeError, /for initialAccumulatorValue/],
      [() => new optim.Adagrad({ eps: 0 }), RangeError, /for eps/],
      [() => new optim.Adagrad({ weightDecay: Infinity }), RangeError, /for weightDecay/],
      [() => new optim.Adagrad({ lrDecay: '0.1' as never }), TypeError, /for lrDecay/],
      [() => new optim.Adagrad({ momentum: 0.9 } as never), RangeError, /Unknown option 'momentum'/],
      [() => new optim.RMSprop({ alpha: 1.5 }), RangeError, /for alpha/],
      [() => new optim.RMSprop({ alpha: -0.1 }), RangeError, /for alpha/],
      [() => new optim.RMSprop({ eps: -1e-8 }), RangeError, /for eps/],
      [() => new optim.RMSprop({ momentum: -0.9 }), RangeError, /for momentum/],
      [() => new optim.RMSprop({ centered: 1 as never }), TypeError, /for centered/],
      [() => new optim.RMSprop({ nesterov: true } as never), RangeError, /Unknown option 'nesterov'/],
      [() => new optim.Adam({ amsgrad: 'yes' as never }), TypeError, /for amsgrad/],
      [() => new optim.AdamW({ amsgrad: null as never }), TypeError, /for amsgrad/],
      [() => new optim.AdamW({ betas: [-0.1, 0.9] }), RangeError, /for betas\[0\]/],
      [() => new optim.AdamW({ betas: 0.9 as never }), TypeError, /for betas/],
      [() => new optim.SGD({ clipNorm: 0 }), RangeError, /for clipNorm/],
      [() => new optim.Adam({ clipNorm: -1 }), RangeError, /for clipNorm/],
      [() => new optim.RMSprop({ clipNorm: NaN }), RangeError, /for clipNorm/],
      [() => new optim.Adagrad({ clipValue: 0 }), RangeError, /for clipValue/],
      [() => new optim.AdamW({ clipValue: Infinity }), RangeError, /for clipValue/],
      [() => new optim.SGD({ clipValue: '1' as never }), TypeError, /for clipValue/],
      [() => new optim.SGD([] as never), TypeError, /SGD options/],
      [() => new optim.RMSprop(null as never), TypeError, /RMSprop options/],
    ];
    for (const [make, Type, message] of cases) {
      expect(make, String(message)).toThrow(Type);
      expect(make, String(message)).toThrow(message);
    }
  });

  it('reject bad values with named errors', () => {
    expect(() => new optim.SGD({ lr: -1 })).toThrow(/lr/);
    expect(() => new optim.SGD({ lr: NaN })).toThrow(RangeError);
    expect(() => new optim.SGD({ lr: '0.1' as never })).toThrow(TypeError);
    expect(() => new optim.SGD({ momentum: -0.5 })).toThrow(/momentum/);
    expect(() => new optim.SGD({ nesterov: true })).toThrow(/Nesterov/);
    expect(() => new optim.SGD({ learningRate: 0.1 } as never)).toThrow(/Unknown option 'learningRate'/);
    expect(() => new optim.Adam({ betas: [0.9, 1] })).toThrow(/betas\[1\]/);
    expect(() => new optim.Adam({ betas: [0.9] as never })).toThrow(/betas/);
    expect(() => new optim.Adam({ eps: 0 })).toThrow(/eps/);
    const a = new optim.Adam();
    expect(() => { a.lr = -0.1; }).toThrow(/lr/);
    expect(a.lr).toBe(1e-3);
  });
});
