// The diverging model shared by the bad-batch tests (bn-restore, grad-overflow):
// Dense(4,8) → BatchNorm1d(8) → Dense(8,8) relu → Dense(8,1), mse, SGD lr 1e6,
// on targets i·1e3. Its first batch is finite, its step blows the weights up,
// and a later batch goes bad: in float32 the second batch's loss is ~1e59
// (finite in the float64 it is summed in) while its gradients overflow.
import { BatchNorm1d, Dense, Dropout, type Layer, LayerNorm, Matrix, PReLU, Sequential, optim } from '../lib';
import type { Dtype, NetworkPlan } from '../lib/engine';
import { randomArray } from './helpers';

export type Engine = 'native' | 'js';

export const IN = 4;
export const WIDTH = 8;
export const ROWS = 64;
export const BATCH = 16;
const X64 = randomArray(ROWS * IN, 31, Float64Array);
const TARGETS = Float64Array.from({ length: ROWS }, (_, i) => i * 1e3);

/** The whole data set in the given dtype. */
export function data(dtype: Dtype = 'float32') {
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  return { x: new Matrix(ROWS, IN, Ctor.from(X64)), y: Ctor.from(TARGETS) };
}

/** Rows [start, start + n) of the data set, as fit takes them without shuffling. */
export function rowsOf(start: number, n: number, dtype: Dtype = 'float32') {
  const { x, y } = data(dtype);
  return { x: new Matrix(n, IN, x.data.slice(start * IN, (start + n) * IN)), y: y.slice(start, start + n) };
}

export interface DivergingOptions {
  dtype?: Dtype;
  /** Layers with state of their own, before the output layer. */
  extra?: 'none' | 'dropout' | 'layernorm-prelu';
  /** Compile with metrics: ['mae'] (fit then records its batches' outputs). */
  metrics?: boolean;
}

/** The model, compiled (seed 3). */
export function divergingModel(engine: Engine, opts: DivergingOptions = {}): Sequential {
  const { dtype = 'float32', extra = 'none', metrics = false } = opts;
  const layers: Layer[] = [new Dense(IN, WIDTH), new BatchNorm1d(WIDTH), new Dense(WIDTH, WIDTH, { activation: 'relu' })];
  if (extra === 'dropout') layers.push(new Dropout(0.25));
  if (extra === 'layernorm-prelu') layers.push(new LayerNorm(WIDTH), new PReLU({ numParameters: WIDTH }));
  const m = new Sequential([...layers, new Dense(WIDTH, 1)], { engine, seed: 3, dtype });
  m.compile({ loss: 'mse', optimizer: new optim.SGD({ lr: 1e6 }), ...(metrics ? { metrics: ['mae'] } : {}) });
  return m;
}

/** The model's private plan (the engine's network). */
export function planOf(m: Sequential): NetworkPlan {
  return (m as unknown as { plan: NetworkPlan }).plan;
}
