// BatchNorm1d, LayerNorm and PReLU against PyTorch 1.13 reference values
// (test/fixtures/layers.json, made by test/fixtures/make_layers_fixture.py),
// in float64 and both engines: outputs, input and parameter gradients, running
// statistics over several training steps, eval mode; and a small network with
// L1/L2 penalties trained four SGD steps against torch's trajectory.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dense, LayerNorm, PReLU, Sequential, optim } from '../lib';
import type { LayerSpec, NetworkPlan } from '../lib/engine';
import { ENGINES, engine, maxRelDiff } from './helpers';

interface Case { x: number[]; dy: number[]; y: number[]; dx: number[]; dweight: number[]; dbias?: number[] }
const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'layers.json'), 'utf8')) as {
  batchnorm: { features: number; rows: number; weight: number[]; bias: number[];
    train: (Case & { dbias: number[]; running_mean: number[]; running_var: number[]; num_batches_tracked: number })[];
    eval: Case };
  layernorm: Case & { features: number; rows: number; weight: number[]; bias: number[] };
  prelu: Case & { features: number; rows: number; weight: number[] };
  network: { l2_layer0: number; l1_layer4: number; lr: number; x: number[]; y: number[]; rows: number;
    initial: Record<string, number[]>; losses: number[]; final: Record<string, number[]>; eval_output: number[] };
};

const TOL = 1e-10;

/** The layer under test followed by an identity dense layer, so the plan's output is the layer's. */
function identityAfter(e: ReturnType<typeof engine>, layer: LayerSpec, width: number, layerParams: number[], rows: number): NetworkPlan {
  const plan = e.createPlan({ dtype: 'float64', maxBatch: rows,
    layers: [layer, { kind: 'dense', inFeatures: width, outFeatures: width }] });
  const eye = Array.from({ length: width * width }, (_, i) => (i % (width + 1) === 0 ? 1 : 0));
  plan.setParams(Float64Array.from([...layerParams, ...eye, ...new Array(width).fill(0)]));
  return plan;
}

/** forwardTrain + backward of one case; returns output, dx and the layer's parameter gradients. */
function run(plan: NetworkPlan, c: Case, rows: number, width: number, layerParamCount: number) {
  const out = new Float64Array(rows * width);
  plan.forwardTrain(Float64Array.from(c.x), rows, out);
  const dx = new Float64Array(rows * width);
  plan.backward(Float64Array.from(c.dy), rows, dx);
  const grads = new Float64Array(plan.paramCount);
  plan.getGrads(grads);
  return { out, dx, grads: grads.subarray(0, layerParamCount) };
}

describe.each(ENGINES)('PyTorch reference values (%s engine)', (name) => {
  const e = engine(name);

  it('BatchNorm1d in training mode: outputs, gradients and running statistics over three steps', () => {
    const bn = fixture.batchnorm;
    const C = bn.features;
    const plan = identityAfter(e, { kind: 'batchnorm', numFeatures: C, eps: 1e-5, momentum: 0.1, affine: true },
      C, [...bn.weight, ...bn.bias], bn.rows);
    // running_mean, running_var, and num_batches_tracked as three base-2^24 digits (lib/batch-count.ts).
    expect(plan.bufferCount).toBe(2 * C + 3);
    const buffers = new Float64Array(plan.bufferCount);
    plan.getBuffers(buffers);
    expect(Array.from(buffers)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0]);
    for (const step of bn.train) {
      const { out, dx, grads } = run(plan, step, bn.rows, C, 2 * C);
      expect(maxRelDiff(out, step.y)).toBeLessThan(TOL);
      expect(maxRelDiff(dx, step.dx)).toBeLessThan(TOL);
      expect(maxRelDiff(grads, [...step.dweight, ...step.dbias])).toBeLessThan(TOL);
      plan.getBuffers(buffers);
      expect(maxRelDiff(buffers, [...step.running_mean, ...step.running_var, step.num_batches_tracked, 0, 0])).toBeLessThan(TOL);
    }
  });

  it('BatchNorm1d in eval mode uses the running statistics (forwardTrain, backward and predict)', () => {
    const bn = fixture.batchnorm;
    const C = bn.features;
    const plan = identityAfter(e, { kind: 'batchnorm', numFeatures: C, eps: 1e-5, momentum: 0.1, affine: true },
      C, [...bn.weight, ...bn.bias], bn.rows);
    const last = bn.train[bn.train.length - 1]!;
    plan.setBuffers(Float64Array.from([...last.running_mean, ...last.running_var, 3, 0, 0]));
    plan.setTraining(false);
    expect(plan.training).toBe(false);
    const { out, dx, grads } = run(plan, bn.eval, 3, C, 2 * C);
    expect(maxRelDiff(out, bn.eval.y)).toBeLessThan(TOL);
    expect(maxRelDiff(dx, bn.eval.dx)).toBeLessThan(TOL);
    expect(maxRelDiff(grads, [...bn.eval.dweight, ...bn.eval.dbias!])).toBeLessThan(TOL);
    const predicted = new Float64Array(3 * C);
    plan.predict(Float64Array.from(bn.eval.x), 3, predicted);
    expect(maxRelDiff(predicted, bn.eval.y)).toBeLessThan(TOL);
    // Eval mode leaves the running statistics alone.
    const buffers = new Float64Array(plan.bufferCount);
    plan.getBuffers(buffers);
    expect(Array.from(buffers)).toEqual([...last.running_mean, ...last.running_var, 3, 0, 0]);
  });

  it('LayerNorm: outputs and gradients', () => {
    const ln = fixture.layernorm;
    const C = ln.features;
    const plan = identityAfter(e, { kind: 'layernorm', normalizedShape: C, eps: 1e-5, elementwiseAffine: true },
      C, [...ln.weight, ...ln.bias], ln.rows);
    const { out, dx, grads } = run(plan, ln, ln.rows, C, 2 * C);
    expect(maxRelDiff(out, ln.y)).toBeLessThan(TOL);
    expect(maxRelDiff(dx, ln.dx)).toBeLessThan(TOL);
    expect(maxRelDiff(grads, [...ln.dweight, ...ln.dbias!])).toBeLessThan(TOL);
    const predicted = new Float64Array(ln.rows * C);
    plan.predict(Float64Array.from(ln.x), ln.rows, predicted);
    expect(maxRelDiff(predicted, ln.y)).toBeLessThan(TOL);
  });

  it('PReLU with one slope per feature: outputs, dL/dx and dL/da', () => {
    const pr = fixture.prelu;
    const C = pr.features;
    const plan = identityAfter(e, { kind: 'prelu', numParameters: C }, C, pr.weight, pr.rows);
    const { out, dx, grads } = run(plan, pr, pr.rows, C, C);
    expect(maxRelDiff(out, pr.y)).toBeLessThan(TOL);
    expect(maxRelDiff(dx, pr.dx)).toBeLessThan(TOL);
    expect(maxRelDiff(grads, pr.dweight)).toBeLessThan(TOL);
  });

  it('a Dense-BatchNorm1d-PReLU-LayerNorm-Dense network with L2/L1 penalties follows torch for four SGD steps', () => {
    const net = fixture.network;
    const model = new Sequential([
      new Dense(3, 5, { kernelRegularizer: { l2: net.l2_layer0 } }), new BatchNorm1d(5), new PReLU(),
      new LayerNorm(5), new Dense(5, 2, { kernelRegularizer: { l1: net.l1_layer4 } }),
    ], { engine: name, dtype: 'float64', seed: 1 });
    expect(Object.keys(model.getWeights())).toEqual(Object.keys(net.initial));
    model.setWeights(net.initial);
    model.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: net.lr }) });
    const x = { rows: net.rows, cols: 3, data: Float64Array.from(net.x) };
    const y = { rows: net.rows, cols: 2, data: Float64Array.from(net.y) };
    const losses = net.losses.map(() => model.trainStep(x, y));
    expect(maxRelDiff(losses, net.losses)).toBeLessThan(1e-10);
    const final = model.getWeights();
    for (const [k, v] of Object.entries(net.final)) {
      expect(maxRelDiff(final[k]!, v), k).toBeLessThan(1e-9);
    }
    expect(maxRelDiff(model.predict(x).data, net.eval_output)).toBeLessThan(1e-9);
  });
});
