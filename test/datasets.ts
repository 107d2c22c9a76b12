// The bundled real data sets (data/, see NOTICE) on the fixed splits that
// test/fixtures/classic_reference.py used for its scikit-learn figures, with
// the same preprocessing: digits pixels / 16; iris and breast cancer
// standardised with the training rows' mean and population σ.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export type DatasetName = 'digits' | 'iris' | 'breast_cancer';

export interface Reference {
  rows: number;
  features: number;
  classes: number;
  train: number[];
  test: number[];
  logisticRegressionAccuracy: number;
  mlpClassifierAccuracy: { mean: number; min: number; perSeed: number[] };
}

export interface Split {
  trainX: number[][];
  trainY: number[];
  testX: number[][];
  testY: number[];
  reference: Reference;
}

const ROOT = join(__dirname, '..');

export function referenceFigures(): { sklearn: string; datasets: Record<DatasetName, Reference> } {
  return JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'classic-reference.json'), 'utf8'));
}

/** All rows of a bundled set: features and integer labels (label in the last column). */
export function loadRaw(name: DatasetName): { x: number[][]; y: number[] } {
  const lines = name === 'digits'
    ? gunzipSync(readFileSync(join(ROOT, 'data', 'digits.csv.gz'))).toString('utf8').trim().split('\n')
    : readFileSync(join(ROOT, 'data', name === 'iris' ? 'iris.csv' : 'breast_cancer.csv'), 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((line) => line.split(',').map(Number));
  return { x: rows.map((r) => r.slice(0, -1)), y: rows.map((r) => r[r.length - 1]!) };
}

export function loadSplit(name: DatasetName): Split {
  const reference = referenceFigures().datasets[name];
  const { x, y } = loadRaw(name);
  let scaled: number[][];
  if (name === 'digits') {
    scaled = x.map((r) => r.map((v) => v / 16));
  } else {
    const d = x[0]!.length;
    const mean = new Array<number>(d).fill(0);
    const variance = new Array<number>(d).fill(0);
    for (const i of reference.train) x[i]!.forEach((v, j) => { mean[j]! += v / reference.train.length; });
    for (const i of reference.train) x[i]!.forEach((v, j) => { variance[j]! += (v - mean[j]!) ** 2 / reference.train.length; });
    scaled = x.map((r) => r.map((v, j) => (v - mean[j]!) / (Math.sqrt(variance[j]!) || 1)));
  }
  return {
    trainX: reference.train.map((i) => scaled[i]!), trainY: reference.train.map((i) => y[i]!),
    testX: reference.test.map((i) => scaled[i]!), testY: reference.test.map((i) => y[i]!),
    reference,
  };
}

/** Deterministic standard normal draws (Box–Muller over a small LCG; tests only). */
export function gaussianSource(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}
