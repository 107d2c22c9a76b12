// Scalar forms of the element-wise activations (SPEC.md §2) for the
// pure-TypeScript engine: one forward `fwd(x) → y` and one derivative
// `grad(x, y) → dy/dx` each, using x or the forward output y exactly as the
// native functors in native/core/activation_ops.h do, so both engines round
// alike. activations.ts plugs them into one loop template.
//
// Definitions and the derivative at kinks follow PyTorch's documentation
// (torch.nn.LeakyReLU, ELU, SELU, Softplus, GELU, SiLU):
//   leaky-relu  x if x > 0 else a·x                 f' = 1 or a (a at 0)
//   elu         x if x > 0 else α(eˣ − 1)           f' = 1 or α·eˣ (α at 0)
//   selu        λ·elu(x; α), fixed λ, α             f' = λ or λα·eˣ
//   softplus    log(1 + e^{βx})/β, x when βx > t    f' = σ(βx), 1 above t
//   gelu        x·Φ(x), Φ(x) = ½(1 + erf(x/√2))     f' = Φ(x) + x·φ(x)
//   gelu tanh   ½x(1 + tanh(k(x + 0.044715x³))), k = √(2/π)   (Hendrycks & Gimpel 2016)
//   silu        x·σ(x)                              f' = σ(x)(1 + x(1 − σ(x)))
//   swish       x·σ(βx)  (Ramachandran et al. 2017) f' = σ(βx)(1 + βx(1 − σ(βx)))
//   hardtanh    clamp(x, lo, hi)                    f' = 1 if lo < x < hi else 0 (0 at lo and hi)
//   relu6       hardtanh(x, 0, 6) (torch.nn.ReLU6 calls F.hardtanh(x, 0, 6))
//   logsigmoid  log σ(x) = min(x, 0) − log(1 + e^{−|x|})   f' = σ(−x)

import { ERFC_CHEBYSHEV } from '../../erfc-chebyshev';

export interface ScalarActivation {
  fwd(x: number): number;
  grad(x: number, y: number): number;
}

/** SELU's fixed constants (Klambauer et al. 2017; torch.nn.SELU). */
export const SELU_LAMBDA = 1.0507009873554805;
export const SELU_ALPHA = 1.6732632423543772;

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const INV_SQRT2 = 0.7071067811865476; // 1/√2
const INV_SQRT_2PI = 0.3989422804014327; // 1/√(2π)
const SQRT_2_OVER_PI = 0.7978845608028654; // √(2/π)
const GELU_KAPPA = 0.044715;

/**
 * Numerically stable logistic function: for x ≥ 0, 1/(1+e^-x) cannot
 * overflow; for x < 0 the algebraically equal e^x/(1+e^x) avoids e^-x = ∞
 * (which would give 1/∞ = 0 correctly, but loses the tiny tail precision).
 */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}


/** Taylor coefficients (−1)ⁿ/(n!(2n+1)) of erf(x)·√π/2 = Σ aₙ x^{2n+1}, for |x| < 0.5. */
const ERF_TAYLOR = Array.from({ length: 13 }, (_, n) => {
  let f = 1;
  for (let k = 2; k <= n; k++) f *= k;
  return (n % 2 === 0 ? 1 : -1) / (f * (2 * n + 1));
});

/** erfc(z) for z ≥ 0 (Clenshaw's recurrence for the Chebyshev series). */
function erfcNonNegative(z: number): number {
  const t = 2 / (2 + z);
  const s = 2 * t - 1;
  let b1 = 0;
  let b2 = 0;
  for (let j = ERFC_CHEBYSHEV.length - 1; j >= 1; j--) {
    const b = 2 * s * b1 - b2 + ERFC_CHEBYSHEV[j]!;
    b2 = b1;
    b1 = b;
  }
  return t * Math.exp(-z * z + (s * b1 - b2 + ERFC_CHEBYSHEV[0]!));
}

/**
 * The error function to double precision (JavaScript's Math has none):
 * |x| < 0.5, its Taylor series (13 terms; no cancellation to speak of there);
 * otherwise ±(1 − erfc |x|) with the Chebyshev form above.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 0.5) {
    const x2 = x * x;
    let p = ERF_TAYLOR[12]!;
    for (let n = 11; n >= 0; n--) p = p * x2 + ERF_TAYLOR[n]!;
    return TWO_OVER_SQRT_PI * x * p;
  }
  const r = 1 - erfcNonNegative(ax);
  return x < 0 ? -r : r; // NaN falls through to here and stays NaN
}

export const identity: ScalarActivation = { fwd: (x) => x, grad: () => 1 };

export const relu: ScalarActivation = {
  // max(0, x), but NaN stays NaN (torch.relu): a NaN that reached a hidden
  // layer must still show up in the loss.
  fwd: (x) => (x > 0 ? x : x <= 0 ? 0 : x),
  // Subgradient 0 at x = 0 (PyTorch's choice; SPEC.md §2).
  grad: (x) => (x > 0 ? 1 : 0),
};

export const sigmoidOp: ScalarActivation = { fwd: sigmoid, grad: (_x, y) => y * (1 - y) };

export const tanh: ScalarActivation = { fwd: Math.tanh, grad: (_x, y) => 1 - y * y };

export function leakyRelu(slope: number): ScalarActivation {
  return { fwd: (x) => (x > 0 ? x : slope * x), grad: (x) => (x > 0 ? 1 : slope) };
}

/** ELU and SELU share scale·(x if x > 0 else α(eˣ − 1)); expm1 keeps the tail near 0 accurate. */
export function scaledElu(scale: number, alpha: number): ScalarActivation {
  return {
    fwd: (x) => (x > 0 ? scale * x : scale * alpha * Math.expm1(x)),
    grad: (x) => (x > 0 ? scale : scale * alpha * Math.exp(x)),
  };
}

/** Linear above the threshold, where e^{βx} could overflow (as PyTorch). */
export function softplus(beta: number, threshold: number): ScalarActivation {
  return {
    fwd: (x) => (beta * x > threshold ? x : Math.log1p(Math.exp(beta * x)) / beta),
    grad: (x) => (beta * x > threshold ? 1 : sigmoid(beta * x)),
  };
}

export const geluErf: ScalarActivation = {
  fwd: (x) => x * 0.5 * (1 + erf(x * INV_SQRT2)),
  grad: (x) => 0.5 * (1 + erf(x * INV_SQRT2)) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI,
};

export const geluTanh: ScalarActivation = {
  fwd: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x))),
  // d/dx of ½x(1 + tanh u), u = k(x + κx³): ½(1 + tanh u) + ½x(1 − tanh² u)·k(1 + 3κx²)
  grad: (x) => {
    const x2 = x * x;
    const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_KAPPA * x2 * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * x2);
  },
};

/** x·σ(βx); silu is β = 1. The derivative recomputes σ(βx) from x. */
export function swish(beta: number): ScalarActivation {
  return {
    fwd: (x) => x * sigmoid(beta * x),
    grad: (x) => {
      const s = sigmoid(beta * x);
      return s * (1 + beta * x * (1 - s));
    },
  };
}

/**
 * clamp(x, lo, hi); relu6 is lo = 0, hi = 6. NaN stays NaN. The derivative is
 * 0 at the kinks themselves (torch's hardtanh_backward passes the gradient
 * only where lo < x < hi), read from y as the native functor does: y sits
 * where x does relative to lo and hi, and a NaN passes the gradient as in torch.
 */
export function hardtanh(lo: number, hi: number): ScalarActivation {
  return {
    fwd: (x) => (x < lo ? lo : x > hi ? hi : x),
    grad: (_x, y) => (y <= lo || y >= hi ? 0 : 1),
  };
}

/** log σ(x) as min(x, 0) − log1p(e^{−|x|}): e^{−|x|} ≤ 1 never overflows. f' = σ(−x), from x. */
export const logSigmoid: ScalarActivation = {
  fwd: (x) => (x < 0 ? x : 0) - Math.log1p(Math.exp(-Math.abs(x))),
  grad: (x) => sigmoid(-x),
};
