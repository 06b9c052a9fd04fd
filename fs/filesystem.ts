/**
 * The ext4-subset DAX file system: Node's sync fs API over inodes, extents and linear
 * directories on a pmem0 device.
 *
 * Owns path resolution, open files, the simulated clock, and every operation's effect on
 * inodes, directories and block maps. Metadata changes go through the transaction seam
 * (`MetaStore`): each operation works in the running transaction, and `opEnd` hands it to
 * the commit policy. File data is DAX: written in place with the flavour's
 * `memcpyFlushcache`, read with plain loads; a newly allocated block is zeroed where the
 * write does not cover it, before the metadata that makes it reachable commits.
 *
 * Invariants after every operation: link counts equal the names (directories: 2 + their
 * subdirectories), i_blocks counts data and tree blocks, i_size covers every mapped block,
 * a deleted inode has links 0 and a non-zero dtime, a file unlinked while open stays
 * readable until its last close. An operation that cannot get the blocks or inodes it needs
 * fails with ENOSPC before it changes anything.
 *
 * Errors are Node-style (`err.code`); corrupt on-disk structures surface as
 * CorruptionError (EUCLEAN) from the codecs, which every operation turns into its own
 * Node-style EUCLEAN (syscall and path, the CorruptionError as `cause`); a broken invariant
 * is an AssertionFailure. Loops over on-disk data are bounded: path walks by SYMLOOP_MAX
 * links, ".." chains by visiting each directory once, the orphan list by visiting each
 * inode once, readFile by Node's 2 GiB limit.
 */
import { assert } from '../core/assert';
import { CorruptionError, NodeStyleError, fsError } from '../core/errors';
import {
  Fail, OPEN_FLAGS, byteLength, checkSpan, failer, isExplicitPosition, nodeMkdirRecursive, nodeRealpath, openFlagsToNumber,
} from '../core/node-layer';
import type { SyncFs } from '../core/sync-fs';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';
import {
  BLOCK_BYTES, EXTENT_ROOT_MAX, EXTENTS_FL, INODE_BYTES, Inode,
  RO_COMPAT_LARGE_FILE, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, SUPERBLOCK_OFFSET, Superblock, emptyInode, encodeExtentNode,
  encodeSuperblock,
  decodeInode, encodeInode, fileTypeOfMode,
} from './format';
import {
  DOTDOT, DirBlockSource, addEntry, findEntry, initDirBlock, initEmptyBlock, isDotOrDotDot, isEmptyDir,
  listEntries, removeEntry, retargetEntry, setDotDot,
} from './dir';
import { FileMap, findExtent, insertRun, loadFileMap, removeRange, storeFileMap } from './extents';
import { canaryActive } from '../core/canary';
import { Groups } from './groups';
import { MetaStore } from './meta';
import { DaxStats } from './stats';

export const NAME_MAX_BYTES = 255;
export const SYMLINK_MAX_BYTES = BLOCK_BYTES - 1;
export const FAST_SYMLINK_MAX_BYTES = 59;
export const SYMLOOP_MAX = 40;
/** Largest file: the last logical block a 32-bit extent can name. */
export const MAX_FILE_BYTES = (2 ** 32 - 1) * BLOCK_BYTES;
const LARGE_FILE_BYTES = 2 ** 31;
/**
 * Where the simulated clock starts on an image whose times are all older. Not cosmetic:
 * e2fsck reads a deleted inode's dtime below s_inodes_count as an orphan-list link, so
 * times must look like real ones (2023-11-14).
 */
export const SIMULATED_EPOCH_SECONDS = 1_700_000_000;
/** The last second a u32 time field holds. */
export const MAX_CLOCK_SECONDS = 0xffffffff;
const SECTORS_PER_BLOCK = BLOCK_BYTES / 512;

const { O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW } = OPEN_FLAGS;
export const FS_CONSTANTS = OPEN_FLAGS;
/** Paths are at most 4095 bytes (PATH_MAX counts the terminating NUL). */
export const PATH_MAX_BYTES = 4096;
/** Linux gives a new descriptor the lowest free number; 0 to 2 are the standard streams. */
const FIRST_FD = 3;
/** The umask a Node process usually runs with; applied to modes of new files and dirs. */
const UMASK = 0o022;
/** readFileSync's read size. */
const READ_CHUNK_BYTES = 64 * 1024;
/** ext4's EXT4_LINK_MAX. */
const MAX_LINKS = 65000;

type Kind = 'file' | 'dir' | 'symlink';
/** Linux's LAST_NORM / LAST_DOT / LAST_DOTDOT / LAST_ROOT: what a path's last component is. */
type LastType = 'norm' | 'dot' | 'dotdot' | 'root';

/** Counts the symlinks one system call's path walks followed. */
interface WalkBudget {
  links: number;
}

/** A path walked up to its last component. */
interface ParentWalk {
  readonly dir: number;
  /** The canonical components of `dir` (for relative symlink targets, informational). */
  readonly dirPath: readonly string[];
  readonly last: string;
  readonly lastType: LastType;
  readonly trailingSlash: boolean;
}

/** A path walked to its end. */
interface Found {
  /** For 'norm': the directory holding `name`; otherwise the directory the path names. */
  readonly dir: number;
  readonly name: string | null;
  readonly ino: number | undefined;
  readonly kind: Kind | null;
  readonly lastType: LastType;
  readonly trailingSlash: boolean;
}

interface OpenFile {
  readonly ino: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly append: boolean;
  readonly isDir: boolean;
  position: number;
}

/** What the operations of one system call cost on the device. */
export interface OpCost {
  calls: number;
  cleans: number;
  /** Barriers, fences and flush hints. */
  barriers: number;
  flushedBytes: number;
  costNanos: number;
}

/** How the file system commits and where it puts barriers; set by mount. */
export interface CommitHooks {
  /** After each operation: the policy decides whether the running transaction commits now. */
  opEnd(meta: MetaStore): void;
  /** fsync, fdatasync, sync: make everything so far durable. */
  sync(meta: MetaStore): void;
}

export interface FileSystemParts {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  readonly sb: Superblock;
  readonly meta: MetaStore;
  readonly groups: Groups;
  readonly hooks: CommitHooks;
  readonly readOnly: boolean;
}

export class DaxFileSystem implements SyncFs, DirBlockSource {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  readonly sb: Superblock;
  readonly meta: MetaStore;
  readonly groups: Groups;
  readonly readOnly: boolean;
  readonly constants = FS_CONSTANTS;
  private readonly hooks: CommitHooks;
  private readonly inodes = new Map<number, Inode>();
  private readonly maps = new Map<number, FileMap>();
  private readonly files = new Map<number, OpenFile>();
  private readonly openCounts = new Map<number, number>();
  private readonly costs = new Map<string, OpCost>();
  /** Inodes on the on-disk orphan list. */
  private readonly orphans = new Set<number>();
  private clockSeconds: number;
  private mounted = true;

  constructor(parts: FileSystemParts) {
    this.device = parts.device;
    this.api = parts.api;
    this.sb = parts.sb;
    this.meta = parts.meta;
    this.groups = parts.groups;
    this.hooks = parts.hooks;
    this.readOnly = parts.readOnly;
    this.clockSeconds = Math.max(parts.sb.wtime, parts.sb.mtime, parts.sb.mkfsTime, SIMULATED_EPOCH_SECONDS);
  }

  // ================================================================ Node API: descriptors

  openSync(path: string, flags?: string | number, mode = 0o666): number {
    return this.op('open', path, () => {
      const bits = openFlagsToNumber(flags);
      const fail: Fail = failer('open', path);
      const access = bits & O_ACCMODE;
      // Access mode 3 is Linux's "ioctl only" mode; Linux 6.4+ refuses O_CREAT | O_DIRECTORY.
      if (access === O_ACCMODE) fail('EINVAL');
      if ((bits & O_CREAT) !== 0 && (bits & O_DIRECTORY) !== 0) fail('EINVAL');
      const target = (bits & O_CREAT) !== 0 ? this.openCreate(path, bits, fail) : this.openExisting(path, bits, fail);
      let ino = target.ino;
      if (ino === undefined) {
        this.requireWritable('open', path);
        ino = this.createNode(target.dir, target.name as string, S_IFREG | (mode & 0o7777 & ~UMASK), fail);
      } else {
        const isDir = target.kind === 'dir';
        // Linux's may_open(): O_TRUNC counts as a write.
        if (isDir && (access !== O_RDONLY || (bits & O_TRUNC) !== 0)) fail('EISDIR');
        if (access !== O_RDONLY || (bits & O_TRUNC) !== 0) this.requireWritable('open', path);
        if ((bits & O_TRUNC) !== 0 && target.kind === 'file' && this.inode(ino).size > 0) this.setSize(ino, 0, fail);
      }
      let fd = FIRST_FD;
      while (this.files.has(fd)) fd++;
      this.files.set(fd, {
        ino,
        readable: access === O_RDONLY || access === O_RDWR,
        writable: access === O_WRONLY || access === O_RDWR,
        append: (bits & O_APPEND) !== 0,
        isDir: target.kind === 'dir',
        position: 0,
      });
      this.openCounts.set(ino, (this.openCounts.get(ino) ?? 0) + 1);
      return fd;
    });
  }

  closeSync(fd: number): void {
    this.op('close', undefined, () => {
      const file = this.file(fd, 'close');
      this.files.delete(fd);
      const left = (this.openCounts.get(file.ino) ?? 1) - 1;
      if (left > 0) {
        this.openCounts.set(file.ino, left);
        return;
      }
      this.openCounts.delete(file.ino);
      if (this.inode(file.ino).linksCount === 0) this.releaseInode(file.ino);
    });
  }

  readSync(fd: number, buffer: Uint8Array, offsetOrOptions?: number | { offset?: number; length?: number; position?: number | null }, length?: number, position?: number | null): number {
    const o = typeof offsetOrOptions === 'object' && offsetOrOptions !== null ? offsetOrOptions : { offset: offsetOrOptions, length, position };
    const offset = o.offset ?? 0;
    const span = checkSpan(buffer, offset, o.length);
    // Node returns 0 for an empty read before it looks at the descriptor at all.
    if (span === 0) return 0;
    return this.op('read', undefined, () => {
      const file = this.file(fd, 'read');
      if (!file.readable) throw fsError('EBADF', 'read');
      if (file.isDir) throw fsError('EISDIR', 'read');
      const explicit = isExplicitPosition(o.position);
      const at = explicit ? (o.position as number) : file.position;
      const n = this.readData(file.ino, at, buffer.subarray(offset, offset + span));
      if (!explicit) file.position = at + n;
      return n;
    });
  }

  writeSync(fd: number, data: Uint8Array | string, offsetOrPosition?: number | null, lengthOrEncoding?: number | string, position?: number | null): number {
    let bytes: Uint8Array;
    let pos: number | null | undefined;
    if (typeof data === 'string') {
      bytes = Buffer.from(data, typeof lengthOrEncoding === 'string' ? (lengthOrEncoding as BufferEncoding) : 'utf8');
      pos = offsetOrPosition;
    } else {
      const offset = typeof offsetOrPosition === 'number' ? offsetOrPosition : 0;
      const span = checkSpan(data, offset, typeof lengthOrEncoding === 'number' ? lengthOrEncoding : undefined);
      bytes = data.subarray(offset, offset + span);
      pos = position;
    }
    return this.op('write', undefined, () => {
      const file = this.file(fd, 'write');
      if (!file.writable) throw fsError('EBADF', 'write');
      this.requireWritable('write');
      const explicit = isExplicitPosition(pos);
      // Linux appends with O_APPEND even for pwrite(2), and then leaves the offset alone.
      let at = explicit ? (pos as number) : file.position;
      if (file.append) at = this.inode(file.ino).size;
      if (bytes.length > 0) this.writeData(file.ino, at, bytes, 'write');
      if (!explicit && bytes.length > 0) file.position = at + bytes.length;
      return bytes.length;
    });
  }

  fsyncSync(fd: number): void {
    this.op('fsync', undefined, () => {
      this.file(fd, 'fsync');
      if (canaryActive('fsync-no-commit')) this.api.pmemWmb(); else this.hooks.sync(this.meta);
    });
  }

  fdatasyncSync(fd: number): void {
    this.op('fdatasync', undefined, () => {
      this.file(fd, 'fdatasync');
      this.hooks.sync(this.meta);
    });
  }

  syncSync(): void {
    this.op('sync', undefined, () => this.hooks.sync(this.meta));
  }

  ftruncateSync(fd: number, len = 0): void {
    this.op('ftruncate', undefined, () => {
      const file = this.file(fd, 'ftruncate');
      if (file.isDir || !file.writable) throw fsError('EINVAL', 'ftruncate');
      this.requireWritable('ftruncate');
      // Node clamps a negative length to 0 before the system call.
      this.setSize(file.ino, Math.max(0, len), failer('ftruncate'));
    });
  }

  fstatSync(fd: number): DaxStats {
    return this.op('fstat', undefined, () => this.stats(this.file(fd, 'fstat').ino));
  }

  // ================================================================ Node API: Node's layer

  truncateSync(path: string, len = 0): void {
    const fd = this.openSync(path, 'r+');
    try {
      this.ftruncateSync(fd, len);
    } finally {
      this.closeSync(fd);
    }
  }

  /** Bytes without an encoding (SyncFs's form), a string with one, as Node's readFileSync. */
  readFileSync(path: string | number, options?: { encoding?: null; flag?: string }): Buffer;
  readFileSync(path: string | number, options: { encoding: BufferEncoding; flag?: string } | BufferEncoding): string;
  readFileSync(path: string | number, options?: { encoding?: BufferEncoding | null; flag?: string } | BufferEncoding): Buffer | string;
  readFileSync(path: string | number, options?: { encoding?: BufferEncoding | null; flag?: string } | BufferEncoding): Buffer | string {
    const encoding = typeof options === 'string' ? options : options?.encoding ?? undefined;
    const flag = typeof options === 'object' && options?.flag ? options.flag : 'r';
    const fd = typeof path === 'number' ? path : this.openSync(path, flag);
    try {
      // Node refuses a file above 2 GiB before reading; here that also bounds the memory a
      // corrupt i_size (a legal sparse size up to 16 TiB) could make this loop gather.
      // (Not fstatSync: that would be one more operation on the clock and in the costs.)
      const size = this.inode(this.file(fd, 'read').ino).size;
      if (size > READ_FILE_MAX_BYTES) throw fileTooLarge(size);
      const chunks: Uint8Array[] = [];
      for (let total = 0; ;) {
        const chunk = Buffer.alloc(READ_CHUNK_BYTES);
        const n = this.readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        total += n;
        if (total > READ_FILE_MAX_BYTES) throw fileTooLarge(total);
        chunks.push(chunk.subarray(0, n));
      }
      const bytes = Buffer.concat(chunks);
      return encoding ? bytes.toString(encoding) : bytes;
    } finally {
      if (typeof path !== 'number') this.closeSync(fd);
    }
  }

  writeFileSync(path: string | number, data: Uint8Array | string, options?: { encoding?: BufferEncoding; flag?: string; mode?: number } | BufferEncoding): void {
    const o = typeof options === 'string' ? { encoding: options } : options ?? {};
    const bytes = typeof data === 'string' ? Buffer.from(data, o.encoding ?? 'utf8') : data;
    const fd = typeof path === 'number' ? path : this.openSync(path, o.flag ?? 'w', o.mode ?? 0o666);
    try {
      let done = 0;
      while (done < bytes.length) done += this.writeSync(fd, bytes, done, bytes.length - done, null);
    } finally {
      if (typeof path !== 'number') this.closeSync(fd);
    }
  }

  appendFileSync(path: string | number, data: Uint8Array | string, options?: { encoding?: BufferEncoding; flag?: string; mode?: number } | BufferEncoding): void {
    const o = typeof options === 'string' ? { encoding: options } : options ?? {};
    this.writeFileSync(path, data, { ...o, flag: o.flag ?? 'a' });
  }

  existsSync(path: string): boolean {
    try {
      this.existing(path, 'access');
      return true;
    } catch (err) {
      if (err instanceof NodeStyleError) return false;
      throw err;
    }
  }

  realpathSync(path: string): string {
    return nodeRealpath(this, path);
  }

  // ================================================================ Node API: names

  mkdirSync(path: string, options?: { recursive?: boolean; mode?: number } | number): string | undefined {
    const o = typeof options === 'number' ? { mode: options } : options ?? {};
    const mode = o.mode ?? 0o777;
    if (o.recursive) return nodeMkdirRecursive(this, path, mode);
    this.op('mkdir', path, () => {
      const fail: Fail = failer('mkdir', path);
      const at = this.walkParent(path, ROOT_INO, [], { links: 0 }, fail);
      if (at.lastType !== 'norm') fail('EEXIST');
      // mkdir takes a trailing slash: it names a directory anyway; any existing name is EEXIST.
      if (this.child(at.dir, at.last, fail) !== undefined) fail('EEXIST');
      this.requireWritable('mkdir', path);
      this.createNode(at.dir, at.last, S_IFDIR | (mode & 0o7777 & ~UMASK), fail);
    });
    return undefined;
  }

  rmdirSync(path: string): void {
    this.op('rmdir', path, () => {
      const fail: Fail = failer('rmdir', path);
      const at = this.walkParent(path, ROOT_INO, [], { links: 0 }, fail);
      if (at.lastType === 'dotdot') fail('ENOTEMPTY');
      if (at.lastType === 'dot') fail('EINVAL');
      if (at.lastType === 'root') fail('EBUSY');
      const child = this.child(at.dir, at.last, fail);
      if (child === undefined) fail('ENOENT');
      // rmdir never follows the last component: a symlink to a directory is not one.
      if (child.kind !== 'dir') fail('ENOTDIR');
      if (!isEmptyDir(this, child.ino)) fail('ENOTEMPTY');
      this.requireWritable('rmdir', path);
      this.removeName(at.dir, nameBytes(at.last), child.ino);
    });
  }

  unlinkSync(path: string): void {
    this.op('unlink', path, () => {
      const fail: Fail = failer('unlink', path);
      const at = this.walkParent(path, ROOT_INO, [], { links: 0 }, fail);
      if (at.lastType !== 'norm') fail('EISDIR');
      const child = this.child(at.dir, at.last, fail);
      if (child === undefined) fail('ENOENT');
      if (child.kind === 'dir') fail('EISDIR');
      if (at.trailingSlash) fail('ENOTDIR');
      this.requireWritable('unlink', path);
      this.removeName(at.dir, nameBytes(at.last), child.ino);
    });
  }

  linkSync(existingPath: string, newPath: string): void {
    this.op('link', existingPath, () => {
      const fail: Fail = failer('link', existingPath, newPath);
      const budget: WalkBudget = { links: 0 };
      // linkat(2) without AT_SYMLINK_FOLLOW: a symlink given as `existing` is linked itself.
      const old = this.lookup(existingPath, false, budget, fail);
      this.requireFound(old, fail);
      const at = this.walkParent(newPath, ROOT_INO, [], budget, fail);
      this.requireCreatable(at, fail);
      if (old.kind === 'dir') fail('EPERM');
      this.requireWritable('link', existingPath);
      const ino = old.ino as number;
      const inode = this.inode(ino);
      if (inode.linksCount >= MAX_LINKS) fail('EMLINK');
      this.reserve(1, 0, fail);
      this.addName(at.dir, nameBytes(at.last), ino, fileTypeOfMode(inode.mode), fail);
      inode.linksCount++;
      inode.ctime = this.now();
      this.putInode(ino, inode);
      this.touchDir(at.dir, this.now());
    });
  }

  symlinkSync(target: string, path: string): void {
    this.op('symlink', target, () => {
      const fail: Fail = failer('symlink', target, path);
      if (target.length === 0) fail('ENOENT');
      const bytes = Buffer.from(target, 'utf8');
      if (bytes.length >= PATH_MAX_BYTES) fail('ENAMETOOLONG');
      const at = this.walkParent(path, ROOT_INO, [], { links: 0 }, fail);
      this.requireCreatable(at, fail);
      this.requireWritable('symlink', target);
      this.createNode(at.dir, at.last, S_IFLNK | 0o777, fail, bytes);
    });
  }

  readlinkSync(path: string, options?: { encoding?: BufferEncoding } | BufferEncoding): string {
    return this.op('readlink', path, () => {
      const fail: Fail = failer('readlink', path);
      const found = this.lookup(path, false, { links: 0 }, fail);
      this.requireFound(found, fail);
      if (found.kind !== 'symlink') fail('EINVAL');
      const encoding = typeof options === 'string' ? options : options?.encoding ?? 'utf8';
      return Buffer.from(this.linkTarget(found.ino as number)).toString(encoding);
    });
  }

  renameSync(oldPath: string, newPath: string): void {
    this.op('rename', oldPath, () => {
      const fail: Fail = failer('rename', oldPath, newPath);
      const budget: WalkBudget = { links: 0 };
      const src = this.walkParent(oldPath, ROOT_INO, [], budget, fail);
      const dst = this.walkParent(newPath, ROOT_INO, [], budget, fail);
      if (src.lastType !== 'norm' || dst.lastType !== 'norm') fail('EBUSY');
      const from = this.child(src.dir, src.last, fail);
      if (from === undefined) fail('ENOENT');
      const to = this.child(dst.dir, dst.last, fail);
      // A trailing slash is allowed on either name only when the source is a directory.
      if (from.kind !== 'dir' && (src.trailingSlash || dst.trailingSlash)) fail('ENOTDIR');
      // Moving a directory into its own subtree; the target an ancestor of the source.
      if (from.kind === 'dir' && this.isAncestor(from.ino, dst.dir)) fail('EINVAL');
      if (to !== undefined && to.kind === 'dir' && this.isAncestor(to.ino, src.dir)) fail('ENOTEMPTY');
      if (to !== undefined) {
        if (to.ino === from.ino) return; // two names of one file: POSIX says do nothing
        if (from.kind === 'dir' && to.kind !== 'dir') fail('ENOTDIR');
        if (from.kind !== 'dir' && to.kind === 'dir') fail('EISDIR');
        if (to.kind === 'dir' && !isEmptyDir(this, to.ino)) fail('ENOTEMPTY');
      }
      this.requireWritable('rename', oldPath);
      const moving = this.inode(from.ino);
      const type = fileTypeOfMode(moving.mode);
      const dstName = nameBytes(dst.last);
      if (to !== undefined) {
        const found = findEntry(this, dst.dir, dstName);
        assert(found !== undefined, 'the target name exists');
        retargetEntry(this, found, from.ino, type);
        this.dropLink(dst.dir, to.ino);
      } else {
        this.reserve(1, 0, fail);
        this.addName(dst.dir, dstName, from.ino, type, fail);
      }
      if (canaryActive('rename-split-transactions')) this.meta.commit(); // canary: a commit between the two names
      const old = findEntry(this, src.dir, nameBytes(src.last));
      assert(old !== undefined && old.entry.inode === from.ino, 'the source name still names the moved inode');
      removeEntry(this, old);
      if (from.kind === 'dir' && src.dir !== dst.dir) {
        setDotDot(this, from.ino, dst.dir);
        this.adjustLinks(src.dir, -1);
        this.adjustLinks(dst.dir, +1);
      }
      const now = this.now();
      moving.ctime = now;
      this.putInode(from.ino, moving);
      this.touchDir(src.dir, now);
      if (dst.dir !== src.dir) this.touchDir(dst.dir, now);
    });
  }

  readdirSync(path: string, options?: { withFileTypes?: boolean; encoding?: BufferEncoding } | BufferEncoding): string[] {
    return this.op('scandir', path, () => {
      const fail: Fail = failer('scandir', path);
      const found = this.lookup(path, true, { links: 0 }, fail);
      this.requireFound(found, fail);
      if (found.kind !== 'dir') fail('ENOTDIR');
      if (typeof options === 'object' && options?.withFileTypes) fail('ENOTSUP');
      return listEntries(this, found.ino as number).filter((e) => !isDotOrDotDot(e.name)).map((e) => Buffer.from(e.name).toString('utf8'));
    });
  }

  statSync(path: string, options?: { throwIfNoEntry?: true }): DaxStats;
  statSync(path: string, options: { throwIfNoEntry: boolean }): DaxStats | undefined;
  statSync(path: string, options?: { throwIfNoEntry?: boolean }): DaxStats | undefined {
    return this.statPath(path, true, 'stat', options);
  }

  lstatSync(path: string, options?: { throwIfNoEntry?: true }): DaxStats;
  lstatSync(path: string, options: { throwIfNoEntry: boolean }): DaxStats | undefined;
  lstatSync(path: string, options?: { throwIfNoEntry?: boolean }): DaxStats | undefined {
    return this.statPath(path, false, 'lstat', options);
  }

  chmodSync(path: string, mode: number): void {
    this.op('chmod', path, () => {
      const ino = this.existing(path, 'chmod');
      this.requireWritable('chmod', path);
      const inode = this.inode(ino);
      inode.mode = (inode.mode & S_IFMT) | (mode & 0o7777);
      inode.ctime = this.now();
      this.putInode(ino, inode);
    });
  }

  chownSync(path: string, uid: number, gid: number): void {
    this.op('chown', path, () => {
      const ino = this.existing(path, 'chown');
      this.requireWritable('chown', path);
      const inode = this.inode(ino);
      // chown(2) reads -1 as "leave this one unchanged"
      if (uid !== -1) inode.uid = uid;
      if (gid !== -1) inode.gid = gid;
      inode.ctime = this.now();
      this.putInode(ino, inode);
    });
  }

  utimesSync(path: string, atime: number | Date | string, mtime: number | Date | string): void {
    this.op('utime', path, () => {
      const ino = this.existing(path, 'utime');
      this.requireWritable('utime', path);
      const inode = this.inode(ino);
      inode.atime = toSeconds(atime);
      inode.mtime = toSeconds(mtime);
      inode.ctime = this.now();
      this.putInode(ino, inode);
    });
  }

  /**
   * The device ranges behind [offset, offset + length) of an open file, allocating (and
   * zeroing) any hole, as a DAX mmap write fault does. The range must lie inside the file.
   */
  daxMapSync(fd: number, offset: number, length: number): Array<{ addr: number; length: number }> {
    return this.op('mmap', undefined, () => {
      const file = this.file(fd, 'mmap');
      const inode = this.inode(file.ino);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > inode.size) {
        throw fsError('EINVAL', 'mmap');
      }
      if (!file.writable || (inode.mode & S_IFMT) !== S_IFREG) throw fsError('EACCES', 'mmap');
      this.ensureMapped(file.ino, offset, length, undefined, failer('mmap'));
      return this.physicalRanges(file.ino, offset, length);
    });
  }

  /** Commit, close every file, and mark the file system cleanly unmounted. */
  unmount(): void {
    if (!this.mounted) return;
    for (const fd of [...this.files.keys()]) this.closeSync(fd);
    this.mounted = false;
    try {
      this.onUnmount?.();
    } catch (error) {
      throw error instanceof CorruptionError ? corruptionAsFsError(error, 'umount') : error;
    }
  }

  /** Set by mount: writes the clean superblock. */
  onUnmount: (() => void) | undefined;

  get isMounted(): boolean {
    return this.mounted;
  }

  /** Inodes open but unlinked (the orphans a crash would leave). */
  openInodes(): number[] {
    return [...this.openCounts.keys()];
  }

  // ================================================================ DirBlockSource

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

  // ================================================================ internals: operations

  /** Run one operation: check it is mounted, tick the clock, end it through the policy,
   * and charge what it cost on the device to its system call. */
  private op<T>(syscall: string, path: string | undefined, body: () => T): T {
    if (!this.mounted) throw fsError('EIO', syscall, path);
    // Times are u32 seconds on disk; a superblock time near 2^32 (corrupt, or far in the
    // future) must not push one past the field, so the clock stops at the last second.
    if (this.clockSeconds < MAX_CLOCK_SECONDS) this.clockSeconds++;
    const s = this.device.stats;
    const cleans = s.cleans;
    const barriers = s.barriers + s.fences + s.hints;
    const flushed = s.flushedBytes;
    const nanos = s.costNanos;
    try {
      try {
        return body();
      } finally {
        if (this.meta.hasRunning) this.hooks.opEnd(this.meta);
      }
    } catch (error) {
      // Corrupt on-disk data met by an operation is that system call's EUCLEAN, as ext4
      // answers EFSCORRUPTED: a Node-style error naming the call, with what and where kept
      // in `cause`. The file system stays mounted for the structures that are intact.
      throw error instanceof CorruptionError ? corruptionAsFsError(error, syscall, path) : error;
    } finally {
      let c = this.costs.get(syscall);
      if (c === undefined) {
        c = { calls: 0, cleans: 0, barriers: 0, flushedBytes: 0, costNanos: 0 };
        this.costs.set(syscall, c);
      }
      c.calls++;
      c.cleans += s.cleans - cleans;
      c.barriers += s.barriers + s.fences + s.hints - barriers;
      c.flushedBytes += s.flushedBytes - flushed;
      c.costNanos += s.costNanos - nanos;
    }
  }

  /** Device cost per system call since mount (cleans, barriers, bytes flushed, simulated ns). */
  costReport(): ReadonlyMap<string, Readonly<OpCost>> {
    return this.costs;
  }

  private now(): number {
    return this.clockSeconds;
  }

  /** The simulated clock, in seconds. */
  get clock(): number {
    return this.clockSeconds;
  }

  private requireWritable(syscall: string, path?: string): void {
    if (this.readOnly) throw fsError('EROFS', syscall, path);
  }

  private file(fd: number, syscall: string): OpenFile {
    const file = typeof fd === 'number' ? this.files.get(fd) : undefined;
    if (file === undefined) throw fsError('EBADF', syscall);
    return file;
  }

  /** The inode an existing path names (last symlink followed). */
  private existing(path: string, syscall: string): number {
    const fail: Fail = failer(syscall, path);
    const found = this.lookup(path, true, { links: 0 }, fail);
    this.requireFound(found, fail);
    return found.ino as number;
  }

  private statPath(path: string, follow: boolean, syscall: string, options?: { throwIfNoEntry?: boolean }): DaxStats | undefined {
    try {
      return this.op(syscall, path, () => {
        const fail: Fail = failer(syscall, path);
        const found = this.lookup(path, follow, { links: 0 }, fail);
        this.requireFound(found, fail);
        return this.stats(found.ino as number);
      });
    } catch (err) {
      if (options?.throwIfNoEntry === false && err instanceof NodeStyleError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  private stats(ino: number): DaxStats {
    const i = this.inode(ino);
    return new DaxStats(ino, i.mode, i.linksCount, i.uid, i.gid, i.size, i.blocks, i);
  }

  // ---------------------------------------------------------------- the path walk (fs/namei.c)

  /** Walks every component but the last, each of which must be or lead to a directory. */
  private walkParent(path: string, startDir: number, startPath: readonly string[], budget: WalkBudget, fail: Fail): ParentWalk {
    if (typeof path !== 'string' || path.length === 0) fail('ENOENT');
    if (byteLength(path) >= PATH_MAX_BYTES) fail('ENAMETOOLONG');
    // This API's working directory is '/': a relative path starts there (or, for a symlink's
    // target, at the link's directory).
    const absolute = path.startsWith('/');
    const parts = components(path);
    let dir = absolute ? ROOT_INO : startDir;
    let dirPath: readonly string[] = absolute ? [] : startPath;
    if (parts.length === 0) return { dir, dirPath, last: '', lastType: 'root', trailingSlash: false };
    for (const part of parts.slice(0, -1)) [dir, dirPath] = this.enter(dir, dirPath, part, budget, fail);
    const last = parts[parts.length - 1];
    const lastType: LastType = last === '.' ? 'dot' : last === '..' ? 'dotdot' : 'norm';
    return { dir, dirPath, last, lastType, trailingSlash: path.endsWith('/') };
  }

  /** One step down: `name` in `dir` must be a directory or a symlink that leads to one. */
  private enter(dir: number, dirPath: readonly string[], name: string, budget: WalkBudget, fail: Fail): [number, readonly string[]] {
    if (name === '.') return [dir, dirPath];
    // '..' is the physical parent; '/..' is '/'.
    if (name === '..') return [this.parentOf(dir), dirPath.slice(0, -1)];
    const child = this.child(dir, name, fail);
    if (child === undefined) fail('ENOENT');
    if (child.kind === 'file') fail('ENOTDIR');
    if (child.kind === 'dir') return [child.ino, [...dirPath, name]];
    const target = this.followLink(dir, dirPath, child.ino, budget, fail);
    if (target.lastType === 'root') return [target.dir, target.dirPath];
    return this.enter(target.dir, target.dirPath, target.last, budget, fail);
  }

  private followLink(dir: number, dirPath: readonly string[], linkIno: number, budget: WalkBudget, fail: Fail): ParentWalk {
    budget.links += 1;
    if (budget.links > SYMLOOP_MAX) fail('ELOOP');
    const target = Buffer.from(this.linkTarget(linkIno)).toString('utf8');
    return this.walkParent(target, dir, dirPath, budget, fail);
  }

  /** Walks the whole path; a trailing slash makes the last symlink followed too. */
  private lookup(path: string, followLast: boolean, budget: WalkBudget, fail: Fail): Found {
    let at = this.walkParent(path, ROOT_INO, [], budget, fail);
    let trailingSlash = at.trailingSlash;
    for (;;) {
      if (at.lastType !== 'norm') {
        const dir = at.lastType === 'dotdot' ? this.parentOf(at.dir) : at.dir;
        return { dir, name: null, ino: dir, kind: 'dir', lastType: at.lastType, trailingSlash };
      }
      const child = this.child(at.dir, at.last, fail);
      if (child !== undefined && child.kind === 'symlink' && (followLast || trailingSlash)) {
        at = this.followLink(at.dir, at.dirPath, child.ino, budget, fail);
        trailingSlash = trailingSlash || at.trailingSlash;
        continue;
      }
      return { dir: at.dir, name: at.last, ino: child?.ino, kind: child?.kind ?? null, lastType: 'norm', trailingSlash };
    }
  }

  /** What `name` in directory `dir` is; ENAMETOOLONG is the lookup's answer to a long name. */
  private child(dir: number, name: string, fail: Fail): { ino: number; kind: Kind } | undefined {
    const bytes = nameBytes(name);
    if (bytes.length > NAME_MAX_BYTES) fail('ENAMETOOLONG');
    const found = findEntry(this, dir, bytes);
    if (found === undefined) return undefined;
    const ino = found.entry.inode;
    return { ino, kind: kindOfMode(this.inode(ino).mode) };
  }

  private parentOf(dir: number): number {
    if (dir === ROOT_INO) return ROOT_INO;
    const up = findEntry(this, dir, DOTDOT);
    if (up === undefined) throw new CorruptionError({ structure: 'directory', where: `inode ${dir}`, what: 'no ".." entry' });
    return up.entry.inode;
  }

  private requireFound(found: Found, fail: Fail): void {
    if (found.kind === null) fail('ENOENT');
    // A trailing slash asks for a directory.
    if (found.trailingSlash && found.kind !== 'dir') fail('ENOTDIR');
  }

  /** Linux's filename_create() for names that are not directories (link, symlink). */
  private requireCreatable(at: ParentWalk, fail: Fail): void {
    if (at.lastType !== 'norm') fail('EEXIST');
    if (this.child(at.dir, at.last, fail) !== undefined) fail('EEXIST');
    // A trailing slash asks for a directory, which link and symlink cannot make.
    if (at.trailingSlash) fail('ENOENT');
  }

  private openExisting(path: string, bits: number, fail: Fail): Found {
    const found = this.lookup(path, (bits & O_NOFOLLOW) === 0, { links: 0 }, fail);
    if (found.kind === null) fail('ENOENT');
    if ((found.trailingSlash || (bits & O_DIRECTORY) !== 0) && found.kind !== 'dir') fail('ENOTDIR');
    if (found.kind === 'symlink') fail('ELOOP'); // O_NOFOLLOW on a symlink
    return found;
  }

  /** Linux's open_last_lookups() with O_CREAT: the parent is walked, then the last name. */
  private openCreate(path: string, bits: number, fail: Fail): Found {
    const excl = (bits & O_EXCL) !== 0;
    const budget: WalkBudget = { links: 0 };
    let at = this.walkParent(path, ROOT_INO, [], budget, fail);
    for (let steps = 0; ; steps++) {
      assert(steps <= SYMLOOP_MAX + 1, 'the symlink budget bounds an O_CREAT walk');
      if (at.lastType !== 'norm') fail(excl ? 'EEXIST' : 'EISDIR');
      if (at.trailingSlash) fail('EISDIR');
      const child = this.child(at.dir, at.last, fail);
      const found: Found = { dir: at.dir, name: at.last, ino: child?.ino, kind: child?.kind ?? null, lastType: 'norm', trailingSlash: false };
      if (child === undefined) return found;
      // With O_EXCL even a dangling symlink counts as existing.
      if (excl) fail('EEXIST');
      // Linux's do_open(): O_CREAT on a directory is EISDIR whatever the access mode.
      if (child.kind === 'dir') fail('EISDIR');
      if (child.kind !== 'symlink') return found;
      if ((bits & O_NOFOLLOW) !== 0) fail('ELOOP');
      // A symlink is followed, dangling or not: O_CREAT creates its target.
      at = this.followLink(at.dir, at.dirPath, child.ino, budget, fail);
    }
  }

  /** True when `ancestor` is `dir` or lies on the path from `dir` up to the root. */
  private isAncestor(ancestor: number, dir: number): boolean {
    let at = dir;
    // Each directory is passed once: a repeat is a ".." cycle, found at its first repeat
    // rather than after s_inodes_count steps.
    const passed = new Set<number>();
    while (!passed.has(at)) {
      if (at === ancestor) return true;
      if (at === ROOT_INO) return false;
      passed.add(at);
      at = this.parentOf(at);
    }
    throw new CorruptionError({ structure: 'directory', where: `inode ${dir}`, what: `a ".." chain that loops at inode ${at} and never reaches the root` });
  }

  // ================================================================ internals: inodes

  inode(ino: number): Inode {
    let inode = this.inodes.get(ino);
    if (inode === undefined) {
      const [block, offset] = this.inodeLocation(ino);
      inode = decodeInode(this.meta.read(block), offset);
      this.inodes.set(ino, inode);
    }
    return inode;
  }

  private putInode(ino: number, inode: Inode): void {
    const [block, offset] = this.inodeLocation(ino);
    encodeInode(inode, this.meta.write(block, offset, offset + INODE_BYTES), offset);
    this.inodes.set(ino, inode);
  }

  private inodeLocation(ino: number): [number, number] {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.sb.inodesCount) {
      throw new CorruptionError({ structure: 'directory', where: `inode number ${ino}`, what: `outside 1..${this.sb.inodesCount}` });
    }
    const group = Math.floor((ino - 1) / this.sb.inodesPerGroup);
    const index = (ino - 1) % this.sb.inodesPerGroup;
    const byte = index * INODE_BYTES;
    return [this.groups.descs[group].inodeTable + Math.floor(byte / BLOCK_BYTES), byte % BLOCK_BYTES];
  }

  private map(ino: number): FileMap {
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

  private linkTarget(ino: number): Uint8Array {
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

  /** Check that `blocks` blocks and `inodes` inodes can be had, before changing anything. */
  private reserve(blocks: number, inodes: number, fail: Fail): void {
    if (this.groups.freeBlocks() - this.meta.quarantinedCount() < blocks || this.groups.freeInodes() < inodes) fail('ENOSPC');
  }

  private allocBlock(goal: number): number | undefined {
    return this.groups.allocRun(goal, 1)?.[0];
  }

  /** Create an inode of `mode` named by `r`; a symlink gets `target`. */
  private createNode(parent: number, name: string, mode: number, fail: Fail, target?: Uint8Array): number {
    const type = mode & S_IFMT;
    const isDir = type === S_IFDIR;
    const slowLink = type === S_IFLNK && (target?.length ?? 0) > FAST_SYMLINK_MAX_BYTES;
    // one block for the parent's directory growth, one for a directory's or slow link's own block
    this.reserve(1 + (isDir || slowLink ? 1 : 0), 1, fail);
    const ino = this.groups.allocInode(this.groups.groupOfInode(parent), isDir);
    if (ino === undefined) fail('ENOSPC');
    const now = this.now();
    const old = this.inode(ino);
    const inode = emptyInode();
    inode.mode = mode;
    inode.linksCount = isDir ? 2 : 1;
    inode.atime = inode.ctime = inode.mtime = inode.crtime = now;
    inode.generation = old.generation + 1;
    inode.extraIsize = 32;
    this.maps.delete(ino);
    if (type === S_IFLNK && !slowLink) {
      const t = target ?? new Uint8Array(0);
      inode.block = new Uint8Array(60);
      inode.block.set(t);
      inode.size = t.length;
    } else {
      inode.flags = EXTENTS_FL;
      inode.block = new Uint8Array(60);
      encodeExtentNode({ depth: 0, max: EXTENT_ROOT_MAX, leaves: [], indexes: [] }, inode.block, 0, 60);
      this.maps.set(ino, { leaves: [], treeBlocks: [] });
    }
    if (isDir || slowLink) {
      const block = this.allocBlock(this.groups.descs[this.groups.groupOfInode(ino)].inodeTable);
      assert(block !== undefined, 'a reserved block is free');
      const bytes = this.meta.fresh(block);
      if (isDir) initDirBlock(bytes, ino, parent);
      else bytes.set(target as Uint8Array);
      insertRun(this.map(ino).leaves, 0, block, 1);
      inode.size = isDir ? BLOCK_BYTES : (target as Uint8Array).length;
      inode.blocks = SECTORS_PER_BLOCK;
      const stored = storeFileMap(this.meta, this.treeAlloc(), inode, this.map(ino), block);
      assert(stored === 'ok', 'a one-extent map fits in the inode');
    }
    this.putInode(ino, inode);
    this.addName(parent, nameBytes(name), ino, fileTypeOfMode(mode), fail);
    if (isDir) this.adjustLinks(parent, +1);
    this.touchDir(parent, now);
    return ino;
  }

  /** Add a name to a directory, growing it by a block when no block has room. */
  private addName(dirIno: number, name: Uint8Array, ino: number, fileType: number, fail: Fail): void {
    if (addEntry(this, dirIno, name, ino, fileType)) return;
    const dir = this.inode(dirIno);
    const map = this.map(dirIno);
    const lblock = dir.size / BLOCK_BYTES;
    const last = map.leaves[map.leaves.length - 1];
    const block = this.allocBlock(last ? last.start + last.len : 0);
    if (block === undefined) fail('ENOSPC');
    initEmptyBlock(this.meta.fresh(block));
    insertRun(map.leaves, lblock, block, 1);
    const stored = storeFileMap(this.meta, this.treeAlloc(), dir, map, block);
    if (stored !== 'ok') fail(stored === 'efbig' ? 'EFBIG' : 'ENOSPC');
    dir.size += BLOCK_BYTES;
    dir.blocks += SECTORS_PER_BLOCK;
    this.putInode(dirIno, dir);
    const added = addEntry(this, dirIno, name, ino, fileType);
    assert(added, 'a fresh directory block has room for any name');
  }

  /** Remove a name and the link it held. */
  private removeName(dirIno: number, name: Uint8Array, ino: number): void {
    const found = findEntry(this, dirIno, name);
    assert(found !== undefined && found.entry.inode === ino, 'the name to remove names that inode');
    removeEntry(this, found);
    this.dropLink(dirIno, ino);
    this.touchDir(dirIno, this.now());
  }

  /** One name of `ino` in `dirIno` is gone: update link counts, free the inode if unused. */
  private dropLink(dirIno: number, ino: number): void {
    const inode = this.inode(ino);
    const isDir = (inode.mode & S_IFMT) === S_IFDIR;
    if (isDir) {
      inode.linksCount = 0;
      this.adjustLinks(dirIno, -1);
    } else {
      // A name of an inode whose count is already 0: the image lost a link somewhere.
      if (inode.linksCount === 0) throw new CorruptionError({ structure: 'inode', where: `inode ${ino}`, what: 'i_links_count is 0 while a name still refers to it' });
      inode.linksCount--;
    }
    inode.ctime = this.now();
    this.putInode(ino, inode);
    if (inode.linksCount !== 0) return;
    // An inode with no name but open descriptors goes on the orphan list, so that recovery
    // frees it if the machine stops before the last close.
    if (this.openCounts.has(ino)) {
      if (!canaryActive('orphan-not-recorded')) this.addOrphan(ino);
    } else this.releaseInode(ino);
  }

  // ---------------------------------------------------------------- the orphan list

  /** Push `ino` on the orphan list (s_last_orphan, chained through i_dtime). */
  private addOrphan(ino: number): void {
    const inode = this.inode(ino);
    inode.dtime = this.sb.lastOrphan;
    this.putInode(ino, inode);
    this.sb.lastOrphan = ino;
    this.saveSuper();
    this.orphans.add(ino);
  }

  private removeOrphan(ino: number): void {
    const inode = this.inode(ino);
    const next = inode.dtime;
    if (this.sb.lastOrphan === ino) {
      this.sb.lastOrphan = next;
      this.saveSuper();
    } else {
      let at = this.sb.lastOrphan;
      for (let steps = 0; at !== 0; steps++) {
        if (steps > this.sb.inodesCount) throw new CorruptionError({ structure: 'orphan list', where: 'superblock s_last_orphan', what: 'a cycle' });
        const prev = this.inode(at);
        if (prev.dtime === ino) {
          prev.dtime = next;
          this.putInode(at, prev);
          break;
        }
        at = prev.dtime;
      }
    }
    inode.dtime = 0;
    this.putInode(ino, inode);
    this.orphans.delete(ino);
  }

  /**
   * Mount after a crash: finish every orphan (free an unlinked inode, complete a truncate to
   * its i_size). The list is bounded by the inode count and each entry checked.
   */
  finishOrphans(): number {
    let finished = 0;
    // The chain is read before the operation starts, so a corrupt list is mount's
    // CorruptionError (what and where); each inode joins once, so a cycle ends the walk.
    for (let at = this.sb.lastOrphan, steps = 0; at !== 0; steps++) {
      if (steps > this.sb.inodesCount || at < 1 || at > this.sb.inodesCount) {
        throw new CorruptionError({ structure: 'orphan list', where: `inode ${at}`, what: 'outside the inode table' });
      }
      if (this.orphans.has(at)) {
        throw new CorruptionError({ structure: 'orphan list', where: `inode ${at}`, what: `a cycle: inode ${at} is on the list twice` });
      }
      this.orphans.add(at);
      at = this.inode(at).dtime;
    }
    return this.op('mount', undefined, () => {
      for (const ino of [...this.orphans]) {
        const inode = this.inode(ino);
        if (inode.linksCount === 0) this.releaseInode(ino);
        else {
          if ((inode.mode & S_IFMT) === S_IFREG) this.freeBeyond(ino, inode, Math.ceil(inode.size / BLOCK_BYTES));
          this.removeOrphan(ino);
        }
        finished++;
      }
      return finished;
    });
  }

  /** Write the superblock into the running transaction. */
  saveSuper(): void {
    encodeSuperblock(this.sb, this.meta.write(0, SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 1024), SUPERBLOCK_OFFSET);
  }

  /** Free an inode with no names and no open files: its blocks, then the inode itself. */
  private releaseInode(ino: number): void {
    const inode = this.inode(ino);
    assert(inode.linksCount === 0, () => `inode ${ino} released with ${inode.linksCount} links`);
    const isDir = (inode.mode & S_IFMT) === S_IFDIR;
    if (this.orphans.has(ino)) this.removeOrphan(ino);
    if ((inode.flags & EXTENTS_FL) !== 0) this.freeBeyond(ino, inode, 0);
    inode.size = 0;
    inode.dtime = this.now();
    this.putInode(ino, inode);
    this.groups.freeInode(ino, isDir);
    this.maps.delete(ino);
  }

  private adjustLinks(dirIno: number, delta: number): void {
    const dir = this.inode(dirIno);
    if (dir.linksCount + delta < 0 || dir.linksCount + delta > 0xffff) {
      throw new CorruptionError({ structure: 'inode', where: `inode ${dirIno}`, what: `directory i_links_count ${dir.linksCount} cannot change by ${delta}` });
    }
    dir.linksCount += delta;
    this.putInode(dirIno, dir);
  }

  private touchDir(dirIno: number, now: number): void {
    const dir = this.inode(dirIno);
    dir.mtime = dir.ctime = now;
    this.putInode(dirIno, dir);
  }

  private treeAlloc() {
    return {
      allocTreeBlock: (goal: number) => this.allocBlock(goal),
      freeTreeBlock: (block: number) => {
        this.meta.forget(block);
        this.groups.freeBlock(block);
      },
    };
  }

  // ================================================================ internals: data

  private readData(ino: number, at: number, out: Uint8Array): number {
    const size = this.inode(ino).size;
    if (at >= size || out.length === 0) return 0;
    const n = Math.min(out.length, size - at);
    const leaves = this.map(ino).leaves;
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
        out.set(this.device.load((e.start + lblock - e.block) * BLOCK_BYTES + (pos % BLOCK_BYTES), len), done);
      }
      done += len;
    }
    return n;
  }

  /** Write `data` at byte `at` of inode `ino`, allocating and zeroing as DAX requires. */
  private writeData(ino: number, at: number, data: Uint8Array, syscall: string): void {
    const inode = this.inode(ino);
    if (!Number.isSafeInteger(at) || at < 0) throw fsError('EINVAL', syscall);
    if (at + data.length > MAX_FILE_BYTES) throw fsError('EFBIG', syscall);
    if (data.length === 0) return;
    this.ensureMapped(ino, at, data.length, data, failer(syscall));
    for (const range of this.physicalRanges(ino, at, data.length)) {
      const piece = data.subarray(range.fileOffset - at, range.fileOffset - at + range.length);
      if (canaryActive('data-not-flushed')) this.device.store(range.addr, piece); else this.api.memcpyFlushcache(range.addr, piece);
    }
    this.meta.noteDataWrite();
    const now = this.now();
    inode.mtime = inode.ctime = now;
    if (at + data.length > inode.size) this.setSizeField(inode, at + data.length);
    this.putInode(ino, inode);
  }

  /**
   * Make every block of [at, at + length) mapped and written. New blocks are zeroed except
   * where `cover` (the data about to be written there) will fill them.
   */
  private ensureMapped(ino: number, at: number, length: number, cover: Uint8Array | undefined, fail: Fail): void {
    const inode = this.inode(ino);
    const map = this.map(ino);
    const first = Math.floor(at / BLOCK_BYTES);
    const last = Math.floor((at + length - 1) / BLOCK_BYTES);
    const holes: Array<[number, number]> = []; // [lblock, count]
    const unwritten: number[] = [];
    for (let l = first; l <= last; l++) {
      const e = findExtent(map.leaves, l);
      if (e !== undefined) {
        if (e.unwritten) unwritten.push(l);
        continue;
      }
      const run = holes[holes.length - 1];
      if (run && run[0] + run[1] === l) run[1]++;
      else holes.push([l, 1]);
    }
    if (holes.length === 0 && unwritten.length === 0) return;
    const needed = holes.reduce((n, [, c]) => n + c, 0);
    // the new data blocks, and room for the tree to grow by a leaf block
    this.reserve(needed + 2, 0, fail);
    const coverLen = cover ? cover.length : 0;
    const before = map.leaves.map((e) => ({ ...e }));
    const taken: Array<[number, number]> = []; // [pblock, count]
    for (const l of unwritten) {
      // an unwritten (preallocated) block reads as zeros: make it so, then mark it written
      const e = findExtent(map.leaves, l) as { block: number; start: number };
      const pblock = e.start + (l - e.block);
      this.zeroUncovered(pblock, l, 1, at, coverLen);
      removeRange(map.leaves, l, l + 1);
      insertRun(map.leaves, l, pblock, 1);
    }
    for (const [lstart, count] of holes) {
      for (let done = 0; done < count;) {
        const l = lstart + done;
        const prev = findExtent(map.leaves, l - 1);
        const goal = prev && !prev.unwritten
          ? prev.start + (l - prev.block)
          : this.groups.descs[this.groups.groupOfInode(ino)].inodeTable;
        const run = this.groups.allocRun(goal, count - done);
        assert(run !== undefined, 'reserved blocks are free');
        taken.push(run);
        insertRun(map.leaves, l, run[0], run[1]);
        if (!canaryActive('new-block-not-zeroed')) this.zeroUncovered(run[0], l, run[1], at, coverLen);
        done += run[1];
      }
    }
    const stored = storeFileMap(this.meta, this.treeAlloc(), inode, map, taken[0]?.[0] ?? 0);
    if (stored !== 'ok') {
      // give back what this write took; the map is as it was
      map.leaves = before;
      for (const [pblock, count] of taken) for (let b = 0; b < count; b++) this.groups.freeBlock(pblock + b);
      fail(stored === 'efbig' ? 'EFBIG' : 'ENOSPC');
    }
    inode.blocks += needed * SECTORS_PER_BLOCK;
    this.putInode(ino, inode);
  }

  /** Zero the parts of new blocks [pblock, +count) (logical lblock..) outside [at, at+coverLen). */
  private zeroUncovered(pblock: number, lblock: number, count: number, at: number, coverLen: number): void {
    for (let i = 0; i < count; i++) {
      const start = (lblock + i) * BLOCK_BYTES;
      const end = start + BLOCK_BYTES;
      const coverFrom = Math.max(start, at);
      const coverTo = Math.min(end, at + coverLen);
      const addr = (pblock + i) * BLOCK_BYTES;
      if (coverTo <= coverFrom) {
        this.api.clearPmem(addr, BLOCK_BYTES);
        continue;
      }
      if (coverFrom > start) this.api.clearPmem(addr, coverFrom - start);
      if (coverTo < end) this.api.clearPmem(addr + (coverTo - start), end - coverTo);
    }
    this.meta.noteDataWrite();
  }

  /** Device ranges behind [at, at + length) of a fully mapped region. */
  private physicalRanges(ino: number, at: number, length: number): Array<{ addr: number; length: number; fileOffset: number }> {
    const leaves = this.map(ino).leaves;
    const out: Array<{ addr: number; length: number; fileOffset: number }> = [];
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

  /** Change a regular file's size: shrinking frees blocks past the end and zeroes the tail
   * of the last block; growing leaves a hole. */
  private setSize(ino: number, len: number, fail: Fail): void {
    if (len > MAX_FILE_BYTES) fail('EFBIG');
    const inode = this.inode(ino);
    if (len < inode.size) {
      if (len % BLOCK_BYTES !== 0) {
        const e = findExtent(this.map(ino).leaves, Math.floor(len / BLOCK_BYTES));
        if (e !== undefined && !e.unwritten) {
          const addr = (e.start + Math.floor(len / BLOCK_BYTES) - e.block) * BLOCK_BYTES + (len % BLOCK_BYTES);
          if (!canaryActive('truncate-tail-not-zeroed')) this.api.clearPmem(addr, BLOCK_BYTES - (len % BLOCK_BYTES));
          this.meta.noteDataWrite();
        }
      }
      if (!this.freeBeyond(ino, inode, Math.ceil(len / BLOCK_BYTES))) fail('ENOSPC');
    }
    this.setSizeField(inode, len);
    inode.mtime = inode.ctime = this.now();
    this.putInode(ino, inode);
  }

  /** Free every data block at or past logical `fromBlock`; false if the map could not be stored. */
  private freeBeyond(ino: number, inode: Inode, fromBlock: number): boolean {
    const map = this.map(ino);
    const removed = removeRange(map.leaves, fromBlock, Number.MAX_SAFE_INTEGER);
    if (removed.length === 0 && fromBlock > 0) return true;
    const stored = storeFileMap(this.meta, this.treeAlloc(), inode, map, 0);
    if (stored !== 'ok') return false;
    for (const e of removed) {
      for (let b = 0; b < e.len; b++) {
        this.meta.forget(e.start + b);
        this.groups.freeBlock(e.start + b);
      }
      inode.blocks -= e.len * SECTORS_PER_BLOCK;
    }
    this.putInode(ino, inode);
    return true;
  }

  private setSizeField(inode: Inode, size: number): void {
    inode.size = size;
    if (size >= LARGE_FILE_BYTES && (this.sb.featureRoCompat & RO_COMPAT_LARGE_FILE) === 0) {
      this.sb.featureRoCompat |= RO_COMPAT_LARGE_FILE;
      this.saveSuper();
    }
  }

}

// ================================================================ helpers

/** Node's kIoMaxLength: readFile refuses larger files with ERR_FS_FILE_TOO_LARGE. */
export const READ_FILE_MAX_BYTES = 2 ** 31 - 1;

/** The RangeError Node's readFile throws for a file above 2 GiB (code ERR_FS_FILE_TOO_LARGE). */
function fileTooLarge(size: number): RangeError {
  const error = new RangeError(`File size (${size}) is greater than 2 GiB`) as RangeError & { code: string };
  error.code = 'ERR_FS_FILE_TOO_LARGE';
  return error;
}

/** EUCLEAN for `syscall`, keeping the CorruptionError (what and where) as its cause. */
export function corruptionAsFsError(error: CorruptionError, syscall: string, path?: string): NodeStyleError {
  const converted = fsError('EUCLEAN', syscall, path);
  Object.defineProperty(converted, 'cause', { value: error, enumerable: false, writable: true, configurable: true });
  return converted;
}

export function components(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}

/** A name's bytes on disk (UTF-8). */
function nameBytes(name: string): Uint8Array {
  return Buffer.from(name, 'utf8');
}

function kindOfMode(mode: number): Kind {
  const type = mode & S_IFMT;
  return type === S_IFDIR ? 'dir' : type === S_IFLNK ? 'symlink' : 'file';
}

function toSeconds(t: number | Date | string): number {
  if (typeof t === 'number') return Math.floor(t);
  if (typeof t === 'string') return Math.floor(Number(t));
  return Math.floor(t.getTime() / 1000);
}

/** The first byte of the first mapped block after `lblock` (or no limit). */
function nextMappedByte(leaves: readonly { block: number }[], lblock: number): number {
  for (const e of leaves) if (e.block > lblock) return e.block * BLOCK_BYTES;
  return Number.MAX_SAFE_INTEGER;
}

