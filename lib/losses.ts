// Losses by name (SPEC.md §3, PyTorch conventions). A loss computes its value
// (forward) and its gradient with respect to the prediction (backward); a
// custom loss is any object with the same two methods, and works with both
// engines (the plan stops at the loss and asks it for the gradient).
import type { Dtype, Engine, LossName, LossSpec, Reduction } from './engine';
import { getEngine, type EngineChoice } from './backend';
import { Matrix, toMatrix, type MatrixLike } from './matrix';
import { toTarget, type TargetLike } from './targets';
import { ArgumentRangeError, number, oneOf, options, typeError } from './validate';

export const LOSS_NAMES = ['mse', 'cross-entropy'] as const;
const REDUCTIONS = ['mean', 'sum'] as const;

/** What every loss, built-in or custom, implements. */
export interface LossFunction {
  /** The loss value for predictions `pred` (rows × outputs) and targets. */
  forward(pred: Matrix, target: TargetLike): number;
  /** dLoss/dPred, the same shape as pred. */
  backward(pred: Matrix, target: TargetLike): Matrix;
}

export interface LossOptions {
  /** 'mean' (default) or 'sum'. */
  reduction?: Reduction;
  /** Cross-entropy only: mixes targets with the uniform distribution, in [0, 1]. */
  labelSmoothing?: number;
  /** Engine that computes it (default 'auto'). */
  engine?: EngineChoice;
}

/** A built-in loss; models recognise it and run it inside the engine. */
export class Loss implements LossFunction {
  readonly name: LossName;
  readonly reduction: Reduction;
  readonly labelSmoothing: number;
  private readonly engineChoice: EngineChoice;

  constructor(name: LossName, opts?: LossOptions) {
    this.name = oneOf('name', name, LOSS_NAMES);
    const o = options('loss options', opts, ['reduction', 'labelSmoothing', 'engine']);
    this.reduction = o.reduction === undefined ? 'mean' : oneOf('reduction', o.reduction, REDUCTIONS);
    this.labelSmoothing = o.labelSmoothing === undefined ? 0 : number('labelSmoothing', o.labelSmoothing, 0, 1);
    if (this.labelSmoothing !== 0 && this.name !== 'cross-entropy') {
      throw new ArgumentRangeError(`labelSmoothing applies to 'cross-entropy' only, not '${this.name}'`);
    }
    this.engineChoice = (o.engine ?? 'auto') as EngineChoice;
    getEngine(this.engineChoice, 'engine');  // validate the choice now, not at first use
  }

  get spec(): LossSpec {
    return { kind: this.name, reduction: this.reduction, labelSmoothing: this.labelSmoothing };
  }

  forward(pred: MatrixLike, target: TargetLike): number {
    const { engine, p, t } = this.prepare(pred, target);
    return engine.lossForward(this.spec, p.data, p.rows, p.cols, t);
  }

  backward(pred: MatrixLike, target: TargetLike): Matrix {
    const { engine, p, t } = this.prepare(pred, target);
    const grad = new Matrix(p.rows, p.cols, undefined, p.dtype);
    engine.lossBackward(this.spec, p.data, p.rows, p.cols, t, grad.data);
    return grad;
  }

  private prepare(pred: MatrixLike, target: TargetLike) {
    const dtype: Dtype = pred instanceof Matrix ? pred.dtype : 'float32';
    const p = toMatrix(pred, 'pred', dtype);
    if (p.rows === 0 || p.cols === 0) throw new ArgumentRangeError(`Expected a non-empty matrix for pred but received ${p.rows} × ${p.cols}`);
    const t = toTarget(target, 'target', this.name, p.rows, p.cols, dtype);
    return { engine: getEngine(this.engineChoice) as Engine, p, t };
  }
}

/** losses.create('cross-entropy', { reduction: 'mean' }) */
export function create(name: LossName, opts?: LossOptions): Loss {
  return new Loss(name, opts);
}

/** A built-in Loss, or a custom { forward, backward } object, from compile()'s `loss`. */
export function resolveLoss(value: unknown, name = 'loss'): Loss | LossFunction {
  if (typeof value === 'string') return new Loss(oneOf(name, value, LOSS_NAMES));
  if (value instanceof Loss) return value;
  if (typeof value === 'object' && value !== null) {
    const v = value as Partial<LossFunction>;
    if (typeof v.forward === 'function' && typeof v.backward === 'function') return v as LossFunction;
  }
  throw typeError(name, `a loss name (${LOSS_NAMES.map((n) => `'${n}'`).join(', ')}), losses.create(...) or an object with forward and backward methods`, value);
}
