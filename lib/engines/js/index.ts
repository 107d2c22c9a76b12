// The pure-TypeScript engine: the reference implementation of the engine
// contract (lib/engine.ts) that the native engine is tested and benchmarked
// against, and the fallback wherever no native binary loads. Same semantics as
// the C++ core (native/core/*.h); parity tests compare the two in float64.
//
// Threads: JavaScript runs this engine on the calling thread only. setThreads()
// accepts and remembers the requested count so callers can treat both engines
// alike, but getThreads() reports 1, the number of threads actually used.

import type { Dtype, Engine, FloatArray, LossSpec, NetworkPlan, PlanSpec, Target } from '../../engine';
import { allocate } from '../../matrix';
import { gemm } from './gemm';
import { lossBackward, lossForward, lossValues } from './losses';
import { JsNetworkPlan } from './plan';
import { ArgumentRangeError } from '../../validate';
import { checkCopyRequest, checkDataRequest } from '../alloc-data';
import { anyNonFiniteSum } from '../../finite-scan';

/** Version of the engine's implementation (the package version it ships in). */
export const JS_ENGINE_VERSION = '0.1.0';

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new ArgumentRangeError(`Expected an integer ≥ 0 for ${name} but received ${String(v)}`);
  }
}

function checkLength(name: string, arr: FloatArray, length: number): void {
  if (arr.length < length) {
    throw new ArgumentRangeError(`Expected at least ${length} values for ${name} but received ${arr.length}`);
  }
}

/** Threads requested through setThreads(); kept only to be reported back by tooling. */
let requestedThreads = 1;

export const jsEngine: Engine = {
  name: 'js',
  isa: 'js',
  version: JS_ENGINE_VERSION,

  setThreads(n: number): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new ArgumentRangeError(`Expected an integer ≥ 0 for n but received ${String(n)}`);
    }
    requestedThreads = n;
  },

  /** Always 1: the JS engine is single-threaded whatever setThreads() asked for. */
  getThreads(): number {
    return 1;
  },

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
       a: FloatArray, b: FloatArray, beta: number, c: FloatArray): void {
    // O(1) checks the kernel relies on: out-of-range typed-array reads in JS
    // yield undefined (NaN) and writes vanish, so a short array would not fail.
    checkDim('m', m);
    checkDim('n', n);
    checkDim('k', k);
    checkLength('a', a, m * k);
    checkLength('b', b, k * n);
    checkLength('c', c, m * n);
    gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
  },

  lossForward(spec: LossSpec, pred: FloatArray, rows: number, cols: number,
              target: Target): number {
    return lossForward(spec, pred, rows, cols, target);
  },

  lossBackward(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target,
               grad: FloatArray): void {
    lossBackward(spec, pred, rows, cols, target, grad);
  },

  lossValues(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target,
             out: Float64Array): void {
    lossValues(spec, pred, rows, cols, target, out);
  },

  createPlan(spec: PlanSpec): NetworkPlan {
    return new JsNetworkPlan(spec);
  },

  /** The branch-free sum of lib/finite-scan.ts (also the default where a caller names no engine). */
  anyNonFinite: anyNonFiniteSum,

  /** A plain typed array: this engine reads x and y in place anyway. */
  allocData(dtype: Dtype, length: number): FloatArray {
    return allocate(dtype, checkDataRequest(dtype, length));
  },

  /** set(): one thread, as the rest of this engine. */
  copyData(target: FloatArray, source: FloatArray): void {
    checkCopyRequest(target, source);
    target.set(source);
  },
};

/** The thread count last passed to setThreads() (informational; the engine uses 1). */
export function requestedJsThreads(): number {
  return requestedThreads;
}

export { JsNetworkPlan };
