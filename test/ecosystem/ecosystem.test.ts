/**
 * The ecosystem table's scenarios in `npm test`, on a small budget: every scenario file of
 * test/ecosystem/ runs under `ordered` on a 64 MiB device with the k = 1 bound at most 4
 * states a point (`table.ts --check`, one child process: half the packages are ES modules,
 * which jest cannot load), and each scenario's verdict (holds, or not) must be the one
 * docs/ecosystem.md publishes for `ordered` at the defaults, for the installed version of the
 * package, with every image mounted and fsck-clean. Every token the page publishes must
 * rebuild its finding. `npm run ecosystem` runs the full table.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ECOSYSTEM, installedVersion, publishedTokens } from './table';

const ROOT = path.join(__dirname, '..', '..');

interface Published {
  readonly version: string;
  readonly holds: boolean;
}

interface Checked {
  readonly verdicts: ReadonlyArray<{ pkg: string; version: string; scenario: string; promised: boolean; statesChecked: number; findingCounts: Record<string, number> }>;
  readonly replays: ReadonlyArray<{ token: string; statesChecked: number; findings: readonly string[] }>;
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

let checked: Checked;
beforeAll(() => {
  const r = spawnSync(process.execPath, ['-r', './bin/register.js', path.join('test', 'ecosystem', 'table.ts'), '--check'],
    { encoding: 'utf8', cwd: ROOT });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  checked = JSON.parse(r.stdout) as Checked;
});

const PUBLISHED = published();

describe.each(ECOSYSTEM)('$pkg', ({ pkg }) => {
  test('each scenario gives the published verdict under ordered (small budget); every image mounts and is fsck-clean', () => {
    const results = checked.verdicts.filter((v) => v.pkg === pkg);
    expect(results.length).toBeGreaterThan(0);
    for (const result of results) {
      const row = PUBLISHED.get(`${pkg}|${result.scenario}`);
      expect({ scenario: result.scenario, published: row !== undefined }).toEqual({ scenario: result.scenario, published: true });
      expect((row as Published).version).toBe(installedVersion(pkg));
      expect(result.version).toBe(installedVersion(pkg));
      expect({ scenario: result.scenario, mount: result.findingCounts.mount ?? 0, fsck: result.findingCounts.fsck ?? 0 }).toEqual({ scenario: result.scenario, mount: 0, fsck: 0 });
      expect({ scenario: result.scenario, holds: (result.findingCounts.invariant ?? 0) === 0 })
        .toEqual({ scenario: result.scenario, holds: (row as Published).holds });
      expect(result.statesChecked).toBeGreaterThan(0);
    }
  });
});

describe('the published findings', () => {
  test('there is one for each scenario that does not hold under ordered, and each token rebuilds its finding', () => {
    const tokens = publishedTokens();
    expect(tokens.length).toBe([...PUBLISHED.values()].filter((row) => !row.holds).length);
    expect(checked.replays.map((r) => r.token)).toEqual(tokens);
    for (const replay of checked.replays) {
      expect({ token: replay.token, statesChecked: replay.statesChecked }).toEqual({ token: replay.token, statesChecked: 1 });
      expect(replay.findings.length).toBeGreaterThan(0);
      expect(replay.findings[0]).toMatch(/^invariant: check: /);
    }
  });
});
