/**
 * mkfs: writes onto a pmem device the image that the spec's command
 *
 *     mkfs.ext4 -F -q -b 4096 -I 256 -T default -m 0 \
 *       -O none,has_journal,extent,filetype,sparse_super -E root_owner=0:0 IMAGE
 *
 * writes (e2fsprogs 1.47 on x86-64, with E2FSPROGS_FAKE_TIME, -U and -E hash_seed fixing
 * its clock and randomness), byte for byte in every metadata block: test/fs/mkfs.test.ts
 * compares the two images whole.
 *
 * That is the `minimal` profile, the default of `options.features`; `features: 'default'`
 * writes mkfs.ext4's default feature set instead (fs/mkfs-default.ts, laid out by
 * fs/geometry-flex.ts). Both go through the same writer (the order below), and
 * MKFS_EXT4_ARGS pins each profile's command for the tests.
 *
 * Owns the content of a new (minimal) file system: superblock and its sparse_super backups, group
 * descriptor tables, bitmaps (padding bits set), the reserved inodes 1 to 10 marked used,
 * the root directory (inode 2), lost+found (inode 11, 16 KiB) and the journal (inode 8, one
 * extent, a v2 journal superblock in its first block) with its copy in s_jnl_blocks.
 *
 * Invariants:
 * - deterministic: no clock and no entropy. Times come from `timeSeconds`; the UUID and the
 *   directory hash seed are drawn, in that order, from `Rng.fromSeed(seed).fork('mkfs')` and
 *   shaped like libuuid's random (version 4) UUIDs, as mkfs.ext4's are;
 * - every non-zero metadata block is written whole with memcpyFlushcache; a block that must
 *   read as zero (inode tables, the journal's log) is written only when the device holds, or
 *   may persist, something else there, so a fresh 1 GiB device stays sparse;
 * - write order: stale blocks zeroed (the old superblock first among them), barrier, every
 *   other metadata block, barrier, the primary superblock, barrier and flush hint; so
 *   everything is durable when mkfs returns, and a crash part way leaves no valid superblock;
 * - backup superblocks are written as ext2fs_flush writes them: VALID state bit and
 *   RECOVER cleared, s_block_group_nr set (see backupSuperblock).
 *
 * Differences from mkfs.ext4, on purpose: free data blocks keep whatever they held, while
 * mkfs.ext4 on an image file first discards (punches) the whole file and zeroes the last
 * 64 KiB of the device. ext4 never exposes a free block's old content (a DAX allocation
 * zeroes the block), so only the metadata has to match. s_flags is always 1 (signed
 * directory hash, what x86 builds of mkfs.ext4 write; arm64 builds write 2): without
 * dir_index the hash is never used.
 */
import { assert } from '../core/assert';
import { isAllZero } from '../core/bytes';
import { LINE_BYTES } from '../core/limits';
import { Rng } from '../core/rng';
import { StreamTree } from '../core/streams';
import type { PmemDevice } from '../device/device';
import { PmemApiName, pmemApi } from '../device/pmem-api';
import {
  BG_INODE_ZEROED, BLOCK_BYTES, BLOCKS_PER_GROUP, FIRST_INO, GROUP_DESC_BYTES, INODE_BYTES, Inode, JOURNAL_INO,
  LOST_FOUND_INO, ROOT_INO, S_IFDIR, S_IFREG, SUPERBLOCK_OFFSET, emptyInode, encodeGroupDesc, encodeInode,
  encodeSuperblock,
} from './format';
import { Geometry, LOST_FOUND_BLOCKS, computeGeometry } from './geometry';
import { FlexGeometry, computeFlexGeometry } from './geometry-flex';
import { buildDefaultImage } from './mkfs-default';
import {
  MkfsIdentity, MkfsImage, backupSuperblock, baseSuperblock, buildJournalSuperblock, countBits, dirBlock, setBit,
  specialInode,
} from './mkfs-parts';

export { DEFAULT_MOUNT_OPTS, EXTRA_ISIZE, backupSuperblock } from './mkfs-parts';
export type { MkfsIdentity, MkfsImage } from './mkfs-parts';

/** `minimal`: the spec's subset; `default`: mkfs.ext4's default features for 4 KiB blocks (fs/mkfs-default.ts). */
export type FeatureProfile = 'minimal' | 'default';

/**
 * The mkfs.ext4 arguments each profile's image equals, before `-U <uuid> -E hash_seed=<uuid>`
 * and the image path, run with E2FSPROGS_FAKE_TIME (test/fs/mkfs*.test.ts run exactly these).
 */
export const MKFS_EXT4_ARGS: Readonly<Record<FeatureProfile, readonly string[]>> = Object.freeze({
  minimal: Object.freeze([
    '-F', '-q', '-b', '4096', '-I', '256', '-T', 'default', '-m', '0',
    '-O', 'none,has_journal,extent,filetype,sparse_super', '-E', 'root_owner=0:0',
  ]),
  default: Object.freeze([
    '-F', '-q', '-b', '4096', '-I', '256', '-i', '16384', '-T', 'default', '-m', '0',
    '-O', 'none,has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,'
      + 'large_file,huge_file,dir_nlink,extra_isize,metadata_csum',
    '-E', 'root_owner=0:0,discard,lazy_itable_init=1',
  ]),
});

export interface MkfsOptions {
  /** 16 bytes; default: derived deterministically from `seed`. */
  uuid?: Uint8Array;
  /** 16 bytes: s_hash_seed; default: derived deterministically from `seed`. */
  hashSeed?: Uint8Array;
  /** Seeds the UUID and hash seed; default 0. */
  seed?: string | number;
  /** Creation time stamped on the superblock and the special inodes; default 0. */
  timeSeconds?: number;
  pmemApi?: PmemApiName;
  /** Default 'minimal' (mount reads only that profile so far). */
  features?: FeatureProfile;
}

export interface MkfsResult {
  geometry: Geometry;
  uuid: Uint8Array;
  hashSeed: Uint8Array;
}

export interface MkfsDefaultResult {
  geometry: FlexGeometry;
  uuid: Uint8Array;
  hashSeed: Uint8Array;
}

/** Blocks compared in one device load while looking for non-zero data. */
const ZERO_SCAN_CHUNK_BLOCKS = 256;
const UINT32_LIMIT = 2 ** 32;

export function mkfs(device: PmemDevice, options?: MkfsOptions & { features?: 'minimal' }): MkfsResult;
export function mkfs(device: PmemDevice, options: MkfsOptions & { features: 'default' }): MkfsDefaultResult;
export function mkfs(device: PmemDevice, options?: MkfsOptions): MkfsResult | MkfsDefaultResult;
export function mkfs(device: PmemDevice, options: MkfsOptions = {}): MkfsResult | MkfsDefaultResult {
  const features = options.features ?? 'minimal';
  if (features !== 'minimal' && features !== 'default') {
    throw new RangeError(`mkfs features '${String(features)}': expected 'minimal' or 'default'`);
  }
  const identity = mkfsIdentity(options);
  const api = pmemApi(options.pmemApi ?? (device.profile.isa === 'x86' ? 'linux-x86' : 'linux-arm64'), device);
  if (features === 'default') {
    const geometry = computeFlexGeometry(device.sizeBytes);
    writeMkfsImage(device, api, buildDefaultImage(geometry, identity));
    return { geometry, uuid: identity.uuid, hashSeed: identity.hashSeed };
  }
  const geometry = computeGeometry(device.sizeBytes);
  writeMkfsImage(device, api, buildMkfsImage(geometry, identity));
  return { geometry, uuid: identity.uuid, hashSeed: identity.hashSeed };
}

function writeMkfsImage(device: PmemDevice, api: ReturnType<typeof pmemApi>, image: MkfsImage): void {
  const write = (block: number, bytes: Uint8Array): void => api.memcpyFlushcache(block * BLOCK_BYTES, bytes);
  // Like mke2fs (which zaps the old superblock's sectors first and ext2fs_flush, which
  // writes the primary superblock last), a power failure part way never leaves a
  // superblock, old or new, in front of half-written metadata.
  const stale = blocksToZero(device, [{ first: 0, count: 1 }, ...image.zeroRanges]);
  const zeroBlock = new Uint8Array(BLOCK_BYTES);
  for (const block of stale) write(block, zeroBlock);
  if (stale.length > 0) api.pmemWmb();
  const primary = image.blocks.get(0);
  assert(primary !== undefined, 'block 0 holds the primary superblock');
  for (const block of [...image.blocks.keys()].sort((a, b) => a - b)) {
    if (block !== 0) write(block, image.blocks.get(block) as Uint8Array);
  }
  api.pmemWmb();
  write(0, primary);
  api.pmemWmb();
  api.nvdimmFlush();
}

/** The UUID, hash seed and time mkfs will use for these options. */
export function mkfsIdentity(options: MkfsOptions): MkfsIdentity {
  const timeSeconds = options.timeSeconds ?? 0;
  if (!Number.isInteger(timeSeconds) || timeSeconds < 0 || timeSeconds >= UINT32_LIMIT) {
    throw new RangeError(`timeSeconds ${timeSeconds} must be an integer in [0, 2^32)`);
  }
  // Both ids are always drawn, so a given uuid does not shift the hash seed.
  const rng = StreamTree.of(options.seed ?? 0).mkfs();
  const drawnUuid = randomUuid(rng);
  const drawnHashSeed = randomUuid(rng);
  return {
    uuid: checkedId(options.uuid, 'uuid') ?? drawnUuid,
    hashSeed: checkedId(options.hashSeed, 'hashSeed') ?? drawnHashSeed,
    timeSeconds,
  };
}

/** Pure: the content of a new file system of this geometry. */
export function buildMkfsImage(geometry: Geometry, identity: MkfsIdentity): MkfsImage {
  const blocks = new Map<number, Uint8Array>();
  const journalInode = specialInode(S_IFREG | 0o600, [{ start: geometry.journalFirstBlock, len: geometry.journalBlocks }], 1, identity);
  const bitmaps = buildBitmaps(geometry);
  const gdt = buildGdt(geometry, bitmaps.free);
  const sb = baseSuperblock({
    inodesCount: geometry.inodesCount,
    blocksCount: geometry.blocksCount,
    inodesPerGroup: geometry.inodesPerGroup,
    freeBlocks: bitmaps.free.reduce((n, f) => n + f.blocks, 0),
    freeInodes: bitmaps.free.reduce((n, f) => n + f.inodes, 0),
    overheadBlocks: geometry.overheadBlocks,
  }, identity, journalInode);
  for (const layout of geometry.groupLayouts) {
    if (!layout.hasSuper) continue;
    const block = new Uint8Array(BLOCK_BYTES);
    encodeSuperblock(layout.group === 0 ? sb : backupSuperblock(sb, layout.group), block, layout.group === 0 ? SUPERBLOCK_OFFSET : 0);
    blocks.set(layout.firstBlock, block);
    gdt.forEach((gdtBlock, i) => blocks.set(layout.firstBlock + 1 + i, gdtBlock.slice()));
  }
  geometry.groupLayouts.forEach((layout, g) => {
    blocks.set(layout.blockBitmap, bitmaps.block[g] as Uint8Array);
    blocks.set(layout.inodeBitmap, bitmaps.inode[g] as Uint8Array);
  });
  const group0 = geometry.groupLayouts[0];
  assert(group0 !== undefined, 'a file system has a group 0');
  blocks.set(group0.inodeTable, buildFirstInodeTableBlock(geometry, identity, journalInode));
  blocks.set(geometry.rootDirBlock, dirBlock([[ROOT_INO, '.'], [ROOT_INO, '..'], [LOST_FOUND_INO, 'lost+found']]));
  blocks.set(geometry.lostFoundFirstBlock, dirBlock([[LOST_FOUND_INO, '.'], [ROOT_INO, '..']]));
  for (let i = 1; i < LOST_FOUND_BLOCKS; i++) blocks.set(geometry.lostFoundFirstBlock + i, dirBlock([]));
  blocks.set(geometry.journalFirstBlock, buildJournalSuperblock(geometry.journalBlocks, identity));
  const zeroRanges = geometry.groupLayouts.map((layout) => {
    const skip = layout.group === 0 ? 1 : 0;
    return { first: layout.inodeTable + skip, count: layout.inodeTableBlocks - skip };
  });
  zeroRanges.push({ first: geometry.journalFirstBlock + 1, count: geometry.journalBlocks - 1 });
  return { blocks, zeroRanges };
}

// ------------------------------------------------------------------------ metadata blocks

interface Bitmaps {
  block: Uint8Array[];
  inode: Uint8Array[];
  free: Array<{ blocks: number; inodes: number; dirs: number }>;
}

// Free counts are taken from the bitmaps once they are built, so descriptors, superblock
// and bitmaps cannot disagree.
function buildBitmaps(geometry: Geometry): Bitmaps {
  const out: Bitmaps = { block: [], inode: [], free: [] };
  const journalEnd = geometry.journalFirstBlock + geometry.journalBlocks;
  const dirsEnd = geometry.lostFoundFirstBlock + LOST_FOUND_BLOCKS;
  for (const layout of geometry.groupLayouts) {
    const blockBits = new Uint8Array(BLOCK_BYTES);
    const used = (first: number, end: number): void => {
      const from = Math.max(first, layout.firstBlock);
      const to = Math.min(end, layout.firstBlock + layout.blocks);
      for (let b = from; b < to; b++) setBit(blockBits, b - layout.firstBlock);
    };
    used(layout.firstBlock, layout.firstFreeBlock);
    used(geometry.rootDirBlock, dirsEnd);
    used(geometry.journalFirstBlock, journalEnd);
    const usedBlocks = countBits(blockBits);
    for (let bit = layout.blocks; bit < BLOCKS_PER_GROUP; bit++) setBit(blockBits, bit);
    const inodeBits = new Uint8Array(BLOCK_BYTES);
    const reserved = layout.group === 0 ? FIRST_INO : 0;
    for (let bit = 0; bit < reserved; bit++) setBit(inodeBits, bit);
    for (let bit = geometry.inodesPerGroup; bit < 8 * BLOCK_BYTES; bit++) setBit(inodeBits, bit);
    out.block.push(blockBits);
    out.inode.push(inodeBits);
    out.free.push({
      blocks: layout.blocks - usedBlocks,
      inodes: geometry.inodesPerGroup - reserved,
      dirs: layout.group === 0 ? 2 : 0,
    });
  }
  return out;
}

function buildGdt(geometry: Geometry, free: Bitmaps['free']): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < geometry.gdtBlocks; i++) blocks.push(new Uint8Array(BLOCK_BYTES));
  geometry.groupLayouts.forEach((layout, g) => {
    const at = g * GROUP_DESC_BYTES;
    const counts = free[g] as Bitmaps['free'][number];
    encodeGroupDesc({
      blockBitmap: layout.blockBitmap,
      inodeBitmap: layout.inodeBitmap,
      inodeTable: layout.inodeTable,
      freeBlocksCount: counts.blocks,
      freeInodesCount: counts.inodes,
      usedDirsCount: counts.dirs,
      flags: BG_INODE_ZEROED,
    }, blocks[Math.floor(at / BLOCK_BYTES)] as Uint8Array, at % BLOCK_BYTES);
  });
  return blocks;
}

// Inodes 1 to 16 share the first table block: 1 (bad blocks: only its times), 2 (root),
// 8 (journal) and 11 (lost+found); 3 to 7, 9 and 10 stay zero.
function buildFirstInodeTableBlock(geometry: Geometry, id: MkfsIdentity, journalInode: Inode): Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  const badBlocks = emptyInode();
  badBlocks.atime = badBlocks.ctime = badBlocks.mtime = id.timeSeconds;
  const root = specialInode(S_IFDIR | 0o755, [{ start: geometry.rootDirBlock, len: 1 }], 3, id);
  const lostFound = specialInode(S_IFDIR | 0o700, [{ start: geometry.lostFoundFirstBlock, len: LOST_FOUND_BLOCKS }], 2, id);
  const inodes: Array<[number, Inode]> = [[1, badBlocks], [ROOT_INO, root], [JOURNAL_INO, journalInode], [LOST_FOUND_INO, lostFound]];
  for (const [ino, inode] of inodes) encodeInode(inode, block, (ino - 1) * INODE_BYTES);
  return block;
}

// ------------------------------------------------------------------------------ helpers

/**
 * Blocks of `ranges` that the device may not read as zero after a power failure: those
 * holding non-zero coherent data, and those with a line whose persisted value is uncertain
 * (a store of zeros not yet flushed would leave the old bytes on the media).
 */
function blocksToZero(device: PmemDevice, ranges: MkfsImage['zeroRanges']): number[] {
  const uncertain = new Set<number>();
  for (const track of device.lines.values()) uncertain.add(Math.floor((track.lineIndex * LINE_BYTES) / BLOCK_BYTES));
  const out: number[] = [];
  for (const range of ranges) {
    for (let first = range.first; first < range.first + range.count; first += ZERO_SCAN_CHUNK_BLOCKS) {
      const count = Math.min(ZERO_SCAN_CHUNK_BLOCKS, range.first + range.count - first);
      const bytes = device.load(first * BLOCK_BYTES, count * BLOCK_BYTES);
      if (isAllZero(bytes) && !hasAny(uncertain, first, count)) continue;
      for (let i = 0; i < count; i++) {
        const blockBytes = bytes.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
        if (!isAllZero(blockBytes) || uncertain.has(first + i)) out.push(first + i);
      }
    }
  }
  return out;
}

function hasAny(set: ReadonlySet<number>, first: number, count: number): boolean {
  if (set.size === 0) return false;
  for (let b = first; b < first + count; b++) if (set.has(b)) return true;
  return false;
}

// libuuid's uuid_generate (random): 16 random bytes, then version 4 and the RFC 4122 variant.
function randomUuid(rng: Rng): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const word = rng.uint32();
    bytes[i] = word >>> 24;
    bytes[i + 1] = (word >>> 16) & 0xff;
    bytes[i + 2] = (word >>> 8) & 0xff;
    bytes[i + 3] = word & 0xff;
  }
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  return bytes;
}

function checkedId(value: Uint8Array | undefined, what: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Uint8Array) || value.length !== 16) {
    throw new RangeError(`mkfs ${what} must be 16 bytes, got ${value instanceof Uint8Array ? value.length : typeof value}`);
  }
  return value.slice();
}
