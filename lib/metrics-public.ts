// The `metrics` namespace as users see it.
export {
  accuracy, binaryAccuracy, topKAccuracy, mae, mse, rmse, r2, precision, recall, f1, confusionMatrix, logLoss,
  METRIC_NAMES,
} from './metrics';
export type { Average, ClassificationOptions, MetricName } from './metrics';
