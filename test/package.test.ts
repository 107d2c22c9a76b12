// The package as consumers load it: `require('fastmlp')` (CommonJS build in
// dist/) and `import ... from 'fastmlp'` (esm/index.mjs) give the same objects.
// Run in child processes so the resolution is Node's own, not vitest's.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

describe('package', () => {
  it('is named fastmlp, needs Node >= 18 and installs through node-gyp-build', () => {
    expect(pkg.name).toBe('fastmlp');
    expect(pkg.engines.node).toBe('>=18');
    // node-gyp-build first; when it cannot load or compile, a one-line notice and a JS-engine install.
    expect(pkg.scripts.install).toBe('node-gyp-build || node scripts/install-fallback.cjs');
  });

  it('require() and import give the same export names', () => {
    const cjs = JSON.parse(node(['-e', "console.log(JSON.stringify(Object.keys(require('fastmlp')).sort()))"]));
    const esm = JSON.parse(node(['--input-type=module', '-e',
      "import * as m from 'fastmlp'; console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))"]));
    expect(esm).toEqual(cjs);
    expect(cjs).toEqual(expect.arrayContaining(['Sequential', 'Dense', 'Activation', 'Matrix', 'optim', 'losses', 'ops', 'backend', 'setThreads']));
  });

  it('import and require share one copy of each class', () => {
    const out = node(['--input-type=module', '-e', [
      "import { createRequire } from 'node:module';",
      "import { Matrix } from 'fastmlp';",
      "const cjs = createRequire(import.meta.url)('fastmlp');",
      'console.log(String(new Matrix(1, 1) instanceof cjs.Matrix));',
    ].join('\n')]);
    expect(out).toBe('true');
  });

  it('trains from the compiled package in both module systems', () => {
    const script = (engine: string) => [
      "const { Sequential, Dense } = require('fastmlp');",
      `const m = new Sequential([new Dense(2, 3, { activation: 'tanh' }), new Dense(3, 1)], { engine: '${engine}', seed: 1 });`,
      "m.compile({ loss: 'mse', optimizer: 'sgd' });",
      'console.log(typeof m.trainStep([[0, 1]], [[1]]));',
    ].join('\n');
    expect(node(['-e', script('native')])).toBe('number');
    expect(node(['-e', script('js')])).toBe('number');
  });
});
