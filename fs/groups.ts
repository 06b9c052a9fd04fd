/**
 * Block groups: the group descriptors, the block and inode bitmaps, and allocation.
 *
 * Invariants (what e2fsck checks, so what must hold after every committed transaction):
 * - a group descriptor's free-block, free-inode and used-directory counts equal what its
 *   bitmaps and inodes say;
 * - a bit is set exactly when the block or inode is in use; padding bits stay set;
 * - a block freed in the running transaction is not allocated again before it commits.
 *
 * Fault model: the descriptors come from the image. They are checked once at mount
 * (checkGroupDesc: bitmaps and inode table inside the group, apart, counts in range), and
 * freeing a block or inode whose bit is already clear, or a count leaving its range, is a
 * CorruptionError (the kernel's "bit already cleared"), checked before anything changes.
 */
import { CorruptionError } from '../core/errors';
import { assert } from '../core/assert';
import {
  BLOCK_BYTES, GROUP_DESC_BYTES, INCOMPAT_FLEX_BG, INODE_BYTES, GroupDesc, Superblock, decodeGroupDesc, encodeGroupDesc, groupDescBytes,
} from './format';
import { groupHasSuper } from './geometry';
import { MetaStore } from './meta';

export class Groups {
  readonly count: number;
  readonly descs: GroupDesc[] = [];
  private readonly gdtFirstBlock = 1;
  /** 32, or s_desc_size with 64bit (read only: writes know the 32-byte descriptor alone). */
  private readonly descBytes: number;
  private readonly blockHint: number[];
  private readonly inodeHint: number[];

  constructor(private readonly meta: MetaStore, readonly sb: Superblock) {
    this.count = Math.ceil(sb.blocksCount / sb.blocksPerGroup);
    this.descBytes = groupDescBytes(sb);
    for (let g = 0; g < this.count; g++) {
      const at = g * this.descBytes;
      this.descs.push(decodeGroupDesc(meta.read(this.gdtFirstBlock + Math.floor(at / BLOCK_BYTES)), at % BLOCK_BYTES, this.descBytes));
      checkGroupDesc(sb, g, this.descs[g]);
    }
    this.blockHint = new Array<number>(this.count).fill(0);
    this.inodeHint = new Array<number>(this.count).fill(0);
  }

  groupOfBlock(block: number): number {
    return Math.floor(block / this.sb.blocksPerGroup);
  }

  groupOfInode(ino: number): number {
    return Math.floor((ino - 1) / this.sb.inodesPerGroup);
  }

  blocksInGroup(group: number): number {
    return Math.min(this.sb.blocksPerGroup, this.sb.blocksCount - group * this.sb.blocksPerGroup);
  }

  freeBlocks(): number {
    return this.descs.reduce((n, d) => n + d.freeBlocksCount, 0);
  }

  freeInodes(): number {
    return this.descs.reduce((n, d) => n + d.freeInodesCount, 0);
  }

  usedDirs(): number {
    return this.descs.reduce((n, d) => n + d.usedDirsCount, 0);
  }

  isBlockUsed(block: number): boolean {
    const g = this.groupOfBlock(block);
    const bit = block - g * this.sb.blocksPerGroup;
    return (this.meta.read(this.descs[g].blockBitmap)[bit >> 3] & (1 << (bit & 7))) !== 0;
  }

  /**
   * Allocate up to `count` blocks as one contiguous run, starting the search at `goal`.
   * Returns [start, length] with 1 <= length <= count, or undefined when no block is free.
   */
  allocRun(goal: number, count: number): [number, number] | undefined {
    assert(count >= 1, 'allocate at least one block');
    const startGroup = goal >= 0 && goal < this.sb.blocksCount ? this.groupOfBlock(goal) : 0;
    for (let i = 0; i < this.count; i++) {
      const g = (startGroup + i) % this.count;
      if (this.descs[g].freeBlocksCount === 0) continue;
      const from = g === startGroup && goal >= 0 ? goal - g * this.sb.blocksPerGroup : this.blockHint[g];
      const run = this.findRun(g, Math.max(0, from), count) ?? (from > 0 ? this.findRun(g, 0, count) : undefined);
      if (run) {
        this.markBlocks(run[0], run[1], true);
        this.blockHint[g] = run[0] + run[1] - g * this.sb.blocksPerGroup;
        return run;
      }
    }
    return undefined;
  }

  freeBlock(block: number): void {
    this.markBlocks(block, 1, false);
    this.meta.noteFreed(block);
  }

  /** Allocate an inode, preferring `group`. Directories go to the group with most free inodes. */
  allocInode(preferGroup: number, isDirectory: boolean): number | undefined {
    const order: number[] = [];
    if (isDirectory) {
      const best = this.descs.map((d, g) => [d.freeInodesCount, -g]).sort((a, b) => b[0] - a[0] || b[1] - a[1])[0];
      if (best) order.push(-best[1]);
    }
    for (let i = 0; i < this.count; i++) order.push((preferGroup + i) % this.count);
    for (const g of order) {
      const desc = this.descs[g];
      if (desc.freeInodesCount === 0) continue;
      const bitmap = this.meta.read(desc.inodeBitmap);
      const ipg = this.sb.inodesPerGroup;
      for (let i = 0; i < ipg; i++) {
        const bit = (this.inodeHint[g] + i) % ipg;
        if ((bitmap[bit >> 3] & (1 << (bit & 7))) !== 0) continue;
        const ino = g * ipg + bit + 1;
        if (ino < this.sb.firstIno) continue;
        if (isDirectory && desc.usedDirsCount >= ipg) {
          throw this.corrupt(g, 'group descriptor', `bg_used_dirs_count ${desc.usedDirsCount} with a free inode left`);
        }
        this.meta.write(desc.inodeBitmap, bit >> 3, (bit >> 3) + 1)[bit >> 3] |= 1 << (bit & 7);
        desc.freeInodesCount--;
        if (isDirectory) desc.usedDirsCount++;
        this.inodeHint[g] = bit + 1;
        this.saveDesc(g);
        return ino;
      }
    }
    return undefined;
  }

  freeInode(ino: number, wasDirectory: boolean): void {
    const g = this.groupOfInode(ino);
    const bit = ino - 1 - g * this.sb.inodesPerGroup;
    const desc = this.descs[g];
    // An in-use inode whose bit is clear, or counts at their limits, can only come from the
    // image: the kernel reports "bit already cleared" as corruption, and so do we.
    if ((this.meta.read(desc.inodeBitmap)[bit >> 3] & (1 << (bit & 7))) === 0) {
      throw this.corrupt(g, 'inode bitmap', `freeing inode ${ino}, whose bit is already clear`);
    }
    if (desc.freeInodesCount >= this.sb.inodesPerGroup || (wasDirectory && desc.usedDirsCount === 0)) {
      throw this.corrupt(g, 'group descriptor', `freeing inode ${ino} with bg_free_inodes_count ${desc.freeInodesCount}, bg_used_dirs_count ${desc.usedDirsCount}`);
    }
    const bitmap = this.meta.write(desc.inodeBitmap, bit >> 3, (bit >> 3) + 1);
    bitmap[bit >> 3] &= ~(1 << (bit & 7));
    desc.freeInodesCount++;
    if (wasDirectory) desc.usedDirsCount--;
    this.inodeHint[g] = Math.min(this.inodeHint[g], bit);
    this.saveDesc(g);
  }

  /** A free run in group g at or after bit `from`: the first free block, extended up to count. */
  private findRun(g: number, from: number, count: number): [number, number] | undefined {
    const bitmap = this.meta.read(this.descs[g].blockBitmap);
    const limit = this.blocksInGroup(g);
    const base = g * this.sb.blocksPerGroup;
    let bit = from;
    while (bit < limit) {
      if ((bit & 7) === 0 && bitmap[bit >> 3] === 0xff) {
        bit += 8;
        continue;
      }
      if ((bitmap[bit >> 3] & (1 << (bit & 7))) !== 0 || this.meta.isQuarantined(base + bit)) {
        bit++;
        continue;
      }
      let len = 1;
      while (len < count && bit + len < limit && (bitmap[(bit + len) >> 3] & (1 << ((bit + len) & 7))) === 0
        && !this.meta.isQuarantined(base + bit + len)) len++;
      return [base + bit, len];
    }
    return undefined;
  }

  private markBlocks(start: number, length: number, used: boolean): void {
    const g = this.groupOfBlock(start);
    assert(this.groupOfBlock(start + length - 1) === g, 'a run stays inside one group');
    const desc = this.descs[g];
    const firstBit = start - g * this.sb.blocksPerGroup;
    const count = desc.freeBlocksCount + (used ? -length : length);
    if (count < 0 || count > this.blocksInGroup(g)) {
      throw this.corrupt(g, 'group descriptor', `bg_free_blocks_count ${desc.freeBlocksCount} cannot ${used ? 'lose' : 'gain'} ${length} blocks`);
    }
    const current = this.meta.read(desc.blockBitmap);
    for (let b = start; b < start + length; b++) {
      const bit = b - g * this.sb.blocksPerGroup;
      // Freeing a block whose bit is clear: a file and the bitmap disagree on the image.
      if (((current[bit >> 3] & (1 << (bit & 7))) !== 0) === used) {
        throw this.corrupt(g, 'block bitmap', `block ${b} is already ${used ? 'in use' : 'free'}`);
      }
    }
    const bitmap = this.meta.write(desc.blockBitmap, firstBit >> 3, ((firstBit + length - 1) >> 3) + 1);
    for (let b = start; b < start + length; b++) {
      const bit = b - g * this.sb.blocksPerGroup;
      const mask = 1 << (bit & 7);
      if (used) bitmap[bit >> 3] |= mask;
      else bitmap[bit >> 3] &= ~mask;
    }
    desc.freeBlocksCount += used ? -length : length;
    this.saveDesc(g);
  }

  private corrupt(g: number, structure: string, what: string): CorruptionError {
    return new CorruptionError({ structure, where: `group ${g}`, what });
  }

  private saveDesc(g: number): void {
    assert(this.descBytes === GROUP_DESC_BYTES, 'only a mount of the subset writes group descriptors');
    const at = g * GROUP_DESC_BYTES;
    const offset = at % BLOCK_BYTES;
    encodeGroupDesc(this.descs[g], this.meta.write(this.gdtFirstBlock + Math.floor(at / BLOCK_BYTES), offset, offset + GROUP_DESC_BYTES), offset);
  }
}

/**
 * What the kernel's ext4_check_descriptors checks, and the counts' ranges: the bitmaps and
 * the inode table lie inside group `g`, after its superblock and descriptor table copy, apart
 * from each other; the counts fit the group. With flex_bg they may lie anywhere in the file
 * system (a flex group packs them at its front), as the kernel allows; its refusal of
 * metadata over the superblock or descriptor table applies to writable mounts alone, and
 * flex_bg images are mounted read-only here. Throws CorruptionError; checked at mount, before
 * any of these blocks is read.
 */
export function checkGroupDesc(sb: Superblock, g: number, d: GroupDesc): void {
  const fail = (what: string): never => {
    throw new CorruptionError({ structure: 'group descriptor', where: `group ${g}`, what });
  };
  const groups = Math.ceil(sb.blocksCount / sb.blocksPerGroup);
  const gdtBlocks = Math.ceil((groups * groupDescBytes(sb)) / BLOCK_BYTES);
  const blocksInGroup = Math.min(sb.blocksPerGroup, sb.blocksCount - g * sb.blocksPerGroup);
  const flex = (sb.featureIncompat & INCOMPAT_FLEX_BG) !== 0;
  const first = flex ? sb.firstDataBlock : g * sb.blocksPerGroup + (groupHasSuper(g) ? 1 + gdtBlocks : 0);
  const end = flex ? sb.blocksCount : g * sb.blocksPerGroup + blocksInGroup;
  const tableBlocks = Math.ceil((sb.inodesPerGroup * INODE_BYTES) / BLOCK_BYTES);
  const inside = (block: number, length: number) => block >= first && block + length <= end;
  if (!inside(d.blockBitmap, 1)) fail(`bg_block_bitmap ${d.blockBitmap} outside [${first}, ${end})`);
  if (!inside(d.inodeBitmap, 1)) fail(`bg_inode_bitmap ${d.inodeBitmap} outside [${first}, ${end})`);
  if (!inside(d.inodeTable, tableBlocks)) fail(`bg_inode_table ${d.inodeTable} (+${tableBlocks} blocks) outside [${first}, ${end})`);
  const inTable = (block: number) => block >= d.inodeTable && block < d.inodeTable + tableBlocks;
  if (d.blockBitmap === d.inodeBitmap || inTable(d.blockBitmap) || inTable(d.inodeBitmap)) {
    fail(`bitmaps ${d.blockBitmap}, ${d.inodeBitmap} and inode table ${d.inodeTable} overlap`);
  }
  if (d.freeBlocksCount > blocksInGroup) fail(`bg_free_blocks_count ${d.freeBlocksCount} exceeds the group's ${blocksInGroup} blocks`);
  if (d.freeInodesCount > sb.inodesPerGroup || d.usedDirsCount > sb.inodesPerGroup) {
    fail(`bg_free_inodes_count ${d.freeInodesCount} or bg_used_dirs_count ${d.usedDirsCount} exceeds the group's ${sb.inodesPerGroup} inodes`);
  }
}
