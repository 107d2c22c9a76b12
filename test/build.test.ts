// The two builds stay in step: binding.gyp (ships) and CMakeLists.txt (develops)
// compile the same sources with the same pinned N-API version.
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');

function gypSources(): string[] {
  // binding.gyp is JSON plus '#' comments.
  const text = read('binding.gyp').replace(/^\s*#.*$/gm, '');
  const gyp = JSON.parse(text) as { targets: { target_name: string; sources: string[] }[] };
  return gyp.targets.find((t) => t.target_name === 'fastmlp')!.sources;
}

function cmakeList(variable: string): string[] {
  const m = new RegExp(`set\\(${variable}\\s+([^)]*)\\)`).exec(read('CMakeLists.txt'));
  if (!m) throw new Error(`${variable} not found in CMakeLists.txt`);
  return m[1]!.split(/\s+/).filter((s) => s.endsWith('.cc'));
}

function ccFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.cc')).map((f) => `${dir}/${f}`);
}

describe('build files', () => {
  it('binding.gyp and CMakeLists.txt list the same core and binding sources', () => {
    const gyp = gypSources();
    const cmake = [...cmakeList('FASTMLP_CORE_SOURCES'), ...cmakeList('FASTMLP_BINDING_SOURCES')];
    expect([...gyp].sort()).toEqual([...cmake].sort());
  });

  it('every .cc file in native/core and native/binding is built', () => {
    const onDisk = [...ccFiles('native/core'), ...ccFiles('native/binding')].sort();
    expect([...gypSources()].sort()).toEqual(onDisk);
  });

  it('pins one N-API version in package.json, binding.gyp and CMakeLists.txt', () => {
    const pkg = JSON.parse(read('package.json')) as { binary: { napi_versions: number[] } };
    const version = pkg.binary.napi_versions[0];
    expect(read('binding.gyp')).toContain(`NAPI_VERSION=${version}`);
    expect(read('CMakeLists.txt')).toContain(`NAPI_VERSION=${version}`);
  });

  it('ships no -march=native', () => {
    const withoutComments = read('binding.gyp').replace(/^\s*#.*$/gm, '');
    expect(withoutComments).not.toMatch(/march=native/);
    expect(withoutComments).toMatch(/-O3/);
  });

  it('native/core/version.h matches package.json', () => {
    const pkg = JSON.parse(read('package.json')) as { version: string };
    expect(read('native/core/version.h')).toContain(`#define FASTMLP_VERSION "${pkg.version}"`);
  });

  it('native/core never includes Node headers', () => {
    for (const f of readdirSync(path.join(root, 'native/core'))) {
      expect(read(`native/core/${f}`), f).not.toMatch(/#include\s*[<"](napi|node_api|node)\.h/);
    }
  });
});
