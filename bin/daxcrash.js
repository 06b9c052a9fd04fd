#!/usr/bin/env node
// Starts the CLI. In a clone it runs the TypeScript sources (bin/register.js: SWC transpiles
// each module on first load and keeps it in node_modules/.cache), so `npm install && npm
// start` needs no build and never runs a stale one; in an installed package (no sources, no
// SWC) it runs the build in dist/.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const sources = path.join(root, 'cli', 'main.ts');
const built = path.join(root, 'dist', 'cli', 'main.js');

function loader() {
  try {
    require.resolve('@swc/core');
    return path.join(__dirname, 'register.js');
  } catch {
    return undefined;
  }
}

process.env.DAXCRASH_BIN = '1';
const register = fs.existsSync(sources) ? loader() : undefined;
if (register !== undefined) {
  require(register);
  require(sources);
} else if (fs.existsSync(built)) {
  require(built);
} else {
  process.stderr.write('daxcrash: neither the TypeScript sources with @swc/core nor a build in dist/ (run `npm install`, or `npm run build`)\n');
  process.exitCode = 3;
}
