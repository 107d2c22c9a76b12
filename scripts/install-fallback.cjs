// Runs only when `node-gyp-build` failed during `npm install` (package.json:
// "install": "node-gyp-build || node scripts/install-fallback.cjs"): no
// prebuilt binary matched this platform and compiling the bundled sources
// failed (no C++17 compiler, make or Python). Failing the whole install would
// leave the user with nothing, while the pure-TypeScript engine works
// everywhere — so say once what happened and how to get the native engine,
// and let the install succeed. At run time engine 'auto' then uses the JS
// engine with one FASTMLP_JS_FALLBACK warning; engine 'native' throws the
// load error (lib/native.ts), which lists the paths tried.
'use strict';

const tuple = `${process.platform}-${process.arch}`;
process.stderr.write(
  `fastmlp: no prebuilt binary for ${tuple} (Node-API ${process.versions.napi}) and compiling native/ failed; ` +
    "the pure-TypeScript engine will be used. For the native engine, install a C++17 compiler, make and " +
    'Python 3, then run `npm rebuild fastmlp` (add --foreground-scripts to see the compiler output).\n',
);
