// Stand-alone operations on matrices.
import { getEngine, type EngineChoice } from './backend';
import { Matrix, allocate } from './matrix';
import { ArgumentRangeError, ArgumentTypeError, boolean, options, typeError } from './validate';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  engine?: EngineChoice;
}

/** op(a) · op(b), where op transposes when asked; both matrices of one dtype. */
export function matmul(a: Matrix, b: Matrix, opts?: MatmulOptions): Matrix {
  if (!(a instanceof Matrix)) throw typeError('a', 'a Matrix', a);
  if (!(b instanceof Matrix)) throw typeError('b', 'a Matrix', b);
  const o = options('matmul options', opts, ['transA', 'transB', 'engine']);
  const transA = o.transA === undefined ? false : boolean('transA', o.transA);
  const transB = o.transB === undefined ? false : boolean('transB', o.transB);
  const engine = getEngine(o.engine ?? 'auto');
  if (a.dtype !== b.dtype) throw new ArgumentTypeError(`Expected a and b of one dtype but received ${a.dtype} and ${b.dtype}`);
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb) {
    throw new ArgumentRangeError(`Expected op(a) columns to equal op(b) rows for matmul but received ${m} × ${k} and ${kb} × ${n}`);
  }
  const c = allocate(a.dtype, m * n);
  engine.gemm(transA, transB, m, n, k, 1, a.data, b.data, 0, c);
  return new Matrix(m, n, c);
}
