#!/usr/bin/env node
// Starts the CLI. In a clone it runs the TypeScript sources (SWC transpiles on load, about
// 0.3 s), so `npm install && npm start` needs no build and never runs a stale one; in an
// installed package (no sources, no ts-node) it runs the build in dist/.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const sources = path.join(root, 'cli', 'main.ts');
const built = path.join(root, 'dist', 'cli', 'main.js');

function tsNode() {
  try {
    return require('ts-node');
  } catch {
    return undefined;
  }
}

process.env.DAXCRASH_BIN = '1';
const register = fs.existsSync(sources) ? tsNode() : undefined;
if (register !== undefined) {
  register.register({ transpileOnly: true, swc: true, project: path.join(root, 'tsconfig.json') });
  require(sources);
} else if (fs.existsSync(built)) {
  require(built);
} else {
  process.stderr.write('daxcrash: neither the TypeScript sources with ts-node nor a build in dist/ (run `npm install`, or `npm run build`)\n');
  process.exitCode = 3;
}
