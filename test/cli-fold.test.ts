// Folding standardisation into the weights (lib/cli/fold.ts): the folded model
// on raw inputs gives what the unfolded one gives on standardised inputs, and
// the output fold maps standardised predictions back to target units.
import { describe, expect, it } from 'vitest';
import { Dense } from '../lib/layers';
import { Matrix } from '../lib/matrix';
import { Sequential } from '../lib/sequential';
import { StandardScaler } from '../lib/data/preprocess';
import { foldInputScaling, foldOutputScaling } from '../lib/cli/fold';
import { ENGINES, randomArray } from './helpers';

// Columns on very different scales and offsets, as raw CSV columns often are.
const raw = new Matrix(20, 3, Float64Array.from(randomArray(60, 5), (v, i) => [1000 + 300 * v, 0.01 * v, -50 + 7 * v][i % 3]!));

describe.each(ENGINES)('fold (%s engine)', (engine) => {
  const build = () => new Sequential([new Dense(3, 6, { activation: 'tanh' }), new Dense(6, 2)],
    { engine, seed: 9, dtype: 'float64' });

  it('input fold: folded(x) = original((x − μ)/σ)', () => {
    const scaler = new StandardScaler().fit(raw);
    const original = build();
    const want = original.predict(scaler.transform(raw)).data;
    const folded = build();
    foldInputScaling(folded, scaler);
    const got = folded.predict(raw).data;
    expect(got.length).toBe(want.length);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 9));
    // and it really changed the weights (the scales are far from 1)
    expect(folded.getWeights()['0.weight']![0]).not.toBeCloseTo(original.getWeights()['0.weight']![0]!, 3);
  });

  it('output fold: folded(h) = s·original(h) + m', () => {
    const original = build();
    const x = new Matrix(20, 3, randomArray(60, 8) as Float64Array);
    const want = original.predict(x).data;
    const folded = build();
    foldOutputScaling(folded, 250, 12.5);
    folded.predict(x).data.forEach((v, i) => expect(v).toBeCloseTo(12.5 * want[i]! + 250, 8));
  });

  it('refuses a scaling whose width does not match the first Dense layer', () => {
    const scaler = new StandardScaler().fit(new Matrix(4, 2, new Float64Array([1, 2, 3, 4, 5, 6, 7, 9])));
    expect(() => foldInputScaling(build(), scaler)).toThrow(/first layer must be a Dense layer/);
  });
});
