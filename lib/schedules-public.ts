// The `schedules` namespace as users see it.
export { step, exponential, linearWarmup, cosine, reduceOnPlateau, Schedule, ReduceOnPlateau } from './schedules';
export { oneCycle } from './schedules-onecycle';
export { multiStep, cosineWarmRestarts } from './schedules-milestones';
export { sequential, SequentialSchedule } from './schedules-sequential';
export type {
  LrHolder, Stepping, StepOptions, ExponentialOptions, LinearWarmupOptions, CosineOptions,
  ReduceOnPlateauOptions,
} from './schedules';
export type { OneCycleOptions } from './schedules-onecycle';
export type { MultiStepOptions, CosineWarmRestartsOptions } from './schedules-milestones';
export type { SequentialOptions } from './schedules-sequential';
