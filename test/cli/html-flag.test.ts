/** `--html` on run / compare / merge: the Report becomes one self-contained HTML file (cli/html.ts). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const BIN = path.join(__dirname, '..', '..', 'bin', 'daxcrash.js');

describe('daxcrash compare --html', () => {
  // each test's directory, removed after it whether it passed or failed
  const made: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-html-'));
    made.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('writes the report with charts, every kind of finding with its token and timeline', () => {
    const dir = tempDir();
    // rfc-2016 alone: both policies break three promises on these two workloads, and one shrink
    // try gives each kind a shrunk token, which is what the page must show (linux-arm64's setups
    // would add time, not kinds of content)
    const r = spawnSync(process.execPath, [BIN, 'compare', '--seed', '1', '--workloads', '2', '--states', '2', '--shrink-tries', '1',
      '--pmem-api', 'rfc-2016', '--html', 'r.html', '--json', 'r.json', '--no-progress'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/html report: r\.html/);
    const html = fs.readFileSync(path.join(dir, 'r.html'), 'utf8');
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8')) as { kinds: Array<{ promise: string; first: { token?: string }; shrunk: { token: string } | null }>; digest: string };
    expect(report.kinds.length).toBeGreaterThan(1);
    for (const k of report.kinds) if (k.first.token !== undefined) expect(html).toContain(k.first.token);
    expect(report.kinds.some((k) => k.shrunk !== null)).toBe(true);
    for (const k of report.kinds) if (k.shrunk !== null) expect(html).toContain(k.shrunk.token);
    expect(html).toContain(report.digest);
    expect((html.match(/<article/g) ?? []).length).toBe(report.kinds.length);
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/<script/);
  });

  test('an --html target in a missing directory is a usage error and nothing is written', () => {
    const dir = tempDir();
    const r = spawnSync(process.execPath, [BIN, 'compare', '--seed', '1', '--workloads', '1', '--html', 'nowhere/r.html'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
