// The `optim` namespace as users see it.
export { Optimizer, SGD, Adagrad, RMSprop, Adam, AdamW, optimizerFromConfig, registerOptimizer } from './optim';
export type { SGDOptions, AdagradOptions, RMSpropOptions, AdamOptions, ClipOptions, OptimizerConfig, OptimizerChoice } from './optim';
