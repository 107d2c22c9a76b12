// The `optim` namespace as users see it.
export { Optimizer, SGD, Adam, AdamW } from './optim';
export type { SGDOptions, AdamOptions } from './optim';
