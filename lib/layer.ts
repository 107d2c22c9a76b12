// The base class of every layer, and the shapes it describes: a layer knows
// its plan ops, its parameter and buffer tensors (PyTorch state_dict names),
// how to initialise its parameters, and its configuration as plain JSON.
import type { FloatArray, LayerSpec } from './engine';
import type { Rng } from './rng';
import { runSteps, type Steps } from './steps';

/** One named tensor of a layer, as in PyTorch's state_dict. */
export interface ParamShape {
  name: string;
  shape: number[];
}

/** A layer's configuration as plain JSON: `type` names the class, the rest its arguments. */
export type LayerConfig = { type: string } & Record<string, unknown>;

export abstract class Layer {
  /** Plan ops for this layer, given the width of its input. */
  abstract toSpecs(inFeatures: number): LayerSpec[];
  /** Width of the output for a given input width. */
  abstract outFeatures(inFeatures: number): number;
  /** Learnable parameter tensors in plan order (empty for parameter-free layers). */
  params(): ParamShape[] {
    return [];
  }
  /** Non-learnable state tensors (batch-norm running statistics), in plan order. */
  buffers(): ParamShape[] {
    return [];
  }
  /**
   * Fills this layer's parameters (views in params() order) with their initial
   * values. `next` is the layer after it in the model, if any (a Dense's default
   * initialiser depends on the activation that follows it).
   */
  initParams(views: FloatArray[], rng: Rng, next?: Layer): void {
    runSteps(this.initParamsSteps(views, rng, next));
  }
  /**
   * initParams as bounded steps (lib/steps.ts), which `Sequential.create` runs
   * with the event loop let in between: the built-in layers override this one,
   * so both ways give the same values. A layer that overrides initParams
   * instead is initialised by it, whole, in both ways.
   */
  *initParamsSteps(_views: FloatArray[], _rng: Rng, _next?: Layer): Steps<void> {}
  /** Width this layer requires as input, or null when it takes any. */
  get inFeatures(): number | null {
    return null;
  }
  abstract describe(): string;
  /**
   * The constructor arguments as plain JSON, e.g. { type: 'Dropout', p: 0.5 };
   * layerFromConfig (lib/layers.ts) rebuilds the layer from it. A layer class
   * without one cannot be saved, and says so.
   */
  getConfig(): LayerConfig {
    throw new Error(`${this.describe()} cannot be serialised: its class defines no getConfig()`);
  }
}

/**
 * The steps that initialise layer's parameters: its initParamsSteps, or its
 * own initParams run whole when it (or a class between it and Layer)
 * overrides that.
 */
export function* layerInitSteps(layer: Layer, views: FloatArray[], rng: Rng, next?: Layer): Steps<void> {
  if (layer.initParams === Layer.prototype.initParams) yield* layer.initParamsSteps(views, rng, next);
  else layer.initParams(views, rng, next);
}
