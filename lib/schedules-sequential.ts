// schedules.sequential: schedules run one after another, torch's SequentialLR
// (PyTorch 1.13 docs): the first sets the rate until milestones[0], the second
// from there until milestones[1], and so on; each part starts over from the
// base rate at its milestone (SequentialLR steps the next scheduler with
// epoch 0 there), so part i at step t stands at its own step t − milestones[i−1].
//
// fit refuses two schedules in one callbacks list (each sets the rate outright,
// schedules.ts checkOneSchedule); this is the one schedule that holds several.
// Its parts are never bound to the optimizer: each is attached to a private
// holder with the same base rate and only read (Schedule.rateAt), so the
// optimizer's rate, saved state and resuming are the sequence's alone.
//
// A reduceOnPlateau as the last part: the warm-up-then-plateau recipe that
// PyTorch users write by stepping a warm-up scheduler per batch and
// ReduceLROnPlateau per epoch on the same optimizer, as one schedule with
// these rules (README "Schedules"; test/fixtures/schedules_plateau_torch.py
// replays them in torch):
// - The parts before it step per epoch, or per batch with `stepping: 'batch'`;
//   the milestones count those steps. The last milestone is the switch.
// - At the switch the plateau stage takes over the rate in force there, the
//   rate the part before it reaches at that step (torch's chained schedulers
//   leave the warm-up's last rate in the param group, and ReduceLROnPlateau
//   multiplies whatever it finds), not the base rate.
// - The plateau judges only epochs that begin at or after the switch (an
//   epoch that straddles it trained partly at warm-up rates): its best value,
//   patience and cooldown count from the first such epoch. Earlier epochs'
//   values are not seen.
// - After the switch, batch steps are still counted (for resuming) but leave
//   the rate to the plateau.
import type { Logs, TrainingParams } from './callbacks';
import type { ScheduleState } from './optim';
import { loweredRate, type PlateauTracker } from './plateau-tracker';
import { ReduceOnPlateau, Schedule, type LrHolder, type Stepping } from './schedules';
import { increasingIntegers, passed } from './schedules-milestones';
import { oneOf, options, rangeError, typeError } from './validate';

export interface SequentialOptions {
  /** The step at which each schedule after the first takes over: one fewer than the schedules, increasing. */
  milestones: number[];
  /**
   * What one step of the parts is: an epoch (default) or a batch (fit then
   * steps the sequence after every batch). A final reduceOnPlateau is judged
   * per epoch either way.
   */
  stepping?: Stepping;
}

export class SequentialSchedule extends Schedule {
  readonly stepping: Stepping;
  protected readonly kind = 'sequential';
  readonly schedules: readonly Schedule[];
  readonly milestones: readonly number[];
  /** fit's per-batch hook, present only with stepping 'batch' (its presence makes fit drive batches). */
  onBatchEnd?: (batch: number, logs: Logs) => void;
  /** The parts that set the rate by step (all but a final reduceOnPlateau). */
  private readonly parts: readonly Schedule[];
  /** The final reduceOnPlateau (its options only; it is never bound), or null. */
  private readonly plateau: ReduceOnPlateau | null;
  private readonly tracker: PlateauTracker | null;
  /** The step at which the plateau takes over (Infinity without one). */
  private readonly switchStep: number;
  /** The step the current epoch began at: the plateau judges epochs that began at or after the switch. */
  private epochStart = 0;
  /** The optimizer's rate when bound: a plateau's rate, for a resume past the switch (bind sets the warm-up's). */
  private rateFound = NaN;

  constructor(list: readonly Schedule[], opts: SequentialOptions, optimizer?: LrHolder) {
    if (!Array.isArray(list) || list.length === 0) throw typeError('schedules', 'a non-empty array of schedules', list);
    list.forEach((s: unknown, i) => {
      if (!(s instanceof Schedule)) throw typeError(`schedules[${i}]`, 'a schedule (schedules.step, cosine, …)', s);
      const last = i === list.length - 1;
      // One-cycle has no place here: torch's OneCycleLRs write their bounds into the
      // shared param group (the last one made wins). ReduceLROnPlateau is no
      // LRScheduler: it can only follow the others, judging epochs from the switch on.
      if (s instanceof ReduceOnPlateau) {
        if (!last || list.length < 2) {
          throw rangeError(`schedules[${i}]`, 'reduceOnPlateau only as the last of two or more schedules (after a warm-up, say)',
            `reduceOnPlateau at index ${i} of ${list.length}`);
        }
      } else if (s.stepping !== 'epoch') {
        throw rangeError(`schedules[${i}]`, 'a schedule stepped per epoch (not oneCycle), or reduceOnPlateau as the last', s.name);
      }
      // A part bound to the optimizer has already set its rate, and the next
      // part would take that as its base (warm-up's 1/3 of it, say).
      if (s.isBound) {
        throw rangeError(`schedules[${i}]`, 'a schedule created without an optimizer (sequential binds its parts itself)',
          `one bound to an optimizer (${s.name})`);
      }
    });
    const o = options('sequential options', opts, ['milestones', 'stepping']);
    const milestones = increasingIntegers('milestones', o.milestones, 1, list.length - 1);
    const stepping = o.stepping === undefined ? 'epoch' : oneOf('stepping', o.stepping, ['epoch', 'batch'] as const);
    super();
    this.schedules = [...list];
    this.milestones = milestones;
    this.stepping = stepping;
    const tail = list[list.length - 1];
    this.plateau = tail instanceof ReduceOnPlateau ? tail : null;
    this.parts = this.plateau === null ? this.schedules : this.schedules.slice(0, -1);
    this.tracker = this.plateau === null ? null : this.plateau.newTracker();
    this.switchStep = this.plateau === null ? Infinity : milestones[milestones.length - 1]!;
    if (stepping === 'batch') this.onBatchEnd = () => { this.step(); };
    if (optimizer !== undefined) this.bind(optimizer);
  }

  /** The metric the final reduceOnPlateau monitors, or null without one. */
  get monitor(): string | null {
    return this.plateau?.monitor ?? null;
  }

  /** Binding to another optimizer starts over: step 0, no plateau counters. */
  override bind(optimizer: LrHolder): void {
    if (this.optimizer !== optimizer) {
      this.epochStart = 0;
      this.tracker?.reset();
      if (typeof optimizer === 'object' && optimizer !== null) this.rateFound = optimizer.lr;
    }
    super.bind(optimizer);
  }

  /** Every part starts from the same base rate (torch resets the lr to initial_lr before the first). */
  protected override initialLr(current: number): number {
    for (const s of this.parts) s.bind({ lr: current });
    return current;
  }

  /** The rate at step t; from the switch on, the rate the plateau stage starts from. */
  protected lrAt(t: number): number {
    const step = Math.min(t, this.switchStep);
    const i = Math.min(passed(this.milestones, step), this.parts.length - 1);
    return this.parts[i]!.rateAt(i === 0 ? step : step - this.milestones[i - 1]!);
  }

  /**
   * One step. Per epoch, with a final reduceOnPlateau: `value` is the epoch's
   * monitored value, judged when the epoch began at or after the switch (and
   * required then). Per batch: one batch (use endEpoch for the epoch's value).
   */
  override step(value?: number): void {
    const opt = this.requireBound();
    if (value !== undefined && typeof value !== 'number') throw typeError('value', 'a number (the monitored value) or nothing', value);
    // Per batch a value has nowhere to go: the epoch's belongs to endEpoch (silently dropped, the plateau never judged).
    if (value !== undefined && this.stepping === 'batch') {
      throw rangeError('value', "no value when stepping per batch (pass the epoch's to endEpoch)", value);
    }
    if (this.stepping === 'epoch' && this.tracker !== null && this.stepCount >= this.switchStep) {
      this.judge(value);
      this.stepCount++;
    } else {
      this.stepCount++;
      // After the switch the rate is the plateau's: batch steps only count.
      if (this.stepCount <= this.switchStep) opt.lr = this.lrAt(this.stepCount);
    }
    this.saveState();
  }

  /**
   * Ends an epoch of a per-batch sequence with its monitored value: the final
   * reduceOnPlateau judges it when the epoch began (at the last endEpoch, or
   * the start) at or after the switch. fit calls it after each epoch.
   */
  endEpoch(value: number): void {
    this.requireBound();
    if (this.stepping !== 'batch' || this.tracker === null) {
      throw rangeError('endEpoch', 'a per-batch sequence ending in reduceOnPlateau (per epoch, pass the value to step)',
        this.tracker === null ? 'a sequence without reduceOnPlateau' : "stepping 'epoch'");
    }
    if (this.epochStart >= this.switchStep) this.judge(value);
    else if (typeof value !== 'number') throw typeError('value', `the monitored value (${this.plateau!.monitor})`, value);
    this.epochStart = this.stepCount;
    this.saveState();
  }

  /** The plateau stage's step: a bad run of epochs lowers the optimizer's rate. */
  private judge(value: number | undefined): void {
    const plateau = this.plateau!;
    if (typeof value !== 'number') throw typeError('value', `the monitored value (${plateau.monitor})`, value);
    const opt = this.requireBound();
    if (this.tracker!.record(value)) opt.lr = loweredRate(opt.lr, plateau.factor, plateau.minLr);
  }

  /** With a plateau stage, its counters too (as reduceOnPlateau saves them). */
  protected override state(): ScheduleState {
    const state = super.state();
    return this.tracker === null ? state : { ...state, plateau: this.tracker.counters() };
  }

  /** Epochs, or initialEpoch × batches per epoch (for streams, the steps the saved state counted). */
  protected override resumeStep(params: TrainingParams, found: ScheduleState | null): number {
    if (this.stepping === 'epoch') return params.initialEpoch;
    if (Number.isFinite(params.steps)) return params.initialEpoch * params.steps;
    return found !== null && found.kind === this.kind ? found.step : 0;
  }

  /**
   * Before the switch, the rate of the step resumed at (from the recorded base);
   * past it, the rate the optimizer holds and the plateau counters its last
   * sequence saved — a plateau's rate depends on the values seen, not the step.
   */
  protected override resume(params: TrainingParams): void {
    const opt = this.requireBound();
    const mine = this.found !== null && this.found.kind === this.kind ? this.found : null;
    if (this.found !== null) this.baseLr = this.initialLr(this.found.baseLr);
    this.stepCount = this.resumeStep(params, this.found);
    this.epochStart = this.stepCount;
    if (this.tracker !== null && this.stepCount >= this.switchStep && mine?.plateau !== undefined) {
      this.tracker.restore(mine.plateau);
      opt.lr = this.rateFound;
    } else {
      opt.lr = this.lrAt(this.stepCount);
    }
    this.saveState();
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    const value = this.plateau === null ? undefined : this.plateau.monitoredValue(logs);
    if (this.stepping === 'epoch') this.step(value);
    else if (value !== undefined) this.endEpoch(value);
  }
}

/**
 * Runs `list` one after another, switching at each of `opts.milestones`:
 * sequential([linearWarmup({ totalIters: 5 }), cosine({ tMax: 45 })], { milestones: [5] }).
 * A reduceOnPlateau may come last: sequential([linearWarmup({ startFactor: 0.1, totalIters: 500 }),
 * reduceOnPlateau({ patience: 3 })], { milestones: [500], stepping: 'batch' }) warms up over
 * 500 batches, then lowers the rate on plateaus of val_loss.
 */
export function sequential(list: readonly Schedule[], opts: SequentialOptions, optimizer?: LrHolder): SequentialSchedule {
  return new SequentialSchedule(list, opts, optimizer);
}
