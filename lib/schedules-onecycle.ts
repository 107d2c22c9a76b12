// One-cycle schedule (SPEC.md §5): torch.optim.lr_scheduler.OneCycleLR (PyTorch
// 1.13 docs), with its momentum cycling, anneal strategies and three phases.
// Split from lib/schedules.ts, whose Schedule/BatchSchedule it extends: the
// rate is set through optimizer.lr as there, the momentum through the
// optimizer's settable momentum or betas (lib/optim.ts), which bump its
// version so the model resends the settings before the next step.
import type { TrainingParams } from './callbacks';
import { BatchSchedule, type LrHolder, type Schedule } from './schedules';
import { ArgumentRangeError, boolean, integer, number, oneOf, options, rangeError, typeError } from './validate';

export interface OneCycleOptions {
  maxLr: number;
  /** Total batches; or give epochs and stepsPerEpoch (their product). */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;        // 0.3
  divFactor?: number;       // 25: initial lr = maxLr / divFactor
  finalDivFactor?: number;  // 1e4: final lr = initial lr / finalDivFactor
  /** 'cos' (default) or 'linear' interpolation within each phase (torch's anneal_strategy). */
  annealStrategy?: 'cos' | 'linear';
  /**
   * Three phases (torch's three_phase): initial → maxLr, back to initial by
   * step 2·pctStart·totalSteps − 2, then down to initial/finalDivFactor. Default false.
   */
  threePhase?: boolean;
  /**
   * Cycle the optimizer's momentum (SGD, RMSprop) or β1 (Adam, AdamW) inversely
   * to the rate, from maxMomentum down to baseMomentum and back, as torch's
   * cycle_momentum. Default false (torch's default is true: see README, "Schedules").
   * An optimizer with neither (Adagrad) is refused, as torch raises.
   */
  cycleMomentum?: boolean;
  baseMomentum?: number;    // 0.85
  maxMomentum?: number;     // 0.95
}

/** One phase of torch's OneCycleLR: up to step `end`, lr and momentum from → to. */
interface CyclePhase {
  end: number;
  lrFrom: 'initial' | 'max' | 'final';
  lrTo: 'initial' | 'max' | 'final';
  momentumFrom: 'base' | 'max';
  momentumTo: 'base' | 'max';
}

/**
 * OneCycleLR (Smith & Topin 2017, "Super-Convergence"), as PyTorch 1.13's
 * OneCycleLR: two phases by default, initial → maxLr over pctStart·totalSteps − 1
 * steps, then maxLr → initial/finalDivFactor by step totalSteps − 1 (three with
 * threePhase); with cycleMomentum the momentum (or β1) moves the other way,
 * maxMomentum → baseMomentum → maxMomentum, same phases and interpolation
 * (Smith 2018, "A disciplined approach…", §4). Stepped per batch.
 */
class OneCycleSchedule extends BatchSchedule {
  protected readonly kind = 'oneCycle';
  readonly maxLr: number;
  readonly totalSteps: number;
  readonly pctStart: number;
  readonly divFactor: number;
  readonly finalDivFactor: number;
  readonly annealStrategy: 'cos' | 'linear';
  readonly threePhase: boolean;
  readonly cycleMomentum: boolean;
  readonly baseMomentum: number;
  readonly maxMomentum: number;
  private readonly phases: CyclePhase[];

  constructor(opts: OneCycleOptions, optimizer?: LrHolder) {
    const o = options('oneCycle options', opts,
      ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'divFactor', 'finalDivFactor',
        'annealStrategy', 'threePhase', 'cycleMomentum', 'baseMomentum', 'maxMomentum']);
    const maxLr = number('maxLr', o.maxLr, 0, Infinity, { minExclusive: true });
    let totalSteps: number;
    if (o.totalSteps !== undefined) {
      totalSteps = integer('totalSteps', o.totalSteps, 1);
    } else if (o.epochs !== undefined && o.stepsPerEpoch !== undefined) {
      totalSteps = integer('epochs', o.epochs, 1) * integer('stepsPerEpoch', o.stepsPerEpoch, 1);
    } else {
      throw typeError('oneCycle options', 'totalSteps, or epochs and stepsPerEpoch', opts);
    }
    const pctStart = o.pctStart === undefined ? 0.3 : number('pctStart', o.pctStart, 0, 1, { minExclusive: true, maxExclusive: true });
    const divFactor = o.divFactor === undefined ? 25 : number('divFactor', o.divFactor, 0, Infinity, { minExclusive: true });
    const finalDivFactor = o.finalDivFactor === undefined ? 1e4
      : number('finalDivFactor', o.finalDivFactor, 0, Infinity, { minExclusive: true });
    const annealStrategy = o.annealStrategy === undefined ? 'cos' : oneOf('annealStrategy', o.annealStrategy, ['cos', 'linear'] as const);
    const threePhase = o.threePhase === undefined ? false : boolean('threePhase', o.threePhase);
    const cycleMomentum = o.cycleMomentum === undefined ? false : boolean('cycleMomentum', o.cycleMomentum);
    // [0, 1): the values become Adam's β1, which must stay below 1.
    const baseMomentum = o.baseMomentum === undefined ? 0.85 : number('baseMomentum', o.baseMomentum, 0, 1, { maxExclusive: true });
    const maxMomentum = o.maxMomentum === undefined ? 0.95 : number('maxMomentum', o.maxMomentum, 0, 1, { maxExclusive: true });
    super();
    this.maxLr = maxLr;
    this.totalSteps = totalSteps;
    this.pctStart = pctStart;
    this.divFactor = divFactor;
    this.finalDivFactor = finalDivFactor;
    this.annealStrategy = annealStrategy;
    this.threePhase = threePhase;
    this.cycleMomentum = cycleMomentum;
    this.baseMomentum = baseMomentum;
    this.maxMomentum = maxMomentum;
    // torch's _schedule_phases, end steps as floats as there.
    const warmEnd = pctStart * totalSteps - 1;
    this.phases = threePhase
      ? [{ end: warmEnd, lrFrom: 'initial', lrTo: 'max', momentumFrom: 'max', momentumTo: 'base' },
        { end: 2 * pctStart * totalSteps - 2, lrFrom: 'max', lrTo: 'initial', momentumFrom: 'base', momentumTo: 'max' },
        { end: totalSteps - 1, lrFrom: 'initial', lrTo: 'final', momentumFrom: 'max', momentumTo: 'max' }]
      : [{ end: warmEnd, lrFrom: 'initial', lrTo: 'max', momentumFrom: 'max', momentumTo: 'base' },
        { end: totalSteps - 1, lrFrom: 'max', lrTo: 'final', momentumFrom: 'base', momentumTo: 'max' }];
    if (optimizer !== undefined) this.bind(optimizer);
  }

  /** Refuses an optimizer without momentum or betas before anything changes (torch raises ValueError). */
  override bind(optimizer: LrHolder): void {
    if (this.cycleMomentum && typeof optimizer === 'object' && optimizer !== null &&
        !Array.isArray(optimizer.betas) && typeof optimizer.momentum !== 'number') {
      throw new ArgumentRangeError('Expected an optimizer with momentum or betas (SGD, RMSprop, Adam, AdamW) for ' +
        'oneCycle with cycleMomentum: true but received one with neither; pass cycleMomentum: false');
    }
    super.bind(optimizer);
    this.setMomentum();
  }

  protected override resume(params: TrainingParams): void {
    super.resume(params);
    this.setMomentum();
  }

  protected override initialLr(): number {
    return this.maxLr / this.divFactor;
  }

  override step(): void {
    if (this.stepCount + 1 > this.totalSteps) {
      throw rangeError('oneCycle step', `at most totalSteps = ${this.totalSteps} steps`, this.stepCount + 1);
    }
    super.step();
    this.setMomentum();
  }

  protected lrAt(t: number): number {
    const lrs = { initial: this.baseLr, max: this.maxLr, final: this.baseLr / this.finalDivFactor };
    const { phase, pct } = this.phaseAt(t);
    return this.anneal(lrs[phase.lrFrom], lrs[phase.lrTo], pct);
  }

  /** The momentum (or β1) at step t; torch's computed_momentum. */
  momentumAt(t: number): number {
    const momenta = { base: this.baseMomentum, max: this.maxMomentum };
    const { phase, pct } = this.phaseAt(t);
    return this.anneal(momenta[phase.momentumFrom], momenta[phase.momentumTo], pct);
  }

  /** torch's get_lr: the first phase whose end is not passed (the last one past it), and the fraction done. */
  private phaseAt(t: number): { phase: CyclePhase; pct: number } {
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const phase = this.phases[i]!;
      if (t <= phase.end || i === this.phases.length - 1) {
        // A phase of length 0 (pctStart·totalSteps = 1: the warm-up ends at step 0)
        // is at its start. torch divides 0 by 0 there (ZeroDivisionError); this is
        // its limit as the phase shrinks to 0 (it used to be NaN, which lr refused).
        return { phase, pct: phase.end > start ? (t - start) / (phase.end - start) : 0 };
      }
      start = phase.end;
    }
    throw new Error('unreachable: the last phase always matches');
  }

  private anneal(start: number, end: number, pct: number): number {
    // torch's _annealing_cos and _annealing_linear. The step after the last
    // (t = totalSteps, which the final step() reaches) is past the cycle: torch
    // extrapolates the line there, below 0 for the rate, which lr refuses; it
    // stays at the end value here. (Cosine past its end turns back up a little
    // and stays positive, as torch.)
    if (this.annealStrategy === 'linear') return (end - start) * Math.min(pct, 1) + start;
    return end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1);
  }

  /** Sets the bound optimizer's momentum or β1 for the current step (torch prefers betas when both exist). */
  private setMomentum(): void {
    const opt = this.optimizer;
    if (!this.cycleMomentum || opt === null) return;
    const m = this.momentumAt(this.stepCount);
    if (Array.isArray(opt.betas)) opt.betas = [m, opt.betas[1]];
    else opt.momentum = m;
  }
}

export function oneCycle(opts: OneCycleOptions, optimizer?: LrHolder): Schedule {
  return new OneCycleSchedule(opts, optimizer);
}
