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
import { ReduceOnPlateau, Schedule, type LrHolder } from './schedules';
import { increasingIntegers, passed } from './schedules-milestones';
import { options, rangeError, typeError } from './validate';

export interface SequentialOptions {
  /** The step at which each schedule after the first takes over: one fewer than the schedules, increasing. */
  milestones: number[];
}

class SequentialSchedule extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'sequential';
  readonly schedules: readonly Schedule[];
  readonly milestones: readonly number[];

  constructor(list: readonly Schedule[], opts: SequentialOptions, optimizer?: LrHolder) {
    if (!Array.isArray(list) || list.length === 0) throw typeError('schedules', 'a non-empty array of schedules', list);
    list.forEach((s: unknown, i) => {
      if (!(s instanceof Schedule)) throw typeError(`schedules[${i}]`, 'a schedule (schedules.step, cosine, …)', s);
      // Per-batch and metric-driven schedules have no place in a sequence of
      // epochs: torch's OneCycleLRs write their bounds into the shared param
      // group (the last one made wins) and ReduceLROnPlateau is no LRScheduler.
      if (s instanceof ReduceOnPlateau || s.stepping !== 'epoch') {
        throw rangeError(`schedules[${i}]`, 'a schedule stepped per epoch (not oneCycle or reduceOnPlateau)', s.name);
      }
      // A part bound to the optimizer has already set its rate, and the next
      // part would take that as its base (warm-up's 1/3 of it, say).
      if (s.isBound) {
        throw rangeError(`schedules[${i}]`, 'a schedule created without an optimizer (sequential binds its parts itself)',
          `one bound to an optimizer (${s.name})`);
      }
    });
    const o = options('sequential options', opts, ['milestones']);
    const milestones = increasingIntegers('milestones', o.milestones, 1, list.length - 1);
    super();
    this.schedules = [...list];
    this.milestones = milestones;
    if (optimizer !== undefined) this.bind(optimizer);
  }

  /** Every part starts from the same base rate (torch resets the lr to initial_lr before the first). */
  protected override initialLr(current: number): number {
    for (const s of this.schedules) s.bind({ lr: current });
    return current;
  }

  protected lrAt(t: number): number {
    const i = passed(this.milestones, t);
    return this.schedules[i]!.rateAt(i === 0 ? t : t - this.milestones[i - 1]!);
  }
}

/**
 * Runs `list` one after another, switching at each of `opts.milestones`:
 * sequential([linearWarmup({ totalIters: 5 }), cosine({ tMax: 45 })], { milestones: [5] }).
 */
export function sequential(list: readonly Schedule[], opts: SequentialOptions, optimizer?: LrHolder): Schedule {
  return new SequentialSchedule(list, opts, optimizer);
}
