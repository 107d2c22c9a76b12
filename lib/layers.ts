// Layer definitions: what a Sequential is built from. A layer describes its
// parameters and the plan ops it compiles to; the engines do the arithmetic.
import {
  activationConfig, activationSpecs, describeActivation, prefersHeInit, resolveActivation,
  type ActivationConfig, type ActivationOption, type ResolvedActivation,
} from './activations';
import type { ActivationName, ActivationParams, LayerSpec } from './engine';
import { WEIGHT_INITS, type WeightInit } from './init';
import { integer, number, oneOf, options } from './validate';

export { ACTIVATIONS } from './activations';
export type { ActivationConfig, ActivationOption } from './activations';

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
  /**
   * Fused activation applied after the affine map (default 'identity'): a name
   * ('gelu') or a name with parameters ({ name: 'leaky-relu', negativeSlope: 0.1 }).
   */
  activation?: ActivationOption;
  /**
   * Default: 'he-normal' before ReLU-like activations (relu, leaky-relu, elu,
   * gelu, silu, swish), 'xavier-uniform' otherwise (SPEC.md §5).
   */
  weightInit?: WeightInit;
  /** Constant initial bias (default 0). */
  biasInit?: number;
}

/** Fully connected layer y = act(x·Wᵀ + b); weight is out × in like torch.nn.Linear. */
export class Dense extends Layer {
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: ActivationName;
  /** The fused activation's parameters, defaults filled in ({} when it takes none). */
  readonly activationParams: ActivationParams;
  readonly weightInit: WeightInit;
  readonly biasInit: number;

  constructor(inFeatures: number, outFeatures: number, opts?: DenseOptions) {
    super();
    this.inputs = integer('inFeatures', inFeatures, 1, 2 ** 31 - 1);
    this.outputs = integer('outFeatures', outFeatures, 1, 2 ** 31 - 1);
    const o = options('Dense options', opts, ['activation', 'weightInit', 'biasInit']);
    const act = resolveActivation(o.activation === undefined ? 'identity' : o.activation);
    this.activation = act.name;
    this.activationParams = act.params;
    this.weightInit = o.weightInit === undefined
      ? (prefersHeInit(this.activation) ? 'he-normal' : 'xavier-uniform')
      : oneOf('weightInit', o.weightInit, WEIGHT_INITS);
    this.biasInit = o.biasInit === undefined ? 0 : number('biasInit', o.biasInit);
  }

  override get inFeatures(): number {
    return this.inputs;
  }

  toSpecs(): LayerSpec[] {
    const dense: LayerSpec = { kind: 'dense', inFeatures: this.inputs, outFeatures: this.outputs };
    return [dense, ...activationSpecs(this.resolved())];
  }

  outFeatures(): number {
    return this.outputs;
  }

  override params(): ParamShape[] {
    return [{ name: 'weight', shape: [this.outputs, this.inputs] }, { name: 'bias', shape: [this.outputs] }];
  }

  /** The activation in the object form the constructor accepts. */
  get activationConfig(): ActivationConfig {
    return activationConfig(this.resolved());
  }

  private resolved(): ResolvedActivation {
    return { name: this.activation, params: this.activationParams };
  }

  describe(): string {
    const act = this.activation === 'identity' ? '' : `, activation: ${describeActivation(this.resolved())}`;
    return `Dense(${this.inputs} → ${this.outputs}${act})`;
  }
}

/**
 * A standalone activation layer, e.g. new Activation('tanh') or
 * new Activation({ name: 'elu', alpha: 0.5 }).
 */
export class Activation extends Layer {
  readonly activation: ActivationName;
  /** Its parameters, defaults filled in ({} when it takes none). */
  readonly activationParams: ActivationParams;

  constructor(activation: ActivationOption) {
    super();
    const act = resolveActivation(activation);
    this.activation = act.name;
    this.activationParams = act.params;
  }

  /** The activation in the object form the constructor accepts. */
  get activationConfig(): ActivationConfig {
    return activationConfig({ name: this.activation, params: this.activationParams });
  }

  toSpecs(): LayerSpec[] {
    return activationSpecs({ name: this.activation, params: this.activationParams });
  }

  outFeatures(inFeatures: number): number {
    return inFeatures;
  }

  describe(): string {
    return `Activation(${describeActivation({ name: this.activation, params: this.activationParams })})`;
  }
}
