// data.loadBreastCancer() against scikit-learn 1.2's load_breast_cancer()
// (summary in fixtures/breast_cancer_reference.json, made by
// breast_cancer_reference.py), its options, and training on it in both engines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, Sequential, data, optim } from '../lib';
import { ENGINES } from './helpers';

const sk = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'breast_cancer_reference.json'), 'utf8')) as {
  feature_names: string[]; target_names: string[]; shape: [number, number]; first_row: number[]; last_row: number[];
  column_sums: number[]; class_counts: number[]; first_targets: number[];
};

describe('data.loadBreastCancer', () => {
  it("matches scikit-learn's load_breast_cancer: names, shape, rows, column sums and classes", () => {
    const bc = data.loadBreastCancer({ dtype: 'float64' });
    expect(bc.columns).toEqual(sk.feature_names);
    expect(bc.classNames).toEqual(sk.target_names);
    expect([bc.x.rows, bc.x.cols]).toEqual(sk.shape);
    expect(bc.x.dtype).toBe('float64');
    const rows = bc.x.toArray();
    expect(rows[0]).toEqual(sk.first_row);                  // float64: the file's decimals exactly as numpy reads them
    expect(rows[rows.length - 1]).toEqual(sk.last_row);
    const sums = sk.column_sums.map((_, c) => rows.reduce((s, r) => s + r[c]!, 0));
    sums.forEach((s, c) => expect(s).toBeCloseTo(sk.column_sums[c]!, 6));
    expect(bc.y).toBeInstanceOf(Int32Array);
    expect(sk.class_counts.map((_, k) => bc.y.filter((v) => v === k).length)).toEqual(sk.class_counts);
    expect(Array.from(bc.y.slice(0, 20))).toEqual(sk.first_targets);
  });

  it('has the shape loadIris has, float32 by default, and the same rows loadCsv reads from the file', async () => {
    const bc = data.loadBreastCancer();
    expect(Object.keys(bc).sort()).toEqual(Object.keys(data.loadIris()).sort());
    expect(bc.x.dtype).toBe('float32');
    expect(bc.x.get(0, 0)).toBe(Math.fround(sk.first_row[0]!));
    const csv = await data.loadCsv(join(__dirname, '..', 'data', 'breast_cancer.csv'), { target: -1 });
    expect(Array.from(csv.x.data)).toEqual(Array.from(bc.x.data));
    expect(Array.from(csv.y!)).toEqual(Array.from(bc.y));
  });

  it('rejects bad options, naming them', () => {
    expect(() => data.loadBreastCancer({ dtype: 'int8' } as never)).toThrow(/dtype/);
    expect(() => data.loadBreastCancer({ scale: true } as never)).toThrow(/Unknown option 'scale'/);
    expect(() => data.loadBreastCancer(5 as never)).toThrow(TypeError);
  });
});

describe.each(ENGINES)('breast cancer trains (%s engine)', (engine) => {
  it('stratified split, standardised on the training part: > 93 % test accuracy', async () => {
    const bc = data.loadBreastCancer();
    const split = data.trainTestSplit(bc.x, bc.y, { testSize: 0.2, seed: 0, stratify: true });
    const scaler = new data.StandardScaler().fit(split.xTrain);
    const m = new Sequential([new Dense(30, 16, { activation: 'relu' }), new Dense(16, 2)], { engine, seed: 1 });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 0.01 }), metrics: ['accuracy'] });
    await m.fit(scaler.transform(split.xTrain), split.yTrain, { epochs: 30, batchSize: 32 });
    expect(m.evaluate(scaler.transform(split.xTest), split.yTest)['accuracy']).toBeGreaterThan(0.93);
  });
});
