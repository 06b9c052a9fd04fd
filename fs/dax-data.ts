/**
 * The DAX data path: file bytes go straight between the caller and the device, never
 * through a cache and never through the journal.
 *
 * Owns: reads (plain loads; holes and unwritten extents read as zeros), writes (the
 * policy's `writeData` in place: fs/policy.ts), mapping a region for a write or a DAX mmap
 * (allocating holes, converting unwritten extents), zeroing new blocks, the device ranges
 * behind a mapped region, size changes (truncate) and freeing the blocks past a size.
 *
 * Invariants: a block newly mapped into a file is zeroed (the policy's `zeroData`) wherever the
 * write that maps it does not cover it, before the metadata that makes it reachable commits
 * (durable before it under `ordered`), so stale data is never exposed; shrinking to a size inside a block zeroes the rest of that
 * block; i_size covers every byte written; i_blocks moves with every block mapped or freed;
 * an operation that cannot store its map gives back what it took and fails with ENOSPC or
 * EFBIG, the map as it was. Every data store is noted in the transaction (`noteDataWrite`,
 * with the flush the policy deferred, if any), so the policy orders it against the metadata
 * that follows.
 *
 * Does not: check descriptors, access modes or arguments (filesystem.ts), create or free
 * inodes (lifecycle.ts), or issue barriers (the policy does, through the commit hooks).
 */
import { assert } from '../core/assert';
import { fsError } from '../core/errors';
import { Fail, failer } from '../core/node-layer';
import { canaryActive } from '../core/canary';
import { BLOCK_BYTES, ExtentLeaf, Inode, RO_COMPAT_LARGE_FILE, stampInodeTimes } from './format';
import { FileMap, findExtent, insertRun, removeRange, storeFileMap } from './extents';
import { FsContext, SECTORS_PER_BLOCK, saveSuper } from './fs-context';
import type { InodeTable } from './inode-table';

/** Largest file: the last logical block a 32-bit extent can name. */
export const MAX_FILE_BYTES = (2 ** 32 - 1) * BLOCK_BYTES;
/** A file this large sets the large_file feature. */
const LARGE_FILE_BYTES = 2 ** 31;

/** A contiguous piece of the device behind a file region. */
export interface DeviceRange {
  addr: number;
  length: number;
  /** The file offset of its first byte. */
  fileOffset: number;
}

export class DaxData {
  private readonly ctx: FsContext;
  private readonly table: InodeTable;

  constructor(ctx: FsContext, table: InodeTable) {
    this.ctx = ctx;
    this.table = table;
  }

  /** Read from byte `at` of `ino` into `out`; returns the bytes read (0 at or past EOF). */
  read(ino: number, at: number, out: Uint8Array): number {
    const size = this.table.inode(ino).size;
    if (at >= size || out.length === 0) return 0;
    const n = Math.min(out.length, size - at);
    const leaves = this.table.map(ino).leaves;
    let done = 0;
    while (done < n) {
      const pos = at + done;
      const lblock = Math.floor(pos / BLOCK_BYTES);
      const e = findExtent(leaves, lblock);
      // a contiguous piece: to the end of the extent (or of the hole) or of the request
      const pieceEnd = e ? (e.block + e.len) * BLOCK_BYTES : nextMappedByte(leaves, lblock);
      const len = Math.min(n - done, pieceEnd - pos);
      if (e === undefined || e.unwritten) {
        out.fill(0, done, done + len);
      } else {
        this.ctx.device.loadInto((e.start + lblock - e.block) * BLOCK_BYTES + (pos % BLOCK_BYTES), len, out, done);
      }
      done += len;
    }
    return n;
  }

  /** Write `data` at byte `at` of inode `ino`, allocating and zeroing as DAX requires. */
  write(ino: number, at: number, data: Uint8Array, syscall: string): void {
    const inode = this.table.inode(ino);
    if (!Number.isSafeInteger(at) || at < 0) throw fsError('EINVAL', syscall);
    if (at + data.length > MAX_FILE_BYTES) throw fsError('EFBIG', syscall);
    if (data.length === 0) return;
    this.ensureMapped(ino, at, data.length, data, failer(syscall));
    for (const range of this.physicalRanges(ino, at, data.length)) {
      const piece = data.subarray(range.fileOffset - at, range.fileOffset - at + range.length);
      if (canaryActive('data-not-flushed')) {
        this.ctx.device.store(range.addr, piece);
        this.ctx.meta.noteDataWrite();
      } else this.ctx.meta.noteDataWrite(this.ctx.policy.writeData(range.addr, piece));
    }
    const now = this.ctx.now();
    stampInodeTimes(inode, now, 'mtime', 'ctime');
    if (at + data.length > inode.size) this.setSizeField(inode, at + data.length);
    this.table.putInode(ino, inode);
  }

  /**
   * The device ranges behind [at, at + length) of `ino`, allocating (and zeroing) any hole,
   * as a DAX mmap write fault does.
   */
  mapRange(ino: number, at: number, length: number, fail: Fail): DeviceRange[] {
    this.ensureMapped(ino, at, length, undefined, fail);
    return this.physicalRanges(ino, at, length);
  }

  /** Change a regular file's size: shrinking frees blocks past the end and zeroes the tail
   * of the last block; growing leaves a hole. */
  setSize(ino: number, len: number, fail: Fail): void {
    if (len > MAX_FILE_BYTES) fail('EFBIG');
    const inode = this.table.inode(ino);
    if (len < inode.size) {
      if (len % BLOCK_BYTES !== 0) {
        const e = findExtent(this.table.map(ino).leaves, Math.floor(len / BLOCK_BYTES));
        if (e !== undefined && !e.unwritten) {
          const addr = (e.start + Math.floor(len / BLOCK_BYTES) - e.block) * BLOCK_BYTES + (len % BLOCK_BYTES);
          if (!canaryActive('truncate-tail-not-zeroed')) this.ctx.meta.noteDataWrite(this.ctx.policy.zeroData(addr, BLOCK_BYTES - (len % BLOCK_BYTES)));
          else this.ctx.meta.noteDataWrite();
        }
      }
      if (!this.freeBeyond(ino, inode, Math.ceil(len / BLOCK_BYTES))) fail('ENOSPC');
    }
    this.setSizeField(inode, len);
    stampInodeTimes(inode, this.ctx.now(), 'mtime', 'ctime');
    this.table.putInode(ino, inode);
  }

  /** Free every data block at or past logical `fromBlock`; false if the map could not be stored. */
  freeBeyond(ino: number, inode: Inode, fromBlock: number): boolean {
    const { meta, groups } = this.ctx;
    const map = this.table.map(ino);
    const removed = removeRange(map.leaves, fromBlock, Number.MAX_SAFE_INTEGER);
    if (removed.length === 0 && fromBlock > 0) return true;
    const stored = storeFileMap(meta, this.table.treeAlloc(ino), inode, map, 0);
    if (stored !== 'ok') return false;
    for (const e of removed) {
      for (let b = 0; b < e.len; b++) {
        meta.forget(e.start + b);
        groups.freeBlock(e.start + b);
      }
      inode.blocks -= e.len * SECTORS_PER_BLOCK;
    }
    this.table.putInode(ino, inode);
    return true;
  }

  /**
   * Make every block of [at, at + length) mapped and written. New blocks are zeroed except
   * where `cover` (the data about to be written there) will fill them.
   */
  private ensureMapped(ino: number, at: number, length: number, cover: Uint8Array | undefined, fail: Fail): void {
    const inode = this.table.inode(ino);
    const map = this.table.map(ino);
    const { holes, unwritten } = unmappedBlocks(map.leaves, at, length);
    if (holes.length === 0 && unwritten.length === 0) return;
    const needed = holes.reduce((n, [, c]) => n + c, 0);
    // the new data blocks, and room for the tree to grow by a leaf block
    this.table.reserve(needed + 2, 0, fail);
    const coverLen = cover ? cover.length : 0;
    const before = map.leaves.map((e) => ({ ...e }));
    for (const l of unwritten) {
      // an unwritten (preallocated) block reads as zeros: make it so, then mark it written
      const e = findExtent(map.leaves, l) as { block: number; start: number };
      const pblock = e.start + (l - e.block);
      this.zeroUncovered(pblock, l, 1, at, coverLen);
      removeRange(map.leaves, l, l + 1);
      insertRun(map.leaves, l, pblock, 1);
    }
    const taken = this.fillHoles(ino, map, holes, at, coverLen);
    const stored = storeFileMap(this.ctx.meta, this.table.treeAlloc(ino), inode, map, taken[0]?.[0] ?? 0);
    if (stored !== 'ok') {
      // give back what this write took; the map is as it was
      map.leaves = before;
      for (const [pblock, count] of taken) for (let b = 0; b < count; b++) this.ctx.groups.freeBlock(pblock + b);
      fail(stored === 'efbig' ? 'EFBIG' : 'ENOSPC');
    }
    inode.blocks += needed * SECTORS_PER_BLOCK;
    this.table.putInode(ino, inode);
  }

  /** Map each hole run [lblock, count] to new blocks, zeroed outside [at, at + coverLen);
   * returns the runs taken, [pblock, count]. The blocks were reserved. */
  private fillHoles(ino: number, map: FileMap, holes: ReadonlyArray<[number, number]>, at: number, coverLen: number): Array<[number, number]> {
    const { groups } = this.ctx;
    const taken: Array<[number, number]> = [];
    for (const [lstart, count] of holes) {
      for (let done = 0; done < count;) {
        const l = lstart + done;
        const prev = findExtent(map.leaves, l - 1);
        const goal = prev && !prev.unwritten
          ? prev.start + (l - prev.block)
          : groups.descs[groups.groupOfInode(ino)].inodeTable;
        const run = groups.allocRun(goal, count - done);
        assert(run !== undefined, 'reserved blocks are free');
        taken.push(run);
        insertRun(map.leaves, l, run[0], run[1]);
        if (!canaryActive('new-block-not-zeroed')) this.zeroUncovered(run[0], l, run[1], at, coverLen);
        done += run[1];
      }
    }
    return taken;
  }

  /** Zero the parts of new blocks [pblock, +count) (logical lblock..) outside [at, at+coverLen). */
  private zeroUncovered(pblock: number, lblock: number, count: number, at: number, coverLen: number): void {
    const zero = (addr: number, length: number) => this.ctx.meta.noteDataWrite(this.ctx.policy.zeroData(addr, length));
    for (let i = 0; i < count; i++) {
      const start = (lblock + i) * BLOCK_BYTES;
      const end = start + BLOCK_BYTES;
      const coverFrom = Math.max(start, at);
      const coverTo = Math.min(end, at + coverLen);
      const addr = (pblock + i) * BLOCK_BYTES;
      if (coverTo <= coverFrom) {
        zero(addr, BLOCK_BYTES);
        continue;
      }
      if (coverFrom > start) zero(addr, coverFrom - start);
      if (coverTo < end) zero(addr + (coverTo - start), end - coverTo);
    }
    this.ctx.meta.noteDataWrite();
  }

  /** Device ranges behind [at, at + length) of a fully mapped region. */
  private physicalRanges(ino: number, at: number, length: number): DeviceRange[] {
    const leaves = this.table.map(ino).leaves;
    const out: DeviceRange[] = [];
    let done = 0;
    while (done < length) {
      const pos = at + done;
      const lblock = Math.floor(pos / BLOCK_BYTES);
      const e = findExtent(leaves, lblock);
      assert(e !== undefined && !e.unwritten, 'the region was mapped first');
      const len = Math.min(length - done, (e.block + e.len) * BLOCK_BYTES - pos);
      const addr = (e.start + lblock - e.block) * BLOCK_BYTES + (pos % BLOCK_BYTES);
      const prev = out[out.length - 1];
      if (prev && prev.addr + prev.length === addr) prev.length += len;
      else out.push({ addr, length: len, fileOffset: pos });
      done += len;
    }
    return out;
  }

  private setSizeField(inode: Inode, size: number): void {
    inode.size = size;
    if (size >= LARGE_FILE_BYTES && (this.ctx.sb.featureRoCompat & RO_COMPAT_LARGE_FILE) === 0) {
      this.ctx.sb.featureRoCompat |= RO_COMPAT_LARGE_FILE;
      saveSuper(this.ctx);
    }
  }
}

/** The blocks of [at, at + length) with no extent, as runs [lblock, count], and those in
 * unwritten extents. */
function unmappedBlocks(leaves: readonly ExtentLeaf[], at: number, length: number): { holes: Array<[number, number]>; unwritten: number[] } {
  const first = Math.floor(at / BLOCK_BYTES);
  const last = Math.floor((at + length - 1) / BLOCK_BYTES);
  const holes: Array<[number, number]> = []; // [lblock, count]
  const unwritten: number[] = [];
  for (let l = first; l <= last; l++) {
    const e = findExtent(leaves, l);
    if (e !== undefined) {
      if (e.unwritten) unwritten.push(l);
      continue;
    }
    const run = holes[holes.length - 1];
    if (run && run[0] + run[1] === l) run[1]++;
    else holes.push([l, 1]);
  }
  return { holes, unwritten };
}

/** The first byte of the first mapped block after `lblock` (or no limit). */
function nextMappedByte(leaves: readonly { block: number }[], lblock: number): number {
  for (const e of leaves) if (e.block > lblock) return e.block * BLOCK_BYTES;
  return Number.MAX_SAFE_INTEGER;
}
