// fastmlp's public API: everything a user imports comes from here.
export { Matrix } from './matrix';
export type { MatrixLike, RowLike, InputLike } from './matrix';
export { Layer, Dense, Activation, Dropout, BatchNorm1d, LayerNorm, PReLU, layerFromConfig, registerLayer } from './layers';
export type { DenseOptions, ActivationOption, ActivationConfig, LayerConfig, Regularizer } from './layers';
// What a custom Layer subclass implements: toSpecs (the engine's ops), params, initParams (the model's generator).
export type { LayerSpec } from './engine';
export type { ParamShape } from './layer';
export type { Rng } from './rng';
export type { BatchNormOptions, LayerNormOptions, PReLUOptions } from './layers-regularise';
export * as init from './init-public';
export { Sequential } from './sequential';
export type { SequentialOptions, CompileOptions, FitOptions, History, Logs } from './sequential';
export type { PredictAsyncOptions, EvaluateAsyncOptions, StreamChunk, StreamSource } from './sequential';
export type { EpochLogs, BatchLogs, BatchBeginLogs } from './callbacks';
export { AbortError } from './abort-error';
export { backend, setThreads } from './backend';
export type { BackendInfo, EngineChoice, Isa } from './backend';
export type { Dtype, FloatArray } from './engine';
export type { TargetLike } from './targets';
export * as optim from './optim-public';
export * as losses from './losses-public';
export * as ops from './ops';
export * as metrics from './metrics-public';
export * as models from './models';
export * as io from './io/index';
export * as schedules from './schedules-public';
export * as callbacks from './callbacks-public';
export * as data from './data-public';
