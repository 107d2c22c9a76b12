// Image layers (SPEC.md §6): Conv2d and MaxPool2d, as torch.nn.Conv2d and
// torch.nn.MaxPool2d, on rows that hold images flattened as torch's
// x.flatten(1) (channel, then image row, then column). A layer maps rows to
// rows, so an image layer must know its input's height and width: the first
// one is told (inputSize), the ones after it learn it from the layer before
// (bindImageLayers, which Sequential runs), as a torch user never writes it.
// Output size per dimension ⌊(n + 2p − f)/s⌋ + 1 (SPEC.md §6; torch's Conv2d
// and MaxPool2d docs).
import {
  activationConfig, activationSpecs, describeActivation, flatActivation, prefersHeInit, splitFlatActivation,
  type ActivationConfig, type ActivationOption, type ResolvedActivation,
} from './activations';
import type { ActivationName, ActivationParams, FloatArray, LayerSpec, Window2d } from './engine';
import { Layer, type LayerConfig, type ParamShape } from './layer';
import { Activation, Dense, optionsOf, PReLU, registerLayer, weightedLayerOptions } from './layers';
import { fillInitSteps, type InitConfig, type Initializer } from './init';
import type { Rng } from './rng';
import type { Steps } from './steps';
import { ArgumentRangeError, integer, options, typeError } from './validate';

const MAX_SIZE = 2 ** 31 - 1;

/** A size per image dimension: one number for both, or [height, width]. */
export type Size2d = number | readonly [number, number];

/** The images a row holds: channels of height × width values. */
export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

function pair(name: string, value: unknown, min: number): [number, number] {
  if (typeof value === 'number') {
    const v = integer(name, value, min, MAX_SIZE);
    return [v, v];
  }
  if (!Array.isArray(value) || value.length !== 2) throw typeError(name, 'an integer or [height, width]', value);
  return [integer(`${name}[0]`, value[0], min, MAX_SIZE), integer(`${name}[1]`, value[1], min, MAX_SIZE)];
}

/** ⌊(n + 2p − f)/s⌋ + 1, or a RangeError naming the layer when the kernel does not fit the padded input. */
function outputLength(layer: string, dim: 'height' | 'width', n: number, f: number, s: number, p: number): number {
  if (n + 2 * p < f) {
    throw new ArgumentRangeError(`Expected kernelSize ${dim} ≤ input ${dim} + 2·padding (${n + 2 * p}) for ${layer} but received ${f}`);
  }
  return Math.floor((n + 2 * p - f) / s) + 1;
}

/** (n − 1)·s − 2p + f + outPad (torch.nn.ConvTranspose2d's shape formula), or a RangeError when it is below 1. */
function transposedLength(layer: string, dim: 'height' | 'width', n: number, f: number, s: number, p: number, outPad: number): number {
  const out = (n - 1) * s - 2 * p + f + outPad;
  if (out < 1) {
    throw new ArgumentRangeError(`Expected padding ${dim} ≤ ((input − 1)·stride + kernelSize + outputPadding − 1)/2 ` +
      `(an output ${dim} of at least 1) for ${layer} but received ${p}`);
  }
  return out;
}

/** The geometry the image layers share, checked; inputSize null until bound; outPad non-null for a transposed convolution. */
class Window {
  constructor(readonly layer: string, readonly kernel: [number, number], readonly stride: [number, number],
              readonly padding: [number, number], readonly inputSize: [number, number] | null,
              readonly outPad: [number, number] | null = null) {
    if (outPad) {
      for (const d of [0, 1] as const) {
        if (outPad[d] >= stride[d]) {
          throw new ArgumentRangeError(`Expected outputPadding below the stride (${stride[d]}) for ${layer} but received ${outPad[d]}`);
        }
      }
    }
    if (inputSize) this.outputSize();
  }

  outputSize(): [number, number] {
    const [h, w] = this.bound();
    const [k, s, p] = [this.kernel, this.stride, this.padding];
    if (this.outPad) {
      return [transposedLength(this.layer, 'height', h, k[0], s[0], p[0], this.outPad[0]),
        transposedLength(this.layer, 'width', w, k[1], s[1], p[1], this.outPad[1])];
    }
    return [outputLength(this.layer, 'height', h, k[0], s[0], p[0]), outputLength(this.layer, 'width', w, k[1], s[1], p[1])];
  }

  bound(at?: string): [number, number] {
    if (!this.inputSize) {
      throw new ArgumentRangeError(`Expected inputSize for ${at ? `${at} (${this.layer})` : this.layer}: it is the first image layer of the model, ` +
        'so give its input [height, width] (the layers after it take theirs from the layer before)');
    }
    return this.inputSize;
  }

  spec(): Window2d {
    const [inHeight, inWidth] = this.bound();
    return { inHeight, inWidth, kernelHeight: this.kernel[0], kernelWidth: this.kernel[1], strideHeight: this.stride[0],
      strideWidth: this.stride[1], padHeight: this.padding[0], padWidth: this.padding[1] };
  }

  describe(): string {
    const pad = this.outPad && (this.outPad[0] > 0 || this.outPad[1] > 0) ? `, output padding ${this.outPad.join('×')}` : '';
    const k = `kernel ${this.kernel.join('×')}, stride ${this.stride.join('×')}, padding ${this.padding.join('×')}${pad}`;
    return this.inputSize ? `${k}, ${this.inputSize.join('×')} → ${this.outputSize().join('×')}` : k;
  }
}

export interface Conv2dOptions {
  /** The input images' [height, width] (or one number for both); only the model's first image layer needs it. */
  inputSize?: Size2d;
  /** Default 1. */
  stride?: Size2d;
  /** Zeros on each side, default 0. */
  padding?: Size2d;
  /** Fused activation after the convolution (default 'identity'), as Dense's. */
  activation?: ActivationOption;
  /**
   * Default: 'he-normal' before ReLU-like activations (fused or as the next
   * layer), 'xavier-uniform' otherwise, with torch's fans for a convolution:
   * fan_in = inChannels·kernel area, fan_out = outChannels·kernel area.
   */
  weightInit?: Initializer;
  /** A number (a constant), a name or an initialiser object; default 0. */
  biasInit?: number | Initializer;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Added to one side of each output dimension (torch's output_padding), below the stride; default 0. */
  outputPadding?: Size2d;
}

const CONV_OPTIONS = ['inputSize', 'stride', 'padding', 'activation', 'weightInit', 'biasInit'] as const;

/** What Conv2d and ConvTranspose2d share: arguments, shapes, binding, activation and initialisation. */
abstract class Convolution extends Layer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  /** The input images' [height, width], or null until Sequential takes it from the layer before. */
  readonly inputSize: [number, number] | null;
  readonly activation: ActivationName;
  readonly activationParams: ActivationParams;
  readonly weightInit: InitConfig;
  readonly biasInit: InitConfig;
  /** weightInit was not given and the activation is not fused: the next layer decides (as Dense). */
  private readonly initFromNext: boolean;
  protected readonly window: Window;
  protected readonly given: ConvTranspose2dOptions;

  constructor(type: 'Conv2d' | 'ConvTranspose2d', inChannels: number, outChannels: number, kernelSize: Size2d, opts: unknown) {
    super();
    this.inChannels = integer('inChannels', inChannels, 1, MAX_SIZE);
    this.outChannels = integer('outChannels', outChannels, 1, MAX_SIZE);
    this.kernelSize = pair('kernelSize', kernelSize, 1);
    const transposed = type === 'ConvTranspose2d';
    const o = options(`${type} options`, opts, transposed ? [...CONV_OPTIONS, 'outputPadding'] : CONV_OPTIONS);
    this.given = { ...o } as ConvTranspose2dOptions;
    this.stride = o.stride === undefined ? [1, 1] : pair('stride', o.stride, 1);
    this.padding = o.padding === undefined ? [0, 0] : pair('padding', o.padding, 0);
    this.inputSize = o.inputSize === undefined ? null : pair('inputSize', o.inputSize, 1);
    const outPad = transposed ? (o.outputPadding === undefined ? [0, 0] : pair('outputPadding', o.outputPadding, 0)) as [number, number] : null;
    this.window = new Window(`${type}(${this.inChannels} → ${this.outChannels})`, this.kernelSize, this.stride, this.padding,
      this.inputSize, outPad);
    ({ activation: this.activation, activationParams: this.activationParams, weightInit: this.weightInit,
      initFromNext: this.initFromNext, biasInit: this.biasInit } = weightedLayerOptions(o));
  }

  /** The same layer for input images of [height, width]. */
  protected abstract withInputSize(size: [number, number]): Convolution;

  /** This layer for input images of that shape (its channels must match). */
  bindImage(input: ImageShape | null, at: string): Convolution {
    const type = this.getConfig().type;
    if (input && input.channels !== this.inChannels) {
      throw new ArgumentRangeError(`Expected ${input.channels} input channels (the layer before's output) for ${at} (${type}) but received ${this.inChannels}`);
    }
    if (this.inputSize) {
      if (input && (input.height !== this.inputSize[0] || input.width !== this.inputSize[1])) {
        throw new ArgumentRangeError(`Expected inputSize [${input.height}, ${input.width}] (the layer before's output) for ${at} (${type}) ` +
          `but received [${this.inputSize.join(', ')}]`);
      }
      return this;
    }
    if (!input) this.window.bound(at);   // the first image layer: throws, naming inputSize
    return this.withInputSize([input!.height, input!.width]);
  }

  /** The output images' shape (the input size must be known). */
  outputImage(): ImageShape {
    const [height, width] = this.window.outputSize();
    return { channels: this.outChannels, height, width };
  }

  override get inFeatures(): number | null {
    return this.inputSize ? this.inChannels * this.inputSize[0] * this.inputSize[1] : null;
  }

  outFeatures(): number {
    const { channels, height, width } = this.outputImage();
    return channels * height * width;
  }

  /**
   * Fills the weight with torch's fans for a (transposed) convolution
   * (torch.nn.init._calculate_fan_in_and_fan_out: the weight's dims 1 and 0
   * times the kernel area); an orthogonal init treats it as dim 0 ×
   * (the rest), as torch does.
   */
  protected *fillSteps(weight: FloatArray, bias: FloatArray, rng: Rng, next: Layer | undefined, dim0: number,
    dim1: number): Steps<void> {
    const area = this.kernelSize[0] * this.kernelSize[1];
    const reluLikeNext = (next instanceof Activation && prefersHeInit(next.activation)) || next instanceof PReLU;
    const init: InitConfig = this.initFromNext && reluLikeNext ? { type: 'he-normal' } : this.weightInit;
    yield* fillInitSteps(init, weight, dim1 * area, init.type === 'orthogonal' ? dim0 : dim0 * area, rng);
    yield* fillInitSteps(this.biasInit, bias, dim1 * area, dim0 * area, rng);
  }

  /** The activation in the object form the constructor accepts. */
  get activationConfig(): ActivationConfig {
    return activationConfig(this.resolved());
  }

  protected resolved(): ResolvedActivation {
    return { name: this.activation, params: this.activationParams };
  }

  describe(): string {
    const act = this.activation === 'identity' ? '' : `, activation: ${describeActivation(this.resolved())}`;
    return `${this.getConfig().type}(${this.inChannels} → ${this.outChannels}, ${this.window.describe()}${act})`;
  }

  /** The config both share; `type` and (transposed) outputPadding added by the subclass. */
  protected baseConfig(type: string): LayerConfig {
    const config: LayerConfig = {
      type, inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: [...this.kernelSize],
      stride: [...this.stride], padding: [...this.padding], ...flatActivation(this.resolved()),
      weightInit: { ...this.weightInit }, biasInit: { ...this.biasInit },
    };
    if (this.inputSize) config['inputSize'] = [...this.inputSize];
    if (this.initFromNext) delete config['weightInit'];
    return config;
  }
}

/**
 * 2-D convolution (cross-correlation, as torch.nn.Conv2d with zeros padding,
 * no dilation or groups): weight outChannels × inChannels × kernel height ×
 * kernel width, bias outChannels.
 */
export class Conv2d extends Convolution {
  constructor(inChannels: number, outChannels: number, kernelSize: Size2d, opts?: Conv2dOptions) {
    super('Conv2d', inChannels, outChannels, kernelSize, opts);
  }

  protected withInputSize(inputSize: [number, number]): Conv2d {
    return new Conv2d(this.inChannels, this.outChannels, this.kernelSize, { ...this.given, inputSize });
  }

  toSpecs(): LayerSpec[] {
    const conv: LayerSpec = { kind: 'conv2d', inChannels: this.inChannels, outChannels: this.outChannels, ...this.window.spec() };
    return [conv, ...activationSpecs(this.resolved())];
  }

  override params(): ParamShape[] {
    return [{ name: 'weight', shape: [this.outChannels, this.inChannels, ...this.kernelSize] },
      { name: 'bias', shape: [this.outChannels] }];
  }

  /** fan_in = inChannels·kernel area, fan_out = outChannels·kernel area (torch). */
  override *initParamsSteps([weight, bias]: FloatArray[], rng: Rng, next?: Layer): Steps<void> {
    yield* this.fillSteps(weight!, bias!, rng, next, this.outChannels, this.inChannels);
  }

  override getConfig(): LayerConfig {
    return this.baseConfig('Conv2d');
  }
}

/**
 * 2-D transposed convolution (torch.nn.ConvTranspose2d, no dilation or
 * groups): the adjoint of Conv2d, output size (n − 1)·s − 2p + f +
 * outputPadding per dimension (SPEC.md §6); weight inChannels × outChannels ×
 * kernel height × kernel width (torch's layout), bias outChannels.
 */
export class ConvTranspose2d extends Convolution {
  readonly outputPadding: [number, number];

  constructor(inChannels: number, outChannels: number, kernelSize: Size2d, opts?: ConvTranspose2dOptions) {
    super('ConvTranspose2d', inChannels, outChannels, kernelSize, opts);
    this.outputPadding = [...this.window.outPad!];
  }

  protected withInputSize(inputSize: [number, number]): ConvTranspose2d {
    return new ConvTranspose2d(this.inChannels, this.outChannels, this.kernelSize, { ...this.given, inputSize });
  }

  toSpecs(): LayerSpec[] {
    const conv: LayerSpec = { kind: 'convtranspose2d', inChannels: this.inChannels, outChannels: this.outChannels,
      outPadHeight: this.outputPadding[0], outPadWidth: this.outputPadding[1], ...this.window.spec() };
    return [conv, ...activationSpecs(this.resolved())];
  }

  override params(): ParamShape[] {
    return [{ name: 'weight', shape: [this.inChannels, this.outChannels, ...this.kernelSize] },
      { name: 'bias', shape: [this.outChannels] }];
  }

  /** torch's fans for its weight (in × out × kernel): fan_in = outChannels·kernel area, fan_out = inChannels·kernel area. */
  override *initParamsSteps([weight, bias]: FloatArray[], rng: Rng, next?: Layer): Steps<void> {
    yield* this.fillSteps(weight!, bias!, rng, next, this.inChannels, this.outChannels);
  }

  override getConfig(): LayerConfig {
    return { ...this.baseConfig('ConvTranspose2d'), outputPadding: [...this.outputPadding] };
  }
}

export interface MaxPool2dOptions {
  /** Default: the kernel size (torch's default). */
  stride?: Size2d;
  /** −∞ on each side, at most half the kernel; default 0. */
  padding?: Size2d;
  /** The input images' channels and [height, width]; only needed when no image layer comes before. */
  channels?: number;
  inputSize?: Size2d;
}

/**
 * 2-D max pooling (torch.nn.MaxPool2d, ceil_mode false, no dilation) over
 * each channel. Backward sends each output's gradient to the first maximum of
 * its window in row-major order, as torch's CPU kernel does.
 */
export class MaxPool2d extends Layer {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  /** Null until Sequential takes it from the layer before (or given). */
  readonly channels: number | null;
  readonly inputSize: [number, number] | null;
  private readonly window: Window;

  constructor(kernelSize: Size2d, opts?: MaxPool2dOptions) {
    super();
    this.kernelSize = pair('kernelSize', kernelSize, 1);
    const o = options('MaxPool2d options', opts, ['stride', 'padding', 'channels', 'inputSize']);
    this.stride = o.stride === undefined ? [...this.kernelSize] : pair('stride', o.stride, 1);
    this.padding = o.padding === undefined ? [0, 0] : pair('padding', o.padding, 0);
    // torch: "pad should be at most half of effective kernel size".
    for (const d of [0, 1] as const) {
      if (2 * this.padding[d] > this.kernelSize[d]) {
        throw new ArgumentRangeError(`Expected padding ≤ half the kernel (${Math.floor(this.kernelSize[d] / 2)}) for MaxPool2d ` +
          `but received ${this.padding[d]}`);
      }
    }
    this.channels = o.channels === undefined ? null : integer('channels', o.channels, 1, MAX_SIZE);
    this.inputSize = o.inputSize === undefined ? null : pair('inputSize', o.inputSize, 1);
    if ((this.channels === null) !== (this.inputSize === null)) {
      throw typeError(this.channels === null ? 'channels' : 'inputSize', 'both channels and inputSize, or neither', this.channels ?? o.inputSize);
    }
    this.window = new Window(`MaxPool2d(${this.kernelSize.join('×')})`, this.kernelSize, this.stride, this.padding, this.inputSize);
  }

  /** This layer for input images of that shape. */
  bindImage(input: ImageShape | null, at: string): MaxPool2d {
    if (this.channels !== null && this.inputSize) {
      if (input && (input.channels !== this.channels || input.height !== this.inputSize[0] || input.width !== this.inputSize[1])) {
        throw new ArgumentRangeError(`Expected channels ${input.channels} and inputSize [${input.height}, ${input.width}] ` +
          `(the layer before's output) for ${at} (MaxPool2d) but received ${this.channels} and [${this.inputSize.join(', ')}]`);
      }
      return this;
    }
    if (!input) this.window.bound(at);
    return new MaxPool2d(this.kernelSize, { stride: this.stride, padding: this.padding, channels: input!.channels,
      inputSize: [input!.height, input!.width] });
  }

  outputImage(): ImageShape {
    const [height, width] = this.window.outputSize();
    return { channels: this.channels!, height, width };
  }

  override get inFeatures(): number | null {
    return this.channels !== null && this.inputSize ? this.channels * this.inputSize[0] * this.inputSize[1] : null;
  }

  toSpecs(): LayerSpec[] {
    const window = this.window.spec();   // throws, naming inputSize, while unbound (channels is null exactly then)
    return [{ kind: 'maxpool2d', channels: this.channels!, ...window }];
  }

  outFeatures(): number {
    const { channels, height, width } = this.outputImage();
    return channels * height * width;
  }

  describe(): string {
    return `MaxPool2d(${this.channels === null ? '' : `${this.channels} channels, `}${this.window.describe()})`;
  }

  override getConfig(): LayerConfig {
    const config: LayerConfig = { type: 'MaxPool2d', kernelSize: [...this.kernelSize], stride: [...this.stride], padding: [...this.padding] };
    if (this.channels !== null && this.inputSize) Object.assign(config, { channels: this.channels, inputSize: [...this.inputSize] });
    return config;
  }
}

/**
 * The layers with every image layer bound to its input shape: the first one
 * must have its own, each later one takes the output of the image layer before
 * it through layers that keep the width (activations, dropout, norms, PReLU:
 * they act per value or per row). Any other layer (Dense, a custom layer that
 * changes the width) ends the images; an image layer after it needs its own
 * inputSize again. Layers already bound are checked against the shape coming in.
 */
export function bindImageLayers(layers: readonly Layer[]): Layer[] {
  let image: ImageShape | null = null;
  return layers.map((layer, i) => {
    if (layer instanceof Convolution || layer instanceof MaxPool2d) {
      const bound = layer.bindImage(image, `layers[${i}]`);
      image = bound.outputImage();
      return bound;
    }
    if (image && !keepsImages(layer, imageWidth(image))) image = null;
    return layer;
  });
}

/** Not a Dense, takes rows of that width and gives the same width (a custom layer that throws for it does not). */
function keepsImages(layer: Layer, width: number): boolean {
  if (layer instanceof Dense || (layer.inFeatures !== null && layer.inFeatures !== width)) return false;
  try {
    return layer.outFeatures(width) === width;
  } catch {
    return false;
  }
}

function imageWidth({ channels, height, width }: ImageShape): number {
  return channels * height * width;
}

registerLayer('Conv2d', (c) => {
  const { activation, rest } = splitFlatActivation(optionsOf(c, ['inChannels', 'outChannels', 'kernelSize']));
  const opts = (activation === undefined ? rest : { ...rest, activation }) as Conv2dOptions;
  return new Conv2d(c['inChannels'] as number, c['outChannels'] as number, c['kernelSize'] as Size2d, opts);
});
registerLayer('ConvTranspose2d', (c) => {
  const { activation, rest } = splitFlatActivation(optionsOf(c, ['inChannels', 'outChannels', 'kernelSize']));
  const opts = (activation === undefined ? rest : { ...rest, activation }) as ConvTranspose2dOptions;
  return new ConvTranspose2d(c['inChannels'] as number, c['outChannels'] as number, c['kernelSize'] as Size2d, opts);
});
registerLayer('MaxPool2d', (c) => new MaxPool2d(c['kernelSize'] as Size2d, optionsOf(c, ['kernelSize']) as MaxPool2dOptions));
