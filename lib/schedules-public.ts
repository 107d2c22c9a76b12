// The `schedules` namespace as users see it.
export { step, exponential, linearWarmup, cosine, oneCycle, reduceOnPlateau, Schedule, ReduceOnPlateau } from './schedules';
export type {
  LrHolder, Stepping, StepOptions, ExponentialOptions, LinearWarmupOptions, CosineOptions, OneCycleOptions,
  ReduceOnPlateauOptions,
} from './schedules';
