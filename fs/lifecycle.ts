/**
 * The life of an inode: created with its first name, named and unnamed, kept on the orphan
 * list while it has no name but open descriptors, released when both are gone.
 *
 * Owns: creating files, directories and symlinks (`createNode`), adding and removing names
 * (`addName`, growing a directory by a block; `removeName`, `dropLink`), link counts
 * (`addLink`, `adjustLinks`), renaming (`moveName`), a directory's times when its entries change (`touchDir`), the
 * on-disk orphan list (s_last_orphan chained through i_dtime) and its in-memory set, finishing
 * the orphans a crash left (`loadOrphanList`, `finishOrphans`), and freeing an inode
 * (`releaseInode`).
 *
 * Invariants after each call: link counts equal the names (directories: 2 + their
 * subdirectories); an inode with links 0 is on the orphan list exactly while it is open, and
 * once released has a non-zero dtime, no blocks and a free bit in its bitmap; the orphan set
 * equals the on-disk list. Walks of the on-disk list are bounded by s_inodes_count and see
 * each inode once; at mount a cycle or an out-of-range link ends the list there (as the
 * kernel's orphan cleanup does), elsewhere it is a CorruptionError.
 *
 * Does not: resolve paths or check a name's preconditions (namei.ts and filesystem.ts do,
 * before calling here), reserve space for a caller other than createNode, or move file data
 * (dax-data.ts frees a file's blocks).
 */
import { assert } from '../core/assert';
import { CorruptionError } from '../core/errors';
import type { Fail } from '../core/node-layer';
import { canaryActive } from '../core/canary';
import {
  BLOCK_BYTES, COMPAT_DIR_INDEX, EXTENT_ROOT_MAX, INDEX_FL, RO_COMPAT_DIR_NLINK, EXTENTS_FL, Inode, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, emptyInode, encodeExtentNode, fileTypeOfMode,
  stampInodeTimes,
} from './format';
import { addEntry, findEntry, initDirBlock, initEmptyBlock, removeEntry, retargetEntry, setDotDot } from './dir';
import { insertRun, storeFileMap } from './extents';
import { HtreeHost, addToIndexedDir, makeIndexedDir } from './htree-write';
import type { DaxData } from './dax-data';
import { FsContext, SECTORS_PER_BLOCK, nameBytes, saveSuper } from './fs-context';
import type { InodeTable } from './inode-table';

/** A symlink target this long or shorter lives in i_block (a fast symlink). */
export const FAST_SYMLINK_MAX_BYTES = 59;
/** A slow symlink's target fills at most one block. */
export const SYMLINK_MAX_BYTES = BLOCK_BYTES - 1;
/** ext4's EXT4_LINK_MAX. */
const MAX_LINKS = 65000;

/** A rename's two names, resolved and checked. */
export interface NameMove {
  /** The inode that moves; a directory when `isDir`. */
  readonly ino: number;
  readonly isDir: boolean;
  /** The inode the destination name held, which loses that name. */
  readonly replaced: number | undefined;
  readonly srcDir: number;
  readonly srcName: Uint8Array;
  readonly dstDir: number;
  readonly dstName: Uint8Array;
}

export class InodeLifecycle {
  private readonly ctx: FsContext;
  private readonly table: InodeTable;
  private readonly data: DaxData;
  /** Inodes on the on-disk orphan list. */
  private readonly orphans = new Set<number>();

  /** What fs/htree-write.ts needs to write hashed directories. */
  private readonly htree: HtreeHost;

  constructor(ctx: FsContext, table: InodeTable, data: DaxData) {
    this.ctx = ctx;
    this.table = table;
    this.data = data;
    this.htree = {
      sb: ctx.sb, meta: ctx.meta, table, appendDirBlock: (dirIno, fail) => this.appendDirBlock(dirIno, fail),
      sealDirBlock: (dirIno, logical, block) => table.sealDirBlock(dirIno, logical, block),
    };
  }

  /** Create an inode of `mode` named `name` in `parent`; a symlink gets `target`. */
  createNode(parent: number, name: string, mode: number, fail: Fail, target?: Uint8Array): number {
    const { groups } = this.ctx;
    const type = mode & S_IFMT;
    const isDir = type === S_IFDIR;
    const slowLink = type === S_IFLNK && (target?.length ?? 0) > FAST_SYMLINK_MAX_BYTES;
    if (isDir && this.dirNlink() && !this.isIndexed(parent) && this.table.inode(parent).linksCount >= MAX_LINKS) fail('EMLINK');
    // one block for the parent's directory growth, one for a directory's or slow link's own block
    this.table.reserve(1 + (isDir || slowLink ? 1 : 0), 1, fail);
    const ino = groups.allocInode(groups.groupOfInode(parent), isDir);
    if (ino === undefined) fail('ENOSPC');
    const now = this.ctx.now();
    const old = this.table.inode(ino);
    const inode = emptyInode();
    inode.mode = mode;
    inode.linksCount = isDir ? 2 : 1;
    inode.generation = old.generation + 1;
    inode.extraIsize = this.table.newExtraIsize();
    // after i_extra_isize: it decides whether the times get their `_extra` words
    stampInodeTimes(inode, now, 'atime', 'ctime', 'mtime', 'crtime');
    this.table.forgetMap(ino);
    if (type === S_IFLNK && !slowLink) {
      const t = target ?? new Uint8Array(0);
      inode.block = new Uint8Array(60);
      inode.block.set(t);
      inode.size = t.length;
    } else {
      inode.flags = EXTENTS_FL;
      inode.block = new Uint8Array(60);
      encodeExtentNode({ depth: 0, max: EXTENT_ROOT_MAX, leaves: [], indexes: [] }, inode.block, 0, 60);
      this.table.startEmptyMap(ino);
    }
    if (isDir) {
      const block = this.giveFirstBlock(ino, inode, BLOCK_BYTES, (bytes) => initDirBlock(bytes, ino, parent, this.table.dirTails));
      this.table.sealDirBlock(ino, 0, block);
    }
    else if (slowLink) this.giveFirstBlock(ino, inode, (target as Uint8Array).length, (bytes) => bytes.set(target as Uint8Array));
    this.table.putInode(ino, inode, true);
    try {
      this.addName(parent, nameBytes(name), ino, fileTypeOfMode(mode), fail);
    } catch (error) {
      // no room for the name (a full two-level index: ENOSPC): the new inode goes, as the kernel drops it
      inode.linksCount = 0;
      this.table.putInode(ino, inode);
      this.releaseInode(ino);
      throw error;
    }
    if (isDir) this.adjustLinks(parent, +1);
    this.touchDir(parent, now);
    return ino;
  }

  /**
   * Add a name to a directory: through its index when it is hashed (fs/htree-write.ts), else
   * in the first block with room, growing it by a block (or making it indexed) when none has.
   */
  addName(dirIno: number, name: Uint8Array, ino: number, fileType: number, fail: Fail): void {
    // dir_index (fs/htree-write.ts): through the index, or a full one-block directory becomes indexed
    const hashed = addToIndexedDir(this.htree, dirIno, name, ino, fileType, fail);
    if (hashed === 'added') return;
    if (addEntry(this.table, dirIno, name, ino, fileType)) return;
    if (hashed === 'linear' && makeIndexedDir(this.htree, dirIno, name, ino, fileType, fail)) return;
    this.appendDirBlock(dirIno, fail);
    const added = addEntry(this.table, dirIno, name, ino, fileType);
    assert(added, 'a fresh directory block has room for any name');
  }

  /** Grow a directory by one empty block at its end; returns the physical block. */
  private appendDirBlock(dirIno: number, fail: Fail): number {
    const dir = this.table.inode(dirIno);
    const map = this.table.map(dirIno);
    const lblock = dir.size / BLOCK_BYTES;
    const last = map.leaves[map.leaves.length - 1];
    const block = this.table.allocBlock(last ? last.start + last.len : 0);
    if (block === undefined) fail('ENOSPC');
    initEmptyBlock(this.ctx.meta.fresh(block), this.table.dirTails);
    insertRun(map.leaves, lblock, block, 1);
    const stored = storeFileMap(this.ctx.meta, this.table.treeAlloc(dirIno), dir, map, block);
    if (stored !== 'ok') fail(stored === 'efbig' ? 'EFBIG' : 'ENOSPC');
    dir.size += BLOCK_BYTES;
    dir.blocks += SECTORS_PER_BLOCK;
    this.table.putInode(dirIno, dir);
    return block;
  }

  /** Whether `dirIno` is an indexed (htree) directory: dir_index on and INDEX_FL set (the kernel's is_dx). */
  private isIndexed(dirIno: number): boolean {
    return (this.ctx.sb.featureCompat & COMPAT_DIR_INDEX) !== 0 && (this.table.inode(dirIno).flags & INDEX_FL) !== 0;
  }

  private dirNlink(): boolean {
    return (this.ctx.sb.featureRoCompat & RO_COMPAT_DIR_NLINK) !== 0;
  }

  /** A new name for existing inode `ino` in `dirIno` (link(2)); the caller checked the name. */
  addLink(dirIno: number, name: Uint8Array, ino: number, fail: Fail): void {
    const inode = this.table.inode(ino);
    if (inode.linksCount >= MAX_LINKS) fail('EMLINK');
    this.table.reserve(1, 0, fail);
    this.addName(dirIno, name, ino, fileTypeOfMode(inode.mode), fail);
    inode.linksCount++;
    stampInodeTimes(inode, this.ctx.now(), 'ctime');
    this.table.putInode(ino, inode);
    this.touchDir(dirIno, this.ctx.now());
  }

  /**
   * rename(2)'s effect, its checks done: the name moves, replacing (and unlinking) the
   * target's inode when there is one; a directory moved to another parent changes "..".
   */
  moveName(move: NameMove, fail: Fail): void {
    const moving = this.table.inode(move.ino);
    const type = fileTypeOfMode(moving.mode);
    if (move.replaced !== undefined) {
      const found = findEntry(this.table, move.dstDir, move.dstName);
      assert(found !== undefined, 'the target name exists');
      retargetEntry(this.table, found, move.ino, type);
      this.dropLink(move.dstDir, move.replaced);
    } else {
      this.table.reserve(1, 0, fail);
      this.addName(move.dstDir, move.dstName, move.ino, type, fail);
    }
    if (canaryActive('rename-split-transactions')) this.ctx.meta.commit(); // canary: a commit between the two names
    const old = findEntry(this.table, move.srcDir, move.srcName);
    assert(old !== undefined && old.entry.inode === move.ino, 'the source name still names the moved inode');
    removeEntry(this.table, old);
    if (move.isDir && move.srcDir !== move.dstDir) {
      setDotDot(this.table, move.ino, move.dstDir);
      this.adjustLinks(move.srcDir, -1);
      this.adjustLinks(move.dstDir, +1);
    }
    const now = this.ctx.now();
    stampInodeTimes(moving, now, 'ctime');
    this.table.putInode(move.ino, moving);
    this.touchDir(move.srcDir, now);
    if (move.dstDir !== move.srcDir) this.touchDir(move.dstDir, now);
  }

  /** Remove a name and the link it held. */
  removeName(dirIno: number, name: Uint8Array, ino: number): void {
    const found = findEntry(this.table, dirIno, name);
    assert(found !== undefined && found.entry.inode === ino, 'the name to remove names that inode');
    removeEntry(this.table, found);
    this.dropLink(dirIno, ino);
    this.touchDir(dirIno, this.ctx.now());
  }

  /** One name of `ino` in `dirIno` is gone: update link counts, free the inode if unused. */
  dropLink(dirIno: number, ino: number): void {
    const inode = this.table.inode(ino);
    const isDir = (inode.mode & S_IFMT) === S_IFDIR;
    if (isDir) {
      inode.linksCount = 0;
      this.adjustLinks(dirIno, -1);
    } else {
      // A name of an inode whose count is already 0: the image lost a link somewhere.
      if (inode.linksCount === 0) throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: 'i_links_count is 0 while a name still refers to it' });
      inode.linksCount--;
    }
    stampInodeTimes(inode, this.ctx.now(), 'ctime');
    this.table.putInode(ino, inode);
    if (inode.linksCount !== 0) return;
    // An inode with no name but open descriptors goes on the orphan list, so that recovery
    // frees it if the machine stops before the last close.
    if (this.ctx.isOpen(ino)) {
      if (!canaryActive('orphan-not-recorded')) this.addOrphan(ino);
    } else this.releaseInode(ino);
  }

  /**
   * A directory's link count gains or loses a subdirectory. Under dir_nlink, as the kernel's
   * ext4_inc_count / ext4_dec_count: an indexed directory passing EXT4_LINK_MAX stores 1 ("too
   * many to count"), and a count of 1 or 2 is left alone by a removal.
   */
  adjustLinks(dirIno: number, delta: number): void {
    const dir = this.table.inode(dirIno);
    if (this.dirNlink()) {
      if (delta < 0 && dir.linksCount <= 2) return;
      if (delta > 0 && this.isIndexed(dirIno) && (dir.linksCount === 1 || dir.linksCount + delta > MAX_LINKS)) {
        dir.linksCount = 1;
        this.table.putInode(dirIno, dir);
        return;
      }
    }
    if (dir.linksCount + delta < 0 || dir.linksCount + delta > 0xffff) {
      throw new CorruptionError({ structure: 'inode', where: `inode ${dirIno}`, what: `directory i_links_count ${dir.linksCount} cannot change by ${delta}` });
    }
    dir.linksCount += delta;
    this.table.putInode(dirIno, dir);
  }

  touchDir(dirIno: number, now: number): void {
    const dir = this.table.inode(dirIno);
    stampInodeTimes(dir, now, 'mtime', 'ctime');
    this.table.putInode(dirIno, dir);
  }

  /** Free an inode with no names and no open files: its blocks, then the inode itself. */
  releaseInode(ino: number): void {
    const inode = this.table.inode(ino);
    assert(inode.linksCount === 0, () => `inode ${ino} released with ${inode.linksCount} links`);
    const isDir = (inode.mode & S_IFMT) === S_IFDIR;
    if (this.orphans.has(ino)) this.removeOrphan(ino);
    if ((inode.flags & EXTENTS_FL) !== 0) this.data.freeBeyond(ino, inode, 0);
    this.table.dropXattrBlock(ino, inode);
    inode.size = 0;
    inode.dtime = this.ctx.now();
    this.table.putInode(ino, inode);
    this.ctx.groups.freeInode(ino, isDir);
    this.table.forgetMap(ino);
  }

  /**
   * Read the on-disk orphan list into the set, before the mount operation that finishes it,
   * up to its first bad link: a number outside [s_first_ino, s_inodes_count] (ext4_orphan_get's
   * "bad orphan inode") or an inode already on it (a cycle). The inodes before it stay in the
   * set, to be finished; the bad link is returned, for the caller to drop the rest of the list.
   */
  loadOrphanList(): CorruptionError | undefined {
    const { sb } = this.ctx;
    for (let at = sb.lastOrphan; at !== 0;) {
      if (at < sb.firstIno || at > sb.inodesCount) {
        return new CorruptionError({ structure: 'orphan list', where: `inode ${at}`, what: `outside the inodes an orphan can be [${sb.firstIno}, ${sb.inodesCount}]` });
      }
      if (this.orphans.has(at)) {
        return new CorruptionError({ structure: 'orphan list', where: `inode ${at}`, what: `a cycle: inode ${at} is on the list twice` });
      }
      this.orphans.add(at);
      at = this.table.inode(at).dtime;
    }
    return undefined;
  }

  /** Finish every orphan in the set, in list order: free an unlinked inode, complete a truncate
   * to its i_size; `onFinished` after each. */
  finishOrphans(onFinished: () => void): void {
    for (const ino of [...this.orphans]) {
      const inode = this.table.inode(ino);
      if (inode.linksCount === 0) this.releaseInode(ino);
      else {
        if ((inode.mode & S_IFMT) === S_IFREG) this.data.freeBeyond(ino, inode, Math.ceil(inode.size / BLOCK_BYTES));
        this.removeOrphan(ino);
      }
      onFinished();
    }
  }

  /** Forget the rest of the orphan list (s_last_orphan 0): what ext4_orphan_cleanup does when it meets corrupt metadata. */
  dropOrphanList(): void {
    this.orphans.clear();
    this.ctx.sb.lastOrphan = 0;
    saveSuper(this.ctx);
  }

  /** A new inode's one block (reserved by createNode): a directory's "." and ".." or a slow
   * symlink's target, written by `fill`; `sizeBytes` becomes i_size. */
  private giveFirstBlock(ino: number, inode: Inode, sizeBytes: number, fill: (bytes: Uint8Array) => void): number {
    const { groups, meta } = this.ctx;
    const block = this.table.allocBlock(groups.descs[groups.groupOfInode(ino)].inodeTable);
    assert(block !== undefined, 'a reserved block is free');
    fill(meta.fresh(block));
    insertRun(this.table.map(ino).leaves, 0, block, 1);
    inode.size = sizeBytes;
    inode.blocks = SECTORS_PER_BLOCK;
    const stored = storeFileMap(meta, this.table.treeAlloc(ino), inode, this.table.map(ino), block);
    assert(stored === 'ok', 'a one-extent map fits in the inode');
    return block;
  }

  /** Push `ino` on the orphan list (s_last_orphan, chained through i_dtime). */
  private addOrphan(ino: number): void {
    const inode = this.table.inode(ino);
    inode.dtime = this.ctx.sb.lastOrphan;
    this.table.putInode(ino, inode);
    this.ctx.sb.lastOrphan = ino;
    saveSuper(this.ctx);
    this.orphans.add(ino);
  }

  private removeOrphan(ino: number): void {
    const { sb } = this.ctx;
    const inode = this.table.inode(ino);
    const next = inode.dtime;
    if (sb.lastOrphan === ino) {
      sb.lastOrphan = next;
      saveSuper(this.ctx);
    } else {
      let at = sb.lastOrphan;
      for (let steps = 0; at !== 0; steps++) {
        if (steps > sb.inodesCount) throw new CorruptionError({ structure: 'orphan list', where: 'superblock s_last_orphan', what: 'a cycle' });
        const prev = this.table.inode(at);
        if (prev.dtime === ino) {
          prev.dtime = next;
          this.table.putInode(at, prev);
          break;
        }
        at = prev.dtime;
      }
    }
    inode.dtime = 0;
    this.table.putInode(ino, inode);
    this.orphans.delete(ino);
  }
}
