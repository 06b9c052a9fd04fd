/**
 * Extent trees: reading a file's block map (any depth, as the kernel and debugfs write
 * them) and storing it back as a tree of depth 0 (up to four extents in the inode) or
 * depth 1 (an index in the inode over up to four leaf blocks of 340 extents).
 *
 * Invariants of a stored map: extents sorted by logical block, never overlapping, each at
 * most 32768 blocks long and inside the device; adjacent extents that could merge are merged;
 * the inode's tree blocks are exactly `treeBlocks`. Every walk over on-disk nodes is bounded
 * (depth at most 5, every node visited once), and anything malformed is a CorruptionError.
 */
import { CorruptionError } from '../core/errors';
import {
  BLOCK_BYTES, EXTENT_BLOCK_MAX, EXTENT_MAX_LEN, EXTENT_ROOT_MAX, EXTENTS_FL, ExtentLeaf, Inode,
  decodeExtentNode, encodeExtentNode,
} from './format';
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

/** Read inode `ino`'s extent tree. */
export function loadFileMap(meta: MetaStore, ino: number, inode: Inode): FileMap {
  const where = `inode ${ino}`;
  if ((inode.flags & EXTENTS_FL) === 0) {
    throw new CorruptionError({ structure: 'inode', where, what: 'a regular file or directory without EXTENTS_FL (block maps are not supported)' });
  }
  const map = emptyMap();
  const seen = new Set<number>();
  const visit = (bytes: Uint8Array, offset: number, capacity: 60 | 4096, expectDepth: number | undefined, place: string): void => {
    const node = decodeExtentNode(bytes, offset, capacity, place);
    if (expectDepth !== undefined && node.depth !== expectDepth) {
      throw new CorruptionError({ structure: 'extent tree', where: place, what: `depth ${node.depth}, expected ${expectDepth}` });
    }
    if (node.depth > MAX_TREE_DEPTH) {
      throw new CorruptionError({ structure: 'extent tree', where: place, what: `depth ${node.depth} exceeds ${MAX_TREE_DEPTH}` });
    }
    if (node.depth === 0) {
      for (const leaf of node.leaves) {
        if (leaf.start < 1 || leaf.start + leaf.len > meta.blocksCount) {
          throw new CorruptionError({ structure: 'extent tree', where: place, what: `extent at logical ${leaf.block} maps blocks ${leaf.start}..${leaf.start + leaf.len - 1}, outside the device` });
        }
        map.leaves.push({ ...leaf });
      }
      return;
    }
    for (const index of node.indexes) {
      if (index.leaf < 1 || index.leaf >= meta.blocksCount || seen.has(index.leaf)) {
        throw new CorruptionError({ structure: 'extent tree', where: place, what: `index points to block ${index.leaf} (outside the device or seen twice)` });
      }
      seen.add(index.leaf);
      map.treeBlocks.push(index.leaf);
      visit(meta.read(index.leaf), 0, BLOCK_BYTES, node.depth - 1, `${where} extent block ${index.leaf}`);
    }
  };
  visit(inode.block, 0, 60, undefined, `${where} i_block`);
  for (let i = 1; i < map.leaves.length; i++) {
    const prev = map.leaves[i - 1];
    if (prev.block + prev.len > map.leaves[i].block) {
      throw new CorruptionError({ structure: 'extent tree', where, what: `extents at logical ${prev.block} and ${map.leaves[i].block} overlap or are out of order` });
    }
  }
  return map;
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
