import fc from 'fast-check';
import * as path from 'node:path';
import { readU16LE, readU32BE, readU32LE, writeU16LE, writeU32LE } from '../../core/bytes';
import { CorruptionError } from '../../core/errors';
import * as F from '../../fs/format';
import { computeGeometry } from '../../fs/geometry';
import { buildMkfsImage } from '../../fs/mkfs';
import { makeTempDir, mkfsExt4, readImageBlocks, removeTempDir, uuidBytes } from '../helpers/e2fsprogs';

const FC = { seed: 0x5eed_f0a7, numRuns: 300 } as const;
const MiB = 2 ** 20;

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const superblockArb: fc.Arbitrary<F.Superblock> = fc.record({
  inodesCount: u32, blocksCount: u32, rBlocksCount: u32, freeBlocksCount: u32, freeInodesCount: u32,
  firstDataBlock: u32, logBlockSize: u32, logClusterSize: u32, blocksPerGroup: u32, clustersPerGroup: u32,
  inodesPerGroup: u32, mtime: u32, wtime: u32, mntCount: u16, maxMntCount: u16, magic: u16, state: u16,
  errors: u16, minorRevLevel: u16, lastcheck: u32, checkinterval: u32, creatorOs: u32, revLevel: u32,
  defResuid: u16, defResgid: u16, firstIno: u32, inodeSize: u16, blockGroupNr: u16, featureCompat: u32,
  featureIncompat: u32, featureRoCompat: u32, uuid: bytes(16), volumeName: bytes(16), lastMounted: bytes(64),
  reservedGdtBlocks: u16, journalUuid: bytes(16), journalInum: u32, journalDev: u32, lastOrphan: u32,
  hashSeed: bytes(16), defHashVersion: u8, jnlBackupType: u8, descSize: u16, defaultMountOpts: u32,
  firstMetaBg: u32, mkfsTime: u32, jnlBlocks: fc.array(u32, { minLength: 17, maxLength: 17 }),
  minExtraIsize: u16, wantExtraIsize: u16, flags: u32, kbytesWritten: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  logGroupsPerFlex: u8, checksumType: u8, overheadClusters: u32,
});

const groupDescArb: fc.Arbitrary<F.GroupDesc> = fc.record({
  blockBitmap: u32, inodeBitmap: u32, inodeTable: u32, freeBlocksCount: u16, freeInodesCount: u16,
  usedDirsCount: u16, flags: u16,
});

const inodeArb: fc.Arbitrary<F.Inode> = fc.record({
  mode: u16, uid: u32, size: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), atime: u32, ctime: u32,
  mtime: u32, dtime: u32, gid: u32, linksCount: u16, blocks: fc.integer({ min: 0, max: 2 ** 48 - 1 }), flags: u32,
  block: bytes(60), generation: u32, fileAcl: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  // small i_extra_isize values often, so some `_extra` words fall outside it (they then decode as 0)
  extraIsize: fc.oneof(fc.integer({ min: 0, max: 40 }), u16), crtime: u32,
  atimeExtra: u32, mtimeExtra: u32, ctimeExtra: u32, crtimeExtra: u32,
}).map((inode) => {
  for (const field of F.INODE_TIME_FIELDS) if (!F.timeFits(inode.extraIsize, field)) inode[`${field}Extra`] = 0;
  return inode;
});

const journalSuperblockArb: fc.Arbitrary<F.JournalSuperblock> = fc.record({
  magic: u32, blocktype: u32, headerSequence: u32, blocksize: u32, maxlen: u32, first: u32, sequence: u32,
  start: u32, errno: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), featureCompat: u32, featureIncompat: u32,
  featureRoCompat: u32, uuid: bytes(16), nrUsers: u32, dynsuper: u32, maxTransaction: u32, maxTransData: u32,
  checksumType: u8, numFcBlocks: u32, head: u32, checksum: u32, users: bytes(F.JBD2_USERS_BYTES),
});

/** Sorted, non-overlapping leaves of a node with `max` slots. */
function leavesArb(max: number): fc.Arbitrary<F.ExtentLeaf[]> {
  const piece = fc.record({
    gap: fc.integer({ min: 0, max: 1000 }),
    unwritten: fc.boolean(),
    len: fc.integer({ min: 1, max: F.EXTENT_MAX_LEN }),
    start: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  });
  return fc.array(piece, { maxLength: max }).map((pieces) => {
    let next = 0;
    return pieces.map((p) => {
      const len = p.unwritten ? Math.min(p.len, F.EXTENT_MAX_LEN - 1) : p.len;
      const leaf = { block: next + p.gap, len, start: p.start, unwritten: p.unwritten };
      next = leaf.block + len;
      return leaf;
    });
  });
}

function indexesArb(max: number): fc.Arbitrary<F.ExtentIndex[]> {
  const piece = fc.record({ gap: fc.integer({ min: 1, max: 100000 }), leaf: fc.integer({ min: 0, max: 2 ** 48 - 1 }) });
  return fc.array(piece, { maxLength: max }).map((pieces) => {
    let block = -1;
    return pieces.map((p) => {
      block += p.gap;
      return { block, leaf: p.leaf };
    });
  });
}

function extentNodeArb(capacityBytes: 60 | 4096): fc.Arbitrary<F.ExtentNode> {
  const cap = Math.floor((capacityBytes - 12) / 12);
  return fc.integer({ min: cap - 2, max: cap }).chain((max) =>
    fc.oneof(
      leavesArb(max).map((leaves) => ({ depth: 0, max, leaves, indexes: [] as F.ExtentIndex[] })),
      fc.tuple(fc.integer({ min: 1, max: 5 }), indexesArb(max)).map(([depth, indexes]) => ({
        depth, max, leaves: [] as F.ExtentLeaf[], indexes,
      })),
    ));
}

function corruption(fn: () => unknown): CorruptionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CorruptionError) return error;
    throw error;
  }
  throw new Error('expected a CorruptionError, nothing was thrown');
}

/** A valid superblock: the one our mkfs builds for 16 MiB (itself pinned to mkfs.ext4's by mkfs.test.ts). */
function validSuperblock(): F.Superblock {
  const geometry = computeGeometry(16 * MiB);
  const image = buildMkfsImage(geometry, { uuid: new Uint8Array(16), hashSeed: new Uint8Array(16), timeSeconds: 1 });
  return F.decodeSuperblock(image.blocks.get(0) as Uint8Array, F.SUPERBLOCK_OFFSET);
}

function validJournalSuperblock(): F.JournalSuperblock {
  const geometry = computeGeometry(16 * MiB);
  const image = buildMkfsImage(geometry, { uuid: new Uint8Array(16), hashSeed: new Uint8Array(16), timeSeconds: 1 });
  return F.decodeJournalSuperblock(image.blocks.get(geometry.journalFirstBlock) as Uint8Array, 0);
}

// ------------------------------------------------------------------------------ round trips

describe('format: every codec round-trips', () => {
  test('superblock: decode(encode(v)) === v, at any offset, over any background', () => {
    fc.assert(fc.property(superblockArb, fc.integer({ min: 0, max: 3072 }), bytes(4096), (sb, offset, background) => {
      const out = background.slice();
      F.encodeSuperblock(sb, out, offset);
      expect(F.decodeSuperblock(out, offset)).toEqual(sb);
    }), FC);
  });

  test('superblock: encode(decode(bytes)) leaves any 1024 bytes unchanged (unmodelled fields included)', () => {
    fc.assert(fc.property(bytes(1024), (raw) => {
      const out = raw.slice();
      F.encodeSuperblock(F.decodeSuperblock(raw), out);
      expect(Buffer.from(out).equals(Buffer.from(raw))).toBe(true);
    }), FC);
  });

  test('64-byte group descriptor: what encodeGroupDesc64 writes, decodeGroupDesc reads back with the high halves', () => {
    const wide = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    const count = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    fc.assert(fc.property(wide, wide, wide, count, count, count, fc.integer({ min: 0, max: 0xffff }), (blockBitmap, inodeBitmap, inodeTable, freeBlocksCount, freeInodesCount, usedDirsCount, flags) => {
      const gd = { blockBitmap, inodeBitmap, inodeTable, freeBlocksCount, freeInodesCount, usedDirsCount, flags };
      const out = new Uint8Array(128);
      F.encodeGroupDesc64({ ...gd, blockBitmapCsum: 0, inodeBitmapCsum: 0, itableUnused: 0 }, out, 64);
      expect(F.decodeGroupDesc(out, 64, 64)).toEqual(gd);
    }), FC);
  });

  test('group descriptor: value round trip, and the 12 csum/exclude bytes written as zero', () => {
    fc.assert(fc.property(groupDescArb, bytes(64), fc.integer({ min: 0, max: 32 }), (gd, background, offset) => {
      const out = background.slice();
      F.encodeGroupDesc(gd, out, offset);
      expect(F.decodeGroupDesc(out, offset)).toEqual(gd);
      expect([...out.subarray(offset + 0x14, offset + 32)]).toEqual(new Array(12).fill(0));
      expect(Buffer.from(out.subarray(0, offset)).equals(Buffer.from(background.subarray(0, offset)))).toBe(true);
    }), FC);
  });

  test('inode: value round trip over a dirty slot', () => {
    fc.assert(fc.property(inodeArb, bytes(512), fc.integer({ min: 0, max: 256 }), (inode, background, offset) => {
      const out = background.slice();
      F.encodeInode(inode, out, offset);
      const back = F.decodeInode(out, offset);
      expect(back).toEqual(inode);
      expect(back.block).not.toBe(out.subarray(offset + 0x28, offset + 0x28 + 60));
    }), FC);
  });

  test('inode: decode of any slot re-encodes to the same known fields and zeros elsewhere', () => {
    fc.assert(fc.property(bytes(256), (raw) => {
      raw[0x6e] = 0; // keep i_size_high below 2^21 so the size is a safe integer
      raw[0x6f] = 0;
      const out = new Uint8Array(256).fill(0xee);
      F.encodeInode(F.decodeInode(raw, 0), out, 0);
      const known: Array<[number, number]> = [
        [0x00, 0x08], [0x08, 0x24], [0x28, 0x70], [0x74, 0x7c], [0x80, 0x82], [0x90, 0x94],
      ];
      // a time's `_extra` word is known where i_extra_isize covers it
      const extraIsize = raw[0x80] | (raw[0x81] << 8);
      for (const field of F.INODE_TIME_FIELDS) {
        const at = F.TIME_EXTRA_AT[field];
        if (F.timeFits(extraIsize, field)) known.push([at, at + 4]);
      }
      for (let i = 0; i < 256; i++) {
        const inKnown = known.some(([a, b]) => i >= a && i < b);
        expect([i, out[i]]).toEqual([i, inKnown ? raw[i] : 0]);
      }
    }), { ...FC, numRuns: 50 });
  });

  test.each([60, 4096] as const)('extent node (%i-byte capacity): round trip, rest of the capacity zeroed', (capacity) => {
    fc.assert(fc.property(extentNodeArb(capacity), (node) => {
      const out = new Uint8Array(capacity + 16).fill(0xa5);
      F.encodeExtentNode(node, out, 8, capacity);
      expect(F.decodeExtentNode(out, 8, capacity, 'test node')).toEqual(node);
      const used = 12 * (1 + node.leaves.length + node.indexes.length);
      expect(out.subarray(8 + used, 8 + capacity).every((b) => b === 0)).toBe(true);
      expect(out[7]).toBe(0xa5);
      expect(out[8 + capacity]).toBe(0xa5);
    }), FC);
  });

  test('directory block: entries built with encodeDirEntry decode to themselves', () => {
    const entryArb = fc.record({
      inode: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff })),
      fileType: fc.integer({ min: 0, max: 7 }),
      name: fc.uint8Array({ minLength: 1, maxLength: 255 }),
      slackWords: fc.integer({ min: 0, max: 8 }),
    });
    fc.assert(fc.property(fc.array(entryArb, { minLength: 1, maxLength: 40 }), (specs) => {
      const block = new Uint8Array(F.BLOCK_BYTES).fill(0x77);
      const expected: F.DirEntry[] = [];
      let offset = 0;
      for (const [i, spec] of specs.entries()) {
        // The previous entry left room for this one's minimum length; the last one takes the rest.
        let recLen = F.dirRecLen(spec.name.length) + 4 * spec.slackWords;
        const next = specs[i + 1];
        const last = next === undefined || offset + recLen + F.dirRecLen(next.name.length) > F.BLOCK_BYTES;
        if (last) recLen = F.BLOCK_BYTES - offset;
        F.encodeDirEntry(block, offset, { inode: spec.inode, recLen, fileType: spec.fileType, name: spec.name });
        expected.push({ inode: spec.inode, recLen, nameLen: spec.name.length, fileType: spec.fileType, name: spec.name, offset });
        offset += recLen;
        if (last) break;
      }
      expect(offset).toBe(F.BLOCK_BYTES);
      expect(F.decodeDirBlock(block, 'test block')).toEqual(expected);
      for (const e of expected) {
        const padEnd = e.offset + F.dirRecLen(e.nameLen);
        expect(block.subarray(e.offset + 8 + e.nameLen, padEnd).every((b) => b === 0)).toBe(true);
      }
    }), FC);
  });

  test('journal superblock: value round trip, and bytes round trip over any 1024 bytes', () => {
    fc.assert(fc.property(journalSuperblockArb, bytes(2048), fc.integer({ min: 0, max: 1024 }), (jsb, background, offset) => {
      const out = background.slice();
      F.encodeJournalSuperblock(jsb, out, offset);
      expect(F.decodeJournalSuperblock(out, offset)).toEqual(jsb);
    }), FC);
    fc.assert(fc.property(bytes(1024), (raw) => {
      const out = raw.slice();
      F.encodeJournalSuperblock(F.decodeJournalSuperblock(raw, 0), out, 0);
      expect(Buffer.from(out).equals(Buffer.from(raw))).toBe(true);
    }), FC);
  });
});

// ---------------------------------------------------------------------------- known vectors

describe('format: known vectors', () => {
  test('superblock fields sit at their ext2_fs.h offsets, little-endian', () => {
    const raw = new Uint8Array(1024);
    raw[0x38] = 0x53;
    raw[0x39] = 0xef;
    writeU32LE(raw, 0x04, 0x01020304);
    writeU32LE(raw, 0xe0, 8);
    writeU16LE(raw, 0x15c, 32);
    writeU32LE(raw, 0x248, 1092);
    raw[0x10c] = 0x0a;
    raw[0x10d] = 0xf3;
    raw[0x178] = 0x01;
    raw[0x17f] = 0x80;
    const sb = F.decodeSuperblock(raw);
    expect(sb.magic).toBe(F.EXT4_MAGIC);
    expect(sb.blocksCount).toBe(0x01020304);
    expect(sb.journalInum).toBe(8);
    expect(sb.minExtraIsize).toBe(32);
    expect(sb.overheadClusters).toBe(1092);
    expect(sb.jnlBlocks[0]).toBe(0xf30a);
    expect(sb.kbytesWritten).toBe(0x8000000000000001n);
    const out = new Uint8Array(2048);
    F.encodeSuperblock(sb, out, F.SUPERBLOCK_OFFSET);
    expect([out[1024 + 0x38], out[1024 + 0x39]]).toEqual([0x53, 0xef]);
  });

  test('jbd2 fields are big-endian', () => {
    const jsb = validJournalSuperblock();
    const out = new Uint8Array(1024);
    F.encodeJournalSuperblock({ ...jsb, maxlen: 1024, errno: -5 }, out, 0);
    expect([...out.subarray(0, 8)]).toEqual([0xc0, 0x3b, 0x39, 0x98, 0, 0, 0, 4]);
    expect([...out.subarray(0x10, 0x14)]).toEqual([0, 0, 4, 0]);
    expect([...out.subarray(0x20, 0x24)]).toEqual([0xff, 0xff, 0xff, 0xfb]);
    expect(readU32BE(out, 0x0c)).toBe(4096);
    expect(F.decodeJournalSuperblock(out, 0).errno).toBe(-5);
  });

  test('inode: uid and gid keep their high halves at 0x78/0x7a, i_blocks and i_size theirs at 0x74/0x6c', () => {
    const inode = { ...F.emptyInode(), uid: 0x12345, gid: 0xabcdef01, size: 2 ** 40 + 7, blocks: 2 ** 33 + 9 };
    const out = new Uint8Array(256);
    F.encodeInode(inode, out, 0);
    expect([readU16LE(out, 0x02), readU16LE(out, 0x78)]).toEqual([0x2345, 0x1]);
    expect([readU16LE(out, 0x18), readU16LE(out, 0x7a)]).toEqual([0xef01, 0xabcd]);
    expect([readU32LE(out, 0x04), readU32LE(out, 0x6c)]).toEqual([7, 0x100]);
    expect([readU32LE(out, 0x1c), readU16LE(out, 0x74)]).toEqual([9, 2]);
  });

  test('an inode field that does not fit its bytes is an assertion failure, as the byte writers say it', () => {
    const out = new Uint8Array(256);
    const fails = (inode: Partial<F.Inode>) => () => F.encodeInode({ ...F.emptyInode(), ...inode }, out, 0);
    expect(fails({ atime: 2 ** 32 })).toThrow('value 4294967296 does not fit an unsigned 32-bit field');
    expect(fails({ flags: -1 })).toThrow('value -1 does not fit an unsigned 32-bit field');
    expect(fails({ mode: 0x10000 })).toThrow('value 65536 does not fit an unsigned 16-bit field');
    expect(fails({ linksCount: 1.5 })).toThrow('value 1.5 does not fit an unsigned 16-bit field');
    expect(fails({ uid: 2 ** 32 })).toThrow('uid 4294967296 does not fit 32 bits');
    expect(() => F.encodeInode(F.emptyInode(), new Uint8Array(300), 1.5)).toThrow('2-byte access at offset 1.5 is outside [0, 300)');
  });

  test('emptyInode encodes as 256 zero bytes, and encodeInode clears whatever the slot held', () => {
    const out = new Uint8Array(256).fill(0xff);
    F.encodeInode(F.emptyInode(), out, 0);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  test('an i_size beyond 2^53 is corruption, not a rounded number', () => {
    const raw = new Uint8Array(256);
    writeU32LE(raw, 0x6c, 2 ** 21);
    expect(corruption(() => F.decodeInode(raw, 0)).message).toMatch(/at byte 108 .*i_size_high 0x200000/);
  });

  test('extent leaf: ee_len above 32768 is an unwritten extent of ee_len - 32768 blocks', () => {
    const raw = new Uint8Array(60);
    F.encodeExtentNode({ depth: 0, max: 4, leaves: [{ block: 5, len: 3, start: 2 ** 40 + 1, unwritten: true }], indexes: [] }, raw, 0, 60);
    expect(readU16LE(raw, 0)).toBe(F.EXTENT_MAGIC);
    expect(readU16LE(raw, 12 + 4)).toBe(32771);
    expect([readU16LE(raw, 12 + 6), readU32LE(raw, 12 + 8)]).toEqual([0x100, 1]);
    expect(F.decodeExtentHeader(raw, 0)).toEqual({ magic: F.EXTENT_MAGIC, entries: 1, max: 4, depth: 0, generation: 0 });
  });

  test('dirRecLen is EXT2_DIR_REC_LEN', () => {
    expect([1, 2, 3, 4, 5, 10, 255].map(F.dirRecLen)).toEqual([12, 12, 12, 12, 16, 20, 264]);
  });

  test('fileTypeOfMode maps every S_IF* to its FT_*', () => {
    const cases: Array<[number, number]> = [
      [F.S_IFREG | 0o644, F.FT_REG_FILE], [F.S_IFDIR | 0o755, F.FT_DIR], [F.S_IFCHR, F.FT_CHRDEV],
      [F.S_IFBLK, F.FT_BLKDEV], [F.S_IFIFO, F.FT_FIFO], [F.S_IFSOCK, F.FT_SOCK], [F.S_IFLNK | 0o777, F.FT_SYMLINK],
      [0o644, F.FT_UNKNOWN],
    ];
    expect(cases.map(([mode]) => F.fileTypeOfMode(mode))).toEqual(cases.map(([, ft]) => ft));
    expect([F.FT_CHRDEV, F.FT_BLKDEV, F.FT_FIFO, F.FT_SOCK]).toEqual([3, 4, 5, 6]);
  });

  test('constants relate as the format requires', () => {
    expect(F.BLOCK_BYTES / F.INODE_BYTES).toBe(16);
    expect(F.BLOCKS_PER_GROUP).toBe(8 * F.BLOCK_BYTES);
    expect((60 - 12) / F.EXTENT_ENTRY_BYTES).toBe(F.EXTENT_ROOT_MAX);
    expect(Math.floor((F.BLOCK_BYTES - 12) / F.EXTENT_ENTRY_BYTES)).toBe(F.EXTENT_BLOCK_MAX);
    expect(F.KNOWN_INCOMPAT).toBe(0x46);
    expect(F.KNOWN_RO_COMPAT).toBe(0x3);
  });
});

describe('format: decoding what mkfs.ext4 wrote (16 MiB)', () => {
  let dir = '';
  let image = '';
  const uuid = uuidBytes('01234567-89ab-4def-8123-456789abcdef');
  const hashSeed = uuidBytes('fedcba98-7654-4321-8fed-cba987654321');
  const time = 1_700_000_000;
  beforeAll(() => {
    dir = makeTempDir('format');
    image = path.join(dir, 'ref.img');
    mkfsExt4(image, 16 * MiB, { uuid, hashSeed, timeSeconds: time });
  });
  afterAll(() => removeTempDir(dir));

  test('superblock', () => {
    const sb = F.decodeSuperblock(readImageBlocks(image, 0, 1), F.SUPERBLOCK_OFFSET);
    expect(sb).toMatchObject({
      inodesCount: 1024, blocksCount: 4096, rBlocksCount: 0, freeBlocksCount: 2999, freeInodesCount: 1013,
      firstDataBlock: 0, logBlockSize: 2, logClusterSize: 2, blocksPerGroup: 32768, clustersPerGroup: 32768,
      inodesPerGroup: 1024, mtime: 0, wtime: time, mntCount: 0, maxMntCount: 0xffff, magic: 0xef53, state: 1,
      errors: 1, revLevel: 1, lastcheck: time, firstIno: 11, inodeSize: 256, featureCompat: F.COMPAT_HAS_JOURNAL,
      featureIncompat: F.INCOMPAT_FILETYPE | F.INCOMPAT_EXTENTS, featureRoCompat: F.RO_COMPAT_SPARSE_SUPER,
      journalInum: 8, defHashVersion: 1, jnlBackupType: 1, defaultMountOpts: 0xc, mkfsTime: time,
      minExtraIsize: 32, wantExtraIsize: 32, flags: 1, kbytesWritten: 0n, logGroupsPerFlex: 0, checksumType: 0, overheadClusters: 1092,
    });
    expect(sb.uuid).toEqual(uuid);
    expect(sb.hashSeed).toEqual(hashSeed);
    expect(sb.jnlBlocks.slice(0, 6)).toEqual([0x0001f30a, 4, 0, 0, 1024, 73]);
    expect(sb.jnlBlocks.slice(15)).toEqual([0, 1024 * 4096]);
    expect(() => F.validateSuperblock(sb, 16 * MiB)).not.toThrow();
  });

  test('group descriptor, inodes, directories and the journal superblock', () => {
    expect(F.decodeGroupDesc(readImageBlocks(image, 1, 1), 0)).toEqual({
      blockBitmap: 2, inodeBitmap: 3, inodeTable: 4, freeBlocksCount: 2999, freeInodesCount: 1013, usedDirsCount: 2, flags: 4,
    });
    const table = readImageBlocks(image, 4, 1);
    const root = F.decodeInode(table, 256);
    expect(root).toMatchObject({ mode: 0o40755, size: 4096, linksCount: 3, blocks: 8, flags: F.EXTENTS_FL, extraIsize: 32, crtime: time });
    expect(F.decodeExtentNode(root.block, 0, 60, 'inode 2').leaves).toEqual([{ block: 0, len: 1, start: 68, unwritten: false }]);
    const journal = F.decodeInode(table, 7 * 256);
    expect(journal).toMatchObject({ mode: 0o100600, size: 4 * MiB, linksCount: 1, blocks: 8192, flags: F.EXTENTS_FL });
    expect(F.decodeExtentNode(journal.block, 0, 60, 'inode 8').leaves).toEqual([{ block: 0, len: 1024, start: 73, unwritten: false }]);
    const lostFound = F.decodeInode(table, 10 * 256);
    expect(lostFound).toMatchObject({ mode: 0o40700, size: 16384, linksCount: 2, blocks: 32 });
    const names = (block: number) =>
      F.decodeDirBlock(readImageBlocks(image, block, 1), `block ${block}`).map((e) => [e.inode, e.recLen, e.fileType, Buffer.from(e.name).toString()]);
    expect(names(68)).toEqual([[2, 12, 2, '.'], [2, 12, 2, '..'], [11, 4072, 2, 'lost+found']]);
    expect(names(69)).toEqual([[11, 12, 2, '.'], [2, 4084, 2, '..']]);
    expect(names(70)).toEqual([[0, 4096, 0, '']]);
    const jsb = F.decodeJournalSuperblock(readImageBlocks(image, 73, 1), 0);
    expect(jsb).toMatchObject({
      magic: F.JBD2_MAGIC, blocktype: F.JBD2_SUPERBLOCK_V2, blocksize: 4096, maxlen: 1024, first: 1, sequence: 1,
      start: 0, errno: 0, featureIncompat: 0, nrUsers: 1,
    });
    expect(jsb.uuid).toEqual(uuid);
    expect(() => F.validateJournalSuperblock(jsb, 1024)).not.toThrow();
  });
});

// ------------------------------------------------------------------------------ validation

describe('format: validateSuperblock names the field and its byte', () => {
  const device = 16 * MiB;
  test('the superblock mkfs builds is valid', () => {
    expect(() => F.validateSuperblock(validSuperblock(), device)).not.toThrow();
  });

  test.each<[string, (sb: F.Superblock) => void, RegExp]>([
    ['bad magic', (sb) => { sb.magic = 0x1234; }, /byte 1024 \+ 0x38: s_magic: bad magic 0x1234, expected 0xef53/],
    ['revision 0', (sb) => { sb.revLevel = 0; }, /byte 1024 \+ 0x4c: s_rev_level: revision 0/],
    ['1 KiB blocks', (sb) => { sb.logBlockSize = 0; sb.logClusterSize = 0; }, /byte 1024 \+ 0x18: s_log_block_size: block size 1024, expected 4096/],
    ['bigalloc clusters', (sb) => { sb.logClusterSize = 4; }, /byte 1024 \+ 0x1c: s_log_cluster_size: cluster size 16384/],
    ['blocks per group', (sb) => { sb.blocksPerGroup = 16384; }, /byte 1024 \+ 0x20: s_blocks_per_group: 16384, expected 32768/],
    ['clusters per group', (sb) => { sb.clustersPerGroup = 8; }, /byte 1024 \+ 0x24: s_clusters_per_group: 8 differs/],
    ['first data block', (sb) => { sb.firstDataBlock = 1; }, /byte 1024 \+ 0x14: s_first_data_block: 1, expected 0/],
    ['inode size', (sb) => { sb.inodeSize = 128; }, /byte 1024 \+ 0x58: s_inode_size: 128, expected 256/],
    ['first inode', (sb) => { sb.firstIno = 12; }, /byte 1024 \+ 0x54: s_first_ino: 12, expected 11/],
    ['zero blocks', (sb) => { sb.blocksCount = 0; }, /byte 1024 \+ 0x4: s_blocks_count: zero blocks/],
    ['no room past the descriptors', (sb) => { sb.blocksCount = 2; sb.inodesCount = 1024; }, /byte 1024 \+ 0x4: s_blocks_count: 2 blocks cannot hold the superblock, a 1-block descriptor table/],
    ['blocks beyond the device', (sb) => { sb.blocksCount = 4097; }, /byte 1024 \+ 0x4: s_blocks_count: 4097 blocks exceed the device's 4096/],
    ['ipg too small', (sb) => { sb.inodesPerGroup = 8; sb.inodesCount = 8; }, /byte 1024 \+ 0x28: s_inodes_per_group: 8, expected a multiple of 16/],
    ['ipg not a multiple of 16', (sb) => { sb.inodesPerGroup = 1000; sb.inodesCount = 1000; }, /0x28: s_inodes_per_group: 1000/],
    ['ipg too large', (sb) => { sb.inodesPerGroup = 32784; sb.inodesCount = 32784; }, /0x28: s_inodes_per_group: 32784/],
    ['inodes count', (sb) => { sb.inodesCount = 2048; }, /byte 1024 \+ 0x0: s_inodes_count: 2048, expected inodes per group 1024 x 1 groups = 1024/],
    ['reserved blocks', (sb) => { sb.rBlocksCount = 5000; }, /byte 1024 \+ 0x8: s_r_blocks_count: 5000 exceeds/],
    ['journal inode', (sb) => { sb.journalInum = 9; }, /byte 1024 \+ 0xe0: s_journal_inum: journal inode 9, expected 8/],
  ])('%s', (_name, mutate, message) => {
    const sb = validSuperblock();
    mutate(sb);
    const error = corruption(() => F.validateSuperblock(sb, device));
    expect(error.message).toMatch(/^corrupt superblock at /);
    expect(error.message).toMatch(message);
    expect(error.code).toBe('EUCLEAN');
    expect(error.structure).toBe('superblock');
  });

  test('free counts past the totals are advisory, not corrupt (the kernel recomputes them, e2fsck rewrites them)', () => {
    const sb = validSuperblock();
    sb.freeBlocksCount = 4097;
    sb.freeInodesCount = 1025;
    expect(() => F.validateSuperblock(sb, device)).not.toThrow();
  });

  test.each<[string, (sb: F.Superblock) => void, RegExp]>([
    ['64bit without metadata_csum (its descriptors are written with checksums alone)', (sb) => { sb.featureIncompat |= 0x80 | 0x200; sb.descSize = 64; }, /^writes of 64bit group descriptors without metadata_csum; mount read-only/],
    ['64bit beside an incompat feature nothing reads', (sb) => { sb.featureIncompat |= 0x80 | 0x8000; }, /^incompat features 64bit, inline_data \(0x8080\)$/],
    ['an unnamed incompat bit', (sb) => { sb.featureIncompat |= 0x800000; }, /unknown 0x800000/],
    ['metadata_csum without 64bit', (sb) => {
      sb.checksumType = 1;
      sb.featureRoCompat |= 0x400;
      sb.featureCompat |= 0x20;
    }, /^writes of metadata_csum with 32-byte group descriptors \(no 64bit\)/],
    ['64bit with 32-byte descriptors', (sb) => { sb.featureIncompat |= 0x80; sb.descSize = 32; }, /^32-byte group descriptors/],
    ['bigalloc', (sb) => { sb.featureRoCompat |= 0x200; sb.logClusterSize = 4; }, /^bigalloc/],
    ['revision 0', (sb) => { sb.revLevel = 0; }, /^revision 0/],
    ['1 KiB blocks', (sb) => { sb.logBlockSize = 0; sb.logClusterSize = 0; }, /^1024-byte blocks/],
    ['128-byte inodes', (sb) => { sb.inodeSize = 128; }, /^128-byte inodes/],
  ])('unsupportedBy names %s', (_name, mutate, what) => {
    const sb = validSuperblock();
    expect(F.unsupportedBy(sb)).toBeUndefined();
    mutate(sb);
    expect(F.unsupportedBy(sb)).toMatch(what);
  });

  test('a mount reads and writes the default profile\'s features, and nothing more', () => {
    const sb = validSuperblock();
    sb.featureIncompat |= 0x80 | 0x200;
    sb.descSize = 64;
    sb.featureRoCompat |= 0x8 | 0x20 | 0x40 | 0x400;
    sb.checksumType = 1;
    sb.featureCompat |= 0x8 | 0x10 | 0x20;
    expect(F.unsupportedBy(sb, { readOnly: true })).toBeUndefined();
    expect(F.unsupportedBy(sb)).toBeUndefined();
    sb.featureIncompat |= 0x2000;
    expect(F.unsupportedBy(sb, { readOnly: true })).toMatch(/^incompat features 64bit, flex_bg, metadata_csum_seed/);
  });

  test('the journal inode number is only checked when HAS_JOURNAL is set; feature bits are not checked', () => {
    const sb = validSuperblock();
    sb.featureCompat = 0;
    sb.journalInum = 0;
    sb.featureIncompat = 0xffffffff;
    sb.featureRoCompat = 0xffffffff;
    expect(() => F.validateSuperblock(sb, device)).not.toThrow();
  });
});

describe('format: validateJournalSuperblock names the field and its byte', () => {
  test('the journal superblock mkfs builds is valid, and so is a live log with REVOKE', () => {
    expect(() => F.validateJournalSuperblock(validJournalSuperblock(), 1024)).not.toThrow();
    const live = { ...validJournalSuperblock(), start: 1023, featureIncompat: F.JBD2_FEATURE_INCOMPAT_REVOKE };
    expect(() => F.validateJournalSuperblock(live, 1024)).not.toThrow();
  });

  test.each<[string, Partial<F.JournalSuperblock>, number, RegExp]>([
    ['bad magic', { magic: 0xc03b3999 }, 1024, /journal block 0 \+ 0x0: s_magic: bad magic 0xc03b3999/],
    ['superblock v1', { blocktype: 3 }, 1024, /journal block 0 \+ 0x4: s_blocktype: block type 3, expected 4/],
    ['block size', { blocksize: 1024 }, 1024, /journal block 0 \+ 0xc: s_blocksize: 1024, expected/],
    ['maxlen beyond the inode', { maxlen: 2048 }, 1024, /journal block 0 \+ 0x10: s_maxlen: 2048 blocks exceed the journal inode's 1024/],
    ['maxlen too short', { maxlen: 1000 }, 1024, /journal block 0 \+ 0x10: s_maxlen: 1000 blocks, below the minimum 1024/],
    ['first 0', { first: 0 }, 1024, /journal block 0 \+ 0x14: s_first: 0, expected 1/],
    ['first 2', { first: 2 }, 1024, /journal block 0 \+ 0x14: s_first: 2/],
    ['start past the log', { start: 1024 }, 1024, /journal block 0 \+ 0x1c: s_start: 1024 is neither 0 nor inside the log \[1, 1024\)/],
    ['64bit journal', { featureIncompat: 0x2 }, 1024, /journal block 0 \+ 0x28: s_feature_incompat: unknown incompat features 0x2/],
    ['csum v3 journal', { featureIncompat: 0x11 }, 1024, /unknown incompat features 0x10/],
  ])('%s', (_name, change, journalBlocks, message) => {
    const error = corruption(() => F.validateJournalSuperblock({ ...validJournalSuperblock(), ...change }, journalBlocks));
    expect(error.message).toMatch(/^corrupt journal superblock at /);
    expect(error.message).toMatch(message);
  });
});

describe('format: decodeExtentNode rejects malformed nodes', () => {
  const leaf = (block: number, len: number, start = 100): F.ExtentLeaf => ({ block, len, start, unwritten: false });
  const encode = (node: F.ExtentNode, capacity: 60 | 4096 = 60) => {
    const out = new Uint8Array(capacity);
    F.encodeExtentNode(node, out, 0, capacity);
    return out;
  };

  test.each<[string, () => Uint8Array, 60 | 4096, RegExp]>([
    ['bad magic', () => { const b = encode({ depth: 0, max: 4, leaves: [], indexes: [] }); b[0] = 0; return b; }, 60, /eh_magic \(node byte 0\) is 0xf300, expected 0xf30a/],
    ['entries above max', () => { const b = encode({ depth: 0, max: 4, leaves: [], indexes: [] }); writeU16LE(b, 2, 5); return b; }, 60, /eh_entries \(node byte 2\) is 5, above eh_max 4/],
    ['max too large for the root', () => { const b = encode({ depth: 0, max: 4, leaves: [], indexes: [] }); writeU16LE(b, 4, 5); return b; }, 60, /eh_max \(node byte 4\) is 5, expected 2\.\.4 for a 60-byte node/],
    ['max too small for a block', () => { const b = encode({ depth: 0, max: 340, leaves: [], indexes: [] }, 4096); writeU16LE(b, 4, 337); return b; }, 4096, /eh_max \(node byte 4\) is 337, expected 338\.\.340/],
    ['depth 6', () => { const b = encode({ depth: 1, max: 4, leaves: [], indexes: [] }); writeU16LE(b, 6, 6); return b; }, 60, /eh_depth \(node byte 6\) is 6, above 5/],
    ['zero-length extent', () => { const b = encode({ depth: 0, max: 4, leaves: [leaf(0, 1)], indexes: [] }); writeU16LE(b, 16, 0); return b; }, 60, /entry 0 \(node byte 12\): ee_len is 0/],
    ['unsorted leaves', () => { const b = encode({ depth: 0, max: 4, leaves: [leaf(10, 1), leaf(20, 1)], indexes: [] }); writeU32LE(b, 24, 5); return b; }, 60, /entry 1 \(node byte 24\): logical block 5 is not after/],
    ['overlapping leaves', () => { const b = encode({ depth: 0, max: 4, leaves: [leaf(10, 5), leaf(20, 1)], indexes: [] }); writeU32LE(b, 24, 14); return b; }, 60, /entry 1 \(node byte 24\): logical block 14 is not after the previous entry's range \(next free 15\)/],
    ['repeated index', () => { const b = encode({ depth: 1, max: 4, leaves: [], indexes: [{ block: 0, leaf: 9 }, { block: 7, leaf: 10 }] }); writeU32LE(b, 24, 0); return b; }, 60, /entry 1 \(node byte 24\): logical block 0 is not after/],
    ['past block 2^32', () => { const b = encode({ depth: 0, max: 4, leaves: [leaf(0xffffffff, 1)], indexes: [] }); writeU16LE(b, 16, 2); return b; }, 60, /passes block 2\^32/],
  ])('%s', (_name, build, capacity, message) => {
    const error = corruption(() => F.decodeExtentNode(build(), 0, capacity, 'inode 12 i_block'));
    expect(error.message).toMatch(/^corrupt extent tree at inode 12 i_block: /);
    expect(error.message).toMatch(message);
  });

  test('an initialized extent may be 32768 blocks long, an unwritten one 32767', () => {
    const b = encode({ depth: 0, max: 4, leaves: [leaf(0, 32768), { block: 32768, len: 32767, start: 1, unwritten: true }], indexes: [] });
    expect(readU16LE(b, 12 + 4)).toBe(32768);
    expect(readU16LE(b, 24 + 4)).toBe(65535);
    expect(F.decodeExtentNode(b, 0, 60, 'x').leaves.map((l) => [l.len, l.unwritten])).toEqual([[32768, false], [32767, true]]);
  });
});

describe('format: decodeDirBlock rejects malformed blocks', () => {
  const entry = (out: Uint8Array, offset: number, inode: number, recLen: number, nameLen: number) => {
    writeU32LE(out, offset, inode);
    writeU16LE(out, offset + 4, recLen);
    out[offset + 6] = nameLen;
    out[offset + 7] = 1;
    out.fill(0x61, offset + 8, offset + 8 + Math.min(nameLen, Math.max(0, recLen - 8)));
  };

  test.each<[string, (b: Uint8Array) => void, RegExp]>([
    ['rec_len not a multiple of 4', (b) => { entry(b, 0, 12, 14, 1); }, /entry at byte 0: rec_len 14 is not a multiple of 4/],
    ['rec_len below 12', (b) => { entry(b, 0, 12, 12, 1); entry(b, 12, 0, 8, 0); }, /entry at byte 12: rec_len 8 is below the minimum 12/],
    ['crossing the block', (b) => { entry(b, 0, 12, 4000, 1); entry(b, 4000, 13, 100, 1); }, /entry at byte 4000: rec_len 100 crosses the end of the 4096-byte block/],
    ['last entry stopping short', (b) => { entry(b, 0, 12, 4000, 1); }, /entry at byte 4000: rec_len 0 is below the minimum 12/],
    ['live entry without a name', (b) => { entry(b, 0, 12, 4096, 0); }, /entry at byte 0: live entry \(inode 12\) has name_len 0/],
    ['rec_len too short for the name', (b) => { entry(b, 0, 12, 16, 9); entry(b, 16, 0, 4080, 0); }, /entry at byte 0: rec_len 16 is below 20 needed by name_len 9/],
  ])('%s', (_name, fill, message) => {
    const block = new Uint8Array(F.BLOCK_BYTES);
    fill(block);
    const error = corruption(() => F.decodeDirBlock(block, 'directory inode 2 block 68'));
    expect(error.message).toMatch(/^corrupt directory at directory inode 2 block 68: /);
    expect(error.message).toMatch(message);
  });

  test('deleted (inode 0) entries are returned, in block order, and need no name', () => {
    const block = new Uint8Array(F.BLOCK_BYTES);
    F.encodeDirEntry(block, 0, { inode: 0, recLen: 24, fileType: 0, name: new Uint8Array(0) });
    F.encodeDirEntry(block, 24, { inode: 5, recLen: F.BLOCK_BYTES - 24, fileType: F.FT_REG_FILE, name: Uint8Array.of(0x78) });
    expect(F.decodeDirBlock(block, 'b').map((e) => [e.offset, e.inode, e.nameLen])).toEqual([[0, 0, 0], [24, 5, 1]]);
  });
});

describe('format: an inode rewritten keeping what Inode does not model (extra_isize, metadata_csum)', () => {
  test('l_i_version, checksums, i_projid and in-inode xattrs stay; the `_extra` words are the decoded inode\'s own', () => {
    const slot = new Uint8Array(F.INODE_BYTES).map((_, i) => (i * 7 + 1) & 0xff);
    slot.fill(0, 0x6c, 0x70); // i_size_high: a size that fits 2^53
    slot.fill(0, 0x74, 0x78); // i_blocks_hi, i_file_acl_hi: 48-bit values that fit
    slot[0x80] = 32; // i_extra_isize 32: every `_extra` word is the inode's
    slot[0x81] = 0;
    const inode = F.decodeInode(slot, 0);
    const before = slot.slice();
    F.stampInodeTimes(inode, 1_700_000_123, 'ctime');
    F.setInodeTime(inode, 'mtime', { seconds: 5, nanos: 250_000_000 });
    F.encodeInode(inode, slot, 0, true);
    const kept = (from: number, to: number) => expect([...slot.subarray(from, to)]).toEqual([...before.subarray(from, to)]);
    kept(0x24, 0x28); // l_i_version
    kept(0x7c, 0x80); // i_checksum_lo, l_i_reserved
    kept(0x82, 0x84); // i_checksum_hi
    kept(0x8c, 0x90); // atime_extra: its time did not change
    kept(0x94, F.INODE_BYTES); // crtime_extra, i_version_hi, i_projid, in-inode xattrs
    expect([...slot.subarray(0x84, 0x88)]).toEqual([0, 0, 0, 0]); // ctime_extra: a clock stamp has no nanoseconds
    expect(readU32LE(slot, 0x88)).toBe(250_000_000 * 4); // mtime_extra: nanoseconds << 2, epoch 0
    expect(F.decodeInode(slot, 0)).toEqual(inode);
    F.encodeInode(inode, slot, 0);
    expect([...slot.subarray(0xa0, F.INODE_BYTES)].every((b) => b === 0)).toBe(true);
    expect(readU32LE(slot, 0x88)).toBe(250_000_000 * 4);
  });
});
