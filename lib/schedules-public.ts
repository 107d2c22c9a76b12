// The `schedules` namespace as users see it.
export { step, exponential, linearWarmup, cosine, oneCycle, reduceOnPlateau, Schedule, ReduceOnPlateau } from './schedules';
export { multiStep, cosineWarmRestarts } from './schedules-milestones';
export { sequential } from './schedules-sequential';
export type {
  LrHolder, Stepping, StepOptions, ExponentialOptions, LinearWarmupOptions, CosineOptions, OneCycleOptions,
  ReduceOnPlateauOptions,
} from './schedules';
export type { MultiStepOptions, CosineWarmRestartsOptions } from './schedules-milestones';
export type { SequentialOptions } from './schedules-sequential';
