// The 1-D smoother of projection pursuit regression: local linear regression
// with a Gaussian kernel (Fan & Gijbels, "Local Polynomial Modelling", 1996,
// §2.2). At each point v0 it fits r ≈ a + s·(v − v0) by weighted least squares
// with weights K((v − v0)/h); a is the smoothed value g(v0) and s the slope
// g'(v0), which the Gauss–Newton step for the direction needs. The kernel is
// cut at 4h, so with the points sorted each fit touches only its neighbours.

/** A fitted ridge function: values and slopes at sorted knots, linear between them. */
export interface RidgeCurve {
  knots: Float64Array;
  values: Float64Array;
  slopes: Float64Array;
}

export interface SmoothResult {
  /** g(v_i) in the input order. */
  fitted: Float64Array;
  /** g'(v_i) in the input order. */
  slope: Float64Array;
  curve: RidgeCurve;
}

const CUTOFF = 4;

/** Silverman's rule-of-thumb bandwidth 1.06·σ·n^(−1/5), scaled by `factor`. */
export function ruleOfThumbBandwidth(v: Float64Array, factor: number): number {
  const n = v.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += v[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (v[i]! - mean) ** 2;
  const sigma = Math.sqrt(ss / n);
  return factor * 1.06 * Math.max(sigma, 1e-12) * n ** -0.2;
}

/** Local linear smooth of r against v with bandwidth h. */
export function localLinearSmooth(v: Float64Array, r: Float64Array, h: number): SmoothResult {
  const n = v.length;
  const order = [...Array(n).keys()].sort((i, j) => v[i]! - v[j]!);
  const sv = Float64Array.from(order, (i) => v[i]!);
  const sr = Float64Array.from(order, (i) => r[i]!);
  const values = new Float64Array(n);
  const slopes = new Float64Array(n);
  const reach = CUTOFF * h;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const v0 = sv[i]!;
    while (sv[lo]! < v0 - reach) lo++;
    while (hi < n && sv[hi]! <= v0 + reach) hi++;
    let s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
    for (let j = lo; j < hi; j++) {
      const d = sv[j]! - v0;
      const w = Math.exp(-0.5 * (d / h) ** 2);
      s0 += w;
      s1 += w * d;
      s2 += w * d * d;
      t0 += w * sr[j]!;
      t1 += w * d * sr[j]!;
    }
    const det = s0 * s2 - s1 * s1;
    if (det > 1e-12 * s0 * s0 * h * h) {
      values[i] = (s2 * t0 - s1 * t1) / det;
      slopes[i] = (s0 * t1 - s1 * t0) / det;
    } else {
      // All neighbours at one abscissa: the local mean, flat.
      values[i] = t0 / s0;
      slopes[i] = 0;
    }
  }
  const fitted = new Float64Array(n);
  const slope = new Float64Array(n);
  order.forEach((src, k) => {
    fitted[src] = values[k]!;
    slope[src] = slopes[k]!;
  });
  return { fitted, slope, curve: { knots: sv, values, slopes } };
}

/**
 * g(t): linear interpolation between knots; beyond the ends, the straight line
 * with the end's local slope (a ridge function should not turn flat or wild
 * just outside the training range).
 */
export function evaluateCurve(c: RidgeCurve, t: number): number {
  const n = c.knots.length;
  if (t <= c.knots[0]!) return c.values[0]! + c.slopes[0]! * (t - c.knots[0]!);
  if (t >= c.knots[n - 1]!) return c.values[n - 1]! + c.slopes[n - 1]! * (t - c.knots[n - 1]!);
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (c.knots[mid]! <= t) lo = mid; else hi = mid;
  }
  const width = c.knots[hi]! - c.knots[lo]!;
  if (width <= 0) return c.values[lo]!;
  const f = (t - c.knots[lo]!) / width;
  return c.values[lo]! + f * (c.values[hi]! - c.values[lo]!);
}
