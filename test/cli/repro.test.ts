/**
 * `daxcrash repro` run as a process, on the comparison scenarios' tokens (real findings),
 * on a clean token made from one of them, and on bad tokens (one as a process, the others
 * through cli/main.ts main in this process); plus the crash view that
 * crash/repro.ts gives it (which words kept which version), checked against image bytes.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRange } from '../../device/media';
import type { MediaSource } from '../../device/media';
import { Reproduction, repro } from '../../crash/repro';
import { ReproSpec, decodeToken, encodeToken } from '../../crash/token';
import { e2fsckCheck, e2fsckComplaints, makeTempDir, removeTempDir, runTool } from '../helpers/e2fsprogs';
import { runInProcess } from '../helpers/cli-in-process';

const BIN = path.join(__dirname, '..', '..', 'bin', 'daxcrash.js');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

/** Unordered: a creat, a 4 KiB write and a sync in flight. Under revision 3 it was a G3 (/foo read as a
 * directory); since lookups follow the kernel's iget, /foo's inode is refused (EUCLEAN), which is G1. */
const UNORDERED_G1 = 'dx2-AwV4XctBCsIwEEbhq4TfbYIpFcF4lNJFTCdV0JmQpIiU3F0q4sL1994K9g-Cw0UWnmgy3a63agiZfDU1LxzUPoqcFQvTaHpoSCpwwwpJcPiE0Ei-XuGwtWj6i898q_SHGhJjoQpnNe7E80YHezpqVD_Ddb-7vDigje0NAAABAAhzY2VuYXJpb4AgFwUDAAAAqO4ZgQ';
const RFC_G4 = 'dx2-AwVcXcuxCoAgFEbhV5G_VSlXe5RoML3RkldSiZDePZKm5u-cimB3gsHCJXjySndaTO4gm1WgU_Qr8yjWdAWnMhe3kZ_VAAmOCWaq4AiD1kMi2rzB4J1wyw_b_Mf5fgAAAgAACHNjZW5hcmlvgCATBAMAAACjm_ZO';
/** rfc-2016: creat, write 100 B at 0 twice, fsync; a G4 crash state at its end (model revision 3). */
const RFC_TWICE = 'dx2-AwVqpc5BCoMwEEbhu_zrKY1dzlWkixAmKtRMSAZFJHcvinThtuvHB29H8rOAoYuUtUwmD1unICBoruB-h2YwQhFvIGRvIxjPqIpGVzzdLRI0xioGdoSPpOFInXME8wO4-we_fjjWLYX71rt9AQACAAAIc2NlbmFyaW-AIFAIAwAAALKja5k';

/** The same workload on the correct setup, crashed after its last instruction, every store kept. */
function cleanToken(): string {
  const spec = decodeToken(RFC_G4);
  const setup = { ...spec.setup, pmemApi: 'linux-arm64' as const };
  const end = repro({ ...spec, setup, crashPoint: 0, position: undefined, crashState: { kind: 'newest' } });
  expect(end.opsBefore).toBe(0);
  // find the instruction count of the whole run: repro refuses a point past the end
  let lo = 0;
  let hi = 1 << 12;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      repro({ ...spec, setup, crashPoint: mid, position: undefined, crashState: { kind: 'newest' } });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return encodeToken({ ...spec, setup, crashPoint: lo, position: undefined, crashState: { kind: 'newest' } });
}

function wordBytes(image: MediaSource, addr: number): string {
  const out = new Uint8Array(8);
  readRange(image, addr, 8, out);
  return Buffer.from(out).toString('hex');
}

describe('daxcrash repro', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('repro-cli');
  });
  afterAll(() => removeTempDir(dir));

  test('a G1 finding: setup, the operation in flight, events, what was kept, why it does not read; exit 1', () => {
    const r = run('repro', UNORDERED_G1);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^setup +profile armv8\.2, pmem API linux-arm64, policy unordered, flush hint off$/m);
    expect(r.stdout).toMatch(/^ +>> +3 +sync +IN FLIGHT: the power failed inside it$/m);
    expect(r.stdout).toMatch(/^ +1 +creat \/foo +returned$/m);
    expect(r.stdout).toMatch(/^ +#\d+ +i\d+ +dc cvap +0x[0-9a-f]+ +64 B +line \d+ \(block \d+\) +clean #\d+ covers line versions up to unit \d+: completed before the failure$/m);
    expect(r.stdout).toMatch(/power failure before instruction 23$/m);
    // under unordered the commit persisted, the file's data (its flush queued into the commit) did not
    expect(r.stdout).toMatch(/^journal log: from block \d+ expecting tid \d+: 1 transaction\(s\), 1 committed/m);
    expect(r.stdout).toMatch(/words kept the newest value 0, an older one 0, lost 512$/m);
    expect(r.stdout).toMatch(/^finding +G1 mountable$/m);
    expect(r.stdout).toMatch(/^ +mount failed: reading the recovered file system: EUCLEAN: structure needs cleaning, lstat '\/foo'$/m);
    expect(r.stderr).toBe('');
  });

  test('a G4 finding: the returned persistence point, every uncertain word lost; --image writes the same bytes as repro()', () => {
    const file = path.join(dir, 'g4.img');
    const r = run('repro', RFC_G4, '--image', file, '--events', '7');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^ +2 +fsync \/foo +returned, a persistence point/m);
    expect(r.stdout).toMatch(/^ +persistence points returned: operation 2$/m);
    expect(r.stdout).toMatch(/^at the power failure: \d+ line\(s\) uncertain; words kept the newest value 0, an older one 0, lost \d+$/m);
    expect(r.stdout).toMatch(/^finding +G4 durable after a persistence point$/m);
    expect(r.stdout).toContain(`e2fsck -fn ${file}`);
    expect(r.stdout.match(/^ +#\d+ /gm)?.length).toBe(7);
    const theirs = path.join(dir, 'g4-in-process.img');
    repro(RFC_G4).image.writeImage(theirs);
    expect(fs.readFileSync(file).equals(fs.readFileSync(theirs))).toBe(true);
    expect(fs.statSync(file).size).toBe(16 << 20);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('a clean token exits 0, and its image passes e2fsck -fn', () => {
    const token = cleanToken();
    const file = path.join(dir, 'clean.img');
    const r = run('repro', token, '--image', file);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^finding +none/m);
    expect(r.stdout).toMatch(/words kept the newest value \d+, an older one 0, lost 0|no line was uncertain/);
    expect(r.stdout).toContain(`e2fsck -E journal_only -y copy.img && e2fsck -fn copy.img`);
    // as the printed command does it: replay the journal on the image, then check
    expect(runTool('e2fsck', ['-E', 'journal_only', '-y', file]).status).toBeLessThanOrEqual(1);
    const check = e2fsckCheck(file);
    // the superblock's free counts are written at unmount: e2fsck only offers to rewrite them (exit 0)
    const lagging = /^Free (inodes|blocks) count wrong \(\d+, counted=\d+\)\.$|^Fix\? no$/;
    expect(e2fsckComplaints(check).filter((l) => !lagging.test(l))).toEqual([]);
    expect(check.status).toBe(0);
  });

  test('--json gives the reproduction as data', () => {
    const r = run('repro', RFC_G4, '--json');
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as {
      token: string; digest: string; violations: Array<{ promise: string }>; persistencePoints: number[];
      crash: { counts: { newest: number; older: number; lost: number }; lines: unknown[] };
    };
    const inProcess = repro(RFC_G4);
    expect(j.token).toBe(RFC_G4);
    expect(j.digest).toBe(inProcess.digest);
    expect(j.violations.map((v) => v.promise)).toEqual(['G4']);
    expect(j.persistencePoints).toEqual([2]);
    expect(j.crash.counts).toEqual(inProcess.crash.counts);
    expect(j.crash.lines).toHaveLength(inProcess.crash.lines.length);
  });

  test('--shrink prints the smallest token and the engine runs it took, then reproduces it', () => {
    const r = run('repro', RFC_G4, '--shrink', '--events', '0');
    expect(r.status).toBe(1);
    const m = /^shrink +G4: 2 -> (\d) operation\(s\) in (\d+) engine run\(s\)$/m.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(2);
    const token = /^smallest token: (dx2-\S+)$/m.exec(r.stdout)?.[1] as string;
    expect(repro(token).violations.map((v) => v.promise)).toContain('G4');
    expect(r.stdout).toContain(`daxcrash repro ${token}`);
  });

  describe('bad tokens: one line and a hint, exit 2, no stack trace, nothing written', () => {
    const middle = Math.floor(RFC_G4.length / 2);
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const cases: Array<[string, string, RegExp]> = [
      ['a mistyped character', RFC_G4.slice(0, middle) + flip(RFC_G4[middle] as string) + RFC_G4.slice(middle + 1), /checksum mismatch/],
      ['a truncated token', RFC_G4.slice(0, RFC_G4.length - 7), /checksum mismatch|cannot be base64url|truncated/],
      ['a wrong version', `dx9-${RFC_G4.slice(4)}`, /unknown token version 'dx9'/],
      ['not a token', 'hello', /not a daxcrash token/],
    ];
    // the first as a process, the rest through cli/main.ts main in this process (the same code
    // less Node's start-up); the other tests of this file run repro as processes
    test.each(cases)('%s', async (name, token, message) => {
      const file = path.join(dir, 'never.img');
      const r = name === cases[0][0] ? run('repro', token, '--image', file) : await runInProcess(['repro', token, '--image', file], dir);
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/^daxcrash repro: /);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toMatch(/^hint: /);
      expect(lines).toHaveLength(2);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
      expect(r.stdout).toBe('');
      expect(fs.existsSync(file)).toBe(false);
    });
  });

  test('a bad --events value is a usage error', () => {
    const r = run('repro', RFC_G4, '--events', 'many');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--events.*expected a whole number/);
  });
});

describe('crash/repro: which words kept which version, against the image bytes', () => {
  const base = decodeToken(RFC_G4);
  const at = (crashState: ReproSpec['crashState']): Reproduction => repro({ ...base, crashState });
  const none = at({ kind: 'bounded', epochs: 0, subset: [], units: [] });
  const newest = at({ kind: 'newest' });

  test('the newest state keeps every word; the baseline state loses every one', () => {
    expect(newest.crash.counts.older + newest.crash.counts.lost).toBe(0);
    expect(newest.crash.counts.newest).toBeGreaterThan(0);
    expect(none.crash.counts).toEqual({ newest: 0, older: 0, lost: newest.crash.counts.newest });
  });

  test('an explicit mix on a line stored twice: older, newest and lost words hold those bytes', () => {
    // a line two stores wrote (the 2016 RFC persists nothing: a file's first line written
    // twice, then fsynced), found from the full trace
    const twice = decodeToken(RFC_TWICE);
    const at = (crashState: ReproSpec['crashState']): Reproduction => repro({ ...twice, crashState });
    const none = at({ kind: 'bounded', epochs: 0, subset: [], units: [] });
    const newest = at({ kind: 'newest' });
    const full = repro(RFC_TWICE, { eventsBefore: 1 << 20 });
    const unitsOf = new Map<number, number[]>();
    for (const e of full.events) {
      if (e.kind !== 'store') continue;
      for (let u = e.ref; u <= e.detail; u++) {
        const line = Math.floor(e.addr / 64) + (u - e.ref);
        unitsOf.set(line, [...(unitsOf.get(line) ?? []), u]);
      }
    }
    const target = full.crash.lines.find((l) => (unitsOf.get(l.line)?.length ?? 0) >= 2 && l.guaranteed === 0 && l.words.length === 8);
    expect(target).toBeDefined();
    const line = target as (typeof full.crash.lines)[number];
    const [older, latest] = unitsOf.get(line.line)?.slice(-2) as [number, number];
    const versions = [older, older, older, older, latest, latest, 0, 0];
    const mixed = at({ kind: 'explicit', choices: { crashKind: 'power', completed: [], lines: [{ line: line.line, versions }] } });
    const olderOnly = at({ kind: 'bounded', epochs: 0, subset: [], units: [older] });
    const outcome = mixed.crash.lines.find((l) => l.line === line.line);
    expect(outcome?.chosen).toBe(true);
    expect(outcome?.words.map((w) => w.kept)).toEqual(['older', 'older', 'older', 'older', 'newest', 'newest', 'lost', 'lost']);
    expect(outcome?.words.map((w) => w.keptUnit)).toEqual([older, older, older, older, latest, latest, 0, 0]);
    const expectedFrom = [olderOnly, olderOnly, olderOnly, olderOnly, newest, newest, none, none];
    outcome?.words.forEach((w, i) => {
      expect(wordBytes(mixed.image, w.addr)).toBe(wordBytes((expectedFrom[i] as Reproduction).image, w.addr));
    });
    // the three sources really differ somewhere on this line, or the check above proves little
    const distinct = new Set(outcome?.words.map((w) => `${wordBytes(newest.image, w.addr)}/${wordBytes(none.image, w.addr)}`));
    expect([...distinct].some((pair) => pair.split('/')[0] !== pair.split('/')[1])).toBe(true);
    // every other line stays at its guaranteed version: all lost, as in the baseline state
    expect(mixed.crash.counts).toEqual({ newest: 2, older: 4, lost: none.crash.counts.lost - 6 });
  });
});
