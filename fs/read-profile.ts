/**
 * Reading mkfs.ext4's default profile: the metadata checksums a read-only mount verifies, and
 * what the kernel (Linux 6.x, fs/ext4) does when one fails, so our answer is its answer.
 *
 * Owns `MetadataChecksums`, made once per mount from the superblock when metadata_csum is on
 * (the seed is crc32c of the UUID: metadata_csum_seed is outside what is read), and the
 * superblock's own check at mount. The checksums themselves are fs/csum.ts's pure functions;
 * this module decides which one applies to a block and what its failure costs:
 *
 * - superblock: the mount is refused with EBADMSG (ext4_fill_super, EFSBADCRC), checked
 *   right after the magic, before the features;
 * - group descriptor: a read-only mount goes on (ext4_check_descriptors only logs it unless
 *   the mount is writable, and writable mounts of this profile are refused anyway);
 * - inode: every lookup of a name that leads to it fails with EBADMSG (iget), so does the
 *   root's at mount; an inode already cached is not checked again, as in the kernel;
 * - extent tree block (below i_block): the call that loads the file's map fails with EBADMSG
 *   (__ext4_ext_check, after the header and entry checks). The kernel's loop-mounted,
 *   page-cache read reports it as EIO; its DAX read, which is ours, returns the error itself;
 * - directory leaf block (the 12-byte tail entry; a leaf without one fails too): a lookup fails
 *   at the first bad block it reads; readdir fails, except on a linear directory of more than
 *   one block, whose bad blocks the kernel's readdir skips (their names are not listed);
 * - htree root and interior nodes (dx_tail): lookups and readdir fail with EBADMSG.
 *
 * An htree directory's lookups follow its index (fs/htree.ts), so a leaf failing its checksum
 * fails exactly the lookups the index sends to it, as in the kernel; its readdir reads the
 * blocks linearly (the root and interior nodes look like blocks of one unused entry), listing
 * names in block order where the kernel lists them in hash order. Where the kernel falls back
 * from an index it calls bad to a linear search, so do we; a leaf failing its checksum is then
 * skipped, and the lookup fails with EBADMSG only when no good leaf holds the name.
 *
 * Bitmaps are never read by a read-only mount, so theirs are not checked (nor
 * are BLOCK_UNINIT / INODE_UNINIT bitmaps read). Extended attributes are not read.
 */
import { readU16LE, readU32LE, writeU16LE, writeU32LE } from '../core/bytes';
import { CorruptionError } from '../core/errors';
import {
  CSUM_OFFSETS, DIR_TAIL_BYTES, bitmapChecksum, checksumSeed, crc32cRaw, dirBlockChecksum, dxNodeChecksum, dxTailChecksumOffset,
  extentBlockChecksum, groupDescChecksum, inodeChecksum, inodeSeed, superblockChecksum, xattrBlockChecksum,
} from './csum';
import {
  BLOCK_BYTES, DIR_TAIL_FILE_TYPE, INDEX_FL, Inode, RO_COMPAT_METADATA_CSUM, SUPERBLOCK_BYTES, Superblock, encodeDirTail,
} from './format';
import { NODE_COUNT_AT, ROOT_INFO_AT } from './htree';

/** What a directory block's checksum failure does to a lookup and to a readdir (see the module comment). */
export interface DirBlockFailure {
  readonly error: CorruptionError;
  /** 'fail': the lookup fails here; 'skip': the lookup reads on, failing at the end if no block has the name. */
  readonly lookup: 'fail' | 'skip';
  /** 'fail': readdir fails; 'skip': the block's names are left out. */
  readonly list: 'fail' | 'skip';
}

/**
 * What stamping a directory block wrote: bytes [from, to) (a leaf's tail entry, or an index
 * node's dx_tail checksum), which its writers may not have marked (a checkpoint that writes
 * marked lines only must be told), and for a leaf its checksum and the seed it started from.
 */
export interface DirStamp {
  readonly from: number;
  readonly to: number;
  readonly leaf?: { readonly seed: number; readonly checksum: number };
}

const GOOD_OLD_INODE_BYTES = 128;
/** dx_root_info's info_length byte (fs/htree.ts ROOT_INFO_AT + 5). */
const DX_ROOT_INFO_LENGTH_AT = ROOT_INFO_AT + 5;

function badChecksum(structure: string, where: string, what: string): CorruptionError {
  return new CorruptionError({ structure, where, what, badChecksum: true });
}

/** h_checksum of an xattr block's header. */
const XATTR_CHECKSUM_AT = 0x10;

// core/bytes.ts's codecs, not a DataView per field: the seals stamp several fields per transaction
const putLe16 = writeU16LE;
const putLe32 = (bytes: Uint8Array, at: number, value: number): void => writeU32LE(bytes, at, value >>> 0);

/** Stamp s_checksum into a superblock's 1024 bytes when it has metadata_csum (else nothing): every superblock write goes through this. */
export function stampSuperblock(bytes: Uint8Array): void {
  if ((le32(bytes, 0x64) & RO_COMPAT_METADATA_CSUM) === 0) return;
  putLe32(bytes, CSUM_OFFSETS.superblock, superblockChecksum(bytes.subarray(0, SUPERBLOCK_BYTES)));
}

const hex = (value: number): string => `0x${(value >>> 0).toString(16)}`;
const le32 = readU32LE;
const le16 = readU16LE;

/** The superblock's s_checksum failure (its 1024 bytes given), or undefined; always undefined without metadata_csum. */
export function superblockChecksumFailure(bytes: Uint8Array): CorruptionError | undefined {
  if ((le32(bytes, 0x64) & RO_COMPAT_METADATA_CSUM) === 0) return undefined;
  const stored = le32(bytes, CSUM_OFFSETS.superblock);
  const computed = superblockChecksum(bytes.subarray(0, SUPERBLOCK_BYTES));
  if (stored === computed) return undefined;
  return badChecksum('superblock', `byte 1024 + ${hex(CSUM_OFFSETS.superblock)}`, `s_checksum ${hex(stored)}, computed ${hex(computed)}`);
}


/** The checksums of one mounted file system with metadata_csum: verified on reads, stamped by a writable mount's seals (fs/meta.ts). */
/** Inodes whose checksum seed a MetadataChecksums remembers. */
const SEEDS_MAX = 4096;

export class MetadataChecksums {
  /** Per inode, its seed for a generation (`seedOf`). */
  private readonly inodeSeeds = new Map<number, { generation: number; seed: number }>();

  private constructor(private readonly seed: number) {}

  /** For a superblock with metadata_csum (its 1024 bytes), else undefined. */
  static of(sb: Superblock, sbBytes: Uint8Array): MetadataChecksums | undefined {
    if ((sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) === 0) return undefined;
    return new MetadataChecksums(checksumSeed(sbBytes));
  }

  /** Does group `g`'s descriptor (its desc_size bytes) pass bg_checksum? */
  groupDescPasses(g: number, desc: Uint8Array): boolean {
    return groupDescChecksum(this.seed, g, desc) === le16(desc, CSUM_OFFSETS.groupDesc);
  }

  /** An inode's checksum failure (its 256 on-disk bytes), or undefined: 32 bits when i_extra_isize holds i_checksum_hi, else the low 16. */
  inodeFailure(ino: number, raw: Uint8Array): CorruptionError | undefined {
    const computed = inodeChecksum(this.seed, ino, raw);
    const hasHigh = raw.length > GOOD_OLD_INODE_BYTES && GOOD_OLD_INODE_BYTES + le16(raw, CSUM_OFFSETS.inodeExtraIsize) >= CSUM_OFFSETS.inodeHi + 2;
    const stored = le16(raw, CSUM_OFFSETS.inodeLo) + (hasHigh ? le16(raw, CSUM_OFFSETS.inodeHi) * 0x10000 : 0);
    const expected = hasHigh ? computed >>> 0 : computed & 0xffff;
    if (stored === expected) return undefined;
    return badChecksum('inode', `inode ${ino}`, `iget: checksum ${hex(stored)}, computed ${hex(expected)}`);
  }

  /** An extent tree block's tail failure (after eh_max entries), or undefined. */
  extentBlockFailure(ino: number, inode: Inode, bytes: Uint8Array): CorruptionError | undefined {
    const tailAt = 12 + 12 * le16(bytes, 4);
    if (tailAt + 4 > BLOCK_BYTES) return badChecksum('extent tree', `inode ${ino} extent block`, 'no room for the tail checksum');
    const stored = le32(bytes, tailAt);
    const computed = extentBlockChecksum(this.inodeSeedOf(ino, inode), bytes);
    if (stored === computed) return undefined;
    return badChecksum('extent tree', `inode ${ino} extent block`, `tail checksum ${hex(stored)}, computed ${hex(computed)}`);
  }

  /**
   * A directory block's failure, or undefined: the dx_tail of an htree directory's root
   * (logical block 0) and interior nodes, the tail entry's checksum of every leaf. `index`
   * is the logical block, `blocks` the directory's size in blocks.
   */
  dirBlockFailure(dirIno: number, inode: Inode, index: number, blocks: number, bytes: Uint8Array): DirBlockFailure | undefined {
    const where = `directory inode ${dirIno} logical block ${index}`;
    const seed = this.inodeSeedOf(dirIno, inode);
    const indexed = (inode.flags & INDEX_FL) !== 0;
    if (indexed && (index === 0 || isDxInteriorNode(bytes))) {
      const countAt = index === 0 ? ROOT_INFO_AT + bytes[DX_ROOT_INFO_LENGTH_AT] : NODE_COUNT_AT;
      const error = this.dxNodeError(seed, bytes, countAt, where);
      return error === undefined ? undefined : { error, lookup: 'fail', list: 'fail' };
    }
    const error = leafError(seed, bytes, where);
    if (error === undefined) return undefined;
    if (indexed) return { error, lookup: 'skip', list: 'fail' };
    return { error, lookup: 'fail', list: blocks > 1 ? 'skip' : 'fail' };
  }

  /** An htree index node's dx_tail failure (the root's limit/count pair at `countAt`, an interior node's at 8), or undefined. */
  dxNodeFailure(dirIno: number, inode: Inode, index: number, bytes: Uint8Array, countAt: number): CorruptionError | undefined {
    return this.dxNodeError(this.inodeSeedOf(dirIno, inode), bytes, countAt, `directory inode ${dirIno} logical block ${index}`);
  }

  private dxNodeError(seed: number, bytes: Uint8Array, countAt: number, where: string): CorruptionError | undefined {
    const limit = le16(bytes, countAt);
    if (countAt + limit * 8 + 8 > BLOCK_BYTES || le16(bytes, countAt + 2) > limit) {
      return badChecksum('directory index', where, `limit ${limit} leaves no room for the dx tail`);
    }
    const stored = le32(bytes, dxTailChecksumOffset(bytes, countAt));
    const computed = dxNodeChecksum(seed, bytes, countAt);
    return stored === computed ? undefined : badChecksum('directory index', where, `dx tail checksum ${hex(stored)}, computed ${hex(computed)}`);
  }

  // ------------------------------------------------------------------ stamping (writes)

  /**
   * Stamp an inode's i_checksum_lo (and _hi when i_extra_isize holds it) into its 256 on-disk
   * bytes: the fields are zeroed in place first, so the checksum is taken over the bytes as they
   * are (inodeChecksum's copy spared; the same value).
   */
  stampInode(ino: number, raw: Uint8Array): void {
    const hasHigh = GOOD_OLD_INODE_BYTES + le16(raw, CSUM_OFFSETS.inodeExtraIsize) >= CSUM_OFFSETS.inodeHi + 2;
    putLe16(raw, CSUM_OFFSETS.inodeLo, 0);
    if (hasHigh) putLe16(raw, CSUM_OFFSETS.inodeHi, 0);
    const computed = crc32cRaw(this.seedOf(ino, le32(raw, 0x64)), raw);
    putLe16(raw, CSUM_OFFSETS.inodeLo, computed & 0xffff);
    if (hasHigh) putLe16(raw, CSUM_OFFSETS.inodeHi, computed >>> 16);
  }

  /** Stamp an extent tree block's tail (after eh_max entries) for inode `ino` of `generation`; returns the offset of the 4 bytes written. */
  stampExtentBlock(ino: number, generation: number, bytes: Uint8Array): number {
    const at = 12 + 12 * le16(bytes, 4);
    putLe32(bytes, at, extentBlockChecksum(this.seedOf(ino, generation), bytes));
    return at;
  }

  /**
   * Stamp a directory block of `dirIno` at logical block `index`, deciding as `dirBlockFailure`
   * does which checksum it carries: the dx_tail of an htree root (block 0 of an INDEX_FL
   * directory) or interior node, else the leaf's tail entry (written whole, so a block whose
   * entries end at 4084 gets one). Returns the bytes it wrote and, for a leaf, the seed its
   * checksum started from and the checksum (over the block up to its tail: what a journal tag
   * over the block can start from, fs/journal.ts).
   */
  stampDirBlock(dirIno: number, inode: Inode, index: number, bytes: Uint8Array): DirStamp {
    const seed = this.inodeSeedOf(dirIno, inode);
    if ((inode.flags & INDEX_FL) !== 0 && (index === 0 || isDxInteriorNode(bytes))) {
      const countAt = index === 0 ? ROOT_INFO_AT + bytes[DX_ROOT_INFO_LENGTH_AT] : NODE_COUNT_AT;
      const at = dxTailChecksumOffset(bytes, countAt);
      putLe32(bytes, at, dxNodeChecksum(seed, bytes, countAt));
      return { from: at, to: at + 4 };
    }
    const checksum = dirBlockChecksum(seed, bytes);
    encodeDirTail(bytes, checksum);
    return { from: BLOCK_BYTES - DIR_TAIL_BYTES, to: BLOCK_BYTES, leaf: { seed, checksum } };
  }

  /**
   * A bitmap's checksum over its first `bits` bits (the descriptor holds it). A caller that
   * keeps the bitmap's CRC (fs/meta.ts MetaStore.blockCrc) passes `kept`, crc32cRaw(seed, the
   * bitmap's first `length` bytes), for bitmaps of whole bytes: the same value.
   */
  bitmapChecksum(bitmap: Uint8Array, bits: number, kept?: (seed: number, length: number) => number): number {
    if (kept !== undefined && bits % 8 === 0) return kept(this.seed, bits / 8);
    return bitmapChecksum(this.seed, bitmap, bits);
  }

  /** Stamp group `g`'s bg_checksum into its descriptor bytes (desc_size of them). */
  stampGroupDesc(g: number, desc: Uint8Array): void {
    putLe16(desc, CSUM_OFFSETS.groupDesc, groupDescChecksum(this.seed, g, desc));
  }

  /** Stamp an xattr block's h_checksum (at 0x10): from the seed, over its block number as le64, then the block with the field as zeros. */
  stampXattrBlock(block: number, bytes: Uint8Array): void {
    putLe32(bytes, XATTR_CHECKSUM_AT, xattrBlockChecksum(this.seed, block, bytes));
  }

  private inodeSeedOf(ino: number, inode: Inode): number {
    return this.seedOf(ino, inode.generation);
  }

  /**
   * inodeSeed(seed, ino, generation), remembered per inode for its last generation (an inode
   * is stamped at every commit that changes it; its seed changes only with its generation).
   * At most SEEDS_MAX inodes are remembered: the memory is emptied when it is full.
   */
  private seedOf(ino: number, generation: number): number {
    const known = this.inodeSeeds.get(ino);
    if (known !== undefined && known.generation === generation) return known.seed;
    const seed = inodeSeed(this.seed, ino, generation);
    if (known !== undefined) {
      known.generation = generation;
      known.seed = seed;
      return seed;
    }
    if (this.inodeSeeds.size >= SEEDS_MAX) this.inodeSeeds.clear();
    this.inodeSeeds.set(ino, { generation, seed });
    return seed;
  }
}

/** An htree interior node as a linear reader sees it: one unused entry spanning the block. */
function isDxInteriorNode(bytes: Uint8Array): boolean {
  return le32(bytes, 0) === 0 && le16(bytes, 4) === BLOCK_BYTES;
}

/** A leaf's failure: no tail entry where metadata_csum puts one, or its checksum wrong. */
function leafError(seed: number, bytes: Uint8Array, where: string): CorruptionError | undefined {
  const at = BLOCK_BYTES - DIR_TAIL_BYTES;
  const isTail = le32(bytes, at) === 0 && le16(bytes, at + 4) === DIR_TAIL_BYTES && bytes[at + 6] === 0 && bytes[at + 7] === DIR_TAIL_FILE_TYPE;
  if (!isTail) return badChecksum('directory', where, 'no checksum tail entry');
  const stored = le32(bytes, at + 8);
  const computed = dirBlockChecksum(seed, bytes);
  return stored === computed ? undefined : badChecksum('directory', where, `tail checksum ${hex(stored)}, computed ${hex(computed)}`);
}
