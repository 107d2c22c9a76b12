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
