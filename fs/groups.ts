/**
 * Block groups: the group descriptors, the block and inode bitmaps, and allocation.
 *
 * Invariants (what e2fsck checks, so what must hold after every committed transaction):
 * - a group descriptor's free-block, free-inode and used-directory counts equal what its
 *   bitmaps and inodes say;
 * - a bit is set exactly when the block or inode is in use; padding bits stay set;
 * - a block freed in the running transaction is not allocated again before it commits.
 *
 * With metadata_csum (mkfs.ext4's default profile: 64-byte descriptors, flex_bg) a group
 * descriptor carries its bitmaps' checksums and its own (bg_checksum), the _hi halves of its
 * counts, bg_itable_unused and the uninit flags, which the kernel honours only with group
 * descriptor checksums (so they are ignored here without them, and the subset's writes are
 * unchanged):
 * - BLOCK_UNINIT: the group's block bitmap was never written; it reads as the group's own
 *   metadata (superblock backup, descriptor table and its reserved blocks, and any group's
 *   bitmaps and inode table that flex_bg placed here) in use, the rest free. The first
 *   allocation from the group (a block, or an inode, as the kernel's) writes that bitmap whole
 *   and clears the flag;
 * - INODE_UNINIT: likewise for the inode bitmap (all free, the padding past the group's
 *   inodes set);
 * - bg_itable_unused: the inodes at the end of the table never used; allocating one of them
 *   lowers it (e2fsck fails an inode in use past it); ITABLE_ZEROED is kept as found.
 * A changed bitmap is sealed once per transaction (its checksum into the descriptor), then the
 * descriptor (bg_checksum), through fs/meta.ts's seals, in that order.
 *
 * Fault model: the descriptors come from the image. They are checked once at mount
 * (checkGroupDesc: bitmaps and inode table inside the group, apart, counts in range), and
 * freeing a block or inode whose bit is already clear, or a count leaving its range, is a
 * CorruptionError (the kernel's "bit already cleared"), checked before anything changes.
 */
import { CorruptionError } from '../core/errors';
import { assert } from '../core/assert';
import {
  BG_BLOCK_UNINIT, BG_INODE_UNINIT, BLOCK_BYTES, GROUP_DESC_BYTES, INCOMPAT_FLEX_BG, INODE_BYTES, GroupDesc,
  GroupDesc64, RO_COMPAT_METADATA_CSUM, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET, Superblock, decodeGroupDesc, decodeGroupDesc64Extras, encodeGroupDesc,
  encodeGroupDesc64, groupDescBytes,
} from './format';
import { groupHasSuper } from './geometry';
import { MetaStore, SEAL_BLOCKS, SEAL_DESCRIPTORS } from './meta';
import { MetadataChecksums } from './read-profile';
import { checksumSeed } from './csum';

/** A 64-byte descriptor's fields beyond GroupDesc: the bitmaps' checksums and bg_itable_unused. */
type DescExtras = Pick<GroupDesc64, 'blockBitmapCsum' | 'inodeBitmapCsum' | 'itableUnused'>;

export class Groups {
  readonly count: number;
  readonly descs: GroupDesc[] = [];
  private readonly gdtFirstBlock = 1;
  /** 32, or s_desc_size (64) with 64bit. */
  private readonly descBytes: number;
  private readonly blockHint: number[];
  private readonly inodeHint: number[];
  /** With metadata_csum: the checksums to seal, and each descriptor's fields beyond GroupDesc. */
  readonly checksums: MetadataChecksums | undefined;
  /** With metadata_csum: the file system's checksum seed, which the bitmaps' checksums start from (told to the journal's tags). */
  private readonly seed: number = 0;
  private readonly extras: DescExtras[] = [];
  /** BLOCK_UNINIT groups' bitmaps as they read, built on first use (never stored until the flag is cleared). */
  private readonly uninitBitmaps = new Map<number, Uint8Array>();
  /**
   * Per group, a range of its block bitmap's bits known to be all set ([lo, hi): a flex
   * group's metadata in group 0, which every search from an inode's goal crosses), for the
   * bitmap array it was found in: findRun jumps over it. Only markBlocks clears a bit, and
   * cuts the range first; a bitmap array other than the one recorded (the group's BLOCK_UNINIT
   * flag cleared, the block read again) makes it count for nothing.
   */
  private readonly fullRange: Array<{ bitmap: Uint8Array; lo: number; hi: number } | undefined> = [];

  constructor(private readonly meta: MetaStore, readonly sb: Superblock) {
    this.count = Math.ceil(sb.blocksCount / sb.blocksPerGroup);
    this.descBytes = groupDescBytes(sb);
    // block 0 is read only when the seed is needed: the subset's mount reads what it read
    const sbBytes = (sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) === 0 ? undefined
      : meta.read(0).subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES);
    this.checksums = sbBytes === undefined ? undefined : MetadataChecksums.of(sb, sbBytes);
    if (sbBytes !== undefined) this.seed = checksumSeed(sbBytes);
    for (let g = 0; g < this.count; g++) {
      const at = g * this.descBytes;
      const bytes = meta.read(this.gdtFirstBlock + Math.floor(at / BLOCK_BYTES));
      this.descs.push(decodeGroupDesc(bytes, at % BLOCK_BYTES, this.descBytes));
      if (this.checksums !== undefined) this.extras.push(decodeGroupDesc64Extras(bytes, at % BLOCK_BYTES));
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
    return (this.blockBitmap(g)[bit >> 3] & (1 << (bit & 7))) !== 0;
  }

  /** Whether the kernel honours group `g`'s uninit flag `flag` (only with descriptor checksums). */
  private uninit(g: number, flag: number): boolean {
    return this.checksums !== undefined && (this.descs[g].flags & flag) !== 0;
  }

  /** Group `g`'s block bitmap as it reads: the stored block, or what a BLOCK_UNINIT group's would hold. */
  private blockBitmap(g: number): Uint8Array {
    if (!this.uninit(g, BG_BLOCK_UNINIT)) return this.meta.read(this.descs[g].blockBitmap);
    let bitmap = this.uninitBitmaps.get(g);
    if (bitmap === undefined) {
      bitmap = this.initialBlockBitmap(g);
      this.uninitBitmaps.set(g, bitmap);
    }
    return bitmap;
  }

  /**
   * A BLOCK_UNINIT group's bitmap as the kernel builds it (ext4_init_block_bitmap): its
   * superblock backup, descriptor table and reserved descriptor blocks, every group's bitmaps
   * and inode table lying in it, and the bits past the end of the file system, set.
   */
  private initialBlockBitmap(g: number): Uint8Array {
    const bitmap = new Uint8Array(BLOCK_BYTES);
    const base = g * this.sb.blocksPerGroup;
    const set = (from: number, length: number): void => {
      for (let b = Math.max(from, base); b < Math.min(from + length, base + this.sb.blocksPerGroup); b++) bitmap[(b - base) >> 3] |= 1 << ((b - base) & 7);
    };
    if (groupHasSuper(g)) set(base, 1 + Math.ceil((this.count * this.descBytes) / BLOCK_BYTES) + this.sb.reservedGdtBlocks);
    const tableBlocks = Math.ceil((this.sb.inodesPerGroup * INODE_BYTES) / BLOCK_BYTES);
    for (const d of this.descs) {
      set(d.blockBitmap, 1);
      set(d.inodeBitmap, 1);
      set(d.inodeTable, tableBlocks);
    }
    set(base + this.blocksInGroup(g), this.sb.blocksPerGroup - this.blocksInGroup(g));
    return bitmap;
  }

  /** Clear group `g`'s BLOCK_UNINIT: its bitmap written whole, as it read. */
  private initBlockBitmap(g: number): void {
    if (!this.uninit(g, BG_BLOCK_UNINIT)) return;
    const built = this.blockBitmap(g);
    this.meta.write(this.descs[g].blockBitmap).set(built);
    this.uninitBitmaps.delete(g);
    this.descs[g].flags &= ~BG_BLOCK_UNINIT;
    this.sealBitmap(g, 'block');
    this.saveDesc(g);
  }

  /** Clear group `g`'s INODE_UNINIT: its bitmap written whole (every inode free, the padding set). */
  private initInodeBitmap(g: number): void {
    if (!this.uninit(g, BG_INODE_UNINIT)) return;
    const bitmap = this.meta.write(this.descs[g].inodeBitmap);
    bitmap.fill(0);
    for (let bit = this.sb.inodesPerGroup; bit < BLOCK_BYTES * 8; bit++) bitmap[bit >> 3] |= 1 << (bit & 7);
    this.descs[g].flags &= ~BG_INODE_UNINIT;
    this.sealBitmap(g, 'inode');
    this.saveDesc(g);
  }

  /** With metadata_csum: group `g`'s changed bitmap gets its checksum (into the descriptor, sealed after) before commit. */
  private sealBitmap(g: number, kind: 'block' | 'inode'): void {
    const csum = this.checksums;
    if (csum === undefined) return;
    const desc = this.descs[g];
    const block = kind === 'block' ? desc.blockBitmap : desc.inodeBitmap;
    const tx = this.meta.tx();
    if (tx.hasSeal(SEAL_BLOCKS, block)) return;
    tx.seal(SEAL_BLOCKS, block, () => {
      const bytes = this.meta.peek(block);
      const bits = kind === 'block' ? this.sb.clustersPerGroup : this.sb.inodesPerGroup;
      // a bitmap changes by a few bits a transaction: the store keeps its CRC up to date from the lines that changed
      const whole = bits % 8 === 0 && bits / 8 <= BLOCK_BYTES;
      const checksum = csum.bitmapChecksum(bytes, bits, whole ? (seed, length) => this.meta.blockCrc(block, length, seed) : undefined);
      if (kind === 'block') this.extras[g].blockBitmapCsum = checksum;
      else this.extras[g].inodeBitmapCsum = checksum;
      // the checksum covers the bitmap's first bits / 8 bytes as the journal logs them: its tag need not read them again
      if (whole) this.meta.tx().notePrefixCrc(block, bits / 8, this.seed, checksum);
      this.sealDesc(g);
    });
  }

  /** With metadata_csum: group `g`'s descriptor is encoded with its bitmaps' checksums and given its own, before commit. */
  private sealDesc(g: number): void {
    const csum = this.checksums;
    if (csum === undefined) return;
    const tx = this.meta.tx();
    if (tx.hasSeal(SEAL_DESCRIPTORS, g)) return;
    tx.seal(SEAL_DESCRIPTORS, g, () => {
      const [block, offset] = this.descLocation(g);
      const bytes = this.meta.write(block, offset, offset + this.descBytes);
      encodeGroupDesc64(this.descs[g], bytes, offset, this.extras[g]);
      csum.stampGroupDesc(g, bytes.subarray(offset, offset + this.descBytes));
    });
  }

  private descLocation(g: number): [number, number] {
    const at = g * this.descBytes;
    return [this.gdtFirstBlock + Math.floor(at / BLOCK_BYTES), at % BLOCK_BYTES];
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
      this.initBlockBitmap(g);
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
      const bitmap = this.uninit(g, BG_INODE_UNINIT) ? undefined : this.meta.read(desc.inodeBitmap);
      const ipg = this.sb.inodesPerGroup;
      for (let i = 0; i < ipg; i++) {
        const bit = (this.inodeHint[g] + i) % ipg;
        if (bitmap !== undefined && (bitmap[bit >> 3] & (1 << (bit & 7))) !== 0) continue;
        const ino = g * ipg + bit + 1;
        if (ino < this.sb.firstIno) continue;
        if (isDirectory && desc.usedDirsCount >= ipg) {
          throw this.corrupt(g, 'group descriptor', `bg_used_dirs_count ${desc.usedDirsCount} with a free inode left`);
        }
        // the kernel's __ext4_new_inode: an uninit group's bitmaps are written before its first inode
        this.initInodeBitmap(g);
        this.initBlockBitmap(g);
        this.meta.write(desc.inodeBitmap, bit >> 3, (bit >> 3) + 1)[bit >> 3] |= 1 << (bit & 7);
        this.sealBitmap(g, 'inode');
        if (this.checksums !== undefined && bit >= ipg - this.extras[g].itableUnused) this.extras[g].itableUnused = ipg - bit - 1;
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
    this.sealBitmap(g, 'inode');
    desc.freeInodesCount++;
    if (wasDirectory) desc.usedDirsCount--;
    this.inodeHint[g] = Math.min(this.inodeHint[g], bit);
    this.saveDesc(g);
  }

  /** A free run in group g at or after bit `from`: the first free block, extended up to count. */
  private findRun(g: number, from: number, count: number): [number, number] | undefined {
    const bitmap = this.blockBitmap(g);
    const limit = this.blocksInGroup(g);
    const base = g * this.sb.blocksPerGroup;
    // whole words of used blocks are skipped 32 bits at a time when the bitmap is word-aligned
    // (a word is read only below `limit`); the set bits from where the scan starts are
    // followed ([scanStart, fullEnd)) and remembered for the next search (`fullRange`)
    const words = bitmap.byteOffset % 4 === 0 ? new Int32Array(bitmap.buffer, bitmap.byteOffset, bitmap.length >> 2) : undefined;
    const wordLimit = limit & ~31;
    const memo = this.fullRange[g];
    const jump = memo !== undefined && memo.bitmap === bitmap && from >= memo.lo && from < memo.hi;
    const scanStart = jump ? memo.lo : from;
    let bit = jump ? memo.hi : from;
    let fullEnd = bit;
    const remember = (): void => {
      if (fullEnd - scanStart > (jump ? memo.hi - memo.lo : 0)) this.fullRange[g] = { bitmap, lo: scanStart, hi: fullEnd };
    };
    while (bit < limit) {
      if (words !== undefined && (bit & 31) === 0 && bit < wordLimit && words[bit >> 5] === -1) {
        if (bit === fullEnd) fullEnd += 32;
        bit += 32;
        continue;
      }
      if ((bit & 7) === 0 && bitmap[bit >> 3] === 0xff) {
        if (bit === fullEnd) fullEnd += 8;
        bit += 8;
        continue;
      }
      const used = (bitmap[bit >> 3] & (1 << (bit & 7))) !== 0;
      if (used || this.meta.isQuarantined(base + bit)) {
        if (used && bit === fullEnd) fullEnd++;
        bit++;
        continue;
      }
      let len = 1;
      while (len < count && bit + len < limit && (bitmap[(bit + len) >> 3] & (1 << ((bit + len) & 7))) === 0
        && !this.meta.isQuarantined(base + bit + len)) len++;
      remember();
      return [base + bit, len];
    }
    remember();
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
    this.initBlockBitmap(g);
    const current = this.meta.read(desc.blockBitmap);
    for (let b = start; b < start + length; b++) {
      const bit = b - g * this.sb.blocksPerGroup;
      // Freeing a block whose bit is clear: a file and the bitmap disagree on the image.
      if (((current[bit >> 3] & (1 << (bit & 7))) !== 0) === used) {
        throw this.corrupt(g, 'block bitmap', `block ${b} is already ${used ? 'in use' : 'free'}`);
      }
    }
    const bitmap = this.meta.write(desc.blockBitmap, firstBit >> 3, ((firstBit + length - 1) >> 3) + 1);
    const memo = this.fullRange[g];
    if (!used && memo !== undefined && firstBit < memo.hi && firstBit + length > memo.lo) memo.hi = Math.max(memo.lo, firstBit);
    for (let b = start; b < start + length; b++) {
      const bit = b - g * this.sb.blocksPerGroup;
      const mask = 1 << (bit & 7);
      if (used) bitmap[bit >> 3] |= mask;
      else bitmap[bit >> 3] &= ~mask;
    }
    this.sealBitmap(g, 'block');
    desc.freeBlocksCount += used ? -length : length;
    this.saveDesc(g);
  }

  private corrupt(g: number, structure: string, what: string): CorruptionError {
    return new CorruptionError({ structure, where: `group ${g}`, what });
  }

  /** Group `g`'s descriptor into the running transaction (with metadata_csum, its checksums are sealed before commit). */
  private saveDesc(g: number): void {
    if (this.checksums !== undefined) {
      // dirtied now, so the transaction's size counts it; encoded with its checksums at the seal.
      // A descriptor already sealed in this transaction was dirtied with the seal (this same
      // range, and a descriptor block is never forgotten): dirtying it again changes nothing
      if (this.meta.tx().hasSeal(SEAL_DESCRIPTORS, g)) return;
      const [block, offset] = this.descLocation(g);
      this.meta.write(block, offset, offset + this.descBytes);
      this.sealDesc(g);
      return;
    }
    assert(this.descBytes === GROUP_DESC_BYTES, 'a 64-byte descriptor is written with metadata_csum alone');
    const [block, offset] = this.descLocation(g);
    encodeGroupDesc(this.descs[g], this.meta.write(block, offset, offset + GROUP_DESC_BYTES), offset);
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
