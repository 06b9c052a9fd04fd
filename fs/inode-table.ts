/**
 * The inode table in use: decoded inodes and their block maps, cached, and the block
 * accounting every seam shares.
 *
 * Owns: the inode cache (`inode`, `putInode`) and where an inode lives on disk; the file-map
 * cache (`map`, `forgetMap`, `startEmptyMap`); symlink targets (`linkTarget`); a directory's
 * blocks for dir.ts (`dirBlocks`: the table is the DirBlockSource); the check that an
 * operation can get its blocks and inodes before it changes anything (`reserve`); block
 * allocation for data and extent-tree blocks (`allocBlock`, `treeAlloc`).
 *
 * Invariants: there is one decoded object per inode, and `putInode` writes it into the
 * running transaction and keeps it cached, so the cache is the transaction's view; every
 * inode number is checked against s_inodes_count before its location is computed; a map is
 * checked against i_blocks when loaded (i_blocks covers at least what the tree maps, so
 * freeing never drives it negative). Corrupt on-disk data is a CorruptionError.
 *
 * Does not: decide when an inode is created, named or freed (lifecycle.ts), move file data
 * (dax-data.ts), or resolve paths (namei.ts).
 */
import { CorruptionError } from '../core/errors';
import type { Fail } from '../core/node-layer';
import { BLOCK_BYTES, EXTENTS_FL, INODE_BYTES, Inode, decodeInode, encodeInode } from './format';
import type { DirBlockSource } from './dir';
import { FileMap, TreeAllocator, findExtent, loadFileMap } from './extents';
import { FsContext, SECTORS_PER_BLOCK } from './fs-context';
import type { MetaStore } from './meta';

export class InodeTable implements DirBlockSource {
  readonly meta: MetaStore;
  private readonly ctx: FsContext;
  private readonly inodes = new Map<number, Inode>();
  private readonly maps = new Map<number, FileMap>();

  constructor(ctx: FsContext) {
    this.ctx = ctx;
    this.meta = ctx.meta;
  }

  inode(ino: number): Inode {
    let inode = this.inodes.get(ino);
    if (inode === undefined) {
      const [block, offset] = this.inodeLocation(ino);
      inode = decodeInode(this.meta.read(block), offset);
      this.inodes.set(ino, inode);
    }
    return inode;
  }

  putInode(ino: number, inode: Inode): void {
    const [block, offset] = this.inodeLocation(ino);
    encodeInode(inode, this.meta.write(block, offset, offset + INODE_BYTES), offset);
    this.inodes.set(ino, inode);
  }

  /** The extent map of `ino`, loaded (and checked against i_blocks) on first use. */
  map(ino: number): FileMap {
    let map = this.maps.get(ino);
    if (map === undefined) {
      const inode = this.inode(ino);
      map = loadFileMap(this.meta, ino, inode);
      // Freeing subtracts from i_blocks what the map holds; a smaller i_blocks would go
      // negative, so it is corruption here, where it is read (e2fsck requires equality).
      const mapped = map.leaves.reduce((n, e) => n + e.len, 0) + map.treeBlocks.length;
      if (inode.blocks < mapped * SECTORS_PER_BLOCK) {
        throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: `i_blocks ${inode.blocks} is below the ${mapped * SECTORS_PER_BLOCK} sectors its extent tree maps` });
      }
      this.maps.set(ino, map);
    }
    return map;
  }

  /** Drop the cached map of `ino`: the inode is freed, or about to be reused. */
  forgetMap(ino: number): void {
    this.maps.delete(ino);
  }

  /** A new extent-mapped inode starts with an empty map. */
  startEmptyMap(ino: number): void {
    this.maps.set(ino, { leaves: [], treeBlocks: [] });
  }

  linkTarget(ino: number): Uint8Array {
    const inode = this.inode(ino);
    if ((inode.flags & EXTENTS_FL) === 0) {
      if (inode.size > 60) throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: `fast symlink of size ${inode.size}` });
      return inode.block.slice(0, inode.size);
    }
    if (inode.size > BLOCK_BYTES) throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: `symlink of size ${inode.size}` });
    const e = findExtent(this.map(ino).leaves, 0);
    if (e === undefined) return new Uint8Array(0);
    return this.meta.read(e.start).slice(0, inode.size);
  }

  /** Physical blocks of a directory, in logical order; a hole is corruption. */
  dirBlocks(dirIno: number): number[] {
    const inode = this.inode(dirIno);
    const map = this.map(dirIno);
    const count = Math.ceil(inode.size / BLOCK_BYTES);
    const out: number[] = [];
    for (let l = 0; l < count; l++) {
      const e = findExtent(map.leaves, l);
      if (e === undefined || e.unwritten) {
        throw new CorruptionError({ structure: 'directory', where: `inode ${dirIno} logical block ${l}`, what: 'a hole in a directory' });
      }
      out.push(e.start + (l - e.block));
    }
    return out;
  }

  /** Check that `blocks` blocks and `inodes` inodes can be had, before changing anything. */
  reserve(blocks: number, inodes: number, fail: Fail): void {
    const { groups, meta } = this.ctx;
    if (groups.freeBlocks() - meta.quarantinedCount() < blocks || groups.freeInodes() < inodes) fail('ENOSPC');
  }

  allocBlock(goal: number): number | undefined {
    return this.ctx.groups.allocRun(goal, 1)?.[0];
  }

  /** How extents.ts gets and gives back the blocks of an extent tree. */
  treeAlloc(): TreeAllocator {
    return {
      allocTreeBlock: (goal: number) => this.allocBlock(goal),
      freeTreeBlock: (block: number) => {
        this.meta.forget(block);
        this.ctx.groups.freeBlock(block);
      },
    };
  }

  private inodeLocation(ino: number): [number, number] {
    const { sb, groups } = this.ctx;
    if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) {
      throw new CorruptionError({ structure: 'directory', where: `inode number ${ino}`, what: `outside 1..${sb.inodesCount}` });
    }
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const index = (ino - 1) % sb.inodesPerGroup;
    const byte = index * INODE_BYTES;
    return [groups.descs[group].inodeTable + Math.floor(byte / BLOCK_BYTES), byte % BLOCK_BYTES];
  }
}
