// The `callbacks` namespace as users see it.
export {
  earlyStopping, modelCheckpoint, terminateOnNaN, csvLogger, lambda, progress, progressBar,
  EarlyStopping, ModelCheckpoint, TerminateOnNaN, CsvLogger, ProgressLogger, ProgressBar,
} from './callbacks';
export type {
  Callback, CallbackModel, SavableModel, Logs, EpochLogs, BatchBeginLogs, BatchLogs, TrainingParams, EarlyStoppingOptions, ModelCheckpointOptions,
  CsvLoggerOptions, ProgressOptions, ProgressBarOptions,
} from './callbacks';
