// Layer definitions: what a Sequential is built from. A layer describes its
// parameters and the plan ops it compiles to; the engines do the arithmetic.
// The regularisation layers live in layers-regularise.ts.
// Every layer has getConfig(), a plain JSON object from which layerFromConfig()
// rebuilds it (model files store the architecture that way).
import {
  activationConfig, activationSpecs, describeActivation, flatActivation, prefersHeInit, resolveActivation, splitFlatActivation,
  type ActivationConfig, type ActivationOption, type ResolvedActivation,
} from './activations';
import type { ActivationName, ActivationParams, FloatArray, LayerSpec } from './engine';
import { Layer, type LayerConfig, type ParamShape } from './layer';
import { BatchNorm1d, Dropout, LayerNorm, PReLU, type BatchNormOptions, type LayerNormOptions, type PReLUOptions } from './layers-regularise';
import { fillInitSteps, resolveInit, type InitConfig, type Initializer } from './init';
import type { Rng } from './rng';
import type { Steps } from './steps';
import { ArgumentRangeError, integer, isPlainObject, number, options, typeError } from './validate';

export { ACTIVATIONS } from './activations';
export type { ActivationConfig, ActivationOption } from './activations';

const MAX_SIZE = 2 ** 31 - 1;

type LayerFactory = (config: LayerConfig) => Layer;
const LAYER_REGISTRY = new Map<string, LayerFactory>();

/** Makes layerFromConfig (and so model files) know a layer type. */
export function registerLayer(type: string, fromConfig: LayerFactory): void {
  // Checked now: a bad entry used to surface only when a file was loaded, as a bare TypeError.
  if (typeof type !== 'string' || type === '') throw typeError('type', 'a non-empty layer type name', type);
  if (typeof fromConfig !== 'function') throw typeError('fromConfig', 'a function from a layer config to a Layer', fromConfig);
  LAYER_REGISTRY.set(type, fromConfig);
}

/** The layer a getConfig() result describes; the layer's constructor validates every option. */
export function layerFromConfig(config: unknown, name = 'config'): Layer {
  if (!isPlainObject(config)) throw typeError(name, 'a layer config object { type, ... }', config);
  const type = config['type'];
  const factory = typeof type === 'string' ? LAYER_REGISTRY.get(type) : undefined;
  if (!factory) {
    throw new ArgumentRangeError(`Expected a known layer type (${[...LAYER_REGISTRY.keys()].map((t) => `'${t}'`).join(', ')}) ` +
      `for ${name}.type but received ${typeof type === 'string' ? `'${type}'` : String(type)}`);
  }
  const layer: unknown = factory(config as LayerConfig);
  if (!(layer instanceof Layer)) throw typeError(`the result of registerLayer('${type as string}')'s fromConfig for ${name}`, 'a Layer', layer);
  return layer;
}

/** A config's options without its type, for passing to a constructor's strict options check. */
export function optionsOf(config: LayerConfig, keys: readonly string[]): Record<string, unknown> {
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
  /**
   * Fused activation applied after the affine map (default 'identity'): a name
   * ('gelu') or a name with parameters ({ name: 'leaky-relu', negativeSlope: 0.1 }).
   */
  activation?: ActivationOption;
  /**
   * Default: 'he-normal' before ReLU-like activations (relu, leaky-relu, elu,
   * gelu, silu, swish), fused or as the next layer (Activation, or PReLU),
   * 'xavier-uniform' otherwise (SPEC.md §5).
   */
  weightInit?: Initializer;
  /** A number (a constant), a name or an initialiser object; default 0. */
  biasInit?: number | Initializer;
  /** L1/L2 penalty on the weight. */
  kernelRegularizer?: Regularizer;
}

/**
 * The fused activation and initialisers of a layer with a weight and a bias
 * (Dense, Conv2d, ConvTranspose2d), from its checked options. Default weight
 * init: 'he-normal' before a ReLU-like fused activation, 'xavier-uniform'
 * otherwise; initFromNext: no weightInit and no fused activation, so the next
 * layer decides (initParams). Default bias: zeros; a number is a constant.
 */
export function weightedLayerOptions(o: { activation?: unknown; weightInit?: unknown; biasInit?: unknown }): {
  activation: ActivationName; activationParams: ActivationParams; weightInit: InitConfig; initFromNext: boolean; biasInit: InitConfig;
} {
  const act = resolveActivation(o.activation === undefined ? 'identity' : o.activation);
  return {
    activation: act.name,
    activationParams: act.params,
    weightInit: o.weightInit === undefined
      ? { type: prefersHeInit(act.name) ? 'he-normal' : 'xavier-uniform' }
      : resolveInit('weightInit', o.weightInit),
    initFromNext: o.weightInit === undefined && act.name === 'identity',
    biasInit: o.biasInit === undefined ? { type: 'zeros' }
      : typeof o.biasInit === 'number' ? { type: 'constant', value: number('biasInit', o.biasInit) }
        : resolveInit('biasInit', o.biasInit),
  };
}

/** Fully connected layer y = act(x·Wᵀ + b); weight is out × in like torch.nn.Linear. */
export class Dense extends Layer {
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: ActivationName;
  /** The fused activation's parameters, defaults filled in ({} when it takes none). */
  readonly activationParams: ActivationParams;
  /** The initialiser; when defaulted with no fused activation, a ReLU-like next layer makes it 'he-normal' (initParams). */
  readonly weightInit: InitConfig;
  readonly biasInit: InitConfig;
  /** weightInit was not given and the activation is not fused: the next layer decides (see initParams). */
  private readonly initFromNext: boolean;
  readonly l1: number;
  readonly l2: number;

  constructor(inFeatures: number, outFeatures: number, opts?: DenseOptions) {
    super();
    this.inputs = integer('inFeatures', inFeatures, 1, MAX_SIZE);
    this.outputs = integer('outFeatures', outFeatures, 1, MAX_SIZE);
    const o = options('Dense options', opts, ['activation', 'weightInit', 'biasInit', 'kernelRegularizer']);
    ({ activation: this.activation, activationParams: this.activationParams, weightInit: this.weightInit,
      initFromNext: this.initFromNext, biasInit: this.biasInit } = weightedLayerOptions(o));
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
    return [dense, ...activationSpecs(this.resolved())];
  }

  outFeatures(): number {
    return this.outputs;
  }

  override params(): ParamShape[] {
    return [{ name: 'weight', shape: [this.outputs, this.inputs] }, { name: 'bias', shape: [this.outputs] }];
  }

  /**
   * A default initialiser looks through to a separate activation layer, so
   * Dense(…) + Activation('relu') (torch's Linear, ReLU) starts as the fused
   * Dense(…, { activation: 'relu' }) does.
   */
  override *initParamsSteps([weight, bias]: FloatArray[], rng: Rng, next?: Layer): Steps<void> {
    const reluLikeNext = (next instanceof Activation && prefersHeInit(next.activation)) || next instanceof PReLU;
    const weightInit: InitConfig = this.initFromNext && reluLikeNext ? { type: 'he-normal' } : this.weightInit;
    yield* fillInitSteps(weightInit, weight!, this.inputs, this.outputs, rng);
    yield* fillInitSteps(this.biasInit, bias!, this.inputs, this.outputs, rng);
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

  override getConfig(): LayerConfig {
    const config: LayerConfig = {
      type: 'Dense', inFeatures: this.inputs, outFeatures: this.outputs, ...flatActivation(this.resolved()),
      weightInit: { ...this.weightInit }, biasInit: { ...this.biasInit },
    };
    // Left out when the next layer decides it, so a rebuilt layer decides the same way.
    if (this.initFromNext) delete config['weightInit'];
    if (this.l1 > 0 || this.l2 > 0) config['kernelRegularizer'] = { l1: this.l1, l2: this.l2 };
    return config;
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

  override getConfig(): LayerConfig {
    return { type: 'Activation', ...flatActivation({ name: this.activation, params: this.activationParams }) };
  }
}

export { Dropout, BatchNorm1d, LayerNorm, PReLU };

// Activations are stored flat ({ activation: 'elu', alpha: 0.5 }): splitFlatActivation reads them back.
registerLayer('Dense', (c) => {
  const { activation, rest } = splitFlatActivation(optionsOf(c, ['inFeatures', 'outFeatures']));
  const opts = (activation === undefined ? rest : { ...rest, activation }) as DenseOptions;
  return new Dense(c['inFeatures'] as number, c['outFeatures'] as number, opts);
});
registerLayer('Activation', (c) => {
  const { activation, rest } = splitFlatActivation(optionsOf(c, []));
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new ArgumentRangeError(`Unknown option '${extra[0]}' for Activation config; expected activation and its parameters`);
  return new Activation(activation as ActivationOption);
});
registerLayer('Dropout', (c) => {
  const extra = Object.keys(optionsOf(c, ['p']));
  if (extra.length > 0) throw new ArgumentRangeError(`Unknown option '${extra[0]}' for Dropout config; expected p`);
  return new Dropout(c['p'] as number);
});
registerLayer('BatchNorm1d', (c) => new BatchNorm1d(c['numFeatures'] as number,
  optionsOf(c, ['numFeatures']) as BatchNormOptions));
registerLayer('LayerNorm', (c) => new LayerNorm(c['normalizedShape'] as number,
  optionsOf(c, ['normalizedShape']) as LayerNormOptions));
registerLayer('PReLU', (c) => new PReLU(optionsOf(c, []) as PReLUOptions));
