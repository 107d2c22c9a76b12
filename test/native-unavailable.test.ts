// A new user on a machine where the addon cannot load (no compiler at install,
// a binary for another platform): engine 'native' throws an error a program can
// recognise by its code and a person can act on; engine 'auto' falls back to the
// JS engine with one warning. Run in child processes that load the package by
// name, as a user does, with node-gyp-build replaced (in require's cache) by one
// that finds no binary — whatever build/ or prebuilds/ this tree holds.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const tuple = `${process.platform}-${process.arch}`;

const noBinary = `
  const gypBuild = require.resolve('node-gyp-build', { paths: [${JSON.stringify(path.join(root, 'dist'))}] });
  // As node-gyp-build's own: load(dir) is require(load.path(dir)), and path() throws when nothing matches.
  const notFound = () => {
    throw new Error('No native build was found for platform=${process.platform} arch=${process.arch} runtime=node (simulated)');
  };
  require.cache[gypBuild] = { id: gypBuild, filename: gypBuild, loaded: true, exports: Object.assign(notFound, { path: notFound }) };
`;

function run(script: string): string {
  return execFileSync(process.execPath, ['-e', noBinary + script], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('without a loadable addon', () => {
  it("engine 'native' throws ERR_FASTMLP_NATIVE_UNAVAILABLE naming the platform, the paths tried and the fixes", () => {
    const stdout = run(`
      const f = require('fastmlp');
      const out = [];
      for (const attempt of [() => f.backend('native'), () => new f.Sequential([new f.Dense(2, 1)], { engine: 'native' }),
                             () => f.ops.matmul(f.Matrix.zeros(1, 1), f.Matrix.zeros(1, 1), { engine: 'native' })]) {
        try { attempt(); out.push(null); } catch (e) { out.push({ name: e.name, code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(out));`);
    const errors = JSON.parse(stdout) as ({ name: string; code: string; message: string } | null)[];
    expect(errors).toHaveLength(3);
    for (const e of errors) {
      expect(e).not.toBeNull();
      expect(e!.code).toBe('ERR_FASTMLP_NATIVE_UNAVAILABLE');
      expect(e!.name).toBe('Error');
      for (const want of [tuple, path.join('prebuilds', tuple), path.join('build', 'Release'), 'simulated', 'npm rebuild fastmlp', "engine: 'js'"]) {
        expect(e!.message).toContain(want);
      }
    }
  });

  it("engine 'auto' trains on the JS engine after one FASTMLP_JS_FALLBACK warning", () => {
    const stdout = run(`
      const warnings = [];
      process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
      const f = require('fastmlp');
      const m = new f.Sequential([new f.Dense(2, 1)], { seed: 1 });
      new f.Sequential([new f.Dense(2, 1)]);
      m.compile({ loss: 'mse' });
      const loss = m.trainStep([[1, 2]], [[1]]);
      setImmediate(() => console.log(JSON.stringify({ engine: m.engine, backend: f.backend().engine, loss, warnings })));`);
    const out = JSON.parse(stdout) as { engine: string; backend: string; loss: number; warnings: { code: string; message: string }[] };
    expect(out.engine).toBe('js');
    expect(out.backend).toBe('js');
    expect(Number.isFinite(out.loss)).toBe(true);
    expect(out.warnings.map((w) => w.code)).toEqual(['FASTMLP_JS_FALLBACK']);
    expect(out.warnings[0]!.message).toContain(tuple);
  });
});
