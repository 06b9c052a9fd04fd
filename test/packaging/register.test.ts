/**
 * bin/register.js, the loader that runs the TypeScript sources in a clone (bin/daxcrash.js,
 * the pool's workers, the npm scripts), and bin/transpile.js, its transpiling step: the
 * JavaScript must be what ts-node with SWC makes of the same file under tsconfig.json (the
 * project's loader before it), for every tracked TypeScript file; the cache must be read, and
 * keyed by the source; and a stack trace must name the TypeScript lines.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const { transpile, cacheFile } = require('../../bin/transpile.js') as { transpile(source: string, filename: string): string; cacheFile(source: string, filename: string): string };

/** The code without its inline source map (the two tools encode their maps differently). */
const code = (js: string) => js.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '');

describe('bin/register.js', () => {
  test('every tracked TypeScript file transpiles to what ts-node with SWC makes of it', () => {
    const tsNode = require('ts-node') as typeof import('ts-node');
    const service = tsNode.create({ transpileOnly: true, swc: true, project: path.join(ROOT, 'tsconfig.json') });
    const files = execFileSync('git', ['ls-files', '*.ts'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
    expect(files.length).toBeGreaterThan(200);
    const differ: string[] = [];
    for (const file of files) {
      const filename = path.join(ROOT, file);
      const source = fs.readFileSync(filename, 'utf8');
      if (code(transpile(source, filename)) !== code(service.compile(source, filename))) differ.push(file);
    }
    expect(differ).toEqual([]);
  });

  test('the cache is read, and keyed by the source: a changed file is transpiled again', () => {
    const filename = path.join(ROOT, 'test', 'packaging', 'cache-probe.ts');
    const source = 'export const value: number = 1;\n';
    const one = transpile(source, filename);
    expect(code(one)).toMatch(/value = 1;/);
    expect(fs.readFileSync(cacheFile(source, filename), 'utf8')).toBe(one);
    const two = transpile('export const value: number = 2;\n', filename);
    expect(code(two)).toMatch(/value = 2;/);
    // what the cache holds is what the next load gets
    fs.writeFileSync(cacheFile(source, filename), 'exports.value = 3;\n');
    try {
      expect(transpile(source, filename)).toBe('exports.value = 3;\n');
    } finally {
      fs.rmSync(cacheFile(source, filename));
    }
    expect(transpile(source, filename)).toBe(one);
  });

  test('a module loaded through it throws with the TypeScript file and line in its stack', () => {
    const script = 'require("./core/bytes").readU32LE(new Uint8Array(2), 0);';
    const r = spawnSync(process.execPath, ['-r', './bin/register.js', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/4-byte access at offset 0 is outside/);
    // the top frame's line is checkRange's assert in the TypeScript source, not a line of the JavaScript
    const line = Number(/core\/bytes\.ts:(\d+):\d+/.exec(r.stderr)?.[1]);
    expect(fs.readFileSync(path.join(ROOT, 'core', 'bytes.ts'), 'utf8').split('\n')[line - 1]).toMatch(/assert\(false, .*-byte access/);
  });
});
