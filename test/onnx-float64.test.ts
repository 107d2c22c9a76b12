// float64 models exported to ONNX must run in onnxruntime-node with predict's
// outputs, at every opset: its CPU provider has no double kernel for Elu, Selu,
// Softplus, and from opset 19 LeakyRelu and PRelu, and fuses x·sigmoid(x) into a
// float-only QuickGelu, and has no double Erf (exact gelu) — so float64 graphs
// spell those activations with ops that have double kernels (Exp, Where,
// Greater, Mul, Div; erfc by the engines' own Chebyshev series), keeping the
// parameters in double (ONNX float attributes are float32).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Activation, Dense, Matrix, PReLU, Sequential, io, type ActivationOption } from '../lib';
import { ENGINES, maxRelDiff, randomArray } from './helpers';

async function runOnnx(bytes: Uint8Array, x: Matrix): Promise<Float64Array> {
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run({ input: new ort.Tensor('float64', x.data, [x.rows, x.cols]) });
  return result['output']!.data as Float64Array;
}

/** Rows that reach far into both tails (softplus's threshold, exp's underflow) and hit 0 exactly. */
function inputs(): Matrix {
  const data = randomArray(12 * 4, 23, Float64Array);
  for (let i = 0; i < data.length; i++) data[i]! *= 40;
  data[0] = 0;
  return new Matrix(12, 4, data);
}

const ACTIVATIONS: ActivationOption[] = [
  { name: 'leaky-relu', negativeSlope: 0.1 }, { name: 'elu', alpha: 0.7 }, 'elu', 'selu',
  'softplus', { name: 'softplus', beta: 2, threshold: 3 }, { name: 'softplus', beta: 0.5, threshold: 30 },
  'silu', { name: 'swish', beta: 1.5 }, { name: 'swish', beta: -0.5 }, { name: 'gelu', approximate: 'tanh' }, 'gelu',
];

describe.each(ENGINES)('float64 ONNX graphs run in onnxruntime as predict (%s engine)', (engine) => {
  describe.each([17, 18, 19, 20, 21])('opset %i', (opset) => {
    it.each(ACTIVATIONS.map((a) => [JSON.stringify(a), a] as const))('%s, fused and as a layer', async (_label, act) => {
      // Identity weights on the first layer: the activation sees the inputs' full range.
      const m = new Sequential([new Dense(4, 4, { activation: act }), new Activation(act), new Dense(4, 3)],
        { engine, dtype: 'float64', seed: 3 });
      const w = m.getWeights();
      w['0.weight'] = Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
      m.setWeights(w);
      const x = inputs();
      expect(maxRelDiff(await runOnnx(io.exportOnnxBuffer(m, { opset }), x), m.predict(x).data)).toBeLessThan(1e-12);
    });

    it('PReLU, one slope and one per feature', async () => {
      const m = new Sequential([new PReLU({ numParameters: 4, init: -0.3 }), new Dense(4, 5), new PReLU({ init: 0.1 }), new Dense(5, 2)],
        { engine, dtype: 'float64', seed: 3 });
      const x = inputs();
      expect(maxRelDiff(await runOnnx(io.exportOnnxBuffer(m, { opset }), x), m.predict(x).data)).toBeLessThan(1e-12);
    });
  });

  it('float32 graphs keep the single ONNX operators', () => {
    const m = new Sequential([new Dense(4, 4, { activation: 'selu' }), new Activation('silu'), new PReLU()], { engine, seed: 1 });
    const text = io.exportOnnxBuffer(m).toString('latin1');
    for (const op of ['Selu', 'Sigmoid', 'PRelu']) expect(text).toContain(op);
    const m64 = new Sequential([new Dense(4, 4, { activation: 'selu' }), new Activation('silu'), new PReLU()],
      { engine, dtype: 'float64', seed: 1 });
    const text64 = io.exportOnnxBuffer(m64).toString('latin1');
    for (const op of ['Selu', 'Sigmoid', 'PRelu']) expect(text64).not.toContain(op);
  });
});
