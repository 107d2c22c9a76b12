// FASTMLP_* environment variables as a user sets them from a shell: a value
// the library does not know is said, not silently ignored. Child processes, as
// the variables are read once when the addon loads.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

function backendWithKernel(kernel: string): { isa: string; warnings: { code: string; message: string }[] } {
  const script = `
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    const { backend } = require('fastmlp');
    const { isa } = backend('native');
    setImmediate(() => console.log(JSON.stringify({ isa, warnings })));`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: root, encoding: 'utf8', env: { ...process.env, FASTMLP_GEMM_KERNEL: kernel },
  });
  return JSON.parse(out) as { isa: string; warnings: { code: string; message: string }[] };
}

describe('FASTMLP_GEMM_KERNEL', () => {
  it('picks a known kernel without a warning', () => {
    expect(backendWithKernel('scalar')).toEqual({ isa: 'scalar', warnings: [] });
    expect(backendWithKernel('').warnings).toEqual([]);   // set but empty: as if unset
  });

  it('warns once, naming the value and the kernels, when the name is unknown (the addon ignores it)', () => {
    const { isa, warnings } = backendWithKernel('avx-2');
    expect(['avx512', 'avx2', 'neon', 'scalar']).toContain(isa);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe('FASTMLP_GEMM_KERNEL');
    for (const want of ["'avx-2'", 'scalar', 'avx2', 'avx512', 'neon', `using ${isa}`]) expect(warnings[0]!.message).toContain(want);
  });
});

describe('FASTMLP_PREDICT_CACHE', () => {
  // predict's weight cache (native/core/predict_cache.h): what a plan holds
  // after three predicts of 32 rows, and the warnings, in a child process.
  function cacheWith(value: string | undefined): { bytes: number; warnings: { code: string; message: string }[] } {
    const script = `
      const warnings = [];
      process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
      const { getEngine } = require('./dist/backend.js');
      const plan = getEngine('native').createPlan({ dtype: 'float32', maxBatch: 64,
        layers: [{ kind: 'dense', inFeatures: 40, outFeatures: 30 }] });
      const x = new Float32Array(32 * 40).fill(0.5), out = new Float32Array(32 * 30);
      for (let i = 0; i < 3; i++) plan.predict(x, 32, out);
      const bytes = plan.predictCacheBytes();
      setImmediate(() => console.log(JSON.stringify({ bytes, warnings })));`;
    const env = { ...process.env };
    delete env['FASTMLP_PREDICT_CACHE'];
    if (value !== undefined) env['FASTMLP_PREDICT_CACHE'] = value;
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env })) as
      { bytes: number; warnings: { code: string; message: string }[] };
  }

  it('is on by default and with 1, off with 0, without a warning', () => {
    const on = cacheWith(undefined);
    expect(on.bytes).toBeGreaterThanOrEqual(40 * 30 * 4);
    expect(on.warnings).toEqual([]);
    expect(cacheWith('1')).toEqual(on);
    expect(cacheWith('0')).toEqual({ bytes: 0, warnings: [] });
  });

  it('warns once, naming the value, when it is neither 0 nor 1 (the cache stays on)', () => {
    const { bytes, warnings } = cacheWith('off');
    expect(bytes).toBeGreaterThan(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe('FASTMLP_PREDICT_CACHE');
    expect(warnings[0]!.message).toContain("'off'");
  });
});
