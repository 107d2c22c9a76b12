// Shared test helpers: the engines under test, references and finite differences.
import { getEngine } from '../lib/backend';
import type { Engine, EngineName, FloatArray, NetworkPlan, Target } from '../lib/engine';

/** Every test that takes an engine runs on both; a missing native build fails, never skips. */
export const ENGINES: EngineName[] = ['native', 'js'];

export function engine(name: EngineName): Engine {
  return getEngine(name);
}

/** Deterministic pseudo-random values in [-1, 1) (a small LCG; tests only). */
export function randomArray(n: number, seed: number, Ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array): FloatArray {
  const out = new Ctor(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** Naive row-major C = alpha·op(A)·op(B) + beta·C in float64, the reference for gemm. */
export function naiveGemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
                          a: ArrayLike<number>, b: ArrayLike<number>, beta: number, c: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i]! : a[i * k + p]!;
        const bv = transB ? b[j * k + p]! : b[p * n + j]!;
        s += av * bv;
      }
      out[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * n + j]!);
    }
  }
  return out;
}

/**
 * Largest |a − b| / max(floor, |b|) over two arrays of one length: relative
 * error, turning absolute for values below `floor` (a weight that crosses zero
 * has no meaningful relative error). NaN anywhere counts as Infinity.
 */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / Math.max(floor, Math.abs(b[i]!));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/**
 * Central finite differences of f at x (modified in place and restored):
 * df/dx_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h.
 */
export function numericGradient(f: () => number, x: FloatArray, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!;
    x[i] = saved + h;
    const up = f();
    x[i] = saved - h;
    const down = f();
    x[i] = saved;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/**
 * The plan's analytic parameter gradients (computeGradients) and finite
 * differences of its loss in the parameters, both at `params` (float64).
 * `before` runs before every loss evaluation (e.g. to reseed dropout masks).
 */
export function planParamGradients(plan: NetworkPlan, params: Float64Array, x: Float64Array, rows: number, y: Target,
                                   before: () => void = () => {}): { analytic: Float64Array; numeric: Float64Array } {
  plan.setParams(params);
  before();
  plan.computeGradients(x, rows, y);
  const analytic = new Float64Array(plan.paramCount);
  plan.getGrads(analytic);
  const numeric = numericGradient(() => {
    plan.setParams(params);
    before();
    return plan.computeGradients(x, rows, y);
  }, params);
  return { analytic, numeric };
}

/** The error fn throws, for checking its class, code and message; throws itself when fn returns. */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw, nothing was thrown');
}
