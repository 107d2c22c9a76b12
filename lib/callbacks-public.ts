// The `callbacks` namespace as users see it.
export {
  earlyStopping, modelCheckpoint, terminateOnNaN, csvLogger, lambda, progress,
  EarlyStopping, ModelCheckpoint, TerminateOnNaN, CsvLogger, ProgressLogger,
} from './callbacks';
export type {
  Callback, CallbackModel, SavableModel, Logs, TrainingParams, EarlyStoppingOptions, ModelCheckpointOptions,
  CsvLoggerOptions, ProgressOptions,
} from './callbacks';
