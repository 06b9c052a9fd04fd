// The TypeScript-to-JavaScript step of bin/register.js, apart from the hook so that it can be
// called (and tested) without installing one: SWC (@swc/core) with the options ts-node 10.9
// derives from tsconfig.json for SWC (test/packaging/register.test.ts holds the output to
// ts-node's, file by file), to CommonJS with an inline source map.
//
// The cache: node_modules/.cache/daxcrash-swc, one file per sha256 of (SWC version, options,
// file name, source), written to a name of its own (process and thread) and renamed into
// place, so processes and threads sharing it never read half a file; a stale entry is never
// read (the key names the source), and a cache that cannot be written only costs the
// transpiling again.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { threadId } = require('worker_threads');
const swc = require('@swc/core');

const CACHE = path.join(__dirname, '..', 'node_modules', '.cache', 'daxcrash-swc');

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

/** Where the JavaScript of `source` (read from `filename`) is kept. */
function cacheFile(source, filename) {
  const key = crypto.createHash('sha256').update(OPTIONS_KEY).update(`${filename}\n`).update(source).digest('hex');
  return path.join(CACHE, `${key}.js`);
}

/** The JavaScript of one TypeScript file: from the cache, or transpiled and kept there. */
function transpile(source, filename) {
  const cached = cacheFile(source, filename);
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

module.exports = { transpile, cacheFile };
