import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const BIN = path.join(__dirname, '..', '..', 'bin', 'daxcrash.js');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

describe('daxcrash litmus', () => {
  test('prints the table with every claim holding, and exits 0', () => {
    const r = run('litmus', '--profile', 'armv8.2');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^2: A=1; DC CVAP A; DSB SY; B=1/m);
    expect(r.stdout).toMatch(/armv8\.2\s+-\s+R 0,0 1,0 1,1; F 0,1\s+0,0 1,0 1,1\s+ok/);
    expect(r.stdout).toMatch(/all \d+ claims hold/);
    expect(r.stdout).not.toMatch(/FAIL/);
  });

  test('--json gives the results as data', () => {
    const r = run('litmus', '--profile', 'x86-eadr', '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { failed: number; results: Array<{ test: string; reached: string[]; ok: boolean }> };
    expect(report.failed).toBe(0);
    expect(report.results.find((x) => x.test === '13')?.reached).toEqual(['0,0', '1,0', '1,1']);
  });

  test('a bad profile is a usage error: one line with a hint, exit 2, no stack trace', () => {
    const r = run('litmus', '--profile', 'armv9');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/argument 'armv9' is invalid. expected one of: armv8.2/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  test('an unknown command is a usage error', () => {
    expect(run('frobnicate').status).toBe(2);
  });

  test('--version and --help exit 0', () => {
    expect(run('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = run('litmus', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
  });
});
