// fit's classWeight (Keras's `class_weight`): each training row's loss is
// multiplied by the weight of its class, and the batch loss is the mean of the
// weighted row losses over the batch (Keras's sum-over-batch-size reduction; the
// weights are not renormalised, unlike torch's CrossEntropyLoss(weight=)).
// Validation losses stay unweighted. It runs as a TypeScript loss around the
// engine's own loss, so both engines train with it (batch by batch).
import type { Engine, FloatArray, LossSpec, Target } from './engine';
import type { LossFunction } from './losses';
import { Matrix, allocate, toMatrix } from './matrix';
import { toTarget, type TargetLike } from './targets';
import { ArgumentRangeError, isPlainObject, number, typeError } from './validate';

/** Checks classWeight ({ [class]: weight } or weight[]) into one weight per class (missing: 1). */
export function classWeights(value: unknown, classes: number): Float64Array {
  const out = new Float64Array(classes).fill(1);
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v])
    : isPlainObject(value) ? Object.entries(value) : [];
  if (!Array.isArray(value) && !isPlainObject(value)) throw typeError('classWeight', 'an object { class: weight } or an array of weights', value);
  for (const [key, w] of entries) {
    const c = Number(key);
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new ArgumentRangeError(`Expected class indices in [0, ${classes}) as classWeight keys but received '${key}'`);
    }
    out[c] = number(`classWeight[${key}]`, w, 0);
  }
  return out;
}

/** The class of each row of a target: its index, or the argmax (≥ 0.5 with one column) of a dense row. */
function rowClasses(target: Target, rows: number, cols: number): Int32Array {
  if (target instanceof Int32Array) return target;
  if (cols === 1) return Int32Array.from(target, (v) => (v >= 0.5 ? 1 : 0));
  return new Matrix(rows, cols, target).argmax();
}

/** A built-in loss whose row losses are weighted by class. */
export class ClassWeightedLoss implements LossFunction {
  private readonly sumSpec: LossSpec;

  constructor(private readonly engine: Engine, private readonly spec: LossSpec, private readonly weights: Float64Array) {
    this.sumSpec = { ...spec, reduction: 'sum' };
  }

  /** 'mean' divides by the rows (cross-entropy) or the elements (mse), as the unweighted loss does. */
  private divisor(rows: number, cols: number): number {
    if (this.spec.reduction === 'sum') return 1;
    return this.spec.kind === 'mse' ? rows * cols : rows;
  }

  private prepare(pred: Matrix, target: TargetLike) {
    const p = toMatrix(pred, 'pred', pred.dtype);
    // fit passes class indices or a dense Matrix of pred's shape; anything else is converted and checked.
    const t = target instanceof Int32Array ? target
      : target instanceof Matrix && target.rows === p.rows && target.cols === p.cols ? toMatrix(target, 'target', p.dtype).data
        : toTarget(target, 'target', this.spec.kind, p.rows, p.cols, p.dtype);
    return { p, t, classes: rowClasses(t, p.rows, p.cols) };
  }

  forward(pred: Matrix, target: TargetLike): number {
    const { p, t, classes } = this.prepare(pred, target);
    const width = t instanceof Int32Array ? 1 : p.cols;
    let total = 0;
    for (let r = 0; r < p.rows; r++) {
      const w = this.weights[classes[r]!] ?? 1;
      if (w === 0) continue;
      const rowLoss = this.engine.lossForward(this.sumSpec, p.data.subarray(r * p.cols, (r + 1) * p.cols), 1, p.cols,
        t.subarray(r * width, (r + 1) * width) as Target);
      total += w * rowLoss;
    }
    return total / this.divisor(p.rows, p.cols);
  }

  backward(pred: Matrix, target: TargetLike): Matrix {
    const { p, t, classes } = this.prepare(pred, target);
    const grad: FloatArray = allocate(p.dtype, p.data.length);
    // With reduction 'sum', row r's gradient is d l_r / d pred_r alone.
    this.engine.lossBackward(this.sumSpec, p.data, p.rows, p.cols, t, grad);
    const d = this.divisor(p.rows, p.cols);
    for (let r = 0; r < p.rows; r++) {
      const scale = (this.weights[classes[r]!] ?? 1) / d;
      for (let c = 0; c < p.cols; c++) grad[r * p.cols + c]! *= scale;
    }
    return new Matrix(p.rows, p.cols, grad);
  }
}
