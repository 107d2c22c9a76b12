// The native engine: the addon's surface already has the engine contract's
// shape, so this adapter names it and builds plans. Plans subclass the addon's
// Network only to turn trainEpoch's hooks (an AbortSignal, per-batch events
// posted from the worker thread) into the contract's ordered, awaited form.
import { isThenable, type Engine, type EpochHooks, type EpochResult, type FloatArray, type NetworkPlan, type PlanSpec, type Target } from '../engine';
import { loadNative, type NativeBinding } from '../native';
import { ownedBuffer } from '../validate';
import { checkCopyRequest, checkDataRequest } from './alloc-data';

export function createNativeEngine(): Engine {
  const binding = loadNative();
  const NativePlan = nativePlanClass(binding);
  return {
    name: 'native',
    isa: binding.isa,
    version: binding.version,
    setThreads: (n) => binding.setThreads(n),
    getThreads: () => binding.getThreads(),
    gemm: (transA, transB, m, n, k, alpha, a, b, beta, c) =>
      binding.gemm(transA, transB, m, n, k, alpha, a, b, beta, c),
    lossForward: (spec, pred, rows, cols, target) =>
      binding.lossForward(spec, pred, rows, cols, target),
    lossBackward: (spec, pred, rows, cols, target, grad) =>
      binding.lossBackward(spec, pred, rows, cols, target, grad),
    lossValues: (spec, pred, rows, cols, target, out) =>
      binding.lossValues(spec, pred, rows, cols, target, out),
    createPlan: (spec: PlanSpec): NetworkPlan => new NativePlan(spec),
    anyNonFinite: (data) => binding.anyNonFinite(data),
    allocData: (dtype, length) => binding.allocData(dtype, checkDataRequest(dtype, length)),
    copyData: (target, source) => {
      checkCopyRequest(target, source);
      return binding.copyData(target, source);  // true when source held a NaN or ±Infinity
    },
  };
}

// Native calls in flight. process.exit() joins libuv's worker threads before
// the process ends (uv_library_shutdown), with the event loop stopped: an epoch
// or a predictAsync still running would hold the exit until it finished, and an
// epoch whose worker waits for room to post onBatch events (ProgressGate,
// native/binding/progress_gate.h) would hold it forever. Stopping them on
// 'exit' lets the worker stop within a batch (an epoch: cancelEpoch) or a chunk
// (a prediction: dispose, the only way to stop one; the process is ending, so
// nothing can use the plan again). In a worker_thread the same holds for its
// own process.exit(); a terminated worker_thread runs no JS, and the binding
// notices that on its own (native/binding/env_probe.h).
const runningEpochs = new Set<{ cancelEpoch(): boolean }>();
const runningPredictions = new Set<{ dispose(): void }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of runningEpochs) p.cancelEpoch();
    for (const p of runningPredictions) p.dispose();
  });
}

/** Adds plan to runningEpochs; false when it is there already (a second, refused call must not remove it). */
function trackEpoch(plan: { cancelEpoch(): boolean }): boolean {
  installExitHook();
  if (runningEpochs.has(plan)) return false;
  runningEpochs.add(plan);
  return true;
}

/** Holds plan in runningPredictions until `running` settles (a plan runs one call at a time: a second is refused as busy). */
function trackPrediction(plan: { dispose(): void }, running: Promise<void>): void {
  installExitHook();
  runningPredictions.add(plan);
  const done = () => { runningPredictions.delete(plan); };
  running.then(done, done);
}

/**
 * The binding's promise for an asynchronous call. While a worker_thread is being
 * terminated its JS may still run for a moment, but an error the binding raises
 * cannot reach it, and the call returns undefined instead (binding.gyp,
 * NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS): say so, rather than fail later on
 * reading a result that never came.
 */
function started<T>(running: Promise<T> | undefined, call: string): Promise<T> {
  if (running === undefined) {
    throw new Error(`fastmlp: ${call} could not start: this thread is shutting down (worker.terminate() or process.exit())`);
  }
  return running;
}

function nativePlanClass(binding: NativeBinding) {
  return class NativePlan extends binding.Network {
    override predictAsync(x: FloatArray, rows: number, out: FloatArray, batchSize: number): Promise<void> {
      // The binding checks type and length; a shared or resizable out is refused here (it is written after the worker).
      if (ArrayBuffer.isView(out)) ownedBuffer('out', out);
      const running = started(super.predictAsync(x, rows, out, batchSize), 'predictAsync');
      trackPrediction(this, running);
      return running;
    }

    async trainEpoch(x: FloatArray, rows: number, y: Target, batchSize: number,
                     order: Int32Array | null, hooks?: EpochHooks): Promise<EpochResult> {
      const tracked = trackEpoch(this);
      try {
        return await this.hookedEpoch(x, rows, y, batchSize, order, hooks);
      } finally {
        if (tracked) runningEpochs.delete(this);
      }
    }

    private async hookedEpoch(x: FloatArray, rows: number, y: Target, batchSize: number,
                              order: Int32Array | null, hooks?: EpochHooks): Promise<EpochResult> {
      const signal = hooks?.signal;
      const onBatch = hooks?.onBatch;
      const outputs = hooks?.outputs ?? null;
      const keepData = hooks?.keepData === true;
      // The binding checks type and length; a shared, resizable or detached buffer is refused here.
      if (ArrayBuffer.isView(outputs)) ownedBuffer('outputs', outputs);
      if (!signal && !onBatch) return started(this.runEpoch(x, rows, y, batchSize, order, null, outputs, keepData), 'trainEpoch');
      if (signal?.aborted) return { loss: 0, batches: 0, badBatch: -1, cancelled: true };

      // Events arrive through the event loop, possibly after the epoch's promise
      // settles: count them and resolve once all `batches` have been delivered.
      let delivered = 0;
      let expected = Infinity;
      let drained: () => void = () => {};
      const allDelivered = new Promise<void>((resolve) => { drained = resolve; });
      let hookError: unknown = null;
      const stopWith = (err: unknown) => {
        if (hookError !== null) return;
        hookError = err;     // stop training; the error rejects trainEpoch
        this.cancelEpoch();
      };
      // Calls onBatch unless an earlier call failed; a promise it returns comes back settled either way.
      const observe = (batch: number, batchRows: number, loss: number, seconds: number): Promise<void> | undefined => {
        if (hookError !== null) return undefined;
        try {
          const observed = onBatch!(batch, batchRows, loss, seconds);
          if (isThenable(observed)) return Promise.resolve(observed).then(() => {}, stopWith);
        } catch (err) {
          stopWith(err);
        }
        return undefined;
      };
      // An async onBatch (EpochHooks.onBatch): the binding keeps each event's slot
      // in its ProgressGate until the promise returned for it settles
      // (train_epoch_worker.cc, HeldSlot), and later events wait here behind it,
      // so calls stay one at a time, in order, and the slots are freed in order:
      // while onBatch runs for batch b, b is in flight and the worker has
      // completed at most b + ON_BATCH_MAX_LAG batches. The chain lives here and
      // not in fit (lib/fit-epoch.ts) so every engine user gets the bound; the
      // binding only has to look at what the call returned.
      let pending: Promise<void> | null = null;
      const deliver = (batch: number, batchRows: number, loss: number, seconds: number): Promise<void> | undefined => {
        delivered++;
        const held = pending !== null
          ? pending.then(() => observe(batch, batchRows, loss, seconds))
          : observe(batch, batchRows, loss, seconds);
        if (held !== undefined) {
          pending = held;
          void held.then(() => { if (pending === held) pending = null; });
        }
        if (delivered >= expected) drained();
        return held;
      };
      const abort = () => { this.cancelEpoch(); };
      signal?.addEventListener('abort', abort, { once: true });
      try {
        const result = await started(this.runEpoch(x, rows, y, batchSize, order, onBatch ? deliver : null, outputs, keepData), 'trainEpoch');
        if (onBatch) {
          expected = result.batches;
          if (delivered < expected) await allDelivered;
          while (pending !== null) await pending;  // the last async onBatch has settled
        }
        if (hookError !== null) throw hookError;
        return result;
      } finally {
        signal?.removeEventListener('abort', abort);
      }
    }
  };
}
