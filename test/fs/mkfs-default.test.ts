/**
 * The `default` mkfs profile against the real mkfs.ext4 run with MKFS_EXT4_ARGS.default
 * (fs/mkfs-default.ts): whole images compared byte for byte (every field, s_kbytes_written included), e2fsck -fn clean, the kernel
 * mounting a copy of ours (as root; otherwise the test prints why it could not ask), and
 * mount() refusing the profile with ENOTSUP naming its features.
 */
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { superblockChecksum } from '../../fs/csum';
import { BLOCK_BYTES, SUPERBLOCK_OFFSET, decodeSuperblock } from '../../fs/format';
import { computeFlexGeometry } from '../../fs/geometry-flex';
import { mkfs, mkfsIdentity } from '../../fs/mkfs';
import { buildDefaultImage } from '../../fs/mkfs-default';
import { mount } from '../../fs/mount';
import {
  ImageDifference, diffImages, dumpe2fs, e2fsckCheck, e2fsckComplaints, makeTempDir, mkfsExt4, readImageBlocks, removeTempDir,
} from '../helpers/e2fsprogs';
import { kernelMount } from '../helpers/kernel';
import * as fs from 'node:fs';

const MiB = 2 ** 20;
const TIME = 1_700_000_000;

let dir = '';
beforeAll(() => {
  dir = makeTempDir('mkfs-default');
});
afterAll(() => removeTempDir(dir));

/**
 * mkfs.ext4 run with the default profile's command, its image then made host-independent:
 * s_flags records whether the C compiler's char is signed (x86-64: 1, signed directory hash;
 * arm64: 2), and ours is always 1. On other hosts every superblock copy of the reference gets
 * s_flags 1 and its checksum recomputed, so that byte is the only one excused; on x86-64
 * nothing is touched.
 */
function referenceImage(file: string, sizeBytes: number, identity: { uuid: Uint8Array; hashSeed: Uint8Array; timeSeconds: number }): void {
  mkfsExt4(file, sizeBytes, identity, 'default');
  if (process.arch === 'x64') return;
  const g = computeFlexGeometry(sizeBytes);
  const fd = fs.openSync(file, 'r+');
  try {
    for (const l of g.groupLayouts.filter((x) => x.hasSuper)) {
      const block = readImageBlocks(file, l.firstBlock, 1);
      const sb = block.subarray(l.group === 0 ? SUPERBLOCK_OFFSET : 0, (l.group === 0 ? SUPERBLOCK_OFFSET : 0) + 1024);
      const view = new DataView(sb.buffer, sb.byteOffset, 1024);
      view.setUint32(0x160, 1, true);
      view.setUint32(0x3fc, superblockChecksum(sb), true);
      fs.writeSync(fd, block, 0, BLOCK_BYTES, l.firstBlock * BLOCK_BYTES);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function describeDiff(d: ImageDifference): string {
  return `block ${d.block} byte 0x${d.byteInBlock.toString(16)}: ours 0x${d.ours.toString(16)}, mkfs.ext4 0x${d.theirs.toString(16)}`;
}

describe('mkfs default profile: the image equals mkfs.ext4\'s and e2fsck finds nothing to fix', () => {
  test.each([
    ['16 MiB (one group, journal in three extents)', 16 * MiB],
    ['64 MiB', 64 * MiB],
    ['200 MiB (partial last group)', 200 * MiB],
    ['256 MiB', 256 * MiB],
    ['1 GiB', 1024 * MiB],
  ])('%s', (_name, sizeBytes) => {
    const device = new PmemDevice({ sizeBytes, trace: false });
    const result = mkfs(device, { features: 'default', seed: `default-${sizeBytes}`, timeSeconds: TIME });
    const ours = path.join(dir, `ours-${sizeBytes}.img`);
    const theirs = path.join(dir, `theirs-${sizeBytes}.img`);
    device.writeImage(ours);
    referenceImage(theirs, sizeBytes, { uuid: result.uuid, hashSeed: result.hashSeed, timeSeconds: TIME });
    const check = e2fsckCheck(ours);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
    expect(diffImages(ours, theirs).map(describeDiff)).toEqual([]);
    const sb = decodeSuperblock(readImageBlocks(ours, 0, 1), SUPERBLOCK_OFFSET);
    expect([sb.featureRoCompat & 0x400, sb.descSize, sb.logGroupsPerFlex]).toEqual([0x400, 64, 4]);
    fs.rmSync(theirs);
  });
});

describe('mkfs default profile: a second flex group (3 GiB), metadata compared block by block', () => {
  // A whole 3 GiB comparison reads 6 GiB of sparse files (20 s); the blocks our mkfs writes,
  // the layout dumpe2fs reads from mkfs.ext4's image and e2fsck's verdict cover the same ground.
  test('3 GiB: every block our mkfs writes equals mkfs.ext4\'s, the group tables agree, e2fsck is clean', () => {
    const sizeBytes = 3072 * MiB;
    const identity = mkfsIdentity({ seed: 'two-flex-groups', timeSeconds: TIME });
    const geometry = computeFlexGeometry(sizeBytes);
    const image = buildDefaultImage(geometry, identity);
    const theirs = path.join(dir, 'theirs-3g.img');
    referenceImage(theirs, sizeBytes, identity);
    const differing: number[] = [];
    for (const [block, bytes] of image.blocks) {
      if (Buffer.compare(Buffer.from(bytes), Buffer.from(readImageBlocks(theirs, block, 1))) !== 0) differing.push(block);
    }
    expect(differing).toEqual([]);
    const dumped = dumpe2fs(theirs).groups.map((d) => [d.group, d.blockBitmap, d.inodeBitmap, d.inodeTable[0], d.freeBlocks]);
    expect(geometry.groupLayouts.map((l) => [l.group, l.blockBitmap, l.inodeBitmap, l.inodeTable, l.freeBlocks])).toEqual(dumped);
    fs.rmSync(theirs);
    const device = new PmemDevice({ sizeBytes, trace: false });
    mkfs(device, { features: 'default', seed: 'two-flex-groups', timeSeconds: TIME });
    const ours = path.join(dir, 'ours-3g.img');
    device.writeImage(ours);
    const check = e2fsckCheck(ours);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
  });
});

describe('mkfs default profile: every block our mkfs writes, over a sweep of sizes', () => {
  // s_kbytes_written models mke2fs's I/O (its block cache, fs/mkfs-default.ts) and the layout
  // replays its allocator: held to the tool where either behaves differently (fewer or more
  // than 7 reserved GDT blocks, one to eight flex groups, two descriptor blocks, partial and
  // dropped last groups, sizes that are not whole MiB).
  test.each([
    20 * MiB, 32 * MiB, 55_538_664, 100 * MiB, 128 * MiB, 129 * MiB, 300 * MiB, 512 * MiB, 700 * MiB, 2048 * MiB,
    4096 * MiB, 8192 * MiB, 9_780_379_648, 16_696_312_808,
  ])('%i bytes', (sizeBytes) => {
    const identity = mkfsIdentity({ seed: `sweep-${sizeBytes}`, timeSeconds: TIME });
    const geometry = computeFlexGeometry(sizeBytes);
    const image = buildDefaultImage(geometry, identity);
    const theirs = path.join(dir, `sweep-${sizeBytes}.img`);
    referenceImage(theirs, sizeBytes, identity);
    const differing = [...image.blocks].filter(([block, bytes]) => Buffer.compare(Buffer.from(bytes), Buffer.from(readImageBlocks(theirs, block, 1))) !== 0);
    expect(differing.map(([block]) => block)).toEqual([]);
    fs.rmSync(theirs);
  });
});

describe('mkfs default profile: the kernel mounts our image', () => {
  const made = (name: string, sizeBytes: number): string => {
    const device = new PmemDevice({ sizeBytes, trace: false });
    mkfs(device, { features: 'default', seed: name, timeSeconds: TIME });
    const image = path.join(dir, `${name}.img`);
    device.writeImage(image);
    return image;
  };

  test('1 GiB, read-only: lists / and lost+found, with no error in the kernel log', () => {
    const mounted = kernelMount(made('kernel-ro', 1024 * MiB), (at) => [fs.readdirSync(at).sort(), fs.readdirSync(path.join(at, 'lost+found'))],
      undefined, { readOnly: true });
    if ('missing' in mounted) {
      console.warn(`kernel mount of the default profile NOT checked: ${mounted.missing}`);
      return;
    }
    expect('mounted' in mounted ? { listed: mounted.mounted, readOnly: mounted.readOnly } : mounted)
      .toEqual({ listed: [['lost+found'], []], readOnly: true });
    // this mount's own lines (other workers' loop mounts log beside it): there, and clean
    expect(mounted.deviceLog).toMatch(/EXT4-fs \(loop\d+\): mounted filesystem/);
    expect(mounted.deviceLog).not.toMatch(/EXT4-fs error|checksum|corrupt/i);
  });

  test('64 MiB (its journal in three extents), read-write: the kernel writes files into it and e2fsck -fn calls the result clean', () => {
    let written: Buffer | undefined;
    const mounted = kernelMount(made('kernel-rw', 64 * MiB), (at) => {
      fs.mkdirSync(path.join(at, 'dir'));
      fs.writeFileSync(path.join(at, 'dir', 'file'), 'written by the kernel');
      return fs.readdirSync(at).sort();
    }, (bytes) => {
      written = bytes;
    });
    if ('missing' in mounted) {
      console.warn(`kernel mount of the default profile NOT checked: ${mounted.missing}`);
      return;
    }
    expect('mounted' in mounted ? { listed: mounted.mounted, readOnly: mounted.readOnly } : mounted)
      .toEqual({ listed: ['dir', 'lost+found'], readOnly: false });
    const after = path.join(dir, 'kernel-rw-after.img');
    fs.writeFileSync(after, written as Buffer);
    const check = e2fsckCheck(after);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
  });
});

describe('mkfs default profile: writes and cost', () => {
  test('1 GiB: exactly the image\'s non-zero blocks, ascending, the primary superblock last; the device stays sparse', () => {
    const device = new PmemDevice({ sizeBytes: 1024 * MiB });
    const result = mkfs(device, { features: 'default', seed: 'writes' });
    const expected = [...buildDefaultImage(result.geometry, mkfsIdentity({ seed: 'writes' })).blocks.keys()].sort((a, b) => a - b);
    const stores = (device.trace?.slice() ?? []).filter((e) => e.kind === 'store');
    expect(stores.map((e) => e.addr / BLOCK_BYTES)).toEqual([...expected.filter((b) => b !== 0), 0]);
    expect(stores.every((e) => e.length === BLOCK_BYTES)).toBe(true);
    expect(device.residentBytes()).toBeLessThan(MiB);
  });

  test('an unknown profile is a RangeError before anything is written', () => {
    const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
    expect(() => mkfs(device, { features: 'huge' as 'default' })).toThrow(/mkfs features 'huge': expected 'minimal' or 'default'/);
    expect(device.residentBytes()).toBe(0);
  });
});

describe('mkfs default profile on a device that held something before', () => {
  test('512 MiB: stale metadata areas (uninit bitmaps, inode tables, reserved GDT backups, journal) read as zero after; a free data block keeps its bytes', () => {
    const sizeBytes = 512 * MiB;
    const g = computeFlexGeometry(sizeBytes);
    expect(g.groupLayouts.map((l) => l.blockUninit)).toEqual([false, true, false, false]);
    const used = new PmemDevice({ sizeBytes, trace: false });
    const api = pmemApi('linux-arm64', used);
    const junk = new Uint8Array(BLOCK_BYTES).fill(0x5a);
    const dataBlock = g.resizeDindBlock + 100;
    const stale = [dataBlock];
    for (let b = 0; b < g.rootDirBlock + 6; b++) stale.push(b);
    for (const e of g.journalExtents) stale.push(e.start, e.start + 1, e.start + e.len - 1);
    for (const l of g.groupLayouts.filter((x) => x.hasSuper && x.group > 0)) {
      for (let b = 0; b < 1 + g.gdtBlocks + g.reservedGdtBlocks; b++) stale.push(l.firstBlock + b);
    }
    for (const b of stale) api.memcpyFlushcache(b * BLOCK_BYTES, junk);
    api.pmemWmb();
    mkfs(used, { features: 'default', seed: 'stale', timeSeconds: TIME });
    const fresh = new PmemDevice({ sizeBytes, trace: false });
    mkfs(fresh, { features: 'default', seed: 'stale', timeSeconds: TIME });
    const usedImage = path.join(dir, 'stale-used.img');
    const freshImage = path.join(dir, 'stale-fresh.img');
    used.writeImage(usedImage);
    fresh.writeImage(freshImage);
    expect([...new Set(diffImages(usedImage, freshImage, 10_000).map((d) => d.block))]).toEqual([dataBlock]);
    const check = e2fsckCheck(usedImage);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
  });
});

describe('mount accepts the default profile', () => {
  test('a writable mount of our default image mounts and unmounts (test/fs/write-default.test.ts holds its writes to e2fsck and the kernel)', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 1 });
    const f = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64' });
    expect(f.readdirSync('/')).toEqual(['lost+found']);
    f.unmount();
  });
});
