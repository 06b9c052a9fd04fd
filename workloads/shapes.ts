// The shapes suite: hand-designed workloads for paths the generated suites seldom reach,
// found by a mutation study in which bugs there escaped the default exploration although the
// checks catch them once a workload gets there.
//
// Owns: `shapesSpace`, SHAPES (one entry per workload, in a fixed order) and the op list of
// each.
//
// The shapes, and where our allocator puts them (fs/groups.ts): a file's inode goes to its
// parent's group and its new blocks to the first free run from its group's inode table (or
// right after the block before it in the file); a new directory's inode goes to the group
// with the most free inodes, lowest first, so on a device of several groups (1 GiB: 8) the
// first directories of a fresh image land in groups 1, 2, 3... and their files with them.
// - reuse: blocks freed by an unlink or a shrinking truncate are handed out again, once the
//   free is committed, to a partial write (the rest of the block must read as zeros) and to
//   a multi-block allocation; and not before that commit (the quarantine).
// - orphans: files unlinked while still open, written and fsynced through their handle,
//   still open when the power fails (the orphan list, its head and a middle entry).
// - big directories: directories grown past one block by long names, entries removed from
//   the first and later blocks, space reused, a multi-block directory removed.
// - other groups: directories, files, a hard link, a rename and a sparse file with a
//   depth-1 extent tree in groups other than group 0, including the journal's group and
//   groups that carry a backup superblock (on a 16 MiB device the same operations stay in
//   group 0).
// - many commits: fsynced small appends and same-size truncates, a commit each (375, of
//   three log blocks or more): more blocks than the 1024-block journal of a 16 MiB device
//   holds, so there the log's head wraps; the 16384-block journal of 1 GiB it does not wrap.
// - shrink then grow: a file shrunk to a size inside a block, then grown again (by a
//   truncate, by a write past the end into a new block, by a write inside the kept block):
//   the bytes a shrink cut off must read as zeros when the file grows back over them.
// - tree block reused: a file of six one-block extents (a depth-1 extent tree: its leaf is a
//   journaled metadata block) truncated to 0, fsynced, then its blocks, the leaf among them,
//   written as another file's data, fsynced. With lazy checkpoints all three transactions
//   are live in the log at the end: the leaf's revoke is what keeps replay from writing the
//   old leaf over the new file's data.
//
// Invariants: workload i is always the same (no seed, no stream); every operation succeeds
// on the reference (and so, for G0, on ours); write tags are distinct within a workload (at
// most MAX_TAG writes, asserted per workload); every workload is plain JSON.

import { assert } from '../core';
import type { Op, Workload } from './ops';
import { BLOCK_BYTES, checkIndex, MAX_TAG, type WorkloadSpace } from './space';

interface Shape {
  readonly name: string;
  readonly ops: () => Op[];
}

/** Name bytes of the big directories' entries: rec_len 248, so 16 entries fill a block. */
const LONG_NAME_BYTES = 240;
/** Entries of the big directories: a block of 16 and two more in a second block. */
const BIG_DIR_ENTRIES = 18;
/**
 * Entries made or removed between two fsyncs of a big directory. Smaller transactions keep
 * the exploration affordable: the crash points inside a checkpoint, and those of each
 * recovery that replays it (G9), both grow with the lines a transaction changes.
 */
const DIR_CHUNK = 3;
/** Fsynced appends of `many-commits`, each its own transaction. */
const MANY_COMMITS = 250;
const SMALL_APPEND_BYTES = 24;

const SHAPES: readonly Shape[] = [
  { name: 'reuse-after-commit', ops: reuseAfterCommit },
  { name: 'reuse-before-commit', ops: reuseBeforeCommit },
  { name: 'unlinked-open', ops: unlinkedOpen },
  { name: 'unlinked-open-pair', ops: unlinkedOpenPair },
  { name: 'big-dir', ops: bigDir },
  { name: 'big-dir-removed', ops: bigDirRemoved },
  { name: 'other-groups', ops: otherGroups },
  { name: 'sparse-far', ops: sparseFar },
  { name: 'many-commits', ops: manyCommits },
  { name: 'shrink-then-grow', ops: shrinkThenGrow },
  { name: 'tree-block-reused', ops: treeBlockReused },
];

export function shapesSpace(): WorkloadSpace {
  return {
    suite: 'shapes',
    size: SHAPES.length,
    workload(index: number): Workload {
      checkIndex(index, SHAPES.length, 'shapes');
      const shape = SHAPES[index] as Shape;
      const ops = shape.ops();
      const writes = ops.filter((op) => op.op === 'write' || op.op === 'pwrite').length;
      assert(writes <= MAX_TAG, () => `shape ${shape.name} has ${writes} writes, more than distinct tags`);
      return { name: `shapes#${index} ${shape.name}`, ops };
    },
  };
}

/** Hands out write tags 1, 2, 3... so that the writes of one workload never share a tag. */
class Tags {
  private last = 0;
  next(): number {
    this.last++;
    return this.last;
  }
}

/** A name of `bytes` bytes that starts with `prefix` and index `i`, unique per (prefix, i). */
export function longName(prefix: string, i: number, bytes = LONG_NAME_BYTES): string {
  const head = `${prefix}${String(i).padStart(3, '0')}-`;
  return head + 'x'.repeat(bytes - head.length);
}

/**
 * /a (3 blocks) and /keep (the block after them) durable; /a unlinked and the free
 * committed; then a partial write into a new file takes /a's first block, and a 3-block
 * write takes the other two as one run and its last block past /keep.
 */
function reuseAfterCommit(): Op[] {
  const t = new Tags();
  return [
    { op: 'creat', path: '/a' },
    { op: 'write', path: '/a', offset: 0, length: 3 * BLOCK_BYTES, tag: t.next() },
    { op: 'creat', path: '/keep' },
    { op: 'write', path: '/keep', offset: 0, length: 100, tag: t.next() },
    { op: 'sync' },
    { op: 'unlink', path: '/a' },
    { op: 'fsync', path: '/' },
    { op: 'creat', path: '/b' },
    { op: 'write', path: '/b', offset: 1000, length: 300, tag: t.next() },
    { op: 'fsync', path: '/b' },
    { op: 'creat', path: '/c' },
    { op: 'write', path: '/c', offset: 0, length: 3 * BLOCK_BYTES, tag: t.next() },
    { op: 'fsync', path: '/c' },
  ];
}

/**
 * Frees that are not committed yet: /a unlinked and /b written in the same transaction
 * (/b must not get /a's blocks); /b shrunk by a truncate (its second block freed, the rest
 * of its first zeroed); after that commit a sparse partial write takes one of /a's blocks.
 */
function reuseBeforeCommit(): Op[] {
  const t = new Tags();
  return [
    { op: 'creat', path: '/a' },
    { op: 'write', path: '/a', offset: 0, length: 2 * BLOCK_BYTES, tag: t.next() },
    { op: 'fsync', path: '/a' },
    { op: 'fsync', path: '/' },
    { op: 'unlink', path: '/a' },
    { op: 'creat', path: '/b' },
    { op: 'write', path: '/b', offset: 0, length: 2 * BLOCK_BYTES, tag: t.next() },
    { op: 'fsync', path: '/b' },
    { op: 'truncate', path: '/b', length: 100 },
    { op: 'fsync', path: '/b' },
    { op: 'creat', path: '/c' },
    { op: 'write', path: '/c', offset: 2 * BLOCK_BYTES + 5, length: 50, tag: t.next() },
    { op: 'fsync', path: '/c' },
  ];
}

/** A file unlinked while open, then grown and fsynced through its handle; open at the end. */
function unlinkedOpen(): Op[] {
  const t = new Tags();
  return [
    { op: 'creat', path: '/keep' },
    { op: 'write', path: '/keep', offset: 0, length: 100, tag: t.next() },
    { op: 'fsync', path: '/keep' },
    { op: 'fsync', path: '/' },
    { op: 'open', handle: 'h', path: '/tmpfile', flags: 'w+' },
    { op: 'pwrite', handle: 'h', offset: 0, length: 3000, tag: t.next() },
    { op: 'hfsync', handle: 'h' },
    { op: 'unlink', path: '/tmpfile' },
    { op: 'fsync', path: '/' },
    { op: 'pwrite', handle: 'h', offset: 3000, length: 2000, tag: t.next() },
    { op: 'hfsync', handle: 'h' },
    { op: 'write', path: '/keep', offset: 'append', length: 200, tag: t.next() },
    { op: 'fsync', path: '/keep' },
  ];
}

/**
 * Two files unlinked while open (the later unlink heads the orphan list); the earlier one is
 * closed (a middle entry leaves the list and is freed), its directory removed; the other is
 * still open at the end.
 */
function unlinkedOpenPair(): Op[] {
  const t = new Tags();
  return [
    { op: 'mkdir', path: '/d' },
    { op: 'open', handle: 'x', path: '/d/x', flags: 'w+' },
    { op: 'open', handle: 'y', path: '/d/y', flags: 'w+' },
    { op: 'pwrite', handle: 'x', offset: 0, length: 1000, tag: t.next() },
    { op: 'pwrite', handle: 'y', offset: 0, length: 5000, tag: t.next() },
    { op: 'sync' },
    { op: 'unlink', path: '/d/x' },
    { op: 'unlink', path: '/d/y' },
    { op: 'fsync', path: '/d' },
    { op: 'close', handle: 'x' },
    { op: 'pwrite', handle: 'y', offset: 5000, length: 100, tag: t.next() },
    { op: 'hfsync', handle: 'y' },
    { op: 'rmdir', path: '/d' },
    { op: 'fsync', path: '/' },
  ];
}

/**
 * A directory grown to two blocks (18 entries of 240-byte names, 16 in the first: one file
 * and its hard links, so the transactions change directory blocks more than inodes); the
 * first entry after ".." and the first entry of the second block removed, a rename to a
 * short name, and new entries (one of 255 bytes) that reuse the freed space.
 */
function bigDir(): Op[] {
  const t = new Tags();
  const name = (i: number) => `/d/${longName('e', i)}`;
  const ops: Op[] = [{ op: 'mkdir', path: '/d' }, { op: 'fsync', path: '/' }, ...inChunks(BIG_DIR_ENTRIES, (i) => nameOp(name, i), '/d')];
  ops.push(
    { op: 'write', path: name(0), offset: 0, length: 700, tag: t.next() },
    { op: 'fsync', path: name(0) },
    { op: 'unlink', path: name(0) },
    { op: 'unlink', path: name(16) },
    { op: 'rename', from: name(5), to: '/d/short' },
    { op: 'fsync', path: '/d' },
    { op: 'creat', path: `/d/${longName('n', 0, 255)}` },
    { op: 'creat', path: `/d/${longName('n', 1)}` },
    { op: 'write', path: `/d/${longName('n', 1)}`, offset: 0, length: 100, tag: t.next() },
    { op: 'fsync', path: '/d' },
  );
  return ops;
}

/** A two-block directory filled (a file and its links), emptied and removed: the rmdir frees its blocks and inode. */
function bigDirRemoved(): Op[] {
  const entries = BIG_DIR_ENTRIES;
  const name = (i: number) => `/gone/${longName('f', i)}`;
  return [
    { op: 'mkdir', path: '/gone' }, { op: 'creat', path: '/stay' }, { op: 'sync' },
    ...inChunks(entries, (i) => nameOp(name, i), '/gone'),
    ...inChunks(entries, (i) => ({ op: 'unlink', path: name(i) }), '/gone'),
    { op: 'rmdir', path: '/gone' }, { op: 'fsync', path: '/' },
  ];
}

/** Entry i of a big directory: the file itself (i = 0), then hard links to it. */
function nameOp(name: (i: number) => string, i: number): Op {
  return i === 0 ? { op: 'creat', path: name(0) } : { op: 'link', from: name(0), to: name(i) };
}

/** `count` operations, an fsync of `dir` after every DIR_CHUNK of them and after the last. */
function inChunks(count: number, op: (i: number) => Op, dir: string): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    ops.push(op(i));
    if ((i + 1) % DIR_CHUNK === 0 || i === count - 1) ops.push({ op: 'fsync', path: dir });
  }
  return ops;
}

/**
 * Five directories: on 1 GiB they take groups 1 to 5 (group 4 holds the journal; 1, 3 and 5
 * a backup superblock), a file in four of them; then a rename and a hard link across groups,
 * a directory made inside one of them, a directory removed from its group.
 */
function otherGroups(): Op[] {
  const t = new Tags();
  const ops: Op[] = [];
  for (let g = 1; g <= 5; g++) ops.push({ op: 'mkdir', path: `/g${g}` });
  const files: ReadonlyArray<readonly [string, number]> = [['/g1/f', BLOCK_BYTES + 17], ['/g3/f', 100], ['/g4/f', 200], ['/g5/f', 300]];
  for (const [path, length] of files) {
    ops.push({ op: 'creat', path }, { op: 'write', path, offset: 0, length, tag: t.next() });
  }
  ops.push(
    { op: 'sync' },
    { op: 'rename', from: '/g1/f', to: '/g2/f' },
    { op: 'link', from: '/g3/f', to: '/g5/hard' },
    { op: 'mkdir', path: '/g2/sub' },
    { op: 'creat', path: '/g2/sub/f' },
    { op: 'write', path: '/g2/sub/f', offset: 0, length: 100, tag: t.next() },
    { op: 'fsync', path: '/g2/sub/f' },
    { op: 'unlink', path: '/g4/f' },
    { op: 'rmdir', path: '/g4' },
    { op: 'fsync', path: '/g2' },
    { op: 'fsync', path: '/g5' },
    { op: 'fsync', path: '/' },
  );
  return ops;
}

/** Pieces of a sparse file, far apart, each its own extent: six need a depth-1 tree. */
const SPARSE_PIECES: ReadonlyArray<readonly [number, number]> = [
  [0, 100], [64 * BLOCK_BYTES, 100], [128 * BLOCK_BYTES + 4000, 200], [192 * BLOCK_BYTES, 300],
  [256 * BLOCK_BYTES - 10, 20], [320 * BLOCK_BYTES, 100],
];

/**
 * A sparse file in a directory of its own (on 1 GiB: group 1), written far apart (one
 * extent a piece, past the inode's four: a depth-1 tree with a leaf block), fsynced, then
 * cut back to the first three pieces (extents and the tree shrink).
 */
function sparseFar(): Op[] {
  const t = new Tags();
  const path = '/s/sparse';
  const ops: Op[] = [{ op: 'mkdir', path: '/s' }, { op: 'creat', path }, { op: 'fsync', path: '/' }];
  for (const [offset, length] of SPARSE_PIECES) ops.push({ op: 'write', path, offset, length, tag: t.next() });
  ops.push(
    { op: 'fsync', path },
    { op: 'truncate', path, length: 160 * BLOCK_BYTES },
    { op: 'fsync', path },
  );
  return ops;
}

/**
 * A log of small records, each appended and fsynced (a transaction each); after every
 * second record the log's length is set again (truncate to its own size: no data changes,
 * the times do) and fsynced, a metadata-only transaction. MANY_COMMITS records make
 * MANY_COMMITS * 3 / 2 commits of three log blocks or so.
 */
function manyCommits(): Op[] {
  const t = new Tags();
  const ops: Op[] = [{ op: 'creat', path: '/log' }, { op: 'fsync', path: '/log' }, { op: 'fsync', path: '/' }];
  for (let i = 1; i <= MANY_COMMITS; i++) {
    ops.push({ op: 'write', path: '/log', offset: 'append', length: SMALL_APPEND_BYTES, tag: t.next() }, { op: 'fsync', path: '/log' });
    if (i % 2 === 0) ops.push({ op: 'truncate', path: '/log', length: i * SMALL_APPEND_BYTES }, { op: 'fsync', path: '/log' });
  }
  return ops;
}

/**
 * /f of two and a half blocks, durable; shrunk to 1000 bytes (its other blocks freed, the
 * rest of its first block zeroed), grown by a truncate to 6000 (a hole), grown by a write
 * past the end into a new block, each fsynced; then shrunk to 700 and grown by a write at
 * 3000, inside the block it kept. Every byte between an old end and a write reads as zero.
 */
function shrinkThenGrow(): Op[] {
  const t = new Tags();
  return [
    { op: 'creat', path: '/f' },
    { op: 'write', path: '/f', offset: 0, length: 2 * BLOCK_BYTES + 500, tag: t.next() },
    { op: 'fsync', path: '/f' },
    { op: 'fsync', path: '/' },
    { op: 'truncate', path: '/f', length: 1000 },
    { op: 'fsync', path: '/f' },
    { op: 'truncate', path: '/f', length: 6000 },
    { op: 'fsync', path: '/f' },
    { op: 'write', path: '/f', offset: 9000, length: 100, tag: t.next() },
    { op: 'fsync', path: '/f' },
    { op: 'truncate', path: '/f', length: 700 },
    { op: 'write', path: '/f', offset: 3000, length: 50, tag: t.next() },
    { op: 'fsync', path: '/f' },
  ];
}

/**
 * /s gets six 100-byte writes two blocks apart (six extents: more than the inode's four, so a
 * leaf block), fsynced; truncated to 0 (data blocks and leaf freed, the leaf revoked),
 * fsynced; /f then writes eight blocks, which take the freed blocks, fsynced.
 */
function treeBlockReused(): Op[] {
  const t = new Tags();
  const ops: Op[] = [{ op: 'creat', path: '/s' }];
  for (let i = 0; i < 6; i++) ops.push({ op: 'write', path: '/s', offset: 2 * i * BLOCK_BYTES, length: 100, tag: t.next() });
  ops.push(
    { op: 'fsync', path: '/s' },
    { op: 'truncate', path: '/s', length: 0 },
    { op: 'fsync', path: '/s' },
    { op: 'creat', path: '/f' },
    { op: 'write', path: '/f', offset: 0, length: 8 * BLOCK_BYTES, tag: t.next() },
    { op: 'fsync', path: '/f' },
  );
  return ops;
}

