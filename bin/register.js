// Loads the project's TypeScript sources in a clone: a require hook that transpiles each .ts
// file of the project with SWC (@swc/core, already the test runner's transpiler) to CommonJS,
// with the options ts-node derives from tsconfig.json for SWC (test/packaging/register.test.ts
// holds the output to ts-node's, file by file), and keeps the result on disk.
//
// Why not ts-node: it loads TypeScript itself (about half a second of CPU) before it hands
// the file to SWC, in every process and every worker thread; bin/daxcrash.js starts in about
// a third of the time without it.
//
// The cache: node_modules/.cache/daxcrash-swc, one file per (SWC version, options, file name,
// source) sha256, written to a temporary name and renamed, so processes sharing it never read
// half a file; a stale entry is never read (the key names the source), and a cache that cannot
// be written only costs the transpiling again. Source maps are inline, and enabled, so stack
// traces name the TypeScript lines.
//
// Use: `node -r ./bin/register.js file.ts`, or require this file before the first .ts module.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { threadId } = require('worker_threads');
const swc = require('@swc/core');

const ROOT = path.join(__dirname, '..');
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'daxcrash-swc');

/** What ts-node 10.9 passes to SWC for this tsconfig (ES2022, commonjs, esModuleInterop, strict). */
const OPTIONS = {
  swcrc: false,
  sourceMaps: 'inline',
  module: { type: 'commonjs', noInterop: false, strictMode: true, ignoreDynamic: false },
  jsc: {
    parser: { syntax: 'typescript', tsx: false, dynamicImport: true, importAssertions: true },
    target: 'es2022',
    transform: { legacyDecorator: true, useDefineForClassFields: true },
    keepClassNames: true,
    experimental: { keepImportAttributes: true, emitAssertForImportAttributes: true },
  },
};
const OPTIONS_KEY = `${swc.version}\n${JSON.stringify(OPTIONS)}\n`;

/** The JavaScript of one TypeScript file (transpiled, or read from the cache). */
function transpile(source, filename) {
  const key = crypto.createHash('sha256').update(OPTIONS_KEY).update(`${filename}\n`).update(source).digest('hex');
  const cached = path.join(CACHE, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not cached yet
  }
  const { code } = swc.transformSync(source, { ...OPTIONS, filename });
  try {
    fs.mkdirSync(CACHE, { recursive: true });
    const temporary = `${cached}.${process.pid}.${threadId}`;
    fs.writeFileSync(temporary, code);
    fs.renameSync(temporary, cached);
  } catch {
    // a read-only tree: transpile again next time
  }
  return code;
}

if (require.extensions['.ts'] === undefined) {
  process.setSourceMapsEnabled(true);
  require.extensions['.ts'] = function loadTypeScript(module, filename) {
    if (filename.includes(NODE_MODULES)) throw new Error(`bin/register.js loads the project's TypeScript only, not ${filename}`);
    module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
  };
}

module.exports = { transpile, OPTIONS };
