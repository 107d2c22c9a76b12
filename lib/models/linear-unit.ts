// What the single-unit models of the notes share (SPEC.md §6, notes 002 §1.3–1.4):
// one weight row w and a bias b, a linear output z = x·wᵀ + b on the engine's
// gemm, and a threshold on z to predict 0/1. Perceptron and Adaline differ
// only in how they learn w and b.
import type { Dtype, Engine, FloatArray } from '../engine';
import { Matrix } from '../matrix';
import { affine, inputMatrix, requireFitted, zeros } from './common';
import {
  SavableModel, tensor, type ClassicState, type SavedOptions,
} from './persist-format';

export abstract class LinearUnit extends SavableModel {
  readonly dtype: Dtype;
  protected readonly engineImpl: Engine;
  private w: FloatArray | null = null;
  private b: FloatArray | null = null;

  protected constructor(engine: Engine, dtype: Dtype) {
    super();
    this.engineImpl = engine;
    this.dtype = dtype;
  }

  /** z at or above it predicts 1. */
  protected abstract get decisionThreshold(): number;

  /** The class name files record (explicit: bundlers may rename classes). */
  protected abstract readonly modelName: 'Perceptron' | 'Adaline';

  /** The options after defaults, as the constructor takes them back (engine excepted). */
  protected abstract savedOptions(): SavedOptions;


  /** @internal What the model saves: options and, when fitted, weight (1 × inputs) and bias (its own arrays). */
  classicState(): ClassicState {
    const fitted = this.w !== null;
    return {
      model: this.modelName, options: this.savedOptions(), fitted,
      tensors: fitted ? [tensor('weight', this.dtype, [1, this.w!.length], this.w!), tensor('bias', this.dtype, [1], this.b!)] : [],
    };
  }

  /** @internal models.load's restore: parameters already checked (lib/models/persist.ts). */
  restoreFitted(w: FloatArray, b: FloatArray): void {
    this.setFitted(w, b);
  }

  get engine(): string {
    return this.engineImpl.name;
  }

  /** The weight as a 1 × inputs row (copy), or null before fit. */
  get weight(): FloatArray | null {
    return this.w ? this.w.slice() : null;
  }

  get bias(): number | null {
    return this.b ? this.b[0]! : null;
  }

  /** z = x·wᵀ + b per row (rows × 1): the linear output, before the threshold. */
  decisionFunction(x: unknown): Matrix {
    return this.linearOutput(x, 'decisionFunction');
  }

  /** 1 where z ≥ the threshold, else 0. */
  predict(x: unknown): Int32Array {
    return this.thresholded(x, 'predict');
  }

  /** z for x; `method` names the public call in the not-fitted error. */
  protected linearOutput(x: unknown, method: string): Matrix {
    requireFitted(this.w !== null, this.constructor.name, method);
    const w = this.w as FloatArray;
    const X = inputMatrix(x, 'x', this.dtype, w.length);
    const z = zeros(this.dtype, X.rows);
    affine(this.engineImpl, X.data, X.rows, X.cols, w, this.b as FloatArray, 1, z);
    return new Matrix(X.rows, 1, z);
  }

  protected thresholded(x: unknown, method: string): Int32Array {
    const z = this.linearOutput(x, method).data;
    const threshold = this.decisionThreshold;
    const out = new Int32Array(z.length);
    for (let i = 0; i < z.length; i++) out[i] = z[i]! >= threshold ? 1 : 0;
    return out;
  }

  /** Keeps the weights a fit learned. */
  protected setFitted(w: FloatArray, b: FloatArray): void {
    this.w = w;
    this.b = b;
  }
}
