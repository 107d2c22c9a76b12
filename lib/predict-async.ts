// The private plans behind Sequential.predictAsync and evaluateAsync's forward
// pass (lib/model-reads.ts). Each call answers with the weights predict would
// use at that moment, on a plan of its own; the engine predicts on that plan
// (on a worker thread in the native engine) while the model's own plan stays
// free for fit, trainStep, setWeights or dispose.
//
// Filling a private plan is a synchronous plan-to-plan copy (copyStateFrom:
// parameters and batch-norm running statistics, no array in between) — ~3 ms
// on the main thread for 784-2048-2048-10. So the copy is skipped when it
// would change nothing: the caller passes a version of the source's state
// (Sequential counts every write to its weights), and a plan that already
// holds that version is used as it is. A version identifies contents, not a
// plan: the model's live plan and its fit snapshot hold equal weights under
// equal versions, so either may fill or match a cached plan.
//
// One idle plan is kept for the next call, so a service calling predictAsync
// in turn pays no copy while the weights stay unchanged, and no allocation;
// calls that overlap get a plan each (a plan in flight is never reused or
// refilled), and when they settle the one holding the newest weights is kept.
// Every plan has the source's maxBatch: the engines' predict runs forward
// passes of maxBatch rows, and gemm's rounding depends on the pass's row count
// (measured: a row's output can differ in the last bit between passes of 32
// and 256 rows), so equal passes are what makes predictAsync's output
// predict's bit for bit. reserve() only grows activation buffers, so a grown
// plan keeps the weights it holds.
import type { FloatArray, NetworkPlan } from './engine';

/** A private plan and the version of the weights it holds (null: none it can vouch for). */
interface PrivatePlan {
  readonly plan: NetworkPlan;
  version: number | null;
}

export class AsyncPredictor {
  private idle: PrivatePlan | null = null;
  private readonly pending = new Set<NetworkPlan>();
  private closed = false;

  /** createPlan: a new plan of the model's layers and dtype with this maxBatch. */
  constructor(private readonly createPlan: (maxBatch: number) => NetworkPlan) {}

  /**
   * Predicts x (rows × in) into out, batchSize rows per chunk
   * (NetworkPlan.predictAsync), on a private plan holding source's weights:
   * copied now unless the plan already holds `version` of them. version must
   * change whenever source's parameters or buffers may have changed. source
   * must be idle. Rejects with ERR_FASTMLP_DISPOSED when dispose() comes first.
   * An abort of signal disposes the private plan in flight, which both engines
   * stop before its next chunk (lib/engine.ts): the call then rejects as a
   * dispose() would, and the caller tells an abort by the signal. The plan is
   * not reused (the next call fills a new one); the source is never touched.
   */
  run(source: NetworkPlan, version: number, x: FloatArray, rows: number, out: FloatArray, batchSize: number,
      signal: AbortSignal | null = null): Promise<void> {
    const entry = this.take(source.maxBatch);
    const { plan } = entry;
    let running: Promise<void>;
    try {
      if (entry.version !== version) {
        entry.version = null;  // a failed copy must not leave the old version vouching for the plan
        plan.copyStateFrom(source);
        entry.version = version;
      }
      running = plan.predictAsync(x, rows, out, batchSize);
    } catch (err) {
      this.giveBack(entry);
      throw err;
    }
    this.pending.add(plan);
    const abort = () => plan.dispose();
    signal?.addEventListener('abort', abort, { once: true });
    if (signal?.aborted) abort();  // aborted already: no event will come
    return running.finally(() => {
      signal?.removeEventListener('abort', abort);
      this.pending.delete(plan);
      this.giveBack(entry);
    });
  }

  /** Frees the idle plan and stops the pending calls (they reject with ERR_FASTMLP_DISPOSED). */
  dispose(): void {
    this.closed = true;
    this.idle?.plan.dispose();
    this.idle = null;
    for (const plan of this.pending) plan.dispose();
  }

  /** A plan with exactly this maxBatch: the idle one when it fits (reserve only grows), or a new one. */
  private take(maxBatch: number): PrivatePlan {
    const entry = this.idle;
    this.idle = null;
    if (entry !== null && entry.plan.maxBatch <= maxBatch) {
      try {
        entry.plan.reserve(maxBatch);
      } catch (err) {
        entry.plan.dispose();
        throw err;
      }
      return entry;
    }
    entry?.plan.dispose();
    return { plan: this.createPlan(maxBatch), version: null };
  }

  /** Keeps one idle plan, the one holding the newer weights (versions only grow); frees the other. */
  private giveBack(entry: PrivatePlan): void {
    if (this.closed || entry.plan.disposed) {
      entry.plan.dispose();
      return;
    }
    const kept = this.idle;
    if (kept === null) {
      this.idle = entry;
    } else if ((entry.version ?? -1) > (kept.version ?? -1)) {
      kept.plan.dispose();
      this.idle = entry;
    } else {
      entry.plan.dispose();
    }
  }
}
