// The `losses` namespace as users see it.
export { Loss, create, lossFromConfig, LOSS_NAMES as names } from './losses';
export type { LossFunction, LossOptions, LossConfig } from './losses';
