// Schedules that change course at given steps, after the documented behaviour
// of torch.optim.lr_scheduler (PyTorch 1.13 docs) and in closed form, as the
// ones in schedules.ts:
//   multiStep           MultiStepLR: lr = base · γ^(milestones passed)
//   cosineWarmRestarts  CosineAnnealingWarmRestarts (Loshchilov & Hutter,
//                       "SGDR: Stochastic Gradient Descent with Warm Restarts",
//                       ICLR 2017): a cosine from base to ηmin over T_i steps,
//                       then a restart with T_{i+1} = T_i · T_mult.
// Both step per epoch, like the rest of torch's epoch schedulers.
import { Schedule, type LrHolder } from './schedules';
import { integer, number, options, rangeError, typeError } from './validate';

/**
 * A non-empty list of strictly increasing integers ≥ min (torch's docs: the
 * milestones "must be increasing"); `name` names it in errors.
 */
export function increasingIntegers(name: string, value: unknown, min: number, length?: number): number[] {
  if (!Array.isArray(value)) throw typeError(name, 'an array of increasing integers', value);
  if (length !== undefined && value.length !== length) {
    throw rangeError(`${name}.length`, `${length} (one milestone between each two schedules)`, value.length);
  }
  if (length === undefined && value.length === 0) throw rangeError(name, 'at least one milestone', value);
  const out: number[] = [];
  value.forEach((v: unknown, i) => {
    const m = integer(`${name}[${i}]`, v, min);
    if (i > 0 && m <= out[i - 1]!) throw rangeError(`${name}[${i}]`, `an integer > ${name}[${i - 1}] (${out[i - 1]})`, m);
    out.push(m);
  });
  return out;
}

/** How many of the increasing `milestones` are ≤ t (Python's bisect_right). */
export function passed(milestones: readonly number[], t: number): number {
  let n = 0;
  while (n < milestones.length && milestones[n]! <= t) n++;
  return n;
}

export interface MultiStepOptions { milestones: number[]; gamma?: number }

/** MultiStepLR: lr = base · γ^k after k of the milestones have been reached. */
class MultiStepSchedule extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'multiStep';
  readonly milestones: readonly number[];
  readonly gamma: number;

  constructor(opts: MultiStepOptions, optimizer?: LrHolder) {
    const o = options('multiStep options', opts, ['milestones', 'gamma']);
    const milestones = increasingIntegers('milestones', o.milestones, 1);
    const gamma = o.gamma === undefined ? 0.1 : number('gamma', o.gamma, 0, Infinity, { minExclusive: true });
    super();
    this.milestones = milestones;
    this.gamma = gamma;
    if (optimizer !== undefined) this.bind(optimizer);
  }

  protected lrAt(t: number): number {
    return this.baseLr * this.gamma ** passed(this.milestones, t);
  }
}

export interface CosineWarmRestartsOptions {
  /** Steps until the first restart (torch's T_0). */
  t0: number;
  /** Each period is this many times the one before (torch's T_mult, an integer ≥ 1). */
  tMult?: number;   // 1
  etaMin?: number;  // 0
}

/**
 * CosineAnnealingWarmRestarts: within a period of T_i steps, after T_cur of
 * them, lr = ηmin + (base − ηmin)(1 + cos(π·T_cur/T_i))/2; at T_cur = T_i the
 * rate jumps back to base and T_i grows by T_mult.
 */
class CosineWarmRestartsSchedule extends Schedule {
  readonly stepping = 'epoch' as const;
  protected readonly kind = 'cosineWarmRestarts';
  readonly t0: number;
  readonly tMult: number;
  readonly etaMin: number;

  constructor(opts: CosineWarmRestartsOptions, optimizer?: LrHolder) {
    const o = options('cosineWarmRestarts options', opts, ['t0', 'tMult', 'etaMin']);
    const t0 = integer('t0', o.t0, 1);
    const tMult = o.tMult === undefined ? 1 : integer('tMult', o.tMult, 1);
    const etaMin = o.etaMin === undefined ? 0 : number('etaMin', o.etaMin, 0);
    super();
    this.t0 = t0;
    this.tMult = tMult;
    this.etaMin = etaMin;
    if (optimizer !== undefined) this.bind(optimizer);
  }

  protected lrAt(t: number): number {
    // The period t falls in, in integers as torch's step() counts T_cur and T_i
    // (its float logarithm form is only for an explicit epoch argument).
    let period = this.t0;
    let within = t;
    if (this.tMult === 1) {
      within = t % period;
    } else {
      while (within >= period) {
        within -= period;
        period *= this.tMult;
      }
    }
    return this.etaMin + (this.baseLr - this.etaMin) * (1 + Math.cos(Math.PI * within / period)) / 2;
  }
}

export function multiStep(opts: MultiStepOptions, optimizer?: LrHolder): Schedule {
  return new MultiStepSchedule(opts, optimizer);
}
export function cosineWarmRestarts(opts: CosineWarmRestartsOptions, optimizer?: LrHolder): Schedule {
  return new CosineWarmRestartsSchedule(opts, optimizer);
}
