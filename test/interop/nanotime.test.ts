/**
 * Nanosecond times against the kernel and e2fsprogs, on both of our profiles (our inodes have
 * i_extra_isize 32 on both, so both keep nanoseconds):
 * - the same utimes calls made by us and by the kernel on copies of one image store the same
 *   atime and mtime words (debugfs prints them: base and `_extra` in hex), and each side's stat
 *   says what the other side's did, to the nanosecond: before 1970, 2038, 2106, the clamps at
 *   1901 and 2446, fractions of a second;
 * - the kernel's stat of our image (a read-only loop mount) is ours, all four times;
 * - our stat of an inode whose `_extra` words debugfs set (every epoch, a nanosecond field past
 *   1e9) is the kernel's;
 * - e2fsck -fn is clean on our image.
 * The kernel-side stat runs in a child process: libuv stops using statx in a process after a
 * statx failure, and birthtime needs statx. Where the kernel cannot be asked the test says so.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { nodeFsModule } from '../../fs';
import { e2fsckCheck, e2fsckComplaints, makeTempDir, removeTempDir, runTool } from '../helpers/e2fsprogs';
import { debugfsWrite } from '../helpers/default-images';
import { kernelMount } from '../helpers/kernel';

const MiB = 1 << 20;
type Profile = 'subset' | 'default';
type Time = number | string;

/** One utimes (or, on a symlink, lutimes) call; times as numbers or numeric strings, as JSON carries them to the child. */
interface Call {
  readonly path: string;
  readonly times: readonly [Time, Time];
  readonly link?: true;
}

const CALLS: readonly Call[] = [
  { path: '/fractions', times: [1.5, 1_700_000_000.123456] },
  { path: '/before-1970', times: ['-0.5', '-1'] },
  { path: '/s32-edge', times: [2 ** 31 - 1, 2 ** 31] },
  { path: '/2106', times: [2 ** 32, 2 ** 32 + 0.25] },
  { path: '/epoch-2', times: [2 ** 33 + 0.5, 2 ** 32 + 2 ** 31 + 0.75] },
  { path: '/below-1901', times: ['-2147483648.5', '-2147483647.5'] },
  { path: '/past-2446', times: ['15032385535.75', '1e11'] },
  { path: '/last-kept', times: ['15032385534.999999', 0.000001] },
  { path: '/link', times: ['-0.25', 3.75], link: true },
];

/** Our stat's four times of each path (bigint ns, as strings). */
type Answers = Record<string, string[]>;

/** The child: make the calls (if asked), then lstat every path with bigint times. */
const CHILD = `
const fs = require('fs');
const [root, callsJson, apply] = process.argv.slice(1);
const calls = JSON.parse(callsJson);
if (apply === 'apply') for (const c of calls) (c.link ? fs.lutimesSync : fs.utimesSync)(root + c.path, c.times[0], c.times[1]);
const out = {};
for (const c of calls) {
  const s = fs.lstatSync(root + c.path, { bigint: true });
  out[c.path] = [s.atimeNs, s.mtimeNs, s.ctimeNs, s.birthtimeNs].map(String);
}
process.stdout.write(JSON.stringify(out));
`;

function kernelSide(at: string, apply: boolean): Answers {
  const r = spawnSync(process.execPath, ['-e', CHILD, at, JSON.stringify(CALLS), apply ? 'apply' : 'stat'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the kernel-side child exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Answers;
}

function ourAnswers(image: string, apply: boolean): Answers {
  const device = PmemDevice.fromImageFile(image);
  const f = mount(device, apply ? {} : { readOnly: true });
  const node = nodeFsModule(f) as unknown as typeof fs;
  const out: Answers = {};
  for (const c of CALLS) if (apply) (c.link ? node.lutimesSync : node.utimesSync)(c.path, c.times[0], c.times[1]);
  for (const c of CALLS) {
    const s = node.lstatSync(c.path, { bigint: true });
    out[c.path] = [s.atimeNs, s.mtimeNs, s.ctimeNs, s.birthtimeNs].map(String);
  }
  f.unmount();
  if (apply) device.writeImage(image);
  return out;
}

/** The image the calls start from: one file per call, the symlink to the first file. */
function baseImage(dir: string, profile: Profile): string {
  const device = new PmemDevice({ sizeBytes: 32 * MiB, trace: false });
  mkfs(device, profile === 'default' ? { features: 'default', seed: 'nanotime-kernel' } : { seed: 'nanotime-kernel' });
  const f = mount(device);
  for (const c of CALLS) {
    if (c.link) f.symlinkSync('fractions', c.path);
    else f.writeFileSync(c.path, c.path);
  }
  f.unmount();
  const image = path.join(dir, `${profile}-base.img`);
  device.writeImage(image);
  return image;
}

/** debugfs's lines for the times of `p` (" atime: 0x80000000:00000001 -- ..."), by name. */
function debugfsTimes(image: string, p: string): Record<string, string> {
  const r = runTool('debugfs', ['-R', `stat ${p}`, image]);
  if (r.status !== 0) throw new Error(`debugfs stat ${p}: ${r.stderr}`);
  const out: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^\s*(a|m|c|cr)time: (0x[0-9a-f]+(?::[0-9a-f]+)?)/gm)) out[`${m[1]}time`] = m[2];
  return out;
}

const pick = (answers: Answers, which: readonly number[]): Answers =>
  Object.fromEntries(Object.entries(answers).map(([p, times]) => [p, which.map((i) => times[i])]));

let dir = '';
beforeAll(() => {
  dir = makeTempDir('nanotime');
});
afterAll(() => removeTempDir(dir));

describe.each(['subset', 'default'] as const)('the %s profile', (profile) => {
  test('our utimes and the kernel\'s store the same words; each side\'s stat reads the other\'s, to the nanosecond; e2fsck -fn is clean', () => {
    const base = baseImage(dir, profile);
    const oursImage = path.join(dir, `${profile}-ours.img`);
    fs.copyFileSync(base, oursImage);
    const ours = ourAnswers(oursImage, true);
    expect(ours['/fractions'].slice(0, 2)).toEqual(['1500000000', '1700000000123456000']);
    const fsck = e2fsckCheck(oursImage);
    expect({ status: fsck.status, complaints: e2fsckComplaints(fsck) }).toEqual({ status: 0, complaints: [] });

    const kernelImage = path.join(dir, `${profile}-kernel.img`);
    const written = kernelMount(base, (at) => kernelSide(at, true), (bytes) => fs.writeFileSync(kernelImage, bytes));
    if ('missing' in written) {
      console.warn(`the kernel's side skipped: ${written.missing}`);
      return;
    }
    if ('refused' in written) throw new Error(`the kernel refused our image: ${written.message}`);
    // atime and mtime are the caller's; ctime is each side's clock; birthtime ours (we made the files)
    expect(pick(ours, [0, 1, 3])).toEqual(pick(written.mounted, [0, 1, 3]));
    for (const c of CALLS) {
      const [mine, theirs] = [debugfsTimes(oursImage, c.path), debugfsTimes(kernelImage, c.path)];
      expect([c.path, mine.atime, mine.mtime, mine.crtime]).toEqual([c.path, theirs.atime, theirs.mtime, theirs.crtime]);
    }
    // the kernel's ctime has nanoseconds of its own (the wall clock): we read them as it does
    expect(ourAnswers(kernelImage, false)).toEqual(written.mounted);

    const read = kernelMount(oursImage, (at) => kernelSide(at, false), undefined, { readOnly: true });
    if (!('mounted' in read)) throw new Error(`the kernel's read-only mount of our image: ${JSON.stringify(read)}`);
    expect(read.mounted).toEqual(ours);
  });

  test('an inode whose `_extra` words debugfs set (each epoch, a nanosecond field past 1e9): our stat is the kernel\'s', () => {
    const image = path.join(dir, `${profile}-debugfs.img`);
    fs.copyFileSync(baseImage(dir, profile), image);
    debugfsWrite(image, [
      'sif /fractions mtime_extra 0x1d6f3455', // epoch 1, 123456789 ns
      'sif /fractions atime 0x80000000',
      'sif /fractions atime_extra 0x00000003', // epoch 3 with the s32 minimum: 2310
      'sif /fractions crtime_extra 0x00000002', // epoch 2
      'sif /fractions ctime_extra 0xfffffffc', // 1073741823 ns: more than a second
      'sif /before-1970 mtime 0xffffffff',
      'sif /before-1970 mtime_extra 0xeb79a2c4', // -1 s and 987654321 ns, epoch 0
      'sif /link atime_extra 0x00000005', // a symlink: epoch 1, 1 ns
    ]);
    const ours = ourAnswers(image, false);
    expect(ours['/before-1970'][1]).toBe(String(-1_000_000_000 + 987_654_321));
    expect(BigInt(ours['/fractions'][1]) % 1_000_000_000n).toBe(123_456_789n);
    expect(BigInt(ours['/fractions'][1]) / 1_000_000_000n > 2n ** 32n).toBe(true);
    const read = kernelMount(image, (at) => kernelSide(at, false), undefined, { readOnly: true });
    if ('missing' in read) {
      console.warn(`the kernel's read skipped: ${read.missing}`);
      return;
    }
    if (!('mounted' in read)) throw new Error(`the kernel refused the image: ${read.message}`);
    expect(ours).toEqual(read.mounted);
  });
});
