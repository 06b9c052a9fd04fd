/**
 * Extent trees: reading a file's block map (any depth, as the kernel and debugfs write
 * them) and storing it back as a tree of depth 0 (up to four extents in the inode) or
 * depth 1 (an index in the inode over up to four leaf blocks of 340 extents); and the
 * kernel's block validity (fs/ext4/block_validity.c), which every extent and index entry
 * read from disk must pass.
 *
 * Invariants of a stored map: extents sorted by logical block, never overlapping, each at
 * most 32768 blocks long and inside the device; adjacent extents that could merge are merged;
 * the inode's tree blocks are exactly `treeBlocks`. Every walk over on-disk nodes is bounded
 * (depth at most 5, every node visited once), and anything malformed is a CorruptionError.
 *
 * What a node must pass, as the kernel's __ext4_ext_check has it: the header (format.ts's
 * decoder, whose eh_max range is e2fsck's max-2..max, stricter than the kernel's 1..max); an
 * index node has entries; each entry passes ext4_valid_extent / ext4_valid_extent_idx: a
 * leaf's logical range does not wrap 2^32, and the blocks it names are valid (`BlockValidity`:
 * past s_first_data_block, inside the file system, in no system zone but the inode's own); a
 * node below the root starts at its parent index's logical block and has the depth one less.
 * The root in i_block is checked when the inode is read by name (`checkExtentRoot`, from the
 * inode table's iget), every deeper node when the map is loaded (`loadFileMap`), so a bad leaf
 * block fails the call that reads the file, not its lstat, as in the kernel (EUCLEAN, as its
 * DAX and direct I/O paths answer; its page cache reports such a read as EIO).
 */
import { CorruptionError } from '../core/errors';
import {
  BLOCK_BYTES, EXTENT_BLOCK_MAX, EXTENT_MAX_LEN, EXTENT_ROOT_MAX, EXTENTS_FL, ExtentLeaf, ExtentNode, GroupDesc, INCOMPAT_FLEX_BG,
  I_BLOCK_BYTES, INODE_BYTES, Inode, RO_COMPAT_SPARSE_SUPER, Superblock, TWO_POW_32, decodeExtentNode, encodeExtentNode,
  groupDescBytes,
} from './format';
import { groupHasSuper } from './geometry';
import type { MetaStore } from './meta';

export const MAX_TREE_DEPTH = 5;
/** Depth 1 holds at most this many extents; a file that needs more gets EFBIG. */
export const MAX_STORED_EXTENTS = EXTENT_ROOT_MAX * EXTENT_BLOCK_MAX;

export interface FileMap {
  leaves: ExtentLeaf[];
  /** Blocks of the tree below the root (index and leaf blocks). */
  treeBlocks: number[];
}

export function emptyMap(): FileMap {
  return { leaves: [], treeBlocks: [] };
}

/** Blocks [start, end) the kernel protects (an ext4_system_zone), owned by inode `ino`; 0 is the file system's metadata. */
export interface SystemZone {
  readonly start: number;
  readonly end: number;
  readonly ino: number;
}

/**
 * The kernel's block validity (ext4_inode_block_valid, on by default): which blocks an
 * inode's extents and index entries may name. The zones are sorted and apart (adjacent zones
 * of one owner merged), so a range is checked by a binary search, not a walk of the blocks.
 * Zones of different owners that overlap (which makes the kernel refuse the mount) become one
 * zone owned by nobody.
 */
export class BlockValidity {
  private readonly zones: readonly SystemZone[];

  constructor(private readonly blocksCount: number, private readonly firstDataBlock: number, zones: readonly SystemZone[]) {
    this.zones = mergeZones(zones);
  }

  /** May inode `ino` map [start, start + count)? Past s_first_data_block, inside the file system, in no zone but its own. */
  valid(ino: number, start: number, count: number): boolean {
    if (start <= this.firstDataBlock || start + count > this.blocksCount) return false;
    const end = start + count;
    // The last zone that starts before the range ends: zones are apart, so their ends rise
    // with their starts, and the zones meeting the range are it and the ones just before it.
    let lo = 0;
    let hi = this.zones.length - 1;
    let last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.zones[mid].start < end) {
        last = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    for (let i = last; i >= 0 && this.zones[i].end > start; i--) {
      if (this.zones[i].ino !== ino) return false;
    }
    return true;
  }
}

function mergeZones(zones: readonly SystemZone[]): SystemZone[] {
  const sorted = zones.filter((z) => z.end > z.start).sort((a, b) => a.start - b.start || a.end - b.end || a.ino - b.ino);
  const out: SystemZone[] = [];
  for (const z of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && (z.start < prev.end || (z.start === prev.end && z.ino === prev.ino))) {
      out[out.length - 1] = { start: prev.start, end: Math.max(prev.end, z.end), ino: z.ino === prev.ino ? z.ino : 0 };
    } else {
      out.push(z);
    }
  }
  return out;
}

/** Only the range checks: what the kernel applies while it is still building the zones (the journal's own map at mount). */
export function rangeValidity(blocksCount: number): BlockValidity {
  return new BlockValidity(blocksCount, 0, []);
}

/** The journal inode, whose data blocks are its own zone. */
export interface JournalZoneSource {
  readonly ino: number;
  readonly inode: Inode;
  readonly map: FileMap;
}

/**
 * The kernel's system zones (ext4_setup_system_zone): in each group, the superblock and
 * descriptor-table copy where sparse_super puts one (every group without flex_bg, whose
 * flex size is 1), the two bitmaps and the inode table; and the blocks mapping the journal
 * inode's first i_size bytes (ext4_protect_reserved_inode), which only the journal may map.
 */
export function systemZones(sb: Superblock, descs: readonly GroupDesc[], journal?: JournalZoneSource): BlockValidity {
  const gdtBlocks = Math.ceil((descs.length * groupDescBytes(sb)) / BLOCK_BYTES);
  const flexSize = (sb.featureIncompat & INCOMPAT_FLEX_BG) !== 0 ? 2 ** sb.logGroupsPerFlex : 1;
  const tableBlocks = Math.ceil((sb.inodesPerGroup * INODE_BYTES) / BLOCK_BYTES);
  const sparse = (sb.featureRoCompat & RO_COMPAT_SPARSE_SUPER) !== 0;
  const zones: SystemZone[] = [];
  descs.forEach((d, g) => {
    // with flex_bg the kernel protects the copies of the first five groups and of each flex group's first
    if ((!sparse || groupHasSuper(g)) && (flexSize === 1 || g < 5 || g % flexSize === 0)) {
      const first = sb.firstDataBlock + g * sb.blocksPerGroup;
      zones.push({ start: first, end: first + 1 + gdtBlocks, ino: 0 });
    }
    zones.push({ start: d.blockBitmap, end: d.blockBitmap + 1, ino: 0 });
    zones.push({ start: d.inodeBitmap, end: d.inodeBitmap + 1, ino: 0 });
    zones.push({ start: d.inodeTable, end: d.inodeTable + tableBlocks, ino: 0 });
  });
  if (journal !== undefined) {
    const sizeBlocks = Math.ceil(journal.inode.size / BLOCK_BYTES);
    for (const e of journal.map.leaves) {
      const len = Math.min(e.len, sizeBlocks - e.block);
      if (len > 0) zones.push({ start: e.start, end: e.start + len, ino: journal.ino });
    }
  }
  return new BlockValidity(sb.blocksCount, sb.firstDataBlock, zones);
}

/** A tree block's checksum failure (metadata_csum's tail after eh_max entries), or undefined: fs/read-profile.ts. */
export type TreeBlockChecksum = (bytes: Uint8Array) => CorruptionError | undefined;

/**
 * The kernel's check of the root node when an inode is read (ext4_ext_check_inode, from
 * iget): the header and the entries in i_block, the blocks they name valid for `ino`.
 * Nodes below it are checked when the map is loaded.
 */
export function checkExtentRoot(ino: number, inode: Inode, validity: BlockValidity): void {
  const place = `inode ${ino} i_block`;
  checkEntries(ino, decodeExtentNode(inode.block, 0, I_BLOCK_BYTES, place), place, validity);
}

/**
 * Read inode `ino`'s extent tree, each node checked as the kernel checks it when read;
 * `validity` says which blocks the inode may name (the range checks alone when not given);
 * `checksum`, with metadata_csum, each tree block's tail (a failure is the read's EBADMSG).
 */
export function loadFileMap(
  meta: MetaStore, ino: number, inode: Inode, validity: BlockValidity = rangeValidity(meta.blocksCount), checksum?: TreeBlockChecksum,
): FileMap {
  const where = `inode ${ino}`;
  if ((inode.flags & EXTENTS_FL) === 0) {
    throw new CorruptionError({ structure: 'inode', where, what: 'a regular file or directory without EXTENTS_FL (block maps are not supported)' });
  }
  const map = emptyMap();
  const seen = new Set<number>();
  const visit = (bytes: Uint8Array, offset: number, capacity: 60 | 4096, parent: { depth: number; block: number } | undefined, place: string): void => {
    const node = decodeExtentNode(bytes, offset, capacity, place);
    if (parent !== undefined) checkChild(node, parent, place);
    if (node.depth > MAX_TREE_DEPTH) {
      throw new CorruptionError({ structure: 'extent tree', where: place, what: `depth ${node.depth} exceeds ${MAX_TREE_DEPTH}` });
    }
    checkEntries(ino, node, place, validity);
    // the kernel verifies a block's tail checksum last, after the header and entries pass
    if (capacity === BLOCK_BYTES && checksum !== undefined) {
      const failure = checksum(bytes);
      if (failure !== undefined) throw failure;
    }
    if (node.depth === 0) {
      for (const leaf of node.leaves) map.leaves.push({ ...leaf });
      return;
    }
    for (const index of node.indexes) {
      if (seen.has(index.leaf)) {
        throw new CorruptionError({ structure: 'extent tree', where: place, what: `index points to block ${index.leaf}, seen twice` });
      }
      seen.add(index.leaf);
      map.treeBlocks.push(index.leaf);
      visit(meta.read(index.leaf), 0, BLOCK_BYTES, { depth: node.depth - 1, block: index.block }, `${where} extent block ${index.leaf}`);
    }
  };
  visit(inode.block, 0, I_BLOCK_BYTES, undefined, `${where} i_block`);
  for (let i = 1; i < map.leaves.length; i++) {
    const prev = map.leaves[i - 1];
    if (prev.block + prev.len > map.leaves[i].block) {
      throw new CorruptionError({ structure: 'extent tree', where, what: `extents at logical ${prev.block} and ${map.leaves[i].block} overlap or are out of order` });
    }
  }
  return map;
}

/** A node below the root: the depth its parent implies, and its first entry where its index says it starts. */
function checkChild(node: ExtentNode, parent: { depth: number; block: number }, place: string): void {
  const fail = (what: string): never => {
    throw new CorruptionError({ structure: 'extent tree', where: place, what });
  };
  if (node.depth !== parent.depth) fail(`depth ${node.depth}, expected ${parent.depth}`);
  const first = node.depth === 0 ? node.leaves[0]?.block : node.indexes[0]?.block;
  if (first !== undefined && first !== parent.block) fail(`first entry at logical ${first}, but its index entry says ${parent.block}`);
}

/** ext4_valid_extent_entries, past what the decoder checks: an index node has entries, and every entry's blocks are valid for `ino`. */
function checkEntries(ino: number, node: ExtentNode, place: string, validity: BlockValidity): void {
  const fail = (what: string): never => {
    throw new CorruptionError({ structure: 'extent tree', where: place, what });
  };
  if (node.depth > 0 && node.indexes.length === 0) fail(`eh_entries is 0 at depth ${node.depth}`);
  for (const leaf of node.leaves) {
    if (leaf.block + leaf.len >= TWO_POW_32) fail(`extent at logical ${leaf.block} (+${leaf.len}) wraps at block 2^32`);
    if (!validity.valid(ino, leaf.start, leaf.len)) {
      fail(`extent at logical ${leaf.block} maps blocks ${leaf.start}..${leaf.start + leaf.len - 1}: outside the file system or in its metadata`);
    }
  }
  for (const index of node.indexes) {
    if (!validity.valid(ino, index.leaf, 1)) fail(`index at logical ${index.block} points to block ${index.leaf}: outside the file system or in its metadata`);
  }
}

/** The extent holding logical block `lblock`, or undefined for a hole. */
export function findExtent(leaves: readonly ExtentLeaf[], lblock: number): ExtentLeaf | undefined {
  let lo = 0;
  let hi = leaves.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = leaves[mid];
    if (lblock < e.block) hi = mid - 1;
    else if (lblock >= e.block + e.len) lo = mid + 1;
    else return e;
  }
  return undefined;
}

/** Map [lblock, lblock + len) to [pblock, ...) as written data; the range must be a hole
 * or unwritten. Merges with neighbours where it can. */
export function insertRun(leaves: ExtentLeaf[], lblock: number, pblock: number, len: number): void {
  removeRange(leaves, lblock, lblock + len);
  let i = 0;
  while (i < leaves.length && leaves[i].block < lblock) i++;
  leaves.splice(i, 0, { block: lblock, len, start: pblock, unwritten: false });
  mergeAround(leaves, i);
}

/** Drop the mapping of [from, to) (splitting extents at the edges); returns what it unmapped. */
export function removeRange(leaves: ExtentLeaf[], from: number, to: number): ExtentLeaf[] {
  const removed: ExtentLeaf[] = [];
  for (let i = 0; i < leaves.length; i++) {
    const e = leaves[i];
    const end = e.block + e.len;
    if (end <= from || e.block >= to) continue;
    const cutFrom = Math.max(from, e.block);
    const cutTo = Math.min(to, end);
    removed.push({ block: cutFrom, len: cutTo - cutFrom, start: e.start + (cutFrom - e.block), unwritten: e.unwritten });
    const pieces: ExtentLeaf[] = [];
    if (e.block < cutFrom) pieces.push({ ...e, len: cutFrom - e.block });
    if (cutTo < end) pieces.push({ block: cutTo, len: end - cutTo, start: e.start + (cutTo - e.block), unwritten: e.unwritten });
    leaves.splice(i, 1, ...pieces);
    i += pieces.length - 1;
  }
  return removed;
}

function mergeAround(leaves: ExtentLeaf[], i: number): void {
  const canMerge = (a: ExtentLeaf, b: ExtentLeaf) => !a.unwritten && !b.unwritten
    && a.block + a.len === b.block && a.start + a.len === b.start && a.len + b.len <= EXTENT_MAX_LEN;
  if (i + 1 < leaves.length && canMerge(leaves[i], leaves[i + 1])) {
    leaves[i].len += leaves[i + 1].len;
    leaves.splice(i + 1, 1);
  }
  if (i > 0 && canMerge(leaves[i - 1], leaves[i])) {
    leaves[i - 1].len += leaves[i].len;
    leaves.splice(i, 1);
  }
}

/** Split extents longer than the on-disk maximum (a merged run never is; kept as a guard). */
function normalise(leaves: readonly ExtentLeaf[]): ExtentLeaf[] {
  const out: ExtentLeaf[] = [];
  for (const e of leaves) {
    for (let done = 0; done < e.len; done += EXTENT_MAX_LEN) {
      out.push({ block: e.block + done, len: Math.min(EXTENT_MAX_LEN, e.len - done), start: e.start + done, unwritten: e.unwritten });
    }
  }
  return out;
}

export interface TreeAllocator {
  allocTreeBlock(goal: number): number | undefined;
  freeTreeBlock(block: number): void;
  /** With metadata_csum: a tree block of the inode the allocator is for was written, to get its tail checksum before commit. */
  sealTreeBlock?: ((block: number) => void) | undefined;
}

/**
 * Store `map.leaves` into `inode` (root in i_block) and leaf blocks, reusing the map's tree
 * blocks. Returns false when the file would need more than depth 1 or no block is free
 * (nothing changed then); updates map.treeBlocks and inode.blocks otherwise.
 */
export function storeFileMap(meta: MetaStore, alloc: TreeAllocator, inode: Inode, map: FileMap, goal: number): 'ok' | 'efbig' | 'enospc' {
  const leaves = normalise(map.leaves);
  const leafBlocksNeeded = leaves.length <= EXTENT_ROOT_MAX ? 0 : Math.ceil(leaves.length / EXTENT_BLOCK_MAX);
  if (leafBlocksNeeded > EXTENT_ROOT_MAX) return 'efbig';
  const blocks = map.treeBlocks.slice(0, leafBlocksNeeded);
  while (blocks.length < leafBlocksNeeded) {
    const b = alloc.allocTreeBlock(goal);
    if (b === undefined) {
      for (const fresh of blocks.slice(map.treeBlocks.length)) alloc.freeTreeBlock(fresh);
      return 'enospc';
    }
    blocks.push(b);
  }
  for (const old of map.treeBlocks.slice(leafBlocksNeeded)) alloc.freeTreeBlock(old);
  const root = new Uint8Array(60);
  if (leafBlocksNeeded === 0) {
    encodeExtentNode({ depth: 0, max: EXTENT_ROOT_MAX, leaves, indexes: [] }, root, 0, 60);
  } else {
    const indexes = [];
    for (let i = 0; i < leafBlocksNeeded; i++) {
      const chunk = leaves.slice(i * EXTENT_BLOCK_MAX, (i + 1) * EXTENT_BLOCK_MAX);
      encodeExtentNode({ depth: 0, max: EXTENT_BLOCK_MAX, leaves: chunk, indexes: [] }, meta.fresh(blocks[i]), 0, BLOCK_BYTES);
      alloc.sealTreeBlock?.(blocks[i]);
      indexes.push({ block: chunk[0].block, leaf: blocks[i] });
    }
    encodeExtentNode({ depth: 1, max: EXTENT_ROOT_MAX, leaves: [], indexes }, root, 0, 60);
  }
  inode.block = root;
  inode.blocks += (blocks.length - map.treeBlocks.length) * (BLOCK_BYTES / 512);
  map.leaves = leaves;
  map.treeBlocks = blocks;
  return 'ok';
}
