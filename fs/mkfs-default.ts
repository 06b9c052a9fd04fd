/**
 * The `default` feature profile of mkfs: the image that
 *
 *     E2FSPROGS_FAKE_TIME=<secs> mkfs.ext4 -F -q -b 4096 -I 256 -i 16384 -T default -m 0 \
 *       -O none,has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,\
 *          sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum \
 *       -E root_owner=0:0,discard,lazy_itable_init=1,hash_seed=<uuid> -U <uuid> IMAGE
 *
 * writes (e2fsprogs 1.47.0; MKFS_EXT4_ARGS.default in fs/mkfs.ts holds these arguments and
 * test/fs/mkfs-default.test.ts runs them; the hash seed joins the one -E, since mke2fs keeps
 * only its last -E). That feature list is what this machine's
 * /etc/mke2fs.conf gives `mkfs.ext4 -b 4096` (base_features plus the ext4 stanza; no
 * metadata_csum_seed, no orphan_file in 1.47.0), written out so the conf does not matter;
 * `-i 16384` pins -T default's inode ratio for the same reason. `discard` (the default,
 * spelled out) punches the image file, which makes mke2fs skip the inode-table wipe and mark
 * every group ITABLE_ZEROED; `lazy_itable_init=1` keeps that choice off the kernel probe
 * mke2fs makes in /sys (without discard zeroing, the flag would be missing and the
 * comparison fails loudly rather than zeroing every table). Our tables read as zero, so
 * ITABLE_ZEROED is true here, and a kernel mount starts no lazy-init thread.
 *
 * Owns the content: superblock and backups with s_checksum, 64-byte group descriptors with
 * their checksums, uninit flags and itable_unused, flex_bg-packed bitmaps with checksums (the
 * bitmaps of BLOCK_UNINIT / INODE_UNINIT groups stay zero, checksum 0, as mke2fs leaves them),
 * reserved inodes 1 to 10 with checksums (1, 3 to 6, 9 and 10 small, extra_isize 0), the
 * resize inode (7: its double-indirect block lists the primary reserved GDT blocks, each of
 * which lists its backups), root and lost+found with directory checksum tails, and the
 * journal inode with the v2 journal superblock mkfs writes (no jbd2 checksum: the kernel
 * turns on csum v3 at mount). Layout: fs/geometry-flex.ts.
 *
 * s_flags is 1 (signed directory hash), what x86-64 builds of mkfs.ext4 write (arm64 builds
 * write 2; the test excuses that byte there), as in the minimal profile.
 *
 * s_kbytes_written is mke2fs's count of its own writes; mke2fsKbytesWritten models it (the
 * tool's write-back block cache decides which writes are counted), held to the tool at
 * sizes from 16 MiB to 8 GiB.
 *
 * Invariants: pure (a function of the layout and identity); every checksum is computed by
 * fs/csum.ts over the bytes as finally encoded.
 */
import { assert } from '../core/assert';
import { writeU16LE, writeU32LE } from '../core/bytes';
import {
  CSUM_OFFSETS, bitmapChecksum, checksumSeed, dirBlockChecksum, groupDescChecksum, inodeChecksum, inodeSeed,
  superblockChecksum,
} from './csum';
import {
  BG_BLOCK_UNINIT, BG_INODE_UNINIT, BG_INODE_ZEROED, BLOCK_BYTES, BLOCKS_PER_GROUP, COMPAT_DIR_INDEX, COMPAT_EXT_ATTR,
  COMPAT_HAS_JOURNAL, COMPAT_RESIZE_INODE, FIRST_INO, GROUP_DESC_64_BYTES, INCOMPAT_64BIT, INCOMPAT_EXTENTS,
  INCOMPAT_FILETYPE, INCOMPAT_FLEX_BG, INODE_BYTES, Inode, JOURNAL_INO, LOST_FOUND_INO, ROOT_INO, RO_COMPAT_DIR_NLINK,
  RO_COMPAT_EXTRA_ISIZE, RO_COMPAT_HUGE_FILE, RO_COMPAT_LARGE_FILE, RO_COMPAT_METADATA_CSUM, RO_COMPAT_SPARSE_SUPER,
  S_IFDIR, S_IFREG, SUPERBLOCK_OFFSET, Superblock, emptyInode, encodeDirTail, encodeGroupDesc64, encodeInode,
  encodeSuperblock,
} from './format';
import { ADDRS_PER_BLOCK, DESC_BYTES_64BIT, FlexGeometry, LOG_GROUPS_PER_FLEX } from './geometry-flex';
import { groupHasSuper } from './geometry';
import {
  EXTRA_ISIZE, MkfsIdentity, MkfsImage, SECTORS_PER_BLOCK, backupSuperblock, baseSuperblock, buildJournalSuperblock,
  dirBlock, setBit, specialInode,
} from './mkfs-parts';

/** The resize inode. */
export const RESIZE_INO = 7;
const CHECKSUM_TYPE_CRC32C = 1;
/** Direct blocks before i_block's indirect pointers; the double-indirect pointer's slot. */
const DIRECT_BLOCKS = 12;
const DIND_SLOT = 13;
const DIR_TAIL_BYTES = 12;
const INODES_PER_BLOCK = BLOCK_BYTES / INODE_BYTES;

/** Pure: the content of a new default-profile file system of this layout. */
export function buildDefaultImage(g: FlexGeometry, id: MkfsIdentity): MkfsImage {
  const blocks = new Map<number, Uint8Array>();
  const zeroRanges: MkfsImage['zeroRanges'] = [];
  const seed = checksumSeed(encodedSuperblock(sbFields(g, id, specialInode(S_IFREG, g.journalExtents, 1, id), 0n), 0));
  const bitmaps = buildBitmaps(g, seed);
  g.groupLayouts.forEach((l, i) => {
    const b = bitmaps[i] as GroupBitmaps;
    if (b.block !== undefined) blocks.set(l.blockBitmap, b.block);
    else zeroRanges.push({ first: l.blockBitmap, count: 1 });
    if (b.inode !== undefined) blocks.set(l.inodeBitmap, b.inode);
    else zeroRanges.push({ first: l.inodeBitmap, count: 1 });
    zeroRanges.push({ first: l.inodeTable + (i === 0 ? 1 : 0), count: g.inodeTableBlocks - (i === 0 ? 1 : 0) });
  });
  const gdt = buildGdt(g, bitmaps, seed);
  const journalInode = specialInode(S_IFREG | 0o600, g.journalExtents, 1, id);
  const group0 = g.groupLayouts[0];
  assert(group0 !== undefined, 'a file system has a group 0');
  blocks.set(group0.inodeTable, buildFirstInodeTableBlock(g, id, journalInode, seed));
  blocks.set(g.rootDirBlock, sealedDirBlock([[ROOT_INO, '.'], [ROOT_INO, '..'], [LOST_FOUND_INO, 'lost+found']], ROOT_INO, seed));
  g.lostFoundBlocks.forEach((block, i) => {
    blocks.set(block, sealedDirBlock(i === 0 ? [[LOST_FOUND_INO, '.'], [ROOT_INO, '..']] : [], LOST_FOUND_INO, seed));
  });
  setResizeBlocks(g, blocks, zeroRanges);
  const journalStart = g.journalExtents[0];
  assert(journalStart !== undefined, 'the journal has an extent');
  blocks.set(journalStart.start, buildJournalSuperblock(g.journalBlocks, id));
  zeroRanges.push({ first: journalStart.start + 1, count: journalStart.len - 1 }, ...g.journalExtents.slice(1).map((e) => ({ first: e.start, count: e.len })));
  const sb = sbFields(g, id, journalInode, mke2fsKbytesWritten(g));
  for (const layout of g.groupLayouts.filter((l) => l.hasSuper)) {
    blocks.set(layout.firstBlock, encodedSuperblock(layout.group === 0 ? sb : backupSuperblock(sb, layout.group), layout.group === 0 ? SUPERBLOCK_OFFSET : 0));
    gdt.forEach((gdtBlock, i) => blocks.set(layout.firstBlock + 1 + i, gdtBlock.slice()));
    if (layout.group !== 0) zeroRanges.push({ first: layout.firstBlock + 1 + g.gdtBlocks, count: g.reservedGdtBlocks });
  }
  return { blocks, zeroRanges };
}

/** unix_io's block cache: 8 write-back slots, least recently used evicted first. */
const MKE2FS_CACHE_BLOCKS = 8;
/** zap_sector's wipes of the old superblock (sectors 2 to 7) and of sector 0 and 1. */
const MKE2FS_ZAP_KIB = 4;

/**
 * s_kbytes_written as mke2fs 1.47.0 leaves it: 1 (the mark of a file system that counts its
 * writes), plus the KiB its unix I/O manager wrote before ext2fs_close2 reads the count (the
 * sector wipes, and each dirty block evicted from the 8-block write-back cache: what is
 * still cached then is written after the count), plus ext2fs_close2's estimate of the
 * superblock and descriptors about to be written, (descriptor blocks + 1) / 4.
 *
 * Every block mke2fs caches here is written, once each, in this order: the first inode-table
 * block (reserved inodes), root's block, lost+found's four, then each primary reserved GDT
 * block, the resize inode's double-indirect block, the inode-table block again (the resize
 * inode; a new insertion only if the rsv + 1 blocks before it pushed it out, as LRU does once
 * they fill the 7 other slots), the journal superblock, and at close the bitmaps mke2fs
 * writes (block bitmaps of groups without BLOCK_UNINIT, group 0's inode bitmap). Zeroing
 * (the journal, the double-indirect block, the device's tail) goes around the cache as
 * fallocate calls and does not count. Measured with strace and dumpe2fs from 16 MiB to 8 GiB.
 */
export function mke2fsKbytesWritten(g: FlexGeometry): bigint {
  const itableEvicted = g.reservedGdtBlocks + 1 >= MKE2FS_CACHE_BLOCKS;
  const bitmapsWritten = g.groupLayouts.filter((l) => !l.blockUninit).length + 1;
  const insertions = 1 + 1 + g.lostFoundBlocks.length + g.reservedGdtBlocks + 1 + (itableEvicted ? 1 : 0) + 1 + bitmapsWritten;
  const evicted = Math.max(0, insertions - MKE2FS_CACHE_BLOCKS);
  const closeEstimate = Math.floor((g.gdtBlocks + 1) / (BLOCK_BYTES / 1024));
  return BigInt(1 + MKE2FS_ZAP_KIB + (BLOCK_BYTES / 1024) * evicted + closeEstimate);
}

// ------------------------------------------------------------------------ metadata blocks

function sbFields(g: FlexGeometry, id: MkfsIdentity, journalInode: Inode, kbytesWritten: bigint): Superblock {
  const base = baseSuperblock({
    inodesCount: g.inodesCount,
    blocksCount: g.blocksCount,
    inodesPerGroup: g.inodesPerGroup,
    freeBlocks: g.groupLayouts.reduce((n, l) => n + l.freeBlocks, 0),
    freeInodes: g.inodesCount - (FIRST_INO),
    overheadBlocks: g.overheadBlocks,
  }, id, journalInode);
  return {
    ...base,
    featureCompat: COMPAT_HAS_JOURNAL | COMPAT_EXT_ATTR | COMPAT_RESIZE_INODE | COMPAT_DIR_INDEX,
    featureIncompat: INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG,
    featureRoCompat: RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_HUGE_FILE | RO_COMPAT_DIR_NLINK
      | RO_COMPAT_EXTRA_ISIZE | RO_COMPAT_METADATA_CSUM,
    reservedGdtBlocks: g.reservedGdtBlocks,
    descSize: DESC_BYTES_64BIT,
    logGroupsPerFlex: LOG_GROUPS_PER_FLEX,
    checksumType: CHECKSUM_TYPE_CRC32C,
    kbytesWritten,
  };
}

/** A block holding `sb` at `offset`, its s_checksum set. */
function encodedSuperblock(sb: Superblock, offset: number): Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  encodeSuperblock(sb, block, offset);
  const bytes = block.subarray(offset, offset + 1024);
  writeU32LE(bytes, CSUM_OFFSETS.superblock, superblockChecksum(bytes));
  return block;
}

interface GroupBitmaps {
  /** Undefined for a BLOCK_UNINIT group: mke2fs does not write it. */
  block: Uint8Array | undefined;
  /** Undefined for an INODE_UNINIT group (every group but 0). */
  inode: Uint8Array | undefined;
  blockCsum: number;
  inodeCsum: number;
}

function buildBitmaps(g: FlexGeometry, seed: number): GroupBitmaps[] {
  return g.groupLayouts.map((l) => {
    let block: Uint8Array | undefined;
    if (!l.blockUninit) {
      block = g.allocated.slice(l.firstBlock / 8, (l.firstBlock + BLOCKS_PER_GROUP) / 8);
      for (let bit = l.blocks; bit < BLOCKS_PER_GROUP; bit++) setBit(block, bit);
    }
    let inode: Uint8Array | undefined;
    if (l.group === 0) {
      inode = new Uint8Array(BLOCK_BYTES);
      for (let bit = 0; bit < FIRST_INO; bit++) setBit(inode, bit);
      for (let bit = g.inodesPerGroup; bit < 8 * BLOCK_BYTES; bit++) setBit(inode, bit);
    }
    return {
      block,
      inode,
      blockCsum: block === undefined ? 0 : bitmapChecksum(seed, block, BLOCKS_PER_GROUP),
      inodeCsum: inode === undefined ? 0 : bitmapChecksum(seed, inode, g.inodesPerGroup),
    };
  });
}

function buildGdt(g: FlexGeometry, bitmaps: readonly GroupBitmaps[], seed: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < g.gdtBlocks; i++) out.push(new Uint8Array(BLOCK_BYTES));
  g.groupLayouts.forEach((l, i) => {
    const at = i * GROUP_DESC_64_BYTES;
    const block = out[Math.floor(at / BLOCK_BYTES)] as Uint8Array;
    const offset = at % BLOCK_BYTES;
    const b = bitmaps[i] as GroupBitmaps;
    const freeInodes = i === 0 ? g.inodesPerGroup - FIRST_INO : g.inodesPerGroup;
    encodeGroupDesc64({
      blockBitmap: l.blockBitmap,
      inodeBitmap: l.inodeBitmap,
      inodeTable: l.inodeTable,
      freeBlocksCount: l.freeBlocks,
      freeInodesCount: freeInodes,
      usedDirsCount: i === 0 ? 2 : 0,
      flags: BG_INODE_ZEROED | (i === 0 ? 0 : BG_INODE_UNINIT) | (l.blockUninit ? BG_BLOCK_UNINIT : 0),
      blockBitmapCsum: b.blockCsum,
      inodeBitmapCsum: b.inodeCsum,
      itableUnused: freeInodes,
    }, block, offset);
    const desc = block.subarray(offset, offset + GROUP_DESC_64_BYTES);
    writeU16LE(desc, CSUM_OFFSETS.groupDesc, groupDescChecksum(seed, i, desc));
  });
  return out;
}

/**
 * Inodes 1 to 16 share the first table block. 1 (bad blocks: its times) and the reserved
 * 3 to 6, 9 and 10 are small inodes (extra_isize 0) carrying only a checksum, as mke2fs's
 * write of the reserved inodes leaves them; 2, 7, 8 and 11 are large.
 */
function buildFirstInodeTableBlock(g: FlexGeometry, id: MkfsIdentity, journalInode: Inode, seed: number): Uint8Array {
  assert(g.inodesPerGroup >= INODES_PER_BLOCK, 'group 0 holds the first table block whole');
  const block = new Uint8Array(BLOCK_BYTES);
  const badBlocks = emptyInode();
  badBlocks.atime = badBlocks.ctime = badBlocks.mtime = id.timeSeconds;
  const inodes = new Map<number, Inode>([
    [1, badBlocks],
    [ROOT_INO, specialInode(S_IFDIR | 0o755, [{ start: g.rootDirBlock, len: 1 }], 3, id)],
    [RESIZE_INO, resizeInode(g, id)],
    [JOURNAL_INO, journalInode],
    [LOST_FOUND_INO, specialInode(S_IFDIR | 0o700, contiguous(g.lostFoundBlocks), 2, id)],
  ]);
  for (let ino = 1; ino <= FIRST_INO; ino++) {
    const at = (ino - 1) * INODE_BYTES;
    encodeInode(inodes.get(ino) ?? emptyInode(), block, at);
    const slot = block.subarray(at, at + INODE_BYTES);
    const csum = inodeChecksum(seed, ino, slot);
    writeU16LE(slot, CSUM_OFFSETS.inodeLo, csum & 0xffff);
    if (inodes.get(ino)?.extraIsize === EXTRA_ISIZE) writeU16LE(slot, CSUM_OFFSETS.inodeHi, csum >>> 16);
  }
  return block;
}

function contiguous(blocks: readonly number[]): Array<{ start: number; len: number }> {
  const out: Array<{ start: number; len: number }> = [];
  for (const b of blocks) {
    const last = out[out.length - 1];
    if (last !== undefined && last.start + last.len === b) last.len++;
    else out.push({ start: b, len: 1 });
  }
  return out;
}

/** Groups other than 0 holding a superblock backup, ascending (the order list_backups yields). */
function backupGroups(g: FlexGeometry): number[] {
  const out: number[] = [];
  for (let group = 1; group < g.groups; group++) if (groupHasSuper(group)) out.push(group);
  return out;
}

/** Inode 7: a block-mapped file whose double-indirect block reaches every reserved GDT block and its backups. */
function resizeInode(g: FlexGeometry, id: MkfsIdentity): Inode {
  const inode = emptyInode();
  inode.mode = S_IFREG | 0o600;
  inode.linksCount = 1;
  inode.size = (ADDRS_PER_BLOCK * ADDRS_PER_BLOCK + ADDRS_PER_BLOCK + DIRECT_BLOCKS) * BLOCK_BYTES;
  inode.atime = inode.ctime = inode.mtime = inode.crtime = id.timeSeconds;
  inode.blocks = (1 + g.reservedGdtBlocks * (1 + backupGroups(g).length)) * SECTORS_PER_BLOCK;
  inode.extraIsize = EXTRA_ISIZE;
  writeU32LE(inode.block, 4 * DIND_SLOT, g.resizeDindBlock);
  return inode;
}

/** The double-indirect block and each primary reserved GDT block's list of its backups. */
function setResizeBlocks(g: FlexGeometry, blocks: Map<number, Uint8Array>, zeroRanges: MkfsImage['zeroRanges']): void {
  const dind = new Uint8Array(BLOCK_BYTES);
  const backups = backupGroups(g);
  for (let i = 0; i < g.reservedGdtBlocks; i++) {
    const primary = 1 + g.gdtBlocks + i;
    writeU32LE(dind, 4 * ((g.gdtBlocks + i) % ADDRS_PER_BLOCK), primary);
    if (backups.length === 0) {
      zeroRanges.push({ first: primary, count: 1 });
      continue;
    }
    const list = new Uint8Array(BLOCK_BYTES);
    backups.forEach((group, k) => writeU32LE(list, 4 * k, primary + group * BLOCKS_PER_GROUP));
    blocks.set(primary, list);
  }
  blocks.set(g.resizeDindBlock, dind);
}

function sealedDirBlock(entries: ReadonlyArray<readonly [number, string]>, ino: number, seed: number): Uint8Array {
  const block = dirBlock(entries, DIR_TAIL_BYTES);
  encodeDirTail(block, 0);
  encodeDirTail(block, dirBlockChecksum(inodeSeed(seed, ino, 0), block));
  return block;
}
