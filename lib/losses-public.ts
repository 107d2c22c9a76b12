// The `losses` namespace as users see it.
export { Loss, create, lossFromConfig, LOSS_NAMES as names } from './losses';
export type { LossFunction, LossOptions, LossValue, LossNameOrAlias, LossConfig } from './losses';
export { inverseFrequencyWeights, classBalancedWeights } from './class-weights';
