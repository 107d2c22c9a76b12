// Layer definitions: what a Sequential is built from. A layer describes its
// parameters and the plan ops it compiles to; the engines do the arithmetic.
// The regularisation layers live in layers-regularise.ts.
// Every layer has getConfig(), a plain JSON object from which layerFromConfig()
// rebuilds it (model files store the architecture that way).
import type { ActivationName, FloatArray, LayerSpec } from './engine';
import { Layer, type LayerConfig, type ParamShape } from './layer';
import { BatchNorm1d, Dropout, LayerNorm, PReLU, type BatchNormOptions, type LayerNormOptions, type PReLUOptions } from './layers-regularise';
import { fillInit, resolveInit, type InitConfig, type Initializer } from './init';
import type { Rng } from './rng';
import { boolean, integer, isPlainObject, number, oneOf, options, typeError } from './validate';

export const ACTIVATIONS = ['identity', 'linear', 'relu', 'sigmoid', 'tanh', 'softmax'] as const;
export type ActivationOption = (typeof ACTIVATIONS)[number];

function canonicalActivation(name: string, value: unknown): ActivationName {
  const a = oneOf(name, value, ACTIVATIONS);
  return a === 'linear' ? 'identity' : a;
}

const MAX_SIZE = 2 ** 31 - 1;

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

export { Layer } from './layer';
export type { LayerConfig, ParamShape } from './layer';

/** Keras-style weight penalty: l1·Σ|w| + l2·Σw², added to the loss (biases are not penalised). */
export interface Regularizer {
  l1?: number;
  l2?: number;
}

export interface DenseOptions {
  /** Fused activation applied after the affine map (default 'identity'). */
  activation?: ActivationOption;
  /** Default: 'he-normal' before relu, 'xavier-uniform' otherwise (SPEC.md §5). */
  weightInit?: Initializer;
  /** A number (a constant), a name or an initialiser object; default 0. */
  biasInit?: number | Initializer;
  /** L1/L2 penalty on the weight. */
  kernelRegularizer?: Regularizer;
}

/** Fully connected layer y = act(x·Wᵀ + b); weight is out × in like torch.nn.Linear. */
export class Dense extends Layer {
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: ActivationName;
  readonly weightInit: InitConfig;
  readonly biasInit: InitConfig;
  readonly l1: number;
  readonly l2: number;

  constructor(inFeatures: number, outFeatures: number, opts?: DenseOptions) {
    super();
    this.inputs = integer('inFeatures', inFeatures, 1, MAX_SIZE);
    this.outputs = integer('outFeatures', outFeatures, 1, MAX_SIZE);
    const o = options('Dense options', opts, ['activation', 'weightInit', 'biasInit', 'kernelRegularizer']);
    this.activation = o.activation === undefined ? 'identity' : canonicalActivation('activation', o.activation);
    this.weightInit = o.weightInit === undefined
      ? { type: this.activation === 'relu' ? 'he-normal' : 'xavier-uniform' }
      : resolveInit('weightInit', o.weightInit);
    this.biasInit = o.biasInit === undefined ? { type: 'zeros' }
      : typeof o.biasInit === 'number' ? { type: 'constant', value: number('biasInit', o.biasInit) }
        : resolveInit('biasInit', o.biasInit);
    const r = options('kernelRegularizer', o.kernelRegularizer, ['l1', 'l2']);
    this.l1 = r.l1 === undefined ? 0 : number('kernelRegularizer.l1', r.l1, 0);
    this.l2 = r.l2 === undefined ? 0 : number('kernelRegularizer.l2', r.l2, 0);
  }

  override get inFeatures(): number {
    return this.inputs;
  }

  toSpecs(): LayerSpec[] {
    const dense: LayerSpec = { kind: 'dense', inFeatures: this.inputs, outFeatures: this.outputs };
    if (this.l1 > 0) dense.l1 = this.l1;
    if (this.l2 > 0) dense.l2 = this.l2;
    return this.activation === 'identity' ? [dense] : [dense, { kind: 'activation', activation: this.activation }];
  }

  outFeatures(): number {
    return this.outputs;
  }

  override params(): ParamShape[] {
    return [{ name: 'weight', shape: [this.outputs, this.inputs] }, { name: 'bias', shape: [this.outputs] }];
  }

  override initParams([weight, bias]: FloatArray[], rng: Rng): void {
    fillInit(this.weightInit, weight!, this.inputs, this.outputs, rng);
    fillInit(this.biasInit, bias!, this.inputs, this.outputs, rng);
  }

  describe(): string {
    const act = this.activation === 'identity' ? '' : `, activation: '${this.activation}'`;
    return `Dense(${this.inputs} → ${this.outputs}${act})`;
  }

  override getConfig(): LayerConfig {
    const config: LayerConfig = {
      type: 'Dense', inFeatures: this.inputs, outFeatures: this.outputs, activation: this.activation,
      weightInit: { ...this.weightInit }, biasInit: { ...this.biasInit },
    };
    if (this.l1 > 0 || this.l2 > 0) config['kernelRegularizer'] = { l1: this.l1, l2: this.l2 };
    return config;
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

  override getConfig(): LayerConfig {
    return { type: 'Activation', activation: this.activation };
  }
}

export { Dropout, BatchNorm1d, LayerNorm, PReLU };

registerLayer('Dense', (c) => new Dense(c['inFeatures'] as number, c['outFeatures'] as number,
  optionsOf(c, ['inFeatures', 'outFeatures']) as DenseOptions));
registerLayer('Activation', (c) => {
  const extra = Object.keys(optionsOf(c, ['activation']));
  if (extra.length > 0) throw new RangeError(`Unknown option '${extra[0]}' for Activation config; expected activation`);
  return new Activation(c['activation'] as ActivationOption);
});
registerLayer('Dropout', (c) => {
  const extra = Object.keys(optionsOf(c, ['p']));
  if (extra.length > 0) throw new RangeError(`Unknown option '${extra[0]}' for Dropout config; expected p`);
  return new Dropout(c['p'] as number);
});
registerLayer('BatchNorm1d', (c) => new BatchNorm1d(c['numFeatures'] as number,
  optionsOf(c, ['numFeatures']) as BatchNormOptions));
registerLayer('LayerNorm', (c) => new LayerNorm(c['normalizedShape'] as number,
  optionsOf(c, ['normalizedShape']) as LayerNormOptions));
registerLayer('PReLU', (c) => new PReLU(optionsOf(c, []) as PReLUOptions));
