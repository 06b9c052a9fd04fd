/**
 * The on-disk format of the ext4 subset and its jbd2 journal: constants and byte codecs.
 *
 * Owns the field offsets of every structure the file system reads or writes (superblock,
 * group descriptor, inode, extent node, directory entry, journal superblock) and the checks
 * that decide whether decoded bytes are acceptable. Layout facts: spec/ext4-subset.md and
 * reference/ext4-jbd2-fields.md (e2fsprogs' ext2_fs.h, ext3_extents.h and kernel-jbd.h).
 *
 * Invariants:
 * - every decode/encode pair round-trips: encode(decode(x)) rewrites x's known fields with
 *   the same values, decode(encode(v)) equals v for every value the encoder accepts;
 * - ext4 fields are little-endian, jbd2 fields big-endian; nothing else in fs/ touches
 *   offsets, so a wrong offset is wrong in exactly one place;
 * - encoding a value that does not fit its field is a bug (AssertionFailure from the byte
 *   codecs or from here), while bytes that fail a check are a CorruptionError naming the
 *   structure, where it lives and what is wrong, so a corrupt image never becomes a crash
 *   of the tool reading it.
 *
 * Not checked here: anything needing more than one structure (bitmaps against inodes,
 * extent trees against the device), and the feature-bit policy, which is mount's.
 */
import { assert } from '../core/assert';
import {
  readU16BE, readU16LE, readU32BE, readU32LE, readU64LE, readU8, writeU16BE, writeU16LE, writeU32BE,
  writeU32LE, writeU64LE, writeU8,
} from '../core/bytes';
import { CorruptionError } from '../core/errors';

// ------------------------------------------------------------------------------- geometry

export const BLOCK_BYTES = 4096;
export const INODE_BYTES = 256;
export const BLOCKS_PER_GROUP = 32768;
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_BYTES = 1024;
export const EXT4_MAGIC = 0xef53;
export const GROUP_DESC_BYTES = 32;
/** s_log_block_size: the block size is 1024 << this. */
export const LOG_BLOCK_SIZE = 2;

export const ROOT_INO = 2;
export const JOURNAL_INO = 8;
export const LOST_FOUND_INO = 11;
export const FIRST_INO = 11;

// ------------------------------------------------------------------------------- features

export const COMPAT_HAS_JOURNAL = 0x4;
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_RECOVER = 0x4;
export const INCOMPAT_EXTENTS = 0x40;
export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_LARGE_FILE = 0x2;
/** Features of mkfs.ext4's default profile beyond the subset (fs/mkfs-default.ts writes them; a read-only mount reads them, fs/read-profile.ts). */
export const COMPAT_EXT_ATTR = 0x8;
export const COMPAT_RESIZE_INODE = 0x10;
export const COMPAT_DIR_INDEX = 0x20;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_FLEX_BG = 0x200;
export const RO_COMPAT_HUGE_FILE = 0x8;
export const RO_COMPAT_DIR_NLINK = 0x20;
export const RO_COMPAT_EXTRA_ISIZE = 0x40;
export const RO_COMPAT_METADATA_CSUM = 0x400;
export const KNOWN_INCOMPAT = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_EXTENTS;
export const KNOWN_RO_COMPAT = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;
/** What a mount reads beyond the subset: mkfs.ext4's default profile (docs/fs.md); a writable mount writes it too. */
export const READ_ONLY_INCOMPAT = KNOWN_INCOMPAT | INCOMPAT_64BIT | INCOMPAT_FLEX_BG;
export const READ_ONLY_RO_COMPAT = KNOWN_RO_COMPAT | RO_COMPAT_HUGE_FILE | RO_COMPAT_DIR_NLINK | RO_COMPAT_EXTRA_ISIZE
  | RO_COMPAT_METADATA_CSUM;
/** The ro_compat features a writable mount writes: the subset's and the default profile's (others mount read-only). */
export const WRITABLE_RO_COMPAT = READ_ONLY_RO_COMPAT;
/** Inode flag of huge_file: i_blocks counts file-system blocks, not 512-byte sectors. */
export const HUGE_FILE_FL = 0x40000;

/** Inode flags. */
export const EXTENTS_FL = 0x80000;
/** i_flags outside what the subset writes, which the kernel's iget and e2fsck read (ext4.h). */
export const IMMUTABLE_FL = 0x10;
export const APPEND_FL = 0x20;
export const INDEX_FL = 0x1000;
export const IMAGIC_FL = 0x2000;
export const EA_INODE_FL = 0x200000;
export const INLINE_DATA_FL = 0x10000000;
export const CASEFOLD_FL = 0x40000000;
export const DAX_FL = 0x02000000;
/** bg_flags: the inode table is zeroed (mkfs sets it on every group; ignored without csum). */
export const BG_INODE_ZEROED = 0x4;

// ------------------------------------------------------------------- modes and file types

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const FT_UNKNOWN = 0;
export const FT_REG_FILE = 1;
export const FT_DIR = 2;
export const FT_CHRDEV = 3;
export const FT_BLKDEV = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;

/** The directory-entry file type e2fsck expects for an inode of this mode (FT_UNKNOWN if none). */
export function fileTypeOfMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return FT_REG_FILE;
    case S_IFDIR: return FT_DIR;
    case S_IFCHR: return FT_CHRDEV;
    case S_IFBLK: return FT_BLKDEV;
    case S_IFIFO: return FT_FIFO;
    case S_IFSOCK: return FT_SOCK;
    case S_IFLNK: return FT_SYMLINK;
    default: return FT_UNKNOWN;
  }
}

// ----------------------------------------------------------------------------- superblock

export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  rBlocksCount: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  firstDataBlock: number;
  logBlockSize: number;
  logClusterSize: number;
  blocksPerGroup: number;
  clustersPerGroup: number;
  inodesPerGroup: number;
  mtime: number;
  wtime: number;
  mntCount: number;
  /** A u16: mkfs writes 0xffff (-1, "no limit"). */
  maxMntCount: number;
  magic: number;
  state: number;
  errors: number;
  minorRevLevel: number;
  lastcheck: number;
  checkinterval: number;
  creatorOs: number;
  revLevel: number;
  defResuid: number;
  defResgid: number;
  firstIno: number;
  inodeSize: number;
  blockGroupNr: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  /** 16 bytes. */
  uuid: Uint8Array;
  /** 16 bytes, NUL-padded. */
  volumeName: Uint8Array;
  /** 64 bytes: the directory where the file system was last mounted (the kernel writes it). */
  lastMounted: Uint8Array;
  /** 0 without resize_inode. */
  reservedGdtBlocks: number;
  /** 16 bytes; zero for an internal journal. */
  journalUuid: Uint8Array;
  journalInum: number;
  journalDev: number;
  lastOrphan: number;
  /** 16 bytes. */
  hashSeed: Uint8Array;
  defHashVersion: number;
  jnlBackupType: number;
  /** 0 without the 64bit feature (descriptors are then 32 bytes). */
  descSize: number;
  defaultMountOpts: number;
  firstMetaBg: number;
  mkfsTime: number;
  /** 17 words: the journal inode's i_block[0..14], i_size_high, i_size. */
  jnlBlocks: number[];
  minExtraIsize: number;
  wantExtraIsize: number;
  flags: number;
  kbytesWritten: bigint;
  /** s_log_groups_per_flex: log2 of the groups a flex group packs (0 without flex_bg). */
  logGroupsPerFlex: number;
  /** s_checksum_type: 1 (crc32c) with metadata_csum, else 0. */
  checksumType: number;
  /** Blocks of group metadata and journal (mkfs.ext4 counts them; the kernel may rewrite it). */
  overheadClusters: number;
}

type NumberKey<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];
type BytesKey<T> = { [K in keyof T]: T[K] extends Uint8Array ? K : never }[keyof T];
type FieldWidth = 1 | 2 | 4;

const SB_NUMBER_FIELDS: ReadonlyArray<readonly [NumberKey<Superblock>, number, FieldWidth]> = [
  ['inodesCount', 0x00, 4], ['blocksCount', 0x04, 4], ['rBlocksCount', 0x08, 4],
  ['freeBlocksCount', 0x0c, 4], ['freeInodesCount', 0x10, 4], ['firstDataBlock', 0x14, 4],
  ['logBlockSize', 0x18, 4], ['logClusterSize', 0x1c, 4], ['blocksPerGroup', 0x20, 4],
  ['clustersPerGroup', 0x24, 4], ['inodesPerGroup', 0x28, 4], ['mtime', 0x2c, 4], ['wtime', 0x30, 4],
  ['mntCount', 0x34, 2], ['maxMntCount', 0x36, 2], ['magic', 0x38, 2], ['state', 0x3a, 2],
  ['errors', 0x3c, 2], ['minorRevLevel', 0x3e, 2], ['lastcheck', 0x40, 4], ['checkinterval', 0x44, 4],
  ['creatorOs', 0x48, 4], ['revLevel', 0x4c, 4], ['defResuid', 0x50, 2], ['defResgid', 0x52, 2],
  ['firstIno', 0x54, 4], ['inodeSize', 0x58, 2], ['blockGroupNr', 0x5a, 2], ['featureCompat', 0x5c, 4],
  ['featureIncompat', 0x60, 4], ['featureRoCompat', 0x64, 4], ['reservedGdtBlocks', 0xce, 2],
  ['journalInum', 0xe0, 4], ['journalDev', 0xe4, 4], ['lastOrphan', 0xe8, 4], ['defHashVersion', 0xfc, 1],
  ['jnlBackupType', 0xfd, 1], ['descSize', 0xfe, 2], ['defaultMountOpts', 0x100, 4], ['firstMetaBg', 0x104, 4],
  ['mkfsTime', 0x108, 4], ['minExtraIsize', 0x15c, 2], ['wantExtraIsize', 0x15e, 2], ['flags', 0x160, 4],
  ['logGroupsPerFlex', 0x174, 1], ['checksumType', 0x175, 1], ['overheadClusters', 0x248, 4],
];

const SB_BYTES_FIELDS: ReadonlyArray<readonly [BytesKey<Superblock>, number, number]> = [
  ['uuid', 0x68, 16], ['volumeName', 0x78, 16], ['lastMounted', 0x88, 64], ['journalUuid', 0xd0, 16],
  ['hashSeed', 0xec, 16],
];

/** Byte offsets inside the superblock of the fields validation names. */
export const SB_OFFSET = Object.freeze({
  inodesCount: 0x00, blocksCount: 0x04, rBlocksCount: 0x08, freeBlocksCount: 0x0c, freeInodesCount: 0x10,
  firstDataBlock: 0x14, logBlockSize: 0x18, logClusterSize: 0x1c, blocksPerGroup: 0x20,
  clustersPerGroup: 0x24, inodesPerGroup: 0x28, magic: 0x38, revLevel: 0x4c, firstIno: 0x54,
  inodeSize: 0x58, blockGroupNr: 0x5a, journalInum: 0xe0, jnlBlocks: 0x10c, kbytesWritten: 0x178,
  overheadClusters: 0x248,
});

export const JNL_BLOCKS_WORDS = 17;
const SB_JNL_BLOCKS = 0x10c;
const SB_KBYTES_WRITTEN = 0x178;

/** Decodes bytes[offset .. offset + 1024) (pass 1024 for a buffer holding block 0). */
export function decodeSuperblock(bytes: Uint8Array, offset = 0): Superblock {
  assert(offset >= 0 && offset + SUPERBLOCK_BYTES <= bytes.length,
    () => `superblock at ${offset} does not fit a buffer of ${bytes.length} bytes`);
  const sb = {} as Record<string, unknown>;
  for (const [key, at, width] of SB_NUMBER_FIELDS) sb[key] = readUnsignedLE(bytes, offset + at, width);
  for (const [key, at, length] of SB_BYTES_FIELDS) sb[key] = bytes.slice(offset + at, offset + at + length);
  const jnlBlocks: number[] = [];
  for (let i = 0; i < JNL_BLOCKS_WORDS; i++) jnlBlocks.push(readU32LE(bytes, offset + SB_JNL_BLOCKS + 4 * i));
  sb.jnlBlocks = jnlBlocks;
  sb.kbytesWritten = readU64LE(bytes, offset + SB_KBYTES_WRITTEN);
  return sb as unknown as Superblock;
}

/** Writes every field of `sb` at out[offset ..]; bytes of fields it does not model stay. */
export function encodeSuperblock(sb: Superblock, out: Uint8Array, offset = 0): void {
  assert(offset >= 0 && offset + SUPERBLOCK_BYTES <= out.length,
    () => `superblock at ${offset} does not fit a buffer of ${out.length} bytes`);
  for (const [key, at, width] of SB_NUMBER_FIELDS) writeUnsignedLE(out, offset + at, width, sb[key]);
  for (const [key, at, length] of SB_BYTES_FIELDS) {
    const value = sb[key];
    assert(value.length === length, () => `superblock ${key} must be ${length} bytes, got ${value.length}`);
    out.set(value, offset + at);
  }
  assert(sb.jnlBlocks.length === JNL_BLOCKS_WORDS,
    () => `superblock jnlBlocks must hold ${JNL_BLOCKS_WORDS} words, got ${sb.jnlBlocks.length}`);
  sb.jnlBlocks.forEach((word, i) => writeU32LE(out, offset + SB_JNL_BLOCKS + 4 * i, word));
  writeU64LE(out, offset + SB_KBYTES_WRITTEN, sb.kbytesWritten);
}

/** ext4's incompat feature names (ext2_fs.h), for saying what is unsupported. */
const INCOMPAT_NAMES: ReadonlyArray<readonly [number, string]> = [
  [0x1, 'compression'], [0x2, 'filetype'], [0x4, 'needs_recovery'], [0x8, 'journal_dev'], [0x10, 'meta_bg'],
  [0x40, 'extent'], [0x80, '64bit'], [0x100, 'mmp'], [0x200, 'flex_bg'], [0x400, 'ea_inode'], [0x1000, 'dirdata'],
  [0x2000, 'metadata_csum_seed'], [0x4000, 'large_dir'], [0x8000, 'inline_data'], [0x10000, 'encrypt'], [0x20000, 'casefold'],
];
const RO_COMPAT_BIGALLOC = 0x200;
const RO_COMPAT_NAMES: ReadonlyArray<readonly [number, string]> = [
  [0x1, 'sparse_super'], [0x2, 'large_file'], [0x8, 'huge_file'], [0x10, 'gdt_csum'], [0x20, 'dir_nlink'],
  [0x40, 'extra_isize'], [0x100, 'quota'], [0x200, 'bigalloc'], [0x400, 'metadata_csum'], [0x1000, 'read-only'],
  [0x2000, 'project'], [0x8000, 'verity'], [0x10000, 'orphan_present'],
];
const COMPAT_NAMES: ReadonlyArray<readonly [number, string]> = [
  [0x1, 'dir_prealloc'], [0x2, 'imagic_inodes'], [0x4, 'has_journal'], [0x8, 'ext_attr'], [0x10, 'resize_inode'],
  [0x20, 'dir_index'], [0x200, 'sparse_super2'], [0x400, 'fast_commit'], [0x1000, 'orphan_file'],
];
/** The compat features the subset has (others are ignored by a mount, but named when it refuses). */
const KNOWN_COMPAT = COMPAT_HAS_JOURNAL;

/** The size of a group descriptor: s_desc_size with 64bit, else 32 bytes. */
export function groupDescBytes(sb: Superblock): number {
  return (sb.featureIncompat & INCOMPAT_64BIT) !== 0 ? sb.descSize : GROUP_DESC_BYTES;
}

/** The ro_compat and compat features outside the subset, in words, or '' (said alongside a refusal). */
function otherFeatures(sb: Superblock): string {
  const roCompat = sb.featureRoCompat & ~KNOWN_RO_COMPAT;
  const compat = sb.featureCompat & ~KNOWN_COMPAT;
  const parts = [
    ...(roCompat !== 0 ? [`ro_compat ${featureNames(roCompat, RO_COMPAT_NAMES)} (0x${roCompat.toString(16)})`] : []),
    ...(compat !== 0 ? [`compat ${featureNames(compat, COMPAT_NAMES)} (0x${compat.toString(16)})`] : []),
  ];
  return parts.length === 0 ? '' : `; also outside the subset: ${parts.join('; ')}`;
}

function featureNames(bits: number, names: ReadonlyArray<readonly [number, string]>): string {
  const known = names.filter(([bit]) => (bits & bit) !== 0).map(([, name]) => name);
  const rest = names.reduce((left, [bit]) => left & ~bit, bits) >>> 0;
  return [...known, ...(rest !== 0 ? [`unknown 0x${rest.toString(16)}`] : [])].join(', ');
}

/**
 * What of a superblock (whose magic is ext4's) daxcrash cannot read, in words, or undefined:
 * incompat features outside mkfs.ext4's default profile, bigalloc, and the geometry both
 * profiles fix (revision 1, 4 KiB blocks, 256-byte inodes, 32768 blocks a group, first inode
 * 11, 64-byte descriptors with 64bit, crc32c checksums); and, unless `readOnly`, the
 * combinations of the default profile's features that writes do not handle (named as the
 * writes not supported).
 * Valid ext4 of another shape is unsupported, not corrupt: the mount answers ENOTSUP naming
 * it. Checked before `validateSuperblock`, which assumes that geometry.
 */
export function unsupportedBy(sb: Superblock, options: { readOnly?: boolean } = {}): string | undefined {
  const incompat = sb.featureIncompat & ~KNOWN_INCOMPAT;
  if ((sb.featureIncompat & ~READ_ONLY_INCOMPAT) !== 0) return `incompat features ${featureNames(incompat, INCOMPAT_NAMES)} (0x${incompat.toString(16)})${otherFeatures(sb)}`;
  if ((sb.featureRoCompat & RO_COMPAT_BIGALLOC) !== 0) return 'bigalloc (ro_compat 0x200)';
  if (sb.revLevel !== 1) return `revision ${sb.revLevel} (only 1, dynamic, is read)`;
  if (sb.logBlockSize !== LOG_BLOCK_SIZE) return `${blockSizeOf(sb.logBlockSize)}-byte blocks (only ${BLOCK_BYTES})`;
  if (sb.inodeSize !== INODE_BYTES) return `${sb.inodeSize}-byte inodes (only ${INODE_BYTES})`;
  if (sb.blocksPerGroup !== BLOCKS_PER_GROUP) return `${sb.blocksPerGroup} blocks per group (only ${BLOCKS_PER_GROUP})`;
  if (sb.firstIno !== FIRST_INO) return `first inode ${sb.firstIno} (only ${FIRST_INO})`;
  if ((sb.featureIncompat & INCOMPAT_64BIT) !== 0 && sb.descSize !== GROUP_DESC_64_BYTES) return `${sb.descSize}-byte group descriptors (only ${GROUP_DESC_64_BYTES} with 64bit)`;
  if ((sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0 && sb.checksumType !== 1) return `checksum type ${sb.checksumType} (only 1, crc32c)`;
  return options.readOnly === true ? undefined : writesUnsupported(sb);
}

/**
 * Of an image a mount reads (the default profile's features, no other incompat), what a
 * writable mount would have to write and cannot, in words; undefined for the subset and for
 * the default profile. Group descriptors are written as 32 bytes without checksums (the
 * subset) or as 64 bytes with metadata_csum's (the default profile): 64bit without
 * metadata_csum, or metadata_csum without 64bit, is neither.
 */
function writesUnsupported(sb: Superblock): string | undefined {
  const wide = (sb.featureIncompat & INCOMPAT_64BIT) !== 0;
  const csum = (sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0;
  if (wide === csum) return undefined;
  const which = wide ? 'writes of 64bit group descriptors without metadata_csum' : 'writes of metadata_csum with 32-byte group descriptors (no 64bit)';
  return `${which}; mount read-only to read this file system`;
}

/**
 * Throws CorruptionError unless `sb` describes a file system of the subset's geometry that
 * fits a device of `deviceBytes`. Feature bits are mount's business, not checked here;
 * `unsupportedBy` says first what of another shape cannot be read.
 */
export function validateSuperblock(sb: Superblock, deviceBytes: number): void {
  const fail = (field: keyof typeof SB_OFFSET, what: string): never => {
    throw new CorruptionError({
      structure: 'superblock',
      where: `byte ${SUPERBLOCK_OFFSET} + 0x${SB_OFFSET[field].toString(16)}`,
      what: `s_${snake(field)}: ${what}`,
    });
  };
  if (sb.magic !== EXT4_MAGIC) fail('magic', `bad magic ${hex(sb.magic)}, expected ${hex(EXT4_MAGIC)}`);
  if (sb.revLevel !== 1) fail('revLevel', `revision ${sb.revLevel}, expected 1 (dynamic)`);
  if (sb.logBlockSize !== LOG_BLOCK_SIZE) {
    fail('logBlockSize', `block size ${blockSizeOf(sb.logBlockSize)}, expected ${BLOCK_BYTES}`);
  }
  if (sb.logClusterSize !== sb.logBlockSize) {
    fail('logClusterSize', `cluster size ${blockSizeOf(sb.logClusterSize)} differs from the block size (no bigalloc)`);
  }
  if (sb.blocksPerGroup !== BLOCKS_PER_GROUP) fail('blocksPerGroup', `${sb.blocksPerGroup}, expected ${BLOCKS_PER_GROUP}`);
  if (sb.clustersPerGroup !== sb.blocksPerGroup) {
    fail('clustersPerGroup', `${sb.clustersPerGroup} differs from blocks per group ${sb.blocksPerGroup}`);
  }
  if (sb.firstDataBlock !== 0) fail('firstDataBlock', `${sb.firstDataBlock}, expected 0 for ${BLOCK_BYTES}-byte blocks`);
  if (sb.inodeSize !== INODE_BYTES) fail('inodeSize', `${sb.inodeSize}, expected ${INODE_BYTES}`);
  if (sb.firstIno !== FIRST_INO) fail('firstIno', `${sb.firstIno}, expected ${FIRST_INO}`);
  const deviceBlocks = Math.floor(deviceBytes / BLOCK_BYTES);
  if (sb.blocksCount === 0) fail('blocksCount', 'zero blocks');
  if (sb.blocksCount > deviceBlocks) {
    fail('blocksCount', `${sb.blocksCount} blocks exceed the device's ${deviceBlocks} (${deviceBytes} bytes)`);
  }
  const ipg = sb.inodesPerGroup;
  if (ipg < 16 || ipg > 8 * BLOCK_BYTES || ipg % 16 !== 0) {
    fail('inodesPerGroup', `${ipg}, expected a multiple of 16 in [16, ${8 * BLOCK_BYTES}]`);
  }
  const groups = Math.ceil(sb.blocksCount / sb.blocksPerGroup);
  const gdtBlocks = Math.ceil((groups * groupDescBytes(sb)) / BLOCK_BYTES);
  if (1 + gdtBlocks >= sb.blocksCount) {
    fail('blocksCount', `${sb.blocksCount} blocks cannot hold the superblock, a ${gdtBlocks}-block descriptor table and anything past them`);
  }
  if (sb.inodesCount !== ipg * groups) {
    fail('inodesCount', `${sb.inodesCount}, expected inodes per group ${ipg} x ${groups} groups = ${ipg * groups}`);
  }
  if (sb.rBlocksCount > sb.blocksCount) fail('rBlocksCount', `${sb.rBlocksCount} exceeds the ${sb.blocksCount} blocks`);
  // The free counts are advisory: the kernel recomputes them from the group descriptors at
  // mount and e2fsck only rewrites them, so a count past the total is no reason to refuse.
  if ((sb.featureCompat & COMPAT_HAS_JOURNAL) !== 0 && sb.journalInum !== JOURNAL_INO) {
    fail('journalInum', `journal inode ${sb.journalInum}, expected ${JOURNAL_INO}`);
  }
}

// ------------------------------------------------------------------------ group descriptor

export interface GroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  usedDirsCount: number;
  flags: number;
}

/** A descriptor of `descBytes` (32, or 64 with 64bit: the high halves of block numbers and counts join the low ones). */
export function decodeGroupDesc(bytes: Uint8Array, offset: number, descBytes = GROUP_DESC_BYTES): GroupDesc {
  const wide = descBytes >= GROUP_DESC_64_BYTES;
  const hi32 = (at: number): number => (wide ? readU32LE(bytes, offset + at) * TWO_POW_32 : 0);
  const hi16 = (at: number): number => (wide ? readU16LE(bytes, offset + at) * TWO_POW_16 : 0);
  return {
    blockBitmap: readU32LE(bytes, offset) + hi32(0x20),
    inodeBitmap: readU32LE(bytes, offset + 0x4) + hi32(0x24),
    inodeTable: readU32LE(bytes, offset + 0x8) + hi32(0x28),
    freeBlocksCount: readU16LE(bytes, offset + 0xc) + hi16(0x2c),
    freeInodesCount: readU16LE(bytes, offset + 0xe) + hi16(0x2e),
    usedDirsCount: readU16LE(bytes, offset + 0x10) + hi16(0x30),
    flags: readU16LE(bytes, offset + 0x12),
  };
}

/** Writes the whole 32-byte descriptor; the checksum and exclude-bitmap fields are zero. */
export function encodeGroupDesc(gd: GroupDesc, out: Uint8Array, offset: number): void {
  assert(offset >= 0 && offset + GROUP_DESC_BYTES <= out.length, () => `group descriptor at ${offset} is outside the buffer`);
  out.fill(0, offset, offset + GROUP_DESC_BYTES);
  writeU32LE(out, offset, gd.blockBitmap);
  writeU32LE(out, offset + 0x4, gd.inodeBitmap);
  writeU32LE(out, offset + 0x8, gd.inodeTable);
  writeU16LE(out, offset + 0xc, gd.freeBlocksCount);
  writeU16LE(out, offset + 0xe, gd.freeInodesCount);
  writeU16LE(out, offset + 0x10, gd.usedDirsCount);
  writeU16LE(out, offset + 0x12, gd.flags);
}

/**
 * A 64-byte descriptor (64bit) with the fields group-descriptor checksums bring (gdt_csum
 * style flags and itable_unused, metadata_csum's bitmap checksums); its bg_checksum is left
 * zero here, for the caller to compute over these bytes (fs/csum.ts).
 */
export interface GroupDesc64 extends GroupDesc {
  /** 32 bits: lo at 0x18, hi at 0x38. */
  blockBitmapCsum: number;
  /** 32 bits: lo at 0x1a, hi at 0x3a. */
  inodeBitmapCsum: number;
  itableUnused: number;
}

export const GROUP_DESC_64_BYTES = 64;
export const BG_INODE_UNINIT = 0x1;
export const BG_BLOCK_UNINIT = 0x2;

/** The fields of a 64-byte descriptor beyond GroupDesc, as stored. */
export function decodeGroupDesc64Extras(bytes: Uint8Array, offset: number): Pick<GroupDesc64, 'blockBitmapCsum' | 'inodeBitmapCsum' | 'itableUnused'> {
  return {
    blockBitmapCsum: readU16LE(bytes, offset + 0x18) + readU16LE(bytes, offset + 0x38) * TWO_POW_16,
    inodeBitmapCsum: readU16LE(bytes, offset + 0x1a) + readU16LE(bytes, offset + 0x3a) * TWO_POW_16,
    itableUnused: readU16LE(bytes, offset + 0x1c) + readU16LE(bytes, offset + 0x32) * TWO_POW_16,
  };
}

export function encodeGroupDesc64(gd: GroupDesc | GroupDesc64, out: Uint8Array, offset: number, extras: DescExtras64 = gd as GroupDesc64): void {
  if (!(offset >= 0 && offset + GROUP_DESC_64_BYTES <= out.length)) assert(false, () => `group descriptor at ${offset} is outside the buffer`);
  out.fill(0, offset, offset + GROUP_DESC_64_BYTES);
  splitField(out, offset + 0x00, offset + 0x20, gd.blockBitmap, 4);
  splitField(out, offset + 0x04, offset + 0x24, gd.inodeBitmap, 4);
  splitField(out, offset + 0x08, offset + 0x28, gd.inodeTable, 4);
  splitField(out, offset + 0x0c, offset + 0x2c, gd.freeBlocksCount, 2);
  splitField(out, offset + 0x0e, offset + 0x2e, gd.freeInodesCount, 2);
  splitField(out, offset + 0x10, offset + 0x30, gd.usedDirsCount, 2);
  put16(out, offset + 0x12, gd.flags);
  splitField(out, offset + 0x18, offset + 0x38, extras.blockBitmapCsum, 2);
  splitField(out, offset + 0x1a, offset + 0x3a, extras.inodeBitmapCsum, 2);
  splitField(out, offset + 0x1c, offset + 0x32, extras.itableUnused, 2);
}

/** The fields of a 64-byte descriptor beyond GroupDesc. */
export type DescExtras64 = Pick<GroupDesc64, 'blockBitmapCsum' | 'inodeBitmapCsum' | 'itableUnused'>;

/** A value split into a low half at `lo` and a high half at `hi`, each `halfBytes` wide. */
function splitField(out: Uint8Array, lo: number, hi: number, value: number, halfBytes: 2 | 4): void {
  // a u32 (every count and checksum, every block number below 2^32): its halves by bit operations, the same values
  if (value >>> 0 === value) {
    put16or32(out, lo, halfBytes === 2 ? value & 0xffff : value, halfBytes);
    put16or32(out, hi, halfBytes === 2 ? value >>> 16 : 0, halfBytes);
    return;
  }
  const base = halfBytes === 2 ? TWO_POW_16 : TWO_POW_32;
  if (!(Number.isSafeInteger(value) && value >= 0 && value < base * base)) assert(false, () => `descriptor field ${value} does not fit`);
  if (halfBytes === 2) {
    put16(out, lo, value % base);
    put16(out, hi, Math.floor(value / base));
  } else {
    put32(out, lo, value % base);
    put32(out, hi, Math.floor(value / base));
  }
}

function put16or32(out: Uint8Array, at: number, value: number, bytes: 2 | 4): void {
  if (bytes === 2) put16(out, at, value);
  else put32(out, at, value);
}

// ----------------------------------------------------------------------------------- inode

export const I_BLOCK_BYTES = 60;

export interface Inode {
  mode: number;
  /** 32 bits: i_uid (0x02) and its high half (0x78). */
  uid: number;
  /** i_size_lo | i_size_high << 32, a safe integer. */
  size: number;
  atime: number;
  ctime: number;
  mtime: number;
  dtime: number;
  /** 32 bits: i_gid (0x18) and its high half (0x7a). */
  gid: number;
  linksCount: number;
  /** i_blocks lo + hi (16 bits at 0x74), in 512-byte units. */
  blocks: number;
  flags: number;
  /** The 60-byte i_block, a copy. */
  block: Uint8Array;
  generation: number;
  /** i_file_acl lo + hi (16 bits at 0x76). */
  fileAcl: number;
  extraIsize: number;
  crtime: number;
  /**
   * The `_extra` words of the times (i_atime_extra 0x8c, i_mtime_extra 0x88, i_ctime_extra
   * 0x84, i_crtime_extra 0x94) as stored: 2 epoch bits, then nanoseconds << 2. Each is 0 where
   * i_extra_isize does not cover its word (the kernel's EXT4_FITS_IN_INODE), and is then
   * neither read nor written. Read and set a time through `inodeTime` / `setInodeTime`.
   */
  atimeExtra: number;
  mtimeExtra: number;
  ctimeExtra: number;
  crtimeExtra: number;
}

/** 2^32: u32 fields and the high halves of split ones. */
export const TWO_POW_32 = 2 ** 32;
const TWO_POW_16 = 2 ** 16;
/** A size's high word must stay below this for the size to be a safe integer. */
const SAFE_HIGH_WORD_LIMIT = 2 ** 21;

export function emptyInode(): Inode {
  return {
    mode: 0, uid: 0, size: 0, atime: 0, ctime: 0, mtime: 0, dtime: 0, gid: 0, linksCount: 0, blocks: 0,
    flags: 0, block: new Uint8Array(I_BLOCK_BYTES), generation: 0, fileAcl: 0, extraIsize: 0, crtime: 0,
    atimeExtra: 0, mtimeExtra: 0, ctimeExtra: 0, crtimeExtra: 0,
  };
}

/** Decodes the 256-byte inode slot at bytes[offset ..]. */
export function decodeInode(bytes: Uint8Array, offset: number): Inode {
  assert(offset >= 0 && offset + INODE_BYTES <= bytes.length, () => `inode slot at ${offset} is outside the buffer`);
  const sizeHigh = readU32LE(bytes, offset + 0x6c);
  if (sizeHigh >= SAFE_HIGH_WORD_LIMIT) {
    throw new CorruptionError({
      structure: 'inode', where: `byte ${offset + 0x6c} of its buffer (i_size_high)`,
      what: `i_size_high 0x${sizeHigh.toString(16)} makes a size beyond 2^53`,
    });
  }
  const extraIsize = readU16LE(bytes, offset + 0x80);
  const extra = (field: InodeTimeField): number => (timeFits(extraIsize, field) ? readU32LE(bytes, offset + TIME_EXTRA_AT[field]) : 0);
  return {
    mode: readU16LE(bytes, offset),
    uid: readU16LE(bytes, offset + 0x02) + readU16LE(bytes, offset + 0x78) * TWO_POW_16,
    size: sizeHigh * TWO_POW_32 + readU32LE(bytes, offset + 0x04),
    atime: readU32LE(bytes, offset + 0x08),
    ctime: readU32LE(bytes, offset + 0x0c),
    mtime: readU32LE(bytes, offset + 0x10),
    dtime: readU32LE(bytes, offset + 0x14),
    gid: readU16LE(bytes, offset + 0x18) + readU16LE(bytes, offset + 0x7a) * TWO_POW_16,
    linksCount: readU16LE(bytes, offset + 0x1a),
    blocks: readU16LE(bytes, offset + 0x74) * TWO_POW_32 + readU32LE(bytes, offset + 0x1c),
    flags: readU32LE(bytes, offset + 0x20),
    block: bytes.slice(offset + 0x28, offset + 0x28 + I_BLOCK_BYTES),
    generation: readU32LE(bytes, offset + 0x64),
    fileAcl: readU16LE(bytes, offset + 0x76) * TWO_POW_32 + readU32LE(bytes, offset + 0x68),
    extraIsize,
    crtime: readU32LE(bytes, offset + 0x90),
    atimeExtra: extra('atime'), mtimeExtra: extra('mtime'), ctimeExtra: extra('ctime'), crtimeExtra: extra('crtime'),
  };
}

/**
 * Writes the whole 256-byte slot: the fields of `inode` (the times' `_extra` words where
 * i_extra_isize covers them), zeros elsewhere (checksums, version, project id), which is what
 * mkfs.ext4 writes for its inodes. With `keepUnmodelled` the bytes of fields `Inode` does not
 * hold are left as they are (l_i_version, i_faddr, the checksums, i_version_hi, i_projid,
 * in-inode extended attributes): what an ext4 writer must keep that it does not read.
 */
export function encodeInode(inode: Inode, out: Uint8Array, offset: number, keepUnmodelled = false): void {
  // each check builds its message only when it fails: an inode is encoded at every change
  if (!(offset >= 0 && offset + INODE_BYTES <= out.length)) assert(false, () => `inode slot at ${offset} is outside the buffer`);
  if (inode.block.length !== I_BLOCK_BYTES) assert(false, () => `i_block must be ${I_BLOCK_BYTES} bytes, got ${inode.block.length}`);
  if (!(Number.isSafeInteger(inode.size) && inode.size >= 0)) assert(false, () => `inode size ${inode.size} is not a safe integer`);
  if (!(Number.isSafeInteger(inode.blocks) && inode.blocks >= 0 && inode.blocks < 2 ** 48)) {
    assert(false, () => `i_blocks ${inode.blocks} does not fit 48 bits`);
  }
  if (!(Number.isSafeInteger(inode.fileAcl) && inode.fileAcl >= 0 && inode.fileAcl < 2 ** 48)) {
    assert(false, () => `i_file_acl ${inode.fileAcl} does not fit 48 bits`);
  }
  if (!keepUnmodelled) out.fill(0, offset, offset + INODE_BYTES);
  put16(out, offset, inode.mode);
  writeSplit16(out, offset + 0x02, offset + 0x78, inode.uid, 'uid');
  put32(out, offset + 0x04, inode.size % TWO_POW_32);
  put32(out, offset + 0x08, inode.atime);
  put32(out, offset + 0x0c, inode.ctime);
  put32(out, offset + 0x10, inode.mtime);
  put32(out, offset + 0x14, inode.dtime);
  writeSplit16(out, offset + 0x18, offset + 0x7a, inode.gid, 'gid');
  put16(out, offset + 0x1a, inode.linksCount);
  put32(out, offset + 0x1c, inode.blocks % TWO_POW_32);
  put32(out, offset + 0x20, inode.flags);
  out.set(inode.block, offset + 0x28);
  put32(out, offset + 0x64, inode.generation);
  put32(out, offset + 0x68, inode.fileAcl % TWO_POW_32);
  put32(out, offset + 0x6c, Math.floor(inode.size / TWO_POW_32));
  put16(out, offset + 0x74, Math.floor(inode.blocks / TWO_POW_32));
  put16(out, offset + 0x76, Math.floor(inode.fileAcl / TWO_POW_32));
  put16(out, offset + 0x80, inode.extraIsize);
  put32(out, offset + 0x90, inode.crtime);
  for (const field of INODE_TIME_FIELDS) {
    if (timeFits(inode.extraIsize, field)) put32(out, offset + TIME_EXTRA_AT[field], inode[EXTRA_OF[field]]);
  }
}

// ------------------------------------------------------------------------------ inode times

/**
 * An inode's time as the kernel reads it (ext4.h, EXT4_INODE_GET_XTIME): the 32-bit word is
 * signed seconds (1901..2038); where i_extra_isize covers the time's `_extra` word, its 2
 * epoch bits add multiples of 2^32 seconds (up to 2446) and its upper 30 bits are the
 * nanoseconds. Writing is EXT4_INODE_SET_XTIME: the low 32 bits of the seconds, and the
 * epoch bits ((seconds - (s32)seconds) >> 32) & 3 with the nanoseconds; without the `_extra`
 * word the seconds are clamped to s32 and the nanoseconds dropped. So -0.5 s is stored as
 * seconds -1 (0xffffffff) and 500000000 ns with epoch bits 0, as the kernel stores it.
 */
export type InodeTimeField = 'atime' | 'mtime' | 'ctime' | 'crtime';
export const INODE_TIME_FIELDS: readonly InodeTimeField[] = Object.freeze(['atime', 'mtime', 'ctime', 'crtime']);

/** A time as struct timespec64 holds it: whole seconds (negative before 1970) and 0 <= nanos. */
export interface InodeTime {
  readonly seconds: number;
  readonly nanos: number;
}

/** The kernel's good-old inode size: i_extra_isize counts the bytes past it. */
export const GOOD_OLD_INODE_BYTES = 128;
/** Offsets of i_ctime_extra, i_mtime_extra, i_atime_extra and i_crtime_extra in the slot. */
export const TIME_EXTRA_AT: Readonly<Record<InodeTimeField, number>> = Object.freeze({ ctime: 0x84, mtime: 0x88, atime: 0x8c, crtime: 0x94 });
const EXTRA_OF = Object.freeze({ atime: 'atimeExtra', mtime: 'mtimeExtra', ctime: 'ctimeExtra', crtime: 'crtimeExtra' } as const);
const EPOCH_MASK = 3;
const S32_MIN = -(2 ** 31);
const S32_MAX = 2 ** 31 - 1;
/**
 * The range of times ext4 with 256-byte inodes keeps (s_time_min, s_time_max: the kernel's
 * EXT4_TIMESTAMP_MIN and EXT4_EXTRA_TIMESTAMP_MAX, 1901-12-13 to 2446-05-10).
 */
export const EXT4_TIME_MIN_SECONDS = S32_MIN;
export const EXT4_TIME_MAX_SECONDS = 2 ** 34 - 1 + S32_MIN;

/** EXT4_FITS_IN_INODE for a time's `_extra` word: i_extra_isize reaches past it. */
export function timeFits(extraIsize: number, field: InodeTimeField): boolean {
  return GOOD_OLD_INODE_BYTES + extraIsize >= TIME_EXTRA_AT[field] + 4;
}

/** The time `field` of `inode`, as the kernel decodes it (ext4_decode_extra_time). */
export function inodeTime(inode: Inode, field: InodeTimeField): InodeTime {
  const seconds = inode[field] | 0;
  if (!timeFits(inode.extraIsize, field)) return { seconds, nanos: 0 };
  const extra = inode[EXTRA_OF[field]];
  return { seconds: seconds + (extra & EPOCH_MASK) * TWO_POW_32, nanos: extra >>> 2 };
}

/**
 * Set the time `field` of `inode` as the kernel encodes it (EXT4_INODE_SET_XTIME,
 * ext4_encode_extra_time); `time` is whole seconds and 0 <= nanos < 1e9, already within
 * what the file system keeps (`truncateInodeTime`).
 */
export function setInodeTime(inode: Inode, field: InodeTimeField, time: InodeTime): void {
  const { seconds, nanos } = time;
  if (!(Number.isSafeInteger(seconds) && Number.isInteger(nanos) && nanos >= 0 && nanos < 1e9)) {
    assert(false, () => `inode time ${seconds} s ${nanos} ns is not a timespec`);
  }
  if (!timeFits(inode.extraIsize, field)) {
    inode[field] = Math.min(Math.max(seconds, S32_MIN), S32_MAX) >>> 0;
    return;
  }
  const low = ((seconds % TWO_POW_32) + TWO_POW_32) % TWO_POW_32;
  const signedLow = low > S32_MAX ? low - TWO_POW_32 : low;
  const epoch = ((((seconds - signedLow) / TWO_POW_32) % 4) + 4) % 4;
  inode[field] = low;
  inode[EXTRA_OF[field]] = nanos * 4 + epoch;
}

/** Stamp `fields` of `inode` with a whole second of the simulated clock (its nanoseconds are 0). */
export function stampInodeTimes(inode: Inode, seconds: number, ...fields: InodeTimeField[]): void {
  for (const field of fields) setInodeTime(inode, field, { seconds, nanos: 0 });
}

/**
 * A time as the kernel keeps it on ext4 with 256-byte inodes (timestamp_truncate: s_time_gran
 * 1 ns): seconds clamped to [EXT4_TIME_MIN_SECONDS, EXT4_TIME_MAX_SECONDS], and a clamped
 * time, or one landing on either bound, loses its nanoseconds.
 */
export function truncateInodeTime(time: InodeTime): InodeTime {
  const seconds = Math.min(Math.max(time.seconds, EXT4_TIME_MIN_SECONDS), EXT4_TIME_MAX_SECONDS);
  const atBound = seconds === EXT4_TIME_MIN_SECONDS || seconds === EXT4_TIME_MAX_SECONDS;
  return { seconds, nanos: atBound ? 0 : time.nanos };
}

// ----------------------------------------------------------------------------- extent tree

export const EXTENT_MAGIC = 0xf30a;
export const EXTENT_ENTRY_BYTES = 12;
export const EXTENT_ROOT_MAX = 4;
export const EXTENT_BLOCK_MAX = 340;
/** The longest initialized extent; an unwritten one holds at most EXTENT_MAX_LEN - 1. */
export const EXTENT_MAX_LEN = 32768;
export const EXTENT_MAX_DEPTH = 5;

export interface ExtentHeader {
  magic: number;
  entries: number;
  max: number;
  depth: number;
  generation: number;
}

/** `len` is the real length (an unwritten extent stores len + 32768 in ee_len). */
export interface ExtentLeaf {
  block: number;
  len: number;
  start: number;
  unwritten: boolean;
}

export interface ExtentIndex {
  block: number;
  leaf: number;
}

/** `leaves` when depth is 0, `indexes` otherwise; the other list is empty. */
export interface ExtentNode {
  depth: number;
  max: number;
  leaves: ExtentLeaf[];
  indexes: ExtentIndex[];
}

/** The header fields as stored, unchecked. */
export function decodeExtentHeader(bytes: Uint8Array, offset: number): ExtentHeader {
  return {
    magic: readU16LE(bytes, offset),
    entries: readU16LE(bytes, offset + 2),
    max: readU16LE(bytes, offset + 4),
    depth: readU16LE(bytes, offset + 6),
    generation: readU32LE(bytes, offset + 8),
  };
}

function extentCapacity(capacityBytes: 60 | 4096): number {
  return Math.floor((capacityBytes - EXTENT_ENTRY_BYTES) / EXTENT_ENTRY_BYTES);
}

/**
 * Decodes and checks one node (the root in i_block when capacityBytes is 60, a tree block
 * when 4096): the checks of e2fsprogs' ext2fs_extent_header_verify plus sorted,
 * non-overlapping entries.
 */
export function decodeExtentNode(bytes: Uint8Array, offset: number, capacityBytes: 60 | 4096, where: string): ExtentNode {
  assert(offset >= 0 && offset + capacityBytes <= bytes.length, () => `extent node at ${offset} is outside the buffer`);
  const fail = (what: string): never => {
    throw new CorruptionError({ structure: 'extent tree', where, what });
  };
  const header = decodeExtentHeader(bytes, offset);
  const cap = extentCapacity(capacityBytes);
  if (header.magic !== EXTENT_MAGIC) fail(`eh_magic (node byte 0) is ${hex(header.magic)}, expected ${hex(EXTENT_MAGIC)}`);
  if (header.max > cap || header.max < cap - 2) {
    fail(`eh_max (node byte 4) is ${header.max}, expected ${cap - 2}..${cap} for a ${capacityBytes}-byte node`);
  }
  if (header.entries > header.max) fail(`eh_entries (node byte 2) is ${header.entries}, above eh_max ${header.max}`);
  if (header.depth > EXTENT_MAX_DEPTH) fail(`eh_depth (node byte 6) is ${header.depth}, above ${EXTENT_MAX_DEPTH}`);
  const node: ExtentNode = { depth: header.depth, max: header.max, leaves: [], indexes: [] };
  let nextFree = 0;
  for (let i = 0; i < header.entries; i++) {
    const at = offset + EXTENT_ENTRY_BYTES * (i + 1);
    const entryWhere = `entry ${i} (node byte ${EXTENT_ENTRY_BYTES * (i + 1)})`;
    const logical = readU32LE(bytes, at);
    if (logical < nextFree) {
      fail(`${entryWhere}: logical block ${logical} is not after the previous entry's range (next free ${nextFree})`);
    }
    if (header.depth === 0) {
      const rawLen = readU16LE(bytes, at + 4);
      const unwritten = rawLen > EXTENT_MAX_LEN;
      const len = unwritten ? rawLen - EXTENT_MAX_LEN : rawLen;
      if (len < 1) fail(`${entryWhere}: ee_len is 0`);
      if (logical + len > TWO_POW_32) fail(`${entryWhere}: logical range ${logical}+${len} passes block 2^32`);
      const start = readU16LE(bytes, at + 6) * TWO_POW_32 + readU32LE(bytes, at + 8);
      node.leaves.push({ block: logical, len, start, unwritten });
      nextFree = logical + len;
    } else {
      const leaf = readU32LE(bytes, at + 4) + readU16LE(bytes, at + 8) * TWO_POW_32;
      node.indexes.push({ block: logical, leaf });
      nextFree = logical + 1;
    }
  }
  return node;
}

/** Writes the header and entries, and zeros the rest of the node's capacity. */
export function encodeExtentNode(node: ExtentNode, out: Uint8Array, offset: number, capacityBytes: 60 | 4096): void {
  assert(offset >= 0 && offset + capacityBytes <= out.length, () => `extent node at ${offset} is outside the buffer`);
  const cap = extentCapacity(capacityBytes);
  const entries = node.depth === 0 ? node.leaves.length : node.indexes.length;
  assert(node.max >= cap - 2 && node.max <= cap, () => `eh_max ${node.max} outside ${cap - 2}..${cap}`);
  assert(entries <= node.max, () => `${entries} extent entries exceed eh_max ${node.max}`);
  assert(node.depth >= 0 && node.depth <= EXTENT_MAX_DEPTH, () => `extent depth ${node.depth}`);
  assert(node.depth === 0 ? node.indexes.length === 0 : node.leaves.length === 0,
    'a leaf node has no indexes and an index node no leaves');
  out.fill(0, offset, offset + capacityBytes);
  writeU16LE(out, offset, EXTENT_MAGIC);
  writeU16LE(out, offset + 2, entries);
  writeU16LE(out, offset + 4, node.max);
  writeU16LE(out, offset + 6, node.depth);
  node.leaves.forEach((leaf, i) => {
    const at = offset + EXTENT_ENTRY_BYTES * (i + 1);
    const maxLen = leaf.unwritten ? EXTENT_MAX_LEN - 1 : EXTENT_MAX_LEN;
    assert(Number.isInteger(leaf.len) && leaf.len >= 1 && leaf.len <= maxLen, () => `extent length ${leaf.len} outside 1..${maxLen}`);
    assert(Number.isSafeInteger(leaf.start) && leaf.start >= 0 && leaf.start < 2 ** 48, () => `extent start ${leaf.start}`);
    writeU32LE(out, at, leaf.block);
    writeU16LE(out, at + 4, leaf.unwritten ? leaf.len + EXTENT_MAX_LEN : leaf.len);
    writeU16LE(out, at + 6, Math.floor(leaf.start / TWO_POW_32));
    writeU32LE(out, at + 8, leaf.start % TWO_POW_32);
  });
  node.indexes.forEach((index, i) => {
    const at = offset + EXTENT_ENTRY_BYTES * (i + 1);
    assert(Number.isSafeInteger(index.leaf) && index.leaf >= 0 && index.leaf < 2 ** 48, () => `extent index leaf ${index.leaf}`);
    writeU32LE(out, at, index.block);
    writeU32LE(out, at + 4, index.leaf % TWO_POW_32);
    writeU16LE(out, at + 8, Math.floor(index.leaf / TWO_POW_32));
  });
}

// ------------------------------------------------------------------------------ directory

export const DIR_ENTRY_HEADER_BYTES = 8;
export const DIR_NAME_MAX_BYTES = 255;

export interface DirEntry {
  inode: number;
  recLen: number;
  nameLen: number;
  fileType: number;
  name: Uint8Array;
  /** Byte offset of the entry inside its block. */
  offset: number;
}

/** EXT2_DIR_REC_LEN: the bytes an entry with this name needs, rounded up to 4. */
export function dirRecLen(nameLen: number): number {
  return (DIR_ENTRY_HEADER_BYTES + nameLen + 3) & ~3;
}

const MIN_REC_LEN = dirRecLen(1);

/**
 * Every entry of a linear directory block, deleted (inode 0) ones included, in block
 * order; checks what the kernel's ext4_check_dir_entry checks.
 */
export function decodeDirBlock(block: Uint8Array, where: string): DirEntry[] {
  const fail = (offset: number, what: string): never => {
    throw new CorruptionError({ structure: 'directory', where, what: `entry at byte ${offset}: ${what}` });
  };
  const entries: DirEntry[] = [];
  let offset = 0;
  // Each entry advances by at least MIN_REC_LEN, so the loop is bounded by the block size.
  while (offset < block.length) {
    if (offset + DIR_ENTRY_HEADER_BYTES > block.length) fail(offset, 'header crosses the end of the block');
    const inode = readU32LE(block, offset);
    const recLen = readU16LE(block, offset + 4);
    const nameLen = readU8(block, offset + 6);
    const fileType = readU8(block, offset + 7);
    if (recLen % 4 !== 0) fail(offset, `rec_len ${recLen} is not a multiple of 4`);
    if (recLen < MIN_REC_LEN) fail(offset, `rec_len ${recLen} is below the minimum ${MIN_REC_LEN}`);
    if (offset + recLen > block.length) fail(offset, `rec_len ${recLen} crosses the end of the ${block.length}-byte block`);
    if (inode !== 0) {
      if (nameLen === 0) fail(offset, `live entry (inode ${inode}) has name_len 0`);
      if (recLen < dirRecLen(nameLen)) fail(offset, `rec_len ${recLen} is below ${dirRecLen(nameLen)} needed by name_len ${nameLen}`);
    }
    const nameEnd = Math.min(offset + DIR_ENTRY_HEADER_BYTES + nameLen, offset + recLen);
    const name = block.slice(offset + DIR_ENTRY_HEADER_BYTES, nameEnd);
    entries.push({ inode, recLen, nameLen, fileType, name, offset });
    offset += recLen;
  }
  return entries;
}

/** Writes one entry's header and name and zeros the name's padding up to dirRecLen. */
/** metadata_csum's 12-byte tail entry closing a directory leaf block: inode 0, rec_len 12, file type 0xDE, then its checksum. */
export const DIR_TAIL_FILE_TYPE = 0xde;

export function encodeDirTail(block: Uint8Array, checksum: number): void {
  const at = block.length - 12;
  block.fill(0, at);
  writeU16LE(block, at + 4, 12);
  writeU8(block, at + 7, DIR_TAIL_FILE_TYPE);
  writeU32LE(block, at + 8, checksum);
}

export function encodeDirEntry(
  out: Uint8Array,
  offset: number,
  entry: { inode: number; recLen: number; fileType: number; name: Uint8Array },
): void {
  const nameLen = entry.name.length;
  const needed = dirRecLen(nameLen);
  assert(nameLen <= DIR_NAME_MAX_BYTES, () => `a name of ${nameLen} bytes exceeds ${DIR_NAME_MAX_BYTES}`);
  assert(entry.inode === 0 || nameLen > 0, 'a live directory entry has a name');
  assert(entry.recLen % 4 === 0 && entry.recLen >= Math.max(needed, MIN_REC_LEN),
    () => `rec_len ${entry.recLen} must be a multiple of 4 and at least ${Math.max(needed, MIN_REC_LEN)}`);
  assert(offset >= 0 && offset % 4 === 0 && offset + entry.recLen <= out.length,
    () => `entry at ${offset} with rec_len ${entry.recLen} does not fit the ${out.length}-byte block`);
  writeU32LE(out, offset, entry.inode);
  writeU16LE(out, offset + 4, entry.recLen);
  writeU8(out, offset + 6, nameLen);
  writeU8(out, offset + 7, entry.fileType);
  out.set(entry.name, offset + DIR_ENTRY_HEADER_BYTES);
  out.fill(0, offset + DIR_ENTRY_HEADER_BYTES + nameLen, offset + needed);
}

// ------------------------------------------------------------------------------------ jbd2

export const JBD2_MAGIC = 0xc03b3998;
export const JBD2_DESCRIPTOR_BLOCK = 1;
export const JBD2_COMMIT_BLOCK = 2;
export const JBD2_SUPERBLOCK_V2 = 4;
export const JBD2_REVOKE_BLOCK = 5;
export const JBD2_FEATURE_INCOMPAT_REVOKE = 0x1;
export const JBD2_KNOWN_INCOMPAT = JBD2_FEATURE_INCOMPAT_REVOKE;
/** The kernel's JBD2_MIN_JOURNAL_BLOCKS: a shorter journal is refused ("journal file too short"). */
export const JBD2_MIN_JOURNAL_BLOCKS = 1024;
export const JOURNAL_SUPERBLOCK_BYTES = 1024;
/** s_users: 48 UUIDs of file systems sharing an external journal; zero for an internal one. */
export const JBD2_USERS_BYTES = 16 * 48;

/** journal_superblock_t (all fields big-endian). */
export interface JournalSuperblock {
  magic: number;
  blocktype: number;
  headerSequence: number;
  blocksize: number;
  maxlen: number;
  first: number;
  sequence: number;
  start: number;
  /** Signed (the kernel stores a negative errno). */
  errno: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  /** 16 bytes: mkfs copies the file system's UUID. */
  uuid: Uint8Array;
  nrUsers: number;
  dynsuper: number;
  maxTransaction: number;
  maxTransData: number;
  checksumType: number;
  numFcBlocks: number;
  head: number;
  checksum: number;
  /** JBD2_USERS_BYTES bytes at 0x100. */
  users: Uint8Array;
}

const JSB_NUMBER_FIELDS: ReadonlyArray<readonly [NumberKey<JournalSuperblock>, number, FieldWidth]> = [
  ['magic', 0x0, 4], ['blocktype', 0x4, 4], ['headerSequence', 0x8, 4], ['blocksize', 0xc, 4],
  ['maxlen', 0x10, 4], ['first', 0x14, 4], ['sequence', 0x18, 4], ['start', 0x1c, 4],
  ['featureCompat', 0x24, 4], ['featureIncompat', 0x28, 4], ['featureRoCompat', 0x2c, 4],
  ['nrUsers', 0x40, 4], ['dynsuper', 0x44, 4], ['maxTransaction', 0x48, 4], ['maxTransData', 0x4c, 4],
  ['checksumType', 0x50, 1], ['numFcBlocks', 0x54, 4], ['head', 0x58, 4], ['checksum', 0xfc, 4],
];
const JSB_ERRNO = 0x20;
const JSB_UUID = 0x30;
const JSB_USERS = 0x100;

/** Byte offsets inside the journal superblock of the fields validation names. */
export const JSB_OFFSET = Object.freeze({
  magic: 0x0, blocktype: 0x4, blocksize: 0xc, maxlen: 0x10, first: 0x14, sequence: 0x18, start: 0x1c,
  featureIncompat: 0x28,
});

export function decodeJournalSuperblock(bytes: Uint8Array, offset: number): JournalSuperblock {
  assert(offset >= 0 && offset + JOURNAL_SUPERBLOCK_BYTES <= bytes.length,
    () => `journal superblock at ${offset} does not fit a buffer of ${bytes.length} bytes`);
  const jsb = {} as Record<string, unknown>;
  for (const [key, at, width] of JSB_NUMBER_FIELDS) jsb[key] = readUnsignedBE(bytes, offset + at, width);
  jsb.errno = readU32BE(bytes, offset + JSB_ERRNO) | 0;
  jsb.uuid = bytes.slice(offset + JSB_UUID, offset + JSB_UUID + 16);
  jsb.users = bytes.slice(offset + JSB_USERS, offset + JSB_USERS + JBD2_USERS_BYTES);
  return jsb as unknown as JournalSuperblock;
}

/** Writes every field of `jsb`; the padding between fields keeps its bytes. */
export function encodeJournalSuperblock(jsb: JournalSuperblock, out: Uint8Array, offset: number): void {
  assert(offset >= 0 && offset + JOURNAL_SUPERBLOCK_BYTES <= out.length,
    () => `journal superblock at ${offset} does not fit a buffer of ${out.length} bytes`);
  assert(jsb.uuid.length === 16, () => `journal uuid must be 16 bytes, got ${jsb.uuid.length}`);
  assert(jsb.users.length === JBD2_USERS_BYTES, () => `journal s_users must be ${JBD2_USERS_BYTES} bytes`);
  assert(Number.isInteger(jsb.errno) && jsb.errno >= -(2 ** 31) && jsb.errno < 2 ** 31, () => `s_errno ${jsb.errno} is not an int32`);
  for (const [key, at, width] of JSB_NUMBER_FIELDS) writeUnsignedBE(out, offset + at, width, jsb[key]);
  writeU32BE(out, offset + JSB_ERRNO, jsb.errno >>> 0);
  out.set(jsb.uuid, offset + JSB_UUID);
  out.set(jsb.users, offset + JSB_USERS);
}

/**
 * Throws CorruptionError unless `jsb` is a v2 superblock the subset's recovery can use in
 * a journal inode of `journalBlocks` blocks (e2fsck/journal.c and the kernel's
 * journal_check_superblock apply the same rules), with no incompat feature outside
 * `knownIncompat` (the subset's journal: revoke records only).
 */
export function validateJournalSuperblock(jsb: JournalSuperblock, journalBlocks: number, knownIncompat = JBD2_KNOWN_INCOMPAT): void {
  const fail = (field: keyof typeof JSB_OFFSET, what: string): never => {
    throw new CorruptionError({
      structure: 'journal superblock',
      where: `journal block 0 + 0x${JSB_OFFSET[field].toString(16)}`,
      what: `s_${snake(field)}: ${what}`,
    });
  };
  if (jsb.magic !== JBD2_MAGIC) fail('magic', `bad magic ${hex(jsb.magic)}, expected ${hex(JBD2_MAGIC)}`);
  if (jsb.blocktype !== JBD2_SUPERBLOCK_V2) fail('blocktype', `block type ${jsb.blocktype}, expected ${JBD2_SUPERBLOCK_V2} (superblock v2)`);
  if (jsb.blocksize !== BLOCK_BYTES) fail('blocksize', `${jsb.blocksize}, expected the file system's ${BLOCK_BYTES}`);
  if (jsb.maxlen > journalBlocks) fail('maxlen', `${jsb.maxlen} blocks exceed the journal inode's ${journalBlocks}`);
  if (jsb.maxlen < JBD2_MIN_JOURNAL_BLOCKS) fail('maxlen', `${jsb.maxlen} blocks, below the minimum ${JBD2_MIN_JOURNAL_BLOCKS}`);
  if (jsb.first !== 1) fail('first', `${jsb.first}, expected 1`);
  if (jsb.start !== 0 && (jsb.start < jsb.first || jsb.start >= jsb.maxlen)) {
    fail('start', `${jsb.start} is neither 0 nor inside the log [${jsb.first}, ${jsb.maxlen})`);
  }
  const unknown = jsb.featureIncompat & ~knownIncompat;
  if (unknown !== 0) fail('featureIncompat', `unknown incompat features 0x${unknown.toString(16)}`);
}

// ----------------------------------------------------------------------------- helpers

function readUnsignedLE(bytes: Uint8Array, offset: number, width: FieldWidth): number {
  if (width === 1) return readU8(bytes, offset);
  return width === 2 ? readU16LE(bytes, offset) : readU32LE(bytes, offset);
}

function writeUnsignedLE(out: Uint8Array, offset: number, width: FieldWidth, value: number): void {
  if (width === 1) writeU8(out, offset, value);
  else if (width === 2) writeU16LE(out, offset, value);
  else writeU32LE(out, offset, value);
}

function readUnsignedBE(bytes: Uint8Array, offset: number, width: FieldWidth): number {
  if (width === 1) return readU8(bytes, offset);
  return width === 2 ? readU16BE(bytes, offset) : readU32BE(bytes, offset);
}

function writeUnsignedBE(out: Uint8Array, offset: number, width: FieldWidth, value: number): void {
  if (width === 1) writeU8(out, offset, value);
  else if (width === 2) writeU16BE(out, offset, value);
  else writeU32BE(out, offset, value);
}

// uid and gid keep their low 16 bits in the original ext2 field and the high 16 bits in
// the Linux osd2 area, so old tools still see the low half.
function writeSplit16(out: Uint8Array, lowAt: number, highAt: number, value: number, what: string): void {
  if (!(Number.isInteger(value) && value >= 0 && value < TWO_POW_32)) assert(false, () => `${what} ${value} does not fit 32 bits`);
  put16(out, lowAt, value % TWO_POW_16);
  put16(out, highAt, Math.floor(value / TWO_POW_16));
}

/** writeU16LE, whose checks a value that fits and an offset inside `out` pass in a few
 * comparisons (every field of a valid inode: it is encoded at every change); writeU16LE
 * itself, with its assertion, otherwise. */
function put16(out: Uint8Array, at: number, value: number): void {
  if ((value & 0xffff) !== value || (at >>> 0) !== at || at + 2 > out.length) {
    writeU16LE(out, at, value);
    return;
  }
  out[at] = value;
  out[at + 1] = value >>> 8;
}

/** writeU32LE as put16 is writeU16LE. */
function put32(out: Uint8Array, at: number, value: number): void {
  if ((value >>> 0) !== value || (at >>> 0) !== at || at + 4 > out.length) {
    writeU32LE(out, at, value);
    return;
  }
  out[at] = value;
  out[at + 1] = value >>> 8;
  out[at + 2] = value >>> 16;
  out[at + 3] = value >>> 24;
}

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

function blockSizeOf(log: number): string {
  return log < 32 ? String(1024 * 2 ** log) : `1024 << ${log}`;
}

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
