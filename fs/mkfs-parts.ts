/**
 * The pieces both mkfs profiles build a new file system from (fs/mkfs.ts, the minimal
 * subset; fs/mkfs-default.ts, mkfs.ext4's default features): the identity (UUID, hash seed,
 * time), the superblock mkfs.ext4 fills for every profile, backup superblocks, the special
 * inodes' extent roots, directory blocks, the journal superblock and bitmap helpers.
 *
 * Invariants: pure functions of their arguments; every value here is one mkfs.ext4 writes in
 * both profiles (a profile's own fields are set by its module on top of these).
 */
import { assert } from '../core/assert';
import { readU32LE } from '../core/bytes';
import {
  BLOCK_BYTES, BLOCKS_PER_GROUP, COMPAT_HAS_JOURNAL, EXT4_MAGIC, EXTENT_ROOT_MAX, EXTENTS_FL, FIRST_INO, FT_DIR,
  INCOMPAT_EXTENTS, INCOMPAT_FILETYPE, INCOMPAT_RECOVER, INODE_BYTES, Inode, JBD2_MAGIC, JBD2_SUPERBLOCK_V2,
  JBD2_USERS_BYTES, JNL_BLOCKS_WORDS, JOURNAL_INO, JournalSuperblock, LOG_BLOCK_SIZE, RO_COMPAT_SPARSE_SUPER, Superblock,
  dirRecLen, emptyInode, encodeDirEntry, encodeExtentNode, encodeJournalSuperblock,
} from './format';

export interface MkfsIdentity {
  uuid: Uint8Array;
  hashSeed: Uint8Array;
  timeSeconds: number;
}

/** The new file system's blocks: `blocks` hold non-zero content, `zeroRanges` must read as zero. */
export interface MkfsImage {
  blocks: Map<number, Uint8Array>;
  zeroRanges: Array<{ first: number; count: number }>;
}

/** s_default_mount_opts: user_xattr | acl, from mke2fs.conf's default_mntopts. */
export const DEFAULT_MOUNT_OPTS = 0x000c;
/** What mkfs.ext4 and the kernel reserve for the fixed part of large inodes. */
export const EXTRA_ISIZE = 32;
const STATE_VALID = 1;
const ERRORS_CONTINUE = 1;
const DEF_HASH_HALF_MD4 = 1;
const JNL_BACKUP_BLOCKS = 1;
const FLAGS_SIGNED_HASH = 1;
export const SECTORS_PER_BLOCK = BLOCK_BYTES / 512;
const UINT32_LIMIT = 2 ** 32;

/** The counts a superblock takes from its layout. */
export interface SuperblockCounts {
  inodesCount: number;
  blocksCount: number;
  inodesPerGroup: number;
  freeBlocks: number;
  freeInodes: number;
  overheadBlocks: number;
}

/** The minimal profile's superblock; a profile with more features overrides its feature fields. */
export function baseSuperblock(counts: SuperblockCounts, id: MkfsIdentity, journalInode: Inode): Superblock {
  const jnlBlocks: number[] = [];
  for (let i = 0; i < 15; i++) jnlBlocks.push(readU32LE(journalInode.block, 4 * i));
  jnlBlocks.push(Math.floor(journalInode.size / UINT32_LIMIT), journalInode.size % UINT32_LIMIT);
  assert(jnlBlocks.length === JNL_BLOCKS_WORDS, 's_jnl_blocks has 17 words');
  return {
    inodesCount: counts.inodesCount,
    blocksCount: counts.blocksCount,
    rBlocksCount: 0,
    freeBlocksCount: counts.freeBlocks,
    freeInodesCount: counts.freeInodes,
    firstDataBlock: 0,
    logBlockSize: LOG_BLOCK_SIZE,
    logClusterSize: LOG_BLOCK_SIZE,
    blocksPerGroup: BLOCKS_PER_GROUP,
    clustersPerGroup: BLOCKS_PER_GROUP,
    inodesPerGroup: counts.inodesPerGroup,
    mtime: 0,
    wtime: id.timeSeconds,
    mntCount: 0,
    maxMntCount: 0xffff,
    magic: EXT4_MAGIC,
    state: STATE_VALID,
    errors: ERRORS_CONTINUE,
    minorRevLevel: 0,
    lastcheck: id.timeSeconds,
    checkinterval: 0,
    creatorOs: 0,
    revLevel: 1,
    defResuid: 0,
    defResgid: 0,
    firstIno: FIRST_INO,
    inodeSize: INODE_BYTES,
    blockGroupNr: 0,
    featureCompat: COMPAT_HAS_JOURNAL,
    featureIncompat: INCOMPAT_FILETYPE | INCOMPAT_EXTENTS,
    featureRoCompat: RO_COMPAT_SPARSE_SUPER,
    uuid: id.uuid.slice(),
    volumeName: new Uint8Array(16),
    lastMounted: new Uint8Array(64),
    reservedGdtBlocks: 0,
    journalUuid: new Uint8Array(16),
    journalInum: JOURNAL_INO,
    journalDev: 0,
    lastOrphan: 0,
    hashSeed: id.hashSeed.slice(),
    defHashVersion: DEF_HASH_HALF_MD4,
    jnlBackupType: JNL_BACKUP_BLOCKS,
    descSize: 0,
    defaultMountOpts: DEFAULT_MOUNT_OPTS,
    firstMetaBg: 0,
    mkfsTime: id.timeSeconds,
    jnlBlocks,
    minExtraIsize: EXTRA_ISIZE,
    wantExtraIsize: EXTRA_ISIZE,
    flags: FLAGS_SIGNED_HASH,
    kbytesWritten: 0n,
    logGroupsPerFlex: 0,
    checksumType: 0,
    overheadClusters: counts.overheadBlocks,
  };
}

// ext2fs_flush writes the backups with the VALID state bit and RECOVER cleared (a backup
// is only used after the primary is lost, and then must be checked), and its group number.
export function backupSuperblock(primary: Superblock, group: number): Superblock {
  return {
    ...primary,
    state: primary.state & ~STATE_VALID,
    featureIncompat: primary.featureIncompat & ~INCOMPAT_RECOVER,
    blockGroupNr: group,
  };
}

/** An inode owning `extents` (logically contiguous from 0, at most four), its size exactly their blocks. */
export function specialInode(mode: number, extents: ReadonlyArray<{ start: number; len: number }>, links: number, id: MkfsIdentity): Inode {
  const blocks = extents.reduce((n, e) => n + e.len, 0);
  const inode = emptyInode();
  inode.mode = mode;
  inode.size = blocks * BLOCK_BYTES;
  inode.atime = inode.ctime = inode.mtime = inode.crtime = id.timeSeconds;
  inode.linksCount = links;
  inode.blocks = blocks * SECTORS_PER_BLOCK;
  inode.flags = EXTENTS_FL;
  inode.extraIsize = EXTRA_ISIZE;
  let logical = 0;
  const leaves = extents.map((e) => {
    const leaf = { block: logical, len: e.len, start: e.start, unwritten: false };
    logical += e.len;
    return leaf;
  });
  encodeExtentNode({ depth: 0, max: EXTENT_ROOT_MAX, leaves, indexes: [] }, inode.block, 0, 60);
  return inode;
}

/**
 * A directory block holding `entries` (all directories here); the last one reaches the end
 * of the block, or of the space before a `tailBytes` checksum tail the caller fills in.
 */
export function dirBlock(entries: ReadonlyArray<readonly [number, string]>, tailBytes = 0): Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  const end = BLOCK_BYTES - tailBytes;
  if (entries.length === 0) {
    encodeDirEntry(block, 0, { inode: 0, recLen: end, fileType: 0, name: new Uint8Array(0) });
    return block;
  }
  let offset = 0;
  entries.forEach(([inode, text], i) => {
    const name = new TextEncoder().encode(text);
    const recLen = i === entries.length - 1 ? end - offset : dirRecLen(name.length);
    encodeDirEntry(block, offset, { inode, recLen, fileType: FT_DIR, name });
    offset += recLen;
  });
  return block;
}

/** Journal block 0 as mkfs.ext4 writes it: a v2 superblock, no features, an empty log. */
export function buildJournalSuperblock(journalBlocks: number, id: MkfsIdentity): Uint8Array {
  const jsb: JournalSuperblock = {
    magic: JBD2_MAGIC,
    blocktype: JBD2_SUPERBLOCK_V2,
    headerSequence: 0,
    blocksize: BLOCK_BYTES,
    maxlen: journalBlocks,
    first: 1,
    // ext2fs_create_journal_superblock2 starts the log at transaction 1.
    sequence: 1,
    start: 0,
    errno: 0,
    featureCompat: 0,
    featureIncompat: 0,
    featureRoCompat: 0,
    uuid: id.uuid.slice(),
    nrUsers: 1,
    dynsuper: 0,
    maxTransaction: 0,
    maxTransData: 0,
    checksumType: 0,
    numFcBlocks: 0,
    head: 0,
    checksum: 0,
    users: new Uint8Array(JBD2_USERS_BYTES),
  };
  const block = new Uint8Array(BLOCK_BYTES);
  encodeJournalSuperblock(jsb, block, 0);
  return block;
}

export function setBit(bitmap: Uint8Array, bit: number): void {
  bitmap[bit >>> 3] = (bitmap[bit >>> 3] as number) | (1 << (bit & 7));
}

export function countBits(bitmap: Uint8Array): number {
  let n = 0;
  for (const byte of bitmap) {
    let b = byte;
    while (b !== 0) {
      b &= b - 1;
      n++;
    }
  }
  return n;
}
