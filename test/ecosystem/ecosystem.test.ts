/**
 * The ecosystem table's scenarios in `npm test`, on a small budget: every scenario file of
 * test/ecosystem/ runs through `daxcrash test-module` (a child process: half the packages are
 * ES modules) under `ordered` on a 64 MiB device with the k = 1 bound at most 4 states a
 * point, and each scenario's verdict (holds, or not) must be the one docs/ecosystem.md
 * publishes for `ordered` at the defaults, for the installed version of the package.
 * Every token the page publishes must rebuild its finding (`daxcrash repro`, exit 1).
 * `npm run ecosystem` runs the full table.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ECOSYSTEM, installedVersion } from './table';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'daxcrash.js');
const QUICK = ['--policy', 'ordered', '--device-size', '64M', '--states', 'bounded:4', '--k', '1', '--json'];

interface Published {
  readonly version: string;
  readonly holds: boolean;
}

/** The ordered verdicts of docs/ecosystem.md's table, by package and scenario. */
function published(): Map<string, Published> {
  const text = readFileSync(path.join(ROOT, 'docs', 'ecosystem.md'), 'utf8');
  const table = new Map<string, Published>();
  for (const line of text.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    if (cells.length < 6 || !/^(promise|observation)$/.test(cells[3] as string)) continue;
    const [pkg, version] = (cells[1] as string).split(' ');
    table.set(`${pkg}|${(cells[2] as string).replace(/\\\|/g, '|')}`, { version: version as string, holds: (cells[4] as string).startsWith('holds') });
  }
  return table;
}

const PUBLISHED = published();

describe.each(ECOSYSTEM)('$pkg', ({ pkg, file }) => {
  test('each scenario gives the published verdict under ordered (small budget)', () => {
    const r = spawnSync(process.execPath, [BIN, 'test-module', path.join('test', 'ecosystem', file), ...QUICK], { encoding: 'utf8', cwd: ROOT });
    expect(r.stderr).toBe('');
    const results = JSON.parse(r.stdout) as Array<{ scenario: string; promised: boolean; findingCount: number; statesChecked: number; findingCounts: Record<string, number> }>;
    expect(results.length).toBeGreaterThan(0);
    const version = installedVersion(pkg);
    for (const result of results) {
      const row = PUBLISHED.get(`${pkg}|${result.scenario}`);
      expect({ scenario: result.scenario, published: row !== undefined }).toEqual({ scenario: result.scenario, published: true });
      expect((row as Published).version).toBe(version);
      // under ordered the file system is correct: every image mounts and is fsck-clean
      expect({ scenario: result.scenario, mount: result.findingCounts.mount ?? 0, fsck: result.findingCounts.fsck ?? 0 }).toEqual({ scenario: result.scenario, mount: 0, fsck: 0 });
      expect({ scenario: result.scenario, holds: (result.findingCounts.invariant ?? 0) === 0 })
        .toEqual({ scenario: result.scenario, holds: (row as Published).holds });
      expect(result.statesChecked).toBeGreaterThan(0);
    }
    // exit 1 exactly when a documented promise broke
    expect(r.status).toBe(results.some((x) => x.promised && x.findingCount > 0) ? 1 : 0);
  });
});

/** Every token the page publishes (the smallest finding of each scenario that does not hold under ordered). */
function publishedTokens(): string[] {
  const text = readFileSync(path.join(ROOT, 'docs', 'ecosystem.md'), 'utf8');
  return [...text.matchAll(/`daxcrash repro (dxs1-[A-Za-z0-9_-]+)`/g)].map((m) => m[1] as string);
}

describe('the published findings', () => {
  const tokens = publishedTokens();
  test('there are some (the durability observations)', () => {
    expect(tokens.length).toBeGreaterThanOrEqual(ECOSYSTEM.length);
  });
  test.each(tokens.map((token) => [token.slice(0, 24), token]))('%s... reproduces: the same finding, exit 1', (_short, token) => {
    const r = spawnSync(process.execPath, [BIN, 'repro', token as string], { encoding: 'utf8', cwd: ROOT });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^ {2}invariant: check: /m);
  });
});

