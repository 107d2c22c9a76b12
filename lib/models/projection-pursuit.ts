// Projection pursuit regression (Friedman & Stuetzle 1981, "Projection Pursuit
// Regression", JASA 76:817–823; seed 001): f(x) = ȳ + Σ_m g_m(ω_mᵀx), ‖ω_m‖ = 1.
// - Single-index fit (one term on a residual r): alternate (1) given ω, smooth
//   r against v = Xω to get g and g' (lib/models/smoother.ts); (2) given g, a
//   Gauss–Newton step for ω from the linearisation
//     g(ωᵀx) ≈ g(ω₀ᵀx) + g'(ω₀ᵀx)(ω − ω₀)ᵀx,
//   i.e. δ = argmin Σ (r_i − g_i − g'_i x_iᵀδ)², solved from the normal
//   equations (Σ g'_i² x_i x_iᵀ) δ = Σ g'_i (r_i − g_i) x_i, then ω = (ω₀ + δ)/‖·‖,
//   halving the step until the loss (after re-smoothing) decreases.
// - Terms are added forward stage-wise; after each new term, backfitting passes
//   refit every term on its partial residual r − Σ_{l≠m} g_l.
// Heavy products (v = Xω, XᵀDX, Xᵀe) run on the engine's gemm, in float64.
import { getEngine } from '../backend';
import type { Engine } from '../engine';
import { Matrix } from '../matrix';
import { r2FromSums } from '../metrics';
import { Rng } from '../rng';
import { ArgumentRangeError, integer, number, options } from '../validate';
import { inputMatrix, realTargets, requireFitted } from './common';
import { solveSymmetric } from './linalg';
import { evaluateCurve, localLinearSmooth, ruleOfThumbBandwidth, type RidgeCurve } from './smoother';
import {
  SavableModel, tensor, type ClassicState, type SavedOptions,
} from './persist-format';

export interface ProjectionPursuitOptions {
  engine?: 'native' | 'js' | 'auto';
  /** Number of ridge terms M (default 2). */
  terms?: number;
  /** Gauss–Newton iterations per single-index fit (default 20). */
  maxIterations?: number;
  /** Backfitting passes after each added term (default 2). */
  backfitPasses?: number;
  /** Multiplies the rule-of-thumb bandwidth of the smoother (default 1; larger = smoother g). */
  smoothing?: number;
  /** Stop a single-index fit when the loss improves by less than this fraction (default 1e-6). */
  tol?: number;
  /** Seed for the starting direction when the linear fit gives none (default 0). */
  seed?: number;
  /**
   * Stop adding terms when one lowers the training MSE by less than this fraction
   * (seed 001: "stops when the next term does not appreciably improve the fit").
   * Default 0: always fit `terms` terms. The unhelpful last term is dropped.
   */
  minImprovement?: number;
}

export interface ProjectionPursuitTerm {
  /** ω_m, a unit vector. */
  direction: Float64Array;
  /** g_m as knots, values and slopes (linear between knots). */
  curve: RidgeCurve;
}

export interface ProjectionPursuitFitResult {
  /** Training mean squared error after each forward stage (with its backfitting). */
  stageLoss: number[];
}

interface TermFit {
  direction: Float64Array;
  curve: RidgeCurve;
  fitted: Float64Array;
}

export class ProjectionPursuitRegressor extends SavableModel {
  readonly terms: number;
  readonly maxIterations: number;
  readonly backfitPasses: number;
  readonly smoothing: number;
  readonly tol: number;
  readonly seed: number;
  readonly minImprovement: number;
  private readonly engineImpl: Engine;
  private fitted: { mean: number; inputs: number; terms: TermFit[] } | null = null;

  constructor(opts?: ProjectionPursuitOptions) {
    super();
    const o = options('ProjectionPursuitRegressor options', opts,
      ['engine', 'terms', 'maxIterations', 'backfitPasses', 'smoothing', 'tol', 'seed', 'minImprovement']);
    this.engineImpl = getEngine(o.engine ?? 'auto');
    this.terms = o.terms === undefined ? 2 : integer('terms', o.terms, 1, 100);
    this.maxIterations = o.maxIterations === undefined ? 20 : integer('maxIterations', o.maxIterations, 0);
    this.backfitPasses = o.backfitPasses === undefined ? 2 : integer('backfitPasses', o.backfitPasses, 0);
    this.smoothing = o.smoothing === undefined ? 1 : number('smoothing', o.smoothing, 0, Infinity, { minExclusive: true });
    this.tol = o.tol === undefined ? 1e-6 : number('tol', o.tol, 0);
    this.seed = o.seed === undefined ? 0 : integer('seed', o.seed, 0);
    this.minImprovement = o.minImprovement === undefined ? 0 : number('minImprovement', o.minImprovement, 0, 1);
  }

  get engine(): string {
    return this.engineImpl.name;
  }

  /** The fitted terms (directions and ridge functions, copies), or null before fit. */
  get ridgeTerms(): ProjectionPursuitTerm[] | null {
    // Copies, curve included: predict reads the model's own arrays, which a caller must not reach.
    return this.fitted ? this.fitted.terms.map((t) => ({
      direction: t.direction.slice(),
      curve: { knots: t.curve.knots.slice(), values: t.curve.values.slice(), slopes: t.curve.slopes.slice() },
    })) : null;
  }


  /**
   * @internal What the model saves: options and, when fitted, ȳ ('mean') and each term's direction
   * and curve ('terms.{m}.direction', '.knots', '.values', '.slopes'; float64), its own arrays.
   */
  classicState(): ClassicState {
    const options: SavedOptions = { terms: this.terms, maxIterations: this.maxIterations, backfitPasses: this.backfitPasses,
      smoothing: this.smoothing, tol: this.tol, seed: this.seed, minImprovement: this.minImprovement };
    const f = this.fitted;
    if (f === null) return { model: 'ProjectionPursuitRegressor', options, fitted: false, tensors: [] };
    const tensors = [tensor('mean', 'float64', [1], Float64Array.of(f.mean))];
    f.terms.forEach((t, m) => {
      const n = t.curve.knots.length;
      tensors.push(tensor(`terms.${m}.direction`, 'float64', [f.inputs], t.direction),
        tensor(`terms.${m}.knots`, 'float64', [n], t.curve.knots), tensor(`terms.${m}.values`, 'float64', [n], t.curve.values),
        tensor(`terms.${m}.slopes`, 'float64', [n], t.curve.slopes));
    });
    return { model: 'ProjectionPursuitRegressor', options, fitted: true, tensors };
  }

  /** @internal models.load's restore: terms already checked (lib/models/persist.ts). */
  restoreFitted(mean: number, inputs: number, terms: ProjectionPursuitTerm[]): void {
    this.fitted = { mean, inputs, terms: terms.map((t) => ({ ...t, fitted: new Float64Array(0) })) };
  }

  /** x: rows × inputs (float64 internally); y: one real target per row. */
  fit(x: unknown, y: unknown): ProjectionPursuitFitResult {
    const X = inputMatrix(x, 'x', 'float64', null);
    const Y = realTargets(y, 'y', X.rows);
    if (X.rows < 3) throw new ArgumentRangeError(`Expected at least 3 rows for x but received ${X.rows}`);
    const n = X.rows;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += Y[i]!;
    mean /= n;
    const residual = Float64Array.from(Y, (v) => v - mean);
    // The normal equations hold Σ x², the losses Σ r²: past float64's range they become ∞ and
    // then NaN, which no step can recover from, so such data is refused up front.
    requireFiniteSquares(X.data as Float64Array, 'x', 'values');
    requireFiniteSquares(residual, 'y', 'values less their mean');
    const rng = new Rng(this.seed);
    const terms: TermFit[] = [];
    const stageLoss: number[] = [];
    let previousLoss = sumOfSquares(residual) / n;
    for (let m = 0; m < this.terms; m++) {
      const saved = { terms: [...terms], residual: residual.slice() };
      const term = this.fitSingleIndex(X, residual, this.startDirection(X, residual, rng));
      terms.push(term);
      for (let i = 0; i < n; i++) residual[i]! -= term.fitted[i]!;
      for (let pass = 0; pass < this.backfitPasses && terms.length > 1; pass++) {
        terms.forEach((old, l) => {
          for (let i = 0; i < n; i++) residual[i]! += old.fitted[i]!;  // partial residual without term l
          const refit = this.fitSingleIndex(X, residual, old.direction);
          for (let i = 0; i < n; i++) residual[i]! -= refit.fitted[i]!;
          terms[l] = refit;
        });
      }
      const loss = sumOfSquares(residual) / n;
      if (m > 0 && this.minImprovement > 0 && previousLoss - loss < this.minImprovement * previousLoss) {
        terms.splice(0, terms.length, ...saved.terms);  // this stage did not pay: undo it and stop
        residual.set(saved.residual);
        break;
      }
      stageLoss.push(loss);
      previousLoss = loss;
    }
    this.fitted = { mean, inputs: X.cols, terms };
    return { stageLoss };
  }

  /** ȳ + Σ g_m(ω_mᵀx) per row (rows × 1, float64). */
  predict(x: unknown): Matrix {
    return this.predictFor(x, 'predict');
  }

  /** predict's work; `method` names the public call in the not-fitted error. */
  private predictFor(x: unknown, method: string): Matrix {
    requireFitted(this.fitted !== null, 'ProjectionPursuitRegressor', method);
    const f = this.fitted!;
    const X = inputMatrix(x, 'x', 'float64', f.inputs);
    const M = f.terms.length;
    const omega = new Float64Array(M * f.inputs);
    f.terms.forEach((t, m) => omega.set(t.direction, m * f.inputs));
    const v = new Float64Array(X.rows * M);
    this.engineImpl.gemm(false, true, X.rows, M, X.cols, 1, X.data, omega, 0, v);  // V = X·Ωᵀ
    const out = new Float64Array(X.rows);
    for (let i = 0; i < X.rows; i++) {
      let s = f.mean;
      for (let m = 0; m < M; m++) s += evaluateCurve(f.terms[m]!.curve, v[i * M + m]!);
      out[i] = s;
    }
    return new Matrix(X.rows, 1, out);
  }

  /** R² = 1 − SSE/SST on x, y, as metrics.r2 (y without variance: 1 for an exact fit, else 0, as scikit-learn). */
  score(x: unknown, y: unknown): number {
    const p = this.predictFor(x, 'score').data;
    const Y = realTargets(y, 'y', p.length);
    let mean = 0;
    for (const v of Y) mean += v;
    mean /= Y.length;
    let sse = 0, sst = 0;
    for (let i = 0; i < Y.length; i++) {
      sse += (Y[i]! - p[i]!) ** 2;
      sst += (Y[i]! - mean) ** 2;
    }
    return r2FromSums(sse, sst);
  }

  // ---- internals -------------------------------------------------------------

  /** The least-squares direction of r on x (normalised), or a random one when r has no linear part. */
  private startDirection(X: Matrix, r: Float64Array, rng: Rng): Float64Array {
    const p = X.cols;
    const { a, b } = this.normalEquations(X, null, r);
    const w = solveSymmetric(a, b, p, 1e-8);
    if (norm(w) > 1e-8) return normalise(w);
    const random = Float64Array.from({ length: p }, () => rng.normal());
    return normalise(random);
  }

  /** With S = diag(scale) (identity when null): A = (SX)ᵀ(SX) and b = (SX)ᵀe, on the engine's gemm. */
  private normalEquations(X: Matrix, scale: Float64Array | null, e: Float64Array): { a: Float64Array; b: Float64Array } {
    const { rows: n, cols: p } = X;
    let xs = X.data as Float64Array;
    if (scale) {
      xs = new Float64Array(n * p);
      for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) xs[i * p + j] = scale[i]! * X.data[i * p + j]!;
    }
    const a = new Float64Array(p * p);
    const b = new Float64Array(p);
    this.engineImpl.gemm(true, false, p, p, n, 1, xs, xs, 0, a);  // (p × n)·(n × p)
    this.engineImpl.gemm(true, false, p, 1, n, 1, xs, e, 0, b);   // (p × n)·(n × 1)
    return { a, b };
  }

  private smoothAlong(X: Matrix, direction: Float64Array, r: Float64Array): { v: Float64Array; loss: number; s: ReturnType<typeof localLinearSmooth> } {
    const v = new Float64Array(X.rows);
    this.engineImpl.gemm(false, false, X.rows, 1, X.cols, 1, X.data, direction, 0, v);  // v = X·ω
    const s = localLinearSmooth(v, r, ruleOfThumbBandwidth(v, this.smoothing));
    let loss = 0;
    for (let i = 0; i < X.rows; i++) loss += (r[i]! - s.fitted[i]!) ** 2;
    return { v, loss, s };
  }

  /** One ridge term for residual r, starting from direction ω₀. */
  private fitSingleIndex(X: Matrix, r: Float64Array, start: Float64Array): TermFit {
    let direction = normalise(start.slice());
    let current = this.smoothAlong(X, direction, r);
    for (let iter = 0; iter < this.maxIterations; iter++) {
      const e = Float64Array.from(r, (ri, i) => ri - current.s.fitted[i]!);
      // Rows scaled by g'_i: A = Σ g'_i² x_i x_iᵀ and b = Σ g'_i e_i x_i, the
      // seed's weighted form without dividing by a slope that may be near zero.
      const { a, b } = this.normalEquations(X, current.s.slope, e);
      const delta = solveSymmetric(a, b, X.cols, 1e-8);
      let accepted = false;
      for (let step = 1; step > 1 / 1024; step /= 2) {
        const candidate = normalise(Float64Array.from(direction, (w, j) => w + step * delta[j]!));
        const next = this.smoothAlong(X, candidate, r);
        if (next.loss < current.loss) {
          const gain = (current.loss - next.loss) / Math.max(current.loss, 1e-300);
          direction = candidate;
          current = next;
          accepted = gain > this.tol;
          break;
        }
      }
      if (!accepted) break;
    }
    return { direction, curve: current.s.curve, fitted: current.s.fitted };
  }
}

function requireFiniteSquares(v: Float64Array, name: string, what: string): void {
  if (Number.isFinite(sumOfSquares(v))) return;
  let largest = 0;
  for (const x of v) largest = Math.max(largest, Math.abs(x));
  throw new ArgumentRangeError(`Expected ${what} whose squares sum within float64's range (about 1e150 at most) for ${name} ` +
    `but received values up to ${largest}`);
}

function sumOfSquares(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return s;
}

function norm(v: Float64Array): number {
  return Math.sqrt(sumOfSquares(v));
}

function normalise(v: Float64Array): Float64Array {
  const n = norm(v);
  if (!(n > 0)) throw new Error('fastmlp internal error: zero projection direction');
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}
