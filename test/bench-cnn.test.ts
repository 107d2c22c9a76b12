// Smoke test of the CNN training cases of bench/run.mjs (group `cnn`): each
// case script, run as the runner runs it (a fresh process, a JSON argument,
// one JSON line back), trains a few tiny epochs and reports a positive,
// finite samples/s with the rows, epochs, loss and threads it used. Speed is
// not checked here (it lives in bench/): only that every case measures.
// The case scripts import the built package (`npm run build` / tsc first).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the bench, without type declarations
import { runChild } from '../bench/lib/child.mjs';
// @ts-expect-error: likewise
import { baselineEnv, detectTorch } from '../bench/lib/baselines.mjs';
// @ts-expect-error: likewise
import { saveTrainingData } from '../bench/cases/data.mjs';
// @ts-expect-error: likewise
import { CNN, planCnn } from '../bench/lib/cnn-plan.mjs';

const ROOT = join(__dirname, '..');
const CASES = join(ROOT, 'bench', 'cases');
const TINY = { batchSize: 64, minTime: 0, maxEpochs: 1 };

interface CaseResult {
  samplesPerSec?: number; epochs?: number; rows?: number; loss?: number; threadsInUse?: number;
  dataset?: string; skipped?: string; error?: string;
}

function runCase(command: string, script: string, args: object, env: Record<string, string> = {}): CaseResult {
  return runChild(command, [join(CASES, script), JSON.stringify(args)], { cwd: ROOT, env, timeoutSec: 240 }) as CaseResult;
}

function expectMeasured(r: CaseResult, rows: number, threads: number) {
  expect(r.error).toBeUndefined();
  expect(r.skipped).toBeUndefined();
  expect(r.samplesPerSec).toBeGreaterThan(0);
  expect(Number.isFinite(r.samplesPerSec)).toBe(true);
  expect(r.rows).toBe(rows);
  expect(r.epochs).toBe(1);
  expect(Number.isFinite(r.loss)).toBe(true);
  expect(r.threadsInUse).toBe(threads);
}

interface PlannedCase { impl: string; threads: number; variant?: string; skipped?: string; argv?: string[] }

describe('bench cnn plan', () => {
  const plan = (profileName: 'quick' | 'full', torch: object): PlannedCase[] => planCnn({
    profile: { cnnMinTime: 0.3, maxEpochs: 2, mlpRepeats: 2, tfjsMinEpochs: 1 }, profileName, threadSets: [1, 2],
    casesDir: '/cases', node: (script: string, args: object) => ({ command: 'node', argv: [script, JSON.stringify(args)] }),
    nativeSkip: {}, jsSkip: {}, tfjs: { cpu: {}, wasm: {} }, torch,
  });
  const names = (cases: PlannedCase[]) => cases.map((c) => `${c.impl}${c.variant ? `/${c.variant}` : ''} ${c.threads}T${c.skipped ? ' skip' : ''}`);

  it('the quick profile runs every implementation but tfjs-cpu, native and PyTorch alternating per round', () => {
    const round = ['native 1T', 'native 2T', 'torch 1T', 'torch 2T', 'torch/blas-threads 2T', 'torch/op-threads 2T'];
    const cases = plan('quick', { python: 'python3', dataFile: '/tmp/x.bin', dataset: 'mnist' });
    expect(names(cases)).toEqual([...round, ...round, 'js 1T', 'tfjs-cpu 1T skip', 'tfjs-wasm 1T']);
    const torchArgs = JSON.parse(cases.find((c) => c.impl === 'torch')!.argv![1]!) as { dataFile: string; rows: number };
    expect(torchArgs).toMatchObject({ dataFile: '/tmp/x.bin', dataset: 'mnist', rows: CNN.rows.quick.torch, batchSize: 64 });
  });

  it('the full profile runs tfjs-cpu; a PyTorch that is not there is a skip with its reason', () => {
    const cases = plan('full', { skipped: 'no torch here' });
    expect(names(cases)).toContain('tfjs-cpu 1T');
    expect(cases.filter((c) => c.impl === 'torch').every((c) => c.skipped === 'no torch here')).toBe(true);
  });
});

describe('bench cnn cases', () => {
  it.each([
    ['native', 1, 128], ['native', 2, 128], ['js', 1, 64],
  ] as const)('fastmlp %s engine at %i thread(s) reports samples/s', (engine, threads, rows) => {
    expectMeasured(runCase(process.execPath, 'cnn.mjs', { ...TINY, engine, threads, rows }), rows, threads);
  }, 120_000);

  // tfjs's cpu backend trains ~1.5–2 samples/s here (its conv gradients are plain
  // loops): a batch of 2, ~4 s with the warm-up epoch (a batch of 8 took ~18 s).
  it('tfjs cpu backend reports samples/s', () => {
    expectMeasured(runCase(process.execPath, 'tfjs_cnn.mjs', { ...TINY, batchSize: 2, backend: 'cpu', rows: 2 }), 2, 1);
  }, 240_000);

  // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel: the case must say
  // so as a skip (with the kernel's name), or measure if a later version has it.
  it('tfjs wasm backend reports samples/s or names the kernel it lacks', () => {
    const r = runCase(process.execPath, 'tfjs_cnn.mjs', { ...TINY, backend: 'wasm', rows: 64 });
    expect(r.error).toBeUndefined();
    if (r.skipped !== undefined) expect(r.skipped).toMatch(/has no \w+(, \w+)* kernel: it cannot train a conv layer/);
    else expectMeasured(r, 64, 1);
  }, 120_000);

  // PyTorch is an optional baseline (Debian's python3-torch): without it there is nothing to run.
  const torch = detectTorch() as { skipped?: string; python?: string };
  const dir = mkdtempSync(join(tmpdir(), 'fastmlp-bench-cnn-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it.skipIf(torch.skipped !== undefined)('PyTorch reports samples/s on the rows data.mjs wrote', () => {
    const dataFile = join(dir, 'train.bin');
    const { source } = saveTrainingData(128, dataFile) as { source: string };
    const r = runCase(torch.python!, 'torch_cnn.py', { ...TINY, threads: 1, rows: 128, dataFile, dataset: source }, baselineEnv(1));
    expectMeasured(r, 128, 1);
    expect(r.dataset).toBe(source);
  }, 120_000);
});
