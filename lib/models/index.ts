// The classic models of the notes (SPEC.md §6), beside the MLP: fastmlp's `models` namespace.
export { Perceptron } from './perceptron';
export type { PerceptronOptions, PerceptronFitResult } from './perceptron';
export { Adaline } from './adaline';
export type { AdalineOptions, AdalineFitResult } from './adaline';
export { LogisticRegression, SoftmaxRegression } from './logistic';
export type { LinearClassifierOptions, SoftmaxRegressionOptions, LinearFitResult } from './logistic';
export { ProjectionPursuitRegressor } from './projection-pursuit';
export type { ProjectionPursuitOptions, ProjectionPursuitTerm, ProjectionPursuitFitResult } from './projection-pursuit';
export { load, fromBuffer, fromJSON } from './persist';
export type { ClassicModel, ClassicLoadOptions, ClassicModelJSON, ClassicModelName } from './persist';
