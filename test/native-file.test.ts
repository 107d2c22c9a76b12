// A truncated addon (an install or copy that stopped half-way) used to kill the
// process with SIGBUS when the loader mapped it. lib/native-file.ts checks the
// ELF headers against the file's size first, so engine 'native' throws
// ERR_FASTMLP_NATIVE_UNAVAILABLE and 'auto' falls back to the JS engine.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { elfTruncation } from '../lib/native-file';

const root = path.resolve(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon: string = (require('node-gyp-build') as { path(dir: string): string }).path(root);
const whole = readFileSync(addon);
const dir = mkdtempSync(path.join(tmpdir(), 'fastmlp-native-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeCopy(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

describe('elfTruncation', () => {
  it('passes whole ELF files and leaves other files alone', () => {
    expect(elfTruncation(addon)).toBeNull();
    expect(elfTruncation(process.execPath)).toBeNull();
    expect(elfTruncation(path.join(root, 'package.json'))).toBeNull();
    expect(elfTruncation(writeCopy('empty.node', new Uint8Array(0)))).toBeNull();  // no ELF magic: the loader's error
  });

  it('names the file and the missing end for the addon cut anywhere', () => {
    for (const keep of [0.01, 0.25, 0.5, 0.9, 0.99, 0.999]) {
      const cut = Math.floor(whole.length * keep);
      const file = writeCopy(`cut-${keep}.node`, whole.subarray(0, cut));
      const reason = elfTruncation(file);
      expect(reason, `kept ${cut} of ${whole.length} bytes`).toContain(`${file} is cut short`);
      expect(reason).toContain(`the file has ${cut} bytes`);
    }
    expect(elfTruncation(writeCopy('ident.node', whole.subarray(0, 20)))).toMatch(/its ELF header ends at byte (52|64)/);
  });

  it('checks the loadable segments when the file has no section header table', () => {
    // e_shoff and e_shnum zeroed (a file without a section header table): the segments still tell.
    const stripped = Buffer.from(whole);
    const is64 = stripped[4] === 2;
    if (is64) stripped.writeBigUInt64LE(0n, 0x28); else stripped.writeUInt32LE(0, 0x20);
    stripped.writeUInt16LE(0, is64 ? 0x3c : 0x30);
    expect(elfTruncation(writeCopy('no-sections.node', stripped))).toBeNull();
    const file = writeCopy('no-sections-cut.node', stripped.subarray(0, Math.floor(stripped.length / 2)));
    expect(elfTruncation(file)).toMatch(/its loadable segment \d+ ends at byte \d+/);
  });
});

describe('loading a truncated addon', () => {
  const truncated = path.join(dir, 'fastmlp.node');
  copyFileSync(addon, truncated);
  writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  // node-gyp-build replaced (in require's cache) by one that resolves to the truncated copy.
  const pointAtTruncated = `
    const gypBuild = require.resolve('node-gyp-build', { paths: [${JSON.stringify(path.join(root, 'dist'))}] });
    const at = () => ${JSON.stringify(truncated)};
    require.cache[gypBuild] = { id: gypBuild, filename: gypBuild, loaded: true,
      exports: Object.assign((d) => require(at(d)), { path: at }) };
  `;

  it("engine 'native' throws ERR_FASTMLP_NATIVE_UNAVAILABLE instead of the process dying of SIGBUS", () => {
    const r = spawnSync(process.execPath, ['-e', pointAtTruncated + `
      const f = require('fastmlp');
      try { new f.Sequential([new f.Dense(2, 1)], { engine: 'native' }); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`], { cwd: root, encoding: 'utf8' });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const err = JSON.parse(r.stdout) as { code: string; message: string };
    expect(err.code).toBe('ERR_FASTMLP_NATIVE_UNAVAILABLE');
    expect(err.message).toContain(`${truncated} is cut short`);
  });

  it("engine 'auto' falls back to the JS engine", () => {
    const out = execFileSync(process.execPath, ['-e', pointAtTruncated + `
      process.on('warning', () => {});
      const f = require('fastmlp');
      const m = new f.Sequential([new f.Dense(2, 1)], { seed: 1 });
      console.log(m.engine);`], { cwd: root, encoding: 'utf8' });
    expect(out.trim()).toBe('js');
  });
});
