// The private plans behind Sequential.predictAsync. Each call copies the
// weights it must answer with — those predict would use at that moment — into
// a plan of its own, synchronously, before the call returns; the engine then
// predicts on that plan (on a worker thread in the native engine) while the
// model's own plan stays free for fit, trainStep, setWeights or dispose. The
// copy is plan to plan (copyStateFrom: parameters and batch-norm running
// statistics, no array in between).
//
// One idle plan is kept for the next call, so a service calling predictAsync
// in turn pays one copy of the weights per call and no allocation; calls that
// overlap get a plan each, freed when they settle. Every plan has the source's
// maxBatch: the engines' predict runs forward passes of maxBatch rows, and
// gemm's rounding depends on the pass's row count (measured: a row's output
// can differ in the last bit between passes of 32 and 256 rows), so equal
// passes are what makes predictAsync's output predict's bit for bit.
import type { FloatArray, NetworkPlan } from './engine';

export class AsyncPredictor {
  private idle: NetworkPlan | null = null;
  private readonly pending = new Set<NetworkPlan>();
  private closed = false;

  /** createPlan: a new plan of the model's layers and dtype with this maxBatch. */
  constructor(private readonly createPlan: (maxBatch: number) => NetworkPlan) {}

  /**
   * Copies source's weights into a private plan now, then predicts x (rows ×
   * in) into out on it, batchSize rows per chunk (NetworkPlan.predictAsync).
   * source must be idle. Rejects with ERR_FASTMLP_DISPOSED when dispose()
   * comes first.
   */
  run(source: NetworkPlan, x: FloatArray, rows: number, out: FloatArray, batchSize: number): Promise<void> {
    const plan = this.take(source.maxBatch);
    let running: Promise<void>;
    try {
      plan.copyStateFrom(source);
      running = plan.predictAsync(x, rows, out, batchSize);
    } catch (err) {
      this.giveBack(plan);
      throw err;
    }
    this.pending.add(plan);
    return running.finally(() => {
      this.pending.delete(plan);
      this.giveBack(plan);
    });
  }

  /** Frees the idle plan and stops the pending calls (they reject with ERR_FASTMLP_DISPOSED). */
  dispose(): void {
    this.closed = true;
    this.idle?.dispose();
    this.idle = null;
    for (const plan of this.pending) plan.dispose();
  }

  /** A plan with exactly this maxBatch: the idle one when it fits (reserve only grows), or a new one. */
  private take(maxBatch: number): NetworkPlan {
    const plan = this.idle;
    this.idle = null;
    if (plan !== null && plan.maxBatch <= maxBatch) {
      try {
        plan.reserve(maxBatch);
      } catch (err) {
        plan.dispose();
        throw err;
      }
      return plan;
    }
    plan?.dispose();
    return this.createPlan(maxBatch);
  }

  private giveBack(plan: NetworkPlan): void {
    if (this.closed || plan.disposed || this.idle !== null) plan.dispose();
    else this.idle = plan;
  }
}
