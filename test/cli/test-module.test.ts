/**
 * `daxcrash test-module` and `daxcrash repro dxs1-...` as a user runs them: exit codes (1 a
 * broken documented promise, 0 none or only observations, 2 bad input), the smallest
 * finding's token and repro command, the crash image a repro writes (e2fsck reads it), and one
 * line and a hint for each kind of bad input (those refused before the scenario file loads
 * through cli/main.ts main in this process).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { e2fsckCheck, makeTempDir, removeTempDir } from '../helpers/e2fsprogs';
import { runInProcess } from '../helpers/cli-in-process';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'daxcrash.js');
const CJS = 'test/fixtures/scenarios/tiny-store-cjs.scenarios.js';
const ESM = 'test/fixtures/scenarios/tiny-store-esm.scenarios.mjs';
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });

describe('daxcrash test-module', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('test-module-cli');
  });
  afterAll(() => removeTempDir(dir));

  test('a broken promise: exit 1, the smallest finding with its token; repro rebuilds it and writes an image e2fsck reads', () => {
    const r = run('test-module', CJS, '--device-size', '64M', '--scenario', 'saveNaive');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('BROKEN');
    const token = /reproduce: daxcrash repro (dxs1-\S+)/.exec(r.stdout)?.[1] as string;
    expect(token).toBeDefined();
    const image = path.join(dir, 'crash.img');
    const again = run('repro', token, '--image', image);
    expect(again.status).toBe(1);
    expect(again.stdout).toContain('invariant: check returned false');
    expect(again.stdout).toMatch(/in writeSync\(/);
    // The image before recovery: the journal holds the committed setup; e2fsck -fn reads it (a
    // missing e2fsprogs fails here with the install hint).
    const check = e2fsckCheck(image);
    expect([0, 4]).toContain(check.status);
    expect(check.stdout).toMatch(/\d+\/\d+ files/);
  });

  test('a promise that holds: exit 0; an observation that does not hold is reported but does not fail the run', () => {
    const good = run('test-module', CJS, '--device-size', '64M', '--scenario', 'saveSafe');
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('holds (no finding)');
    const esm = run('test-module', ESM, '--device-size', '64M', '--json');
    expect(esm.stderr).toBe('');
    const results = JSON.parse(esm.stdout) as Array<{ scenario: string; promised: boolean; findingCount: number; token: string | null }>;
    expect(results.map((x) => [x.promised, x.findingCount > 0])).toEqual([[true, false], [false, true]]);
    expect(esm.status).toBe(0);
  });

  test('the same seed gives the same output in two processes, byte for byte (an ES module package with timers and random names)', () => {
    const args = ['test-module', ESM, '--device-size', '64M', '--json', '--seed', '11'];
    const first = run(...args);
    const second = run(...args);
    expect(first.stderr).toBe('');
    expect(first.stdout.length).toBeGreaterThan(1000);
    expect(second.stdout).toBe(first.stdout);
  });

  test.each([
    ['no such file', ['test-module', 'no/such.scenarios.js'], 'no scenario file at no/such.scenarios.js'],
    ['no scenario of that name', ['test-module', CJS, '--scenario', 'nothing-like-it'], 'no scenario of'],
    ['an unknown policy', ['test-module', CJS, '--policy', 'sometimes'], "unknown policy 'sometimes'"],
    ['a bad device size', ['test-module', CJS, '--device-size', '3M'], '--device-size 3M'],
    ['a mistyped scenario token', ['repro', 'dxs1-AAAAAAAAAAAAAAAAAAAAAAAA'], 'checksum mismatch'],
  ])('%s: exit 2, one line and a hint', async (what, args, message) => {
    // refused before the scenario file is loaded: through cli/main.ts main in this process (the
    // same code less Node's start-up); the case that loads the file runs as a process, as do
    // the tests above
    const r = what === 'no scenario of that name' ? run(...args) : await runInProcess(args, ROOT);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('a reader that stops early (| head) ends the command quietly, without a stack trace', () => {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" test-module --help | head -c 5`], { encoding: 'utf8', cwd: ROOT });
    expect(r.stdout).toBe('Usage');
    expect(r.stderr).toBe('');
  });

  test('a scenario whose run throws: exit 2, naming the scenario, the phase and where', () => {
    const file = path.join(dir, 'throws.scenarios.js');
    fs.writeFileSync(file, "module.exports = { name: 'throws', run() { JSON.parse('{'); }, check() {} };\n");
    const r = run('test-module', file, '--device-size', '64M');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('scenario "throws": its run threw before any crash');
  });
});
