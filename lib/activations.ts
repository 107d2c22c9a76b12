// The public side of activations: the names users may write, the object form
// with parameters, and their validation (SPEC.md §2; PyTorch's parameter
// names in camelCase). Dense and Activation both take an ActivationOption:
//   'elu'                                   a name, PyTorch's default parameters
//   { name: 'leaky-relu', negativeSlope: 0.1 }  a name with parameters
// and resolve it once into a ResolvedActivation that the engines receive.
import type { ActivationName, ActivationParams, LayerSpec } from './engine';
import { isPlainObject, number, oneOf, options, rangeError, typeError } from './validate';

/** Every activation name accepted by Dense and Activation ('linear' is 'identity'). */
export const ACTIVATIONS = ['identity', 'linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'log-softmax',
  'leaky-relu', 'elu', 'selu', 'softplus', 'gelu', 'silu', 'swish', 'hardtanh', 'relu6', 'logsigmoid'] as const;
export type ActivationNameOption = (typeof ACTIVATIONS)[number];

/** The object form: a name and the parameters that activation takes. */
export interface ActivationConfig extends ActivationParams {
  name: ActivationNameOption;
}

export type ActivationOption = ActivationNameOption | ActivationConfig;

/**
 * The parameters each activation takes, with PyTorch's defaults
 * (torch.nn.LeakyReLU, ELU, Softplus, GELU, Hardtanh; swish's β as in Ramachandran et al.).
 * Any other key is rejected, so a typo or a parameter given to the wrong
 * activation fails loudly.
 */
const PARAMS: Partial<Record<ActivationName, ActivationParams>> = {
  'leaky-relu': { negativeSlope: 0.01 },
  elu: { alpha: 1 },
  softplus: { beta: 1, threshold: 20 },
  gelu: { approximate: 'none' },
  swish: { beta: 1 },
  hardtanh: { minVal: -1, maxVal: 1 },
};

/** An activation name and its full parameter set (defaults filled in). */
export interface ResolvedActivation {
  name: ActivationName;
  params: ActivationParams;
}

function checkParam(act: ActivationName, key: keyof ActivationParams, value: unknown, where: string): ActivationParams[typeof key] {
  const name = `${where}.${key}`;
  switch (key) {
    case 'approximate':
      return oneOf(name, value, ['none', 'tanh'] as const);
    case 'negativeSlope':
      return number(name, value);
    case 'alpha':
      return number(name, value, 0, Infinity, { minExclusive: true });
    case 'threshold':
      return number(name, value, 0, Infinity, { minExclusive: true });
    case 'minVal':
    case 'maxVal':
      return number(name, value);
    case 'beta':
      // softplus divides by β; swish accepts any finite β (β = 0 gives x/2).
      return act === 'softplus' ? number(name, value, 0, Infinity, { minExclusive: true }) : number(name, value);
  }
}

/**
 * Validates an activation given as a name or as { name, ...parameters } and
 * fills in the defaults. `where` names the argument in errors ('activation').
 */
export function resolveActivation(value: unknown, where = 'activation'): ResolvedActivation {
  if (typeof value === 'string') {
    const raw = oneOf(where, value, ACTIVATIONS);
    const name: ActivationName = raw === 'linear' ? 'identity' : raw;
    return { name, params: { ...PARAMS[name] } };
  }
  if (!isPlainObject(value)) {
    throw typeError(where, `an activation name or an object { name, ...parameters }`, value);
  }
  if (value.name === undefined) throw typeError(`${where}.name`, 'an activation name', undefined);
  const raw = oneOf(`${where}.name`, value.name, ACTIVATIONS);
  const name: ActivationName = raw === 'linear' ? 'identity' : raw;
  const defaults = PARAMS[name] ?? {};
  const known = Object.keys(defaults) as (keyof ActivationParams)[];
  const given = options(`${where} '${name}'`, value, ['name', ...known]);
  const params: ActivationParams = { ...defaults };
  for (const key of known) {
    if (given[key] !== undefined) (params as Record<string, unknown>)[key] = checkParam(name, key, given[key], where);
  }
  // torch.nn.Hardtanh asserts max_val > min_val (an empty or single-point range).
  if (name === 'hardtanh' && !(params.maxVal! > params.minVal!)) {
    throw rangeError(`${where}.maxVal`, `a number > minVal (${params.minVal})`, params.maxVal);
  }
  return { name, params };
}

/** The plan op of an activation (none for the identity). */
export function activationSpecs(act: ResolvedActivation): LayerSpec[] {
  return act.name === 'identity' ? [] : [{ kind: 'activation', activation: act.name, ...act.params }];
}

/** The object form that resolveActivation turns back into `act` (for summaries and saving). */
export function activationConfig(act: ResolvedActivation): ActivationConfig {
  return { name: act.name, ...act.params };
}

/**
 * The flat form for a layer config (saving, ONNX export): the name under
 * `activation` and each parameter as its own key, e.g.
 * { activation: 'leaky-relu', negativeSlope: 0.1 }.
 */
export function flatActivation(act: ResolvedActivation): { activation: ActivationName } & ActivationParams {
  return { activation: act.name, ...act.params };
}

const PARAM_KEYS: readonly (keyof ActivationParams)[] = ['negativeSlope', 'alpha', 'beta', 'threshold', 'approximate',
  'minVal', 'maxVal'];

/**
 * Reads the flat form back: the activation (name and whichever parameter keys
 * are present in `config`) and the config's other keys, which the caller
 * checks as its own options. resolveActivation then validates the activation,
 * so a parameter that activation does not take is still an error.
 */
export function splitFlatActivation(config: Record<string, unknown>): { activation: unknown; rest: Record<string, unknown> } {
  // Null prototypes: a '__proto__' key from a parsed file stays an ordinary (unknown) option.
  const rest: Record<string, unknown> = Object.create(null);
  const params: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(config)) {
    if (k === 'activation') continue;
    if ((PARAM_KEYS as readonly string[]).includes(k)) params[k] = v;
    else rest[k] = v;
  }
  const name = config['activation'];
  const activation = Object.keys(params).length === 0 ? name : { name, ...params };
  return { activation, rest };
}

/** 'relu' or "leaky-relu (negativeSlope 0.1)", for summaries. */
export function describeActivation(act: ResolvedActivation): string {
  const entries = Object.entries(act.params);
  if (entries.length === 0) return `'${act.name}'`;
  return `'${act.name}' (${entries.map(([k, v]) => `${k} ${typeof v === 'string' ? `'${v}'` : String(v)}`).join(', ')})`;
}

/**
 * ReLU-like activations, before which a dense layer defaults to He init (SPEC.md §5).
 * relu6 is a ReLU capped at 6; hardtanh and logsigmoid are tanh- and sigmoid-like (Xavier).
 */
export function prefersHeInit(name: ActivationName): boolean {
  return name === 'relu' || name === 'leaky-relu' || name === 'elu' || name === 'gelu' ||
    name === 'silu' || name === 'swish' || name === 'relu6';
}
