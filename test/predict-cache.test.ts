// Predict's weight cache (native/core/predict_cache.h): the native engine packs
// each dense weight once for gemm and reuses it until the weights change. These
// check the contract it must keep, in both engines (the JS engine has no cache
// and must pass the same tests):
// - predict gives the same bits as the path without the cache (a plan of the
//   same build with the cache turned off, setPredictCache(false)) at every
//   batch size: the few-rows dot path (≤ 8 rows, no cache built), gemm's small
//   path, its blocked path, several passes of maxBatch rows, two threads;
// - it never answers with stale weights: after every write — setParams,
//   writeParams, copyStateFrom, trainStep, computeGradients + step, a custom
//   loop's forwardTrain/backward/step, trainEpoch; and on a model setWeights,
//   trainStep, fit, fromBuffer — the next predict equals a fresh plan's
//   predict from the weights read back;
// - the memory: held only after the second predict with the same weights
//   that packs (predict_cache.h says why not the first), freed when training
//   starts and when the cache is turned off; dispose frees the whole plan.
import { afterEach, describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, setThreads } from '../lib';
import type { Dtype, EngineName, FloatArray, LayerSpec, LossSpec, NetworkPlan, OptimizerSpec } from '../lib/engine';
import { ENGINES, engine, randomArray } from './helpers';

// 1100 inputs: at 256 rows op(A) is over 1 MiB, so the first layer takes
// gemm's blocked path there and its small path at fewer rows (gemm_small.h).
const IN = 1100;
const OUT = 6;
const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: IN, outFeatures: 70 },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: 70, outFeatures: 33 },
  { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 33, outFeatures: OUT },
];
const MSE: LossSpec = { kind: 'mse', reduction: 'mean' } as LossSpec;
const ADAM: OptimizerSpec = { kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0,
  beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const MAX_BATCH = 256;
const ROWS = [1, 5, 8, 9, 32, 100, 256, 300];
const DTYPES: Dtype[] = ['float32', 'float64'];

const ctor = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);

interface CachePlan extends NetworkPlan {
  setPredictCache?(enabled: boolean): void;
  predictCacheBytes?(): number;
}

function newPlan(name: EngineName, dtype: Dtype, maxBatch = MAX_BATCH): CachePlan {
  return engine(name).createPlan({ dtype, layers: LAYERS, maxBatch }) as CachePlan;
}

/** predict of the first `rows` rows of x. */
function run(plan: NetworkPlan, x: FloatArray, rows: number): FloatArray {
  const out = new (ctor(plan.dtype))(rows * OUT);
  plan.predict(x.subarray(0, rows * IN), rows, out);
  return out;
}

function paramsOf(plan: NetworkPlan): FloatArray {
  const p = new (ctor(plan.dtype))(plan.paramCount);
  plan.getParams(p);
  return p;
}

/** predict of a fresh plan holding `params`, through the path without the cache (native: turned off). */
function reference(name: EngineName, dtype: Dtype, params: FloatArray, x: FloatArray, rows: number, maxBatch = MAX_BATCH): FloatArray {
  const plan = newPlan(name, dtype, maxBatch);
  try {
    plan.setParams(params);
    if (name === 'native') plan.setPredictCache!(false);
    return run(plan, x, rows);
  } finally {
    plan.dispose();
  }
}

/** Bit-for-bit equality (NaN-safe), with the first differing index in the message. */
function expectSameBits(a: FloatArray, b: FloatArray): void {
  expect(a.length).toBe(b.length);
  const first = a.findIndex((v, i) => !Object.is(v, b[i]));
  expect(first, `first difference at ${first}: ${a[first]} vs ${b[first]}`).toBe(-1);
}

function cacheBytes(name: EngineName, plan: CachePlan): number {
  return name === 'native' ? plan.predictCacheBytes!() : 0;
}

afterEach(() => setThreads(1));

describe.each(ENGINES)('predict weight cache, %s engine', (name) => {
  describe.each(DTYPES)('%s', (dtype) => {
    const Ctor = ctor(dtype);
    const x = randomArray(300 * IN, 3, Ctor);
    const y = randomArray(64 * OUT, 4, Ctor);
    const xs = (rows: number) => x.subarray(0, rows * IN);
    const ys = (rows: number) => y.subarray(0, rows * OUT);

    function freshPlan(seed = 1): CachePlan {
      const plan = newPlan(name, dtype);
      plan.setParams(randomArray(plan.paramCount, seed, Ctor));
      plan.setLoss(MSE);
      plan.setOptimizer(ADAM);
      return plan;
    }

    it('predict equals the uncached path bit for bit at every batch size, twice in a row', () => {
      const plan = freshPlan();
      const params = paramsOf(plan);
      for (const rows of ROWS) {
        const want = reference(name, dtype, params, x, rows);
        expectSameBits(run(plan, x, rows), want);
        expectSameBits(run(plan, x, rows), want);  // served from the cache the first call built
      }
      plan.dispose();
    });

    it('with two threads too', () => {
      setThreads(2);
      const plan = freshPlan(2);
      for (const rows of [9, 64, 300]) expectSameBits(run(plan, x, rows), reference(name, dtype, paramsOf(plan), x, rows));
      plan.dispose();
    });

    it('holds memory only after a predict that packs; training frees it; turning it off frees it', () => {
      const plan = freshPlan();
      for (const rows of [1, 5, 8]) run(plan, x, rows);
      expect(cacheBytes(name, plan)).toBe(0);  // the dot path reads W in place
      run(plan, x, 32);
      expect(cacheBytes(name, plan)).toBe(0);  // the first predict with these weights packs per call
      run(plan, x, 32);                         // the second builds the cache
      if (name === 'native') {
        // At least one packed copy of every dense weight.
        expect(plan.predictCacheBytes!()).toBeGreaterThanOrEqual((IN * 70 + 70 * 33 + 33 * OUT) * Ctor.BYTES_PER_ELEMENT);
        plan.trainStep(xs(64), 64, ys(64));
        expect(plan.predictCacheBytes!()).toBe(0);
        run(plan, x, 32);
        expect(plan.predictCacheBytes!()).toBe(0);
        run(plan, x, 32);
        expect(plan.predictCacheBytes!()).toBeGreaterThan(0);
        plan.setPredictCache!(false);
        expect(plan.predictCacheBytes!()).toBe(0);
        run(plan, x, 32);
        expect(plan.predictCacheBytes!()).toBe(0);
        expect(() => plan.setPredictCache!(1 as unknown as boolean)).toThrow(/Expected a boolean for enabled/);
      }
      plan.dispose();
      expect(() => run(plan, x, 32)).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_DISPOSED' }));
      if (name === 'native') expect(() => plan.predictCacheBytes!()).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_DISPOSED' }));
    });

    // Each write path: predict before (the cache built), write, predict after.
    const writes: Array<[string, (plan: CachePlan) => void]> = [
      ['setParams', (plan) => plan.setParams(randomArray(plan.paramCount, 9, Ctor))],
      ['writeParams (one range inside the first weight)', (plan) => plan.writeParams(500, randomArray(300, 10, Ctor))],
      ['writeParams (the last bias)', (plan) => plan.writeParams(plan.paramCount - 1, Ctor.of(3))],
      ['copyStateFrom', (plan) => {
        const other = freshPlan(11);
        plan.copyStateFrom(other);
        other.dispose();
      }],
      ['trainStep', (plan) => { plan.trainStep(xs(64), 64, ys(64)); }],
      ['computeGradients + step', (plan) => { plan.computeGradients(xs(64), 64, ys(64)); plan.step(); }],
      ['forwardTrain + backward + step (a custom loss)', (plan) => {
        const out = new Ctor(32 * OUT);
        plan.forwardTrain(xs(32), 32, out);
        plan.backward(out.map((v, i) => v - y[i]!), 32);
        plan.step();
      }],
    ];
    it.each(writes)('sees the write of %s', (_label, write) => {
      const plan = freshPlan();
      const rows = 40;
      const before = run(plan, x, rows);
      run(plan, x, rows);
      expect(run(plan, x, rows)).toEqual(before);  // from the cache (native)
      write(plan);
      const after = run(plan, x, rows);
      expect(after.some((v, i) => v !== before[i])).toBe(true);
      const want = reference(name, dtype, paramsOf(plan), x, rows);
      expectSameBits(after, want);
      expectSameBits(run(plan, x, rows), want);  // the rebuilt cache
      expectSameBits(run(plan, x, rows), want);
      plan.dispose();
    });

    it('sees the writes of trainEpoch', async () => {
      const plan = freshPlan();
      run(plan, x, 64);
      const before = run(plan, x, 64);
      const result = await plan.trainEpoch(xs(64), 64, ys(64), 16, null);
      expect(result.batches).toBe(4);
      expect(cacheBytes(name, plan)).toBe(0);
      const after = run(plan, x, 64);
      expect(after.some((v, i) => v !== before[i])).toBe(true);
      expectSameBits(after, reference(name, dtype, paramsOf(plan), x, 64));
      expectSameBits(run(plan, x, 64), after);
      plan.dispose();
    });

    it('a predictAsync after a write answers with the new weights, as predict does', async () => {
      const plan = freshPlan();
      run(plan, x, 64);
      run(plan, x, 64);
      plan.trainStep(xs(64), 64, ys(64));
      const out = new Ctor(64 * OUT);
      await plan.predictAsync(xs(64), 64, out, 64);
      await plan.predictAsync(xs(64), 64, out, 64);  // the second builds the cache
      await plan.predictAsync(xs(64), 64, out, 64);
      expectSameBits(out, reference(name, dtype, paramsOf(plan), x, 64));
      expectSameBits(run(plan, x, 64), out);
      plan.dispose();
    });
  });
});

describe.each(ENGINES)('predict weight cache through Sequential, %s engine', (name) => {
  const x = randomArray(100 * IN, 5, Float32Array) as Float32Array;
  const xm = new Matrix(100, IN, x);
  const yRows = Int32Array.from({ length: 100 }, (_, i) => i % OUT);

  function model(seed: number): Sequential {
    return new Sequential([
      new Dense(IN, 70, { activation: 'relu' }),
      new Dense(70, 33, { activation: 'tanh' }),
      new Dense(33, OUT),
    ], { engine: name, seed });
  }
  /** The model's weights as the flat parameter layout (state_dict order: 0.weight, 0.bias, 1.weight, ...). */
  function flat(m: Sequential): Float32Array {
    const parts = Object.values(m.getWeights());
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  // The reference predicts in passes of the model's own plan's rows (predict's passes).
  const maxBatch = (m: Sequential) => (m as unknown as { plan: NetworkPlan }).plan.maxBatch;
  const check = (m: Sequential) => expectSameBits(m.predict(xm).data, reference(name, 'float32', flat(m), x, 100, maxBatch(m)));

  it('setWeights, trainStep, fit and fromBuffer: predict always answers with the current weights', async () => {
    const m = model(1);
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    check(m);
    const first = m.predict(xm).data;
    m.setWeights(model(2).getWeights());
    check(m);
    expect(m.predict(xm).data.some((v, i) => v !== first[i])).toBe(true);
    let prev = m.predict(xm).data;
    m.trainStep(xm, yRows);
    check(m);
    expect(m.predict(xm).data.some((v, i) => v !== prev[i])).toBe(true);
    prev = m.predict(xm).data;
    await m.fit(xm, yRows, { epochs: 2, batchSize: 16 });
    check(m);
    expect(m.predict(xm).data.some((v, i) => v !== prev[i])).toBe(true);
    const loaded = Sequential.fromBuffer(m.toBuffer(), { engine: name });
    check(loaded);
    // Equal to the saved model's answers where both predict in passes of the
    // same rows (fit may have grown the JS plan's passes; the summation order
    // of a short last pass differs).
    if (maxBatch(loaded) === maxBatch(m)) expectSameBits(loaded.predict(xm).data, m.predict(xm).data);
    loaded.dispose();
    m.dispose();
  });

  // README Inference, Memory: fit's validation predicts on the live plan in
  // passes of its maxBatch rows, so one of more rows (two passes or more)
  // rebuilds the cache every epoch (training freed it), and the last epoch's
  // stays after fit.
  it('fit\'s validation pass gives the uncached path\'s val_loss every epoch; the live plan keeps the last epoch\'s cache', async () => {
    const livePlan = (m: Sequential) => (m as unknown as { plan: CachePlan }).plan;
    const cached = model(3);
    const uncached = model(3);
    for (const m of [cached, uncached]) m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    if (name === 'native') livePlan(uncached).setPredictCache!(false);
    const rows = maxBatch(cached) + 44;  // two passes
    const validationData: [Matrix, Int32Array] = [new Matrix(rows, IN, randomArray(rows * IN, 6, Float32Array)),
      Int32Array.from({ length: rows }, (_, i) => (i * 5) % OUT)];
    const opts = { epochs: 3, batchSize: 16, validationData };
    const [h, g] = [await cached.fit(xm, yRows, opts), await uncached.fit(xm, yRows, opts)];
    expect(h.history['val_loss']).toHaveLength(3);
    expect(h.history['val_loss']).toEqual(g.history['val_loss']);
    expect(cached.getWeights()).toEqual(uncached.getWeights());
    if (name === 'native') {
      expect(cacheBytes(name, livePlan(cached))).toBeGreaterThan(0);
      expect(cacheBytes(name, livePlan(uncached))).toBe(0);
      await cached.fit(xm, yRows, { epochs: 1, batchSize: 16 });  // no validation: training freed it
      expect(cacheBytes(name, livePlan(cached))).toBe(0);
    }
    cached.dispose();
    uncached.dispose();
  });
});
