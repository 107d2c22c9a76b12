// A JS-engine training run big enough to be cut into many slices (lib/engines/
// js/slices.ts): gemm runs that start inside a block, packed and direct paths,
// activations in row blocks, Adam with clipNorm over several ranges, an L2
// penalty. test/js-slices.test.ts compares its results with the synchronous
// trainStep loop and with a digest of what the engine computed before the
// passes were sliced.
import { createHash } from 'node:crypto';
import type { Dtype, Engine, FloatArray, LayerSpec, LossSpec, OptimizerSpec } from '../lib/engine';
import { randomArray } from './helpers';

export const CE: LossSpec = { kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 };
export const ADAM_CLIPPED: OptimizerSpec = {
  kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01,
  beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 1, amsgrad: true,
};
/** 64-300-300-3: products of 8+ packed blocks with ragged edges, 300-wide direct rows, 110 k parameters. */
export const LAYERS: LayerSpec[] = [
  { kind: 'dense', inFeatures: 64, outFeatures: 300, l2: 1e-3 },
  { kind: 'activation', activation: 'gelu' },
  { kind: 'dense', inFeatures: 300, outFeatures: 300 },
  { kind: 'activation', activation: 'tanh' },
  { kind: 'dense', inFeatures: 300, outFeatures: 3 },
];
export const ROWS = 300;
export const BATCH = 150;

export function ctor(dtype: Dtype): Float32ArrayConstructor | Float64ArrayConstructor {
  return dtype === 'float32' ? Float32Array : Float64Array;
}

/** The scenario's data: x (ROWS × 64) and class labels. */
export function scenarioData(dtype: Dtype): { x: FloatArray; y: Int32Array } {
  return { x: randomArray(ROWS * 64, 11, ctor(dtype)), y: Int32Array.from({ length: ROWS }, (_, i) => (i * 7) % 3) };
}

/** A plan of LAYERS with the scenario's starting weights, loss and optimizer. */
export function scenarioPlan(engine: Engine, dtype: Dtype) {
  const plan = engine.createPlan({ dtype, layers: LAYERS, maxBatch: BATCH });
  const init = randomArray(plan.paramCount, 5, ctor(dtype));
  for (let i = 0; i < init.length; i++) init[i] *= 0.1;
  plan.setParams(init);
  plan.setLoss(CE);
  plan.setOptimizer(ADAM_CLIPPED);
  return plan;
}

export interface ScenarioResult {
  /** Parameters after two trainStep batches. */
  params: FloatArray;
  /** predict of 5 rows (the direct gemm path) and of all rows, then dLoss/dInput of a forwardTrain + backward. */
  outputs: FloatArray[];
  digest: string;
}

/** The synchronous run: two trainStep batches, predicts, a backward to the input. */
export function synchronousRun(engine: Engine, dtype: Dtype): ScenarioResult {
  const { x, y } = scenarioData(dtype);
  const Ctor = ctor(dtype);
  const plan = scenarioPlan(engine, dtype);
  for (let start = 0; start < ROWS; start += BATCH) {
    plan.trainStep(x.subarray(start * 64, (start + BATCH) * 64), BATCH, y.subarray(start, start + BATCH));
  }
  const params = new Ctor(plan.paramCount);
  plan.getParams(params);
  const few = new Ctor(5 * 3);
  plan.predict(x, 5, few);
  const all = new Ctor(ROWS * 3);
  plan.predict(x, ROWS, all);
  const out = new Ctor(BATCH * 3);
  plan.forwardTrain(x, BATCH, out);
  const dinput = new Ctor(BATCH * 64);
  plan.backward(randomArray(BATCH * 3, 3, Ctor), BATCH, dinput);
  plan.dispose();
  const outputs = [few, all, dinput];
  const hash = createHash('sha256');
  for (const a of [params, ...outputs]) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return { params, outputs, digest: hash.digest('hex') };
}
