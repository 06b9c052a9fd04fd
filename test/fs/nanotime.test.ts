/**
 * Nanosecond times: the inode codec's `_extra` words (fs/format.ts inodeTime / setInodeTime,
 * the kernel's ext4_encode_extra_time / ext4_decode_extra_time and EXT4_FITS_IN_INODE), the
 * times utimes, futimes and lutimes keep (Node's toUnixTimestamp, libuv's whole microseconds,
 * the kernel's clamp to 1901..2446), and stat's report of them (atimeMs with its fraction, the
 * Date rounded, `{ bigint: true }` atimeNs exact), held to node:fs on the host on both of our
 * profiles. The kernel's own reading and writing of these bytes is test/interop/nanotime.test.ts.
 */
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import { PmemDevice } from '../../device/device';
import * as F from '../../fs/format';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';
import { asyncApi, nodeFsModule } from '../../fs';
import { utimeRequest } from '../../fs/node-calls';

const MiB = 1 << 20;
type Profile = 'subset' | 'default';

function ours(profile: Profile): DaxFileSystem {
  const device = new PmemDevice({ sizeBytes: 32 * MiB, trace: false });
  mkfs(device, profile === 'default' ? { features: 'default', seed: 'nanotime' } : { seed: 'nanotime' });
  return mount(device, { policy: 'ordered', pmemApi: 'linux-arm64' });
}

/** An inode with i_extra_isize `extraIsize` (32: every `_extra` word; 0: none). */
function inodeWith(extraIsize: number): F.Inode {
  const inode = F.emptyInode();
  inode.extraIsize = extraIsize;
  return inode;
}

/** What the slot holds for mtime after setInodeTime: [i_mtime, i_mtime_extra]. */
function storedMtime(extraIsize: number, time: F.InodeTime): [number, number] {
  const inode = inodeWith(extraIsize);
  F.setInodeTime(inode, 'mtime', time);
  const slot = new Uint8Array(F.INODE_BYTES);
  F.encodeInode(inode, slot, 0);
  const view = new DataView(slot.buffer);
  return [view.getUint32(0x10, true), view.getUint32(0x88, true)];
}

describe('the inode codec encodes times as ext4.h does', () => {
  // Expected words follow ext4.h's table: base = the low 32 bits of the seconds, extra =
  // ((seconds - (s32)seconds) >> 32) & 3 | nanoseconds << 2.
  test.each([
    ['0', 0, 0, [0, 0]],
    ['-1 s (1969): base 0xffffffff, epoch 0', -1, 0, [0xffffffff, 0]],
    ['-0.5 s: -1 s and 500000000 ns, epoch 0', -1, 500_000_000, [0xffffffff, 500_000_000 * 4]],
    ['2^31 - 1 (the last s32 second): epoch 0', 2 ** 31 - 1, 0, [0x7fffffff, 0]],
    ['2^31 (2038): epoch 1', 2 ** 31, 0, [0x80000000, 1]],
    ['2^32 (2106): base 0, epoch 1', 2 ** 32, 999_999_999, [0, 999_999_999 * 4 + 1]],
    ['2^32 + 2^31: epoch 2', 2 ** 32 + 2 ** 31, 1, [0x80000000, 4 + 2]],
    ['S32_MIN (1901): base 0x80000000, epoch 0', -(2 ** 31), 0, [0x80000000, 0]],
    ['the last second ext4 keeps, 0x37fffffff: epoch 3', F.EXT4_TIME_MAX_SECONDS, 0, [0x7fffffff, 3]],
  ] as const)('%s', (_name, seconds, nanos, words) => {
    expect(storedMtime(32, { seconds, nanos })).toEqual(words);
    const inode = F.decodeInode(encoded(32, { seconds, nanos }), 0);
    expect(F.inodeTime(inode, 'mtime')).toEqual({ seconds, nanos });
  });

  test('without the `_extra` word (i_extra_isize 0): seconds clamped to s32, nanoseconds dropped, the slot\'s bytes past 128 untouched', () => {
    expect(storedMtime(0, { seconds: -1, nanos: 500_000_000 })).toEqual([0xffffffff, 0]);
    expect(storedMtime(0, { seconds: 2 ** 31, nanos: 0 })).toEqual([0x7fffffff, 0]);
    expect(storedMtime(0, { seconds: -(2 ** 31) - 1, nanos: 0 })).toEqual([0x80000000, 0]);
    const inode = inodeWith(0);
    F.setInodeTime(inode, 'mtime', { seconds: 2 ** 31, nanos: 7 });
    expect(F.inodeTime(inode, 'mtime')).toEqual({ seconds: 2 ** 31 - 1, nanos: 0 });
    expect(inode.mtimeExtra).toBe(0);
  });

  test('EXT4_FITS_IN_INODE per time: i_extra_isize 8 covers ctime_extra only, 20 not crtime_extra, 24 all', () => {
    const fits = (size: number) => F.INODE_TIME_FIELDS.filter((f) => F.timeFits(size, f));
    expect(fits(0)).toEqual([]);
    expect(fits(4)).toEqual([]);
    expect(fits(8)).toEqual(['ctime']);
    expect(fits(16)).toEqual(['atime', 'mtime', 'ctime']);
    expect(fits(20)).toEqual(['atime', 'mtime', 'ctime']);
    expect(fits(24)).toEqual(['atime', 'mtime', 'ctime', 'crtime']);
  });

  test('decoding follows ext4_decode_extra_time: the base word is signed, the epoch adds 2^32 per step, the nanoseconds are the upper 30 bits', () => {
    const slot = new Uint8Array(F.INODE_BYTES);
    const view = new DataView(slot.buffer);
    view.setUint16(0x80, 32, true);
    view.setUint32(0x08, 0x80000000, true); // atime: -2^31 ...
    view.setUint32(0x8c, (123 << 2) | 3, true); // ... + 3 * 2^32, 123 ns
    view.setUint32(0x10, 0xfffffffe, true); // mtime: -2, no extra
    view.setUint32(0x90, 5, true); // crtime 5 with 1 ns
    view.setUint32(0x94, 4, true);
    const inode = F.decodeInode(slot, 0);
    expect(F.inodeTime(inode, 'atime')).toEqual({ seconds: -(2 ** 31) + 3 * 2 ** 32, nanos: 123 });
    expect(F.inodeTime(inode, 'mtime')).toEqual({ seconds: -2, nanos: 0 });
    expect(F.inodeTime(inode, 'crtime')).toEqual({ seconds: 5, nanos: 1 });
    view.setUint16(0x80, 0, true); // the same words without i_extra_isize: not read
    expect(F.inodeTime(F.decodeInode(slot, 0), 'atime')).toEqual({ seconds: -(2 ** 31), nanos: 0 });
  });

  test('the kernel\'s clamp (timestamp_truncate): 1901-12-13 to 2446-05-10; a time on or past a bound loses its nanoseconds', () => {
    expect(F.truncateInodeTime({ seconds: -(2 ** 31) - 1, nanos: 5 })).toEqual({ seconds: -(2 ** 31), nanos: 0 });
    expect(F.truncateInodeTime({ seconds: -(2 ** 31), nanos: 5 })).toEqual({ seconds: -(2 ** 31), nanos: 0 });
    expect(F.truncateInodeTime({ seconds: -(2 ** 31) + 1, nanos: 5 })).toEqual({ seconds: -(2 ** 31) + 1, nanos: 5 });
    expect(F.truncateInodeTime({ seconds: 2 ** 40, nanos: 5 })).toEqual({ seconds: F.EXT4_TIME_MAX_SECONDS, nanos: 0 });
    expect(F.truncateInodeTime({ seconds: F.EXT4_TIME_MAX_SECONDS - 1, nanos: 5 })).toEqual({ seconds: F.EXT4_TIME_MAX_SECONDS - 1, nanos: 5 });
  });
});

function encoded(extraIsize: number, time: F.InodeTime): Uint8Array {
  const inode = inodeWith(extraIsize);
  F.setInodeTime(inode, 'mtime', time);
  const slot = new Uint8Array(F.INODE_BYTES);
  F.encodeInode(inode, slot, 0);
  return slot;
}

describe('utimes\' times as Node 20 and libuv hand them to the kernel', () => {
  test.each([
    [1.5, { seconds: 1, nanos: 500_000_000 }],
    [1.0000005, { seconds: 1, nanos: 0 }], // libuv keeps whole microseconds
    [123.9999999999, { seconds: 123, nanos: 999_999_000 }],
    ['-0.5', { seconds: -1, nanos: 500_000_000 }], // a numeric string may be negative
    ['-0.0017', { seconds: -1, nanos: 998_300_000 }],
    [' 7.25 ', { seconds: 7, nanos: 250_000_000 }],
    ['', { seconds: 0, nanos: 0 }],
    [-1, 'now'], // a negative number is Date.now() in Node
    [-0.5, 'now'],
    [new Date(-1), { seconds: -1, nanos: 999_000_000 }],
    [new Date(1500), { seconds: 1, nanos: 500_000_000 }],
    [2 ** 32 + 0.25, { seconds: 2 ** 32, nanos: 250_000_000 }],
    ['1e30', undefined], // time_t cannot hold it: EINVAL from the kernel
    [new Date(Number.NaN), undefined],
  ] as const)('%p', (time, expected) => {
    expect(utimeRequest(time)).toEqual(expected);
  });

  test.each([[Number.NaN], [Number.POSITIVE_INFINITY], [{}], ['abc'], [null], [10n]])('%p is a TypeError at the call', (time) => {
    expect(() => utimeRequest(time)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

// ------------------------------------------------------------------ held to node:fs

type AnyFs = typeof nodeFs;
type Time = number | string | Date;

/** utimes calls whose answers any file system with nanosecond times and ext4's range gives alike. */
const PAIRS: ReadonlyArray<readonly [Time, Time]> = [
  [1.5, 2.25],
  [1.0000005, 1.000000999],
  [1_700_000_000.123456789, 123.9999999999],
  ['-0.5', '-0.0017'],
  [new Date(-1000), new Date(-1)],
  [new Date(-500), new Date(1.7)],
  [2 ** 31 - 1, 2 ** 31],
  [2 ** 32, 2 ** 32 + 0.25],
  [' 7.5 ', ''],
];

/** The stat of `p` as the programs compare it: ms, Dates, and the bigint form's ns and ms. */
function timesOf(fs: AnyFs, p: string, lstat = false): string[] {
  const n = lstat ? fs.lstatSync(p) : fs.statSync(p);
  const b = lstat ? fs.lstatSync(p, { bigint: true }) : fs.statSync(p, { bigint: true });
  return [n.atimeMs, n.mtimeMs, n.atime.getTime(), n.mtime.getTime(), b.atimeNs, b.mtimeNs, b.atimeMs, b.mtimeMs, b.mtime.getTime()].map(String);
}

function errorOf(call: () => unknown): object {
  try {
    call();
    return { error: null };
  } catch (err) {
    const e = err as { code?: string; syscall?: string; name?: string };
    return { code: e.code, syscall: e.syscall, name: e.name };
  }
}

async function program(fs: AnyFs, root: string): Promise<unknown[]> {
  const log: unknown[] = [];
  const p = `${root}/f`;
  fs.writeFileSync(p, 'x');
  for (const [a, m] of PAIRS) {
    fs.utimesSync(p, a, m);
    log.push(['utimes', timesOf(fs, p)]);
  }
  fs.symlinkSync('f', `${root}/l`);
  fs.lutimesSync(`${root}/l`, 3.125, 4.0625);
  log.push(['lutimes', timesOf(fs, `${root}/l`, true), 'target kept', timesOf(fs, p)]);
  const fd = fs.openSync(p, 'r');
  fs.futimesSync(fd, 5.5, '-2.75');
  log.push(['futimes', timesOf(fs, p)]);
  fs.closeSync(fd);
  await promisify(fs.utimes)(p, 6.5, 7.000001);
  log.push(['callback utimes', timesOf(fs, p)]);
  await fs.promises.utimes(p, new Date(-2500), 8.5);
  log.push(['promises.utimes', timesOf(fs, p)]);
  await fs.promises.lutimes(`${root}/l`, 9.25, 10.75);
  log.push(['promises.lutimes', timesOf(fs, `${root}/l`, true)]);
  const handle = await fs.promises.open(p, 'r');
  await handle.utimes(11.5, '12.000250');
  log.push(['FileHandle.utimes', timesOf(fs, p)]);
  await handle.close();
  log.push(['FileHandle.utimes after close', await handle.utimes(1, 1).then(() => 'resolved', (e: NodeJS.ErrnoException) => e.code)]);
  log.push(['NaN', errorOf(() => fs.utimesSync(p, Number.NaN, 1))]);
  log.push(['object', errorOf(() => fs.utimesSync(p, {} as Date, 1))]);
  log.push(['invalid Date', errorOf(() => fs.utimesSync(p, new Date(Number.NaN), 1))]);
  log.push(['1e30', errorOf(() => fs.utimesSync(p, '1e30', 1))]);
  log.push(['1e30, no such file', errorOf(() => fs.utimesSync(`${root}/missing`, '1e30', 1))]);
  log.push(['futimes, bad descriptor', errorOf(() => fs.futimesSync(999, 1, 1))]);
  log.push(['lutimes, no such file', errorOf(() => fs.lutimesSync(`${root}/missing`, 1, 1))]);
  log.push(['after the errors', timesOf(fs, p)]);
  return log;
}

describe.each(['subset', 'default'] as const)('the %s profile: utimes, futimes, lutimes and stat observe what node:fs on the host observes', (profile) => {
  let dir = '';
  beforeAll(() => {
    dir = nodeFs.mkdtempSync(nodePath.join(os.tmpdir(), 'daxcrash-nanotime-'));
  });
  afterAll(() => nodeFs.rmSync(dir, { recursive: true, force: true }));

  test('identical answers, to the nanosecond', async () => {
    const host = await program(nodeFs, nodeFs.realpathSync(dir));
    const f = ours(profile);
    f.rmdirSync('/lost+found');
    const mine = await program(nodeFsModule(f) as unknown as AnyFs, '');
    f.unmount();
    expect(mine).toEqual(host);
    expect(host.length).toBeGreaterThan(PAIRS.length);
  });
});

describe('times our clock stamps', () => {
  test.each(['subset', 'default'] as const)('%s: whole seconds; a negative number asks for now, the clock\'s second; a write after utimes drops mtime\'s fraction', (profile) => {
    const f = ours(profile);
    f.writeFileSync('/f', 'x');
    f.utimesSync('/f', -1, 1.5);
    const plain = f.statSync('/f');
    expect(plain.atimeMs).toBe(plain.ctimeMs);
    expect(plain.ctimeMs % 1000).toBe(0);
    expect(plain.mtimeMs).toBe(1500);
    f.appendFileSync('/f', 'y');
    const after = f.statSync('/f');
    expect(after.mtimeMs % 1000).toBe(0);
    expect(after.mtimeMs).toBe(after.ctimeMs);
    expect(after.mtimeMs).toBeGreaterThan(plain.ctimeMs);
    f.unmount();
  });

  test('the asyncApi forms reach futimes and lutimes too', async () => {
    const f = ours('default');
    const api = asyncApi(f);
    f.writeFileSync('/f', 'x');
    f.symlinkSync('f', '/l');
    await api.promises.lutimes('/l', 1, 2.5);
    const fd = f.openSync('/f', 'r');
    await api.promises.futimes(fd, 3, 4.75);
    f.closeSync(fd);
    expect([f.lstatSync('/l').mtimeMs, f.statSync('/f').mtimeMs]).toEqual([2500, 4750]);
    f.unmount();
  });

  test('a read-only mount refuses utimes with EROFS, after the path and the times are checked', () => {
    const device = new PmemDevice({ sizeBytes: 32 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'nanotime-ro' });
    const w = mount(device);
    w.writeFileSync('/f', 'x');
    w.unmount();
    const f = mount(device, { readOnly: true });
    expect(errorOf(() => f.utimesSync('/missing', 1, 1))).toEqual({ code: 'ENOENT', syscall: 'utime', name: 'Error' });
    expect(errorOf(() => f.utimesSync('/f', '1e30', 1))).toEqual({ code: 'EINVAL', syscall: 'utime', name: 'Error' });
    expect(errorOf(() => f.utimesSync('/f', 1, 1))).toEqual({ code: 'EROFS', syscall: 'utime', name: 'Error' });
    f.unmount();
  });
});
