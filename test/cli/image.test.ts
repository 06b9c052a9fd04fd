/**
 * `daxcrash image mkfs|ls|cat|fsck` run as processes, checked against e2fsprogs on the same
 * image files: e2fsck -fn on what mkfs wrote, debugfs `ls -l` and `cat` against ours, and an
 * inode debugfs damaged against our fsck. Bad files: one line and exit 2, nothing written.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { patternBytes } from '../../workloads/ops';
import { e2fsckCheck, e2fsckComplaints, makeTempDir, removeTempDir, runTool } from '../helpers/e2fsprogs';
import { runInProcess } from '../helpers/cli-in-process';

const BIN = path.join(__dirname, '..', '..', 'bin', 'daxcrash.js');
/** Both tools print mtimes in local time: fix the zone. */
const ENV = { ...process.env, TZ: 'UTC' };
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env: ENV });
const text = (b: Buffer) => b.toString('utf8');
const debugfs = (request: string, image: string) => runTool('debugfs', ['-R', request, image], { TZ: 'UTC' });

/** debugfs's entry lines (its banner goes to stderr, and it ends with a blank line). */
const entryLines = (out: string) => out.split('\n').filter((l) => l.trim().length > 0);

describe('daxcrash image', () => {
  let dir: string;
  let populated: string;
  const data = patternBytes(7, 0, 10_000);

  beforeAll(() => {
    dir = makeTempDir('image-cli');
    populated = path.join(dir, 'populated.img');
    const device = new PmemDevice({ sizeBytes: 16 << 20, trace: false });
    mkfs(device, { seed: 'image-test' });
    const f = mount(device);
    f.mkdirSync('/dir');
    f.mkdirSync('/dir/sub');
    f.writeFileSync('/dir/a', 'hello');
    f.writeFileSync('/data', data);
    f.symlinkSync('/dir/a', '/ln');
    f.linkSync('/dir/a', '/dir/sub/again');
    f.unmount();
    device.writeImage(populated);
  });
  afterAll(() => removeTempDir(dir));

  test('mkfs makes a sparse image e2fsck -fn calls clean, and refuses to overwrite without --force', () => {
    const file = path.join(dir, 'new.img');
    const r = run('image', 'mkfs', file, '--size', '32M', '--seed', 's1');
    expect(r.status).toBe(0);
    expect(text(r.stdout)).toMatch(/new\.img: ext4 with a jbd2 journal, 32 MiB, 8192 blocks of 4096/);
    expect(fs.statSync(file).size).toBe(32 << 20);
    const check = e2fsckCheck(file);
    expect(e2fsckComplaints(check)).toEqual([]);
    expect(check.status).toBe(0);

    const before = fs.readFileSync(file);
    const again = run('image', 'mkfs', file, '--size', '16M');
    expect(again.status).toBe(2);
    expect(text(again.stderr)).toMatch(/^daxcrash image mkfs: .*new\.img exists\nhint: pass --force to overwrite it\n$/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    const forced = run('image', 'mkfs', file, '--size', '16M', '--force');
    expect(forced.status).toBe(0);
    expect(fs.statSync(file).size).toBe(16 << 20);
  });

  test('mkfs --features default makes mkfs.ext4\'s default profile, e2fsck -fn clean; an unknown profile is a usage error', () => {
    const file = path.join(dir, 'default.img');
    const r = run('image', 'mkfs', file, '--size', '64M', '--features', 'default');
    expect(r.status).toBe(0);
    expect(text(r.stdout)).toMatch(/default\.img: ext4 with mkfs\.ext4's default features and a jbd2 journal, 64 MiB, 16384 blocks of 4096/);
    const check = e2fsckCheck(file);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
    expect(runTool('dumpe2fs', ['-h', file]).stdout).toMatch(/Filesystem features:.* 64bit flex_bg .*metadata_csum/);
    // reading it: our mount reads the profile, and our fsck checks it
    const ls = run('image', 'ls', file, '/');
    expect({ status: ls.status, stderr: text(ls.stderr) }).toEqual({ status: 0, stderr: '' });
    expect(text(ls.stdout)).toMatch(/lost\+found/);
    const ours = run('image', 'fsck', file);
    expect(text(ours.stdout)).not.toMatch(/without resize_inode/);
    expect(text(ours.stdout)).toMatch(/fsck: clean/);
    const bad = run('image', 'mkfs', path.join(dir, 'bad.img'), '--features', 'huge');
    expect(bad.status).toBe(2);
    expect(fs.existsSync(path.join(dir, 'bad.img'))).toBe(false);
  });

  test('ls prints what debugfs ls -l prints, for the root and a subdirectory', () => {
    for (const p of ['/', '/dir']) {
      const ours = run('image', 'ls', populated, p);
      expect(ours.status).toBe(0);
      const theirs = debugfs(`ls -l ${p}`, populated);
      expect(theirs.status).toBe(0);
      expect(entryLines(text(ours.stdout))).toEqual(entryLines(theirs.stdout));
      expect(entryLines(theirs.stdout).length).toBeGreaterThanOrEqual(4);
    }
  });

  test('ls -R lists every directory once, each headed by its path', () => {
    const r = run('image', 'ls', '-R', populated);
    expect(r.status).toBe(0);
    const out = text(r.stdout);
    expect(out.match(/^\/.*:$/gm)).toEqual(['/:', '/lost+found:', '/dir:', '/dir/sub:']);
    const sub = out.split('/dir/sub:\n')[1] as string;
    expect(entryLines(sub)).toEqual(entryLines(debugfs('ls -l /dir/sub', populated).stdout));
  });

  test('cat gives the bytes debugfs cat gives', () => {
    const ours = run('image', 'cat', populated, '/data');
    expect(ours.status).toBe(0);
    const theirs = spawnSync('/usr/sbin/debugfs', ['-R', 'cat /data', populated], { env: ENV });
    expect(ours.stdout.equals(theirs.stdout)).toBe(true);
    expect(ours.stdout.equals(Buffer.from(data))).toBe(true);
    const missing = run('image', 'cat', populated, '/nope');
    expect(missing.status).toBe(2);
    expect(text(missing.stderr)).toMatch(/^daxcrash image cat: \/nope: ENOENT/);
  });

  test('fsck: clean is exit 0; an inode debugfs damaged is exit 1 with the problem listed', () => {
    const clean = run('image', 'fsck', populated);
    expect(clean.status).toBe(0);
    expect(text(clean.stdout)).toMatch(/fsck: clean/);
    const damaged = path.join(dir, 'damaged.img');
    fs.copyFileSync(populated, damaged);
    expect(runTool('debugfs', ['-w', '-R', 'set_inode_field /dir/a links_count 5', damaged]).status).toBe(0);
    const r = run('image', 'fsck', damaged);
    expect(r.status).toBe(1);
    expect(text(r.stdout)).toMatch(/fsck: 1 problem\n +link-count +inode \d+: /);
  });

  describe('bad image files: one line and a hint, exit 2, nothing written', () => {
    // each case through a different subcommand: they share openImage; the first as a process, the
    // rest through cli/main.ts main in this process (a process costs a second; the other tests
    // run ls, fsck and cat as processes)
    const cases: Array<[string, (file: string) => void, RegExp, string]> = [
      ['not ext4 (16 MiB of zeros)', (f) => fs.truncateSync(f, 16 << 20), /not an ext4 image \(no ext4 superblock magic at byte 1080\)/, 'ls'],
      ['truncated', (f) => fs.writeFileSync(f, fs.readFileSync(populated).subarray(0, 5_000_000)), /truncated: the superblock says 16777216 bytes, the file holds 5000000/, 'fsck'],
      ['a text file', (f) => fs.writeFileSync(f, 'hello\n'), /not an ext4 image \(6 bytes, too small to hold a superblock\)/, 'cat'],
      ['missing', () => undefined, /no such file/, 'ls'],
    ];
    test.each(cases)('%s', async (name, make, message, command) => {
      const sub = path.join(dir, name.replace(/\W+/g, '-'));
      fs.mkdirSync(sub);
      const file = path.join(sub, 'bad.img');
      if (name !== 'missing') {
        fs.writeFileSync(file, '');
        make(file);
      }
      const listing = fs.readdirSync(sub);
      {
        const args = ['image', command, file, ...(command === 'cat' ? ['/x'] : [])];
        const r = name === cases[0][0] ? (({ status, stdout, stderr }) => ({ status, stdout: text(stdout), stderr: text(stderr) }))(run(...args)) : await runInProcess(args, sub);
        expect(r.status).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines[0]).toMatch(message);
        expect(lines[1]).toMatch(/^hint: /);
        expect(lines).toHaveLength(2);
        expect(r.stdout).toBe('');
      }
      expect(fs.readdirSync(sub)).toEqual(listing);
    });
  });

  test('mkfs refuses a size the file system cannot have, and writes nothing', () => {
    const file = path.join(dir, 'small.img');
    const r = run('image', 'mkfs', file, '--size', '3M');
    expect(r.status).toBe(2);
    expect(text(r.stderr)).toMatch(/--size.*3M.*at least 16M/);
    expect(fs.existsSync(file)).toBe(false);
  });
});
