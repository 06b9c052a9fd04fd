/**
 * Layout of a new file system: what `mkfs.ext4 -F -q -b 4096 -I 256 -T default -m 0
 * -O none,has_journal,extent,filetype,sparse_super` (e2fsprogs 1.47) chooses for a device.
 *
 * Owns the arithmetic of e2fsprogs' ext2fs_initialize, ext2fs_allocate_group_table,
 * ext2fs_default_journal_size and mkjournal's get_midpoint_journal_block, for this feature
 * set (no flex_bg, no resize_inode, no 64bit, no meta_bg), pinned against the real tool by
 * test/fs/geometry.test.ts. The group arithmetic (groupTables, tableFields) is shared with
 * the default profile's layout (geometry-flex.ts), which adds 64-byte descriptors and
 * reserved GDT blocks to it:
 * - inodes wanted = device bytes / 16384 (the inode ratio of -T default), spread over the
 *   groups rounded up, then rounded up to fill whole inode-table blocks;
 * - a last group too small to hold its own metadata plus 50 blocks is dropped, and the
 *   inodes wanted are NOT recomputed (so the remaining groups get more inodes each);
 * - group metadata: [superblock, GDT] when the group carries a backup (sparse_super),
 *   then block bitmap, inode bitmap, inode table; nothing is shared between groups;
 * - root's block is the first free block of group 0, lost+found's 4 blocks follow, and the
 *   journal (one extent) starts at the first free block of the group with the most free
 *   blocks among the middle group and its two neighbours (earliest on a tie).
 *
 * Supported devices: 16 MiB up to (not including) 16 GiB. At 16 GiB mkfs.ext4's journal
 * grows to 32768 blocks, more than any group has free, and becomes two extents; the GDT
 * would also outgrow one block past 128 groups. Outside that range computeGeometry throws
 * RangeError rather than guess.
 */
import { assert } from '../core/assert';
import { BLOCK_BYTES, BLOCKS_PER_GROUP, EXTENT_MAX_LEN, FIRST_INO, GROUP_DESC_BYTES, INODE_BYTES } from './format';

export const MIB = 2 ** 20;
export const MIN_FS_DEVICE_BYTES = 16 * MIB;
/** Exclusive: a device must be smaller than this. */
export const MAX_FS_DEVICE_BYTES_EXCLUSIVE = 16 * 2 ** 30;
/** -T default's inode_ratio in mke2fs.conf (and mke2fs's built-in default). */
export const INODE_RATIO_BYTES = 16384;
/** ext2fs_initialize keeps a partial last group only if it has this many blocks beyond its metadata. */
export const LAST_GROUP_SLACK_BLOCKS = 50;
/** lost+found is created with 16 KiB so e2fsck never has to grow it while it relinks inodes. */
export const LOST_FOUND_BLOCKS = 4;
const INODES_PER_BLOCK = BLOCK_BYTES / INODE_BYTES;
const MAX_INODES_PER_GROUP = 8 * BLOCK_BYTES;

export interface GroupLayout {
  group: number;
  firstBlock: number;
  /** Blocks in this group (the last group may be partial). */
  blocks: number;
  /** Carries a superblock and GDT copy (sparse_super). */
  hasSuper: boolean;
  /** GDT blocks in this group: the file system's GDT size when hasSuper, else 0. */
  gdtBlocks: number;
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  inodeTableBlocks: number;
  /** First block after this group's own metadata (root, lost+found and the journal may follow). */
  firstFreeBlock: number;
}

export interface Geometry {
  deviceBytes: number;
  blocksCount: number;
  groups: number;
  inodesPerGroup: number;
  inodesCount: number;
  inodeTableBlocks: number;
  gdtBlocks: number;
  journalBlocks: number;
  groupLayouts: GroupLayout[];
  /** Device blocks past blocksCount: a dropped last group, never used by the file system. */
  unusedDeviceBlocks: number;
  rootDirBlock: number;
  /** lost+found's LOST_FOUND_BLOCKS blocks start here. */
  lostFoundFirstBlock: number;
  journalFirstBlock: number;
  journalGroup: number;
  /** s_overhead_clusters: every group's metadata plus the journal. */
  overheadBlocks: number;
}

/** sparse_super: groups 0, 1 and the powers of 3, 5 and 7 carry a backup superblock and GDT. */
export function groupHasSuper(group: number): boolean {
  assert(Number.isSafeInteger(group) && group >= 0, () => `group ${group}`);
  if (group <= 1) return true;
  if (group % 2 === 0) return false;
  return isPowerOf(group, 3) || isPowerOf(group, 5) || isPowerOf(group, 7);
}

/** ext2fs_default_journal_size (e2fsprogs 1.47), in blocks, for a file system of blocksCount blocks. */
export function journalDefaultBlocks(blocksCount: number): number {
  if (!Number.isSafeInteger(blocksCount) || blocksCount < 2048) {
    throw new RangeError(`journalDefaultBlocks(${blocksCount}): mkfs.ext4 makes no journal below 2048 blocks`);
  }
  if (blocksCount < 32768) return 1024;
  if (blocksCount < 256 * 1024) return 4096;
  if (blocksCount < 512 * 1024) return 8192;
  if (blocksCount < 4096 * 1024) return 16384;
  if (blocksCount < 8192 * 1024) return 32768;
  if (blocksCount < 16384 * 1024) return 65536;
  if (blocksCount < 32768 * 1024) return 131072;
  return 262144;
}

/** The device's whole blocks; a RangeError outside the sizes both profiles support. */
export function supportedDeviceBlocks(deviceBytes: number): number {
  if (!Number.isSafeInteger(deviceBytes) || deviceBytes < MIN_FS_DEVICE_BYTES || deviceBytes >= MAX_FS_DEVICE_BYTES_EXCLUSIVE) {
    throw new RangeError(
      `a device of ${deviceBytes} bytes is outside the sizes this mkfs supports: at least 16 MiB ` +
        `(${MIN_FS_DEVICE_BYTES} bytes) and below 16 GiB (${MAX_FS_DEVICE_BYTES_EXCLUSIVE} bytes), where mkfs.ext4's ` +
        'journal no longer fits one extent',
    );
  }
  return Math.floor(deviceBytes / BLOCK_BYTES);
}

export function computeGeometry(deviceBytes: number): Geometry {
  const deviceBlocks = supportedDeviceBlocks(deviceBytes);
  const tables = groupTables(deviceBlocks, MINIMAL_TABLES);
  const groupLayouts = layoutGroups(tables);
  const placed = placeFiles(groupLayouts, journalDefaultBlocks(tables.blocksCount));
  const metadataBlocks = groupLayouts.reduce((n, g) => n + (g.firstFreeBlock - g.firstBlock), 0);
  return {
    ...tableFields(deviceBytes, deviceBlocks, tables),
    journalBlocks: placed.journalBlocks,
    groupLayouts,
    rootDirBlock: placed.rootDirBlock,
    lostFoundFirstBlock: placed.rootDirBlock + 1,
    journalFirstBlock: placed.journalFirstBlock,
    journalGroup: placed.journalGroup,
    overheadBlocks: metadataBlocks + placed.journalBlocks,
  };
}

/** The fields every profile's layout takes straight from its group arithmetic. */
export function tableFields(deviceBytes: number, deviceBlocks: number, t: GroupTables): Pick<Geometry,
  'deviceBytes' | 'blocksCount' | 'groups' | 'inodesPerGroup' | 'inodesCount' | 'inodeTableBlocks' | 'gdtBlocks' | 'unusedDeviceBlocks'> {
  return {
    deviceBytes,
    blocksCount: t.blocksCount,
    groups: t.groups,
    inodesPerGroup: t.inodesPerGroup,
    inodesCount: t.inodesPerGroup * t.groups,
    inodeTableBlocks: t.inodeTableBlocks,
    gdtBlocks: t.gdtBlocks,
    unusedDeviceBlocks: deviceBlocks - t.blocksCount,
  };
}

// ----------------------------------------------------------------------------- internals

export interface GroupTables {
  blocksCount: number;
  groups: number;
  inodesPerGroup: number;
  inodeTableBlocks: number;
  gdtBlocks: number;
  /** s_reserved_gdt_blocks: 0 without resize_inode. */
  reservedGdtBlocks: number;
}

/** What the group arithmetic depends on in a feature profile. */
export interface TableParams {
  /** 32, or 64 with the 64bit feature. */
  descBytes: number;
  /** s_reserved_gdt_blocks for a file system of this many blocks and descriptor blocks. */
  reservedGdtBlocks: (blocksCount: number, gdtBlocks: number) => number;
}

const MINIMAL_TABLES: TableParams = { descBytes: GROUP_DESC_BYTES, reservedGdtBlocks: () => 0 };

/**
 * ext2fs_initialize's group arithmetic (shared by the feature profiles): inodes wanted =
 * device bytes / 16384 (computed once, from the device), spread over the groups rounded
 * up, then rounded up to whole inode-table blocks; a partial last group too small for its
 * metadata plus 50 blocks is dropped. The retry runs at most twice: dropping the last group
 * leaves a multiple of the group size, which has no partial group to drop.
 */
export function groupTables(deviceBlocks: number, params: TableParams): GroupTables {
  // mke2fs.c computes s_inodes_count once, from the device size, before ext2fs_initialize.
  const inodesWanted = Math.max(FIRST_INO + 1, Math.floor((deviceBlocks * BLOCK_BYTES) / INODE_RATIO_BYTES));
  let blocksCount = deviceBlocks;
  for (let attempt = 0; attempt < 2; attempt++) {
    const groups = Math.ceil(blocksCount / BLOCKS_PER_GROUP);
    const ipgWanted = Math.min(Math.ceil(inodesWanted / groups), MAX_INODES_PER_GROUP);
    const inodeTableBlocks = Math.ceil(ipgWanted / INODES_PER_BLOCK);
    // Filling whole table blocks keeps ipg a multiple of 16, hence of 8 as the bitmap code needs.
    const inodesPerGroup = inodeTableBlocks * INODES_PER_BLOCK;
    const gdtBlocks = Math.ceil((groups * params.descBytes) / BLOCK_BYTES);
    const reservedGdtBlocks = params.reservedGdtBlocks(blocksCount, gdtBlocks);
    const partial = blocksCount % BLOCKS_PER_GROUP;
    const lastOverhead = 2 + inodeTableBlocks + (groupHasSuper(groups - 1) ? 1 + gdtBlocks + reservedGdtBlocks : 0);
    if (partial !== 0 && groups === 1 && partial < lastOverhead) {
      throw new RangeError(`${blocksCount} blocks cannot hold one group's metadata (${lastOverhead} blocks)`);
    }
    if (partial !== 0 && partial < lastOverhead + LAST_GROUP_SLACK_BLOCKS) {
      blocksCount -= partial;
      continue;
    }
    return { blocksCount, groups, inodesPerGroup, inodeTableBlocks, gdtBlocks, reservedGdtBlocks };
  }
  return assertNever('the last-group retry ran more than twice');
}

function layoutGroups(t: GroupTables): GroupLayout[] {
  const layouts: GroupLayout[] = [];
  for (let group = 0; group < t.groups; group++) {
    const firstBlock = group * BLOCKS_PER_GROUP;
    const hasSuper = groupHasSuper(group);
    const gdtBlocks = hasSuper ? t.gdtBlocks : 0;
    const blockBitmap = firstBlock + (hasSuper ? 1 + gdtBlocks : 0);
    layouts.push({
      group,
      firstBlock,
      blocks: Math.min(BLOCKS_PER_GROUP, t.blocksCount - firstBlock),
      hasSuper,
      gdtBlocks,
      blockBitmap,
      inodeBitmap: blockBitmap + 1,
      inodeTable: blockBitmap + 2,
      inodeTableBlocks: t.inodeTableBlocks,
      firstFreeBlock: blockBitmap + 2 + t.inodeTableBlocks,
    });
  }
  return layouts;
}

interface Placement {
  rootDirBlock: number;
  journalFirstBlock: number;
  journalGroup: number;
  journalBlocks: number;
}

// mke2fs creates the root directory, then lost+found (grown to 16 KiB block by block), then
// the journal; each allocation takes the first free blocks from its goal onwards.
function placeFiles(layouts: readonly GroupLayout[], journalBlocks: number): Placement {
  const group0 = layouts[0] as GroupLayout;
  const rootDirBlock = group0.firstFreeBlock;
  const dirBlocks = 1 + LOST_FOUND_BLOCKS;
  const freeBlocks = layouts.map((g) => g.firstBlock + g.blocks - g.firstFreeBlock - (g.group === 0 ? dirBlocks : 0));
  const journalGroup = midpointJournalGroup(layouts, freeBlocks);
  const chosen = layouts[journalGroup] as GroupLayout;
  const journalFirstBlock = chosen.firstFreeBlock + (journalGroup === 0 ? dirBlocks : 0);
  assert(journalBlocks <= (freeBlocks[journalGroup] as number) && journalBlocks <= EXTENT_MAX_LEN,
    () => `a ${journalBlocks}-block journal does not fit one extent in group ${journalGroup}`);
  return { rootDirBlock, journalFirstBlock, journalGroup, journalBlocks };
}

// get_midpoint_journal_block without flex_bg: the group holding the middle block, compared
// with its neighbours; a strictly larger free count wins, so ties keep the lowest group.
function midpointJournalGroup(layouts: readonly GroupLayout[], freeBlocks: readonly number[]): number {
  const blocksCount = layouts.reduce((n, g) => n + g.blocks, 0);
  const middle = Math.floor(Math.floor(blocksCount / 2) / BLOCKS_PER_GROUP);
  const start = middle > 0 ? middle - 1 : middle;
  const end = middle + 1 < layouts.length ? middle + 1 : middle;
  let best = start;
  for (let g = start + 1; g <= end; g++) {
    if ((freeBlocks[g] as number) > (freeBlocks[best] as number)) best = g;
  }
  return best;
}

function isPowerOf(value: number, base: number): boolean {
  let n = value;
  while (n % base === 0) n /= base;
  return n === 1;
}

function assertNever(message: string): never {
  assert(false, message);
}
