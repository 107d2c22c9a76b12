// The engines' gemm on the sizes where blocked kernels go wrong (1, primes,
// one off every micro-tile edge, k = 1, k past a cache block, empty), in both
// dtypes and all four transpose combinations; every native micro-kernel
// through the FASTMLP_GEMM_KERNEL override (each in a child process, since the
// kernel is chosen once per process); native/JS parity; thread-count
// determinism.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setThreads } from '../lib';
import type { FloatArray } from '../lib/engine';
import { ENGINES, engine, maxRelDiff, naiveGemm, randomArray } from './helpers';

// Around the micro-tiles of every kernel (MR 6 and 12; NR 8, 16 and 32).
const EDGES = [1, 5, 11, 13, 31, 33, 97];
const DEPTHS = [1, 389];   // k = 1, and past the largest KC block (384)
const DTYPES = [Float32Array, Float64Array] as const;
const TOL = { Float32Array: 2e-5, Float64Array: 1e-12 };

/** Largest relative error of gemm over the edge sizes for one transpose pair and dtype. */
function sweep(gemm: ReturnType<typeof engine>['gemm'], transA: boolean, transB: boolean,
               Ctor: Float32ArrayConstructor | Float64ArrayConstructor): number {
  let worst = 0;
  for (const m of EDGES) {
    for (const n of EDGES) {
      for (const k of DEPTHS) {
        const a = randomArray(m * k, m * 7 + k, Ctor);
        const b = randomArray(k * n, n * 5 + k, Ctor);
        const c = randomArray(m * n, m + n, Ctor);
        const expected = naiveGemm(transA, transB, m, n, k, 0.5, a, b, -1, c);
        gemm(transA, transB, m, n, k, 0.5, a, b, -1, c);
        worst = Math.max(worst, maxRelDiff(c, expected));
      }
    }
  }
  return worst;
}

describe.each(ENGINES)('gemm on awkward sizes (%s engine)', (name) => {
  const e = engine(name);
  for (const Ctor of DTYPES) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      it(`${Ctor.name} transA=${transA} transB=${transB} matches the float64 reference`, () => {
        expect(sweep(e.gemm.bind(e), transA, transB, Ctor)).toBeLessThan(TOL[Ctor.name]);
      });
    }

    it(`${Ctor.name}: empty products leave C alone, k = 0 scales it by beta`, () => {
      const c = new Ctor([1, 2, 3]);
      e.gemm(false, false, 0, 3, 4, 1, new Ctor(0), new Ctor(12), 0, new Ctor(0));
      e.gemm(false, false, 3, 0, 4, 1, new Ctor(12), new Ctor(0), 0, new Ctor(0));
      e.gemm(true, true, 1, 3, 0, 1, new Ctor(0), new Ctor(0), 2, c);
      expect(Array.from(c)).toEqual([2, 4, 6]);
    });
  }
});

describe('gemm parity and threads', () => {
  afterAll(() => setThreads(2));

  it('native and JS agree on a product large enough for blocking and threads', () => {
    const [m, n, k] = [150, 270, 530];
    const a = randomArray(m * k, 1);
    const b = randomArray(n * k, 2);
    const cNative = randomArray(m * n, 3);
    const cJs = Float64Array.from(cNative);
    engine('native').gemm(false, true, m, n, k, 1, a, b, 0.5, cNative);
    engine('js').gemm(false, true, m, n, k, 1, a, b, 0.5, cJs);
    expect(maxRelDiff(cNative, cJs)).toBeLessThan(1e-12);
  });

  it('gives bit-identical results run to run for a given thread count', () => {
    const [m, n, k] = [301, 523, 300];
    const a = randomArray(m * k, 4, Float32Array);
    const b = randomArray(k * n, 5, Float32Array);
    for (const threads of [1, 2, 3]) {
      setThreads(threads);
      const runs: FloatArray[] = [0, 1].map(() => {
        const c = new Float32Array(m * n);
        engine('native').gemm(false, false, m, n, k, 1, a, b, 0, c);
        return c;
      });
      expect(Buffer.compare(Buffer.from(runs[0]!.buffer), Buffer.from(runs[1]!.buffer))).toBe(0);
      expect(maxRelDiff(runs[0]!, naiveGemm(false, false, m, n, k, 1, a, b, 0, runs[0]!))).toBeLessThan(2e-5);
    }
  });
});

// The kernel a FASTMLP_GEMM_KERNEL request should give on this CPU: the one
// asked for, or the next narrower one the CPU has (Linux: /proc/cpuinfo flags).
function expectedIsa(requested: string): string | undefined {
  if (process.arch !== 'x64' || process.platform !== 'linux') return undefined;
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? []);
  const order = ['avx512', 'avx2', 'scalar'];
  const has = (isa: string) => isa === 'scalar' || (isa === 'avx2' ? flags.has('avx2') && flags.has('fma') : flags.has('avx512f'));
  return order.slice(order.indexOf(requested)).find(has);
}

describe('every native micro-kernel through the ISA override', () => {
  const root = path.resolve(__dirname, '..');
  // Runs in a child with the override set; prints the ISA and the worst errors.
  const child = `
    const { backend } = require('./dist');
    const { getEngine } = require('./dist/backend');
    const e = getEngine('native');
    function rnd(n, seed, C) { const o = new C(n); let s = seed >>> 0 || 1;
      for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; o[i] = s / 2147483648 - 1; } return o; }
    const sizes = ${JSON.stringify(EDGES)}, depths = ${JSON.stringify(DEPTHS)};
    const worst = {};
    for (const C of [Float32Array, Float64Array]) for (let t = 0; t < 4; t++) {
      const ta = (t & 1) === 1, tb = (t & 2) === 2;
      for (const m of sizes) for (const n of sizes) for (const k of depths) {
        const a = rnd(m * k, m + k, C), b = rnd(k * n, n + 2 * k, C), c = rnd(m * n, m * n, C);
        const ref = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) { let s = 0;
          for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
          ref[i * n + j] = 0.5 * s + 2 * c[i * n + j]; }
        e.gemm(ta, tb, m, n, k, 0.5, a, b, 2, c);
        for (let i = 0; i < m * n; i++) {
          const err = Math.abs(c[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
          worst[C.name] = Math.max(worst[C.name] ?? 0, Number.isNaN(err) ? Infinity : err);
        }
      }
    }
    console.log(JSON.stringify({ isa: backend('native').isa, worst }));`;

  for (const requested of ['scalar', 'avx2', 'avx512']) {
    it(`FASTMLP_GEMM_KERNEL=${requested} runs that kernel (or the next narrower one) correctly`, () => {
      const out = execFileSync(process.execPath, ['-e', child], {
        cwd: root, encoding: 'utf8', env: { ...process.env, FASTMLP_GEMM_KERNEL: requested },
      });
      const { isa, worst } = JSON.parse(out.trim().split('\n').at(-1)!);
      const want = expectedIsa(requested);
      if (want !== undefined) expect(isa).toBe(want);
      else expect(['avx512', 'avx2', 'neon', 'scalar']).toContain(isa);
      expect(worst.Float32Array).toBeLessThan(2e-5);
      expect(worst.Float64Array).toBeLessThan(1e-12);
    });
  }
});
