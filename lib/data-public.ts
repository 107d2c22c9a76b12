// The `data` namespace as users see it.
export { StandardScaler, MinMaxScaler, oneHot } from './data/preprocess';
export type { MinMaxOptions, OneHotOptions } from './data/preprocess';
export { permutation, shuffle, trainTestSplit, trainValTestSplit, batches } from './data/split';
export type { Labels, SeedOptions, SplitOptions, Split, ThreeWaySplitOptions, ThreeWaySplit, BatchOptions } from './data/split';
export { parseCsv, loadCsv, loadDigits, loadIris, loadBreastCancer } from './data/csv';
export type { CsvOptions, CsvData, Dataset } from './data/csv';
export { csvBatches, CsvBatches, MAX_SCANNED_LABELS } from './data/csv-stream';
export type { CsvBatchOptions, CsvBatch, CsvStreamInfo } from './data/csv-stream';
