// What Sequential makes of the data a caller gives it: matrices of the model's
// input width and dtype, targets for its output width and compiled loss, the
// finiteness checks trainStep and evaluate share, and private copies where a
// call outlives the caller's arrays (fit, evaluateAsync). The messages name
// the argument as the caller wrote it ('x', 'validationData[0]', 'y of chunk 3
// of epoch 1', ...).
import type { Dtype, Engine, FloatArray, LossName, Target } from './engine';
import type { NonFiniteTest } from './finite-scan';
import { FitMemory } from './fit-memory';
import { isCopy, Matrix, requireFinite, toMatrix } from './matrix';
import { requireValidTarget } from './target-checks';
import { toTarget } from './targets';
import { ArgumentRangeError, typeError } from './validate';

export class ModelData {
  /** fit's private copies and the memory kept under them between fits (Sequential runs each fit through fitMemory.during). */
  readonly fitMemory: FitMemory;

  /**
   * lossKind(): the compiled loss's name ('custom' for a user loss, or before
   * compile), which decides the target forms a loss takes and their range.
   * reuseFitMemory: SequentialOptions.reuseFitMemory (lib/fit-memory.ts).
   */
  constructor(private readonly engine: Engine, private readonly dtype: Dtype, private readonly inputSize: number,
              private readonly outputSize: number, readonly lossKind: () => LossName | 'custom', reuseFitMemory = true) {
    this.fitMemory = new FitMemory(engine, reuseFitMemory);
  }

  /** x as a Matrix of inputSize columns and at least one row; fitCopy: never the caller's array, a copy in fitMemory. */
  matrix(x: unknown, name: string, fitCopy = false): Matrix {
    const m = toMatrix(x, name, this.dtype);
    if (m.cols !== this.inputSize) {
      throw new ArgumentRangeError(`Expected ${this.inputSize} columns for ${name} but received ${m.cols}`);
    }
    if (m.rows === 0) throw new ArgumentRangeError(`Expected at least one row for ${name} but received 0`);
    return fitCopy && !isCopy(m.data) ? new Matrix(m.rows, m.cols, this.fitMemory.copy(m.data)) : m;
  }

  /**
   * matrix(x), never the caller's array: a copy in engine memory, freed with
   * its last reader (not kept in fitMemory, which would hold every chunk of
   * a stream until fit ends). For a streamed chunk, which the epochs read
   * after the event loop ran: the JS engine and batch-driven epochs read x
   * batch by batch, so a caller that refilled or transferred the chunk once it
   * was yielded changed what trained (or made it throw a bare TypeError) where
   * the native engine's epoch trained on the chunk as it was.
   */
  privateMatrix(x: unknown, name: string): Matrix {
    const m = this.matrix(x, name);
    return isCopy(m.data) ? m : new Matrix(m.rows, m.cols, this.engineCopy(m.data));
  }

  /** y as a target of `rows` rows for the compiled loss (class indices or rows × outputSize); not yet range-checked. */
  target(y: unknown, name: string, rows: number): Target {
    return toTarget(y, name, this.lossKind(), rows, this.outputSize, this.dtype);
  }

  /**
   * x and y of trainStep and evaluate, checked alike: finite x (a NaN would
   * poison batch norm's running statistics in trainStep's forward, before any
   * loss is seen, and come back from evaluate as a NaN loss, which fit and
   * trainStep refuse), and y in the loss's range. May be the caller's arrays.
   */
  checkedBatch(x: unknown, y: unknown): { X: Matrix; Y: Target } {
    const X = this.matrix(x, 'x');
    requireFinite(X, 'x', this.anyNonFinite);
    const Y = this.target(y, 'y', X.rows);
    requireValidTarget(Y, 'y', this.lossKind(), this.anyNonFinite);
    return { X, Y };
  }

  /** fit's validationData [x, y], as private copies (checked for finite values by fit, in chunks, once it runs). */
  validationPair(vd: unknown): { x: Matrix; y: Target } {
    if (!Array.isArray(vd) || vd.length !== 2) throw typeError('validationData', 'a pair [x, y]', vd);
    // Private, as fit's x and y: the caller may change or transfer its arrays while we train.
    const vx = this.matrix(vd[0], 'validationData[0]', true);
    const vy = this.target(vd[1], 'validationData[1]', vx.rows);
    return { x: vx, y: this.privateTarget(vy, 'validationData[1]', false, true) };
  }

  /**
   * t, copied when it is the caller's array (a dense one into fitMemory for
   * fit: fitCopy); checked for the loss's range unless the caller checks it later.
   */
  privateTarget(t: Target, name = 'y', check = true, fitCopy = false): Target {
    const shared = !isCopy(t);
    if (check) requireValidTarget(t, name, this.lossKind(), this.anyNonFinite);
    if (!shared) return t;
    if (t instanceof Int32Array) return t.slice();
    return fitCopy ? this.fitMemory.copy(t) : this.engineCopy(t);
  }

  /**
   * The engine's whole-array test, for requireFinite's fast path (bound:
   * passed as a function); no pass at all over fit's copies that the engine
   * found finite as it made them (FitMemory.knownFinite).
   */
  readonly anyNonFinite: NonFiniteTest = Object.assign(
    (data: FloatArray): boolean => !this.fitMemory.knownFinite(data) && this.engine.anyNonFinite(data),
    { knownFinite: (data: FloatArray): boolean => this.fitMemory.knownFinite(data) });

  /** A private copy of the caller's data outside fit's x (evaluateAsync's y, a streamed chunk), freed with its reader. */
  private engineCopy<A extends FloatArray>(data: A): A {
    const copy = this.engine.allocData(data instanceof Float64Array ? 'float64' : 'float32', data.length) as A;
    this.engine.copyData(copy, data);
    return copy;
  }
}
