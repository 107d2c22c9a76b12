// `fastmlp train data.csv --stream`: training on a CSV larger than memory.
// The file is read in passes through data.csvBatches, a batch of rows at a
// time, and no pass holds more than one batch:
//   1. csvBatches' own first pass, for a class target only (it learns the labels);
//   2. the statistics: the training rows' per-column mean and σ (Chan et al.'s
//      pairwise merge, stream-stats.ts), the target's mean and σ (regression)
//      or its distinct values (numbers read as classes), the part sizes;
//   3. one pass per epoch, the training rows standardised on the fly, fit
//      shuffling rows within each batch read (fit-stream.ts);
//      plus one pass per epoch over the validation rows (evaluate, batch-weighted);
//   4. one pass over the test rows with the final (folded) model.
// The parts come from the row-hash split (stream-stats.ts rowPartOf): each
// row's part follows from its number and --seed, so passes agree without a
// row list and runs are reproducible.
import { promises as fs } from 'node:fs';
import { csvBatches, type CsvBatches, type CsvStreamInfo } from '../data/csv-stream';
import { Dense } from '../layers';
import { Matrix } from '../matrix';
import { confusionMatrix } from '../metrics';
import type { Optimizer } from '../optim';
import { Sequential } from '../sequential';
import type { ActivationName } from '../engine';
import type { Callback, EpochLogs } from '../callbacks';
import type { CliLoss } from './train';
import { CliError } from './args';
import { foldInputScaling, foldOutputScaling } from './fold';
import { curvesSvg, panelsFromHistory } from './plot';
import { progressCallback } from './progress';
import { StreamingMoments, rowPartOf, scaledRows, type Part } from './stream-stats';
import { classReport, valueReport } from './train-report';

/** Rows read from the file per batch (fit then trains them in --batch-size steps, shuffled within). */
export const STREAM_CHUNK_ROWS = 8192;
/** A numeric target with at most this many distinct integers counts as classes under --task auto. */
const MAX_AUTO_CLASSES = 20;
/** Distinct numeric target values kept while counting classes (--task classification). */
const MAX_NUMERIC_CLASSES = 65_536;

export interface StreamRun {
  dataPath: string;
  /** How the data is named in the output. */
  source: string;
  header: boolean;
  delimiter: string;
  target: string | number;
  targetKind: 'auto' | 'class';
  targetNote: string | null;
  /** 'classification' | 'regression' when --task or --loss decides, else null (decided from the target). */
  wanted: 'classification' | 'regression' | null;
  loss: CliLoss;
  valSplit: number;
  testSplit: number;
  seed: number;
  epochs: number;
  batchSize: number;
  hidden: number[];
  activation: ActivationName;
  optimizer: Optimizer;
  optimizerText: string;
  engine: 'auto' | 'native' | 'js';
  outPath: string;
  svgPath: string;
  /** Turns a reading failure into the CLI's error (hints, the --target flag's name). */
  readError: (e: unknown) => Promise<unknown>;
}

const PART_CODE: Record<Part, number> = { train: 0, val: 1, test: 2 };

interface TargetCoding {
  kind: 'classification' | 'regression';
  classNames: string[] | null;
  /** A numeric target read as classes: value → class index. */
  valueIndex: Map<number, number> | null;
}

export async function trainStreamed(run: StreamRun, out: NodeJS.WritableStream & { isTTY?: boolean }): Promise<void> {
  const reader = csvBatches(run.dataPath, { header: run.header, target: run.target, delimiter: run.delimiter,
    targetKind: run.targetKind, batchSize: STREAM_CHUNK_ROWS });
  const info = await reader.info().catch(async (e: unknown) => { throw await run.readError(e); });
  const partOf = rowPartOf(run.seed, run.valSplit, run.testSplit);
  /** Fills codes[r] with the part of the batch's row r (data row row0 + r). */
  const partsOf = (row0: number, rows: number, codes: Uint8Array) => {
    for (let r = 0; r < rows; r++) codes[r] = PART_CODE[partOf(row0 + r)];
  };

  // Pass 2: statistics of the training rows, part sizes, the target's values.
  const cols = info.columns.length;
  const xMoments = new StreamingMoments(cols);
  const yMoments = new StreamingMoments(1);
  const sizes = [0, 0, 0];
  const distinct = new Set<number>();
  let integers = true;
  const codes = new Uint8Array(STREAM_CHUNK_ROWS);
  const train = new Uint8Array(STREAM_CHUNK_ROWS);
  await eachBatch(reader, run, (x, y, row0) => {
    partsOf(row0, x.rows, codes);
    for (let r = 0; r < x.rows; r++) { sizes[codes[r]!]!++; train[r] = codes[r] === 0 ? 1 : 0; }
    xMoments.add(x.data, x.rows, train);
    if (info.targetKind === 'value') {
      yMoments.add(y!, x.rows, train);
      for (let r = 0; r < x.rows && distinct.size <= MAX_NUMERIC_CLASSES; r++) {
        distinct.add(y![r]!);
        if (!Number.isInteger(y![r]!)) integers = false;
      }
    }
  });
  const rows = sizes[0]! + sizes[1]! + sizes[2]!;
  if (sizes[0] === 0) throw new CliError(`the row-hash split left no training rows of ${rows} (--val-split ${run.valSplit}, --test-split ${run.testSplit})`, 1);
  const coding = targetCoding(info, run.wanted, distinct, integers);
  const regression = coding.kind === 'regression';
  const lossName = run.loss !== 'auto' ? run.loss : regression ? 'mse' : 'cross-entropy';
  if (!regression && lossName !== 'cross-entropy') throw new CliError(`--loss ${lossName} needs a numeric target; '${info.target}' is a class target`);
  if (regression && lossName === 'cross-entropy') throw new CliError(`--loss cross-entropy needs a class target; '${info.target}' is numeric`);
  const { mean, scale } = xMoments.scaling();
  const yMean = regression ? yMoments.mean[0]! : 0;
  const yScale = regression ? Math.sqrt(yMoments.variance()[0]!) || 1 : 1;

  const classes = coding.classNames?.length ?? 0;
  const widths = [cols, ...run.hidden, regression ? 1 : classes];
  const layers = widths.slice(1).map((w, i) => new Dense(widths[i]!, w, i < run.hidden.length ? { activation: run.activation } : {}));
  const model = new Sequential(layers, { engine: run.engine, seed: run.seed });
  model.compile({ loss: lossName, optimizer: run.optimizer, metrics: regression ? ['mae'] : ['accuracy'] });

  out.write(`data: ${run.source}: ${rows} rows, ${cols} features, target '${info.target}' ` +
    `(${regression ? 'regression' : `${classes} classes`}), streamed ${STREAM_CHUNK_ROWS} rows at a time\n`);
  if (run.targetNote) out.write(run.targetNote);
  out.write(`split: ${sizes[0]} train, ${sizes[1]} validation, ${sizes[2]} test (seed ${run.seed}, row-hash split)\n`);
  out.write(`model: ${widths.join('-')} ${run.activation}, ${model.paramCount} parameters, ${lossName}, ${run.optimizerText}, engine ${model.engine}\n`);
  if (regression) out.write('(per-epoch loss and mae are in standardised target units)\n');

  /** The rows of one part, standardised, with their targets as fit takes them. */
  const partChunks = (part: Part) => async function* (): AsyncGenerator<{ x: Matrix; y: Int32Array | Matrix }> {
    const keep = new Uint8Array(STREAM_CHUNK_ROWS);
    let row0 = 0;
    for await (const batch of reader) {
      partsOf(row0, batch.x.rows, codes);
      let n = 0;
      for (let r = 0; r < batch.x.rows; r++) n += keep[r] = codes[r] === PART_CODE[part] ? 1 : 0;
      row0 += batch.x.rows;
      if (n === 0) continue;
      const x = new Matrix(n, cols, scaledRows(batch.x, keep, n, mean, scale));
      yield { x, y: targetRows(batch.y!, keep, n, coding, yMean, yScale) };
    }
  };

  const valHistory: Record<string, number[]> = {};
  const progress = progressCallback(out);
  const callbacks: Callback[] = [sizes[1]! > 0 ? withStreamedValidation(progress, model, partChunks('val'), valHistory) : progress];
  const t0 = performance.now();
  let history;
  try {
    history = await model.fit(partChunks('train'), { epochs: run.epochs, batchSize: run.batchSize, shuffle: true, callbacks });
  } catch (e) {
    throw await run.readError(e);
  }
  out.write(`trained ${run.epochs} epochs in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);

  foldInputScaling(model, { mean, scale });
  if (regression) foldOutputScaling(model, yMean, yScale);
  if (sizes[2]! > 0) out.write(await streamedTest(model, reader, run, partsOf, coding, cols));

  const metadata: Record<string, string> = {
    task: coding.kind,
    target: info.target ?? '',
    columns: JSON.stringify(info.columns),
    header: String(run.header),
    delimiter: run.delimiter,
    inputs: 'raw columns (standardisation folded into layer 0)',
  };
  if (coding.classNames) metadata['classes'] = JSON.stringify(coding.classNames);
  await model.save(run.outPath, { metadata });
  await fs.writeFile(run.svgPath, curvesSvg(panelsFromHistory({ ...history.history, ...valHistory }), `fastmlp train --stream: ${run.source}`));
  out.write(`saved ${run.outPath} and ${run.svgPath}\n`);
}

/** Every batch of the file with its first data row's number; reading errors as the CLI reports them. */
async function eachBatch(reader: CsvBatches, run: StreamRun,
  visit: (x: Matrix, y: Int32Array | Float64Array | null, row0: number) => void): Promise<void> {
  let row0 = 0;
  try {
    for await (const { x, y } of reader) {
      visit(x, y, row0);
      row0 += x.rows;
    }
  } catch (e) {
    throw await run.readError(e);
  }
}

/** Classification or regression, as the in-memory path decides it (train.ts taskOf), from streamed facts. */
function targetCoding(info: CsvStreamInfo, wanted: 'classification' | 'regression' | null, distinct: Set<number>, integers: boolean): TargetCoding {
  if (info.targetKind === 'class') {
    const names = info.classNames!;
    if (wanted === 'regression') throw new CliError(`target '${info.target}' holds text labels such as '${names[0]}'; regression needs numbers`);
    return { kind: 'classification', classNames: names, valueIndex: null };
  }
  const asClasses = wanted === 'classification' || (wanted === null && integers && distinct.size <= MAX_AUTO_CLASSES);
  if (!asClasses) return { kind: 'regression', classNames: null, valueIndex: null };
  if (distinct.size > MAX_NUMERIC_CLASSES) throw new CliError(`target '${info.target}' has more than ${MAX_NUMERIC_CLASSES} distinct values; too many classes`, 1);
  const sorted = [...distinct].sort((a, b) => a - b);
  if (sorted.length < 2) throw new CliError(`target '${info.target}' has a single class (${sorted[0]}); nothing to learn`);
  return { kind: 'classification', classNames: sorted.map(String), valueIndex: new Map(sorted.map((v, i) => [v, i])) };
}

/** The kept rows' targets: class indices, or a standardised value column. */
function targetRows(y: Int32Array | Float64Array, keep: Uint8Array, n: number, coding: TargetCoding,
  yMean: number, yScale: number): Int32Array | Matrix {
  const regression = coding.kind === 'regression';
  const classes = regression ? null : new Int32Array(n);
  const values = regression ? new Float32Array(n) : null;
  let o = 0;
  for (let r = 0; r < keep.length && o < n; r++) {
    if (!keep[r]) continue;
    const v = y[r]!;
    if (values) values[o++] = (v - yMean) / yScale;
    else classes![o++] = coding.valueIndex ? coding.valueIndex.get(v)! : v;
  }
  return values ? new Matrix(n, 1, values) : classes!;
}

/**
 * Validation without holding the validation rows: after each epoch, one pass
 * over them, model.evaluate per batch, the means weighted by batch rows (the
 * losses and metrics are means over rows, so this is the whole part's mean).
 * The figures go to `progress`'s epoch line (each callback gets its own copy
 * of the logs, so the validation wraps the progress callback rather than
 * running before it) and to `history` for the SVG's curves: fit's own
 * History only knows validationData, which must be held in memory.
 */
function withStreamedValidation(progress: Callback, model: Sequential,
  chunks: () => AsyncIterable<{ x: Matrix; y: Int32Array | Matrix }>, history: Record<string, number[]>): Callback {
  return {
    ...progress,
    async onEpochEnd(epoch: number, logs: EpochLogs) {
      const sums: Record<string, number> = {};
      let rows = 0;
      for await (const { x, y } of chunks()) {
        const scores = model.evaluate(x, y) as Record<string, number>;
        for (const [k, v] of Object.entries(scores)) sums[k] = (sums[k] ?? 0) + v * x.rows;
        rows += x.rows;
      }
      const merged: EpochLogs = { ...logs };
      for (const [k, v] of Object.entries(sums)) {
        merged[`val_${k}`] = v / rows;
        (history[`val_${k}`] ??= []).push(v / rows);
      }
      await progress.onEpochEnd?.(epoch, merged);
    },
  };
}

/** The test rows through the final (raw-input) model: accuracy and confusion matrix, or MAE/RMSE/R² in raw units. */
async function streamedTest(model: Sequential, reader: CsvBatches, run: StreamRun,
  partsOf: (row0: number, rows: number, codes: Uint8Array) => void, coding: TargetCoding, cols: number): Promise<string> {
  const codes = new Uint8Array(STREAM_CHUNK_ROWS);
  const keep = new Uint8Array(STREAM_CHUNK_ROWS);
  const none = { mean: new Float64Array(cols), scale: new Float64Array(cols).fill(1) };
  const classes = coding.classNames?.length ?? 0;
  const cm = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const truth = new StreamingMoments(1);
  let rows = 0;
  let absSum = 0;
  let sqSum = 0;
  await eachBatch(reader, run, (x, y, row0) => {
    partsOf(row0, x.rows, codes);
    let n = 0;
    for (let r = 0; r < x.rows; r++) n += keep[r] = codes[r] === PART_CODE.test ? 1 : 0;
    if (n === 0) return;
    const pred = model.predict(new Matrix(n, cols, scaledRows(x, keep, n, none.mean, none.scale)));
    rows += n;
    if (coding.kind === 'classification') {
      const part = confusionMatrix(pred, targetRows(y!, keep, n, coding, 0, 1) as Int32Array);
      part.forEach((row, i) => row.forEach((v, j) => { cm[i]![j]! += v; }));
      return;
    }
    truth.add(y!, x.rows, keep);
    let o = 0;
    for (let r = 0; r < x.rows; r++) {
      if (!keep[r]) continue;
      const e = pred.data[o++]! - y![r]!;
      absSum += Math.abs(e);
      sqSum += e * e;
    }
  });
  if (coding.kind === 'classification') return classReport(cm, coding.classNames!, rows);
  const total = truth.variance()[0]! * truth.count;
  return valueReport(rows, absSum / rows, Math.sqrt(sqSum / rows), total === 0 ? (sqSum === 0 ? 1 : 0) : 1 - sqSum / total);
}
