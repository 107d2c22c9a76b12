// Property-based fuzzing (fast-check): thousands of random argument
// combinations thrown at the public API and at the raw addon. The process must
// survive, every failure must be an Error, and every TypeError/RangeError must
// carry the stable code ERR_FASTMLP_INVALID_ARGUMENT. Afterwards the models the
// fuzzer hammered must still train and predict (no corrupted state).
//
// Sizes stay small on purpose: the point is malformed arguments, and a valid
// but huge size (say 2³¹ rows of one column) would be a 17 GB allocation that
// the OS grants lazily and the test machine cannot back.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Dense, Matrix, Sequential, losses, ops } from '../lib';
import { loadNative } from '../lib/native';
import { ENGINES } from './helpers';

const CODE = 'ERR_FASTMLP_INVALID_ARGUMENT';
const RUNS = Number(process.env['FASTMLP_FUZZ_RUNS'] ?? 10000);

const tally = { calls: 0, errors: 0 };
const violations: string[] = [];

/** Records whether a thrown value is acceptable: an Error, and coded if Type/RangeError. */
function judge(what: string, e: unknown): void {
  tally.errors++;
  if (!(e instanceof Error)) {
    violations.push(`${what}: threw a non-Error ${String(e)}`);
  } else if ((e instanceof TypeError || e instanceof RangeError) && (e as { code?: string }).code !== CODE) {
    violations.push(`${what}: ${e.name} without code: ${e.message}`);
  }
}

function attempt(what: string, fn: () => unknown): unknown {
  tally.calls++;
  try {
    return fn();
  } catch (e) {
    judge(what, e);
    return undefined;
  }
}

async function attemptAsync(what: string, fn: () => Promise<unknown>): Promise<void> {
  tally.calls++;
  try {
    await fn();
  } catch (e) {
    judge(what, e);
  }
}

// ---- arbitraries --------------------------------------------------------

const sizeLike = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -2, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(0.5, -0, NaN, Infinity, -Infinity, 2 ** 40, 2 ** 53, 1e300) },
);
const leaf = fc.oneof(
  sizeLike,
  fc.double({ noDefaultInfinity: false }),
  fc.constantFrom(undefined, null, true, false, '', 'relu', 'softmax', 'adam', 'sgd', 'mse', 'cross-entropy',
    'float32', 'float64', 'native', 'js', 'auto', 'mean', 'sum', 'accuracy', 'x', Symbol('s'), 3n, () => 1),
  fc.string({ maxLength: 6 }),
);

/** A typed array of a random class and length, over a plain, shared, resizable or detached buffer. */
const typedArray = fc.tuple(
  fc.constantFrom(Float32Array, Float64Array, Int32Array, Uint8Array, Int16Array),
  fc.integer({ min: 0, max: 24 }),
  fc.constantFrom('plain', 'plain', 'plain', 'shared', 'resizable', 'detached'),
  fc.integer({ min: 0, max: 4 }),
).map(([Ctor, length, kind, classes]) => {
  const bytes = length * Ctor.BYTES_PER_ELEMENT;
  const buffer = kind === 'shared' ? new SharedArrayBuffer(bytes)
    : kind === 'resizable' ? new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(bytes, { maxByteLength: bytes + 64 })
      : new ArrayBuffer(bytes);
  const view = new Ctor(buffer);
  for (let i = 0; i < length; i++) view[i] = classes > 0 ? i % classes : Math.sin(i);
  if (kind === 'detached') structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
  return view;
});

const nested = fc.array(fc.array(fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), leaf), { maxLength: 5 }), { maxLength: 5 });

const matrix = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.constantFrom('float32', 'float64') as fc.Arbitrary<'float32' | 'float64'>)
  .map(([r, c, dtype]) => {
    const m = new Matrix(r, c, undefined, dtype);
    for (let i = 0; i < m.data.length; i++) m.data[i] = Math.cos(i) * 2;
    return m;
  });

const matrixLike = fc.record({ data: fc.oneof(typedArray, fc.array(leaf, { maxLength: 12 })), rows: sizeLike, cols: sizeLike });

const optionKeys = ['epochs', 'batchSize', 'shuffle', 'loss', 'optimizer', 'engine', 'seed', 'dtype', 'activation', 'lr',
  'metrics', 'transA', 'transB', 'reduction', 'labelSmoothing', 'weightInit', 'biasInit', 'validationSplit',
  'validationData', 'momentum', 'nesterov', 'beta1', 'out', 'typo'] as const;
const optionsObject = fc.dictionary(fc.constantFrom(...optionKeys), fc.oneof(leaf, fc.array(leaf, { maxLength: 3 })), { maxKeys: 4 });

const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 3, arbitrary: typedArray },
  { weight: 2, arbitrary: nested },
  { weight: 3, arbitrary: matrix },
  { weight: 2, arbitrary: matrixLike },
  { weight: 2, arbitrary: optionsObject },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
);

// Nearly valid inputs for the pool's 3-input, 2-output models, so calls get
// past the first check and into the engines: rows vary, values include NaN,
// labels may be out of range, dtypes and forms vary.
const nearX = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.constantFrom(3, 3, 3, 2), fc.constantFrom('float32', 'float64'),
  fc.constantFrom('matrix', 'nested', 'object'), fc.constantFrom(0, 0, 0, NaN, Infinity))
  .map(([rows, cols, dtype, form, bad]) => {
    const data = Array.from({ length: rows * cols }, (_, i) => (i === 1 ? bad || Math.sin(i) : Math.sin(i)));
    if (form === 'nested') return Array.from({ length: rows }, (_, r) => data.slice(r * cols, (r + 1) * cols));
    if (form === 'object') return { data, rows, cols };
    return new Matrix(rows, cols, dtype === 'float32' ? Float32Array.from(data) : Float64Array.from(data));
  });
const nearY = fc.oneof(
  fc.array(fc.integer({ min: -1, max: 2 }), { maxLength: 6 }),
  fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 6 }).map((a) => Int32Array.from(a)),
  fc.integer({ min: 0, max: 6 }).map((r) => new Matrix(r, 2, Float32Array.from({ length: r * 2 }, (_, i) => i % 2))),
);

/**
 * Conformable a and b (any transposes, sizes 0–5) with an out that fits, has
 * another shape or dtype, is junk, or aliases an input: calls reach the engines.
 */
const nearMatmul = fc.tuple(fc.nat(5), fc.nat(5), fc.nat(5), fc.boolean(), fc.boolean(),
  fc.constantFrom('float32', 'float64') as fc.Arbitrary<'float32' | 'float64'>,
  fc.oneof({ weight: 4, arbitrary: fc.constant('fit') }, { weight: 1, arbitrary: fc.constantFrom('alias-a', 'alias-b', 'other-dtype') },
    { weight: 1, arbitrary: matrix }, { weight: 1, arbitrary: junk }))
  .map(([m, n, k, transA, transB, dtype, outKind]) => {
    const a = new Matrix(transA ? k : m, transA ? m : k, undefined, dtype);
    const b = new Matrix(transB ? n : k, transB ? k : n, undefined, dtype);
    for (let i = 0; i < a.data.length; i++) a.data[i] = Math.cos(i);
    for (let i = 0; i < b.data.length; i++) b.data[i] = Math.sin(i);
    const stale = new Matrix(m, n, undefined, dtype);
    stale.data.fill(NaN);   // must be overwritten, never read
    const out = outKind === 'fit' ? stale
      : outKind === 'alias-a' ? a : outKind === 'alias-b' ? b
        : outKind === 'other-dtype' ? new Matrix(m, n, undefined, dtype === 'float32' ? 'float64' : 'float32') : outKind;
    return [a, b, { transA, transB, out }];
  });

/** Fit options whose epoch count stays small (a valid 2⁴⁰ epochs would just train for ever). */
const fitOptions = fc.option(fc.record({
  epochs: fc.constantFrom(undefined, 0, 1, 2, -1, 1.5, NaN, 'x'),
  batchSize: fc.oneof(sizeLike, fc.constant(undefined)),
  shuffle: fc.oneof(fc.boolean(), leaf),
  validationSplit: fc.constantFrom(undefined, 0, 0.5, 0.99, 1, -0.1, NaN, 'x'),
}, { requiredKeys: [] }), { nil: undefined });

// ---- the public API ---------------------------------------------------------

describe.each(ENGINES)('fuzzing the public API (%s engine)', (engine) => {
  const pool = [0, 1, 2].map((i) => {
    const m = new Sequential([new Dense(3, 4, { activation: 'relu' }), new Dense(4, 2)], { engine, seed: i });
    if (i === 0) m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
    if (i === 1) m.compile({ loss: 'mse', optimizer: 'sgd' });
    return m;  // pool[2] stays uncompiled
  });

  const call = fc.oneof(
    fc.record({ op: fc.constant('Matrix'), a: fc.array(junk, { maxLength: 4 }) }),
    fc.record({ op: fc.constant('Dense'), a: fc.array(junk, { maxLength: 3 }) }),
    fc.record({ op: fc.constant('Sequential'), a: fc.tuple(fc.array(fc.oneof(junk, fc.tuple(sizeLike, sizeLike)), { maxLength: 3 }), fc.oneof(junk, optionsObject)) }),
    fc.record({ op: fc.constantFrom('compile', 'trainStep', 'predict', 'evaluate', 'setWeights', 'fit'), m: fc.nat(2), a: fc.tuple(junk, junk), fit: fitOptions }),
    fc.record({ op: fc.constantFrom('trainStep', 'trainStep', 'predict', 'evaluate', 'fit'), m: fc.nat(2), a: fc.tuple(nearX, nearY), fit: fitOptions }),
    fc.record({ op: fc.constant('matmul'), a: fc.tuple(junk, junk, fc.oneof(junk, optionsObject)) }),
    fc.record({ op: fc.constant('matmulOut'), a: nearMatmul }),
    fc.record({ op: fc.constant('dispose'), a: fc.tuple(nearX, nearY), fit: fitOptions }),
    fc.record({ op: fc.constant('losses'), a: fc.tuple(junk, fc.oneof(junk, optionsObject), junk, junk) }),
  );

  it(`survives ${RUNS} random calls, every failure a coded Error, and the models still train`, async () => {
    await fc.assert(fc.asyncProperty(call, async (c: { op: string; a: unknown[]; m?: number; fit?: unknown }) => {
      const a = c.a as unknown[];
      switch (c.op) {
        case 'Matrix': attempt('new Matrix', () => new (Matrix as unknown as new (...x: unknown[]) => Matrix)(...a)); break;
        case 'Dense': attempt('new Dense', () => new (Dense as unknown as new (...x: unknown[]) => Dense)(...a)); break;
        case 'Sequential': {
          const layers = (a[0] as unknown[]).map((l) => Array.isArray(l) ? attempt('new Dense', () => new Dense(l[0], l[1])) : l);
          const opts = a[1] && typeof a[1] === 'object' && !ArrayBuffer.isView(a[1]) ? { ...(a[1] as object), engine } : a[1];
          attempt('new Sequential', () => new Sequential(layers as never, opts as never));
          break;
        }
        case 'compile': {
          const opts = a[0] && typeof a[0] === 'object' ? { loss: 'mse', ...(a[0] as object) } : a[0];
          // Compile only the throwaway model, so the pool keeps its losses.
          const throwaway = new Sequential([new Dense(3, 2)], { engine, seed: 9 });
          attempt('compile', () => throwaway.compile(opts as never));
          break;
        }
        case 'trainStep': attempt('trainStep', () => pool[c.m!]!.trainStep(a[0], a[1])); break;
        case 'predict': attempt('predict', () => pool[c.m!]!.predict(a[0])); break;
        case 'evaluate': attempt('evaluate', () => pool[c.m!]!.evaluate(a[0], a[1])); break;
        case 'setWeights': attempt('setWeights', () => pool[c.m!]!.setWeights(a[0] as never)); break;
        case 'fit': await attemptAsync('fit', () => pool[c.m!]!.fit(a[0], a[1], c.fit as never)); break;
        case 'dispose': {
          // A throwaway model disposed with a fit possibly pending, then called again.
          const m = new Sequential([new Dense(3, 4, { activation: 'relu' }), new Dense(4, 2)], { engine, seed: 5 });
          m.compile({ loss: 'cross-entropy' });
          tally.calls++;
          const pending = m.fit(a[0], a[1], c.fit as never).catch((e: unknown) => { judge('fit then dispose', e); });
          m.dispose();
          attempt('predict after dispose', () => m.predict(a[0]));
          await pending;
          break;
        }
        case 'matmul': {
          const opts = a[2] && typeof a[2] === 'object' && !ArrayBuffer.isView(a[2]) ? { ...(a[2] as object), engine } : a[2];
          attempt('ops.matmul', () => ops.matmul(a[0] as never, a[1] as never, opts as never));
          break;
        }
        case 'matmulOut': {
          const o = a[2] as { out: unknown };
          const result = attempt('ops.matmul out', () => ops.matmul(a[0] as never, a[1] as never, { ...o, engine } as never));
          if (result !== undefined && o.out !== undefined && result !== o.out) violations.push('ops.matmul with out returned another object');
          if (result !== undefined && !(result as Matrix).data.every(Number.isFinite)) violations.push('ops.matmul left stale NaN in out');
          break;
        }
        case 'losses': {
          const loss = attempt('losses.create', () => losses.create(a[0] as never, a[1] as never)) as losses.Loss | undefined;
          if (loss) {
            attempt('loss.forward', () => loss.forward(a[2] as never, a[3] as never));
            attempt('loss.backward', () => loss.backward(a[2] as never, a[3] as never));
          }
          break;
        }
      }
    }), { numRuns: RUNS, seed: 20261125 });

    // The hammered models are intact: recompiled with sane settings they train and predict.
    const x = [[0.1, 0.2, 0.3], [0.3, -0.2, 0.1]];
    for (const m of pool) {
      m.compile({ loss: 'cross-entropy', optimizer: 'adam' });
      expect(Number.isFinite(m.trainStep(x, [0, 1]))).toBe(true);
      expect(Array.from(m.predict(x).data).every(Number.isFinite)).toBe(true);
    }
    expect(violations).toEqual([]);
  });
});

// ---- the raw addon ------------------------------------------------------------

describe('fuzzing the raw addon', () => {
  const binding = loadNative();
  const GOOD_SPEC = { dtype: 'float32', maxBatch: 4, layers: [{ kind: 'dense', inFeatures: 3, outFeatures: 4 },
    { kind: 'activation', activation: 'tanh' }, { kind: 'dense', inFeatures: 4, outFeatures: 2 }] };
  const net = new binding.Network(GOOD_SPEC as never);

  const rawSize = fc.oneof(fc.integer({ min: -1, max: 6 }), fc.constantFrom(0.5, NaN, Infinity, 2 ** 40, 2 ** 53));
  const rawLeaf = fc.oneof(rawSize, fc.constantFrom(undefined, null, true, false, 'x', 'float32', 'float64', 'dense',
    'activation', 'relu', 'mse', 'cross-entropy', 'adam', 'sgd', 'mean', {}, [], Symbol('r'), () => 0));
  const rawArg = fc.oneof(rawLeaf, typedArray);
  const layer = fc.record({ kind: fc.oneof(fc.constantFrom('dense', 'activation'), rawLeaf), inFeatures: rawSize,
    outFeatures: rawSize, activation: fc.oneof(fc.constantFrom('relu', 'softmax', 'identity'), rawLeaf) }, { requiredKeys: ['kind'] });
  const spec = fc.record({ dtype: fc.oneof(fc.constantFrom('float32', 'float64'), rawLeaf), maxBatch: rawSize,
    layers: fc.oneof(fc.array(layer, { maxLength: 4 }), rawLeaf) }, { requiredKeys: [] });
  const lossSpec = fc.record({ kind: fc.oneof(fc.constantFrom('mse', 'cross-entropy'), rawLeaf),
    reduction: fc.oneof(fc.constantFrom('mean', 'sum'), rawLeaf), labelSmoothing: fc.oneof(fc.double({ min: -1, max: 2 }), rawLeaf) });
  const optSpec = fc.record({ kind: fc.oneof(fc.constantFrom('sgd', 'adam', 'adamw'), rawLeaf), lr: fc.oneof(fc.double({ min: -1, max: 1 }), rawLeaf),
    momentum: rawLeaf, dampening: rawLeaf, nesterov: rawLeaf, weightDecay: rawLeaf, beta1: rawLeaf, beta2: rawLeaf, eps: rawLeaf });
  const methods = ['reserve', 'setLoss', 'setOptimizer', 'resetOptimizer', 'getParams', 'setParams', 'getGrads', 'predict',
    'forwardTrain', 'backward', 'computeGradients', 'step', 'trainStep', 'cancelEpoch'] as const;

  const call = fc.oneof(
    fc.record({ op: fc.constant('gemm'), a: fc.tuple(rawLeaf, rawLeaf, rawSize, rawSize, rawSize, rawLeaf, rawArg, rawArg, rawLeaf, rawArg) }),
    fc.record({ op: fc.constantFrom('lossForward', 'lossBackward'), a: fc.tuple(fc.oneof(lossSpec, rawLeaf), rawArg, rawSize, rawSize, rawArg, rawArg) }),
    fc.record({ op: fc.constant('Network'), a: fc.tuple(fc.oneof(spec, rawLeaf)) }),
    fc.record({ op: fc.constantFrom(...methods), a: fc.tuple(fc.oneof(rawArg, lossSpec, optSpec), rawArg, rawArg) }),
    fc.record({ op: fc.constant('runEpoch'), a: fc.tuple(rawArg, rawSize, rawArg, rawSize, fc.oneof(rawArg, fc.constant(null))) }),
  );

  it(`survives ${RUNS} random raw calls, every failure a coded Error, and the network still trains`, async () => {
    await fc.assert(fc.asyncProperty(call, async (c: { op: string; a: unknown[] }) => {
      const a = c.a;
      const fn = (f: unknown) => f as (...x: unknown[]) => unknown;
      if (c.op === 'gemm' || c.op === 'lossForward' || c.op === 'lossBackward') {
        attempt(c.op, () => fn(binding[c.op as 'gemm'])(...a));
      } else if (c.op === 'Network') {
        attempt('new Network', () => new (binding.Network as unknown as new (...x: unknown[]) => unknown)(...a));
      } else if (c.op === 'runEpoch') {
        await attemptAsync('runEpoch', async () => fn(net.runEpoch).call(net, ...a, null));
      } else {
        attempt(c.op, () => fn(net[c.op as 'step']).call(net, ...a));
      }
    }), { numRuns: RUNS, seed: 20261126 });

    net.setLoss({ kind: 'cross-entropy', reduction: 'mean', labelSmoothing: 0 });
    net.setOptimizer({ kind: 'adam', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    net.setParams(Float32Array.from({ length: net.paramCount }, (_, i) => Math.sin(i) / 4));
    expect(Number.isFinite(net.trainStep(new Float32Array([0.1, 0.2, 0.3, 0.3, 0.2, 0.1]), 2, new Int32Array([0, 1])))).toBe(true);
    expect(violations).toEqual([]);
  });
});

afterAll(() => {
  // The figure for the report: how many inputs ran and how many were refused.
  console.log(`fuzz: ${tally.calls} calls, ${tally.calls - tally.errors} accepted, ${tally.errors} refused with an Error, ${violations.length} violations`);
});
