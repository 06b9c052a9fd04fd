/**
 * Interop with the real e2fsprogs: images our file system writes pass `e2fsck -fn` and read
 * back through `debugfs` exactly as our API reads them; an image made by `mkfs.ext4` and
 * filled by `debugfs -w` mounts on our file system, reads back, takes our writes, and is
 * still clean. e2fsprogs missing is a failure, not a skip (.ci/run installs it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../core/rng';
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { DaxFileSystem } from '../../fs/filesystem';
import { debugfs, e2fsckClean, run, tmpDir } from '../helpers/e2fs';
import { randomWorkload } from '../helpers/random-workload';

const MiB = 1 << 20;
let dir: string;
beforeAll(() => { dir = tmpDir('interop'); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every path under `root` of our file system: files with their bytes, links with targets. */
function walk(f: DaxFileSystem, root = '/'): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string) => {
    for (const name of f.readdirSync(d)) {
      const p = d === '/' ? `/${name}` : `${d}/${name}`;
      const st = f.lstatSync(p)!;
      if (st.isDirectory()) {
        out.set(p, 'dir');
        visit(p);
      } else if (st.isSymbolicLink()) out.set(p, `link:${f.readlinkSync(p)}`);
      else out.set(p, `file:${(f.readFileSync(p) as Buffer).toString('hex')}`);
    }
  };
  visit(root);
  return out;
}

/** The same map of a host directory tree (what debugfs rdump wrote). */
function walkHost(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const r = `${rel}/${name}`;
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        out.set(r, 'dir');
        visit(p, r);
      } else if (st.isSymbolicLink()) out.set(r, `link:${fs.readlinkSync(p)}`);
      else out.set(r, `file:${fs.readFileSync(p).toString('hex')}`);
    }
  };
  visit(root, '');
  return out;
}

test('a 1000-operation seeded workload: e2fsck -fn is clean and debugfs rdump reads what we read', () => {
  const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
  mkfs(device, { seed: 'interop' });
  const ours = mount(device);
  expect(randomWorkload(ours, Rng.fromSeed('interop-workload'), 1000)).toBe(1000);
  ours.unmount();
  const image = path.join(dir, 'workload.img');
  device.writeImage(image);
  const check = e2fsckClean(image);
  expect({ status: check.status, out: check.stdout }).toEqual({ status: 0, out: expect.any(String) });

  const dump = path.join(dir, 'rdump');
  fs.mkdirSync(dump);
  const r = debugfs(image, `rdump / ${dump}`);
  expect(r.status).toBe(0);
  const again = mount(device);
  const mine = walk(again);
  const theirs = walkHost(dump);
  theirs.delete('/lost+found');
  mine.delete('/lost+found');
  expect(mine.size).toBeGreaterThan(50);
  expect([...theirs.keys()].sort()).toEqual([...mine.keys()].sort());
  for (const [p, v] of mine) expect(`${p} ${theirs.get(p)}`).toBe(`${p} ${v}`);
  again.unmount();
});

test('an image from mkfs.ext4 filled by debugfs mounts, reads back, takes our writes and stays clean', () => {
  const image = path.join(dir, 'theirs.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 16 * MiB);
  const mk = run('mkfs.ext4', ['-F', '-q', '-b', '4096', '-I', '256', '-T', 'default', '-m', '0', '-O', 'none,has_journal,extent,filetype,sparse_super',
    '-E', 'root_owner=0:0', '-U', '11111111-2222-3333-4444-555555555555', image], { E2FSPROGS_FAKE_TIME: '1700000000' });
  expect(mk.status).toBe(0);
  const one = Buffer.alloc(4096, 0x11);
  const five = Buffer.from(Array.from({ length: 5 * 4096 }, (_, i) => (i * 7) & 0xff));
  fs.writeFileSync(path.join(dir, 'one'), one);
  fs.writeFileSync(path.join(dir, 'five'), five);
  const cmds = [
    ...Array.from({ length: 12 }, (_, i) => `write ${path.join(dir, 'one')} f${i}`),
    ...[1, 3, 5, 7, 9, 11].map((i) => `rm f${i}`),
    `write ${path.join(dir, 'five')} frag`,
    'mkdir d', 'mkdir d/e', `write ${path.join(dir, 'one')} d/e/inner`, 'symlink sl /d/e/inner',
  ];
  fs.writeFileSync(path.join(dir, 'cmds'), cmds.join('\n') + '\n');
  expect(run('debugfs', ['-w', '-f', path.join(dir, 'cmds'), image]).status).toBe(0);
  expect(debugfs(image, 'ex frag').stdout).toMatch(/^\s*0\/\s*1\s/m); // a depth-1 tree: more than four extents

  const device = PmemDevice.fromImageFile(image, { trace: false });
  const ours = mount(device);
  expect(ours.readdirSync('/').sort()).toEqual(['d', 'f0', 'f10', 'f2', 'f4', 'f6', 'f8', 'frag', 'lost+found', 'sl']);
  expect(Buffer.compare(ours.readFileSync('/frag') as Buffer, five)).toBe(0);
  expect(Buffer.compare(ours.readFileSync('/f4') as Buffer, one)).toBe(0);
  expect(ours.readlinkSync('/sl')).toBe('/d/e/inner');
  expect(Buffer.compare(ours.readFileSync('/sl') as Buffer, one)).toBe(0);

  ours.appendFileSync('/frag', Buffer.alloc(3 * 4096, 0x22));
  ours.writeFileSync('/d/new', 'written by daxcrash');
  ours.unlinkSync('/f2');
  ours.renameSync('/f0', '/d/e/moved');
  ours.unmount();
  const after = path.join(dir, 'theirs-after.img');
  device.writeImage(after);
  const check = e2fsckClean(after);
  if (check.status !== 0) throw new Error(`e2fsck -fn: exit ${check.status}\n${check.stdout}`);
  expect(debugfs(after, 'cat /d/new').stdout).toBe('written by daxcrash');
  const dumped = path.join(dir, 'frag-out');
  expect(debugfs(after, `dump /frag ${dumped}`).status).toBe(0);
  expect(Buffer.compare(fs.readFileSync(dumped), Buffer.concat([five, Buffer.alloc(3 * 4096, 0x22)]))).toBe(0);
});

test('a 1 GiB pmem0: mkfs, create, write, rename, delete, and e2fsck calls the image clean', () => {
  const device = new PmemDevice({ trace: false });
  mkfs(device, { seed: 'one-gib' });
  const ours = mount(device);
  ours.mkdirSync('/projects/daxcrash', { recursive: true });
  for (let i = 0; i < 20; i++) ours.writeFileSync(`/projects/daxcrash/f${i}`, Buffer.alloc(100000 + i * 4096, i));
  const fd = ours.openSync('/projects/far', 'w');
  ours.writeSync(fd, Buffer.from('beyond'), 0, 6, 900 * MiB); // a sparse file reaching across groups
  ours.closeSync(fd);
  ours.renameSync('/projects/daxcrash/f3', '/projects/moved');
  ours.unlinkSync('/projects/daxcrash/f4');
  ours.mkdirSync('/projects/empty');
  ours.rmdirSync('/projects/daxcrash/../empty/');
  ours.unmount();
  expect(device.residentBytes()).toBeLessThan(64 * MiB);
  const image = path.join(dir, 'one-gib.img');
  device.writeImage(image);
  const check = e2fsckClean(image);
  if (check.status !== 0) throw new Error(`e2fsck -fn: exit ${check.status}\n${check.stdout}`);
  expect(debugfs(image, 'stat /projects/far').stdout).toMatch(/Size: 943718406\b/);
  const again = mount(device);
  expect(again.statSync('/projects/far')!.size).toBe(900 * MiB + 6);
  expect((again.readFileSync('/projects/moved') as Buffer)[0]).toBe(3);
  expect(again.existsSync('/projects/daxcrash/f4')).toBe(false);
  again.unmount();
});
