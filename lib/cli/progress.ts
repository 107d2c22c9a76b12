// Progress of a training run for the CLI: a bar with ETA, samples/s and the
// running loss on a TTY (cli-progress), and one plain line per epoch otherwise,
// so logs and CI output stay readable. callbacks.progressBar and the CLI both
// draw through TrainingProgress: one implementation.
import { SingleBar } from 'cli-progress';
import type { Callback, Logs, TrainingParams } from '../callbacks';

export interface ProgressOutput {
  isTTY?: boolean;
  write(chunk: string): boolean;
}

export class TrainingProgress {
  private bar: SingleBar | null = null;
  private epochStart = 0;
  private samples = 0;
  private lossSum = 0;
  private batches = 0;

  constructor(private readonly out: ProgressOutput, private readonly epochs: number) {}

  startEpoch(epoch: number, totalBatches: number): void {
    this.epochStart = performance.now();
    this.samples = 0;
    this.lossSum = 0;
    this.batches = 0;
    if (!this.out.isTTY) return;
    this.bar = new SingleBar({
      stream: this.out as unknown as NodeJS.WritableStream,
      format: `epoch ${epoch + 1}/${this.epochs} [{bar}] {value}/{total} batches | ETA {eta_formatted} | {rate} samples/s | loss {loss}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    });
    this.bar.start(totalBatches, 0, { rate: '-', loss: '-' });
  }

  batch(rows: number, loss: number): void {
    this.samples += rows;
    this.lossSum += loss;
    this.batches += 1;
    this.bar?.update(this.batches, { rate: Math.round(this.samplesPerSecond()), loss: (this.lossSum / this.batches).toFixed(4) });
  }

  /**
   * Ends the epoch's bar and prints its summary line. `samples` stands in for
   * the batch counts when no batch was reported (an epoch run in one piece).
   */
  endEpoch(epoch: number, logs: Record<string, number>, samples?: number): void {
    this.bar?.stop();
    this.bar = null;
    if (this.batches === 0 && samples !== undefined) this.samples = samples;
    const parts = Object.entries(logs).filter(([k]) => k !== 'samplesPerSecond').map(([k, v]) => `${k} ${formatValue(k, v)}`);
    // fit's own figure when it gave one (training time only); else rows over the epoch's wall time.
    const perSecond = logs['samplesPerSecond'] ?? (this.samples > 0 ? this.samplesPerSecond() : 0);
    const rate = perSecond > 0 ? ` - ${Math.round(perSecond)} samples/s` : '';
    const seconds = (performance.now() - this.epochStart) / 1000;
    this.out.write(`epoch ${epoch + 1}/${this.epochs} - ${parts.join(' - ')} - ${seconds.toFixed(2)} s${rate}\n`);
  }

  private samplesPerSecond(): number {
    const seconds = (performance.now() - this.epochStart) / 1000;
    return seconds > 0 ? this.samples / seconds : 0;
  }
}

function formatValue(name: string, v: number): string {
  return /acc/.test(name) ? `${(100 * v).toFixed(2)} %` : v.toFixed(4);
}

/**
 * TrainingProgress as a fit() callback. On a TTY it has batch hooks (the bar
 * moves per batch), otherwise only epoch hooks. It only observes
 * (observeOnly), so the native engine keeps each epoch in one worker-thread
 * call and posts the batch events to it.
 */
export function progressCallback(out: ProgressOutput, opts: { batches?: boolean } = {}): Callback {
  let progress: TrainingProgress | null = null;
  let params: TrainingParams | null = null;
  const cb: Callback = {
    observeOnly: true,
    setParams(p: TrainingParams) { params = p; },
    onEpochBegin(epoch: number) {
      progress ??= new TrainingProgress(out, params?.epochs ?? 0);
      progress.startEpoch(epoch, params?.steps ?? 0);
    },
    onEpochEnd(epoch: number, logs: Logs) {
      progress?.endEpoch(epoch, logs, params?.samples);
    },
  };
  if (opts.batches ?? out.isTTY === true) {
    cb.onBatchEnd = (_batch: number, logs: Logs) => { progress?.batch(logs['size'] ?? 0, logs['loss'] ?? NaN); };
  }
  return cb;
}
