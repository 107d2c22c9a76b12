// The `optim` namespace as users see it.
export { Optimizer, SGD, Adam, AdamW, optimizerFromConfig, registerOptimizer } from './optim';
export type { SGDOptions, AdamOptions, OptimizerConfig } from './optim';
