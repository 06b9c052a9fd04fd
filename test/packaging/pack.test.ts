/**
 * Packaging: `npm pack` (its prepack builds dist/) gives a tarball that installs into an empty
 * project, where `npx daxcrash` runs from the build (no sources, no ts-node there) and
 * `require('daxcrash')` gives the library with its types. Needs npm and its cache (the
 * registry for commander, memfs and seedrandom on a cold cache; --prefer-offline otherwise).
 * Takes about 20 to 40 s, most of it the TypeScript build.
 */
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** The environment without the outer npm's settings (a `npm test` run sets npm_config_*). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

function run(cmd: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args as string[], { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 150_000 });
  if (r.error) throw r.error;
  return r;
}

function expectOk(r: SpawnSyncReturns<string>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
}

describe('npm pack', () => {
  let work: string;
  let project: string;

  beforeAll(() => {
    work = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-pack-'));
    expectOk(run(NPM, ['pack', '--pack-destination', work], ROOT), 'npm pack');
    const tarballs = nodeFs.readdirSync(work).filter((f) => f.endsWith('.tgz'));
    expect(tarballs).toHaveLength(1);
    project = path.join(work, 'project');
    nodeFs.mkdirSync(project);
    nodeFs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'empty-project', version: '1.0.0', private: true }));
    expectOk(run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, tarballs[0])], project), 'npm install');
  }, 180_000);

  afterAll(() => {
    if (work) nodeFs.rmSync(work, { recursive: true, force: true });
  });

  test('the package holds the build and the bin, not the sources or the tests', () => {
    const installed = path.join(project, 'node_modules', 'daxcrash');
    for (const f of ['bin/daxcrash.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'package.json']) {
      expect(nodeFs.existsSync(path.join(installed, f))).toBe(true);
    }
    for (const f of ['cli/main.ts', 'test', 'dist/test', 'bin/register.js', 'bin/transpile.js', 'node_modules/ts-node']) {
      expect(nodeFs.existsSync(path.join(installed, f))).toBe(false);
    }
    for (const dependency of ['ts-node', '@swc/core']) expect(nodeFs.existsSync(path.join(project, 'node_modules', dependency))).toBe(false);
  });

  test('npx daxcrash --help and --version exit 0; a bad flag exits 2', () => {
    const help = run(NPX, ['daxcrash', '--help'], project);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: daxcrash/m);
    expect(help.stdout).toMatch(/litmus/);
    const version = run(NPX, ['daxcrash', '--version'], project);
    expect(version.status).toBe(0);
    const ours = JSON.parse(nodeFs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(ours.version);
    const bad = run(NPX, ['daxcrash', 'litmus', '--no-such-flag'], project);
    expect(bad.status).toBe(2);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  test('npx daxcrash litmus --profile armv8.2 runs from the build and every claim holds', () => {
    const r = run(NPX, ['daxcrash', 'litmus', '--profile', 'armv8.2'], project);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/all \d+ claims hold/);
  });

  test('npx daxcrash run: a small campaign runs from the build (workers included) and writes its report', () => {
    const r = run(NPX, ['daxcrash', 'run', '--seed', '1', '--workloads', '2', '--states', '1', '--workers', '2',
      '--policy', 'ordered', '--no-progress', '--json', 'pack-report.json'], project);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/results digest sha256:[0-9a-f]{64}/);
    const report = JSON.parse(nodeFs.readFileSync(path.join(project, 'pack-report.json'), 'utf8')) as { totals: { units: number; findings: number } };
    expect(report.totals.units).toBe(4); // two workloads of each default suite (bounded-1, shapes)
    expect(report.totals.findings).toBe(0);
  });

  test("require('daxcrash') gives the library: crashTest runs from the package", () => {
    const script = `
      const { crashTest, PROFILE_NAMES } = require('daxcrash');
      crashTest((fs) => fs.writeFileSync('/f', 'new'.repeat(500)), {
        setup: (fs) => { fs.writeFileSync('/f', 'old'); fs.syncSync(); },
        check: (fs) => ['old', 'new'.repeat(500)].includes(fs.readFileSync('/f', 'utf8')),
        policy: 'ordered', states: { kind: 'bounded', k: 1, limit: 2 }, seed: 'pack',
      }).then((r) => console.log(JSON.stringify({ profiles: PROFILE_NAMES.length, points: r.crashPoints, states: r.statesChecked, findings: r.findingCount })));`;
    const r = run(process.execPath, ['-e', script], project);
    expectOk(r, 'the library script');
    const out = JSON.parse(r.stdout) as { profiles: number; points: number; states: number; findings: number };
    expect(out.profiles).toBeGreaterThan(0);
    expect(out.points).toBeGreaterThan(10);
    expect(out.states).toBeGreaterThan(out.points);
    expect(out.findings).toBe(0);
  });
});
