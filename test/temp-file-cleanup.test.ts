// A save's temporary file does not outlive a thread or process that stops
// mid-save: a worker terminated while its save awaits the write or fsync runs
// no more JavaScript, so the addon removes the tracked file at the thread's
// teardown, and a process.exit() mid-save removes it in an 'exit' listener
// (lib/io/temp-file-guard.ts, native/binding/temp_files.h). Each
// case runs in a child process (test/fixtures/temp-file-cleanup.cjs).
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/native';
import { runFixture } from './fixture-child';
import { ENGINES } from './helpers';
import { tempDir } from './temp-dir';

const fixture = path.join(__dirname, 'fixtures', 'temp-file-cleanup.cjs');

const child = (args: string[]) => runFixture(fixture, args, 120000);

describe('temporary files of an interrupted save', () => {
  it('a terminated worker removes the files it tracks, and keeps the ones it untracked', async () => {
    const dir = tempDir('fastmlp-tmpguard-');
    const c = await child(['worker-track', dir]);
    expect({ status: c.status, stderr: c.stderr }).toEqual({ status: 0, stderr: '' });
    expect(c.result).toEqual({ code: 1, errors: [], late: [], sawTemp: false, left: ['b.tmp'] });
  });

  it.each(ENGINES.flatMap((engine) => [[engine, 'main'], [engine, 'worker']]))(
    'process.exit() mid-save leaves neither the temporary file nor a partial model (%s engine, %s thread)', async (engine, where) => {
      const dir = tempDir('fastmlp-tmpguard-');
      const c = await child(['save-exit', dir, engine, where]);
      // Exit status 3 would mean the save finished before the exit landed: then nothing was tested.
      expect({ status: c.status, stderr: c.stderr }).toEqual({ status: 0, stderr: '' });
      if (where === 'worker') expect(c.result).toEqual({ code: 0, left: [] });
      expect(readdirSync(dir)).toEqual([]);
    }, 130000);

  it.each(ENGINES)('a worker terminated mid-save leaves neither its temporary file nor a partial model (%s engine)', async (engine) => {
    const dir = tempDir('fastmlp-tmpguard-');
    const c = await child(['save-terminate', dir, engine]);
    expect({ status: c.status, stderr: c.stderr }).toEqual({ status: 0, stderr: '' });
    // sawTemp: the termination did land inside the save; before the guard `left` held its `.tmp`.
    expect(c.result).toEqual({ code: 1, errors: [], late: [], sawTemp: true, left: [] });
  }, 130000);

  it('trackTempFile and untrackTempFile check their arguments', () => {
    const native = loadNative();
    expect(() => native.trackTempFile(12 as unknown as string)).toThrow(TypeError);
    expect(() => native.trackTempFile(12 as unknown as string)).toThrow(/Expected a string for path but received/);
    expect(() => native.trackTempFile('')).toThrow(RangeError);
    expect(() => native.trackTempFile('a\0b')).toThrow(/without NUL characters for path/);
    expect(() => native.untrackTempFile('1' as unknown as number)).toThrow(TypeError);
    expect(() => native.untrackTempFile(0)).toThrow(/for id but received number 0/);
    expect(() => native.untrackTempFile(1.5)).toThrow(RangeError);
    const file = path.join(tempDir('fastmlp-tmpguard-'), 'kept.tmp');
    writeFileSync(file, 'x');
    const id = native.trackTempFile(file);
    expect(native.untrackTempFile(id)).toBeUndefined();
    expect(native.untrackTempFile(id)).toBeUndefined();   // twice: harmless
    expect(native.untrackTempFile(2 ** 32 - 1)).toBeUndefined();   // never issued: ignored
    expect(existsSync(file)).toBe(true);
  });
});
