/**
 * Layout of a new file system of the `default` feature profile (mkfs.ext4's default features
 * for 4 KiB blocks: 64bit, flex_bg, resize_inode, metadata_csum... see fs/mkfs-default.ts for
 * the pinned command), for a device size.
 *
 * Owns the arithmetic of e2fsprogs 1.47's ext2fs_initialize (shared with the minimal profile
 * through geometry.ts's groupTables, here with 64-byte descriptors and reserved GDT blocks),
 * calc_reserved_gdt_blocks, ext2fs_allocate_group_table's flex_bg placement, and where
 * mke2fs then allocates the root directory, lost+found, the resize inode's double-indirect
 * block and the journal (get_midpoint_journal_block, then a first-fit fallocate). Rather
 * than closed formulas it replays those allocations on a block bitmap, in mke2fs's order,
 * with the same search rules (first fit from a goal, the flex group's packing and its
 * fallbacks), so layouts nobody measured (gaps in a one-group file system, a second flex
 * group) come out as mke2fs makes them; test/fs/mkfs-default.test.ts holds the result to
 * the real tool whole-image.
 *
 * Invariants:
 * - pure: a function of the device size;
 * - the returned `allocated` bitmap marks exactly the blocks the new file system uses (group
 *   metadata, reserved GDT blocks, root, lost+found, the resize inode's block, the journal);
 *   descriptors' free counts and bitmaps are derived from it, so they cannot disagree;
 * - the journal is at most EXTENT_ROOT_MAX extents (it fits the inode): larger layouts throw
 *   RangeError rather than guess how mke2fs would grow the tree.
 */
import { assert } from '../core/assert';
import { BLOCK_BYTES, BLOCKS_PER_GROUP, EXTENT_MAX_LEN, EXTENT_ROOT_MAX } from './format';
import { LOST_FOUND_BLOCKS, groupHasSuper, groupTables, journalDefaultBlocks, supportedDeviceBlocks, tableFields } from './geometry';

/** 64bit: descriptors are 64 bytes (s_desc_size). */
export const DESC_BYTES_64BIT = 64;
/** s_log_groups_per_flex: mke2fs.conf's default flex_bg_size of 16. */
export const LOG_GROUPS_PER_FLEX = 4;
const GROUPS_PER_FLEX = 1 << LOG_GROUPS_PER_FLEX;
/** Block numbers one indirect block holds (4096 / 4). */
export const ADDRS_PER_BLOCK = BLOCK_BYTES / 4;
/** calc_reserved_gdt_blocks sizes the GDT for growth up to 1024 times the file system. */
const RESIZE_GROWTH_FACTOR = 1024;
const U32_MAX = 0xffffffff;

export interface FlexGroupLayout {
  group: number;
  firstBlock: number;
  blocks: number;
  hasSuper: boolean;
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  /** Free blocks once mkfs is done (bg_free_blocks_count). */
  freeBlocks: number;
  /** BLOCK_UNINIT: nothing but its superblock backup is in the group (never the last group). */
  blockUninit: boolean;
}

export interface JournalExtent {
  /** First logical block. */
  block: number;
  start: number;
  len: number;
}

export interface FlexGeometry extends ReturnType<typeof tableFields> {
  reservedGdtBlocks: number;
  groupLayouts: FlexGroupLayout[];
  rootDirBlock: number;
  /** lost+found's blocks, in logical order. */
  lostFoundBlocks: number[];
  /** The resize inode's double-indirect block. */
  resizeDindBlock: number;
  journalBlocks: number;
  journalExtents: JournalExtent[];
  /** s_overhead_clusters: superblock copies, GDT and reserved GDT, bitmaps, inode tables, journal. */
  overheadBlocks: number;
  /** One bit a block, LSB first, over blocksCount (rounded up to whole groups): set = in use. */
  allocated: Uint8Array;
}

/** calc_reserved_gdt_blocks: descriptor blocks for growth to 1024 times the size (capped at 2^32 blocks), less those in use. */
export function reservedGdtBlocksFor(blocksCount: number, gdtBlocks: number): number {
  const maxBlocks = blocksCount < Math.floor(U32_MAX / RESIZE_GROWTH_FACTOR) ? blocksCount * RESIZE_GROWTH_FACTOR : U32_MAX;
  const growthGroups = Math.ceil(maxBlocks / BLOCKS_PER_GROUP);
  const wanted = Math.ceil(growthGroups / (BLOCK_BYTES / DESC_BYTES_64BIT)) - gdtBlocks;
  return Math.min(wanted, ADDRS_PER_BLOCK);
}

export function computeFlexGeometry(deviceBytes: number): FlexGeometry {
  const deviceBlocks = supportedDeviceBlocks(deviceBytes);
  const t = groupTables(deviceBlocks, { descBytes: DESC_BYTES_64BIT, reservedGdtBlocks: reservedGdtBlocksFor });
  const map = new BlockMap(t.blocksCount, t.groups);
  for (let g = 0; g < t.groups; g++) {
    if (groupHasSuper(g)) map.mark(g * BLOCKS_PER_GROUP, 1 + t.gdtBlocks + t.reservedGdtBlocks);
  }
  const tables = allocateFlexTables(map, t.groups, t.inodeTableBlocks);
  const overheadBeforeFiles = map.countUsed(0, t.blocksCount);
  // mke2fs: root, then lost+found grown to 16 KiB, then the resize inode, then the journal.
  const rootDirBlock = map.allocFirstFree(0);
  const lostFoundBlocks: number[] = [map.allocFirstFree(0)];
  while (lostFoundBlocks.length < LOST_FOUND_BLOCKS) lostFoundBlocks.push(map.allocFirstFree(lostFoundBlocks[0] as number));
  // ext2fs_create_resize_inode's goal: just past group 0's metadata as it would be without flex_bg.
  const resizeDindBlock = map.allocFirstFree(1 + t.gdtBlocks + t.reservedGdtBlocks + 2 + t.inodeTableBlocks);
  const journalBlocks = journalDefaultBlocks(t.blocksCount);
  const journalExtents = allocateJournal(map, t.groups, t.blocksCount, journalBlocks);
  const groupLayouts: FlexGroupLayout[] = [];
  for (let g = 0; g < t.groups; g++) {
    const firstBlock = g * BLOCKS_PER_GROUP;
    const blocks = Math.min(BLOCKS_PER_GROUP, t.blocksCount - firstBlock);
    const hasSuper = groupHasSuper(g);
    const superBlocks = hasSuper ? 1 + t.gdtBlocks + t.reservedGdtBlocks : 0;
    const used = map.countUsed(firstBlock, firstBlock + blocks);
    const placed = tables[g] as { blockBitmap: number; inodeBitmap: number; inodeTable: number };
    groupLayouts.push({
      group: g, firstBlock, blocks, hasSuper, ...placed,
      freeBlocks: blocks - used,
      blockUninit: g !== t.groups - 1 && used === superBlocks,
    });
  }
  return {
    ...tableFields(deviceBytes, deviceBlocks, t),
    reservedGdtBlocks: t.reservedGdtBlocks,
    groupLayouts,
    rootDirBlock,
    lostFoundBlocks,
    resizeDindBlock,
    journalBlocks,
    journalExtents,
    overheadBlocks: overheadBeforeFiles + journalBlocks,
    allocated: map.bits,
  };
}

// ----------------------------------------------------------------------------- internals

interface TablePlace {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
}

/**
 * ext2fs_allocate_group_table for every group with flex_bg: a flex group's block bitmaps
 * packed together, then its inode bitmaps, then its inode tables, each run `tableOffset`
 * apart for a group that starts a flex group.
 */
function allocateFlexTables(map: BlockMap, groups: number, itableBlocks: number): TablePlace[] {
  const out: TablePlace[] = [];
  for (let g = 0; g < groups; g++) {
    const lastGroup = Math.min(g | (GROUPS_PER_FLEX - 1), groups - 1);
    const remaining = lastGroup - g + 1;
    const lastBlock = lastBlockOf(lastGroup, map.blocksCount);
    const startsFlex = g % GROUPS_PER_FLEX === 0;
    // The last flex group keeps its runs contiguous when it has fewer groups than a full one.
    let tableOffset = GROUPS_PER_FLEX;
    if (startsFlex && lastGroup === groups - 1) {
      const inFlex = lastGroup & (GROUPS_PER_FLEX - 1);
      tableOffset = inFlex === 0 ? GROUPS_PER_FLEX : inFlex + 1;
    }
    const prev = out[g - 1];
    const bbGoal = flexOffset(map, g, groups, startsFlex ? 0 : (prev as TablePlace).blockBitmap + 1, remaining, 1);
    const blockBitmap = map.freeRange(bbGoal, lastBlock, 1) ?? map.freeRange(g * BLOCKS_PER_GROUP, lastBlock, 1);
    assert(blockBitmap !== undefined, () => `no block for group ${g}'s block bitmap`);
    map.mark(blockBitmap, 1);
    const ibGoal = flexOffset(map, g, groups, startsFlex ? blockBitmap + tableOffset : (prev as TablePlace).inodeBitmap + 1, remaining, 1);
    const inodeBitmap = map.freeRange(ibGoal, lastBlock, 1) ?? map.freeRange(g * BLOCKS_PER_GROUP, lastBlock, 1);
    assert(inodeBitmap !== undefined, () => `no block for group ${g}'s inode bitmap`);
    map.mark(inodeBitmap, 1);
    const itGoal = flexOffset(map, g, groups, startsFlex ? inodeBitmap + tableOffset : (prev as TablePlace).inodeTable + itableBlocks,
      remaining, itableBlocks);
    const inodeTable = map.freeRange(itGoal, lastBlock, itableBlocks);
    assert(inodeTable !== undefined, () => `no room for group ${g}'s inode table`);
    map.mark(inodeTable, itableBlocks);
    out.push({ blockBitmap, inodeBitmap, inodeTable });
  }
  return out;
}

/**
 * flexbg_offset: where a flex group's next run of `remaining` elements goes: the previous
 * element's successor if a run fits there, else the first fit in the flex group (a whole
 * run, then one element, then one element anywhere before its end).
 */
function flexOffset(map: BlockMap, group: number, groups: number, goal: number, remaining: number, elemBlocks: number): number {
  const size = Math.min(remaining * elemBlocks, BLOCKS_PER_GROUP / 4);
  if (goal !== 0 && goal < map.blocksCount) {
    const near = map.freeRange(goal, goal + size, elemBlocks);
    if (near !== undefined) return near;
  }
  const flexStart = (group & ~(GROUPS_PER_FLEX - 1)) * BLOCKS_PER_GROUP;
  const lastBlock = lastBlockOf(Math.min(group | (GROUPS_PER_FLEX - 1), groups - 1), map.blocksCount);
  return map.freeRange(flexStart, lastBlock, size) ?? map.freeRange(flexStart, lastBlock, elemBlocks)
    ?? map.freeRange(0, lastBlock, elemBlocks) ?? 0;
}

/** get_midpoint_journal_block, then fallocate's first-fit runs from there. */
function allocateJournal(map: BlockMap, groups: number, blocksCount: number, journalBlocks: number): JournalExtent[] {
  const freeIn = (g: number): number => {
    const first = g * BLOCKS_PER_GROUP;
    return Math.min(BLOCKS_PER_GROUP, blocksCount - first) - map.countUsed(first, Math.min(first + BLOCKS_PER_GROUP, blocksCount));
  };
  let group = Math.floor(Math.floor(blocksCount / 2) / BLOCKS_PER_GROUP);
  let start: number;
  if (group > GROUPS_PER_FLEX) {
    group &= ~(GROUPS_PER_FLEX - 1);
    while (group < groups && freeIn(group) === 0) group++;
    if (group === groups) group = 0;
    start = group;
  } else {
    start = group > 0 ? group - 1 : group;
  }
  const end = group + 1 < groups ? group + 1 : group;
  let best = start;
  for (let g = start + 1; g <= end; g++) if (freeIn(g) > freeIn(best)) best = g;
  let next = map.firstFree(best * BLOCKS_PER_GROUP, blocksCount) ?? best * BLOCKS_PER_GROUP;
  const extents: JournalExtent[] = [];
  let logical = 0;
  while (logical < journalBlocks) {
    const want = Math.min(journalBlocks - logical, EXTENT_MAX_LEN);
    const run = map.firstFreeRun(next, want);
    assert(run !== undefined, () => `no room for the journal's block ${logical}`);
    map.mark(run.start, run.len);
    extents.push({ block: logical, start: run.start, len: run.len });
    logical += run.len;
    next = run.start + run.len >= blocksCount ? 0 : run.start + run.len;
  }
  if (extents.length > EXTENT_ROOT_MAX) {
    throw new RangeError(`the journal would take ${extents.length} extents, more than the inode holds: this layout is not supported`);
  }
  return extents;
}

function lastBlockOf(group: number, blocksCount: number): number {
  return Math.min((group + 1) * BLOCKS_PER_GROUP, blocksCount) - 1;
}

/** The block bitmap mke2fs allocates from, with its search rules. */
class BlockMap {
  readonly bits: Uint8Array;

  constructor(readonly blocksCount: number, groups: number) {
    this.bits = new Uint8Array((groups * BLOCKS_PER_GROUP) / 8);
  }

  used(block: number): boolean {
    return ((this.bits[block >>> 3] as number) & (1 << (block & 7))) !== 0;
  }

  mark(first: number, count: number): void {
    assert(first >= 0 && first + count <= this.blocksCount, () => `blocks ${first}+${count} outside the file system`);
    for (let b = first; b < first + count; b++) {
      assert(!this.used(b), () => `block ${b} allocated twice`);
      this.bits[b >>> 3] = (this.bits[b >>> 3] as number) | (1 << (b & 7));
    }
  }

  countUsed(first: number, end: number): number {
    let n = 0;
    for (let b = first; b < end; b++) if (this.used(b)) n++;
    return n;
  }

  /** The first free block in [from, end), or undefined. */
  firstFree(from: number, end: number): number | undefined {
    for (let b = from; b < end; b++) if (!this.used(b)) return b;
    return undefined;
  }

  /** ext2fs_new_block2: the first free block from `goal` to the end, else from block 0; marked used. */
  allocFirstFree(goal: number): number {
    const block = this.firstFree(goal, this.blocksCount) ?? this.firstFree(0, goal);
    assert(block !== undefined, 'the file system has a free block');
    this.mark(block, 1);
    return block;
  }

  /** ext2fs_new_range without flags: the first free block from `goal` (wrapping once), and the free run there, up to `len`. */
  firstFreeRun(goal: number, len: number): { start: number; len: number } | undefined {
    const start = this.firstFree(goal, this.blocksCount) ?? this.firstFree(0, goal);
    if (start === undefined) return undefined;
    let end = start;
    while (end < Math.min(start + len, this.blocksCount) && !this.used(end)) end++;
    return { start, len: end - start };
  }

  /**
   * ext2fs_get_free_blocks2: the first b from `start` where `count` blocks are free, stepping
   * one block at a time until `finish` (0: start); past the end it fails when finish > start,
   * else wraps to block 0.
   */
  freeRange(start: number, finish: number, count: number): number | undefined {
    const stop = finish === 0 ? start : finish;
    const n = Math.max(count, 1);
    let b = start;
    for (let steps = 0; steps <= this.blocksCount + 1; steps++) {
      if (b + n - 1 >= this.blocksCount) {
        if (stop > start) return undefined;
        b = 0;
      }
      const lastUsed = this.lastUsedIn(b, n);
      if (lastUsed < 0) return b;
      // Every b up to lastUsed overlaps it; the original steps through them, so stop or wrap where it would.
      const wrapAt = this.blocksCount - n + 1;
      const next = Math.min(lastUsed + 1, Math.max(wrapAt, b + 1));
      if (stop > b && stop <= next) return undefined;
      b = next;
    }
    return assertNever('freeRange scanned the whole file system twice');
  }

  private lastUsedIn(first: number, count: number): number {
    for (let b = first + count - 1; b >= first; b--) if (this.used(b)) return b;
    return -1;
  }
}

function assertNever(message: string): never {
  assert(false, message);
}
