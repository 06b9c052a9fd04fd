/**
 * The inode table in use: decoded inodes and their block maps, cached, and the block
 * accounting every seam shares.
 *
 * Owns: the inode cache (`inode`, `putInode`) and where an inode lives on disk; the checks
 * the kernel's iget makes of an inode reached by name or the root (`iget`); the file-map
 * cache (`map`, `forgetMap`, `startEmptyMap`) and the block validity maps are checked
 * against (the kernel's system zones, built once per mount); symlink targets (`linkTarget`,
 * fast or slow by `isFastSymlink`); a directory's blocks for dir.ts (`dirBlocks`: the table
 * is the DirBlockSource); the check that an operation can get its blocks and inodes before
 * it changes anything (`reserve`); block allocation for data and extent-tree blocks
 * (`allocBlock`, `treeAlloc`).
 *
 * Invariants: there is one decoded object per inode, and `putInode` writes it into the
 * running transaction and keeps it cached, so the cache is the transaction's view; every
 * inode number is checked against s_inodes_count before its location is computed; a map is
 * checked against i_blocks when loaded (i_blocks covers at least what the tree maps, so
 * freeing never drives it negative). Corrupt on-disk data is a CorruptionError.
 *
 * iget (after __ext4_iget and ext4_lookup, Linux 6.x) runs once per inode while it is cached,
 * as the kernel's checks run when an inode enters its inode cache: a number that is not the
 * root's nor in [s_first_ino, s_inodes_count]; a bad i_extra_isize; links 0 (deleted, or the
 * root unallocated); an xattr block that is not a valid block; for regular files,
 * directories and slow symlinks, the extent root and its entries (checkExtentRoot) or, on a
 * block-mapped inode, its 12 direct block numbers; on a symlink, the immutable or append flag
 * and a fast target's length; a mode of no file type; the casefold or EA_INODE flag (the
 * subset has neither feature); with metadata_csum, the inode's checksum (EBADMSG), after the
 * i_extra_isize check as in the kernel. Callers: the path walk, for every name it resolves, and the
 * mount's root check; never inode allocation or the orphan list (its inodes have links 0 by
 * right), nor an open descriptor (an unlinked open file has links 0 and no name).
 *
 * With metadata_csum (mkfs.ext4's default profile) extent-tree blocks and directory blocks are
 * checked against their checksums as they are read (fs/read-profile.ts says what a failure
 * costs), and a writable mount seals what it changes (fs/meta.ts): each inode written
 * (`putInode`), each extent-tree block stored (`treeAlloc`'s sealTreeBlock) and each directory
 * block changed (`sealDirBlock`, keyed by directory and logical block) gets its checksum once,
 * just before the transaction commits. With extra_isize or metadata_csum an inode rewrite keeps
 * what the decoded inode does not model (l_i_version, i_version_hi, i_projid, the in-inode
 * extended attributes); the times' `_extra` words (nanoseconds, epoch bits) are the decoded
 * inode's own (fs/format.ts inodeTime / setInodeTime). A new inode starts from zeros.
 *
 * Does not: decide when an inode is created, named or freed (lifecycle.ts), move file data
 * (dax-data.ts), or resolve paths (namei.ts).
 */
import { assert } from '../core/assert';
import { CorruptionError } from '../core/errors';
import type { Fail } from '../core/node-layer';
import {
  APPEND_FL, BLOCK_BYTES, GOOD_OLD_INODE_BYTES, COMPAT_DIR_INDEX, COMPAT_EXT_ATTR, RO_COMPAT_EXTRA_ISIZE, RO_COMPAT_METADATA_CSUM, HUGE_FILE_FL, INDEX_FL, RO_COMPAT_HUGE_FILE, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET, CASEFOLD_FL, COMPAT_HAS_JOURNAL, EA_INODE_FL, EXTENTS_FL, IMMUTABLE_FL, I_BLOCK_BYTES, INODE_BYTES, Inode, ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
  S_IFREG, S_IFSOCK, TWO_POW_32, decodeInode, encodeInode,
} from './format';
import type { DirBlockSource } from './dir';
import { DX_HASH_TEA, EXT2_FLAGS_UNSIGNED_HASH, HtreeSource, UNSIGNED_OFFSET, hashOrder, htreeLeaves, indexPastEnd, rootHashVersion } from './htree';
import { DirBlockFailure, MetadataChecksums } from './read-profile';
import {
  BlockValidity, FileMap, JournalZoneSource, TreeAllocator, checkExtentRoot, emptyMap, findExtent, loadFileMap, systemZones,
} from './extents';
import { FsContext, SECTORS_PER_BLOCK } from './fs-context';
import { MetaStore, SEAL_BLOCKS } from './meta';
import { DIR_TAIL_BYTES } from './csum';

/** An xattr block's header: h_magic at 0, h_refcount at 4, 32 bytes in all. */
const XATTR_MAGIC = 0xea020000;
const XATTR_REFCOUNT_AT = 4;
const XATTR_HEADER_BYTES = 32;
/** i_extra_isize of the inodes we create without s_want_extra_isize (what mkfs.ext4 writes). */
const NEW_EXTRA_ISIZE = 32;
/** EXT4_NDIR_BLOCKS: the direct block numbers of a block-mapped inode, which iget checks. */
const DIRECT_BLOCKS = 12;

/**
 * The kernel's rule (ext4_inode_is_fast_symlink, without ea_inode): a symlink is fast, its
 * target in i_block, when i_blocks counts nothing but its xattr block; EXTENTS_FL and i_size
 * do not enter. i_blocks and i_file_acl are their low 32 bits, as without huge_file and 64bit.
 */
export function isFastSymlink(inode: Inode): boolean {
  const xattrSectors = inode.fileAcl % TWO_POW_32 !== 0 ? SECTORS_PER_BLOCK : 0;
  return (inode.mode & S_IFMT) === S_IFLNK && (inode.blocks % TWO_POW_32) - xattrSectors === 0;
}

export class InodeTable implements DirBlockSource {
  readonly meta: MetaStore;
  private readonly ctx: FsContext;
  private readonly inodes = new Map<number, Inode>();
  private readonly maps = new Map<number, FileMap>();
  /** Inodes that passed iget since they were cached. */
  private readonly igot = new Set<number>();
  private validity: BlockValidity | undefined;
  /** The metadata checksums, with metadata_csum. */
  readonly checksums: MetadataChecksums | undefined;
  /** Inode rewrites keep the bytes the decoded inode does not model (extra_isize or metadata_csum). */
  private readonly keepsUnmodelled: boolean;
  /**
   * Inodes this mount wrote: their checksums are sealed before they reach the device, so iget
   * does not check them again (the kernel checks an inode when it reads it, not what it wrote).
   */
  private readonly writtenInodes = new Set<number>();
  /**
   * Directory blocks (their cached bytes) whose checksum passed, or which we changed (sealed
   * before they reach the device): not checked again, as the kernel checks a buffer once.
   */
  private readonly trustedDirBlocks = new WeakSet<Uint8Array>();

  constructor(ctx: FsContext) {
    this.ctx = ctx;
    this.meta = ctx.meta;
    this.checksums = MetadataChecksums.of(ctx.sb, ctx.meta.read(0).subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES));
    this.keepsUnmodelled = (ctx.sb.featureRoCompat & (RO_COMPAT_EXTRA_ISIZE | RO_COMPAT_METADATA_CSUM)) !== 0;
  }

  /** i_extra_isize of a new inode: s_want_extra_isize with extra_isize (when it is a valid size), else 32. */
  newExtraIsize(): number {
    const want = this.ctx.sb.wantExtraIsize;
    const valid = want >= 4 && want % 4 === 0 && GOOD_OLD_INODE_BYTES + want <= INODE_BYTES;
    return (this.ctx.sb.featureRoCompat & RO_COMPAT_EXTRA_ISIZE) !== 0 && valid ? want : NEW_EXTRA_ISIZE;
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

  /**
   * The inode `ino` as the kernel's iget returns it to a lookup of a name (or of the root at
   * mount): a CorruptionError where __ext4_iget or ext4_lookup answers EFSCORRUPTED (see the
   * module comment for the checks). Checked once while the inode is cached.
   */
  iget(ino: number): Inode {
    if (this.igot.has(ino)) return this.inode(ino);
    const { sb } = this.ctx;
    if (ino !== ROOT_INO && (!Number.isInteger(ino) || ino < sb.firstIno || ino > sb.inodesCount)) {
      throw CorruptionError.withoutStack({ structure: 'directory', where: `inode number ${ino}`, what: `neither the root nor in [${sb.firstIno}, ${sb.inodesCount}]` });
    }
    const inode = this.inode(ino);
    const fail = (what: string): never => {
      throw CorruptionError.withoutStack({ structure: 'inode', where: `inode ${ino}`, what });
    };
    if (GOOD_OLD_INODE_BYTES + inode.extraIsize > INODE_BYTES || inode.extraIsize % 4 !== 0) fail(`bad i_extra_isize ${inode.extraIsize}`);
    if (this.checksums !== undefined && !this.writtenInodes.has(ino)) {
      const [block, offset] = this.inodeLocation(ino);
      const failure = this.checksums.inodeFailure(ino, this.meta.read(block).subarray(offset, offset + INODE_BYTES));
      if (failure !== undefined) throw failure;
    }
    if (inode.linksCount === 0) fail(ino === ROOT_INO ? 'the root inode is unallocated (links 0)' : 'a deleted inode referenced (links 0)');
    const xattrBlock = inode.fileAcl % TWO_POW_32;
    if (xattrBlock !== 0 && !this.blockValidity().valid(ino, xattrBlock, 1)) fail(`bad extended attribute block ${xattrBlock}`);
    const type = inode.mode & S_IFMT;
    const fast = isFastSymlink(inode);
    if (type === S_IFREG || type === S_IFDIR || (type === S_IFLNK && !fast)) this.checkBlockRefs(ino, inode);
    if (type === S_IFLNK) {
      if ((inode.flags & (IMMUTABLE_FL | APPEND_FL)) !== 0) fail('immutable or append flag on a symlink');
      if (fast && !fastTargetFits(inode)) fail(`invalid fast symlink length ${inode.size}`);
    } else if (![S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].includes(type)) {
      fail(`bogus i_mode 0${inode.mode.toString(8)}`);
    }
    if ((inode.flags & CASEFOLD_FL) !== 0) fail('casefold flag without the casefold feature');
    if ((inode.flags & EA_INODE_FL) !== 0) fail('unexpected EA_INODE flag');
    this.igot.add(ino);
    return inode;
  }

  /** Write `inode` into the running transaction; `fresh`: a new inode, whose slot starts from zeros. */
  putInode(ino: number, inode: Inode, fresh = false): void {
    const [block, offset] = this.inodeLocation(ino);
    const out = this.meta.write(block, offset, offset + INODE_BYTES);
    encodeInode(inode, out, offset, this.keepsUnmodelled && !fresh);
    this.inodes.set(ino, inode);
    const csum = this.checksums;
    if (csum === undefined) return;
    this.writtenInodes.add(ino);
    // inode keys are negative: the phase's other keys are block numbers
    const tx = this.meta.tx();
    if (tx.hasSeal(SEAL_BLOCKS, -ino)) return;
    tx.seal(SEAL_BLOCKS, -ino, () => {
      const raw = this.meta.peek(block).subarray(offset, offset + INODE_BYTES);
      this.meta.noteUnitCrc(block, offset, raw, csum.stampInode(ino, raw));
    });
  }

  /**
   * With metadata_csum: directory `dirIno`'s logical block `index` changed (its device block
   * `block`, looked up in the directory's map when not given), to get its checksum before
   * commit: a leaf's tail entry, or an htree node's dx_tail, chosen as fs/read-profile.ts's
   * dirBlockFailure decides, from the directory's inode as it is at commit. The one entry
   * point for every writer of directory blocks (dir.ts, and htree writers). A block freed
   * before the commit is passed over. Without metadata_csum, nothing.
   */
  sealDirBlock(dirIno: number, index: number, deviceBlock?: number): void {
    const csum = this.checksums;
    if (csum === undefined) return;
    const block = deviceBlock ?? this.dirBlocks(dirIno)[index];
    assert(block !== undefined, () => `directory inode ${dirIno} has no logical block ${index}`);
    this.trustedDirBlocks.add(this.meta.read(block));
    const tx = this.meta.tx();
    if (tx.hasSeal(SEAL_BLOCKS, block)) return;
    tx.seal(SEAL_BLOCKS, block, () => {
      if (!this.meta.isDirty(block)) return;
      const stamp = csum.stampDirBlock(dirIno, this.inode(dirIno), index, this.meta.peek(block));
      // the tail may lie in a line no writer marked: an eager checkpoint writes marked lines only
      tx.dirty(block, stamp.from, stamp.to);
      // a leaf's checksum covers the block up to its tail as the journal logs it: its tag need not read those bytes again
      const leaf = stamp.leaf;
      if (leaf !== undefined) tx.notePrefixCrc(block, BLOCK_BYTES - DIR_TAIL_BYTES, leaf.seed, leaf.checksum);
    });
  }

  /**
   * ext_attr: an inode being freed lets go of its xattr block (i_file_acl): the block's
   * h_refcount drops, and at zero the block is freed (and revoked, being metadata); otherwise
   * it is rewritten with its new count (and, with metadata_csum, its checksum, before commit).
   * i_file_acl and the block's sectors leave the inode. Without ext_attr, or without a block,
   * nothing (the subset never has one).
   */
  dropXattrBlock(ino: number, inode: Inode): void {
    const block = inode.fileAcl;
    if ((this.ctx.sb.featureCompat & COMPAT_EXT_ATTR) === 0 || block === 0) return;
    const fail = (what: string): never => {
      throw new CorruptionError({ structure: 'extended attribute block', where: `block ${block} (inode ${ino})`, what });
    };
    if (!this.blockValidity().valid(ino, block, 1)) fail('outside the file system or in its metadata');
    const bytes = this.meta.read(block);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== XATTR_MAGIC) fail(`h_magic 0x${view.getUint32(0, true).toString(16)}`);
    const refcount = view.getUint32(XATTR_REFCOUNT_AT, true);
    if (refcount === 0) fail('h_refcount is 0 while an inode refers to it');
    if (refcount === 1) {
      this.meta.forget(block);
      this.ctx.groups.freeBlock(block);
    } else {
      this.meta.write(block, 0, XATTR_HEADER_BYTES); // the same cached bytes, now dirty
      view.setUint32(XATTR_REFCOUNT_AT, refcount - 1, true);
      const csum = this.checksums;
      if (csum !== undefined) this.meta.tx().seal(SEAL_BLOCKS, block, () => {
        if (this.meta.isDirty(block)) csum.stampXattrBlock(block, this.meta.peek(block));
      });
    }
    inode.fileAcl = 0;
    // i_blocks counts file-system blocks under huge_file with HUGE_FILE_FL, else sectors
    const stored = this.sectors(inode) !== inode.blocks ? 1 : SECTORS_PER_BLOCK;
    inode.blocks -= Math.min(inode.blocks, stored);
  }

  /** Whether a directory's leaf blocks end in metadata_csum's 12-byte tail entry (their entries then end before it). */
  get dirTails(): boolean {
    return this.checksums !== undefined;
  }

  /** The extent map of `ino`, loaded (and checked against i_blocks) on first use; a fast symlink maps nothing. */
  map(ino: number): FileMap {
    let map = this.maps.get(ino);
    if (map === undefined) {
      const inode = this.inode(ino);
      // A fast symlink's i_block holds its target, not an extent root, whatever its flags.
      const csum = this.checksums;
      const checksum = csum === undefined ? undefined : (bytes: Uint8Array) => csum.extentBlockFailure(ino, inode, bytes);
      map = isFastSymlink(inode) ? emptyMap() : loadFileMap(this.meta, ino, inode, this.blockValidity(), checksum);
      // Freeing subtracts from i_blocks what the map holds; a smaller i_blocks would go
      // negative, so it is corruption here, where it is read (e2fsck requires equality).
      const mapped = map.leaves.reduce((n, e) => n + e.len, 0) + map.treeBlocks.length;
      if (this.sectors(inode) < mapped * SECTORS_PER_BLOCK) {
        throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: `i_blocks ${inode.blocks} is below the ${mapped * SECTORS_PER_BLOCK} sectors its extent tree maps` });
      }
      this.maps.set(ino, map);
    }
    return map;
  }

  /** Drop the cached map of `ino`: the inode is freed, or about to be reused (and is checked anew by iget). */
  forgetMap(ino: number): void {
    this.maps.delete(ino);
    this.igot.delete(ino);
  }

  /** A new extent-mapped inode starts with an empty map. */
  startEmptyMap(ino: number): void {
    this.maps.set(ino, { leaves: [], treeBlocks: [] });
  }

  /**
   * A symlink's target as the kernel's get_link gives it: a fast symlink's i_size bytes of
   * i_block (iget checked the length); a slow one's block 0 up to i_size, at most 4095 bytes
   * (nd_terminate_link), ending at its first NUL; a slow symlink without block 0 is corrupt
   * ("bad symlink").
   */
  linkTarget(ino: number): Uint8Array {
    const inode = this.inode(ino);
    if (isFastSymlink(inode)) {
      if (!fastTargetFits(inode)) throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: `invalid fast symlink length ${inode.size}` });
      return inode.block.slice(0, inode.size);
    }
    const e = findExtent(this.map(ino).leaves, 0);
    if (e === undefined) throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: 'a slow symlink without block 0' });
    const bytes = this.meta.read(e.start).subarray(0, Math.min(inode.size, BLOCK_BYTES - 1));
    const nul = bytes.indexOf(0);
    return bytes.slice(0, nul < 0 ? bytes.length : nul);
  }

  /** Physical blocks of a directory, in logical order; a hole is corruption. */
  dirBlocks(dirIno: number): number[] {
    const count = Math.ceil(this.inode(dirIno).size / BLOCK_BYTES);
    const out: number[] = [];
    for (let l = 0; l < count; l++) out.push(this.mappedDirBlock(dirIno, l));
    return out;
  }

  /** The physical block of a directory's logical block `index` alone (an htree lookup reads a few of many); past the end or a hole is corruption. */
  dirBlock(dirIno: number, index: number): number {
    const count = Math.ceil(this.inode(dirIno).size / BLOCK_BYTES);
    if (index >= count) throw indexPastEnd(dirIno, index, count);
    return this.mappedDirBlock(dirIno, index);
  }

  private mappedDirBlock(dirIno: number, index: number): number {
    const e = findExtent(this.map(dirIno).leaves, index);
    if (e === undefined || e.unwritten) {
      throw new CorruptionError({ structure: 'directory', where: `inode ${dirIno} logical block ${index}`, what: 'a hole in a directory' });
    }
    return e.start + (index - e.block);
  }

  /**
   * i_blocks in 512-byte sectors, as the kernel reads it: with huge_file and the inode's
   * HUGE_FILE_FL, the stored count is in file-system blocks.
   */
  sectors(inode: Inode): number {
    const huge = (this.ctx.sb.featureRoCompat & RO_COMPAT_HUGE_FILE) !== 0 && (inode.flags & HUGE_FILE_FL) !== 0;
    return huge ? inode.blocks * SECTORS_PER_BLOCK : inode.blocks;
  }

  /**
   * The leaves the htree index sends a lookup of `name` to (fs/htree.ts), when dir_index is on
   * and the directory has INDEX_FL; undefined otherwise, or when the kernel would fall back to
   * a linear search. An index node failing its checksum throws (EBADMSG).
   */
  lookupBlocks(dirIno: number, name: Uint8Array): number[] | undefined {
    const { sb } = this.ctx;
    const inode = this.inode(dirIno);
    if ((sb.featureCompat & COMPAT_DIR_INDEX) === 0 || (inode.flags & INDEX_FL) === 0) return undefined;
    return htreeLeaves(this.htreeSource(dirIno), name);
  }

  /**
   * The order a readdir returns a directory's names in, as indexes into `names` (its live names
   * in block order), or undefined for block order. With dir_index the kernel reads an indexed
   * directory, and a one-block linear one, in hash order (is_dx_dir; the linear one hashed by
   * s_def_hash_version); an index it refuses, or any other directory, in block order.
   */
  readdirOrder(dirIno: number, names: readonly Uint8Array[]): number[] | undefined {
    const { sb } = this.ctx;
    if ((sb.featureCompat & COMPAT_DIR_INDEX) === 0) return undefined;
    const inode = this.inode(dirIno);
    const unsignedChars = (sb.flags & EXT2_FLAGS_UNSIGNED_HASH) !== 0;
    let version: number | undefined;
    if ((inode.flags & INDEX_FL) !== 0) version = rootHashVersion(this.meta.read(this.dirBlock(dirIno, 0)), unsignedChars);
    else if (Math.ceil(inode.size / BLOCK_BYTES) === 1 && sb.defHashVersion <= DX_HASH_TEA) version = sb.defHashVersion + (unsignedChars ? UNSIGNED_OFFSET : 0);
    return version === undefined ? undefined : hashOrder(names, version, sb.hashSeed);
  }

  /** A hashed directory's blocks as fs/htree.ts reads them: index nodes checked against their dx_tail when the file system has checksums. */
  htreeSource(dirIno: number): HtreeSource {
    const { sb } = this.ctx;
    const inode = this.inode(dirIno);
    return {
      block: (index) => this.meta.read(this.dirBlock(dirIno, index)),
      // an index node this mount changed (sealed at the commit) or already read clean is not checked again
      checkNode: (index, bytes, countAt) => {
        if (this.checksums === undefined || this.trustedDirBlocks.has(bytes)) return;
        const failure = this.checksums.dxNodeFailure(dirIno, inode, index, bytes, countAt);
        if (failure !== undefined) throw failure;
        this.trustedDirBlocks.add(bytes);
      },
      hashSeed: sb.hashSeed,
      unsignedChars: (sb.flags & EXT2_FLAGS_UNSIGNED_HASH) !== 0,
    };
  }

  /** A directory block's checksum failure and what it costs (fs/read-profile.ts), or undefined (always, without metadata_csum). */
  checkDirBlock(dirIno: number, index: number, bytes: Uint8Array): DirBlockFailure | undefined {
    if (this.checksums === undefined || this.trustedDirBlocks.has(bytes)) return undefined;
    const inode = this.inode(dirIno);
    const failure = this.checksums.dirBlockFailure(dirIno, inode, index, Math.ceil(inode.size / BLOCK_BYTES), bytes);
    if (failure === undefined) this.trustedDirBlocks.add(bytes);
    return failure;
  }

  /** Check that `blocks` blocks and `inodes` inodes can be had, before changing anything. */
  reserve(blocks: number, inodes: number, fail: Fail): void {
    const { groups, meta } = this.ctx;
    if (groups.freeBlocks() - meta.quarantinedCount() < blocks || groups.freeInodes() < inodes) fail('ENOSPC');
  }

  allocBlock(goal: number): number | undefined {
    return this.ctx.groups.allocRun(goal, 1)?.[0];
  }

  /**
   * How extents.ts gets and gives back the blocks of inode `ino`'s extent tree, whose blocks
   * are sealed for `ino` (the caller names the inode: no map from inode objects to their
   * numbers, which took a new weak key per inode created).
   */
  treeAlloc(ino: number): TreeAllocator {
    const csum = this.checksums;
    return {
      allocTreeBlock: (goal: number) => this.allocBlock(goal),
      freeTreeBlock: (block: number) => {
        this.meta.forget(block);
        this.ctx.groups.freeBlock(block);
      },
      sealTreeBlock: csum === undefined ? undefined : (block: number) => {
        const tx = this.meta.tx();
        if (tx.hasSeal(SEAL_BLOCKS, block)) return;
        tx.seal(SEAL_BLOCKS, block, () => {
          if (!this.meta.isDirty(block)) return;
          const at = csum.stampExtentBlock(ino, this.inode(ino).generation, this.meta.peek(block));
          // the tail may lie in a line no writer marked: an eager checkpoint writes marked lines only
          tx.dirty(block, at, at + 4);
        });
      },
    };
  }

  /** The blocks the inode's i_block names, as iget checks them: the extent root, or a block map's direct blocks. */
  private checkBlockRefs(ino: number, inode: Inode): void {
    const validity = this.blockValidity();
    if ((inode.flags & EXTENTS_FL) !== 0) {
      checkExtentRoot(ino, inode, validity);
      return;
    }
    const words = new DataView(inode.block.buffer, inode.block.byteOffset, I_BLOCK_BYTES);
    for (let i = 0; i < DIRECT_BLOCKS; i++) {
      const block = words.getUint32(i * 4, true);
      if (block !== 0 && !validity.valid(ino, block, 1)) {
        throw CorruptionError.withoutStack({ structure: 'inode', where: `inode ${ino}`, what: `i_block[${i}] names block ${block}: outside the file system or in its metadata` });
      }
    }
  }

  /** The system zones, built on first use (once per mount: the groups' metadata and the journal never move). */
  private blockValidity(): BlockValidity {
    if (this.validity === undefined) {
      const { sb, groups } = this.ctx;
      const journalIno = (sb.featureCompat & COMPAT_HAS_JOURNAL) !== 0 ? sb.journalInum : 0;
      let journal: JournalZoneSource | undefined;
      if (journalIno !== 0) {
        // read past the cache: the journal inode is the journal's, never the table's to write
        const [block, offset] = this.inodeLocation(journalIno);
        const inode = decodeInode(this.meta.read(block), offset);
        journal = { ino: journalIno, inode, map: loadFileMap(this.meta, journalIno, inode) };
      }
      this.validity = systemZones(sb, groups.descs, journal);
    }
    return this.validity;
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

/** The kernel's fast-symlink length check: 1..59 bytes, with a NUL right after them and none before. */
function fastTargetFits(inode: Inode): boolean {
  if (inode.size === 0 || inode.size >= I_BLOCK_BYTES) return false;
  const nul = inode.block.indexOf(0);
  return (nul < 0 ? I_BLOCK_BYTES : nul) === inode.size;
}
