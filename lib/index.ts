// fastmlp's public API: everything a user imports comes from here.
export { Matrix } from './matrix';
export type { MatrixLike } from './matrix';
export { Layer, Dense, Activation } from './layers';
export type { DenseOptions, ActivationOption, ActivationConfig } from './layers';
export { Sequential } from './sequential';
export type { SequentialOptions, CompileOptions, FitOptions, History, Logs } from './sequential';
export { backend, setThreads } from './backend';
export type { BackendInfo, EngineChoice } from './backend';
export type { Dtype, FloatArray } from './engine';
export type { TargetLike } from './targets';
export * as optim from './optim-public';
export * as losses from './losses-public';
export * as ops from './ops';
export * as metrics from './metrics-public';
