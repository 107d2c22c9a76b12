// Metrics computed from predictions and targets.
import type { Target } from './engine';
import { Matrix, toMatrix, type MatrixLike } from './matrix';
import { toTarget, type TargetLike } from './targets';

/**
 * Fraction of rows predicted right. With class indices, or with several output
 * columns, a row is right when its argmax matches the target's class (argmax of
 * a one-hot/probability target row); with one output column, when prediction
 * and target fall on the same side of 0.5 (binary accuracy).
 */
export function accuracyOf(pred: Matrix, target: Target): number {
  const { rows, cols, data } = pred;
  if (rows === 0) return 0;
  let correct = 0;
  if (cols === 1 && !(target instanceof Int32Array)) {
    for (let r = 0; r < rows; r++) if ((data[r]! >= 0.5) === (target[r]! >= 0.5)) correct++;
    return correct / rows;
  }
  const predicted = pred.argmax();
  for (let r = 0; r < rows; r++) {
    let expected: number;
    if (target instanceof Int32Array) {
      expected = target[r]!;
    } else {
      expected = 0;
      for (let c = 1; c < cols; c++) if (target[r * cols + c]! > target[r * cols + expected]!) expected = c;
    }
    if (predicted[r] === expected) correct++;
  }
  return correct / rows;
}

/**
 * accuracy(pred, target): pred is rows × classes (or rows × 1 for binary);
 * target is class indices or a matrix of pred's shape. See accuracyOf.
 */
export function accuracy(pred: MatrixLike, target: TargetLike): number {
  const p = toMatrix(pred, 'pred', pred instanceof Matrix ? pred.dtype : 'float64');
  const kind = p.cols === 1 ? 'mse' : 'cross-entropy';
  const isDense = !(target instanceof Int32Array) && !(Array.isArray(target) && typeof target[0] === 'number');
  return accuracyOf(p, toTarget(target, 'target', isDense ? 'mse' : kind, p.rows, p.cols, p.dtype));
}
