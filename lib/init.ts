// Weight initialisers (SPEC.md §5). They run in TypeScript for both engines,
// so the same seed gives bit-identical weights whichever engine trains.
//   xavier-uniform U(±√(6/(fan_in+fan_out))), xavier-normal N(0, 2/(fan_in+fan_out))
//   (Glorot & Bengio 2010); he-normal N(0, 2/fan_in), he-uniform U(±√(6/fan_in))
//   (He et al. 2015); lecun-normal N(0, 1/fan_in), lecun-uniform U(±√(3/fan_in))
//   (LeCun et al. 1998); orthogonal: the Q of a QR factorisation of a standard
//   normal matrix, signs fixed so R has a positive diagonal, times a gain
//   (Saxe et al. 2013; as torch.nn.init.orthogonal_ documents it).
// Defaults follow torch.nn.init: normal(0, 1), uniform(0, 1), orthogonal gain 1.
// torch.nn.init's options (kaiming a/mode/nonlinearity, xavier gain, nn.Linear's
// default 'torch-linear') are in init-torch.ts.
import type { FloatArray } from './engine';
import { kaimingScale, resolveTorchInit, type KaimingConfig, type XavierConfig } from './init-torch';
import type { Rng } from './rng';
import { runSteps, type Steps } from './steps';
import { isPlainObject, number, oneOf, options, typeError } from './validate';

export const WEIGHT_INITS = ['he-normal', 'he-uniform', 'xavier-normal', 'xavier-uniform',
  'lecun-normal', 'lecun-uniform', 'zeros', 'ones', 'orthogonal', 'kaiming-uniform', 'kaiming-normal', 'torch-linear'] as const;
export type WeightInit = (typeof WEIGHT_INITS)[number];

/** An initialiser with its parameters, as getConfig() records it. */
export type InitConfig =
  | { type: Exclude<WeightInit, KaimingConfig['type']> }
  | { type: 'constant'; value: number }
  | { type: 'normal'; mean: number; std: number }
  | { type: 'uniform'; low: number; high: number }
  | { type: 'orthogonal'; gain: number }
  | KaimingConfig
  | XavierConfig;

/** What Dense's weightInit/biasInit accept: a name, or an object from the factories below. */
export type Initializer = WeightInit | InitConfig;

/** Every value equal to `value` (the notes suggest a bias of 0.01). */
export function constant(value: number): InitConfig {
  return { type: 'constant', value: number('value', value) };
}

/** N(mean, std²). */
export function normal(mean = 0, std = 1): InitConfig {
  return { type: 'normal', mean: number('mean', mean), std: number('std', std, 0) };
}

/** U(low, high). */
export function uniform(low = 0, high = 1): InitConfig {
  number('low', low);
  number('high', high, low);
  return { type: 'uniform', low, high };
}

/** A (semi-)orthogonal matrix times gain. */
export function orthogonal(gain = 1): InitConfig {
  return { type: 'orthogonal', gain: number('gain', gain) };
}

export function zeros(): InitConfig {
  return { type: 'zeros' };
}

/** Validates a user's initialiser (a name or an object) into its canonical config. */
export function resolveInit(name: string, value: unknown): InitConfig {
  if (typeof value === 'string') {
    const type = oneOf(name, value, WEIGHT_INITS);
    if (type === 'kaiming-uniform' || type === 'kaiming-normal') return resolveTorchInit(name, type, { type });
    return type === 'orthogonal' ? { type, gain: 1 } : { type };
  }
  if (!isPlainObject(value)) {
    throw typeError(name, `an initialiser name (${WEIGHT_INITS.map((n) => `'${n}'`).join(', ')}) or an object such as init.normal(0, 0.05)`, value);
  }
  const type = oneOf(`${name}.type`, value['type'], [...WEIGHT_INITS, 'constant', 'normal', 'uniform'] as const);
  switch (type) {
    case 'constant': {
      const o = options(name, value, ['type', 'value']);
      return constant(number(`${name}.value`, o.value));
    }
    case 'normal': {
      const o = options(name, value, ['type', 'mean', 'std']);
      return { type, mean: number(`${name}.mean`, o.mean ?? 0), std: number(`${name}.std`, o.std ?? 1, 0) };
    }
    case 'uniform': {
      const o = options(name, value, ['type', 'low', 'high']);
      const low = number(`${name}.low`, o.low ?? 0);
      return { type, low, high: number(`${name}.high`, o.high ?? 1, low) };
    }
    case 'orthogonal': {
      const o = options(name, value, ['type', 'gain']);
      return { type, gain: number(`${name}.gain`, o.gain ?? 1) };
    }
    case 'kaiming-uniform': case 'kaiming-normal': case 'xavier-uniform': case 'xavier-normal':
      return resolveTorchInit(name, type, value);
    default:
      options(name, value, ['type']);
      return { type };
  }
}

/**
 * Fills out (a weight of fanOut × fanIn values, row-major, or a bias of fanOut)
 * from the initialiser, drawing from rng.
 */
export function fillInit(init: InitConfig, out: FloatArray, fanIn: number, fanOut: number, rng: Rng): void {
  runSteps(fillInitSteps(init, out, fanIn, fanOut, rng));
}

/**
 * Random values one step fills at most: ~1 ms of Box–Muller here (~36 ns a
 * value). Split anywhere, fillNormal's parts draw what one call over the whole
 * array would: it carries a pair's pending second value across calls.
 */
const VALUES_PER_STEP = 1 << 15;

/**
 * fillInit as steps (lib/steps.ts) of at most VALUES_PER_STEP values, or 32
 * of orthogonal's Gram–Schmidt projections: the same values and generator
 * state after, whether run at once or with the event loop let in
 * (Sequential.create).
 */
export function* fillInitSteps(init: InitConfig, out: FloatArray, fanIn: number, fanOut: number, rng: Rng): Steps<void> {
  const n = out.length;
  function* each(fill: (part: FloatArray) => void): Steps<void> {
    for (let at = 0; at < n; at += VALUES_PER_STEP) {
      if (at > 0) yield;
      fill(out.subarray(at, Math.min(n, at + VALUES_PER_STEP)));
    }
  }
  const normalFill = (mean: number, std: number) => each((part) => rng.fillNormal(part, mean, std));
  const uniformFill = (low: number, high: number) =>
    each((part) => { for (let i = 0; i < part.length; i++) part[i] = low + (high - low) * rng.uniform(); });
  const symmetric = (bound: number) =>
    each((part) => { for (let i = 0; i < part.length; i++) part[i] = bound * (2 * rng.uniform() - 1); });
  switch (init.type) {
    case 'he-normal': return yield* normalFill(0, Math.sqrt(2 / fanIn));
    case 'he-uniform': return yield* symmetric(Math.sqrt(6 / fanIn));
    case 'xavier-normal': return yield* normalFill(0, xavierGain(init) * Math.sqrt(2 / (fanIn + fanOut)));
    case 'xavier-uniform': return yield* symmetric(xavierGain(init) * Math.sqrt(6 / (fanIn + fanOut)));
    case 'kaiming-normal': return yield* normalFill(0, kaimingScale(init, fanIn, fanOut));
    case 'kaiming-uniform': return yield* symmetric(Math.sqrt(3) * kaimingScale(init, fanIn, fanOut));
    case 'torch-linear': return yield* symmetric(1 / Math.sqrt(fanIn));
    case 'lecun-normal': return yield* normalFill(0, Math.sqrt(1 / fanIn));
    case 'lecun-uniform': return yield* symmetric(Math.sqrt(3 / fanIn));
    case 'zeros': out.fill(0); return;
    case 'ones': out.fill(1); return;
    case 'constant': out.fill(init.value); return;
    case 'normal': return yield* normalFill(init.mean, init.std);
    case 'uniform': return yield* uniformFill(init.low, init.high);
    case 'orthogonal': {
      const gain = 'gain' in init ? init.gain : 1;
      return yield* orthogonalFillSteps(out, n === fanOut * fanIn ? fanOut : n, n === fanOut * fanIn ? fanIn : 1, gain, rng);
    }
  }
}

function xavierGain(init: InitConfig): number {
  return 'gain' in init ? init.gain : 1;
}

/**
 * out (rows × cols) = gain · a matrix with orthonormal columns (rows ≥ cols) or
 * rows (rows < cols): modified Gram–Schmidt, run twice for stability, on the
 * columns of a tall standard-normal matrix. Gram–Schmidt's R has a positive
 * diagonal by construction, which is the sign convention torch documents.
 */
function* orthogonalFillSteps(out: FloatArray, rows: number, cols: number, gain: number, rng: Rng): Steps<void> {
  const m = Math.max(rows, cols);
  const k = Math.min(rows, cols);
  // The m × k standard-normal matrix, drawn row by row but stored column by
  // column (column j from j·m), so that Gram–Schmidt's dot products and
  // updates run over contiguous memory: the same operations in the same order
  // as over a row-major matrix, hence the same bits, several times faster
  // once a row no longer fits a cache line.
  const a = new Float64Array(m * k);
  for (let i = 0, drawn = 0; i < m; i++) {
    for (let j = 0; j < k; j++, drawn++) {
      if (drawn > 0 && drawn % VALUES_PER_STEP === 0) yield;
      a[j * m + i] = rng.normal();
    }
  }
  for (let j = 0; j < k; j++) {
    const cj = j * m;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        if (p % 32 === 0) yield;  // 32 projections of a 2048-row column: ~0.3 M multiply-adds
        const cp = p * m;
        let dot = 0;
        for (let i = 0; i < m; i++) dot += a[cp + i]! * a[cj + i]!;
        for (let i = 0; i < m; i++) a[cj + i] -= dot * a[cp + i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += a[cj + i]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) a[cj + i] /= norm;
  }
  // rows ≥ cols: out = a; otherwise out = aᵀ (orthonormal rows).
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = gain * (rows >= cols ? a[c * m + r]! : a[r * m + c]!);
  }
}
