// The judgement of torch.optim.lr_scheduler.ReduceLROnPlateau (PyTorch 1.13
// docs and its documented step rule): which epochs are bad, when the rate is
// lowered, and by how much. Shared by schedules.reduceOnPlateau and a
// schedules.sequential whose last stage is one (lib/schedules-sequential.ts),
// so both judge epochs the same way.
import type { ScheduleState } from './optim';

export interface PlateauRule {
  mode: 'min' | 'max';
  /** Improvement needed to count as better: a fraction of the best ('rel') or an amount ('abs'). */
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  /** Bad epochs tolerated; the rate is lowered after more than this many. */
  patience: number;
  /** Epochs after a lowering during which bad epochs are not counted. */
  cooldown: number;
}

/** The counters saved in a schedule state (best is null until a value came). */
export type PlateauCounters = NonNullable<ScheduleState['plateau']>;

/** The best value, the bad epochs since it and the cooldown left, stepped one epoch at a time. */
export class PlateauTracker {
  private best: number;
  private badEpochs = 0;
  private cooldownLeft = 0;

  constructor(private readonly rule: PlateauRule) {
    this.best = rule.mode === 'min' ? Infinity : -Infinity;
  }

  /**
   * Records one epoch's value; true when the rate is to be lowered now (torch's
   * step: the best and bad count first, then the cooldown, then patience). NaN
   * is never better (torch's is_better, Keras's monitor_op): a bad epoch.
   */
  record(value: number): boolean {
    if (this.isBetter(value)) {
      this.best = value;
      this.badEpochs = 0;
    } else {
      this.badEpochs++;
    }
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.badEpochs = 0;
    }
    if (this.badEpochs > this.rule.patience) {
      this.cooldownLeft = this.rule.cooldown;
      this.badEpochs = 0;
      return true;
    }
    return false;
  }

  /** torch's is_better: relative or absolute margin over the best, in the mode's direction. */
  private isBetter(value: number): boolean {
    const { best } = this;
    const { threshold, mode } = this.rule;
    if (this.rule.thresholdMode === 'rel') return mode === 'min' ? value < best * (1 - threshold) : value > best * (1 + threshold);
    return mode === 'min' ? value < best - threshold : value > best + threshold;
  }

  counters(): PlateauCounters {
    return { best: Number.isFinite(this.best) ? this.best : null, badEpochs: this.badEpochs, cooldownLeft: this.cooldownLeft };
  }

  /** Takes back saved counters (a resumed fit). */
  restore(c: PlateauCounters): void {
    if (c.best !== null) this.best = c.best;
    this.badEpochs = c.badEpochs;
    this.cooldownLeft = c.cooldownLeft;
  }

  /** As new: no best, no bad epochs, no cooldown. */
  reset(): void {
    this.best = this.rule.mode === 'min' ? Infinity : -Infinity;
    this.badEpochs = 0;
    this.cooldownLeft = 0;
  }
}

/**
 * The rate after a lowering: max(lr·factor, minLr), kept as it was when the
 * change is below torch's eps of 1e-8 (ReduceLROnPlateau._reduce_lr).
 */
export function loweredRate(lr: number, factor: number, minLr: number): number {
  const lowered = Math.max(lr * factor, minLr);
  return lr - lowered > 1e-8 ? lowered : lr;
}
