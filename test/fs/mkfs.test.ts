import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import {
  BLOCK_BYTES, INCOMPAT_RECOVER, SUPERBLOCK_OFFSET, decodeGroupDesc, decodeSuperblock,
} from '../../fs/format';
import { Geometry, computeGeometry } from '../../fs/geometry';
import { MkfsOptions, backupSuperblock, buildMkfsImage, mkfs, mkfsIdentity } from '../../fs/mkfs';
import {
  ImageDifference, diffImages, e2fsckCheck, e2fsckComplaints, makeTempDir, mkfsExt4, readImageBlocks, removeTempDir,
  uuidString,
} from '../helpers/e2fsprogs';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TIME = 1_700_000_000;

/**
 * Bytes where our image may differ from mkfs.ext4's, each with its reason. Everything else,
 * metadata and data blocks alike, must be identical.
 */
const KNOWN_DIFFERENCES: Array<{ what: string; why: string; applies: (d: ImageDifference, g: Geometry) => boolean }> = [
  {
    what: 's_flags (superblock + 0x160) in every superblock copy, on hosts other than x86-64',
    why: 'mkfs.ext4 records whether the host C compiler\'s char is signed (x86: 1 = signed hash) or not (arm64: 2); '
      + 'we always write 1, and the hash is unused without dir_index',
    applies: (d, g) => process.arch !== 'x64' && superblockByte(d, g) === 0x160,
  },
];

function superblockByte(d: ImageDifference, g: Geometry): number | undefined {
  const layout = g.groupLayouts.find((l) => l.hasSuper && l.firstBlock === d.block);
  if (layout === undefined) return undefined;
  const base = layout.group === 0 ? SUPERBLOCK_OFFSET : 0;
  return d.byteInBlock >= base && d.byteInBlock < base + 1024 ? d.byteInBlock - base : undefined;
}

/** Names the structure a block belongs to, for failure messages. */
function describeBlock(g: Geometry, block: number): string {
  if (block === g.rootDirBlock) return 'root directory block';
  if (block >= g.lostFoundFirstBlock && block < g.lostFoundFirstBlock + 4) return `lost+found block ${block - g.lostFoundFirstBlock}`;
  if (block >= g.journalFirstBlock && block < g.journalFirstBlock + g.journalBlocks) return `journal block ${block - g.journalFirstBlock}`;
  for (const l of g.groupLayouts) {
    if (block < l.firstBlock || block >= l.firstBlock + l.blocks) continue;
    if (l.hasSuper && block === l.firstBlock) return `group ${l.group} superblock`;
    if (l.hasSuper && block <= l.firstBlock + l.gdtBlocks) return `group ${l.group} GDT`;
    if (block === l.blockBitmap) return `group ${l.group} block bitmap`;
    if (block === l.inodeBitmap) return `group ${l.group} inode bitmap`;
    if (block < l.inodeTable + l.inodeTableBlocks && block >= l.inodeTable) return `group ${l.group} inode table block ${block - l.inodeTable}`;
    return `group ${l.group} data block`;
  }
  return 'past the file system';
}

function unexplained(diffs: ImageDifference[], g: Geometry): string[] {
  return diffs
    .filter((d) => !KNOWN_DIFFERENCES.some((k) => k.applies(d, g)))
    .map((d) => `block ${d.block} (${describeBlock(g, d.block)}) byte 0x${d.byteInBlock.toString(16)}: ours 0x${d.ours.toString(16)}, mkfs.ext4 0x${d.theirs.toString(16)}`);
}

function freshDevice(sizeBytes: number, extra: Partial<ConstructorParameters<typeof PmemDevice>[0]> = {}): PmemDevice {
  return new PmemDevice({ sizeBytes, trace: false, ...extra });
}

let dir = '';
beforeAll(() => {
  dir = makeTempDir('mkfs');
});
afterAll(() => removeTempDir(dir));

describe('mkfs: the image equals mkfs.ext4\'s and e2fsck finds nothing to fix', () => {
  test.each([
    ['16 MiB', 16 * MiB],
    ['64 MiB', 64 * MiB],
    ['200 MiB (partial last group)', 200 * MiB],
    ['129 MiB (a dropped last group)', 129 * MiB],
    ['1 GiB', GiB],
  ])('%s', (_name, sizeBytes) => {
    const device = freshDevice(sizeBytes);
    const result = mkfs(device, { seed: `mkfs-test-${sizeBytes}`, timeSeconds: TIME });
    const ours = path.join(dir, `ours-${sizeBytes}.img`);
    const theirs = path.join(dir, `theirs-${sizeBytes}.img`);
    device.writeImage(ours);
    mkfsExt4(theirs, sizeBytes, { uuid: result.uuid, hashSeed: result.hashSeed, timeSeconds: TIME });

    const check = e2fsckCheck(ours);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
    expect(unexplained(diffImages(ours, theirs), result.geometry)).toEqual([]);

    // The comparison above covers every block; spell out that the metadata was really there.
    const sb = decodeSuperblock(readImageBlocks(ours, 0, 1), SUPERBLOCK_OFFSET);
    expect(uuidString(sb.uuid)).toBe(uuidString(result.uuid));
    expect(sb.blocksCount).toBe(result.geometry.blocksCount);
    expect(readImageBlocks(ours, result.geometry.journalFirstBlock, 1).subarray(0, 4)).toEqual(Uint8Array.of(0xc0, 0x3b, 0x39, 0x98));
  });

  test('default options (seed 0, time 0) also make a clean file system', () => {
    const device = freshDevice(16 * MiB);
    const result = mkfs(device);
    const ours = path.join(dir, 'defaults.img');
    device.writeImage(ours);
    const check = e2fsckCheck(ours);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
    const sb = decodeSuperblock(readImageBlocks(ours, 0, 1), SUPERBLOCK_OFFSET);
    expect([sb.wtime, sb.mkfsTime, sb.lastcheck]).toEqual([0, 0, 0]);
    expect(result.uuid).toEqual(mkfsIdentity({ seed: 0 }).uuid);
  });
});

describe('mkfs: cost on a large device', () => {
  test('1 GiB: the device stays sparse (inode tables and journal are never materialised)', () => {
    const device = freshDevice(GiB);
    const result = mkfs(device, { seed: 3 });
    const metadataBlocks = buildMkfsImage(result.geometry, mkfsIdentity({ seed: 3 })).blocks.size;
    // 5 superblocks, 5 GDTs, 16 bitmaps, 1 inode-table block, 5 directory blocks, the journal superblock
    expect(metadataBlocks).toBe(33);
    expect(device.residentBytes()).toBeLessThan(1 * MiB);
  });
});

describe('mkfs: writes and barriers', () => {
  test.each([
    ['armv8.2', 'dsb'],
    ['x86-adr', 'sfence'],
  ] as const)('%s: exactly the non-zero metadata blocks, each whole, then a flush hint and a full barrier', (profile, lastKind) => {
    const device = new PmemDevice({ sizeBytes: 16 * MiB, profile });
    const result = mkfs(device, { seed: 9 });
    const events = device.trace?.slice() ?? [];
    const stores = events.filter((e) => e.kind === 'store' || e.kind === 'movnti');
    const expected = [...buildMkfsImage(result.geometry, mkfsIdentity({ seed: 9 })).blocks.keys()].sort((a, b) => a - b);
    // ascending, except the primary superblock, which goes last behind a barrier
    expect(stores.map((e) => e.addr / BLOCK_BYTES)).toEqual([...expected.filter((b) => b !== 0), 0]);
    expect(stores.every((e) => e.length === BLOCK_BYTES)).toBe(true);
    const lastStore = stores[stores.length - 1]!.index;
    // pmemWmb: DSB ST on arm64 (memcpyFlushcache's own cleans end in DSB SY), SFENCE on x86
    const isWmb = (e: { kind: string; op: string }) => (lastKind === 'dsb' ? e.kind === 'dsb' && e.op === 'st' : e.kind === 'sfence');
    expect(events.slice(stores[stores.length - 2]!.index, lastStore).filter(isWmb).length).toBe(1);
    const hint = events.findIndex((e) => e.kind === 'hint');
    expect(hint).toBeGreaterThan(lastStore);
    expect(events[events.length - 1]?.kind).toBe(lastKind);
  });

  test('the x86 profile gets the linux-x86 flavour by default and the same image', () => {
    const arm = freshDevice(16 * MiB);
    const x86 = freshDevice(16 * MiB, { profile: 'x86-adr' });
    mkfs(arm, { seed: 4 });
    mkfs(x86, { seed: 4 });
    expect(Buffer.from(x86.load(0, 16 * MiB)).equals(Buffer.from(arm.load(0, 16 * MiB)))).toBe(true);
    expect(() => mkfs(freshDevice(16 * MiB), { pmemApi: 'nope' as MkfsOptions['pmemApi'] })).toThrow(/unknown pmem API flavour 'nope'/);
  });
});

describe('mkfs: a device that held something before', () => {
  test('stale inode tables and journal blocks are zeroed; free data blocks are left alone', () => {
    const size = 64 * MiB;
    const g = computeGeometry(size);
    const used = freshDevice(size);
    const api = pmemApi('linux-arm64', used);
    const junk = new Uint8Array(BLOCK_BYTES).fill(0x5a);
    const dataBlock = g.journalFirstBlock + g.journalBlocks + 100;
    for (const block of [g.groupLayouts[0]!.inodeTable + 7, g.journalFirstBlock + 5, g.journalFirstBlock + g.journalBlocks - 1, dataBlock, 0]) {
      api.memcpyFlushcache(block * BLOCK_BYTES, junk);
    }
    api.pmemWmb();
    mkfs(used, { seed: 5, timeSeconds: TIME });
    const fresh = freshDevice(size);
    mkfs(fresh, { seed: 5, timeSeconds: TIME });
    const usedImage = path.join(dir, 'used.img');
    const freshImage = path.join(dir, 'fresh.img');
    used.writeImage(usedImage);
    fresh.writeImage(freshImage);
    expect([...new Set(diffImages(usedImage, freshImage, 10_000).map((d) => d.block))]).toEqual([dataBlock]);
    const check = e2fsckCheck(usedImage);
    expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
  });

  test('an old superblock is zeroed and made durable before any new metadata is written', () => {
    const device = new PmemDevice({ sizeBytes: 16 * MiB });
    const api = pmemApi('linux-arm64', device);
    api.memcpyFlushcache(0, new Uint8Array(BLOCK_BYTES).fill(0x33));
    api.pmemWmb();
    const from = device.trace!.slice().length;
    mkfs(device, { seed: 2 });
    const events = device.trace!.slice(from);
    const stores = events.filter((e) => e.kind === 'store');
    expect(stores.map((e) => e.addr / BLOCK_BYTES).slice(0, 2)).toEqual([0, 1]);
    expect(device.load(0, 1024).every((b) => b === 0)).toBe(true);
    const between = events.slice(events.indexOf(stores[0]!), events.indexOf(stores[1]!));
    expect(between.some((e) => e.kind === 'dsb' && e.op === 'st')).toBe(true);
  });

  test('a block that reads as zero but may persist older data (an unflushed store) is zeroed durably', () => {
    const size = 16 * MiB;
    const g = computeGeometry(size);
    const block = g.groupLayouts[0]!.inodeTable + 3;
    const setUp = (): PmemDevice => {
      const device = freshDevice(size);
      const api = pmemApi('linux-arm64', device);
      api.memcpyFlushcache(block * BLOCK_BYTES, new Uint8Array(BLOCK_BYTES).fill(0xa7));
      api.pmemWmb();
      device.store(block * BLOCK_BYTES, new Uint8Array(BLOCK_BYTES)); // coherent zeros, persisted 0xa7
      return device;
    };
    const persistedByte = (device: PmemDevice): number => {
      const image = path.join(dir, 'uncertain.img');
      device.writeImage(image);
      return readImageBlocks(image, block, 1)[0] as number;
    };
    const control = setUp();
    expect(control.load(block * BLOCK_BYTES, BLOCK_BYTES).every((b) => b === 0)).toBe(true);
    expect(persistedByte(control)).toBe(0xa7);
    const device = setUp();
    mkfs(device);
    expect(persistedByte(device)).toBe(0);
  });
});

describe('mkfs: identity and options', () => {
  test('deterministic: the same seed gives the same device bytes, another seed another UUID and hash seed', () => {
    const a = freshDevice(16 * MiB);
    const b = freshDevice(16 * MiB);
    const ra = mkfs(a, { seed: 'same', timeSeconds: 12 });
    const rb = mkfs(b, { seed: 'same', timeSeconds: 12 });
    expect(Buffer.from(a.load(0, 16 * MiB)).equals(Buffer.from(b.load(0, 16 * MiB)))).toBe(true);
    expect(rb.uuid).toEqual(ra.uuid);
    const other = mkfsIdentity({ seed: 'other' });
    expect(other.uuid).not.toEqual(ra.uuid);
    expect(other.hashSeed).not.toEqual(ra.hashSeed);
  });

  test('ids are version-4 UUIDs; a given uuid does not change the hash seed drawn from the seed', () => {
    const id = mkfsIdentity({ seed: 11 });
    for (const bytes of [id.uuid, id.hashSeed]) {
      expect((bytes[6] as number) >> 4).toBe(4);
      expect((bytes[8] as number) >> 6).toBe(2);
    }
    expect(id.uuid).not.toEqual(id.hashSeed);
    const uuid = new Uint8Array(16).fill(1);
    const given = mkfsIdentity({ seed: 11, uuid });
    expect(given.uuid).toEqual(uuid);
    expect(given.hashSeed).toEqual(id.hashSeed);
    expect(mkfs(freshDevice(16 * MiB), { seed: 11, uuid }).uuid).toEqual(uuid);
  });

  test.each<[string, MkfsOptions, RegExp]>([
    ['a short uuid', { uuid: new Uint8Array(15) }, /uuid must be 16 bytes, got 15/],
    ['a long hash seed', { hashSeed: new Uint8Array(17) }, /hashSeed must be 16 bytes, got 17/],
    ['a negative time', { timeSeconds: -1 }, /timeSeconds -1 must be an integer in \[0, 2\^32\)/],
    ['a time past 2106', { timeSeconds: 2 ** 32 }, /timeSeconds 4294967296/],
    ['a fractional time', { timeSeconds: 1.5 }, /timeSeconds 1.5/],
  ])('%s is a RangeError', (_name, options, message) => {
    expect(() => mkfs(freshDevice(16 * MiB), options)).toThrow(message);
    expect(() => mkfs(freshDevice(16 * MiB), options)).toThrow(RangeError);
  });

  test('a device below 16 MiB is refused before anything is written', () => {
    const device = freshDevice(8 * MiB);
    expect(() => mkfs(device)).toThrow(/at least 16 MiB/);
    expect(device.residentBytes()).toBe(0);
  });

  test('backup superblocks differ from the primary only in state, RECOVER and group number', () => {
    const g = computeGeometry(GiB);
    const image = buildMkfsImage(g, mkfsIdentity({ seed: 1 }));
    const primary = decodeSuperblock(image.blocks.get(0)!, SUPERBLOCK_OFFSET);
    for (const l of g.groupLayouts.filter((x) => x.hasSuper && x.group > 0)) {
      expect(decodeSuperblock(image.blocks.get(l.firstBlock)!, 0)).toEqual({ ...primary, state: 0, blockGroupNr: l.group });
      expect(image.blocks.get(l.firstBlock + 1)).toEqual(image.blocks.get(1));
    }
    const recovering = { ...primary, featureIncompat: primary.featureIncompat | INCOMPAT_RECOVER };
    expect(backupSuperblock(recovering, 3)).toEqual({ ...primary, state: 0, blockGroupNr: 3 });
  });

  test('group descriptors count exactly what the bitmaps mark', () => {
    const g = computeGeometry(200 * MiB);
    const image = buildMkfsImage(g, mkfsIdentity({ seed: 1 }));
    const popcount = (bytes: Uint8Array, bits: number) => {
      let n = 0;
      for (let i = 0; i < bits; i++) n += ((bytes[i >> 3] as number) >> (i & 7)) & 1;
      return n;
    };
    for (const l of g.groupLayouts) {
      const gd = decodeGroupDesc(image.blocks.get(1)!, 32 * l.group);
      expect(gd.freeBlocksCount).toBe(l.blocks - popcount(image.blocks.get(l.blockBitmap)!, l.blocks));
      expect(gd.freeInodesCount).toBe(g.inodesPerGroup - popcount(image.blocks.get(l.inodeBitmap)!, g.inodesPerGroup));
      expect(popcount(image.blocks.get(l.blockBitmap)!, 32768) - popcount(image.blocks.get(l.blockBitmap)!, l.blocks)).toBe(32768 - l.blocks);
    }
  });
});
