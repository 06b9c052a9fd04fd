/**
 * Writes of hashed (htree, dir_index) directories, as ext4's fs/ext4/namei.c makes them:
 * insertion by hash (`addToIndexedDir`: the leaf the index sends the name to, split in two
 * when full, the index node above it split or a level added when full) and the conversion of
 * a full one-block linear directory into an indexed one (`makeIndexedDir`). Removal needs
 * nothing here: a name leaves its leaf as in a linear directory (fs/dir.ts) and the index
 * stays as it is, as the kernel never merges leaves.
 *
 * Invariants of every index this module leaves (what e2fsck's pass 2 checks of an htree):
 * - the root (logical block 0) keeps "." (rec_len 12) and ".." (rec_len to the block's end),
 *   then dx_root_info (hash version s_def_hash_version as made, info length 8, indirect levels
 *   0 or 1) and the root's entries; an interior node is one unused entry spanning the block,
 *   then its entries; limits are the kernel's (508 and 511 for 4 KiB blocks, one fewer with
 *   metadata_csum, leaving the 8-byte dx_tail);
 * - within a node, entry hashes ascend; every name in a leaf hashes at or above the hash that
 *   leads to the leaf and below the next entry's, except that a leaf whose starting hash has
 *   the low (collision) bit set continues the run of its predecessor's last hash;
 * - at most two index levels (no large_dir): a third is refused with ENOSPC, as the kernel
 *   refuses it;
 * - leaves are packed (the last entry reaches the block's end, or the 12-byte tail entry with
 *   metadata_csum, whose checksum another module stamps);
 * - every directory block written here passes through `dirBlockWritten` once its bytes are
 *   final, the one place a checksum stamp hooks in.
 *
 * Fault model: an index the kernel's dx_probe refuses is not trusted for an insertion: without
 * metadata_csum the directory loses INDEX_FL and takes the name linearly (ext4_add_entry's
 * fallback); with it the insertion is a CorruptionError. Blocks are reserved before anything
 * changes, so ENOSPC leaves the directory as it was.
 *
 * Does not: merge or shrink an index, handle large_dir (three levels) or casefolded names.
 */
import { assert } from '../core/assert';
import { CorruptionError } from '../core/errors';
import type { Fail } from '../core/node-layer';
import {
  BLOCK_BYTES, COMPAT_DIR_INDEX, INDEX_FL, RO_COMPAT_METADATA_CSUM, Superblock, decodeDirBlock, dirRecLen, encodeDirEntry, encodeDirTail,
} from './format';
import { DIR_TAIL_BYTES } from './csum';
import { addEntryToBlock, DOT, DOTDOT, sameName } from './dir';
import {
  DX_ENTRY_BYTES, DX_HASH_TEA, DX_TAIL_BYTES, DxPath, EXT2_FLAGS_UNSIGNED_HASH, MAX_INDIRECT_LEVELS, NODE_COUNT_AT, ROOT_INFO_AT, UNSIGNED_OFFSET,
  dirHash, dxBlockAt, dxHashAt, dxProbe,
} from './htree';
import type { InodeTable } from './inode-table';
import type { MetaStore } from './meta';

/** dx_root_info is 8 bytes; the root's entries follow it. */
const ROOT_INFO_BYTES = 8;
const ROOT_COUNT_AT = ROOT_INFO_AT + ROOT_INFO_BYTES;
/** An insertion probes again after each index change: a node split or a new level, then the leaf split. */
const MAX_INSERT_ROUNDS = 4;

/** How many entries an index node holds: the root's after its dot entries and info, an interior node's after its fake entry. */
export interface DxLimits {
  readonly root: number;
  readonly node: number;
}

/** The kernel's limits for 4 KiB blocks (dx_root_limit, dx_node_limit). */
export function kernelDxLimits(metadataCsum: boolean): DxLimits {
  const tail = metadataCsum ? DX_TAIL_BYTES : 0;
  return {
    root: (BLOCK_BYTES - ROOT_COUNT_AT - tail) / DX_ENTRY_BYTES,
    node: (BLOCK_BYTES - NODE_COUNT_AT - tail) / DX_ENTRY_BYTES,
  };
}

/** What the writes need of the file system around them. */
export interface HtreeHost {
  readonly sb: Superblock;
  readonly meta: MetaStore;
  readonly table: InodeTable;
  /** Append an empty block to the directory (its new last logical block) and return the physical block; ENOSPC or EFBIG through `fail`. */
  appendDirBlock(dirIno: number, fail: Fail): number;
  /** A directory block changed in the running transaction: seal its checksum for the commit (metadata_csum; InodeTable.sealDirBlock), keyed by directory and logical block. */
  readonly sealDirBlock?: (dirIno: number, logical: number, block: number) => void;
  /** Smaller index limits, for tests of node splits and levels without hundreds of thousands of names; the kernel's otherwise. */
  readonly limits?: DxLimits;
}

/** A live entry of a leaf, with its name's hash. */
interface LeafEntry {
  readonly inode: number;
  readonly fileType: number;
  readonly name: Uint8Array;
  readonly hash: number;
}

/** The two leaves a full leaf and a new name become, and the hash that starts the second in the index (low bit: a collision run continues). */
export interface LeafSplit {
  readonly low: readonly LeafEntry[];
  readonly high: readonly LeafEntry[];
  readonly splitHash: number;
}

export type IndexedAdd = 'added' | 'linear' | 'fallback';

export function dirIndexOn(sb: Superblock): boolean {
  return (sb.featureCompat & COMPAT_DIR_INDEX) !== 0;
}

function metadataCsum(sb: Superblock): boolean {
  return (sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0;
}

function limitsOf(host: HtreeHost): DxLimits {
  return host.limits ?? kernelDxLimits(metadataCsum(host.sb));
}

/**
 * Add a name to directory `dirIno` through its index: 'linear' when the directory is not
 * indexed (the caller adds it linearly, then may call `makeIndexedDir`), 'fallback' when the
 * index was refused and dropped (the caller adds it linearly and must not index again).
 */
export function addToIndexedDir(host: HtreeHost, dirIno: number, name: Uint8Array, ino: number, fileType: number, fail: Fail): IndexedAdd {
  if (!dirIndexOn(host.sb) || (host.table.inode(dirIno).flags & INDEX_FL) === 0) return 'linear';
  for (let round = 0; round < MAX_INSERT_ROUNDS; round++) {
    const path = dxProbe(host.table.htreeSource(dirIno), name);
    if (path === undefined) return dropIndex(host, dirIno);
    const leafBlock = host.table.dirBlock(dirIno, path.leaf);
    if (addEntryToBlock(host.table, dirIno, path.leaf, leafBlock, name, ino, fileType)) {
      dirBlockWritten(host, dirIno, path.leaf, leafBlock);
      return 'added';
    }
    const frame = path.frames[path.frames.length - 1];
    if (frame.count < frame.limit) {
      host.table.reserve(1, 0, fail);
      splitLeafAndAdd(host, dirIno, path, { inode: ino, fileType, name, hash: path.hash }, fail);
      return 'added';
    }
    // the leaf's index node is full: make room in the index, then probe again (two more blocks: a node, then a leaf)
    host.table.reserve(2, 0, fail);
    growIndex(host, dirIno, path, fail);
  }
  assert(false, () => `directory inode ${dirIno}: an insertion changed the index ${MAX_INSERT_ROUNDS} times`);
}

/**
 * make_indexed_dir: a one-block linear directory with no room for `name` becomes indexed: the
 * block keeps "." and ".." and becomes the root, its other entries and the new name go to two
 * leaves split by hash. False (nothing changed) when dir_index is off or the directory is not
 * a single linear block.
 */
export function makeIndexedDir(host: HtreeHost, dirIno: number, name: Uint8Array, ino: number, fileType: number, fail: Fail): boolean {
  const { sb, meta, table } = host;
  if (!dirIndexOn(sb)) return false;
  const inode = table.inode(dirIno);
  if ((inode.flags & INDEX_FL) !== 0 || inode.size !== BLOCK_BYTES) return false;
  const [rootBlock] = table.dirBlocks(dirIno);
  const entries = decodeDirBlock(meta.read(rootBlock), `directory inode ${dirIno} block ${rootBlock}`);
  const [dot, dotdot] = entries;
  if (dot === undefined || dotdot === undefined || !sameName(dot.name, DOT) || !sameName(dotdot.name, DOTDOT) || dot.offset !== 0 || dotdot.offset !== 12) {
    throw new CorruptionError({ structure: 'directory', where: `inode ${dirIno} block ${rootBlock}`, what: 'its first block does not start with "." and ".."' });
  }
  const stored = sb.defHashVersion;
  if (stored > DX_HASH_TEA) throw new CorruptionError({ structure: 'superblock', where: 's_def_hash_version', what: `hash version ${stored} is none the kernel indexes with` });
  const version = stored + ((sb.flags & EXT2_FLAGS_UNSIGNED_HASH) !== 0 ? UNSIGNED_OFFSET : 0);
  const hashOf = (n: Uint8Array): number => dirHash(n, version, sb.hashSeed) as number;
  const live = entries.slice(2).filter((e) => e.inode !== 0).map((e) => ({ inode: e.inode, fileType: e.fileType, name: e.name, hash: hashOf(e.name) }));
  assert(live.length >= 2, () => `directory inode ${dirIno}: a full block holds more than one name besides "." and ".."`);
  table.reserve(2, 0, fail);
  const first = host.appendDirBlock(dirIno, fail);
  const second = host.appendDirBlock(dirIno, fail);
  const split = splitLeaf(live, { inode: ino, fileType, name, hash: hashOf(name) });
  const root = meta.write(rootBlock);
  root.fill(0);
  encodeDirEntry(root, 0, { inode: dot.inode, recLen: 12, fileType: dot.fileType, name: DOT });
  encodeDirEntry(root, 12, { inode: dotdot.inode, recLen: BLOCK_BYTES - 12, fileType: dotdot.fileType, name: DOTDOT });
  root[ROOT_INFO_AT + 4] = stored;
  root[ROOT_INFO_AT + 5] = ROOT_INFO_BYTES;
  setLimitCount(root, ROOT_COUNT_AT, limitsOf(host).root, 1);
  setEntry(root, ROOT_COUNT_AT, 0, 0, 1);
  insertEntry(root, ROOT_COUNT_AT, 0, split.splitHash, 2);
  writeLeaf(host, dirIno, 1, first, split.low);
  writeLeaf(host, dirIno, 2, second, split.high);
  dirBlockWritten(host, dirIno, 0, rootBlock);
  const grown = table.inode(dirIno);
  grown.flags |= INDEX_FL;
  table.putInode(dirIno, grown);
  return true;
}

/**
 * do_split's choice: the entries (block order) sorted by hash; from the top, those whose size
 * stays within half the block move to the new leaf (or half of them by count when they all
 * would); the new name goes to the new leaf when its hash is at least the first moved one's.
 * The split hash gets the collision bit when the entries on both sides of it hash alike.
 */
export function splitLeaf(entries: readonly LeafEntry[], added: LeafEntry): LeafSplit {
  const count = entries.length;
  assert(count >= 2, 'a leaf to split holds at least two names');
  const map = entries.map((entry, at) => ({ entry, at })).sort((a, b) => a.entry.hash - b.entry.hash || a.at - b.at);
  let size = 0;
  let move = 0;
  let i = count - 1;
  for (; i >= 0; i--) {
    const entryBytes = dirRecLen(map[i].entry.name.length);
    if (size + (entryBytes >> 1) > BLOCK_BYTES / 2) break;
    size += entryBytes;
    move++;
  }
  const split = i > 0 ? count - move : count >> 1;
  const hash2 = map[split].entry.hash;
  const continued = map[split - 1].entry.hash === hash2 ? 1 : 0;
  const moved = new Set(map.slice(split).map((m) => m.at));
  const low = entries.filter((_, at) => !moved.has(at));
  const high = map.slice(split).map((m) => m.entry);
  if (added.hash >= hash2) high.push(added);
  else low.push(added);
  return { low, high, splitHash: hash2 + continued };
}

/** A full leaf and the new name become two leaves, the second appended to the directory and entered in the leaf's index node. */
function splitLeafAndAdd(host: HtreeHost, dirIno: number, path: DxPath, added: LeafEntry, fail: Fail): void {
  const { meta, sb } = host;
  const leafBlock = host.table.dirBlock(dirIno, path.leaf);
  const where = `directory inode ${dirIno} block ${leafBlock}`;
  const live = decodeDirBlock(meta.read(leafBlock), where)
    .filter((e) => e.inode !== 0)
    .map((e) => ({ inode: e.inode, fileType: e.fileType, name: e.name, hash: dirHash(e.name, path.version, sb.hashSeed) as number }));
  const split = splitLeaf(live, added);
  const freshIndex = blockCount(host, dirIno);
  const fresh = host.appendDirBlock(dirIno, fail);
  writeLeaf(host, dirIno, path.leaf, leafBlock, split.low);
  writeLeaf(host, dirIno, freshIndex, fresh, split.high);
  const frame = path.frames[path.frames.length - 1];
  const nodeBlock = host.table.dirBlock(dirIno, frame.index);
  insertEntry(meta.write(nodeBlock), frame.countAt, frame.at, split.splitHash, freshIndex);
  dirBlockWritten(host, dirIno, frame.index, nodeBlock);
}

/**
 * Room in a full index node: with an interior level, the node splits in two halves by count
 * (the second half's first hash enters the root), unless the root is full too, which is
 * ENOSPC (a third level needs large_dir); without one, the root's entries move to a new
 * interior node and the root keeps one entry pointing to it.
 */
function growIndex(host: HtreeHost, dirIno: number, path: DxPath, fail: Fail): void {
  const { meta } = host;
  const levels = path.frames.length;
  if (levels > MAX_INDIRECT_LEVELS && path.frames[levels - 2].count === path.frames[levels - 2].limit) fail('ENOSPC');
  const freshIndex = blockCount(host, dirIno);
  const fresh = host.appendDirBlock(dirIno, fail);
  const node = meta.write(fresh);
  node.fill(0);
  encodeDirEntry(node, 0, { inode: 0, recLen: BLOCK_BYTES, fileType: 0, name: new Uint8Array(0) });
  const full = path.frames[levels - 1];
  const fullBlock = host.table.dirBlock(dirIno, full.index);
  const fullBytes = meta.write(fullBlock);
  const nodeLimit = limitsOf(host).node;
  if (levels === 1) {
    copyEntries(fullBytes, full.countAt, 0, full.count, node, NODE_COUNT_AT);
    setLimitCount(node, NODE_COUNT_AT, nodeLimit, full.count);
    setLimitCount(fullBytes, full.countAt, full.limit, 1);
    setEntry(fullBytes, full.countAt, 0, 0, freshIndex);
    fullBytes[ROOT_INFO_AT + 6] = 1;
  } else {
    const keep = full.count >> 1;
    const hash2 = dxHashAt(full.bytes, full.countAt, keep);
    copyEntries(fullBytes, full.countAt, keep, full.count, node, NODE_COUNT_AT);
    setLimitCount(node, NODE_COUNT_AT, nodeLimit, full.count - keep);
    setLimitCount(fullBytes, full.countAt, full.limit, keep);
    const parent = path.frames[levels - 2];
    const parentBlock = host.table.dirBlock(dirIno, parent.index);
    insertEntry(meta.write(parentBlock), parent.countAt, parent.at, hash2, freshIndex);
    dirBlockWritten(host, dirIno, parent.index, parentBlock);
  }
  dirBlockWritten(host, dirIno, full.index, fullBlock);
  dirBlockWritten(host, dirIno, freshIndex, fresh);
}

/** The index was refused: with metadata_csum the insertion fails; otherwise the directory is linear from now on, as ext4_add_entry leaves it. */
function dropIndex(host: HtreeHost, dirIno: number): IndexedAdd {
  if (metadataCsum(host.sb)) throw new CorruptionError({ structure: 'directory index', where: `directory inode ${dirIno}`, what: 'an index the kernel refuses (it is not dropped with metadata_csum)' });
  const inode = host.table.inode(dirIno);
  inode.flags &= ~INDEX_FL;
  host.table.putInode(dirIno, inode);
  return 'fallback';
}

/** Lay out a leaf: the entries packed, the last reaching the block's end (or the checksum tail entry). */
function writeLeaf(host: HtreeHost, dirIno: number, logical: number, block: number, entries: readonly LeafEntry[]): void {
  const csum = metadataCsum(host.sb);
  const end = BLOCK_BYTES - (csum ? DIR_TAIL_BYTES : 0);
  const out = host.meta.write(block);
  out.fill(0);
  let at = 0;
  entries.forEach((e, i) => {
    const recLen = i === entries.length - 1 ? end - at : dirRecLen(e.name.length);
    encodeDirEntry(out, at, { inode: e.inode, recLen, fileType: e.fileType, name: e.name });
    at += recLen;
  });
  if (csum) encodeDirTail(out, 0);
  dirBlockWritten(host, dirIno, logical, block);
}

/**
 * Every directory block this module changed, once its bytes are final in the running
 * transaction: the one place its checksum is stamped (metadata_csum's leaf tail or dx_tail,
 * keyed by directory inode and logical block).
 */
export function dirBlockWritten(host: HtreeHost, dirIno: number, logical: number, block: number): void {
  host.meta.write(block);
  host.sealDirBlock?.(dirIno, logical, block);
}

function blockCount(host: HtreeHost, dirIno: number): number {
  return Math.ceil(host.table.inode(dirIno).size / BLOCK_BYTES);
}

function setLimitCount(bytes: Uint8Array, countAt: number, limit: number, count: number): void {
  assert(count >= 1 && count <= limit, () => `an index node's count ${count} is within 1..${limit}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  v.setUint16(countAt, limit, true);
  v.setUint16(countAt + 2, count, true);
}

/** Entry `i`'s hash and block (entry 0's hash slot is the limit/count pair: its hash is not written). */
function setEntry(bytes: Uint8Array, countAt: number, i: number, hash: number, block: number): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (i > 0) v.setUint32(countAt + i * DX_ENTRY_BYTES, hash, true);
  v.setUint32(countAt + i * DX_ENTRY_BYTES + 4, block, true);
}

/** dx_insert_block: a new entry after entry `at`, the ones after it moved up. */
function insertEntry(bytes: Uint8Array, countAt: number, at: number, hash: number, block: number): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = v.getUint16(countAt, true);
  const count = v.getUint16(countAt + 2, true);
  assert(count < limit, () => `an index node with ${count} of ${limit} entries takes one more`);
  const from = countAt + (at + 1) * DX_ENTRY_BYTES;
  bytes.copyWithin(from + DX_ENTRY_BYTES, from, countAt + count * DX_ENTRY_BYTES);
  setEntry(bytes, countAt, at + 1, hash, block);
  v.setUint16(countAt + 2, count + 1, true);
}

/** Entries [from, to) of one node become entries 0.. of another (the first's hash is dropped: that slot holds the limit/count pair). */
function copyEntries(src: Uint8Array, srcCountAt: number, from: number, to: number, dst: Uint8Array, dstCountAt: number): void {
  for (let i = from; i < to; i++) setEntry(dst, dstCountAt, i - from, dxHashAt(src, srcCountAt, i), dxBlockAt(src, srcCountAt, i));
}
