// The one place that loads the compiled addon (onnxruntime-node's binding.ts
// pattern) and declares its raw surface. Nothing else in lib/ touches the .node file.
import * as path from 'node:path';
import type { EpochResult, FloatArray, LossSpec, OptimizerSpec, PlanSpec, Target } from './engine';
import { codedError } from './validate';
import { elfTruncation } from './native-file';

/** The code of the error engine 'native' throws when the addon cannot load (README "Errors"). */
export const NATIVE_UNAVAILABLE = 'ERR_FASTMLP_NATIVE_UNAVAILABLE';

/** The native Network class: see native/binding/network_wrap.cc. */
export interface NativeNetwork {
  readonly dtype: 'float32' | 'float64';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly paramCount: number;
  readonly maxBatch: number;
  readonly stepCount: number;
  readonly optimizerStateSize: number;
  getOptimizerState(out: FloatArray): void;
  setOptimizerState(src: FloatArray, stepCount: number): void;
  reserve(rows: number): void;
  setLoss(loss: LossSpec | null): void;
  setOptimizer(optimizer: OptimizerSpec): void;
  resetOptimizer(): void;
  getParams(out: FloatArray): void;
  setParams(src: FloatArray): void;
  getGrads(out: FloatArray): void;
  /** Ranged copies (NetworkPlan.readParams and the others; native/binding/network_wrap_state.cc). */
  readParams(offset: number, out: FloatArray): void;
  writeParams(offset: number, src: FloatArray): void;
  readOptimizerState(offset: number, out: FloatArray): void;
  writeOptimizerState(offset: number, src: FloatArray, stepCount: number): void;
  readonly bufferCount: number;
  getBuffers(out: FloatArray): void;
  setBuffers(src: FloatArray): void;
  /**
   * Parameters and buffers of another native Network (same dtype and counts)
   * copied into this one; anything else is refused with a TypeError, so unknown.
   */
  copyStateFrom(source: unknown): void;
  readonly training: boolean;
  setTraining(training: boolean): void;
  setSeed(seed: number): void;
  getDropoutState(): number[];
  setDropoutState(words: readonly number[]): void;
  readonly penalty: number;
  predict(x: FloatArray, rows: number, out: FloatArray): void;
  /** predict on a worker thread (native/binding/predict_worker.h); NetworkPlan.predictAsync has the rules. */
  predictAsync(x: FloatArray, rows: number, out: FloatArray, batchSize: number): Promise<void>;
  /**
   * Internal, for tests and benchmarks (not in lib's API): predict's weight
   * cache (native/core/predict_cache.h) on or off (off frees it; predict then
   * packs the weights per call, with the same bits), and the bytes it holds.
   */
  setPredictCache(enabled: boolean): void;
  predictCacheBytes(): number;
  forwardTrain(x: FloatArray, rows: number, out: FloatArray): void;
  backward(dout: FloatArray, rows: number, dinput?: FloatArray | null): void;
  forwardTrainAsync(x: FloatArray, rows: number, out: FloatArray): Promise<void>;
  backwardStepAsync(dout: FloatArray, rows: number, loss: number): Promise<number>;
  computeGradients(x: FloatArray, rows: number, y: Target): number;
  step(): void;
  trainStep(x: FloatArray, rows: number, y: Target): number;
  /**
   * One epoch on a worker thread (lib/engines/native.ts wraps it as the plan's
   * trainEpoch). onBatch is posted from the worker thread, which waits while
   * maxBatchLag events are undelivered (an event whose onBatch returned a thenable stays
   * undelivered until it settles; a rejection stops the epoch); events may arrive after the promise settles. outputs (EpochHooks.outputs) is written when the
   * promise settles (the worker records into a copy).
   */
  runEpoch(x: FloatArray, rows: number, y: Target, batchSize: number, order: Int32Array | null,
             onBatch?: ((batch: number, rows: number, loss: number, seconds: number) => unknown) | null,
             outputs?: FloatArray | null, keepData?: boolean): Promise<EpochResult>;
  /** Drops the copy of x and y that keepData epochs kept. */
  releaseEpochData(): void;
  /** Stops the running epoch before its next batch; false when none runs. */
  cancelEpoch(): boolean;
  /** Frees the core network now, or when the running epoch's worker finishes (it is cancelled). */
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeBinding {
  readonly version: string;
  readonly napiVersion: number;
  readonly isa: string;
  /** Batches an epoch's worker may run ahead of onBatch (ON_BATCH_MAX_LAG in lib/engine.ts). */
  readonly maxBatchLag: number;
  setThreads(n: number): void;
  getThreads(): number;
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
       a: FloatArray, b: FloatArray, beta: number, c: FloatArray): void;
  lossForward(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target): number;
  lossBackward(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target,
               grad: FloatArray): void;
  lossValues(spec: LossSpec, pred: FloatArray, rows: number, cols: number, target: Target,
             out: Float64Array): void;
  /** True when the array holds a NaN or ±Infinity (native/core/finite.h any_nonfinite). */
  anyNonFinite(data: FloatArray): boolean;
  Network: new (spec: PlanSpec) => NativeNetwork;
  /** A zero-filled array over addon-owned memory (native/binding/data_block.h; Engine.allocData). */
  allocData(dtype: 'float32' | 'float64', length: number): FloatArray;
  /** target.set(source) across the thread pool; true when source held a NaN or ±Infinity (native/binding/data_block.cc; Engine.copyData). */
  copyData(target: FloatArray, source: FloatArray): boolean;
  /** Removes the file at this thread's teardown unless untracked first (native/binding/temp_files.h). */
  trackTempFile(path: string): number;
  untrackTempFile(id: number): void;
}

/** The package root: lib/ (under vitest) and dist/ (compiled) both sit one level below it. */
export const packageRoot = path.resolve(__dirname, '..');

let cached: { binding?: NativeBinding; error?: Error } | undefined;

/**
 * Loads the addon once (prebuilds/<platform>-<arch>/ first, then build/Release).
 * Throws an Error listing the platform, the paths tried and the fixes when it cannot.
 */
export function loadNative(): NativeBinding {
  if (!cached) {
    try {
      // node-gyp-build resolves prebuilds/ and build/ under the root it is given.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const nodeGypBuild = require('node-gyp-build') as ((dir: string) => NativeBinding) & { path(dir: string): string };
      // The file it would load, checked first: a truncated one would not throw but kill
      // the process with SIGBUS while the loader maps it (lib/native-file.ts).
      const file = nodeGypBuild.path(packageRoot);
      const truncation = elfTruncation(file);
      if (truncation !== null) throw new Error(truncation);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cached = { binding: require(file) as NativeBinding };
      warnUnknownKernel(cached.binding!.isa);
      warnUnknownPredictCache();
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
      const tuple = `${process.platform}-${process.arch}`;
      const tried = [
        ...(process.env['PREBUILDS_ONLY'] ? [] : [path.join(packageRoot, 'build', 'Release'), path.join(packageRoot, 'build', 'Debug')]),
        path.join(packageRoot, 'prebuilds', tuple),
      ];
      cached = {
        error: codedError(
          `fastmlp: the native engine could not load on ${tuple} ` +
            `(Node ${process.versions.node}, N-API ${process.versions.napi}, ABI ${process.versions.modules}). ` +
            `Looked in ${tried.join(', ')}${process.env['PREBUILDS_ONLY'] ? ' (PREBUILDS_ONLY is set: prebuilds only)' : ''}: ` +
            `${reason}. Fix: run \`npm rebuild fastmlp\` with a C++17 compiler, make and Python 3 installed ` +
            `(it compiles the bundled native/ sources with node-gyp), or use { engine: 'js' }.`,
          NATIVE_UNAVAILABLE, cause,
        ),
      };
    }
  }
  if (cached.error) throw cached.error;
  return cached.binding as NativeBinding;
}

/** The names native/core/cpu.h understands in FASTMLP_GEMM_KERNEL. */
const GEMM_KERNELS = ['scalar', 'avx2', 'avx512', 'neon'];

/**
 * The core reads FASTMLP_GEMM_KERNEL and ignores a name it does not know, so a
 * typo ('avx-2') would silently leave the widest kernel running: say so once.
 */
function warnUnknownKernel(isa: string): void {
  const requested = process.env['FASTMLP_GEMM_KERNEL'];
  if (requested === undefined || requested === '' || GEMM_KERNELS.includes(requested)) return;
  process.emitWarning(`fastmlp: FASTMLP_GEMM_KERNEL='${requested}' is not a kernel name ` +
    `(${GEMM_KERNELS.join(', ')}); using ${isa}`, { code: 'FASTMLP_GEMM_KERNEL' });
}

/**
 * FASTMLP_PREDICT_CACHE=0 turns predict's weight cache off (native/core/
 * network.cc reads it; README, Inference); the core ignores any other value
 * but '1', so a typo ('off') would silently leave the cache on: say so once.
 */
function warnUnknownPredictCache(): void {
  const requested = process.env['FASTMLP_PREDICT_CACHE'];
  if (requested === undefined || requested === '' || requested === '0' || requested === '1') return;
  process.emitWarning(`fastmlp: FASTMLP_PREDICT_CACHE='${requested}' is neither '0' (no predict weight cache) ` +
    `nor '1' (the default); the cache stays on`, { code: 'FASTMLP_PREDICT_CACHE' });
}

/** True when the addon loads; never throws. */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
