// Writes package.json and package-lock.json for an empty project that depends
// on a fastmlp tarball, pinning fastmlp's runtime dependencies to the versions
// (and integrity hashes) in fastmlp's own package-lock.json. With a complete
// lock, `npm ci --offline` needs only the dependency tarballs, which the
// repository's `npm install` left in npm's cache (found by integrity); without
// it npm would ask the registry for every package's metadata. Used by scripts/check-tarball.sh.
//   node scripts/consumer-lock.cjs <project dir> <fastmlp .tgz>
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [dir, tarball] = process.argv.slice(2);
if (!dir || !tarball) {
  console.error('usage: node scripts/consumer-lock.cjs <project dir> <fastmlp .tgz>');
  process.exit(2);
}
const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const spec = `file:${path.relative(dir, path.resolve(tarball))}`;

const packages = {
  '': { name: 'consumer', version: '1.0.0', dependencies: { fastmlp: spec } },
  'node_modules/fastmlp': {
    version: pkg.version,
    resolved: spec,
    hasInstallScript: true,
    license: pkg.license,
    // npm ci links node_modules/.bin from the lock's entry: without it `npx fastmlp` finds no command.
    bin: pkg.bin,
    dependencies: pkg.dependencies,
    engines: pkg.engines,
  },
};
// fastmlp's runtime closure: the lock entries not marked dev-only, at the same
// node_modules paths (fastmlp's dependencies hoist to the consumer's top level).
for (const [key, entry] of Object.entries(lock.packages)) {
  if (key === '' || entry.dev || entry.devOptional || entry.link) continue;
  // The repository's lock carries no `resolved` URLs; without one npm asks the
  // registry for the package's metadata to find the tarball, so add npm's URL.
  const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const file = `${name.split('/').pop()}-${entry.version}.tgz`;
  packages[key] = { resolved: `https://registry.npmjs.org/${name}/-/${file}`, ...entry };
}
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'package.json'),
  JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { fastmlp: spec } }, null, 2) + '\n');
fs.writeFileSync(path.join(dir, 'package-lock.json'),
  JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2) + '\n');
