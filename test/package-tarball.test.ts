// What `npm pack` puts in the tarball users install: everything the install
// needs to compile the addon offline (binding.gyp, every source it lists and
// every header those include), the compiled TypeScript, the bundled data —
// and none of the development tree (C++ tests and benchmarks, vitest files,
// build directories, scratch output). scripts/check-tarball.sh installs the
// real tarball; this is the fast check of its listing.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

interface PackResult { files: { path: string; size: number }[]; size: number; unpackedSize: number }

let packed: PackResult;
let files: string[];

beforeAll(() => {
  // --ignore-scripts: no `prepare` (tsc) here; `npm test` has just built dist/.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
  });
  packed = (JSON.parse(out) as PackResult[])[0]!;
  files = packed.files.map((f) => f.path).sort();
});

function gypSources(): string[] {
  const text = readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  return (JSON.parse(text) as { targets: { sources: string[] }[] }).targets[0]!.sources;
}

describe('the npm tarball', () => {
  it('carries binding.gyp, every source it compiles and every header they include', () => {
    expect(files).toContain('binding.gyp');
    for (const src of gypSources()) expect(files).toContain(src);
    for (const dir of ['native/core', 'native/binding']) {
      for (const f of readdirSync(path.join(root, dir))) {
        if (/\.(h|inc|cc)$/.test(f)) expect(files).toContain(`${dir}/${f}`);
      }
    }
  });

  it('carries the entry points package.json names and the install fallback', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    const named = [pkg.main, pkg.types, pkg.bin.fastmlp, pkg.exports['.'].types, pkg.exports['.'].import,
      pkg.exports['.'].require].map((p: string) => path.posix.normalize(p));
    for (const p of named) expect(files).toContain(p);
    expect(files).toContain('scripts/install-fallback.cjs');
    expect(files).toEqual(expect.arrayContaining(['data/digits.csv.gz', 'data/iris.csv', 'data/breast_cancer.csv']));
  });

  it('leaves out the development tree: C++ tests, the CMake build, vitest files, benchmarks, build output', () => {
    const dev = files.filter((f) =>
      /^(native\/test|test|bench|examples|build|build-cmake|build-[^/]+|cmake|\.ci|\.github)\//.test(f) ||
      /^CMake(Lists\.txt|Presets\.json)$/.test(f) || /\.(tgz|node|safetensors|svg|log)$/.test(f))
      // `npm run prebuild` puts the addons a release ships in prebuilds/ (CI builds them before
      // scripts/check-tarball.sh); they belong in the tarball, whether or not they exist yet.
      .filter((f) => !/^prebuilds\/[^/]+\/fastmlp\.node$/.test(f));
    expect(dev).toEqual([]);
    // native/ ships the two layers node-gyp compiles, nothing else.
    expect(files.filter((f) => f.startsWith('native/') && !/^native\/(core|binding)\//.test(f))).toEqual([]);
  });

  it('stays small', () => {
    // ~0.8 MB packed (3 MB unpacked) when this test was written: dist, lib's sources for the
    // source maps, native, data, README. Counted without prebuilds/, which exist only after
    // `npm run prebuild` (~2.7 MB for linux-x64 and linux-arm64).
    const unpackedWithoutPrebuilds = packed.files
      .filter((f) => !f.path.startsWith('prebuilds/'))
      .reduce((sum, f) => sum + f.size, 0);
    expect(unpackedWithoutPrebuilds).toBeLessThan(4.5e6);
  });
});
