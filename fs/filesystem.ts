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
 * CorruptionError (EUCLEAN) from the codecs; a broken invariant is an AssertionFailure.
 */
import { assert } from '../core/assert';
import { CorruptionError, ErrnoCode, NodeStyleError, fsError } from '../core/errors';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';
import {
  BLOCK_BYTES, EXTENT_ROOT_MAX, EXTENTS_FL, FT_DIR, FT_REG_FILE, FT_SYMLINK, INODE_BYTES, Inode,
  RO_COMPAT_LARGE_FILE, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, Superblock, emptyInode, encodeExtentNode,
  decodeInode, encodeInode, fileTypeOfMode,
} from './format';
import {
  DOTDOT, DirBlockSource, addEntry, findEntry, initDirBlock, initEmptyBlock, isDotOrDotDot, isEmptyDir,
  listEntries, removeEntry, retargetEntry, setDotDot,
} from './dir';
import { FileMap, MAX_STORED_EXTENTS, findExtent, insertRun, loadFileMap, removeRange, storeFileMap } from './extents';
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
const SECTORS_PER_BLOCK = BLOCK_BYTES / 512;

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;

const FLAG_STRINGS: Record<string, number> = {
  r: O_RDONLY, 'r+': O_RDWR, rs: O_RDONLY, 'rs+': O_RDWR, 'sr+': O_RDWR,
  w: O_TRUNC | O_CREAT | O_WRONLY, wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL, xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  'w+': O_TRUNC | O_CREAT | O_RDWR, 'wx+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL, 'xw+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  a: O_APPEND | O_CREAT | O_WRONLY, ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL, xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  as: O_APPEND | O_CREAT | O_WRONLY, sa: O_APPEND | O_CREAT | O_WRONLY,
  'a+': O_APPEND | O_CREAT | O_RDWR, 'ax+': O_APPEND | O_CREAT | O_RDWR | O_EXCL, 'xa+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'as+': O_APPEND | O_CREAT | O_RDWR, 'sa+': O_APPEND | O_CREAT | O_RDWR,
};

export const FS_CONSTANTS = { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW } as const;

interface OpenFile {
  readonly ino: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly append: boolean;
  position: number;
}

/** Where a path leads: the directory holding its last name, that name, and its inode if any. */
interface Resolved {
  readonly parent: number;
  readonly name: Uint8Array;
  readonly ino: number | undefined;
  /** The canonical absolute path of what was reached. */
  readonly canonical: string;
  readonly trailingSlash: boolean;
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

export class DaxFileSystem implements DirBlockSource {
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
  private nextFd = 3;
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

  // ================================================================ Node API: files

  openSync(path: string, flags: string | number = 'r', mode = 0o666): number {
    return this.op('open', path, () => {
      const f = parseFlags(flags, path);
      const writable = (f & 3) !== O_RDONLY;
      const exclusive = (f & O_CREAT) !== 0 && (f & O_EXCL) !== 0;
      const r = this.resolve(path, 'open', !exclusive && (f & O_NOFOLLOW) === 0);
      let ino = r.ino;
      if (ino === undefined) {
        if ((f & O_CREAT) === 0) throw fsError('ENOENT', 'open', path);
        if (r.trailingSlash) throw fsError('EISDIR', 'open', path);
        this.requireWritable('open', path);
        ino = this.createNode(r, S_IFREG | (mode & 0o7777), 'open', path);
      } else {
        if (exclusive) throw fsError('EEXIST', 'open', path);
        const inode = this.inode(ino);
        const type = inode.mode & S_IFMT;
        if (type === S_IFLNK) throw fsError('ELOOP', 'open', path);
        if (type === S_IFDIR && (writable || (f & O_CREAT) !== 0)) throw fsError('EISDIR', 'open', path);
        if (type !== S_IFDIR && ((f & O_DIRECTORY) !== 0 || r.trailingSlash)) throw fsError('ENOTDIR', 'open', path);
        if (writable) this.requireWritable('open', path);
        if ((f & O_TRUNC) !== 0 && writable && type === S_IFREG && inode.size > 0) this.setSize(ino, 0, 'open', path);
      }
      const fd = this.nextFd++;
      this.files.set(fd, { ino, readable: (f & 3) !== O_WRONLY, writable, append: (f & O_APPEND) !== 0, position: 0 });
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
    return this.op('read', undefined, () => {
      const file = this.file(fd, 'read');
      const o = typeof offsetOrOptions === 'object' && offsetOrOptions !== null ? offsetOrOptions : { offset: offsetOrOptions, length, position };
      const offset = o.offset ?? 0;
      const len = o.length ?? buffer.length - offset;
      checkBufferRange(buffer, offset, len, 'read');
      if (!file.readable) throw fsError('EBADF', 'read');
      const inode = this.inode(file.ino);
      if ((inode.mode & S_IFMT) === S_IFDIR) throw fsError('EISDIR', 'read');
      const at = o.position === undefined || o.position === null || o.position < 0 ? file.position : o.position;
      const n = this.readData(file.ino, at, buffer.subarray(offset, offset + len));
      if (o.position === undefined || o.position === null || o.position < 0) file.position = at + n;
      return n;
    });
  }

  writeSync(fd: number, data: Uint8Array | string, offsetOrPosition?: number | null, lengthOrEncoding?: number | string, position?: number | null): number {
    return this.op('write', undefined, () => {
      const file = this.file(fd, 'write');
      let bytes: Uint8Array;
      let pos: number | null | undefined;
      if (typeof data === 'string') {
        bytes = Buffer.from(data, typeof lengthOrEncoding === 'string' ? (lengthOrEncoding as BufferEncoding) : 'utf8');
        pos = offsetOrPosition;
      } else {
        const offset = typeof offsetOrPosition === 'number' ? offsetOrPosition : 0;
        const len = typeof lengthOrEncoding === 'number' ? lengthOrEncoding : data.length - offset;
        checkBufferRange(data, offset, len, 'write');
        bytes = data.subarray(offset, offset + len);
        pos = position;
      }
      if (!file.writable) throw fsError('EBADF', 'write');
      this.requireWritable('write');
      const inode = this.inode(file.ino);
      const usePosition = pos === undefined || pos === null || pos < 0;
      const at = file.append ? inode.size : usePosition ? file.position : (pos as number);
      this.writeData(file.ino, at, bytes, 'write');
      if (usePosition || file.append) file.position = at + bytes.length;
      return bytes.length;
    });
  }

  fsyncSync(fd: number): void {
    this.op('fsync', undefined, () => {
      this.file(fd, 'fsync');
      this.hooks.sync(this.meta);
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
      if (!file.writable) throw fsError('EINVAL', 'ftruncate');
      this.truncateIno(file.ino, len, 'ftruncate', undefined);
    });
  }

  truncateSync(path: string, len = 0): void {
    this.op('open', path, () => {
      const r = this.resolve(path, 'open', true);
      if (r.ino === undefined) throw fsError('ENOENT', 'open', path);
      if ((this.inode(r.ino).mode & S_IFMT) === S_IFDIR) throw fsError('EISDIR', 'open', path);
      this.truncateIno(r.ino, len, 'ftruncate', path);
    });
  }

  readFileSync(path: string | number, options?: { encoding?: BufferEncoding | null; flag?: string } | BufferEncoding): Buffer | string {
    const encoding = typeof options === 'string' ? options : options?.encoding ?? undefined;
    const fd = typeof path === 'number' ? path : this.openSync(path, typeof options === 'object' && options?.flag ? options.flag : 'r');
    try {
      const size = this.inode(this.file(fd, 'read').ino).size;
      const out = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const n = this.readSync(fd, out, done, size - done, null);
        if (n === 0) break;
        done += n;
      }
      const bytes = out.subarray(0, done);
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

  // ================================================================ Node API: names

  mkdirSync(path: string, options?: { recursive?: boolean; mode?: number } | number): string | undefined {
    const o = typeof options === 'number' ? { mode: options } : options ?? {};
    const mode = (o.mode ?? 0o777) & 0o7777;
    if (!o.recursive) {
      this.op('mkdir', path, () => {
        const r = this.resolve(path, 'mkdir', false);
        if (r.ino !== undefined) throw fsError('EEXIST', 'mkdir', path);
        this.requireWritable('mkdir', path);
        this.createNode(r, S_IFDIR | mode, 'mkdir', path);
      });
      return undefined;
    }
    const parts = components(path);
    let first: string | undefined;
    for (let i = 1; i <= parts.length; i++) {
      const prefix = '/' + parts.slice(0, i).join('/');
      const created = this.op('mkdir', path, () => {
        const r = this.resolve(prefix, 'mkdir', true);
        if (r.ino !== undefined) {
          if ((this.inode(r.ino).mode & S_IFMT) !== S_IFDIR) throw fsError(i === parts.length ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
          return false;
        }
        this.requireWritable('mkdir', path);
        this.createNode(r, S_IFDIR | mode, 'mkdir', path);
        return true;
      });
      if (created && first === undefined) first = prefix;
    }
    return first;
  }

  rmdirSync(path: string): void {
    this.op('rmdir', path, () => {
      const r = this.resolve(path, 'rmdir', false);
      if (r.ino === undefined) throw fsError('ENOENT', 'rmdir', path);
      if ((this.inode(r.ino).mode & S_IFMT) !== S_IFDIR) throw fsError('ENOTDIR', 'rmdir', path);
      if (r.ino === ROOT_INO) throw fsError('EBUSY', 'rmdir', path);
      if (nameIs(r.name, '.')) throw fsError('EINVAL', 'rmdir', path);
      if (nameIs(r.name, '..')) throw fsError('ENOTEMPTY', 'rmdir', path);
      if (!isEmptyDir(this, r.ino)) throw fsError('ENOTEMPTY', 'rmdir', path);
      this.requireWritable('rmdir', path);
      this.removeName(r.parent, r.name, r.ino);
    });
  }

  unlinkSync(path: string): void {
    this.op('unlink', path, () => {
      const r = this.resolve(path, 'unlink', false);
      if (r.ino === undefined) throw fsError('ENOENT', 'unlink', path);
      const type = this.inode(r.ino).mode & S_IFMT;
      if (type === S_IFDIR) throw fsError('EISDIR', 'unlink', path);
      if (r.trailingSlash) throw fsError('ENOTDIR', 'unlink', path);
      this.requireWritable('unlink', path);
      this.removeName(r.parent, r.name, r.ino);
    });
  }

  linkSync(existingPath: string, newPath: string): void {
    this.op('link', existingPath, () => {
      const from = this.resolve(existingPath, 'link', false, newPath);
      if (from.ino === undefined) throw fsError('ENOENT', 'link', existingPath, newPath);
      const inode = this.inode(from.ino);
      if ((inode.mode & S_IFMT) === S_IFDIR) throw fsError('EPERM', 'link', existingPath, newPath);
      const to = this.resolve(newPath, 'link', false, newPath, existingPath);
      if (to.ino !== undefined) throw fsError('EEXIST', 'link', existingPath, newPath);
      if (to.trailingSlash) throw fsError('ENOENT', 'link', existingPath, newPath);
      this.requireWritable('link', existingPath);
      if (inode.linksCount >= 65000) throw fsError('EMLINK', 'link', existingPath, newPath);
      this.reserve(1, 0, 'link', existingPath, newPath);
      this.addName(to.parent, to.name, from.ino, fileTypeOfMode(inode.mode), 'link', existingPath);
      inode.linksCount++;
      inode.ctime = this.now();
      this.putInode(from.ino, inode);
    });
  }

  symlinkSync(target: string, path: string): void {
    this.op('symlink', target, () => {
      const bytes = Buffer.from(target, 'utf8');
      if (bytes.length === 0) throw fsError('ENOENT', 'symlink', target, path);
      if (bytes.length > SYMLINK_MAX_BYTES) throw fsError('ENAMETOOLONG', 'symlink', target, path);
      const r = this.resolve(path, 'symlink', false, target, path);
      if (r.ino !== undefined || r.trailingSlash) throw fsError('EEXIST', 'symlink', target, path);
      this.requireWritable('symlink', target);
      this.createNode(r, S_IFLNK | 0o777, 'symlink', target, bytes, path);
    });
  }

  readlinkSync(path: string, options?: { encoding?: BufferEncoding } | BufferEncoding): string {
    return this.op('readlink', path, () => {
      const r = this.resolve(path, 'readlink', false);
      if (r.ino === undefined) throw fsError('ENOENT', 'readlink', path);
      if ((this.inode(r.ino).mode & S_IFMT) !== S_IFLNK) throw fsError('EINVAL', 'readlink', path);
      const encoding = typeof options === 'string' ? options : options?.encoding ?? 'utf8';
      return Buffer.from(this.linkTarget(r.ino)).toString(encoding);
    });
  }

  renameSync(oldPath: string, newPath: string): void {
    this.op('rename', oldPath, () => {
      const from = this.resolve(oldPath, 'rename', false, oldPath, newPath);
      if (from.ino === undefined) throw fsError('ENOENT', 'rename', oldPath, newPath);
      const to = this.resolve(newPath, 'rename', false, oldPath, newPath);
      const moving = this.inode(from.ino);
      const movingDir = (moving.mode & S_IFMT) === S_IFDIR;
      if (isDotOrDotDot(from.name) || isDotOrDotDot(to.name) || from.ino === ROOT_INO) throw fsError('EBUSY', 'rename', oldPath, newPath);
      if (!movingDir && (from.trailingSlash || to.trailingSlash)) throw fsError('ENOTDIR', 'rename', oldPath, newPath);
      if (movingDir && this.isAncestor(from.ino, to.parent)) throw fsError('EINVAL', 'rename', oldPath, newPath);
      if (to.ino !== undefined) {
        if (to.ino === from.ino) return; // the same file under both names: POSIX says do nothing
        const targetDir = (this.inode(to.ino).mode & S_IFMT) === S_IFDIR;
        if (movingDir && !targetDir) throw fsError('ENOTDIR', 'rename', oldPath, newPath);
        if (!movingDir && targetDir) throw fsError('EISDIR', 'rename', oldPath, newPath);
        if (targetDir && !isEmptyDir(this, to.ino)) throw fsError('ENOTEMPTY', 'rename', oldPath, newPath);
      }
      this.requireWritable('rename', oldPath);
      const type = fileTypeOfMode(moving.mode);
      if (to.ino !== undefined) {
        const found = findEntry(this, to.parent, to.name);
        assert(found !== undefined, 'the resolved target name exists');
        const replaced = to.ino;
        retargetEntry(this, found, from.ino, type);
        this.dropLink(to.parent, replaced);
      } else {
        this.reserve(1, 0, 'rename', oldPath, newPath);
        this.addName(to.parent, to.name, from.ino, type, 'rename', oldPath);
      }
      const old = findEntry(this, from.parent, from.name);
      assert(old !== undefined && old.entry.inode === from.ino, 'the source name still names the moved inode');
      removeEntry(this, old);
      if (movingDir && from.parent !== to.parent) {
        setDotDot(this, from.ino, to.parent);
        this.adjustLinks(from.parent, -1);
        this.adjustLinks(to.parent, +1);
      }
      const now = this.now();
      moving.ctime = now;
      this.putInode(from.ino, moving);
      this.touchDir(from.parent, now);
      if (to.parent !== from.parent) this.touchDir(to.parent, now);
    });
  }

  readdirSync(path: string, options?: { withFileTypes?: boolean; encoding?: BufferEncoding } | BufferEncoding): string[] {
    return this.op('scandir', path, () => {
      const r = this.resolve(path, 'scandir', true);
      if (r.ino === undefined) throw fsError('ENOENT', 'scandir', path);
      if ((this.inode(r.ino).mode & S_IFMT) !== S_IFDIR) throw fsError('ENOTDIR', 'scandir', path);
      if (typeof options === 'object' && options?.withFileTypes) throw fsError('ENOTSUP', 'scandir', path);
      return listEntries(this, r.ino).filter((e) => !isDotOrDotDot(e.name)).map((e) => Buffer.from(e.name).toString('utf8'));
    });
  }

  statSync(path: string, options?: { throwIfNoEntry?: boolean }): DaxStats | undefined {
    return this.statLike(path, true, 'stat', options);
  }

  lstatSync(path: string, options?: { throwIfNoEntry?: boolean }): DaxStats | undefined {
    return this.statLike(path, false, 'lstat', options);
  }

  fstatSync(fd: number): DaxStats {
    return this.op('fstat', undefined, () => this.stats(this.file(fd, 'fstat').ino));
  }

  existsSync(path: string): boolean {
    try {
      return this.resolve(path, 'access', true).ino !== undefined;
    } catch (err) {
      if (err instanceof NodeStyleError) return false;
      throw err;
    }
  }

  realpathSync(path: string): string {
    return this.op('realpath', path, () => {
      const r = this.resolve(path, 'realpath', true);
      if (r.ino === undefined) throw fsError('ENOENT', 'realpath', path);
      return r.canonical;
    });
  }

  chmodSync(path: string, mode: number): void {
    this.op('chmod', path, () => {
      const ino = this.existing(path, 'chmod', true);
      this.requireWritable('chmod', path);
      const inode = this.inode(ino);
      inode.mode = (inode.mode & S_IFMT) | (mode & 0o7777);
      inode.ctime = this.now();
      this.putInode(ino, inode);
    });
  }

  chownSync(path: string, uid: number, gid: number): void {
    this.op('chown', path, () => {
      const ino = this.existing(path, 'chown', true);
      this.requireWritable('chown', path);
      const inode = this.inode(ino);
      if (uid >= 0) inode.uid = uid;
      if (gid >= 0) inode.gid = gid;
      inode.ctime = this.now();
      this.putInode(ino, inode);
    });
  }

  utimesSync(path: string, atime: number | Date | string, mtime: number | Date | string): void {
    this.op('utime', path, () => {
      const ino = this.existing(path, 'utime', true);
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
      this.ensureMapped(file.ino, offset, length);
      return this.physicalRanges(file.ino, offset, length);
    });
  }

  /** Commit, close every file, and mark the file system cleanly unmounted. */
  unmount(): void {
    if (!this.mounted) return;
    for (const fd of [...this.files.keys()]) this.closeSync(fd);
    this.mounted = false;
    this.onUnmount?.();
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

  /** Run one operation: check it is mounted, tick the clock, and end it through the policy. */
  private op<T>(syscall: string, path: string | undefined, body: () => T): T {
    if (!this.mounted) throw fsError('EIO', syscall, path);
    this.clockSeconds++;
    try {
      return body();
    } finally {
      if (this.meta.hasRunning) this.hooks.opEnd(this.meta);
    }
  }

  private now(): number {
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

  private existing(path: string, syscall: string, follow: boolean): number {
    const r = this.resolve(path, syscall, follow);
    if (r.ino === undefined) throw fsError('ENOENT', syscall, path);
    return r.ino;
  }

  private statLike(path: string, follow: boolean, syscall: string, options?: { throwIfNoEntry?: boolean }): DaxStats | undefined {
    try {
      return this.op(syscall, path, () => this.stats(this.existing(path, syscall, follow)));
    } catch (err) {
      if (options?.throwIfNoEntry === false && err instanceof NodeStyleError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  private stats(ino: number): DaxStats {
    const i = this.inode(ino);
    return new DaxStats(ino, i.mode, i.linksCount, i.uid, i.gid, i.size, i.blocks, i);
  }

  /**
   * Resolve `path` from the root. Intermediate symlinks are followed; the last one when
   * `followLast`. A missing last name is not an error (ino undefined); a missing directory
   * on the way is ENOENT, a non-directory on the way ENOTDIR.
   */
  private resolve(path: string, syscall: string, followLast: boolean, errPath: string = path, errDest?: string): Resolved {
    if (typeof path !== 'string') throw fsError('EINVAL', syscall, String(path));
    if (path.length === 0) throw fsError('ENOENT', syscall, errPath, errDest);
    if (path.includes('\0')) throw fsError('EINVAL', syscall, errPath, errDest);
    const trailingSlash = /[^/]\/+$/.test(path);
    let queue = components(path);
    let dir = ROOT_INO;
    let trail: string[] = [];
    let links = 0;
    if (queue.length === 0) return { parent: ROOT_INO, name: Buffer.from('.'), ino: ROOT_INO, canonical: '/', trailingSlash: false };
    for (;;) {
      const part = queue.shift() as string;
      const last = queue.length === 0;
      const name = Buffer.from(part, 'utf8');
      if (name.length > NAME_MAX_BYTES) throw fsError('ENAMETOOLONG', syscall, errPath, errDest);
      if ((this.inode(dir).mode & S_IFMT) !== S_IFDIR) throw fsError('ENOTDIR', syscall, errPath, errDest);
      let child: number | undefined;
      if (part === '.') child = dir;
      else child = findEntry(this, dir, name)?.entry.inode;
      const childTrail = part === '.' ? trail : part === '..' ? trail.slice(0, -1) : [...trail, part];
      if (child === undefined) {
        if (!last) throw fsError('ENOENT', syscall, errPath, errDest);
        return { parent: dir, name, ino: undefined, canonical: '/' + childTrail.join('/'), trailingSlash };
      }
      const isLink = (this.inode(child).mode & S_IFMT) === S_IFLNK;
      if (isLink && (!last || followLast || trailingSlash)) {
        if (++links > SYMLOOP_MAX) throw fsError('ELOOP', syscall, errPath, errDest);
        const target = Buffer.from(this.linkTarget(child)).toString('utf8');
        queue = [...components(target), ...queue];
        if (target.startsWith('/')) {
          dir = ROOT_INO;
          trail = [];
        }
        if (queue.length === 0) return { parent: ROOT_INO, name: Buffer.from('.'), ino: ROOT_INO, canonical: '/', trailingSlash };
        continue;
      }
      if (last) {
        if (trailingSlash && (this.inode(child).mode & S_IFMT) !== S_IFDIR) throw fsError('ENOTDIR', syscall, errPath, errDest);
        return { parent: dir, name, ino: child, canonical: '/' + childTrail.join('/'), trailingSlash };
      }
      dir = child;
      trail = childTrail;
    }
  }

  /** True when `ancestor` is `dir` or lies on the path from `dir` up to the root. */
  private isAncestor(ancestor: number, dir: number): boolean {
    let at = dir;
    for (let steps = 0; steps <= this.sb.inodesCount; steps++) {
      if (at === ancestor) return true;
      if (at === ROOT_INO) return false;
      const up = findEntry(this, at, DOTDOT);
      if (up === undefined) throw new CorruptionError({ structure: 'directory', where: `inode ${at}`, what: 'no ".." entry' });
      at = up.entry.inode;
    }
    throw new CorruptionError({ structure: 'directory', where: `inode ${dir}`, what: 'a ".." chain that never reaches the root' });
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
      map = loadFileMap(this.meta, ino, this.inode(ino));
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
  private reserve(blocks: number, inodes: number, syscall: string, path?: string, dest?: string): void {
    if (this.groups.freeBlocks() - this.meta.quarantinedCount() < blocks || this.groups.freeInodes() < inodes) {
      throw fsError('ENOSPC', syscall, path, dest);
    }
  }

  private allocBlock(goal: number): number | undefined {
    return this.groups.allocRun(goal, 1)?.[0];
  }

  /** Create an inode of `mode` named by `r`; a symlink gets `target`. */
  private createNode(r: Resolved, mode: number, syscall: string, path: string, target?: Uint8Array, dest?: string): number {
    const type = mode & S_IFMT;
    const isDir = type === S_IFDIR;
    const slowLink = type === S_IFLNK && (target?.length ?? 0) > FAST_SYMLINK_MAX_BYTES;
    // one block for the parent's directory growth, one for a directory's or slow link's own block
    this.reserve(1 + (isDir || slowLink ? 1 : 0), 1, syscall, path, dest);
    const ino = this.groups.allocInode(this.groups.groupOfInode(r.parent), isDir);
    if (ino === undefined) throw fsError('ENOSPC', syscall, path, dest);
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
      if (isDir) initDirBlock(bytes, ino, r.parent);
      else bytes.set(target as Uint8Array);
      insertRun(this.map(ino).leaves, 0, block, 1);
      inode.size = isDir ? BLOCK_BYTES : (target as Uint8Array).length;
      inode.blocks = SECTORS_PER_BLOCK;
      const stored = storeFileMap(this.meta, this.treeAlloc(), inode, this.map(ino), block);
      assert(stored === 'ok', 'a one-extent map fits in the inode');
    }
    this.putInode(ino, inode);
    this.addName(r.parent, r.name, ino, fileTypeOfMode(mode), syscall, path);
    if (isDir) this.adjustLinks(r.parent, +1);
    this.touchDir(r.parent, now);
    return ino;
  }

  /** Add a name to a directory, growing it by a block when no block has room. */
  private addName(dirIno: number, name: Uint8Array, ino: number, fileType: number, syscall: string, path: string): void {
    if (addEntry(this, dirIno, name, ino, fileType)) return;
    const dir = this.inode(dirIno);
    const map = this.map(dirIno);
    const lblock = dir.size / BLOCK_BYTES;
    const last = map.leaves[map.leaves.length - 1];
    const block = this.allocBlock(last ? last.start + last.len : 0);
    if (block === undefined) throw fsError('ENOSPC', syscall, path);
    initEmptyBlock(this.meta.fresh(block));
    insertRun(map.leaves, lblock, block, 1);
    const stored = storeFileMap(this.meta, this.treeAlloc(), dir, map, block);
    if (stored !== 'ok') throw fsError(stored === 'efbig' ? 'EFBIG' : 'ENOSPC', syscall, path);
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
      inode.linksCount--;
    }
    inode.ctime = this.now();
    this.putInode(ino, inode);
    if (inode.linksCount === 0 && !this.openCounts.has(ino)) this.releaseInode(ino);
  }

  /** Free an inode with no names and no open files: its blocks, then the inode itself. */
  private releaseInode(ino: number): void {
    const inode = this.inode(ino);
    assert(inode.linksCount === 0, () => `inode ${ino} released with ${inode.linksCount} links`);
    const isDir = (inode.mode & S_IFMT) === S_IFDIR;
    if ((inode.flags & EXTENTS_FL) !== 0) this.freeBeyond(ino, inode, 0);
    inode.size = 0;
    inode.dtime = this.now();
    this.putInode(ino, inode);
    this.groups.freeInode(ino, isDir);
    this.maps.delete(ino);
  }

  private adjustLinks(dirIno: number, delta: number): void {
    const dir = this.inode(dirIno);
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
    this.ensureMapped(ino, at, data.length, data, syscall);
    for (const range of this.physicalRanges(ino, at, data.length)) {
      this.api.memcpyFlushcache(range.addr, data.subarray(range.fileOffset - at, range.fileOffset - at + range.length));
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
  private ensureMapped(ino: number, at: number, length: number, cover?: Uint8Array, syscall = 'write'): void {
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
    this.reserve(needed + 2, 0, syscall);
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
        this.zeroUncovered(run[0], l, run[1], at, coverLen);
        done += run[1];
      }
    }
    const stored = storeFileMap(this.meta, this.treeAlloc(), inode, map, taken[0]?.[0] ?? 0);
    if (stored !== 'ok') {
      // give back what this write took; the map is as it was
      map.leaves = before;
      for (const [pblock, count] of taken) for (let b = 0; b < count; b++) this.groups.freeBlock(pblock + b);
      throw fsError(stored === 'efbig' ? 'EFBIG' : 'ENOSPC', syscall);
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

  private truncateIno(ino: number, len: number, syscall: string, path: string | undefined): void {
    if (!Number.isSafeInteger(len) || len < 0) throw fsError('EINVAL', syscall, path);
    if (len > MAX_FILE_BYTES) throw fsError('EFBIG', syscall, path);
    this.requireWritable(syscall, path);
    const inode = this.inode(ino);
    if ((inode.mode & S_IFMT) !== S_IFREG) throw fsError('EINVAL', syscall, path);
    this.setSize(ino, len, syscall, path);
  }

  /** Change a regular file's size: shrinking frees blocks past the end and zeroes the tail
   * of the last block; growing leaves a hole. */
  private setSize(ino: number, len: number, syscall: string, path: string | undefined): void {
    const inode = this.inode(ino);
    if (len < inode.size) {
      if (len % BLOCK_BYTES !== 0) {
        const e = findExtent(this.map(ino).leaves, Math.floor(len / BLOCK_BYTES));
        if (e !== undefined && !e.unwritten) {
          const addr = (e.start + Math.floor(len / BLOCK_BYTES) - e.block) * BLOCK_BYTES + (len % BLOCK_BYTES);
          this.api.clearPmem(addr, BLOCK_BYTES - (len % BLOCK_BYTES));
          this.meta.noteDataWrite();
        }
      }
      if (!this.freeBeyond(ino, inode, Math.ceil(len / BLOCK_BYTES))) throw fsError('ENOSPC', syscall, path);
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
      this.onLargeFile?.();
    }
  }

  /** Set by mount: the superblock must record LARGE_FILE in this transaction. */
  onLargeFile: (() => void) | undefined;
}

// ================================================================ helpers

export function components(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}

function nameIs(name: Uint8Array, text: string): boolean {
  return Buffer.from(name).toString('latin1') === text;
}

function parseFlags(flags: string | number, path: string): number {
  if (typeof flags === 'number') return flags;
  const f = FLAG_STRINGS[flags];
  if (f === undefined) {
    const err = new TypeError(`The value "${flags}" is invalid for option "flags"`) as TypeError & { code: string };
    err.code = 'ERR_INVALID_ARG_VALUE';
    void path;
    throw err;
  }
  return f;
}

function checkBufferRange(buffer: Uint8Array, offset: number, length: number, syscall: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > buffer.length) {
    const err = new RangeError(`The value of "offset" or "length" is out of range (${syscall})`) as RangeError & { code: string };
    err.code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
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

export type { ErrnoCode };
export { FT_DIR, FT_REG_FILE, FT_SYMLINK, S_IFREG, MAX_STORED_EXTENTS };
