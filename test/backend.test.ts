// backend(), setThreads() and engine selection, including the 'auto' fallback
// when the addon cannot load (checked in a copy of the package with no binary).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dense, Sequential, backend, setThreads } from '../lib';

const root = path.resolve(__dirname, '..');
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;

describe('backend and threads', () => {
  afterAll(() => setThreads(2));

  it('reports the native engine by default, with its ISA, threads and version', () => {
    const info = backend();
    expect(info.engine).toBe('native');
    expect(['avx512', 'avx2', 'neon', 'scalar']).toContain(info.isa);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.version).toBe(version);
    expect(backend('js')).toEqual({ engine: 'js', isa: 'js', threads: 1, version });
  });

  it('setThreads changes the native thread count, and results do not depend on it', () => {
    const m = new Sequential([new Dense(300, 200, { activation: 'relu' }), new Dense(200, 10)], { engine: 'native', seed: 1 });
    const x = Array.from({ length: 64 }, (_, i) => Array.from({ length: 300 }, (_, j) => Math.sin(i * 300 + j)));
    setThreads(1);
    expect(backend('native').threads).toBe(1);
    const one = m.predict(x).data;
    setThreads(2);
    expect(backend('native').threads).toBe(2);
    expect(Array.from(m.predict(x).data)).toEqual(Array.from(one));
  });

  it('rejects bad values with named errors', () => {
    expect(() => setThreads(0)).toThrow(RangeError);
    expect(() => setThreads(1.5)).toThrow(/n/);
    expect(() => setThreads('2' as never)).toThrow(TypeError);
    expect(() => backend('cuda' as never)).toThrow(/engine/);
  });
});

describe('engine fallback without a binary', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fastmlp-nobinary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));

  const run = (code: string) => execFileSync(process.execPath, ['-e', code], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it("'auto' falls back to the JS engine with one warning", () => {
    const out = execFileSync(process.execPath, ['-e', [
      "const f = require('./dist');",
      'const a = f.backend(); const b = f.backend();',
      "const m = new f.Sequential([new f.Dense(2, 1)], { seed: 1 });",
      'console.log(a.engine, b.engine, m.engine);',
    ].join('\n')], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out.trim()).toBe('js js js');
    const both = execFileSync('sh', ['-c', `"${process.execPath}" -e "const f = require('./dist'); f.backend(); f.backend();" 2>&1`], { cwd: dir, encoding: 'utf8' });
    expect(both.match(/FASTMLP_JS_FALLBACK/g)).toHaveLength(1);
    expect(both).toMatch(new RegExp(`could not load on ${process.platform}-${process.arch}`));
  });

  it("'native' throws an error that lists the platform, the paths tried and the fixes", () => {
    const out = run([
      "const f = require('./dist');",
      "try { new f.Sequential([new f.Dense(2, 1)], { engine: 'native' }); console.log('loaded'); }",
      'catch (e) { console.log(e.message); }',
    ].join('\n'));
    expect(out).toMatch(/prebuilds/);
    expect(out).toMatch(/build[/\\]Release/);
    expect(out).toMatch(/npm rebuild fastmlp/);
    expect(out).toMatch(/engine: 'js'/);
  });
});
