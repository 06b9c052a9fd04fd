// Loads the project's TypeScript sources in a clone (bin/daxcrash.js, the pool's workers, the
// npm scripts): a require hook that hands each .ts file of the project to bin/transpile.js
// (SWC, cached in node_modules/.cache/daxcrash-swc) and compiles the JavaScript it gives.
// Source maps are enabled, so stack traces name the TypeScript lines.
//
// Why not ts-node: it loads TypeScript itself (about half a second of CPU) before it hands the
// file to SWC, in every process and every worker thread; bin/daxcrash.js starts in under half
// the CPU time without it.
//
// Use: `node -r ./bin/register.js file.ts`, or require this file before the first .ts module.
'use strict';
const fs = require('fs');
const path = require('path');
const { transpile } = require('./transpile');

const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

if (require.extensions['.ts'] === undefined) {
  process.setSourceMapsEnabled(true);
  require.extensions['.ts'] = function loadTypeScript(module, filename) {
    if (filename.includes(NODE_MODULES)) throw new Error(`bin/register.js loads the project's TypeScript only, not ${filename}`);
    module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
  };
}
