// Initialisers (SPEC.md §5): sample statistics against each formula, the
// orthogonal initialiser's WᵀW = I, seeded bit-identical weights in both
// engines, the default per activation, bad arguments, and the SPEC §7
// behaviour "zero init keeps hidden units identical (symmetry)" in both engines.
import { describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, init, optim } from '../lib';
import { fillInit, resolveInit, type InitConfig } from '../lib/init';
import { Rng } from '../lib/rng';
import { ENGINES, randomArray } from './helpers';

const FAN_IN = 300;
const FAN_OUT = 200;

function sample(config: InitConfig, fanIn = FAN_IN, fanOut = FAN_OUT): Float64Array {
  const out = new Float64Array(fanIn * fanOut);
  fillInit(config, out, fanIn, fanOut, new Rng(17));
  return out;
}

function moments(a: Float64Array): { mean: number; variance: number; min: number; max: number } {
  let s = 0;
  for (const v of a) s += v;
  const mean = s / a.length;
  let q = 0;
  for (const v of a) q += (v - mean) ** 2;
  return { mean, variance: q / a.length, min: Math.min(...a), max: Math.max(...a) };
}

describe('initialiser statistics (60 000 draws each)', () => {
  // [config, expected mean, expected variance, bound of a uniform or null]
  const uniformVar = (b: number) => (b * b) / 3;
  const cases: [string, InitConfig, number, number, number | null][] = [
    ['he-normal', { type: 'he-normal' }, 0, 2 / FAN_IN, null],
    ['he-uniform', { type: 'he-uniform' }, 0, uniformVar(Math.sqrt(6 / FAN_IN)), Math.sqrt(6 / FAN_IN)],
    ['xavier-normal', { type: 'xavier-normal' }, 0, 2 / (FAN_IN + FAN_OUT), null],
    ['xavier-uniform', { type: 'xavier-uniform' }, 0, uniformVar(Math.sqrt(6 / (FAN_IN + FAN_OUT))), Math.sqrt(6 / (FAN_IN + FAN_OUT))],
    ['lecun-normal', { type: 'lecun-normal' }, 0, 1 / FAN_IN, null],
    ['lecun-uniform', { type: 'lecun-uniform' }, 0, uniformVar(Math.sqrt(3 / FAN_IN)), Math.sqrt(3 / FAN_IN)],
    ['normal(0.5, 0.2)', init.normal(0.5, 0.2), 0.5, 0.04, null],
    ['uniform(-1, 3)', init.uniform(-1, 3), 1, 16 / 12, null],
  ];
  for (const [label, config, mean, variance, bound] of cases) {
    it(`${label}: mean and variance match the formula`, () => {
      const m = moments(sample(config));
      // Standard error of the mean is √(var/n) ≈ 0.004·√var; of the variance ≈ 0.006·var.
      expect(Math.abs(m.mean - mean)).toBeLessThan(5 * Math.sqrt(variance / 60000));
      expect(Math.abs(m.variance / variance - 1)).toBeLessThan(0.03);
      if (bound !== null) {
        expect(m.min).toBeGreaterThanOrEqual(-bound);
        expect(m.max).toBeLessThan(bound);
        expect(m.max).toBeGreaterThan(0.99 * bound);
      }
    });
  }

  it('uniform(low, high) stays in [low, high); zeros, ones and constant fill exactly', () => {
    const u = moments(sample(init.uniform(-1, 3)));
    expect(u.min).toBeGreaterThanOrEqual(-1);
    expect(u.max).toBeLessThan(3);
    expect(sample(init.zeros()).every((v) => v === 0)).toBe(true);
    expect(sample({ type: 'ones' }).every((v) => v === 1)).toBe(true);
    expect(sample(init.constant(0.01)).every((v) => v === 0.01)).toBe(true);
  });
});

describe('orthogonal', () => {
  function gram(w: Float64Array, rows: number, cols: number, byColumns: boolean): number {
    // Largest |G − I| entry of WᵀW (byColumns) or WWᵀ.
    const n = byColumns ? cols : rows;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        const k = byColumns ? rows : cols;
        for (let t = 0; t < k; t++) {
          s += byColumns ? w[t * cols + i]! * w[t * cols + j]! : w[i * cols + t]! * w[j * cols + t]!;
        }
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    return worst;
  }

  it('a tall weight (out ≥ in) has orthonormal columns: WᵀW ≈ I', () => {
    const w = new Float64Array(40 * 25);
    fillInit(init.orthogonal(), w, 25, 40, new Rng(3));
    expect(gram(w, 40, 25, true)).toBeLessThan(1e-12);
  });

  it('a wide weight (out < in) has orthonormal rows: WWᵀ ≈ I; gain scales it', () => {
    const w = new Float64Array(10 * 30);
    fillInit(init.orthogonal(2), w, 30, 10, new Rng(3));
    for (let i = 0; i < w.length; i++) w[i] /= 2;
    expect(gram(w, 10, 30, false)).toBeLessThan(1e-12);
  });

  it('a square float32 weight through Dense is orthogonal to float32 precision in both engines, identically', () => {
    const weights = ENGINES.map((engine) => new Sequential([new Dense(16, 16, { weightInit: 'orthogonal' })],
      { engine, seed: 9 }).getWeights()['0.weight']!);
    expect(Array.from(weights[0]!)).toEqual(Array.from(weights[1]!));
    expect(gram(Float64Array.from(weights[0]!), 16, 16, true)).toBeLessThan(1e-6);
  });

  // The textbook form of what init.ts computes (row-major, as it was written
  // first): a seed must keep giving the same orthogonal weights, bit for bit,
  // whatever layout the implementation uses for speed.
  function referenceOrthogonal(rows: number, cols: number, gain: number, rng: Rng): Float64Array {
    const m = Math.max(rows, cols);
    const k = Math.min(rows, cols);
    const a = new Float64Array(m * k);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal();
    for (let j = 0; j < k; j++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p < j; p++) {
          let dot = 0;
          for (let i = 0; i < m; i++) dot += a[i * k + p]! * a[i * k + j]!;
          for (let i = 0; i < m; i++) a[i * k + j] -= dot * a[i * k + p]!;
        }
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += a[i * k + j]! ** 2;
      norm = Math.sqrt(norm);
      for (let i = 0; i < m; i++) a[i * k + j] /= norm;
    }
    const out = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[r * cols + c] = gain * (rows >= cols ? a[r * k + c]! : a[c * k + r]!);
    }
    return out;
  }

  it('gives the reference Gram–Schmidt\'s values bit for bit, tall, wide and square, with a pending normal', () => {
    for (const [rows, cols] of [[1, 1], [1, 9], [9, 1], [33, 17], [17, 33], [64, 64], [130, 70]] as const) {
      for (const pending of [false, true]) {
        const a = new Rng(rows * 100 + cols);
        const b = new Rng(rows * 100 + cols);
        if (pending) { a.normal(); b.normal(); }
        const want = referenceOrthogonal(rows, cols, 1.5, a);
        const got = new Float64Array(rows * cols);
        fillInit(init.orthogonal(1.5), got, cols, rows, b);
        expect(got).toEqual(want);
        expect(b.getState()).toEqual(a.getState());
      }
    }
  });
});

describe('initialisers through Dense', () => {
  it('the same seed gives bit-identical weights in both engines, for every initialiser', () => {
    const configs = ['he-normal', 'he-uniform', 'xavier-normal', 'xavier-uniform', 'lecun-normal', 'lecun-uniform', 'zeros',
      'ones', 'orthogonal', init.normal(1, 2), init.uniform(-3, 3), init.constant(0.5), init.orthogonal(0.5)] as const;
    for (const weightInit of configs) {
      const w = ENGINES.map((engine) => new Sequential([new Dense(5, 7, { weightInit, biasInit: init.normal(0, 0.1) })],
        { engine, seed: 21, dtype: 'float64' }).getWeights());
      expect(Array.from(w[0]!['0.weight']!)).toEqual(Array.from(w[1]!['0.weight']!));
      expect(Array.from(w[0]!['0.bias']!)).toEqual(Array.from(w[1]!['0.bias']!));
    }
  });

  it('defaults: he-normal before relu, xavier-uniform otherwise, bias zeros (SPEC §5)', () => {
    expect(new Dense(3, 4, { activation: 'relu' }).weightInit).toEqual({ type: 'he-normal' });
    expect(new Dense(3, 4, { activation: 'tanh' }).weightInit).toEqual({ type: 'xavier-uniform' });
    expect(new Dense(3, 4).biasInit).toEqual({ type: 'zeros' });
    const m = new Sequential([new Dense(3, 4)], { engine: 'js', seed: 1, dtype: 'float64' });
    expect(Array.from(m.getWeights()['0.bias']!)).toEqual([0, 0, 0, 0]);
    const bound = Math.sqrt(6 / 7);
    expect(Array.from(m.getWeights()['0.weight']!).every((v) => Math.abs(v) < bound)).toBe(true);
  });

  it('an object with parameters and a plain number bias work', () => {
    const m = new Sequential([new Dense(3, 4, { weightInit: { type: 'constant', value: 0.5 }, biasInit: 0.01 })],
      { engine: 'js', seed: 1, dtype: 'float64' });
    expect(Array.from(m.getWeights()['0.weight']!)).toEqual(new Array(12).fill(0.5));
    expect(Array.from(m.getWeights()['0.bias']!)).toEqual(new Array(4).fill(0.01));
  });

  it('bad initialisers throw, naming the argument', () => {
    expect(() => new Dense(2, 2, { weightInit: 'glorot' as never })).toThrow(/weightInit/);
    expect(() => new Dense(2, 2, { weightInit: 3 as never })).toThrow(TypeError);
    expect(() => new Dense(2, 2, { weightInit: { type: 'normal', std: -1 } })).toThrow(/weightInit.std/);
    expect(() => new Dense(2, 2, { weightInit: { type: 'normal', sigma: 1 } as never })).toThrow(/Unknown option 'sigma'/);
    expect(() => new Dense(2, 2, { biasInit: { type: 'constant' } as never })).toThrow(/biasInit.value/);
    expect(() => new Dense(2, 2, { biasInit: Number.NaN })).toThrow(/biasInit/);
    expect(() => init.uniform(1, 0)).toThrow(/for high/);
    expect(() => init.normal(0, -1)).toThrow(/for std/);
    expect(() => init.constant(Number.POSITIVE_INFINITY)).toThrow(/for value/);
    expect(() => resolveInit('w', { type: 'orthogonal', gain: 'x' })).toThrow(TypeError);
  });
});

describe.each(ENGINES)('zero initialisation keeps hidden units identical (SPEC §7, %s engine)', (engine) => {
  it('every hidden unit has the same incoming and outgoing weights after training, though they moved', async () => {
    const m = new Sequential([
      new Dense(4, 6, { activation: 'sigmoid', weightInit: 'zeros' }),
      new Dense(6, 3, { weightInit: 'zeros' }),
    ], { engine, seed: 2, dtype: 'float64' });
    m.compile({ loss: 'cross-entropy', optimizer: new optim.SGD({ lr: 0.5 }) });
    const x = new Matrix(30, 4, randomArray(120, 8, Float64Array), 'float64');
    const y = Int32Array.from({ length: 30 }, (_, i) => i % 3);
    await m.fit(x, y, { epochs: 5, batchSize: 10 });
    const w = m.getWeights();
    const w1 = w['0.weight']!; // 6 × 4: one row per hidden unit
    const w2 = w['1.weight']!; // 3 × 6: one column per hidden unit
    expect(Array.from(w1).some((v) => v !== 0)).toBe(true);
    for (let h = 1; h < 6; h++) {
      for (let j = 0; j < 4; j++) expect(w1[h * 4 + j]).toBe(w1[j]);
      for (let o = 0; o < 3; o++) expect(w2[o * 6 + h]).toBe(w2[o * 6]);
    }
    // A random init breaks the symmetry.
    const r = new Sequential([new Dense(4, 6, { activation: 'sigmoid' }), new Dense(6, 3)], { engine, seed: 2 }).getWeights()['0.weight']!;
    expect(r[4]).not.toBe(r[0]);
  });
});

describe('Rng.fillNormal', () => {
  // fillInit's normal initialisers draw through it: it must be the normal() loop exactly.
  it('gives the values and the generator state of a normal() loop, bit for bit, whatever the pending value and length', () => {
    for (const pending of [false, true]) {
      for (const n of [0, 1, 2, 7, 1000]) {
        for (const Ctor of [Float32Array, Float64Array]) {
          const a = new Rng(77);
          const b = new Rng(77);
          if (pending) { a.normal(); b.normal(); }  // leaves the pair's second value pending
          const want = new Ctor(n);
          for (let i = 0; i < n; i++) want[i] = 0.5 + 0.03 * a.normal();
          const got = new Ctor(n);
          b.fillNormal(got, 0.5, 0.03);
          expect(got).toEqual(want);
          expect(b.getState()).toEqual(a.getState());
          expect(b.normal()).toBe(a.normal());
        }
      }
    }
  });
});
