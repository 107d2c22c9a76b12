// The pure-TypeScript engine's passes in slices (lib/engines/js/slices.ts):
// gemm's units in any runs give gemm's bits; trainEpoch and predictAsync,
// which pause for the event loop inside a batch or pass, give the bits of the
// synchronous trainStep loop and predict, and the same as the engine computed
// before its passes were sliced; the event loop turns during one long batch
// or pass; dispose() and an abort in the middle of a batch stop cleanly.
import { describe, expect, it } from 'vitest';
import type { Dtype, FloatArray, LayerSpec } from '../lib/engine';
import { jsEngine } from '../lib/engines/js';
import { gemm, gemmBegin, gemmSteps, gemmUnitCount, gemmUnits } from '../lib/engines/js/gemm';
import { WorkMeter, drain } from '../lib/engines/js/slices';
import { Dense, Matrix, Sequential } from '../lib';
import { halfTimeGap, timerGaps } from './event-loop-gaps';
import { randomArray } from './helpers';
import { BATCH, CE, ROWS, ctor, scenarioData, scenarioPlan, synchronousRun } from './js-slices-scenario';

const same = (a: FloatArray, b: FloatArray) => expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength)
  .equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);

describe('gemm in units', () => {
  // Packed with ragged blocks on every side (KC 256, MC 64, NC 256); direct
  // with rows wider than its 256-column units (m < 8), and n < 4.
  const shapes: [number, number, number][] = [[67, 261, 259], [130, 520, 300], [5, 600, 70], [3, 300, 600], [200, 3, 40]];
  for (const Ctor of [Float32Array, Float64Array]) {
    for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      it(`${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} (${Ctor.name}): runs of any length, other products between them, give gemm's bits`, () => {
        let seed = 100;
        for (const [m, n, k] of shapes) {
          const a = randomArray(m * k, seed++, Ctor);
          const b = randomArray(k * n, seed++, Ctor);
          const c0 = randomArray(m * n, seed++, Ctor);
          const whole = c0.slice();
          gemm(tA, tB, m, n, k, 0.7, a, b, 0.5, whole);
          // Another product of the same shape and operands' shapes overwrites
          // the shared packing buffers between runs (as another plan's slice would).
          const otherB = randomArray(k * n, seed++, Ctor);
          const otherC = new Ctor(m * n);
          const units = gemmUnitCount(m, n, k);
          expect(units).toBeGreaterThan(1);
          for (const step of [1, 2, 3, 7]) {
            const c = c0.slice();
            expect(gemmBegin(m, n, k, 0.7, 0.5, c)).toBe(true);
            for (let from = 0, i = 0; from < units; i++) {
              const to = Math.min(units, from + step + (i % 3));
              gemmUnits(tA, tB, m, n, k, 0.7, a, b, c, from, to);
              if (i % 2 === 0) gemm(tA, tB, m, n, k, 1, a, otherB, 0, otherC);
              from = to;
            }
            same(c, whole);
          }
          const stepped = c0.slice();
          drain(gemmSteps(new WorkMeter(), tA, tB, m, n, k, 0.7, a, b, 0.5, stepped));
          same(stepped, whole);
        }
      });
    }
  }
});

for (const dtype of ['float32', 'float64'] as const) {
  describe(`JS engine in slices (${dtype})`, () => {
    it('computes the bits the engine computed before its passes were sliced', () => {
      // sha256 of the parameters after two trainStep batches, two predicts and a
      // dLoss/dInput (js-slices-scenario.ts), computed by the engine of commit
      // ef6556c, whose passes ran whole. The kernels' Math.exp/tanh and erf are
      // V8's own code, the same on every platform.
      const expected: Record<Dtype, string> = {
        float32: 'b49081e218acdc7628e35d62f9b6a39e82904a75d183109d71951088abee8188',
        float64: '8d4427a4e8a7b513295bb66bc2692a429114fe136c137cfa60e832ae5ac4bfa4',
      };
      expect(synchronousRun(jsEngine, dtype).digest).toBe(expected[dtype]);
    });

    it('trainEpoch and predictAsync, pausing inside batches, two plans interleaved, equal trainStep and predict', async () => {
      const reference = synchronousRun(jsEngine, dtype);
      const { x, y } = scenarioData(dtype);
      const Ctor = ctor(dtype);
      // Two plans at once: their slices alternate at the pauses, so each finds
      // the shared gemm packing buffers overwritten by the other.
      const plans = [scenarioPlan(jsEngine, dtype), scenarioPlan(jsEngine, dtype)];
      let pauses = 0;
      const counter = setInterval(() => { pauses++; }, 1);
      const results = await Promise.all(plans.map((p) => p.trainEpoch(x, ROWS, y, BATCH, null)));
      clearInterval(counter);
      expect(pauses).toBeGreaterThan(2);  // the event loop turned while they trained
      for (const [i, plan] of plans.entries()) {
        expect(results[i]).toEqual({ loss: expect.any(Number), batches: 2, badBatch: -1, cancelled: false });
        const params = new Ctor(plan.paramCount);
        plan.getParams(params);
        same(params, reference.params);
      }
      const predicted = await Promise.all(plans.map(async (p) => {
        const out = new Ctor(ROWS * 3);
        await p.predictAsync(x, ROWS, out, 64);
        return out;
      }));
      for (const out of predicted) same(out, reference.outputs[1]!);
      for (const p of plans) p.dispose();
    });
  });
}

// Big enough that one batch or pass is a few hundred ms of JS, small enough to keep each test near a second.
const WIDE: LayerSpec[] = [
  { kind: 'dense', inFeatures: 512, outFeatures: 1024 },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: 1024, outFeatures: 1024 },
  { kind: 'activation', activation: 'relu' },
  { kind: 'dense', inFeatures: 1024, outFeatures: 10 },
];

describe('the event loop during one long batch or pass (JS engine)', () => {
  // The old engine paused only between batches and between predict passes: a
  // fit of one batch let a 5 ms timer tick at most a few times, in fit's own
  // yields around the batch (0–2 measured at commit ef6556c), and one pass of
  // predictAsync not at all. Paused in slices, the timer ticks every ~10 ms
  // (YIELD_MS) of work. The counts leave room for a slow, shared machine,
  // where more work means more pauses, not fewer.
  it('fit of a single batch of a few hundred ms lets a 5 ms timer tick many times', async () => {
    const m = new Sequential([new Dense(512, 1024, { activation: 'relu' }), new Dense(1024, 1024, { activation: 'relu' }),
      new Dense(1024, 10)], { engine: 'js', seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    const rows = 128;
    const X = new Matrix(rows, 512, randomArray(rows * 512, 3, Float32Array));
    const Y = Int32Array.from({ length: rows }, (_, i) => i % 10);
    const r = await timerGaps(5, () => m.fit(X, Y, { epochs: 1, batchSize: rows }));
    expect(r.ticks).toBeGreaterThanOrEqual(8);
    expect(halfTimeGap(r.gaps)).toBeLessThan(100);
    m.dispose();
  });

  it('predictAsync of one pass lets a 5 ms timer tick many times', async () => {
    const rows = 384;
    const plan = jsEngine.createPlan({ dtype: 'float32', layers: WIDE, maxBatch: rows });
    plan.setParams(randomArray(plan.paramCount, 9, Float32Array));
    const x = randomArray(rows * 512, 4, Float32Array);
    const out = new Float32Array(rows * 10);
    const r = await timerGaps(5, () => plan.predictAsync(x, rows, out, rows));
    expect(r.ticks).toBeGreaterThanOrEqual(8);
    expect(halfTimeGap(r.gaps)).toBeLessThan(100);
    const expected = new Float32Array(rows * 10);
    plan.predict(x, rows, expected);
    same(out, expected);
    plan.dispose();
  });
});

describe('stopping in the middle of a batch (JS engine)', () => {
  const rows = 128;
  const wide = () => {
    const plan = jsEngine.createPlan({ dtype: 'float32', layers: WIDE, maxBatch: rows });
    plan.setParams(randomArray(plan.paramCount, 9, Float32Array).map((v) => v * 0.05));
    plan.setLoss(CE);
    return plan;
  };
  const x = randomArray(2 * rows * 512, 4, Float32Array);
  const y = Int32Array.from({ length: 2 * rows }, (_, i) => i % 10);

  it('dispose() during a batch stops the epoch at its next pause; the plan refuses everything after', async () => {
    const plan = wide();
    const epoch = plan.trainEpoch(x, 2 * rows, y, rows, null);
    await new Promise((resolve) => setTimeout(resolve, 30));  // inside the first batch (hundreds of ms)
    plan.dispose();
    expect(plan.disposed).toBe(true);
    const result = await epoch;
    expect(result.cancelled).toBe(true);
    expect(result.batches).toBe(0);
    expect(() => plan.predict(x, 1, new Float32Array(10))).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_DISPOSED' }));
  });

  it('dispose() during a predictAsync pass rejects it with ERR_FASTMLP_DISPOSED', async () => {
    const plan = wide();
    const pending = plan.predictAsync(x, rows, new Float32Array(rows * 10), rows);
    await new Promise((resolve) => setTimeout(resolve, 20));
    plan.dispose();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_FASTMLP_DISPOSED' });
  });

  it('an abort during a batch, before its update, drops it: the parameters are as before it, and train on as trainStep does', async () => {
    const plan = wide();
    const controller = new AbortController();
    const epoch = plan.trainEpoch(x, 2 * rows, y, rows, null, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 30));  // inside the first batch's forward (hundreds of ms)
    // Other calls are refused while the batch is half done.
    expect(() => plan.getParams(new Float32Array(plan.paramCount))).toThrow(expect.objectContaining({ code: 'ERR_FASTMLP_BUSY' }));
    controller.abort();
    const result = await epoch;
    expect(result).toMatchObject({ batches: 0, cancelled: true });
    const reference = wide();
    const [p, q] = [new Float32Array(plan.paramCount), new Float32Array(plan.paramCount)];
    plan.getParams(p);
    reference.getParams(q);
    same(p, q);
    plan.trainStep(x, rows, y);
    reference.trainStep(x, rows, y);
    plan.getParams(p);
    reference.getParams(q);
    same(p, q);
    plan.dispose();
    reference.dispose();
  });
});
