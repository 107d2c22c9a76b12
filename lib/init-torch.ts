// torch.nn.init's parametrised initialisers, for users porting a PyTorch model
// (https://pytorch.org/docs/1.13/nn.init.html):
//   calculate_gain: linear/identity/sigmoid 1, tanh 5/3, relu √2,
//     leaky_relu √(2/(1 + a²)) (a defaults to 0.01), selu 3/4.
//   kaiming_uniform_: U(±gain·√(3/fan_mode)); kaiming_normal_: N(0, (gain/√fan_mode)²),
//     gain = calculate_gain(nonlinearity, a), fan_mode = fan_in or fan_out (He et al. 2015).
//   xavier_uniform_: U(±gain·√(6/(fan_in + fan_out))); xavier_normal_: N(0, gain²·2/(fan_in + fan_out)).
//   nn.Linear.reset_parameters: weight kaiming_uniform_(a = √5), i.e. U(±1/√fan_in), and
//     bias U(±1/√fan_in) with the weight's fan_in — 'torch-linear' here, for both.
// The configs are plain objects so getConfig() records them and a loaded model rebuilds them.
import type { InitConfig } from './init';
import { number, oneOf, options } from './validate';

/** The nonlinearities torch.nn.init.calculate_gain knows (the ones a dense net uses). */
export const GAIN_NONLINEARITIES = ['linear', 'identity', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'] as const;
export type GainNonlinearity = (typeof GAIN_NONLINEARITIES)[number];

export const FAN_MODES = ['fanIn', 'fanOut'] as const;
export type FanMode = (typeof FAN_MODES)[number];

export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (only used with nonlinearity 'leaky_relu'); default 0. */
  a?: number;
  /** Preserve the variance of the forward pass ('fanIn', default) or of the backward pass ('fanOut'). */
  mode?: FanMode;
  /** The activation after this layer, as torch names it; default 'leaky_relu' (torch's default). */
  nonlinearity?: GainNonlinearity;
}

export type KaimingConfig = { type: 'kaiming-uniform' | 'kaiming-normal'; a: number; mode: FanMode; nonlinearity: GainNonlinearity };
export type XavierConfig = { type: 'xavier-uniform' | 'xavier-normal'; gain: number };

/**
 * torch.nn.init.calculate_gain(nonlinearity, param): the factor that keeps the
 * variance of activations steady through that nonlinearity. `param` is the
 * leaky ReLU's negative slope (default 0.01, as torch); the others ignore it.
 */
export function calculateGain(nonlinearity: GainNonlinearity, param?: number): number {
  const name = oneOf('nonlinearity', nonlinearity, GAIN_NONLINEARITIES);
  const slope = param === undefined ? 0.01 : number('param', param);
  switch (name) {
    case 'linear': case 'identity': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': return Math.sqrt(2 / (1 + slope * slope));
    case 'selu': return 3 / 4;
  }
}

function kaiming(type: KaimingConfig['type'], name: string, opts: unknown): KaimingConfig {
  const o = options(name, opts, ['type', 'a', 'mode', 'nonlinearity']);
  return {
    type,
    a: o.a === undefined ? 0 : number(`${name}.a`, o.a),
    mode: o.mode === undefined ? 'fanIn' : oneOf(`${name}.mode`, o.mode, FAN_MODES),
    nonlinearity: o.nonlinearity === undefined ? 'leaky_relu' : oneOf(`${name}.nonlinearity`, o.nonlinearity, GAIN_NONLINEARITIES),
  };
}

function xavier(type: XavierConfig['type'], name: string, opts: unknown): XavierConfig {
  const o = options(name, opts, ['type', 'gain']);
  return { type, gain: o.gain === undefined ? 1 : number(`${name}.gain`, o.gain) };
}

/** torch.nn.init.kaiming_uniform_: U(±gain·√(3/fan)); kaimingUniform({ a: Math.sqrt(5) }) is nn.Linear's weight. */
export function kaimingUniform(opts?: KaimingOptions): InitConfig {
  return kaiming('kaiming-uniform', 'kaimingUniform options', opts);
}

/** torch.nn.init.kaiming_normal_: N(0, (gain/√fan)²). */
export function kaimingNormal(opts?: KaimingOptions): InitConfig {
  return kaiming('kaiming-normal', 'kaimingNormal options', opts);
}

/** torch.nn.init.xavier_uniform_ with its gain: U(±gain·√(6/(fan_in + fan_out))). */
export function xavierUniform(gain = 1): InitConfig {
  return { type: 'xavier-uniform', gain: number('gain', gain) };
}

/** torch.nn.init.xavier_normal_ with its gain: N(0, gain²·2/(fan_in + fan_out)). */
export function xavierNormal(gain = 1): InitConfig {
  return { type: 'xavier-normal', gain: number('gain', gain) };
}

/** torch.nn.Linear's default: U(±1/√fan_in) for the weight and (with the weight's fan_in) for the bias. */
export function torchLinear(): InitConfig {
  return { type: 'torch-linear' };
}

/** resolveInit's branch for the object forms above; `value` is a plain object whose type is one of them. */
export function resolveTorchInit(name: string, type: 'kaiming-uniform' | 'kaiming-normal' | 'xavier-uniform' | 'xavier-normal',
                                 value: Record<string, unknown>): InitConfig {
  if (type === 'kaiming-uniform' || type === 'kaiming-normal') return kaiming(type, name, value);
  // { type: 'xavier-uniform' } without a gain stays the plain name's config, so getConfig() is unchanged for it.
  if (value['gain'] === undefined) {
    options(name, value, ['type', 'gain']);
    return { type };
  }
  return xavier(type, name, value);
}

/** The bound or standard deviation scale of a kaiming config: gain/√fan. */
export function kaimingScale(init: KaimingConfig, fanIn: number, fanOut: number): number {
  const fan = init.mode === 'fanIn' ? fanIn : fanOut;
  return calculateGain(init.nonlinearity, init.a) / Math.sqrt(fan);
}
