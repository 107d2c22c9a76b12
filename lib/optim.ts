// Optimizers (SPEC.md §4, torch.optim conventions). An optimizer is a small
// settings object; the arithmetic runs inside the engine over the flat
// parameter buffer. `lr` may be changed between steps (a schedule does so);
// the model sends the new settings before its next step and keeps the state.
import type { OptimizerSpec } from './engine';
import { ArgumentRangeError, boolean, number, oneOf, options, rangeError, typeError } from './validate';

export abstract class Optimizer {
  private learningRate: number;
  /** Bumped on every change, so a model knows when to resend the settings. */
  version = 0;

  protected constructor(lr: number) {
    this.learningRate = number('lr', lr, 0);
  }

  get lr(): number {
    return this.learningRate;
  }

  set lr(value: number) {
    this.learningRate = number('lr', value, 0);
    this.version++;
  }

  abstract toSpec(): OptimizerSpec;
}

const NO_ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const NO_MOMENTUM = { momentum: 0, dampening: 0, nesterov: false };

export interface SGDOptions {
  lr?: number;          // 0.01
  momentum?: number;    // 0
  dampening?: number;   // 0
  nesterov?: boolean;   // false
  weightDecay?: number; // 0 (L2, added to the gradient)
}

/** SGD with optional (Nesterov) momentum: v = μv + (1−dampening)g; θ −= lr·v. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(opts?: SGDOptions) {
    const o = options('SGD options', opts, ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay']);
    super(o.lr === undefined ? 0.01 : (o.lr as number));
    this.momentum = o.momentum === undefined ? 0 : number('momentum', o.momentum, 0);
    this.dampening = o.dampening === undefined ? 0 : number('dampening', o.dampening, 0, 1);
    this.nesterov = o.nesterov === undefined ? false : boolean('nesterov', o.nesterov);
    this.weightDecay = o.weightDecay === undefined ? 0 : number('weightDecay', o.weightDecay, 0);
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0)) {
      throw new ArgumentRangeError('Nesterov momentum needs momentum > 0 and dampening = 0 (as torch.optim.SGD)');
    }
  }

  toSpec(): OptimizerSpec {
    return { kind: 'sgd', lr: this.lr, momentum: this.momentum, dampening: this.dampening,
      nesterov: this.nesterov, weightDecay: this.weightDecay, ...NO_ADAM };
  }
}

export interface AdamOptions {
  lr?: number;                // 1e-3
  betas?: [number, number];   // [0.9, 0.999]
  eps?: number;               // 1e-8, outside the square root
  weightDecay?: number;       // Adam: 0 (coupled L2); AdamW: 0.01 (decoupled)
}

/** Adam (Kingma & Ba 2015) with PyTorch's bias correction and ε placement. */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly kind: 'adam' | 'adamw' = 'adam';

  constructor(opts?: AdamOptions, defaultWeightDecay = 0) {
    const o = options('Adam options', opts, ['lr', 'betas', 'eps', 'weightDecay']);
    super(o.lr === undefined ? 1e-3 : (o.lr as number));
    if (o.betas === undefined) {
      this.betas = [0.9, 0.999];
    } else {
      if (!Array.isArray(o.betas)) throw typeError('betas', 'a pair [beta1, beta2]', o.betas);
      if (o.betas.length !== 2) throw rangeError('betas', 'a pair [beta1, beta2]', o.betas);
      this.betas = [number('betas[0]', o.betas[0], 0, 1, { maxExclusive: true }),
        number('betas[1]', o.betas[1], 0, 1, { maxExclusive: true })];
    }
    this.eps = o.eps === undefined ? 1e-8 : number('eps', o.eps, 0, Infinity, { minExclusive: true });
    this.weightDecay = o.weightDecay === undefined ? defaultWeightDecay : number('weightDecay', o.weightDecay, 0);
  }

  toSpec(): OptimizerSpec {
    return { kind: this.kind, lr: this.lr, beta1: this.betas[0], beta2: this.betas[1], eps: this.eps,
      weightDecay: this.weightDecay, ...NO_MOMENTUM };
  }
}

/** AdamW (Loshchilov & Hutter 2019): decoupled weight decay θ −= lr·λθ, λ = 0.01 by default. */
export class AdamW extends Adam {
  protected override readonly kind = 'adamw';

  constructor(opts?: AdamOptions) {
    super(opts, 0.01);
  }
}

export const OPTIMIZER_NAMES = ['sgd', 'adam', 'adamw'] as const;

/** An Optimizer from compile()'s `optimizer`: an instance, or a name with defaults. */
export function resolveOptimizer(value: unknown, name = 'optimizer'): Optimizer {
  if (value instanceof Optimizer) return value;
  if (typeof value === 'string') {
    const n = oneOf(name, value, OPTIMIZER_NAMES);
    return n === 'sgd' ? new SGD() : n === 'adam' ? new Adam() : new AdamW();
  }
  throw typeError(name, "an optimizer ('sgd', 'adam', 'adamw' or an optim.* instance)", value);
}
