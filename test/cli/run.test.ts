/**
 * `daxcrash run`, `compare` and `merge` as processes (node bin/daxcrash.js): tiny campaigns
 * (the first bounded-1 workloads, 2 sampled states a point, a 16 MiB device named with
 * --device-size: these tests are about workers, shards and resuming, not the device). Results
 * must not depend on workers or shards, an interrupted run resumes to the same totals and
 * digest, and bad input is one line and a hint, exit 2, and no file written (two cases as
 * processes, the rest through cli/main.ts `main` in this process). The default
 * device (1 GiB) and --device-size reaching the run are checked on one-unit runs (every
 * spelling it takes: device-size.test.ts).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runInProcess } from '../helpers/cli-in-process';

const BIN = path.join(__dirname, '..', '..', 'bin', 'daxcrash.js');
const TINY = ['--seed', '11', '--suite', 'bounded-1', '--workloads', '3', '--states', '2', '--policy', 'all', '--shrink-tries', '2', '--device-size', '16M', '--no-progress'];
let dir: string;

interface Ran { status: number | null; stdout: string; stderr: string }

function start(args: string[]): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, CI: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => { stdout += String(d); });
  child.stderr?.on('data', (d) => { stderr += String(d); });
  const done = new Promise<Ran>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  return { child, done };
}

const run = (...args: string[]) => start(args).done;
const runSync = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
const read = (file: string) => fs.readFileSync(path.join(dir, file), 'utf8');

interface ReportLike {
  schema: string; digest: string; complete: boolean;
  totals: { units: number; statesChecked: number; findings: number };
  combos: Array<{ label: string; units: number; statesChecked: number; findingCounts: Record<string, number>; cost: { costNanosPerOp: number } }>;
  kinds: Array<{ promise: string; setup: string; shrunk: { token: string } | null; repro: string | null; first: { token?: string } }>;
  units: Array<{ id: string; index: number }>;
  run: { shard: unknown };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-run-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('daxcrash run', () => {
  let one: Ran;
  let report: ReportLike;

  beforeAll(async () => {
    const [a, b, s0, s1] = await Promise.all([
      run('run', ...TINY, '--out', 'w1', '--json', 'w1.json', '--junit', 'w1.xml'),
      run('run', ...TINY, '--workers', '2', '--out', 'w2', '--json', 'w2.json'),
      run('run', ...TINY, '--shard', '0/2', '--out', 's0', '--json', 's0.json'),
      run('run', ...TINY, '--shard', '1/2', '--out', 's1'),
    ]);
    one = a;
    for (const r of [a, b, s0, s1]) expect(r.stderr).not.toMatch(/internal error/);
    expect([a.status, b.status]).toEqual([1, 1]);
    report = JSON.parse(read('w1.json')) as ReportLike;
  });

  test('prints its seed first, the table, each kind of finding with its shrunk token and repro command; exit 1', () => {
    expect(one.stdout.split('\n')[0]).toBe('daxcrash run: seed 11');
    expect(one.stdout).toMatch(/^armv8\.2\/linux-arm64\/ordered\s+3\s+\d+/m);
    expect(one.stdout).toMatch(/^armv8\.2\/linux-arm64\/unordered\s+3\s+\d+/m);
    expect(report.schema).toBe('daxcrash-report/1');
    expect(report.complete).toBe(true);
    expect(report.totals.units).toBe(6);
    const ordered = report.combos.find((c) => c.label === 'armv8.2/linux-arm64/ordered');
    expect(Object.values(ordered?.findingCounts ?? {}).reduce((a, b) => a + b, 0)).toBe(0);
    expect(report.kinds.length).toBeGreaterThan(0);
    for (const k of report.kinds) {
      expect(k.setup).toBe('armv8.2/linux-arm64/unordered');
      expect(k.shrunk?.token).toMatch(/^dx2-/);
      expect(k.repro).toBe(`daxcrash repro ${k.shrunk?.token}`);
      expect(one.stdout).toContain(`reproduce: daxcrash repro ${k.shrunk?.token}`);
    }
    expect(one.stdout).toContain(`results digest ${report.digest}`);
    // one JSON line per finished unit, and one JUnit test case per unit
    expect(read('w1/results.jsonl').trim().split('\n')).toHaveLength(6);
    expect(read('w1.xml').match(/<testcase /g)).toHaveLength(6);
    expect(read('w1.xml')).toMatch(/<failure message="G\d/);
  });

  test('1 worker, 2 workers and 2 merged shards give the same report, digest included', async () => {
    const merged = await run('merge', 's0.json', 's1', '--json', 'merged.json');
    expect(merged.status).toBe(1);
    const w1 = read('w1.json');
    expect(read('w2.json')).toBe(w1);
    expect(read('merged.json')).toBe(w1);
    const shard0 = JSON.parse(read('s0.json')) as ReportLike;
    expect(shard0.units.map((u) => u.index)).toEqual([0, 2, 4]);
    expect(shard0.run.shard).toEqual({ index: 0, count: 2 });
    expect(shard0.digest).not.toBe(report.digest);
  });

  test('Ctrl-C keeps what finished and says how to resume; --resume ends with the same totals and digest', async () => {
    // 8 workloads under one policy (unordered: findings, so the report's kinds are compared
    // too), 8 units on one worker (about 0.75 s of CPU each): the signal comes after the first
    // record, with 7 units still to run (with TINY's 6 units and shrinking it sometimes ended
    // first, and exited 1). No shrinking (a quarter of each run's CPU): resuming is about
    // units, and the first test holds the shrunk tokens.
    const UNITS = 8;
    const LONG = TINY.map((a) => (a === '3' ? String(UNITS) : a === 'all' ? 'unordered' : a)).map((a, i, all) => (all[i - 1] === '--shrink-tries' ? '0' : a));
    const args = ['run', ...LONG, '--out', 'int'];
    const { child, done } = start(args);
    const results = path.join(dir, 'int', 'results.jsonl');
    while (!(fs.existsSync(results) && fs.readFileSync(results, 'utf8').includes('\n'))) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const stopped = await done;
    expect(stopped.status).toBe(130);
    const kept = fs.readFileSync(results, 'utf8').trim().split('\n').length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(UNITS);
    const hint = /resume with: daxcrash run (.*)$/m.exec(stopped.stderr);
    expect(hint?.[1]).toContain('--resume int');
    const resumed = await run('run', ...(hint?.[1] ?? '').split(' '), '--json', 'resumed.json');
    expect(resumed.stdout).toMatch(new RegExp(`resuming after ${kept} finished units`));
    // the uninterrupted run of the same flags: same report, totals and digest
    const whole = await run('run', ...LONG, '--out', 'whole', '--json', 'whole.json');
    expect(resumed.status).toBe(whole.status);
    expect(read('resumed.json')).toBe(read('whole.json'));
    expect(read('int/results.jsonl').trim().split('\n')).toHaveLength(UNITS);
  }, 300_000);

  test('--resume of a directory that holds another run is a usage error', () => {
    const r = runSync('run', ...TINY.map((a) => (a === '11' ? '12' : a)), '--resume', 'w1');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/holds a different run \(seeds/);
  });
});

describe('the device', () => {
  interface RunOptions { options: { deviceBytes: number } }
  const one = ['--seed', '5', '--workloads', '1', '--states', '1', '--shrink-tries', '0', '--no-progress'];

  // every spelling --device-size takes is parsed in device-size.test.ts; here a unit and plain bytes reach the run
  test('by default the 1 GiB pmem0; --device-size reaches the run, with a unit or in bytes', async () => {
    const sizes: Array<[string[], number, string]> = [
      [[], 2 ** 30, '1 GiB'], [['--device-size', '64MiB'], 64 << 20, '64 MiB'], [['--device-size', '33554432'], 32 << 20, '32 MiB'],
    ];
    const runs = await Promise.all(sizes.map(([flag], i) => run('run', ...one, ...flag, '--out', `dev${i}`, '--json', `dev${i}.json`)));
    // run's default suites: bounded-1 and shapes
    expect(runs[0].stdout.split('\n')[1]).toMatch(/^ {2}suites bounded-1, shapes \(1 workloads of each, spread\);/);
    runs.forEach((r, i) => {
      const [, bytes, text] = sizes[i];
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.status).toBe(0);
      expect(r.stdout.split('\n')[1]).toMatch(new RegExp(`; device ${text}$`));
      expect((JSON.parse(read(`dev${i}.json`)) as { run: RunOptions }).run.options.deviceBytes).toBe(bytes);
    });
  });

  test('a results directory of one size does not resume at another', () => {
    const r = runSync('run', ...one, '--device-size', '64M', '--resume', 'dev0');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/holds a different run \(options: .*"deviceBytes":1073741824.* there, .*"deviceBytes":67108864/);
  });
});

describe('daxcrash compare and merge', () => {
  test('compare prints states, findings per promise and cost per operation for each setup', async () => {
    const r = await run('compare', '--seed', '3', '--workloads', '2', '--states', '1', '--pmem-api', 'linux-arm64,rfc-2016', '--policy', 'ordered', '--shrink-tries', '0', '--no-progress');
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stdout).toMatch(/profile\s+pmem API\s+policy\s+states\s+coverage\s+G0.*ns\/op\s+vs first/);
    // sampled: the states column counts the draws judged, and coverage does not apply
    expect(r.stdout).toMatch(/^armv8\.2\s+linux-arm64\s+ordered\s+\d+\s+n\/a(\s+0){10}\s+\d+\s+1\.00x/m);
    expect(r.stdout).toMatch(/^armv8\.2\s+rfc-2016\s+ordered\s+\d+/m);
    expect(r.stdout.split('\n')[1]).toMatch(/^ {2}suites bounded-1 \(2 workloads of each, spread\);.*; device 1 GiB$/);
    expect(fs.existsSync(path.join(dir, 'daxcrash-results'))).toBe(false);
  });

  // dev0 is the device test's run above (seed 5, one workload a suite, the default device): another run than w1
  test('merge refuses the results of two different runs', () => {
    expect(fs.existsSync(path.join(dir, 'dev0', 'results.jsonl'))).toBe(true);
    const r = runSync('merge', 'w1', 'dev0');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is from another run/);
  });
});

describe('bad input: one line and a hint, exit 2, nothing written', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown suite', ['--suite', 'bounded-9'], /unknown suite 'bounded-9'/],
    ['bad workload field', ['--suite', 'bad.json'], /bad\.json: field 'ops\[1\]' \(write\): field 'length' is not an integer/],
    ['missing workload file', ['--suite', 'missing.json'], /cannot read workload file missing\.json/],
    ['shard out of range', ['--shard', '2/2'], /shard 2 does not exist in 2 shards/],
    ['shard spec', ['--shard', '1of2'], /not of the form i\/N/],
    ['workers', ['--workers', '0'], /--workers: '0' is not an integer/],
    ['profile', ['--profile', 'armv9'], /--profile: unknown value 'armv9'/],
    ['features', ['--features', 'all'], /--features: unknown value 'all'/],
    ['states', ['--states', 'lots'], /--states: 'lots'/],
    ['seed range', ['--seeds', '5..2'], /--seeds: range 5\.\.2 is empty/],
    ['unknown flag', ['--frobnicate'], /unknown option '--frobnicate'/],
    ['resume of nothing', ['--resume', 'nowhere'], /nowhere holds no daxcrash run/],
    ['report directory', ['--json', 'no/such/dir/r.json'], /--json: directory .* does not exist/],
    ['device size: not a size', ['--device-size', 'big'], /--device-size: 'big': expected a size such as 16M/],
    ['device size: too small', ['--device-size', '8M'], /--device-size: '8M': the file system needs at least 16M/],
    ['device size: too large', ['--device-size', '16GiB'], /--device-size: '16GiB': the file system needs at least 16M and less than 16G/],
    ['device size: not whole pages', ['--device-size', '16777217'], /--device-size: '16777217': a device is a whole number of 4096-byte pages/],
  ];
  let bad: string;
  beforeAll(() => {
    bad = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-bad-'));
    fs.writeFileSync(path.join(bad, 'bad.json'), JSON.stringify({ ops: [{ op: 'creat', path: '/a' }, { op: 'write', path: '/a', offset: 0, length: 'big', tag: 1 }] }));
  });
  afterAll(() => fs.rmSync(bad, { recursive: true, force: true }));

  // Two cases run as processes (bin/daxcrash.js: a flag commander refuses, a UsageError of the
  // command's own), the rest inside this process (cli/main.ts main, the same code less Node's
  // start-up, about 0.55 s of CPU each).
  const SPAWNED = new Set(['unknown flag', 'bad workload field']);
  const results = new Map<string, Ran>();
  beforeAll(async () => {
    const argsOf = (args: string[]) => ['run', ...(args.includes('--seeds') ? [] : ['--seed', '1']), ...args];
    // the processes at once (each is mostly start-up), the calls one at a time meanwhile
    const spawned = Promise.all(cases.filter(([name]) => SPAWNED.has(name)).map(async ([name, args]) => {
      const child = spawn(process.execPath, [BIN, ...argsOf(args)], { cwd: bad });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout += String(d); });
      child.stderr.on('data', (d) => { stderr += String(d); });
      results.set(name, await new Promise<Ran>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr }))));
    }));
    for (const [name, args] of cases.filter(([n]) => !SPAWNED.has(n))) results.set(name, await runInProcess(argsOf(args), bad));
    await spawned;
  });

  test.each(cases)('%s', (name, _args, message) => {
    const r = results.get(name) as Ran;
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(r.stdout).toBe('');
    expect(fs.readdirSync(bad)).toEqual(['bad.json']);
  });
});
