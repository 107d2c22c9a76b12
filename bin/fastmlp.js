#!/usr/bin/env node
// The fastmlp command (package.json "bin"): the compiled CLI in dist/cli.
'use strict';
require('../dist/cli/main.js').main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
