// The `optim` namespace as users see it.
export { Optimizer, SGD, Adagrad, RMSprop, Adam, AdamW } from './optim';
export type { SGDOptions, AdagradOptions, RMSpropOptions, AdamOptions, ClipOptions } from './optim';
