// Internal tests of the pure-TypeScript engine (lib/engines/js): kernels
// against naive references and finite differences (STYLE.md §12), the worked
// numbers of SPEC.md §7, and the plan's training semantics. Everything here
// runs without the native addon.
import { describe, expect, it } from 'vitest';
import type { ActivationName, FloatArray, LayerSpec, LossSpec, OptimizerSpec, Target } from '../lib/engine';
import { activationBackward, activationForward } from '../lib/engines/js/activations';
import { gemm, gemmRef } from '../lib/engines/js/gemm';
import { jsEngine } from '../lib/engines/js';
import { lossForwardBackward } from '../lib/engines/js/losses';
import { optimizerUpdate } from '../lib/engines/js/optim';
import { JsNetworkPlan } from '../lib/engines/js/plan';
import { halfTimeGap, timerGaps } from './event-loop-gaps';
import { maxRelDiff, numericGradient, randomArray } from './helpers';

const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
const MSE: LossSpec = { kind: 'mse', reduction: 'mean', labelSmoothing: 0 };
const ADAM: OptimizerSpec = { kind: 'adam', lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const SGD: OptimizerSpec = { ...ADAM, kind: 'sgd', lr: 0.1, momentum: 0.9 };
const dense = (i: number, o: number): LayerSpec => ({ kind: 'dense', inFeatures: i, outFeatures: o });
const act = (a: ActivationName): LayerSpec => ({ kind: 'activation', activation: a });

describe('js gemm', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 7, 5], [3, 1, 9], [5, 3, 1], [7, 9, 13], [8, 4, 3], [13, 17, 5], [37, 29, 31],
    [67, 261, 259], // crosses the KC, MC and NC block edges
    [9, 300, 2], [300, 6, 11],
  ];
  for (const Ctor of [Float64Array, Float32Array]) {
    for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      it(`${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} matches the naive product (${Ctor.name})`, () => {
        const tol = Ctor === Float64Array ? 1e-12 : 1e-5;
        let seed = 1;
        for (const [m, n, k] of shapes) {
          const a = randomArray(m * k, seed++, Ctor);
          const b = randomArray(k * n, seed++, Ctor);
          for (const [alpha, beta] of [[1, 0], [0.7, 1], [-1.3, 0.5]]) {
            const c0 = randomArray(m * n, seed++, Ctor);
            const c = c0.slice();
            const ref = new Float64Array(c0);
            gemm(tA, tB, m, n, k, alpha, a, b, beta, c);
            gemmRef(tA, tB, m, n, k, alpha, a, b, beta, ref);
            expect(maxRelDiff(c, ref), `${m}x${n}x${k} alpha ${alpha} beta ${beta}`).toBeLessThan(tol);
          }
        }
      });
    }
  }

  it('beta = 0 overwrites C without reading it (NaN in C does not propagate)', () => {
    for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      for (const [m, n, k] of [[3, 5, 7], [33, 21, 17]]) {
        const a = randomArray(m * k, 3);
        const b = randomArray(k * n, 4);
        const c = new Float64Array(m * n).fill(NaN);
        gemm(tA, tB, m, n, k, 1, a, b, 0, c);
        const ref = new Float64Array(m * n);
        gemmRef(tA, tB, m, n, k, 1, a, b, 0, ref);
        expect(maxRelDiff(c, ref)).toBeLessThan(1e-12);
      }
    }
  });

  it('never skips zeros: NaN in B reaches C even where A is zero', () => {
    for (const [m, n, k] of [[2, 3, 4], [16, 16, 16]]) {
      const a = new Float64Array(m * k); // all zeros
      const b = randomArray(k * n, 5);
      b[1] = NaN; // row 0, column 1 of B (NN layout)
      const c = new Float64Array(m * n);
      gemm(false, false, m, n, k, 1, a, b, 0, c);
      for (let i = 0; i < m; i++) expect(c[i * n + 1]).toBeNaN();
      expect(c[0]).toBe(0);
    }
  });

  it('alpha = 0 or k = 0 only scales C; longer arrays are left alone past m×n', () => {
    const c = new Float64Array([1, 2, 3, 4, 99]);
    gemm(false, false, 2, 2, 3, 0, new Float64Array(6).fill(NaN), new Float64Array(6), 2, c);
    expect(Array.from(c)).toEqual([2, 4, 6, 8, 99]);
    gemm(false, false, 2, 2, 0, 1, new Float64Array(0), new Float64Array(0), 0, c);
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 99]);
    expect(jsEngine.isa).toBe('js');
    jsEngine.setThreads(4);
    expect(jsEngine.getThreads()).toBe(1);
  });
});

describe('js activations', () => {
  const rows = 3;
  const cols = 5;
  for (const name of ['identity', 'relu', 'sigmoid', 'tanh', 'softmax'] as const) {
    it(`${name} backward matches finite differences`, () => {
      const x = randomArray(rows * cols, 11, Float64Array);
      // Keep away from relu's kink at 0, where the derivative is undefined.
      for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) < 0.05) x[i] += 0.1;
      const dy = randomArray(rows * cols, 12);
      const y = new Float64Array(rows * cols);
      const f = (): number => {
        activationForward(name, x, y, rows, cols);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += dy[i] * y[i];
        return s;
      };
      const numeric = numericGradient(f, x);
      activationForward(name, x, y, rows, cols);
      const dx = new Float64Array(rows * cols);
      activationBackward(name, x, y, dy, dx, rows, cols);
      expect(maxRelDiff(dx, numeric)).toBeLessThan(1e-8);
      // dx may alias dy.
      const inPlace = dy.slice();
      activationBackward(name, x, y, inPlace, inPlace, rows, cols);
      expect(maxRelDiff(inPlace, dx)).toBe(0);
    });
  }

  it('sigmoid is stable in both tails, softmax rows sum to 1 and ignore shifts, relu keeps NaN', () => {
    const x = new Float64Array([-800, -30, 0, 30, 800]);
    const y = new Float64Array(5);
    activationForward('sigmoid', x, y, 1, 5);
    expect(Array.from(y)).toEqual([0, Math.exp(-30) / (1 + Math.exp(-30)), 0.5, 1 / (1 + Math.exp(-30)), 1]);
    const z = new Float64Array([1000, 1001, 999, -5, -6, -7]);
    const s = new Float64Array(6);
    activationForward('softmax', z, s, 2, 3);
    expect(s[0] + s[1] + s[2]).toBeCloseTo(1, 15);
    const shifted = new Float64Array(6);
    activationForward('softmax', new Float64Array([0, 1, -1, 5, 4, 3]), shifted, 2, 3);
    expect(maxRelDiff(s, shifted)).toBeLessThan(1e-15);
    const r = new Float64Array(3);
    activationForward('relu', new Float64Array([NaN, -1, 2]), r, 1, 3);
    expect(r[0]).toBeNaN();
    expect(Array.from(r.subarray(1))).toEqual([0, 2]);
  });
});

describe('js losses', () => {
  const LOGITS = new Float64Array([0.7114, -0.9152, -0.3899, 0.9435, -0.1819, -0.6162, -0.0346, -0.5723, -1.1487, -1.4400,
    0.3388, -0.9662, -0.2876, -0.1088, -0.1857, -1.3066, 1.5789, -0.3382, -0.6364, 2.9867]);

  it('reproduces the worked cross-entropy numbers of SPEC.md §7', () => {
    expect(jsEngine.lossForward(CE, LOGITS, 4, 5, new Int32Array([1, 0, 3, 2]))).toBeCloseTo(2.383066, 6);
    expect(jsEngine.lossForward(CE, Float32Array.from(LOGITS), 4, 5, new Int32Array([1, 0, 3, 2]))).toBeCloseTo(2.383066, 5);
    const custom = new Float64Array([1.5, 0.5, -0.5, -0.5, 1.5, 0.5, 0.5, -0.5, 1.5]);
    expect(jsEngine.lossForward(CE, custom, 3, 3, new Int32Array([0, 1, 2]))).toBeCloseTo(0.407606, 6);
    expect(jsEngine.lossForward({ ...CE, reduction: 'sum' }, custom, 3, 3, new Int32Array([0, 1, 2]))).toBeCloseTo(3 * 0.407606, 5);
  });

  const soft = new Float64Array([0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25]);
  const unnormalised = new Float64Array([0.5, 0.2, 0, 0.9, 0, 0, 0, 0, 2, 0, 1, 0]);
  const cases: [string, LossSpec, () => Target][] = [
    ['mse mean', MSE, () => randomArray(12, 21)],
    ['mse sum', { ...MSE, reduction: 'sum' }, () => randomArray(12, 21)],
    ['ce indices mean', CE, () => new Int32Array([2, 0, 3])],
    ['ce indices sum', { ...CE, reduction: 'sum' }, () => new Int32Array([1, 1, 0])],
    ['ce indices smoothing', { ...CE, labelSmoothing: 0.2 }, () => new Int32Array([3, 2, 1])],
    ['ce soft mean', CE, () => soft],
    ['ce soft sum smoothing', { ...CE, reduction: 'sum', labelSmoothing: 0.1 }, () => soft],
    ['ce soft rows not summing to 1', { ...CE, labelSmoothing: 0.3 }, () => unnormalised],
  ];
  for (const [label, spec, target] of cases) {
    it(`backward matches finite differences: ${label}`, () => {
      const pred = randomArray(12, 5);
      const t = target();
      const numeric = numericGradient(() => jsEngine.lossForward(spec, pred, 3, 4, t), pred);
      const g = new Float64Array(12);
      jsEngine.lossBackward(spec, pred, 3, 4, t, g);
      expect(maxRelDiff(g, numeric)).toBeLessThan(1e-8);
      // Forward and backward in one pass give the same value as forward alone.
      expect(lossForwardBackward(spec, pred, 3, 4, t, g)).toBe(jsEngine.lossForward(spec, pred, 3, 4, t));
    });
  }

  it('rejects out-of-range class indices and index targets for mse, naming target', () => {
    const g = new Float64Array(8).fill(7);
    expect(() => jsEngine.lossBackward(CE, randomArray(8, 1), 2, 4, new Int32Array([0, 4]), g)).toThrow(RangeError);
    expect(() => jsEngine.lossForward(CE, randomArray(8, 1), 2, 4, new Int32Array([-1, 0]))).toThrow(/for target/);
    expect(Array.from(g)).toEqual(new Array(8).fill(7)); // nothing written before the check
    expect(() => jsEngine.lossForward(MSE, randomArray(8, 1), 2, 4, new Int32Array([0, 1]))).toThrow(/target/);
    expect(() => jsEngine.lossForward({ ...CE, labelSmoothing: 1.5 }, randomArray(8, 1), 2, 4, new Int32Array(2))).toThrow(/labelSmoothing/);
  });
});

describe('js optimizers', () => {
  it('follow the torch.optim formulas step by step', () => {
    const g1 = 0.5;
    const g2 = -0.25;
    const run = (spec: OptimizerSpec, size: number): number[] => {
      const p = new Float64Array([1]);
      const s = new Float64Array(size);
      optimizerUpdate(spec, p, new Float64Array([g1]), s, 1, 1);
      const after1 = p[0];
      optimizerUpdate(spec, p, new Float64Array([g2]), s, 1, 2);
      return [after1, p[0]];
    };
    // SGD, momentum 0.9, dampening 0.1, weight decay 0.01.
    const sgd: OptimizerSpec = { ...SGD, lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 };
    let th = 1;
    let g = g1 + 0.01 * th;
    let v = g; // first step: v = g, no dampening
    th -= 0.1 * v;
    const sgd1 = th;
    g = g2 + 0.01 * th;
    v = 0.9 * v + 0.9 * g;
    th -= 0.1 * v;
    expect(run(sgd, 1)).toEqual([sgd1, th]);
    // Nesterov.
    th = 1;
    g = g1;
    v = g;
    th -= 0.1 * (g + 0.9 * v);
    const n1 = th;
    g = g2;
    v = 0.9 * v + g;
    th -= 0.1 * (g + 0.9 * v);
    const nest = run({ ...SGD, lr: 0.1, momentum: 0.9, nesterov: true }, 1);
    expect(nest[0]).toBeCloseTo(n1, 15);
    expect(nest[1]).toBeCloseTo(th, 15);
    // Adam and AdamW (λ = 0.1).
    for (const kind of ['adam', 'adamw'] as const) {
      const spec: OptimizerSpec = { ...ADAM, kind, lr: 0.01, weightDecay: 0.1 };
      let t = 1;
      let m = 0;
      let s2 = 0;
      const ref: number[] = [];
      for (const [step, grad] of [[1, g1], [2, g2]]) {
        if (kind === 'adamw') t -= 0.01 * 0.1 * t;
        const gg = kind === 'adam' ? grad + 0.1 * t : grad;
        m = 0.9 * m + 0.1 * gg;
        s2 = 0.999 * s2 + 0.001 * gg * gg;
        t -= 0.01 * (m / (1 - 0.9 ** step)) / (Math.sqrt(s2 / (1 - 0.999 ** step)) + 1e-8);
        ref.push(t);
      }
      const got = run(spec, 2);
      expect(got[0]).toBeCloseTo(ref[0], 14);
      expect(got[1]).toBeCloseTo(ref[1], 14);
    }
  });
});

describe('js plan', () => {
  it('trainEpoch stops at the first non-finite loss without applying that step', async () => {
    const layers = [dense(2, 3), act('tanh'), dense(3, 2)];
    const plan = new JsNetworkPlan({ dtype: 'float64', layers, maxBatch: 2 });
    const ref = new JsNetworkPlan({ dtype: 'float64', layers, maxBatch: 2 });
    const p0 = randomArray(plan.paramCount, 5);
    const x = randomArray(12, 6);
    x[5] = NaN; // row 2 → batch 1 with batchSize 2
    const y = new Int32Array([0, 1, 0, 1, 0, 1]);
    for (const p of [plan, ref]) {
      p.setParams(p0);
      p.setLoss(CE);
      p.setOptimizer(ADAM);
    }
    const result = await plan.trainEpoch(x, 6, y, 2, null);
    expect(result).toEqual({ loss: ref.trainStep(x.subarray(0, 4), 2, y.subarray(0, 2)), batches: 1, badBatch: 1, cancelled: false });
    const a = new Float64Array(plan.paramCount);
    const b = new Float64Array(plan.paramCount);
    plan.getParams(a);
    ref.getParams(b);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(plan.stepCount).toBe(1);
  });

  it('trainEpoch validates up front and refuses other calls while it runs', async () => {
    const plan = new JsNetworkPlan({ dtype: 'float32', layers: [dense(20, 64), act('relu'), dense(64, 4)], maxBatch: 8 });
    plan.setParams(randomArray(plan.paramCount, 9, Float32Array));
    const rows = 4000;
    const x = randomArray(rows * 20, 10, Float32Array);
    const y = Int32Array.from({ length: rows }, (_, i) => i % 4);
    expect(() => plan.trainEpoch(x, rows, y, 8, null)).toThrow(/needs a built-in loss/);
    plan.setLoss(CE);
    expect(() => plan.trainEpoch(x, rows, y, 0, null)).toThrow(/batchSize/);
    expect(() => plan.trainEpoch(x, rows, y, 8, new Int32Array(5))).toThrow(/order/);
    await expect(plan.trainEpoch(x, rows, y, 8, new Int32Array(rows))).rejects.toThrow(/permutation/);
    const badY = y.slice();
    badY[rows - 1] = 4;
    await expect(plan.trainEpoch(x, rows, badY, 8, null)).rejects.toThrow(/class indices/);
    expect(plan.stepCount).toBe(0); // nothing was applied

    for (let e = 0; e < 2; e++) {
      const running = plan.trainEpoch(x, rows, y, 8, null);
      expect(() => plan.trainStep(x, 8, y)).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_BUSY' }));
      expect(() => plan.getParams(new Float32Array(plan.paramCount))).toThrow(/training/);
      const result = await running;
      expect(result.batches).toBe(rows / 8);
      expect(result.badBatch).toBe(-1);
      expect(Number.isFinite(result.loss)).toBe(true);
    }
    expect(plan.stepCount).toBe(2 * rows / 8);
    expect(Number.isFinite(plan.trainStep(x, 8, y))).toBe(true);
  });

  it('a long trainEpoch keeps the event loop responsive (yields every ~10 ms)', async () => {
    const plan = new JsNetworkPlan({ dtype: 'float32', layers: [dense(64, 256), act('relu'), dense(256, 256), act('relu'), dense(256, 10)], maxBatch: 32 });
    plan.setParams(randomArray(plan.paramCount, 1, Float32Array));
    plan.setLoss(CE);
    const rows = 32 * 50;
    const x = randomArray(rows * 64, 2, Float32Array);
    const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
    const { gaps, ticks, elapsed } = await timerGaps(1, () => plan.trainEpoch(x, rows, y, 32, null));
    // Every batch here takes a few ms, so the loop waits ≈ 15 ms plus one batch;
    // the bound leaves room for a slow, shared machine yet fails an epoch that
    // never yields. halfTimeGap, not the longest gap: one descheduling of the
    // process makes one gap long whatever the code does.
    expect(elapsed).toBeGreaterThan(100); // long enough to have had to yield
    expect(ticks).toBeGreaterThan(3);
    expect(halfTimeGap(gaps)).toBeLessThan(Math.max(80, elapsed / 4));
  });

  it('validates layers and rows; predict chunks through maxBatch and keeps the last forwardTrain', () => {
    const spec = { dtype: 'float64' as const, maxBatch: 3 };
    expect(() => new JsNetworkPlan({ ...spec, layers: [] })).toThrow(RangeError);
    expect(() => new JsNetworkPlan({ ...spec, layers: [act('relu')] })).toThrow(/dense/);
    expect(() => new JsNetworkPlan({ ...spec, layers: [dense(3, 4), dense(5, 2)] })).toThrow(/inFeatures/);
    expect(() => new JsNetworkPlan({ ...spec, layers: [dense(0, 4)] })).toThrow(RangeError);
    expect(() => new JsNetworkPlan({ ...spec, layers: [dense(2.5, 4)] })).toThrow(RangeError);
    expect(() => new JsNetworkPlan({ ...spec, layers: [act('mish' as ActivationName), dense(2, 2)] })).toThrow(/activation/);
    expect(() => new JsNetworkPlan({ ...spec, maxBatch: 0, layers: [dense(2, 2)] })).toThrow(/maxBatch/);

    const plan = new JsNetworkPlan({ ...spec, layers: [dense(3, 4), act('tanh'), dense(4, 2), act('softmax')] });
    plan.setParams(randomArray(plan.paramCount, 3));
    expect(() => plan.computeGradients(randomArray(9, 1), 3, new Int32Array(3))).toThrow(/setLoss/);
    expect(() => plan.backward(new Float64Array(6), 3)).toThrow(/last forwardTrain/);
    expect(() => plan.forwardTrain(randomArray(12, 1), 4, new Float64Array(8))).toThrow(/maxBatch/);
    const x = randomArray(7 * 3, 8);
    const all = new Float64Array(14);
    plan.predict(x, 7, all);
    const first = new Float64Array(6);
    plan.forwardTrain(x, 3, first);
    expect(Array.from(first)).toEqual(Array.from(all.subarray(0, 6)));
    plan.predict(x, 7, new Float64Array(14)); // does not disturb the held activations
    plan.backward(new Float64Array(6).fill(1), 3);
    expect(() => plan.backward(new Float64Array(4), 2)).toThrow(RangeError);
    plan.reserve(8);
    expect(plan.maxBatch).toBe(8);
    expect(() => plan.backward(new Float64Array(6), 3)).toThrow(/last forwardTrain/);
  });

  it('setOptimizer keeps state on a hyper-parameter change and resets it on a kind change', () => {
    const plan = new JsNetworkPlan({ dtype: 'float64', layers: [dense(2, 2)], maxBatch: 2 });
    plan.setLoss(MSE);
    plan.setOptimizer(ADAM);
    const x = new Float64Array([1, 2, 3, 4]);
    const y = new Float64Array([0, 1, 1, 0]);
    plan.trainStep(x, 2, y);
    plan.trainStep(x, 2, y);
    plan.setOptimizer({ ...ADAM, lr: 0.01 });
    expect(plan.stepCount).toBe(2);
    plan.setOptimizer({ ...ADAM, kind: 'adamw' });
    expect(plan.stepCount).toBe(0);
    plan.step();
    plan.resetOptimizer();
    expect(plan.stepCount).toBe(0);
    expect(() => plan.setOptimizer({ ...ADAM, beta1: 1 })).toThrow(/beta1/);
    expect(() => plan.setOptimizer({ ...SGD, nesterov: true, dampening: 0.5 })).toThrow(/nesterov/);
    expect(() => plan.setLoss({ ...CE, labelSmoothing: -0.1 })).toThrow(/labelSmoothing/);
  });

  it('float32 plans store rounded values and agree with float64 closely', () => {
    const layers = [dense(5, 7), act('sigmoid'), dense(7, 3)];
    const p64 = new JsNetworkPlan({ dtype: 'float64', layers, maxBatch: 4 });
    const p32 = new JsNetworkPlan({ dtype: 'float32', layers, maxBatch: 4 });
    const params = randomArray(p64.paramCount, 17, Float32Array);
    const x = randomArray(20, 18, Float32Array);
    const y = new Int32Array([0, 1, 2, 1]);
    for (const p of [p64, p32]) {
      p.setParams(params);
      p.setLoss(CE);
      p.setOptimizer(SGD);
    }
    const l64 = p64.trainStep(Float64Array.from(x), 4, y);
    const l32 = p32.trainStep(x, 4, y);
    expect(l32).toBeCloseTo(l64, 5);
    const a = new Float64Array(p64.paramCount);
    const b = new Float32Array(p32.paramCount);
    p64.getParams(a);
    p32.getParams(b);
    expect(maxRelDiff(b, a)).toBeLessThan(1e-5);
    expect(Array.from(b)).toEqual(Array.from(Float32Array.from(b)));
  });
});
