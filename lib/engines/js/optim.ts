// Optimizer updates over flat parameter buffers for the pure-TypeScript
// engine; same semantics as native/core/optim.h, which follows torch.optim
// (SPEC.md §4, ε outside the square root):
//
//  SGD   g ← g + λθ                                  (coupled weight decay)
//        v ← g on the first step, else μv + (1 − dampening)·g      (if μ ≠ 0)
//        g ← g + μv (nesterov) or v                              (if μ ≠ 0)
//        θ ← θ − lr·g
//  Adam  g ← g + λθ
//        m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g²
//        θ ← θ − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
//  AdamW θ ← θ − lr·λθ, i.e. θ·(1 − lr·λ) (decoupled decay, Loshchilov &
//        Hutter 2019), then Adam with no coupled decay.
//
// State is one flat array of the plan's dtype: empty for plain SGD, the
// momentum buffer v (n) for SGD with momentum, m then v (2n) for Adam/AdamW.
// It must be zero before the first step; `step` counts from 1.

import type { FloatArray, OptimizerSpec } from '../../engine';
import { ArgumentRangeError } from '../../validate';

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function check(ok: boolean, what: string, name: string, value: unknown): void {
  if (!ok) throw new ArgumentRangeError(`Expected ${what} for optimizer.${name} but received ${String(value)}`);
}

/**
 * Throws RangeError for out-of-range or non-finite hyper-parameters, with the
 * native core's rules (optim.cc validate_optimizer, after torch.optim): every
 * numeric field finite; lr ≥ 0, weightDecay ≥ 0; SGD: momentum ≥ 0,
 * dampening in [0, 1], nesterov only with momentum > 0 and dampening 0;
 * Adam/AdamW: betas in [0, 1), eps > 0.
 */
export function validateOptimizer(spec: OptimizerSpec): void {
  const kind = spec.kind;
  if (kind !== 'sgd' && kind !== 'adam' && kind !== 'adamw') {
    throw new ArgumentRangeError(`Expected 'sgd', 'adam' or 'adamw' for optimizer.kind but received ${String(kind)}`);
  }
  for (const name of ['lr', 'momentum', 'dampening', 'weightDecay', 'beta1', 'beta2', 'eps'] as const) {
    check(finite(spec[name]), 'a finite number', name, spec[name]);
  }
  check(typeof spec.nesterov === 'boolean', 'a boolean', 'nesterov', spec.nesterov);
  check(spec.lr >= 0, 'a number ≥ 0', 'lr', spec.lr);
  check(spec.weightDecay >= 0, 'a number ≥ 0', 'weightDecay', spec.weightDecay);
  if (kind === 'sgd') {
    check(spec.momentum >= 0, 'a number ≥ 0', 'momentum', spec.momentum);
    check(spec.dampening >= 0 && spec.dampening <= 1, 'a number in [0, 1]', 'dampening',
          spec.dampening);
    if (spec.nesterov) {
      check(spec.momentum > 0 && spec.dampening === 0,
            'momentum > 0 and dampening 0 with nesterov', 'nesterov',
            `momentum ${spec.momentum}, dampening ${spec.dampening}`);
    }
  } else {
    check(spec.beta1 >= 0 && spec.beta1 < 1, 'a number in [0, 1)', 'beta1', spec.beta1);
    check(spec.beta2 >= 0 && spec.beta2 < 1, 'a number in [0, 1)', 'beta2', spec.beta2);
    check(spec.eps > 0, 'a number > 0', 'eps', spec.eps);
  }
}

/** Values of state the spec needs for n parameters: 0, n or 2n (optim.h). */
export function optimizerStateSize(spec: OptimizerSpec, n: number): number {
  if (spec.kind === 'sgd') return spec.momentum !== 0 ? n : 0;
  return 2 * n;
}

// Both updates use the native core's arithmetic arrangement (optim.cc), so
// float64 trajectories of the two engines agree to rounding (Math.pow and
// std::pow may differ in the last bit). The weight-decay term is added even
// when λ = 0, as there.

function sgdUpdate(spec: OptimizerSpec, param: FloatArray, grad: FloatArray, state: FloatArray,
                   n: number, step: number): void {
  const lr = spec.lr;
  const wd = spec.weightDecay;
  const mu = spec.momentum;
  if (mu === 0) {
    for (let i = 0; i < n; i++) {
      const p = param[i];
      param[i] = p - lr * (grad[i] + wd * p);
    }
    return;
  }
  // torch.optim.SGD initialises the momentum buffer to the first gradient
  // itself (no dampening on that step), hence the `first` branch.
  const first = step === 1;
  const keep = 1 - spec.dampening;
  const nesterov = spec.nesterov;
  for (let i = 0; i < n; i++) {
    const p = param[i];
    const g = grad[i] + wd * p;
    const v = first ? g : mu * state[i] + keep * g;
    state[i] = v;
    param[i] = p - lr * (nesterov ? g + mu * v : v);
  }
}

function adamUpdate(spec: OptimizerSpec, param: FloatArray, grad: FloatArray, state: FloatArray,
                    n: number, step: number): void {
  const lr = spec.lr;
  const b1 = spec.beta1;
  const b2 = spec.beta2;
  const eps = spec.eps;
  const decoupled = spec.kind === 'adamw';
  // Bias corrections of the zero-initialised moments (Kingma & Ba 2015, Alg. 1),
  // in PyTorch's arrangement: θ −= (lr/bc1) · m / (√v/√bc2 + ε).
  const bc1 = 1 - Math.pow(b1, step);
  const bc2 = 1 - Math.pow(b2, step);
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  // AdamW shrinks θ by (1 − lr·λ) first; Adam adds λθ to the gradient.
  const decay = decoupled ? 1 - lr * spec.weightDecay : 1;
  const coupled = decoupled ? 0 : spec.weightDecay;
  for (let i = 0; i < n; i++) {
    const p = param[i] * decay;
    const g = grad[i] + coupled * p;
    const m = b1 * state[i] + (1 - b1) * g;
    const v = b2 * state[n + i] + (1 - b2) * g * g;
    state[i] = m;
    state[n + i] = v;
    param[i] = p - stepSize * m / (Math.sqrt(v) / bc2Sqrt + eps);
  }
}

/**
 * One update of the first n parameters with their gradients. `state` holds
 * optimizerStateSize(spec, n) values; `step` (≥ 1) is the update's number.
 */
export function optimizerUpdate(spec: OptimizerSpec, param: FloatArray, grad: FloatArray,
                                state: FloatArray, n: number, step: number): void {
  if (spec.kind === 'sgd') sgdUpdate(spec, param, grad, state, n, step);
  else adamUpdate(spec, param, grad, state, n, step);
}
