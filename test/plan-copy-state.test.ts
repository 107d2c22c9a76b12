// NetworkPlan.copyStateFrom (lib/engine.ts) on both engines: parameters and
// buffers copied plan to plan — what fit's per-epoch predict snapshot uses —
// and every refusal coded, naming source, and leaving the target as it was.
import { describe, expect, it } from 'vitest';
import type { Dtype, EngineName, FloatArray, LayerSpec, LossSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { BatchNorm1d, Dense, Dropout, Sequential } from '../lib/index';
import { loadNative } from '../lib/native';
import { engine, ENGINES, maxRelDiff, randomArray, thrown } from './helpers';

const IN = 5;
const OUT = 3;
// BatchNorm gives the plan buffers (running mean, running variance, batches tracked).
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: 8 },
  { kind: 'batchnorm', numFeatures: 8, eps: 1e-5, momentum: 0.1, affine: true },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dropout', p: 0.25 },
  { kind: 'dense', inFeatures: 8, outFeatures: OUT },
];
// Same paramCount as LAYERS (layer norm has weight and bias too) but no buffers.
const LAYERS_NO_BUFFERS: LayerSpec[] = LAYERS.map((l) => l.kind === 'batchnorm'
  ? { kind: 'layernorm', normalizedShape: 8, eps: 1e-5, elementwiseAffine: true } : l);
const LAYERS_WIDER: LayerSpec[] = [{ kind: 'dense', inFeatures: IN, outFeatures: 9 },
  { kind: 'batchnorm', numFeatures: 9, eps: 1e-5, momentum: 0.1, affine: true },
  { kind: 'dense', inFeatures: 9, outFeatures: OUT }];
const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
const ADAM: OptimizerSpec = { kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const SGD_MOMENTUM: OptimizerSpec = { ...ADAM, kind: 'sgd', lr: 0.05, momentum: 0.9 };
const ROWS = 16;

const ctor = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);

/** A plan with random parameters, trained `steps` steps so buffers and optimizer state are not at their start. */
function trainedPlan(name: EngineName, dtype: Dtype, seed: number, steps: number,
                     optimizer = ADAM, layers = LAYERS): NetworkPlan {
  const Ctor = ctor(dtype);
  const plan = engine(name).createPlan({ dtype, layers, maxBatch: ROWS });
  plan.setParams(randomArray(plan.paramCount, seed, Ctor));
  plan.setLoss(CE);
  plan.setOptimizer(optimizer);
  plan.setSeed(seed);
  const x = randomArray(ROWS * IN, seed + 1, Ctor);
  const y = Int32Array.from({ length: ROWS }, (_, i) => (i + seed) % OUT);
  for (let s = 0; s < steps; s++) plan.trainStep(x, ROWS, y);
  return plan;
}

interface PlanState { params: number[]; buffers: number[]; grads: number[]; optState: number[]; steps: number; training: boolean }

function stateOf(plan: NetworkPlan): PlanState {
  const Ctor = ctor(plan.dtype);
  const read = (n: number, get: (out: FloatArray) => void) => { const a = new Ctor(n); get(a); return Array.from(a); };
  return {
    params: read(plan.paramCount, (a) => plan.getParams(a)),
    buffers: read(plan.bufferCount, (a) => plan.getBuffers(a)),
    grads: read(plan.paramCount, (a) => plan.getGrads(a)),
    optState: read(plan.optimizerStateSize, (a) => plan.getOptimizerState(a)),
    steps: plan.stepCount,
    training: plan.training,
  };
}

function predictAll(plan: NetworkPlan, x: FloatArray): FloatArray {
  const out = new (ctor(plan.dtype))(ROWS * OUT);
  plan.predict(x, ROWS, out);
  return out;
}

function expectRefused(target: NetworkPlan, source: unknown, Kind: ErrorConstructor, code: string,
                       message: RegExp = /source/): Error & { code?: string } {
  const before = stateOf(target);
  const e = thrown(() => target.copyStateFrom(source as NetworkPlan));
  expect(e).toBeInstanceOf(Kind);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  expect(stateOf(target)).toEqual(before);
  return e;
}

const INVALID = 'ERR_FASTMLP_INVALID_ARGUMENT';
const other = (name: EngineName): EngineName => (name === 'native' ? 'js' : 'native');

describe.each(ENGINES)('copyStateFrom (%s engine)', (name) => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`copies parameters and buffers, not the optimizer state, gradients or mode (${dtype})`, () => {
      const source = trainedPlan(name, dtype, 11, 3);
      const target = trainedPlan(name, dtype, 29, 2, SGD_MOMENTUM);
      target.setTraining(false);
      const src = stateOf(source);
      const tgt = stateOf(target);
      expect(src.buffers.length).toBe(19);            // running mean (8), var (8), batches tracked (3 digits)
      expect(src.buffers[16]).toBe(3);
      expect(src.params).not.toEqual(tgt.params);      // the copy has something to do
      expect(src.buffers).not.toEqual(tgt.buffers);

      target.copyStateFrom(source);
      const after = stateOf(target);
      expect(after.params).toEqual(src.params);
      expect(after.buffers).toEqual(src.buffers);
      expect(after.optState).toEqual(tgt.optState);   // SGD momentum buffers stay the target's own
      expect(after.optState.length).not.toBe(src.optState.length);
      expect(after.steps).toBe(2);
      expect(after.grads).toEqual(tgt.grads);
      expect(after.training).toBe(false);
      expect(stateOf(source)).toEqual(src);            // the source is only read

      // Eval-mode predictions are bit-identical: same weights, same running statistics.
      const x = randomArray(ROWS * IN, 5, ctor(dtype));
      expect(Array.from(predictAll(target, x))).toEqual(Array.from(predictAll(source, x)));
    });
  }

  it('is a copy: training the source afterwards leaves the target as it was copied', () => {
    const source = trainedPlan(name, 'float32', 3, 2);
    const target = engine(name).createPlan({ dtype: 'float32', layers: LAYERS, maxBatch: 4 });
    target.copyStateFrom(source);
    target.reserve(ROWS);
    const copied = stateOf(target);
    const x = randomArray(ROWS * IN, 8, Float32Array);
    const predicted = Array.from(predictAll(target, x));
    source.trainStep(x, ROWS, Int32Array.from({ length: ROWS }, (_, i) => i % OUT));
    expect(stateOf(source).params).not.toEqual(copied.params);
    expect(stateOf(source).buffers).not.toEqual(copied.buffers);
    expect(stateOf(target)).toEqual(copied);
    expect(Array.from(predictAll(target, x))).toEqual(predicted);
    // And the other way round: training the target does not write through to the source.
    const sourceNow = stateOf(source);
    target.setLoss(CE);
    target.trainStep(x, ROWS, Int32Array.from({ length: ROWS }, (_, i) => (i + 1) % OUT));
    expect(stateOf(source)).toEqual(sourceNow);
  });

  it('refuses a plan of the other engine, of the other dtype or of another layout', () => {
    const target = trainedPlan(name, 'float32', 5, 1);
    expectRefused(target, trainedPlan(other(name), 'float32', 6, 1), TypeError, INVALID,
      new RegExp(`Expected a network plan of the ${name} engine for source`));
    expectRefused(target, trainedPlan(name, 'float64', 6, 1), TypeError, INVALID,
      /Expected a float32 plan for source but received a float64 plan/);
    expectRefused(target, trainedPlan(name, 'float32', 6, 1, ADAM, LAYERS_WIDER), RangeError, INVALID,
      /same layout for source .*paramCount 91.* but received .*paramCount 102/);
    const noBuffers = trainedPlan(name, 'float32', 6, 1, ADAM, LAYERS_NO_BUFFERS);
    expect(noBuffers.paramCount).toBe(target.paramCount);
    expectRefused(target, noBuffers, RangeError, INVALID, /bufferCount 19\) but received .*bufferCount 0/);
    // The other way: a target without buffers refuses a source with them.
    expectRefused(noBuffers, target, RangeError, INVALID, /for source/);
  });

  it('refuses anything that is not a plan, and itself', () => {
    const target = trainedPlan(name, 'float64', 7, 1);
    const proto = Object.getPrototypeOf(target) as object;
    const lookAlike = { dtype: target.dtype, inputSize: IN, outputSize: OUT, paramCount: target.paramCount,
      bufferCount: target.bufferCount, disposed: false };
    for (const bad of [undefined, null, 0, 'plan', true, {}, [], new Float64Array(target.paramCount), () => 1,
      Object.create(proto), lookAlike, Symbol('s')]) {
      expectRefused(target, bad, TypeError, INVALID, /Expected a network plan of the .* engine for source but received/);
    }
    expectRefused(target, target, RangeError, INVALID, /Expected another plan than this one for source/);
  });

  it('refuses a disposed source or target', () => {
    const target = trainedPlan(name, 'float32', 9, 1);
    const source = trainedPlan(name, 'float32', 10, 1);
    source.dispose();
    expectRefused(target, source, Error, 'ERR_FASTMLP_DISPOSED', /Cannot copy from source: it has been disposed/);
    const live = trainedPlan(name, 'float32', 12, 1);
    target.dispose();
    const e = thrown(() => target.copyStateFrom(live));
    expect(e.code).toBe('ERR_FASTMLP_DISPOSED');
    expect(stateOf(live).steps).toBe(1);   // the source is still usable
  });

  it('refuses while the source or the target is training an epoch, and copies once it is done', async () => {
    // Long enough that the js engine's epoch yields (after 15 ms of batches) before
    // it ends, so the plan is still busy when trainEpoch returns; aborted once checked.
    const rows = 200_000;
    const x = randomArray(rows * IN, 13, Float32Array);
    const y = Int32Array.from({ length: rows }, (_, i) => i % OUT);
    const source = trainedPlan(name, 'float32', 14, 1);
    const target = trainedPlan(name, 'float32', 15, 1);

    const stopSource = new AbortController();
    const sourceEpoch = source.trainEpoch(x, rows, y, 8, null, { signal: stopSource.signal });
    expectRefused(target, source, Error, 'ERR_FASTMLP_BUSY', /Cannot copy from source: it is training/);
    stopSource.abort();
    expect((await sourceEpoch).cancelled).toBe(true);

    const stopTarget = new AbortController();
    const targetEpoch = target.trainEpoch(x, rows, y, 8, null, { signal: stopTarget.signal });
    expect(thrown(() => target.copyStateFrom(source)).code).toBe('ERR_FASTMLP_BUSY');
    stopTarget.abort();
    expect((await targetEpoch).cancelled).toBe(true);

    target.copyStateFrom(source);
    expect(stateOf(target).params).toEqual(stateOf(source).params);
    expect(stateOf(target).buffers).toEqual(stateOf(source).buffers);
  });

  it('refuses while the source is predicting (predictAsync), saying so, and copies once it is done', async () => {
    const rows = 200_000;
    const x = randomArray(rows * IN, 16, Float32Array);
    const source = trainedPlan(name, 'float32', 17, 1);
    const target = trainedPlan(name, 'float32', 18, 1);
    // The js engine yields between chunks of rows: the plan is still busy when predictAsync returns its promise.
    const out = new Float32Array(rows * OUT);
    const predicting = source.predictAsync(x, rows, out, ROWS);
    expectRefused(target, source, Error, 'ERR_FASTMLP_BUSY', /Cannot copy from source: it is predicting \(predictAsync is running\)/);
    await predicting;
    target.copyStateFrom(source);
    expect(stateOf(target).params).toEqual(stateOf(source).params);
  });

  it('Sequential: predict during fit answers from the epoch-start copy; dispose frees the snapshot', async () => {
    const model = new Sequential([new Dense(IN, 8), new BatchNorm1d(8), new Dropout(0.1), new Dense(8, OUT)],
      { engine: name, seed: 4, dtype: 'float32' });
    model.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    const rows = 400;
    const x = { data: randomArray(rows * IN, 21, Float32Array), rows, cols: IN };
    const y = Int32Array.from({ length: rows }, (_, i) => i % OUT);
    const before = model.predict(x).data.slice();
    let during: FloatArray | null = null;
    await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, callbacks: [{ observeOnly: true,
      onBatchEnd: (batch: number) => { if (batch === 20) during = model.predict(x).data.slice(); },
    }] });
    expect(during).not.toBeNull();
    expect(Array.from(during!)).toEqual(Array.from(before));            // the epoch-start weights
    expect(Array.from(model.predict(x).data)).not.toEqual(Array.from(before));  // training did change them
    // Private: the snapshot lives in the model's reads (lib/model-reads.ts).
    const snapshot = (model as unknown as { reads: { snapshotPlan: NetworkPlan | null } }).reads.snapshotPlan;
    expect(snapshot).not.toBeNull();
    model.dispose();
    expect(snapshot!.disposed).toBe(true);
  });
});

describe('copyStateFrom in the native binding', () => {
  it('the raw addon Network and the engine\'s plan subclass copy to and from each other', () => {
    const { Network } = loadNative();
    const plan = trainedPlan('native', 'float64', 51, 2);
    const raw = new Network({ dtype: 'float64', layers: LAYERS, maxBatch: 1 });
    raw.copyStateFrom(plan);
    expect(stateOf(raw as unknown as NetworkPlan).params).toEqual(stateOf(plan).params);
    expect(stateOf(raw as unknown as NetworkPlan).buffers).toEqual(stateOf(plan).buffers);
    const fresh = engine('native').createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 1 });
    fresh.copyStateFrom(raw as unknown as NetworkPlan);
    expect(stateOf(fresh).params).toEqual(stateOf(plan).params);
    // An object inheriting from a real Network is not one: refused before its pointer is read.
    expectRefused(fresh, Object.create(raw), TypeError, INVALID, /native engine for source/);
    expectRefused(fresh, Object.create(Network.prototype), TypeError, INVALID, /native engine for source/);
  });
});

describe('copyStateFrom parity (native vs js)', () => {
  it('the two engines refuse the same cases with the same error class, code and message', async () => {
    const messages = (name: EngineName) => {
      const target = trainedPlan(name, 'float32', 31, 1);
      const disposed = trainedPlan(name, 'float32', 32, 1);
      disposed.dispose();
      const cases: unknown[] = [null, {}, Object.create(Object.getPrototypeOf(target) as object), target,
        trainedPlan(name, 'float64', 33, 1), trainedPlan(name, 'float32', 34, 1, ADAM, LAYERS_WIDER),
        trainedPlan(name, 'float32', 35, 1, ADAM, LAYERS_NO_BUFFERS), disposed];
      return cases.map((c) => {
        const e = thrown(() => target.copyStateFrom(c as NetworkPlan));
        // Each side describes a received object its own way ('object' / 'an object (Object)').
        const message = e.message.replace(name, '<engine>').replace(/(but received) (object|an object \(\w+\))$/, '$1 <object>');
        return { kind: e.name, code: e.code, message };
      });
    };
    const native = messages('native');
    expect(native.every((m) => /source/.test(m.message))).toBe(true);
    expect(messages('js')).toEqual(native);
  });

  it('a copy predicts alike in both engines (as the engines agree on the same weights)', () => {
    const x = randomArray(ROWS * IN, 41, Float64Array);
    const outs = ENGINES.map((name) => {
      // Both sources hold the same parameters and buffers: set, not trained (the engines' sums differ in rounding).
      const source = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: ROWS });
      source.setParams(randomArray(source.paramCount, 42, Float64Array));
      const buffers = Float64Array.from(randomArray(source.bufferCount, 43, Float64Array), (v, i) => (i >= 8 ? 0.5 + Math.abs(v) : v));
      source.setBuffers(buffers);
      const target = engine(name).createPlan({ dtype: 'float64', layers: LAYERS, maxBatch: 2 });
      target.copyStateFrom(source);
      return predictAll(target, x);
    });
    expect(maxRelDiff(outs[0]!, outs[1]!)).toBeLessThan(1e-12);
  });
});
