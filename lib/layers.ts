// Layer definitions: what a Sequential is built from. A layer describes its
// parameters and the plan ops it compiles to; the engines do the arithmetic.
import type { ActivationName, LayerSpec } from './engine';
import { WEIGHT_INITS, type WeightInit } from './init';
import { integer, number, oneOf, options } from './validate';

export const ACTIVATIONS = ['identity', 'linear', 'relu', 'sigmoid', 'tanh', 'softmax'] as const;
export type ActivationOption = (typeof ACTIVATIONS)[number];

function canonicalActivation(name: string, value: unknown): ActivationName {
  const a = oneOf(name, value, ACTIVATIONS);
  return a === 'linear' ? 'identity' : a;
}

/** One named parameter tensor of a layer, as in PyTorch's state_dict. */
export interface ParamShape {
  name: 'weight' | 'bias';
  shape: number[];
}

export abstract class Layer {
  /** Plan ops for this layer, given the width of its input. */
  abstract toSpecs(inFeatures: number): LayerSpec[];
  /** Width of the output for a given input width. */
  abstract outFeatures(inFeatures: number): number;
  /** Parameter tensors in plan order (empty for parameter-free layers). */
  params(): ParamShape[] {
    return [];
  }
  /** Width this layer requires as input, or null when it takes any. */
  get inFeatures(): number | null {
    return null;
  }
  abstract describe(): string;
}

export interface DenseOptions {
  /** Fused activation applied after the affine map (default 'identity'). */
  activation?: ActivationOption;
  /** Default: 'he-normal' before relu, 'xavier-uniform' otherwise (SPEC.md §5). */
  weightInit?: WeightInit;
  /** Constant initial bias (default 0). */
  biasInit?: number;
}

/** Fully connected layer y = act(x·Wᵀ + b); weight is out × in like torch.nn.Linear. */
export class Dense extends Layer {
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: ActivationName;
  readonly weightInit: WeightInit;
  readonly biasInit: number;

  constructor(inFeatures: number, outFeatures: number, opts?: DenseOptions) {
    super();
    this.inputs = integer('inFeatures', inFeatures, 1, 2 ** 31 - 1);
    this.outputs = integer('outFeatures', outFeatures, 1, 2 ** 31 - 1);
    const o = options('Dense options', opts, ['activation', 'weightInit', 'biasInit']);
    this.activation = o.activation === undefined ? 'identity' : canonicalActivation('activation', o.activation);
    this.weightInit = o.weightInit === undefined
      ? (this.activation === 'relu' ? 'he-normal' : 'xavier-uniform')
      : oneOf('weightInit', o.weightInit, WEIGHT_INITS);
    this.biasInit = o.biasInit === undefined ? 0 : number('biasInit', o.biasInit);
  }

  override get inFeatures(): number {
    return this.inputs;
  }

  toSpecs(): LayerSpec[] {
    const dense: LayerSpec = { kind: 'dense', inFeatures: this.inputs, outFeatures: this.outputs };
    return this.activation === 'identity' ? [dense] : [dense, { kind: 'activation', activation: this.activation }];
  }

  outFeatures(): number {
    return this.outputs;
  }

  override params(): ParamShape[] {
    return [{ name: 'weight', shape: [this.outputs, this.inputs] }, { name: 'bias', shape: [this.outputs] }];
  }

  describe(): string {
    const act = this.activation === 'identity' ? '' : `, activation: '${this.activation}'`;
    return `Dense(${this.inputs} → ${this.outputs}${act})`;
  }
}

/** A standalone activation layer, e.g. new Activation('tanh'). */
export class Activation extends Layer {
  readonly activation: ActivationName;

  constructor(activation: ActivationOption) {
    super();
    this.activation = canonicalActivation('activation', activation);
  }

  toSpecs(): LayerSpec[] {
    return this.activation === 'identity' ? [] : [{ kind: 'activation', activation: this.activation }];
  }

  outFeatures(inFeatures: number): number {
    return inFeatures;
  }

  describe(): string {
    return `Activation('${this.activation}')`;
  }
}
