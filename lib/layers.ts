// Layer definitions: what a Sequential is built from. A layer describes its
// parameters and the plan ops it compiles to; the engines do the arithmetic.
import type { ActivationName, LayerSpec } from './engine';
import { WEIGHT_INITS, type WeightInit } from './init';
import { integer, isPlainObject, number, oneOf, options, typeError } from './validate';

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
  /**
   * Everything needed to rebuild this layer, as plain JSON: `{ type, ...options }`.
   * layerFromConfig(layer.getConfig()) gives an equal layer. A layer kind that
   * cannot be saved says so here; each kind overrides it and registers itself
   * with registerLayer.
   */
  getConfig(): LayerConfig {
    throw new Error(`${this.describe()} cannot be serialised: its class defines no getConfig()`);
  }
}

/** A layer as JSON: its registered type name and the options it was built with. */
export interface LayerConfig {
  type: string;
  [option: string]: unknown;
}

type LayerFactory = (config: LayerConfig) => Layer;
const LAYER_REGISTRY = new Map<string, LayerFactory>();

/** Makes layerFromConfig (and so model files) know a layer type. */
export function registerLayer(type: string, fromConfig: LayerFactory): void {
  LAYER_REGISTRY.set(type, fromConfig);
}

/** The layer a getConfig() result describes; the layer's constructor validates every option. */
export function layerFromConfig(config: unknown, name = 'config'): Layer {
  if (!isPlainObject(config)) throw typeError(name, 'a layer config object { type, ... }', config);
  const type = config['type'];
  const factory = typeof type === 'string' ? LAYER_REGISTRY.get(type) : undefined;
  if (!factory) {
    throw new RangeError(`Expected a known layer type (${[...LAYER_REGISTRY.keys()].map((t) => `'${t}'`).join(', ')}) ` +
      `for ${name}.type but received ${typeof type === 'string' ? `'${type}'` : String(type)}`);
  }
  return factory(config as LayerConfig);
}

/** A config's options without its type, for passing to a constructor's strict options check. */
function optionsOf(config: LayerConfig, keys: readonly string[]): Record<string, unknown> {
  // Null prototype: a '__proto__' key from a parsed file stays an ordinary (unknown) option.
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(config)) if (k !== 'type' && !keys.includes(k)) out[k] = config[k];
  return out;
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

  override getConfig(): LayerConfig {
    return { type: 'Dense', inFeatures: this.inputs, outFeatures: this.outputs,
      activation: this.activation, weightInit: this.weightInit, biasInit: this.biasInit };
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

  override getConfig(): LayerConfig {
    return { type: 'Activation', activation: this.activation };
  }

  describe(): string {
    return `Activation('${this.activation}')`;
  }
}

registerLayer('Dense', (c) => new Dense(c['inFeatures'] as number, c['outFeatures'] as number,
  optionsOf(c, ['inFeatures', 'outFeatures']) as DenseOptions));
registerLayer('Activation', (c) => {
  const extra = Object.keys(optionsOf(c, ['activation']));
  if (extra.length > 0) throw new RangeError(`Unknown option '${extra[0]}' for Activation config; expected activation`);
  return new Activation(c['activation'] as ActivationOption);
});
