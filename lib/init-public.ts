// The initialiser factories users import as `init`: init.normal(0, 0.05), ...
export { constant, normal, orthogonal, uniform, zeros, WEIGHT_INITS } from './init';
export { calculateGain, kaimingNormal, kaimingUniform, torchLinear, xavierNormal, xavierUniform } from './init-torch';
export type { InitConfig, Initializer, WeightInit } from './init';
export type { FanMode, GainNonlinearity, KaimingOptions } from './init-torch';
