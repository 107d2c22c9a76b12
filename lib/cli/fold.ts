// Folding standardisation into a trained network's weights, so the saved model
// takes raw CSV columns and gives raw target values, with no scaler to ship.
//
// Input side, z = (x − μ)/σ feeding the first Dense layer y = Wz + b:
//   y = W((x − μ)/σ) + b = W'x + b'   with   W'[o,i] = W[o,i]/σ_i,   b' = b − W'μ.
// Output side, a standardised target t = (v − m)/s learned by a last Dense
// layer with no activation, t = Wh + b:
//   v = s·t + m = (sW)h + (sb + m).
// Both are exact linear algebra; only float rounding changes the outputs.
import type { Sequential } from '../sequential';

export interface ColumnScaling {
  mean: Float64Array;
  scale: Float64Array;
}

/** Rewrites layer 0's weight and bias so the model accepts unscaled inputs. */
export function foldInputScaling(model: Sequential, scaling: ColumnScaling): void {
  const w = model.getWeights();
  const weight = w['0.weight'];
  const bias = w['0.bias'];
  const inputs = scaling.mean.length;
  if (!weight || !bias || weight.length !== bias.length * inputs) {
    throw new Error('foldInputScaling: the first layer must be a Dense layer with a bias over the scaled columns');
  }
  const outputs = bias.length;
  for (let o = 0; o < outputs; o++) {
    let shift = 0;
    for (let i = 0; i < inputs; i++) {
      const folded = weight[o * inputs + i]! / scaling.scale[i]!;
      weight[o * inputs + i] = folded;
      shift += folded * scaling.mean[i]!;
    }
    bias[o] = bias[o]! - shift;
  }
  model.setWeights({ ...w, '0.weight': weight, '0.bias': bias });
}

/** Rewrites the last (Dense, no activation) layer so the model outputs unscaled target values. */
export function foldOutputScaling(model: Sequential, mean: number, scale: number): void {
  const last = model.layers.length - 1;
  const w = model.getWeights();
  const weight = w[`${last}.weight`];
  const bias = w[`${last}.bias`];
  if (!weight || !bias) throw new Error('foldOutputScaling: the last layer must be a Dense layer with a bias');
  for (let i = 0; i < weight.length; i++) weight[i] = weight[i]! * scale;
  for (let i = 0; i < bias.length; i++) bias[i] = bias[i]! * scale + mean;
  model.setWeights({ ...w, [`${last}.weight`]: weight, [`${last}.bias`]: bias });
}
