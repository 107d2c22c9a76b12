// Optimizer updates over flat parameter buffers for the pure-TypeScript
// engine; same semantics, state layout and arithmetic arrangement as
// native/core/optim.cc (its loops in optim_loops.inc), which follows
// torch.optim (SPEC.md §4, ε outside the square root). g is the gradient
// after clipping; λ the weight decay:
//
//  SGD     g ← g + λθ;  v ← g on the first step, else μv + (1 − dampening)·g  (μ ≠ 0)
//          g ← g + μv (nesterov) or v (μ ≠ 0);  θ ← θ − lr·g
//  Adagrad g ← g + λθ;  clr = lr / (1 + (t − 1)·lrDecay)
//          G ← G + g² (G starts at initialAccumulatorValue);  θ ← θ − clr·g / (√G + ε)
//  RMSprop g ← g + λθ;  s ← αs + (1 − α)g²;  centered: a ← αa + (1 − α)g, d = √(s − a²) + ε,
//          else d = √s + ε;  μ > 0: b ← μb + g/d, θ ← θ − lr·b;  else θ ← θ − lr·g/d
//  Adam    g ← g + λθ;  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//          amsgrad: v̂ ← max(v̂, v), used in place of v;
//          θ ← θ − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
//  AdamW   θ ← θ·(1 − lr·λ) (decoupled decay, Loshchilov & Hutter 2019), then
//          Adam with no coupled decay.
//  Clipping, over all parameters before the update, without changing grad:
//          clipNorm:  g ← g · min(1, clipNorm / (‖g‖₂ + 1e-6))   (torch clip_grad_norm_)
//          clipValue: g ← clamp(g, −clipValue, clipValue)        (torch clip_grad_value_)
//  maximize: g ← −g before the weight decay (torch.optim's maximize), by negating
//          the clipping scale: the bounds are symmetric, so clamp(−c·g) = −clamp(c·g).
//
// State is one flat array of the plan's dtype (optimizerStateSize):
//  SGD [velocity if μ ≠ 0] · Adagrad [sum] · RMSprop [square avg][grad avg if
//  centered][buffer if μ > 0] · Adam/AdamW [m][v][max v if amsgrad].
// It must be zero before the first step; `step` counts from 1.

import type { FloatArray, OptimizerName, OptimizerSpec } from '../../engine';
import { ArgumentTypeError, ArgumentRangeError } from '../../validate';
import { SCAN_WORK, UPDATE_WORK, perSlice, type WorkMeter } from './slices';

const KINDS: readonly OptimizerName[] = ['sgd', 'adagrad', 'rmsprop', 'adam', 'adamw'];

/** The optional fields of OptimizerSpec at their defaults (native/core/optim.h). */
export const OPTIONAL_DEFAULTS = {
  amsgrad: false, alpha: 0.99, centered: false, lrDecay: 0, initialAccumulatorValue: 0,
  clipNorm: 0, clipValue: 0, maximize: false,
} as const;

const OPTIONAL_KEYS = Object.keys(OPTIONAL_DEFAULTS) as (keyof typeof OPTIONAL_DEFAULTS)[];

type FullSpec = Required<OptimizerSpec>;

/** A spec with every optional field filled in. */
export function completeOptimizer(spec: OptimizerSpec): FullSpec {
  const out = { ...OPTIONAL_DEFAULTS, ...spec } as FullSpec;
  for (const key of OPTIONAL_KEYS) {
    if (spec[key] === undefined) (out as Record<string, unknown>)[key] = OPTIONAL_DEFAULTS[key];
  }
  return out;
}

function isComplete(spec: OptimizerSpec): spec is FullSpec {
  for (const key of OPTIONAL_KEYS) if (spec[key] === undefined) return false;
  return true;
}

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function check(ok: boolean, what: string, name: string, value: unknown): void {
  if (!ok) throw new ArgumentRangeError(`Expected ${what} for optimizer.${name} but received ${String(value)}`);
}

/**
 * Throws RangeError for out-of-range or non-finite hyper-parameters, with the
 * native core's rules (optim.cc validate_optimizer, after torch.optim, with
 * eps > 0 and RMSprop's alpha ≤ 1 as deliberate tightenings): every numeric
 * field finite; lr, weightDecay, clipNorm, clipValue ≥ 0; SGD: momentum ≥ 0,
 * dampening in [0, 1], nesterov only with momentum > 0 and dampening 0;
 * Adagrad: lrDecay, initialAccumulatorValue ≥ 0; RMSprop: momentum ≥ 0,
 * alpha in [0, 1]; Adam/AdamW: betas in [0, 1); eps > 0 for all but SGD.
 */
export function validateOptimizer(input: OptimizerSpec): void {
  const kind = input.kind;
  if (!KINDS.includes(kind)) {
    throw new ArgumentRangeError(`Expected one of ${KINDS.join(', ')} for optimizer.kind but received ${String(kind)}`);
  }
  const spec = completeOptimizer(input);
  for (const name of ['lr', 'momentum', 'dampening', 'weightDecay', 'beta1', 'beta2', 'eps', 'alpha',
    'lrDecay', 'initialAccumulatorValue', 'clipNorm', 'clipValue'] as const) {
    check(finite(spec[name]), 'a finite number', name, spec[name]);
  }
  for (const name of ['nesterov', 'amsgrad', 'centered', 'maximize'] as const) {
    // A wrong type is a TypeError, as the native binding reports it.
    if (typeof spec[name] !== 'boolean') {
      throw new ArgumentTypeError(`Expected a boolean for optimizer.${name} but received ${String(spec[name])}`);
    }
  }
  check(spec.lr >= 0, 'a number ≥ 0', 'lr', spec.lr);
  check(spec.weightDecay >= 0, 'a number ≥ 0', 'weightDecay', spec.weightDecay);
  check(spec.clipNorm >= 0, 'a number ≥ 0 (0: off)', 'clipNorm', spec.clipNorm);
  check(spec.clipValue >= 0, 'a number ≥ 0 (0: off)', 'clipValue', spec.clipValue);
  if (kind === 'sgd') {
    check(spec.momentum >= 0, 'a number ≥ 0', 'momentum', spec.momentum);
    check(spec.dampening >= 0 && spec.dampening <= 1, 'a number in [0, 1]', 'dampening',
          spec.dampening);
    if (spec.nesterov) {
      check(spec.momentum > 0 && spec.dampening === 0,
            'momentum > 0 and dampening 0 with nesterov', 'nesterov',
            `momentum ${spec.momentum}, dampening ${spec.dampening}`);
    }
    return;
  }
  check(spec.eps > 0, 'a number > 0', 'eps', spec.eps);
  if (kind === 'adagrad') {
    check(spec.lrDecay >= 0, 'a number ≥ 0', 'lrDecay', spec.lrDecay);
    check(spec.initialAccumulatorValue >= 0, 'a number ≥ 0', 'initialAccumulatorValue',
          spec.initialAccumulatorValue);
  } else if (kind === 'rmsprop') {
    check(spec.momentum >= 0, 'a number ≥ 0', 'momentum', spec.momentum);
    check(spec.alpha >= 0 && spec.alpha <= 1, 'a number in [0, 1]', 'alpha', spec.alpha);
    // Centered with α = 0 divides g by ε (the variance estimate is g² − g² = 0).
    check(!spec.centered || spec.alpha > 0, 'a number in (0, 1] with centered', 'alpha', spec.alpha);
  } else {
    check(spec.beta1 >= 0 && spec.beta1 < 1, 'a number in [0, 1)', 'beta1', spec.beta1);
    check(spec.beta2 >= 0 && spec.beta2 < 1, 'a number in [0, 1)', 'beta2', spec.beta2);
  }
}

/** Values of state the spec needs for n parameters (layout above, as optim.h). */
export function optimizerStateSize(spec: OptimizerSpec, n: number): number {
  switch (spec.kind) {
    case 'sgd': return spec.momentum !== 0 ? n : 0;
    case 'adagrad': return n;
    case 'rmsprop': return n * (1 + (spec.centered ? 1 : 0) + (spec.momentum > 0 ? 1 : 0));
    default: return n * (spec.amsgrad ? 3 : 2);
  }
}

/** True when state built for `a` means the same for `b` (optim.h optimizer_state_compatible). */
export function optimizerStateCompatible(a: OptimizerSpec, b: OptimizerSpec): boolean {
  if (a.kind !== b.kind || optimizerStateSize(a, 1) !== optimizerStateSize(b, 1)) return false;
  // RMSprop's second slice is the gradient average or the momentum buffer.
  return a.kind !== 'rmsprop' ||
    (Boolean(a.centered) === Boolean(b.centered) && (a.momentum > 0) === (b.momentum > 0));
}

// Subnormal state (native/core/optim_numerics.inc explains why and proves that the
// parameters do not change): every state value that decays — SGD's velocity,
// RMSprop's averages and buffer, Adam's m, v and max v — is stored as 0 where
// the stored dtype would hold a subnormal number; the update then uses the
// stored 0. JS computes in double, so the test is on the double before it is
// rounded to the array's dtype: a double rounds to a float32 below 2⁻¹²⁶ (the
// smallest normal float) exactly when |x| < 2⁻¹²⁶ − 2⁻¹⁵⁰, the midpoint
// between the largest subnormal and 2⁻¹²⁶ (a tie rounds to 2⁻¹²⁶, whose last
// mantissa bit is even); that is Math.fround first, then the compare, in one
// compare. Adagrad's sum only grows and is left alone, as in the core.
const FLOAT32_FLUSH_BELOW = 2 ** -126 - 2 ** -150;
const FLOAT64_FLUSH_BELOW = 2 ** -1022;

let flushingSubnormals = true;

/**
 * Tests only: false stores subnormal state as computed (PyTorch's behaviour),
 * to show that the flush leaves the parameters bit-identical. Not public API.
 */
export function setSubnormalFlushForTests(on: boolean): void {
  flushingSubnormals = on;
}

/** The magnitude below which state of this array's dtype is stored as 0 (0: never). */
function flushBelow(state: FloatArray): number {
  if (!flushingSubnormals) return 0;
  return state instanceof Float32Array ? FLOAT32_FLUSH_BELOW : FLOAT64_FLUSH_BELOW;
}

// Tiny gradients (native/core/optim_numerics.inc, "Tiny gradients", explains why and
// which results can change): with the flush on, a gradient whose square term
// c·g² (c = 1 − β2, 1 − α or 1; centered RMSprop's a² too) would be below the
// smallest normal number of the array's dtype is squared as 0, with the
// core's bound 0.999·√(N/c) (c as the dtype rounds it), so both engines drop
// the same squares. In float32 arrays JS's double arithmetic takes no assist,
// but the results must match the native engine's; in float64 arrays it does.
function squareBelow(state: FloatArray, coefficient: number): number {
  if (!flushingSubnormals) return 0;
  const float32 = state instanceof Float32Array;
  const c = float32 ? Math.fround(coefficient) : coefficient;
  if (!(c > 0)) return Infinity;
  const bound = 0.999 * Math.sqrt((float32 ? 2 ** -126 : 2 ** -1022) / c);
  return float32 ? Math.fround(bound) : bound;
}

// Updates that overflow (native/core/optim_numerics.inc explains the choice): an
// element whose new parameter or state value would be stored as NaN or
// ±Infinity keeps its parameter and state exactly as they were; the others are
// updated, and the update returns false. JS computes in double, so the test is
// on the value as the array will store it: a double rounds to ±Infinity in a
// Float32Array exactly when |x| ≥ 2¹²⁸ − 2¹⁰³, the midpoint between the
// largest float (whose last mantissa bit is odd, so the tie goes up) and 2¹²⁸.
// NaN fails the compare too. For float64 the bound is the largest double.
// Each loop stores old or new values unconditionally (a select): stores
// inside an if cost V8 far more (Adagrad on 536 k float64: 1.7 → 6.2 ms per
// update with them, 2.5 with the select).
// The decayed gradient g = g + λθ is tested too: the native core holds it in
// the dtype, where λθ overflows (float32: λ = 4 on θ = 2.6e38) and makes the
// new parameter infinite, while in double the update could still end finite.
// (Other float32 intermediates, such as lr·g for a θ of the opposite sign
// near the largest float, can still overflow natively and not here.)
const FLOAT32_STORES_FINITE_BELOW = 2 ** 128 - 2 ** 103;

/** The magnitude from which a value stored in this array is ±Infinity (with NaN: not committed). */
function overflowFrom(param: FloatArray): number {
  return param instanceof Float32Array ? FLOAT32_STORES_FINITE_BELOW : Infinity;
}

// The updates use the native core's arithmetic arrangement (optim_loops.inc), so
// float64 trajectories of the two engines agree to rounding (Math.pow and
// std::pow may differ in the last bit). The weight-decay term is added even
// when λ = 0, as there. Clipping is a scale and bounds applied as each
// gradient is read; when off they are 1 and ±∞, which change nothing.

/** sumSq plus the squares of grad[from..to), in order: clipNorm's norm, in slices. */
function addSquares(grad: FloatArray, from: number, to: number, sumSq: number): number {
  for (let i = from; i < to; i++) sumSq += grad[i]! * grad[i]!;
  return sumSq;
}

/**
 * The signed scale each gradient is read with: the global-norm clipping
 * coefficient (1 unless clipNorm is on and exceeded) from the sum of squares
 * of all gradients, negated for maximize.
 */
function gradientScale(spec: FullSpec, sumSq: number): number {
  // torch: coefficient max_norm / (total_norm + 1e-6), clamped to at most 1.
  const clip = spec.clipNorm > 0 ? Math.min(spec.clipNorm / (Math.sqrt(sumSq) + 1e-6), 1) : 1;
  return spec.maximize ? -clip : clip;
}

// Each update returns true when every element was committed (see overflowFrom).
function sgdUpdate(spec: FullSpec, scale: number, param: FloatArray, grad: FloatArray,
                   state: FloatArray, n: number, step: number, from: number, to: number): boolean {
  const hi = spec.clipValue > 0 ? spec.clipValue : Infinity;
  const lo = -hi;
  const lr = spec.lr;
  const wd = spec.weightDecay;
  const mu = spec.momentum;
  const big = overflowFrom(param);
  let committed = true;
  if (mu === 0) {
    for (let i = from; i < to; i++) {
      const p = param[i]!;
      const g = Math.min(Math.max(grad[i]! * scale, lo), hi) + wd * p;
      const next = p - lr * g;
      // `< big` is false for NaN as for ±Infinity.
      const ok = Math.abs(next) < big && Math.abs(g) < big;
      param[i] = ok ? next : p;
      if (!ok) committed = false;
    }
    return committed;
  }
  // torch.optim.SGD initialises the momentum buffer to the first gradient
  // itself (no dampening on that step), hence the `first` branch.
  const first = step === 1;
  const keep = 1 - spec.dampening;
  const nesterov = spec.nesterov;
  const tiny = flushBelow(state);
  for (let i = from; i < to; i++) {
    const p = param[i]!;
    const g = Math.min(Math.max(grad[i]! * scale, lo), hi) + wd * p;
    const vOld = state[i]!;
    let v = first ? g : mu * vOld + keep * g;
    if (Math.abs(v) < tiny) v = 0;
    const next = p - lr * (nesterov ? g + mu * v : v);
    const ok = Math.abs(next) < big && Math.abs(v) < big && Math.abs(g) < big;
    state[i] = ok ? v : vOld;
    param[i] = ok ? next : p;
    if (!ok) committed = false;
  }
  return committed;
}

function adagradUpdate(spec: FullSpec, scale: number, param: FloatArray, grad: FloatArray,
                       sum: FloatArray, n: number, step: number, from: number, to: number): boolean {
  const hi = spec.clipValue > 0 ? spec.clipValue : Infinity;
  const lo = -hi;
  const clr = spec.lr / (1 + (step - 1) * spec.lrDecay);
  const wd = spec.weightDecay;
  const eps = spec.eps;
  // The state starts at zero; torch fills it with initialAccumulatorValue, so
  // the first step reads that value instead.
  const first = step === 1;
  const init = spec.initialAccumulatorValue;
  const big = overflowFrom(param);
  const drop = squareBelow(sum, 1);
  let committed = true;
  for (let i = from; i < to; i++) {
    const p = param[i]!;
    const g = Math.min(Math.max(grad[i]! * scale, lo), hi) + wd * p;
    const gs = Math.abs(g) < drop ? 0 : g;
    const sumOld = sum[i]!;
    const acc = (first ? init : sumOld) + gs * gs;
    const next = p - clr * g / (Math.sqrt(acc) + eps);
    const ok = Math.abs(next) < big && Math.abs(acc) < big && Math.abs(g) < big;
    sum[i] = ok ? acc : sumOld;
    param[i] = ok ? next : p;
    if (!ok) committed = false;
  }
  return committed;
}

function rmspropUpdate(spec: FullSpec, scale: number, param: FloatArray, grad: FloatArray,
                       state: FloatArray, n: number, from: number, to: number): boolean {
  const hi = spec.clipValue > 0 ? spec.clipValue : Infinity;
  const lo = -hi;
  const { lr, weightDecay: wd, eps, alpha, centered, momentum: mu } = spec;
  const oneMinusAlpha = 1 - alpha;
  const useMomentum = mu > 0;
  const bufferAt = centered ? 2 * n : n;
  const tiny = flushBelow(state);
  const big = overflowFrom(param);
  const drop = squareBelow(state, oneMinusAlpha);
  const dropAverage = squareBelow(state, 1);
  let committed = true;
  for (let i = from; i < to; i++) {
    const p = param[i]!;
    const g = Math.min(Math.max(grad[i]! * scale, lo), hi) + wd * p;
    const gs = Math.abs(g) < drop ? 0 : g;
    const sqOld = state[i]!;
    let sq = alpha * sqOld + oneMinusAlpha * gs * gs;
    if (Math.abs(sq) < tiny) sq = 0;
    let variance = sq;
    let ga = 0;
    let gaOld = 0;
    if (centered) {
      gaOld = state[n + i]!;
      ga = alpha * gaOld + oneMinusAlpha * g;
      if (Math.abs(ga) < tiny) ga = 0;
      // ≥ 0 in exact arithmetic; rounding can push it just below (torch: NaN).
      const gas = Math.abs(ga) < dropAverage ? 0 : ga;
      variance = Math.max(sq - gas * gas, 0);
    }
    const d = g / (Math.sqrt(variance) + eps);
    let b = 0;
    let bOld = 0;
    if (useMomentum) {
      bOld = state[bufferAt + i]!;
      b = mu * bOld + d;
      if (Math.abs(b) < tiny) b = 0;
    }
    const next = p - lr * (useMomentum ? b : d);
    // The slices the options leave out hold 0 here and are never stored.
    const ok = Math.abs(next) < big && Math.abs(sq) < big && Math.abs(ga) < big && Math.abs(b) < big && Math.abs(g) < big;
    state[i] = ok ? sq : sqOld;
    if (centered) state[n + i] = ok ? ga : gaOld;
    if (useMomentum) state[bufferAt + i] = ok ? b : bOld;
    param[i] = ok ? next : p;
    if (!ok) committed = false;
  }
  return committed;
}

function adamUpdate(spec: FullSpec, scale: number, param: FloatArray, grad: FloatArray,
                    state: FloatArray, n: number, step: number, from: number, to: number): boolean {
  const hi = spec.clipValue > 0 ? spec.clipValue : Infinity;
  const lo = -hi;
  const lr = spec.lr;
  const b1 = spec.beta1;
  const b2 = spec.beta2;
  const eps = spec.eps;
  const decoupled = spec.kind === 'adamw';
  const amsgrad = spec.amsgrad;
  // Bias corrections of the zero-initialised moments (Kingma & Ba 2015, Alg. 1),
  // in PyTorch's arrangement: θ −= (lr/bc1) · m / (√v/√bc2 + ε).
  const bc1 = 1 - Math.pow(b1, step);
  const bc2 = 1 - Math.pow(b2, step);
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  // AdamW shrinks θ by (1 − lr·λ) first; Adam adds λθ to the gradient.
  const decay = decoupled ? 1 - lr * spec.weightDecay : 1;
  const coupled = decoupled ? 0 : spec.weightDecay;
  const tiny = flushBelow(state);
  const big = overflowFrom(param);
  const drop = squareBelow(state, 1 - b2);
  let committed = true;
  for (let i = from; i < to; i++) {
    const pOld = param[i]!;
    const p = pOld * decay;
    const g = Math.min(Math.max(grad[i]! * scale, lo), hi) + coupled * p;
    const mOld = state[i]!;
    const vOld = state[n + i]!;
    let m = b1 * mOld + (1 - b1) * g;
    const gs = Math.abs(g) < drop ? 0 : g;
    let v = b2 * vOld + (1 - b2) * gs * gs;
    if (Math.abs(m) < tiny) m = 0;
    if (Math.abs(v) < tiny) v = 0;
    // max(v̂max, v) is finite when v is (v̂max was stored finite).
    let vMax = v;
    let vMaxOld = 0;
    if (amsgrad) {
      vMaxOld = state[2 * n + i]!;
      vMax = Math.max(vMaxOld, v);
      if (Math.abs(vMax) < tiny) vMax = 0;
    }
    const next = p - stepSize * m / (Math.sqrt(vMax) / bc2Sqrt + eps);
    const ok = Math.abs(next) < big && Math.abs(m) < big && Math.abs(v) < big && Math.abs(g) < big;
    state[i] = ok ? m : mOld;
    state[n + i] = ok ? v : vOld;
    if (amsgrad) state[2 * n + i] = ok ? vMax : vMaxOld;
    param[i] = ok ? next : pOld;
    if (!ok) committed = false;
  }
  return committed;
}

/** Elements [from, to) of one update with the given gradient scale (gradientScale); true when all were committed. */
function updateRange(spec: FullSpec, scale: number, param: FloatArray, grad: FloatArray, state: FloatArray,
                     n: number, step: number, from: number, to: number): boolean {
  switch (spec.kind) {
    case 'sgd': return sgdUpdate(spec, scale, param, grad, state, n, step, from, to);
    case 'adagrad': return adagradUpdate(spec, scale, param, grad, state, n, step, from, to);
    case 'rmsprop': return rmspropUpdate(spec, scale, param, grad, state, n, from, to);
    default: return adamUpdate(spec, scale, param, grad, state, n, step, from, to);
  }
}

/**
 * One update of the first n parameters with their gradients. `state` holds
 * optimizerStateSize(spec, n) values; `step` (≥ 1) is the update's number.
 * Returns true when every element was updated; false when the update of some
 * would have stored NaN or ±Infinity in a parameter or state value: those kept
 * their parameter and state exactly as they were (see overflowFrom).
 */
export function optimizerUpdate(input: OptimizerSpec, param: FloatArray, grad: FloatArray,
                                state: FloatArray, n: number, step: number): boolean {
  // optimizerSteps in one slice, without its generator (small nets' steps).
  const spec = isComplete(input) ? input : completeOptimizer(input);
  const sumSq = spec.clipNorm > 0 ? addSquares(grad, 0, n, 0) : 0;
  return updateRange(spec, gradientScale(spec, sumSq), param, grad, state, n, step, 0, n);
}

/**
 * optimizerUpdate in slices of the flat loop (slices.ts), yielding when the
 * meter says a pause is due. Each element's arithmetic
 * is the same wherever the loop pauses; clipNorm's sum of squares runs first,
 * in order, across the slices.
 */
export function* optimizerSteps(meter: WorkMeter, input: OptimizerSpec, param: FloatArray,
                                grad: FloatArray, state: FloatArray, n: number,
                                step: number): Generator<void, boolean> {
  // The plans pass complete specs, so a step allocates nothing but this generator.
  const spec = isComplete(input) ? input : completeOptimizer(input);
  const range = perSlice(UPDATE_WORK);
  let sumSq = 0;
  if (spec.clipNorm > 0) {
    for (let from = 0; from < n; from += range) {
      sumSq = addSquares(grad, from, Math.min(n, from + range), sumSq);
      if (meter.add(range * SCAN_WORK)) yield;
    }
  }
  const scale = gradientScale(spec, sumSq);
  let committed = true;
  for (let from = 0; from < n; from += range) {
    // Every range runs, a failed one too: the elements that can be updated are (see overflowFrom).
    if (!updateRange(spec, scale, param, grad, state, n, step, from, Math.min(n, from + range))) committed = false;
    if (meter.add(range * UPDATE_WORK)) yield;
  }
  return committed;
}
