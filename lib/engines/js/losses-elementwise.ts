// Element-wise losses of the pure-TypeScript engine: the same formulas, in
// the same arrangement, as native/core/losses_elementwise.cc (losses.h has the
// table and sources). Each term maps one element (prediction p, target t) to
// its value and dvalue/dp; one loop applies the per-column class weight and
// the reduction.
import type { FloatArray, LossName } from '../../engine';
import type { FullLossSpec } from './losses';
import { ArgumentRangeError } from '../../validate';
import { BCE_PRED_RANGE, TARGET_RANGES } from '../../target-checks';

/** A value and its derivative in the prediction, written into a reused pair. */
type Term = (p: number, t: number, out: Float64Array) => void;

function sign(r: number): number {
  return r > 0 ? 1 : r < 0 ? -1 : 0;
}

/** σ(x) without overflow for large |x|. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function terms(spec: FullLossSpec): Term {
  const { delta, tau, alpha, scale: c, posWeight: pw, gamma } = spec;
  switch (spec.kind) {
    case 'mse': return (p, t, o) => { const r = p - t; o[0] = r * r; o[1] = 2 * r; };
    // torch.nn.L1Loss: gradient sign(0) = 0 at r = 0.
    case 'mae': return (p, t, o) => { const r = p - t; o[0] = Math.abs(r); o[1] = sign(r); };
    case 'huber': return (p, t, o) => {
      const r = p - t, a = Math.abs(r);
      if (a <= delta) { o[0] = 0.5 * r * r; o[1] = r; } else { o[0] = delta * (a - 0.5 * delta); o[1] = delta * sign(r); }
    };
    // Tukey's biweight; ψ(r) = r(1 − r²/δ²)² inside, 0 outside.
    case 'tukey': return (p, t, o) => {
      const r = p - t, d2 = delta * delta;
      if (Math.abs(r) > delta) { o[0] = d2 / 6; o[1] = 0; return; }
      const u = 1 - r * r / d2;
      o[0] = d2 / 6 * (1 - u * u * u); o[1] = r * u * u;
    };
    // Pinball of u = t − p; at u = 0 the midpoint of the slopes, 0.5 − τ; a NaN u stays NaN (as native/core).
    case 'quantile': return (p, t, o) => {
      const u = t - p;
      if (u > 0) { o[0] = tau * u; o[1] = -tau; } else if (u < 0) { o[0] = (tau - 1) * u; o[1] = 1 - tau; }
      else if (u === 0) { o[0] = 0; o[1] = 0.5 - tau; } else { o[0] = u; o[1] = u; }
    };
    // Barron 2019, "A General and Adaptive Robust Loss Function", eq. 1 with its
    // α = 2, 0, −∞ limits; general case (b/α)·expm1((α/2)·log1p(z/b)), b = |α − 2|.
    case 'barron': return (p, t, o) => {
      const x = p - t, c2 = c * c, z = x * x / c2;
      if (alpha === 2) { o[0] = 0.5 * z; o[1] = x / c2; return; }
      if (alpha === 0) { o[0] = Math.log1p(0.5 * z); o[1] = 2 * x / (x * x + 2 * c2); return; }
      if (alpha === -Infinity) { o[0] = -Math.expm1(-0.5 * z); o[1] = x / c2 * Math.exp(-0.5 * z); return; }
      const b = Math.abs(alpha - 2), l = Math.log1p(z / b);
      o[0] = b / alpha * Math.expm1(0.5 * alpha * l); o[1] = x / c2 * Math.exp((0.5 * alpha - 1) * l);
    };
    // torch.nn.BCELoss: logs clamped at −100; gradient (p − t)/max(p(1 − p), 1e-12).
    case 'bce': return (p, t, o) => {
      const lp = Math.max(Math.log(p), -100), lq = Math.max(Math.log1p(-p), -100);
      o[0] = -(t * lp + (1 - t) * lq); o[1] = (p - t) / Math.max(p * (1 - p), 1e-12);
    };
    // torch.nn.BCEWithLogitsLoss: (1 − t)z + (1 + (pw − 1)t)·log(1 + e^{−z}), stable.
    case 'bce-with-logits': return (z, t, o) => {
      const lw = 1 + (pw - 1) * t;
      o[0] = (1 - t) * z + lw * (Math.log1p(Math.exp(-Math.abs(z))) + Math.max(-z, 0));
      o[1] = (1 - t) - lw * sigmoid(-z);
    };
    // torch.nn.KLDivLoss pointwise: t(log t − x), 0 where t = 0.
    case 'kl-div': return (x, t, o) => { o[0] = t > 0 ? t * (Math.log(t) - x) : 0; o[1] = -t; };
    // max(0, m) of the margin m = 1 − t·p; a NaN m stays NaN, as torch.clamp gives (and native/core).
    case 'hinge': return (p, t, o) => {
      const m = 1 - t * p;
      if (m > 0) { o[0] = m; o[1] = -t; } else if (m <= 0) { o[0] = 0; o[1] = 0; } else { o[0] = m; o[1] = m; }
    };
    case 'squared-hinge': return (p, t, o) => {
      const m = 1 - t * p;
      if (m > 0) { o[0] = m * m; o[1] = -2 * t * m; } else if (m <= 0) { o[0] = 0; o[1] = 0; } else { o[0] = m; o[1] = m; }
    };
    // Lin et al. 2017, as torchvision.ops.sigmoid_focal_loss: α_t(1 − p_t)^γ·bce-with-logits.
    case 'focal': return (z, t, o) => {
      const p = sigmoid(z), q = sigmoid(-z);
      const ce = Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
      const oneMinusPt = q * t + p * (1 - t);
      const at = alpha * t + (1 - alpha) * (1 - t);
      const mod = Math.pow(oneMinusPt, gamma);
      const dmod = gamma !== 0 && oneMinusPt > 0 ? -gamma * Math.pow(oneMinusPt, gamma - 1) * p * q * (2 * t - 1) : 0;
      o[0] = at * mod * ce; o[1] = at * ((p - t) * mod + ce * dmod);
    };
    default: throw new ArgumentRangeError(`Expected an element-wise loss for loss.kind but received ${spec.kind}`);
  }
}

export function isElementwiseLoss(kind: LossName): boolean {
  return kind !== 'cross-entropy' && kind !== 'nll' && kind !== 'dice';
}

/**
 * Checks the values an element-wise loss needs in range, before anything is
 * written (bce: pred and target in [0, 1]; bce-with-logits and focal: target in
 * [0, 1]; hinge: target ±1; kl-div: target ≥ 0). NaN predictions pass, so a
 * diverged network gives a NaN loss rather than an exception.
 */
export function checkElementwiseValues(kind: LossName, pred: FloatArray, n: number, target: FloatArray): void {
  // The ranges are lib's (lib/target-checks.ts), which checks them first with the caller's argument names.
  const range = TARGET_RANGES[kind];
  if (range === undefined) return;
  const bad = (what: string, name: string, v: number, i: number) =>
    new ArgumentRangeError(`Expected ${what} for ${name} of loss '${kind}' but received ${v} at index ${i}`);
  const checkPred = kind === 'bce';
  for (let i = 0; i < n; i++) {
    const p = pred[i]!, t = target[i]!;
    if (checkPred && !BCE_PRED_RANGE.ok(p)) throw bad(BCE_PRED_RANGE.what, 'pred', p, i);
    if (!range.ok(t)) throw bad(range.what, 'target', t, i);
  }
}

/** Σ w·v times the reduction's scale; writes grad = scale·w·dv/dp and values = w·v when given. */
export function elementwiseLoss(spec: FullLossSpec, pred: FloatArray, rows: number, cols: number,
                                target: FloatArray, grad: FloatArray | null,
                                values: Float64Array | null): number {
  const term = terms(spec);
  const scale = spec.reduction === 'mean' ? 1 / (rows * cols) : spec.reduction === 'batchmean' ? 1 / rows : 1;
  const weights = spec.classWeights;
  const o = new Float64Array(2);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      term(pred[i], target[i], o);
      const w = weights === null ? 1 : weights[c];
      total += w * o[0];
      if (values !== null) values[i] = w * o[0];
      if (grad !== null) grad[i] = w * o[1] * scale;
    }
  }
  return total * scale;
}
