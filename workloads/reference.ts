// The reference file system: memfs made to answer as Linux does, plus Linux itself.
//
// Owns:
// - `createReference()`: a `ReferenceFs` over a memfs 4.80 `Volume`. memfs stores the tree,
//   the bytes and the inodes; this wrapper does every path walk itself (Linux's namei: '.',
//   '..' taken physically, symlinks followed at most 40 times, ENAMETOOLONG past 255 bytes a
//   name or 4095 a path, trailing slashes) and checks every precondition in the order Linux
//   checks it, and calls memfs only with symlink-free canonical paths on operations that are
//   known to succeed. Each place where memfs alone would answer differently from Linux carries
//   a comment starting "memfs:".
// - the Node layer above the system calls (`readFileSync`, `writeFileSync`, `truncateSync`,
//   recursive `mkdirSync`, `realpathSync`, `existsSync`), written as Node 20 writes it, so that
//   the system call that fails, and therefore `err.syscall`, is Node's; `rmSync`, `copyFileSync`
//   and `mkdtempSync` are core/node-compound.ts's builds over this file system's own calls
//   (mkdtemp's suffix from a per-volume count, as on our file system). `nodeRealpath` and
//   `nodeMkdirRecursive` are exported for other implementations of `SyncFs`.
// - `nodeFsAdapter(root)`: the same API on the real `node:fs`, inside the directory `root`,
//   so that tests can ask Linux what the truth is.
//
// Invariants:
// - Descriptors are the reference's own small integers, lowest free first from 3 (as in a
//   process whose stdio is open); each maps to one memfs descriptor. The file offset lives
//   here, not in memfs, and memfs is always called with an explicit position.
// - Errors are Node's: `fsError(code, syscall, path, dest)` with the caller's own path
//   strings; argument errors are Node's TypeError / RangeError with their ERR_* code.
// - No permission checks of its own: the reference behaves as the owner of every file, and
//   workloads must not use modes that deny the owner (memfs would refuse, Linux as root would
//   not, Linux as a user would), nor chown to another user: EACCES and EPERM from modes and
//   owners are not part of the contract.
// - New files get mode & ~0o022 (a fixed umask; Linux uses the process's). Modes, owners and
//   times are never compared with the reference (crash-checking.md), and memfs stamps times
//   from the wall clock, which is acceptable only because of that.
//
// What the reference does not model: permissions (above), xattrs, special files, O_DIRECTORY
// with O_CREAT on kernels before 6.4, file sizes past memory, EMFILE past memfs's 10000
// descriptors, and the escape of a symlink target above the sandbox root in the adapter.

import * as nodeFs from 'node:fs';
import * as nodePath from 'node:path';
import { Volume } from 'memfs';
import {
  ACCESS_MODES, Dirent, assert, fsError, mkdtempSuffix, nodeCopyFile, nodeMkdtemp, nodeRm, rootAccess, validMode,
  type MkdirOptions, type RmOptions, type StatLike, type SyncFs,
} from '../core';
import {
  OPEN_FLAGS, byteLength, checkSpan, codeOf, failer, isExplicitPosition, nodeMkdirRecursive, nodeRealpath,
  openFlagsToNumber, type Fail,
} from '../core/node-layer';

// Linux's limits (include/uapi/linux/limits.h, include/linux/namei.h).
const NAME_MAX_BYTES = 255;
const PATH_MAX_BYTES = 4096; // including the terminating NUL: a path may have 4095 bytes
const MAX_SYMLINK_FOLLOWS = 40; // MAXSYMLINKS: total links followed in one path walk
const FIRST_FD = 3;
const UMASK = 0o022;
const READ_CHUNK_BYTES = 64 * 1024; // readFileSync's read size for files of unknown size

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const {
  O_ACCMODE,
  O_RDONLY,
  O_WRONLY,
  O_RDWR,
  O_CREAT,
  O_EXCL,
  O_TRUNC,
  O_APPEND,
  O_DIRECTORY,
  O_NOFOLLOW,
} = OPEN_FLAGS;

type Kind = 'file' | 'dir' | 'symlink';
/** Linux's LAST_NORM / LAST_DOT / LAST_DOTDOT / LAST_ROOT: what the last component is. */
type LastType = 'norm' | 'dot' | 'dotdot' | 'root';
/** The part of memfs's `Stats<number>` the reference reads: StatLike's fields. */
type MemfsStats = Omit<StatLike, 'isFile'>;
type CoreLink = Volume['_core']['root'];

/** A path walked up to its last component, which is not looked up yet. */
interface ParentWalk {
  /** Canonical (symlink-free) components of the directory holding the last component. */
  readonly dir: readonly string[];
  readonly last: string;
  readonly lastType: LastType;
  readonly trailingSlash: boolean;
}

/** A path walked to its end. */
interface Found {
  /** For 'norm': the directory holding `name`; otherwise the directory the path names. */
  readonly dir: readonly string[];
  /** null when the path ends in '.', '..' or is '/'. */
  readonly name: string | null;
  readonly kind: Kind | null;
  readonly lastType: LastType;
  readonly trailingSlash: boolean;
  readonly canon: string;
}

/** Counts symlinks followed during one system call's path walks. */
interface WalkBudget {
  links: number;
}

interface OpenFile {
  readonly memfsFd: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly append: boolean;
  readonly isDir: boolean;
  position: number;
}

class RefStats implements StatLike {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly blksize: number;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;

  constructor(from: MemfsStats, fix: { size?: number; nlink?: number; mode?: number }) {
    this.dev = from.dev;
    this.ino = from.ino;
    this.mode = fix.mode ?? from.mode;
    this.nlink = fix.nlink ?? from.nlink;
    this.uid = from.uid;
    this.gid = from.gid;
    this.size = fix.size ?? from.size;
    this.blksize = from.blksize;
    this.blocks = from.blocks;
    this.atimeMs = from.atimeMs;
    this.mtimeMs = from.mtimeMs;
    this.ctimeMs = from.ctimeMs;
  }

  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
}


export class ReferenceFs implements SyncFs {
  private readonly vol = new Volume();
  private readonly files = new Map<number, OpenFile>();
  private mkdtempCount = 0;

  // ---- descriptors -------------------------------------------------------------------------

  openSync(path: string, flags?: string | number, mode: number = 0o666): number {
    const bits = openFlagsToNumber(flags);
    const fail = failer('open', path);
    const access = bits & O_ACCMODE;
    // Access mode 3 is Linux's "ioctl only" mode, which no workload needs.
    if (access === O_ACCMODE) fail('EINVAL');
    // Linux 6.4 and later refuse O_CREAT | O_DIRECTORY outright.
    if ((bits & O_CREAT) !== 0 && (bits & O_DIRECTORY) !== 0) fail('EINVAL');
    const creating = (bits & O_CREAT) !== 0;
    const target = creating ? this.openCreate(path, bits, fail) : this.openExisting(path, bits, fail);
    if (target.kind === null) return this.createAndOpen(target.canon, bits, mode);
    const isDir = target.kind === 'dir';
    // memfs: opens a directory with O_TRUNC; Linux's may_open() counts O_TRUNC as a write.
    if (isDir && (access !== O_RDONLY || (bits & O_TRUNC) !== 0)) fail('EISDIR');
    const memfsFlags = isDir ? O_RDONLY : access | (bits & O_TRUNC);
    return this.install(this.vol.openSync(target.canon, memfsFlags), access, bits, isDir);
  }

  closeSync(fd: number): void {
    const file = this.fileOrFail(fd, 'close');
    this.vol.closeSync(file.memfsFd);
    this.files.delete(fd);
  }

  readSync(
    fd: number,
    buffer: Uint8Array,
    offset: number = 0,
    length?: number,
    position?: number | null,
  ): number {
    const span = checkSpan(buffer, offset, length);
    // Node returns 0 for an empty read before it looks at the descriptor at all.
    if (span === 0) return 0;
    const file = this.fileOrFail(fd, 'read');
    // memfs: reads through an O_WRONLY descriptor; Linux's vfs_read() refuses with EBADF.
    if (!file.readable) throw fsError('EBADF', 'read');
    // memfs: reads 0 bytes from a directory; Linux's generic_read_dir() answers EISDIR.
    if (file.isDir) throw fsError('EISDIR', 'read');
    const explicit = isExplicitPosition(position);
    const at = explicit ? position : file.position;
    const count = this.vol.readSync(file.memfsFd, buffer, offset, span, at);
    if (!explicit) file.position = at + count;
    return count;
  }

  writeSync(
    fd: number,
    buffer: Uint8Array,
    offset: number = 0,
    length?: number,
    position?: number | null,
  ): number {
    const span = checkSpan(buffer, offset, length);
    const file = this.fileOrFail(fd, 'write');
    // memfs: writes through an O_RDONLY descriptor; Linux's vfs_write() refuses with EBADF.
    if (!file.writable) throw fsError('EBADF', 'write');
    const explicit = isExplicitPosition(position);
    // Linux appends with O_APPEND even for pwrite(2), and then leaves the offset alone.
    // memfs: moves the offset after such a write, so the offset is kept here.
    let at = explicit ? position : file.position;
    if (file.append) at = this.vol.fstatSync(file.memfsFd).size;
    const bytes = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const count = span === 0 ? 0 : this.vol.writeSync(file.memfsFd, bytes, offset, span, at);
    if (!explicit && count > 0) file.position = at + count;
    return count;
  }

  fsyncSync(fd: number): void {
    this.fileOrFail(fd, 'fsync');
  }

  fdatasyncSync(fd: number): void {
    this.fileOrFail(fd, 'fdatasync');
  }

  ftruncateSync(fd: number, len: number = 0): void {
    const file = this.fileOrFail(fd, 'ftruncate');
    // memfs: truncates through any descriptor; Linux wants a regular file open for writing.
    if (file.isDir || !file.writable) throw fsError('EINVAL', 'ftruncate');
    // Node clamps a negative length to 0 before the system call.
    this.vol.ftruncateSync(file.memfsFd, Math.max(0, len));
  }

  fstatSync(fd: number): StatLike {
    const file = this.fileOrFail(fd, 'fstat');
    const link = this.vol._core.getFileByFdOrThrow(file.memfsFd, 'fstat').link;
    return this.statsOf(this.vol.fstatSync(file.memfsFd), link);
  }

  // ---- namespace ---------------------------------------------------------------------------

  renameSync(from: string, to: string): void {
    const fail = failer('rename', from, to);
    const budget: WalkBudget = { links: 0 };
    const src = this.walkParent(from, [], budget, fail);
    const dst = this.walkParent(to, [], budget, fail);
    if (src.lastType !== 'norm' || dst.lastType !== 'norm') fail('EBUSY');
    const srcKind = this.kindOf(src.dir, src.last, fail);
    if (srcKind === null) fail('ENOENT');
    const dstKind = this.kindOf(dst.dir, dst.last, fail);
    // A trailing slash is allowed on either name only when the source is a directory.
    if (srcKind !== 'dir' && (src.trailingSlash || dst.trailingSlash)) fail('ENOTDIR');
    // memfs: moves a directory into its own subtree; Linux's lock_rename() trap gives EINVAL.
    const srcIsAncestor = isStrictPrefix(src.dir, dst.dir);
    if (srcIsAncestor && dst.dir[src.dir.length] === src.last) fail('EINVAL');
    // The target is an ancestor of the source: Linux answers ENOTEMPTY before anything else.
    const dstIsAncestor = isStrictPrefix(dst.dir, src.dir);
    if (dstIsAncestor && src.dir[dst.dir.length] === dst.last) fail('ENOTEMPTY');
    const srcCanon = joinCanon(src.dir, src.last);
    const dstCanon = joinCanon(dst.dir, dst.last);
    if (dstKind !== null) {
      // memfs: unlinks the source when both names are links of one inode; POSIX does nothing.
      if (this.inoOf(srcCanon) === this.inoOf(dstCanon)) return;
      // memfs: replaces a directory by a file and a file by a directory.
      if (srcKind === 'dir' && dstKind !== 'dir') fail('ENOTDIR');
      if (srcKind !== 'dir' && dstKind === 'dir') fail('EISDIR');
      // memfs: replaces a non-empty directory.
      if (dstKind === 'dir' && this.vol.readdirSync(dstCanon).length > 0) fail('ENOTEMPTY');
      // memfs: overwrites the target's directory entry without dropping its link count, so
      // the target is removed first (atomicity is not observable in a single-threaded model).
      if (dstKind === 'dir') this.removeDir(dstCanon);
      else this.vol.unlinkSync(dstCanon);
    }
    // memfs: renameSync follows a symlink given as the source and moves its target, so a
    // non-directory moves as link-then-unlink, which keeps its inode, as rename(2) does.
    if (srcKind === 'dir') {
      this.vol.renameSync(srcCanon, dstCanon);
    } else {
      this.vol.linkSync(srcCanon, dstCanon);
      this.vol.unlinkSync(srcCanon);
    }
  }

  unlinkSync(path: string): void {
    const fail = failer('unlink', path);
    const at = this.walkParent(path, [], { links: 0 }, fail);
    if (at.lastType !== 'norm') fail('EISDIR');
    const kind = this.kindOf(at.dir, at.last, fail);
    if (kind === null) fail('ENOENT');
    // memfs: EPERM for a directory, which is macOS's answer; Linux says EISDIR.
    if (kind === 'dir') fail('EISDIR');
    // memfs: ignores a trailing slash; Linux then wants a directory.
    if (at.trailingSlash) fail('ENOTDIR');
    this.vol.unlinkSync(joinCanon(at.dir, at.last));
  }

  linkSync(existing: string, newPath: string): void {
    const fail = failer('link', existing, newPath);
    const budget: WalkBudget = { links: 0 };
    // linkat(2) without AT_SYMLINK_FOLLOW: a symlink given as `existing` is linked itself.
    const old = this.lookup(existing, false, budget, fail);
    this.requireFound(old, fail);
    const at = this.walkParent(newPath, [], budget, fail);
    this.requireCreatable(at, fail);
    // memfs: links directories; Linux's vfs_link() refuses with EPERM.
    if (old.kind === 'dir') fail('EPERM');
    this.vol.linkSync(old.canon, joinCanon(at.dir, at.last));
  }

  symlinkSync(target: string, path: string): void {
    const fail = failer('symlink', target, path);
    if (target.length === 0) fail('ENOENT');
    if (byteLength(target) >= PATH_MAX_BYTES) fail('ENAMETOOLONG');
    const at = this.walkParent(path, [], { links: 0 }, fail);
    this.requireCreatable(at, fail);
    this.vol.symlinkSync(target, joinCanon(at.dir, at.last));
  }

  readlinkSync(path: string): string {
    const fail = failer('readlink', path);
    const found = this.lookup(path, false, { links: 0 }, fail);
    this.requireFound(found, fail);
    if (found.kind !== 'symlink') fail('EINVAL');
    return String(this.vol.readlinkSync(found.canon));
  }

  mkdirSync(path: string, options?: MkdirOptions | number): string | undefined {
    const { recursive, mode } = mkdirArguments(options);
    // memfs: a recursive mkdir returns the whole path; Node returns the first directory made.
    if (recursive) return nodeMkdirRecursive(this, path, mode);
    const fail = failer('mkdir', path);
    const budget: WalkBudget = { links: 0 };
    const at = this.walkParent(path, [], budget, fail);
    if (at.lastType !== 'norm') fail('EEXIST');
    // mkdir is the one creation that takes a trailing slash: it names a directory anyway.
    if (this.kindOf(at.dir, at.last, fail) !== null) fail('EEXIST');
    this.vol.mkdirSync(joinCanon(at.dir, at.last), mode & ~UMASK & 0o7777);
    return undefined;
  }

  rmdirSync(path: string): void {
    const fail = failer('rmdir', path);
    const at = this.walkParent(path, [], { links: 0 }, fail);
    // memfs: removes the directory for '/d/.'; Linux's do_rmdir() refuses '.' and '..'.
    if (at.lastType === 'dotdot') fail('ENOTEMPTY');
    if (at.lastType === 'dot') fail('EINVAL');
    if (at.lastType === 'root') fail('EBUSY');
    const kind = this.kindOf(at.dir, at.last, fail);
    if (kind === null) fail('ENOENT');
    // rmdir never follows the last component: a symlink to a directory is not a directory.
    if (kind !== 'dir') fail('ENOTDIR');
    const canon = joinCanon(at.dir, at.last);
    if (this.vol.readdirSync(canon).length > 0) fail('ENOTEMPTY');
    this.removeDir(canon);
  }

  readdirSync(path: string): string[];
  readdirSync(path: string, options: { withFileTypes: true }): Dirent[];
  readdirSync(path: string, options?: { withFileTypes?: boolean }): string[] | Dirent[] {
    const fail = failer('scandir', path);
    const found = this.lookup(path, true, { links: 0 }, fail);
    this.requireFound(found, fail);
    if (found.kind !== 'dir') fail('ENOTDIR');
    const names = this.vol.readdirSync(found.canon).map((name) => String(name));
    if (options?.withFileTypes !== true) return names;
    return names.map((name) => new Dirent(name, path, this.vol.lstatSync(joinCanon(splitCanon(found.canon), name)).mode));
  }

  /** access(2) as root sees it: see DaxFileSystem.accessSync (no read-only mounts here). */
  accessSync(path: string, mode?: number): void {
    const bits = validMode(mode, ACCESS_MODES.F_OK);
    const found = this.existing(path, 'access');
    const stats = this.vol.statSync(found.canon);
    rootAccess(bits, Number(stats.mode), stats.isDirectory(), path);
  }

  copyFileSync(src: string, dest: string, mode?: number): void {
    nodeCopyFile(this, src, dest, mode);
  }

  mkdtempSync(prefix: string): string {
    return nodeMkdtemp(this, prefix, () => mkdtempSuffix(this.mkdtempCount++));
  }

  rmSync(path: string, options?: RmOptions): void {
    nodeRm(this, path, options);
  }

  statSync(path: string): StatLike {
    return this.statPath(path, true, 'stat');
  }

  lstatSync(path: string): StatLike {
    return this.statPath(path, false, 'lstat');
  }

  chmodSync(path: string, mode: number): void {
    const found = this.existing(path, 'chmod');
    this.vol.chmodSync(found.canon, mode);
  }

  chownSync(path: string, uid: number, gid: number): void {
    const found = this.existing(path, 'chown');
    // memfs: stores -1 as the owner; chown(2) reads -1 as "leave this one unchanged".
    const now = this.vol.statSync(found.canon);
    this.vol.chownSync(found.canon, uid === -1 ? now.uid : uid, gid === -1 ? now.gid : gid);
  }

  utimesSync(path: string, atime: number | Date, mtime: number | Date): void {
    const found = this.existing(path, 'utime');
    this.vol.utimesSync(found.canon, atime, mtime);
  }

  syncSync(): void {
    // Everything in memory is as durable as the reference gets.
  }

  // ---- Node's layer above the system calls (lib/fs.js of Node 20) ---------------------------

  truncateSync(path: string, len: number = 0): void {
    const fd = this.openSync(path, 'r+');
    try {
      this.ftruncateSync(fd, len);
    } finally {
      this.closeSync(fd);
    }
  }

  existsSync(path: string): boolean {
    try {
      this.existing(path, 'access');
      return true;
    } catch {
      return false;
    }
  }

  readFileSync(path: string): Uint8Array {
    const fd = this.openSync(path, 'r');
    try {
      const chunks: Uint8Array[] = [];
      for (;;) {
        const chunk = new Uint8Array(READ_CHUNK_BYTES);
        const count = this.readSync(fd, chunk, 0, chunk.byteLength, null);
        if (count === 0) break;
        chunks.push(chunk.subarray(0, count));
      }
      return Buffer.concat(chunks);
    } finally {
      this.closeSync(fd);
    }
  }

  writeFileSync(path: string, data: Uint8Array | string): void {
    this.writeWhole(path, data, 'w');
  }

  appendFileSync(path: string, data: Uint8Array | string): void {
    this.writeWhole(path, data, 'a');
  }

  realpathSync(path: string): string {
    return nodeRealpath(this, path);
  }

  // ---- helpers: opening --------------------------------------------------------------------

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
    let at = this.walkParent(path, [], budget, fail);
    for (;;) {
      if (at.lastType !== 'norm') fail(excl ? 'EEXIST' : 'EISDIR'); // memfs: EISDIR with O_EXCL
      if (at.trailingSlash) fail('EISDIR');
      const kind = this.kindOf(at.dir, at.last, fail);
      const canon = joinCanon(at.dir, at.last);
      const found: Found = { dir: at.dir, name: at.last, kind, lastType: 'norm', trailingSlash: false, canon };
      if (kind === null) return found;
      // With O_EXCL even a dangling symlink counts as existing.
      if (excl) fail('EEXIST');
      // Linux's do_open(): O_CREAT on a directory is EISDIR whatever the access mode.
      if (kind === 'dir') fail('EISDIR');
      if (kind !== 'symlink') return found;
      if ((bits & O_NOFOLLOW) !== 0) fail('ELOOP');
      // A symlink is followed, dangling or not: O_CREAT creates its target.
      at = this.followLink(at.dir, at.last, budget, fail);
    }
  }

  private createAndOpen(canon: string, bits: number, mode: number): number {
    const access = bits & O_ACCMODE;
    // memfs: checks the new file's mode against the access asked for; Linux grants the
    // creator its descriptor whatever the mode, so the mode is set after the open.
    const memfsFd = this.vol.openSync(canon, access | O_CREAT | O_EXCL, 0o600);
    this.vol.chmodSync(canon, mode & ~UMASK & 0o7777);
    return this.install(memfsFd, access, bits, false);
  }

  private install(memfsFd: number, access: number, bits: number, isDir: boolean): number {
    let fd = FIRST_FD;
    while (this.files.has(fd)) fd++;
    this.files.set(fd, {
      memfsFd,
      readable: access === O_RDONLY || access === O_RDWR,
      writable: access === O_WRONLY || access === O_RDWR,
      append: (bits & O_APPEND) !== 0,
      isDir,
      position: 0,
    });
    return fd;
  }

  private fileOrFail(fd: number, syscall: string): OpenFile {
    const file = this.files.get(fd);
    if (file === undefined) throw fsError('EBADF', syscall);
    return file;
  }

  private writeWhole(path: string, data: Uint8Array | string, flags: string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const fd = this.openSync(path, flags, 0o666);
    try {
      let done = 0;
      while (done < bytes.byteLength) {
        done += this.writeSync(fd, bytes, done, bytes.byteLength - done, null);
      }
    } finally {
      this.closeSync(fd);
    }
  }

  // ---- helpers: the path walk (Linux's fs/namei.c, on memfs's tree) ------------------------

  /** Walks every component but the last, which must each be (or lead to) a directory. */
  private walkParent(path: string, start: readonly string[], budget: WalkBudget, fail: Fail): ParentWalk {
    if (path.length === 0) fail('ENOENT');
    if (byteLength(path) >= PATH_MAX_BYTES) fail('ENAMETOOLONG');
    // memfs: resolves a relative path against process.cwd(); this API's working directory
    // is '/' (start is [] for a path from the caller, the link's directory for a target).
    const absolute = path.startsWith('/');
    const parts = path.split('/').filter((part) => part.length > 0);
    let dir: readonly string[] = absolute ? [] : start;
    if (parts.length === 0) return { dir, last: '', lastType: 'root', trailingSlash: false };
    for (const part of parts.slice(0, -1)) dir = this.enter(dir, part, budget, fail);
    const last = parts[parts.length - 1] as string;
    const lastType: LastType = last === '.' ? 'dot' : last === '..' ? 'dotdot' : 'norm';
    return { dir, last, lastType, trailingSlash: path.endsWith('/') };
  }

  /** One step down: `name` in `dir` must be a directory or a symlink that leads to one. */
  private enter(dir: readonly string[], name: string, budget: WalkBudget, fail: Fail): readonly string[] {
    if (name === '.') return dir;
    // '..' is taken on the canonical path, so it is the physical parent; '/..' is '/'.
    if (name === '..') return dir.slice(0, -1);
    const kind = this.kindOf(dir, name, fail);
    if (kind === null) fail('ENOENT');
    if (kind === 'file') fail('ENOTDIR');
    if (kind === 'dir') return [...dir, name];
    const target = this.followLink(dir, name, budget, fail);
    if (target.lastType === 'root') return target.dir;
    return this.enter(target.dir, target.last, budget, fail);
  }

  private followLink(dir: readonly string[], name: string, budget: WalkBudget, fail: Fail): ParentWalk {
    budget.links += 1;
    if (budget.links > MAX_SYMLINK_FOLLOWS) fail('ELOOP');
    const target = String(this.vol.readlinkSync(joinCanon(dir, name)));
    return this.walkParent(target, dir, budget, fail);
  }

  /** Walks the whole path; a trailing slash makes the last symlink followed too. */
  private lookup(path: string, followLast: boolean, budget: WalkBudget, fail: Fail): Found {
    let at = this.walkParent(path, [], budget, fail);
    let trailingSlash = at.trailingSlash;
    for (;;) {
      if (at.lastType !== 'norm') {
        const dir = at.lastType === 'dotdot' ? at.dir.slice(0, -1) : at.dir;
        const canon = joinCanon(dir);
        return { dir, name: null, kind: 'dir', lastType: at.lastType, trailingSlash, canon };
      }
      const kind = this.kindOf(at.dir, at.last, fail);
      if (kind === 'symlink' && (followLast || trailingSlash)) {
        at = this.followLink(at.dir, at.last, budget, fail);
        trailingSlash = trailingSlash || at.trailingSlash;
        continue;
      }
      const canon = joinCanon(at.dir, at.last);
      return { dir: at.dir, name: at.last, kind, lastType: 'norm', trailingSlash, canon };
    }
  }

  /** What `name` in the canonical directory `dir` is; ENAMETOOLONG is the lookup's answer. */
  private kindOf(dir: readonly string[], name: string, fail: Fail): Kind | null {
    // memfs: takes names of any length; Linux file systems refuse past NAME_MAX at lookup.
    if (byteLength(name) > NAME_MAX_BYTES) fail('ENAMETOOLONG');
    const stats = this.vol.lstatSync(joinCanon(dir, name), { throwIfNoEntry: false });
    if (stats === undefined) return null;
    if (stats.isSymbolicLink()) return 'symlink';
    return stats.isDirectory() ? 'dir' : 'file';
  }

  private requireFound(found: Found, fail: Fail): void {
    if (found.kind === null) fail('ENOENT');
    // memfs: ignores a trailing slash after a file; Linux then wants a directory.
    if (found.trailingSlash && found.kind !== 'dir') fail('ENOTDIR');
  }

  /** Linux's filename_create() for names that are not directories (link, symlink). */
  private requireCreatable(at: ParentWalk, fail: Fail): void {
    if (at.lastType !== 'norm') fail('EEXIST');
    if (this.kindOf(at.dir, at.last, fail) !== null) fail('EEXIST');
    // A trailing slash asks for a directory, which link and symlink cannot make.
    if (at.trailingSlash) fail('ENOENT');
  }

  private existing(path: string, syscall: string): Found {
    const fail = failer(syscall, path);
    const found = this.lookup(path, true, { links: 0 }, fail);
    this.requireFound(found, fail);
    return found;
  }

  // ---- helpers: stats ----------------------------------------------------------------------

  private statPath(path: string, follow: boolean, syscall: string): StatLike {
    const fail = failer(syscall, path);
    const found = this.lookup(path, follow, { links: 0 }, fail);
    this.requireFound(found, fail);
    const link = this.vol._core.getLinkOrThrow(found.canon, syscall);
    return this.statsOf(this.vol.lstatSync(found.canon), link);
  }

  private statsOf(stats: MemfsStats, link: CoreLink): StatLike {
    if (stats.isSymbolicLink()) {
      // memfs: a symlink's size is 0 and its mode 0o666; Linux gives the target's length in
      // bytes and 0o777.
      const target = link.getNode().symlink ?? '';
      return new RefStats(stats, { size: byteLength(target), mode: S_IFLNK | 0o777 });
    }
    if (stats.isDirectory()) return new RefStats(stats, { nlink: directoryLinks(link) });
    return new RefStats(stats, {});
  }

  private inoOf(canon: string): number {
    return this.vol.lstatSync(canon).ino;
  }

  private removeDir(canon: string): void {
    this.vol.rmdirSync(canon);
  }
}

/** A reference file system: an empty memfs volume that answers as Linux does. */
export function createReference(): ReferenceFs {
  return new ReferenceFs();
}

// ---- Node's recursive mkdir and realpath, over any SyncFs ------------------------------------



// ---- Linux itself, through node:fs in a sandbox directory ------------------------------------

/**
 * The API on the real `node:fs`, with '/' mapped to the directory `root`. Paths in errors and
 * results are mapped back. What the sandbox cannot show exactly is emulated or refused:
 * - a '/'-only path (Linux's LAST_ROOT) given to rmdir, unlink or rename gets Linux's answer for
 *   the real root (EBUSY, EISDIR, EBUSY), since the sandbox root is an ordinary directory;
 * - a '..' at the root stays at the root (checked physically, with realpath, and sent as '.');
 * - a symlink whose target would climb above the root is refused with an Error (not an errno),
 *   because the kernel would follow it out of the sandbox.
 * `syncSync()` is a no-op: Node has no sync(2), and durability on the host is not observable.
 */
export function nodeFsAdapter(root: string): SyncFs {
  return new NodeFsAdapter(root);
}

interface PathPair {
  readonly real: string;
  readonly orig: string;
}

class NodeFsAdapter implements SyncFs {
  private readonly root: string;

  constructor(root: string) {
    this.root = nodeFs.realpathSync.native(root);
    assert(nodeFs.statSync(this.root).isDirectory(), () => `sandbox root ${root} is not a directory`);
  }

  openSync(path: string, flags?: string | number, mode?: number): number {
    return this.at(path, (real) => nodeFs.openSync(real, flags ?? 'r', mode));
  }
  closeSync(fd: number): void {
    nodeFs.closeSync(fd);
  }
  readSync(fd: number, buffer: Uint8Array, offset = 0, length?: number, position?: number | null): number {
    // Node's five-argument form reads `length | 0`, so an omitted length is spelled out here.
    const span = length ?? buffer.byteLength - offset;
    return nodeFs.readSync(fd, buffer, offset, span, position ?? null);
  }
  writeSync(fd: number, buffer: Uint8Array, offset = 0, length?: number, position?: number | null): number {
    const span = length ?? buffer.byteLength - offset;
    return nodeFs.writeSync(fd, buffer, offset, span, position ?? null);
  }
  fsyncSync(fd: number): void {
    nodeFs.fsyncSync(fd);
  }
  fdatasyncSync(fd: number): void {
    nodeFs.fdatasyncSync(fd);
  }
  ftruncateSync(fd: number, len?: number): void {
    nodeFs.ftruncateSync(fd, len);
  }
  fstatSync(fd: number): StatLike {
    return nodeFs.fstatSync(fd);
  }
  truncateSync(path: string, len?: number): void {
    this.at(path, (real) => nodeFs.truncateSync(real, len));
  }
  renameSync(from: string, to: string): void {
    if (isRootOnly(from) || isRootOnly(to)) {
      // Linux walks both parents first, then refuses to rename '/' or onto '/'.
      try {
        if (!isRootOnly(from)) this.checkParent(this.real(from));
        if (!isRootOnly(to)) this.checkParent(this.real(to));
      } catch (error) {
        throw fsError(codeOf(error), 'rename', from, to);
      }
      throw fsError('EBUSY', 'rename', from, to);
    }
    const source = this.pair(from, true);
    const target = this.pair(to, true);
    this.run(() => nodeFs.renameSync(source.real, target.real), [source, target]);
  }
  unlinkSync(path: string): void {
    if (isRootOnly(path)) throw fsError('EISDIR', 'unlink', path);
    this.at(path, (real) => nodeFs.unlinkSync(real), true);
  }
  linkSync(existing: string, newPath: string): void {
    const old = this.pair(existing);
    const made = this.pair(newPath, true);
    this.run(() => nodeFs.linkSync(old.real, made.real), [old, made]);
  }
  symlinkSync(target: string, path: string): void {
    // Node's symlink errors carry the target as `path` and the new name as `dest`.
    const contents = { real: this.symlinkTarget(target, path), orig: target };
    const made = this.pair(path, true);
    this.run(() => nodeFs.symlinkSync(contents.real, made.real), [contents, made]);
  }
  readlinkSync(path: string): string {
    return this.unmapTarget(this.at(path, (real) => nodeFs.readlinkSync(real, 'utf8')));
  }
  mkdirSync(path: string, options?: MkdirOptions | number): string | undefined {
    const { recursive, mode } = mkdirArguments(options);
    // Node's recursive mkdir returns a prefix of the string it was given; only when that
    // string is the sandbox path plus the root can the prefix be mapped back exactly.
    const spelledAlike = /^\/(?!\/)/.test(path) && !path.split('/').includes('..');
    if (recursive && !spelledAlike) return nodeMkdirRecursive(this, path, mode);
    const made = this.at(path, (real) => nodeFs.mkdirSync(real, options), true);
    return made === undefined ? undefined : this.unmap(made);
  }
  rmdirSync(path: string): void {
    if (isRootOnly(path)) throw fsError('EBUSY', 'rmdir', path);
    this.at(path, (real) => nodeFs.rmdirSync(real), true);
  }
  readdirSync(path: string): string[] {
    return this.at(path, (real) => nodeFs.readdirSync(real, 'utf8'));
  }
  statSync(path: string): StatLike {
    return this.at(path, (real) => nodeFs.statSync(real));
  }
  lstatSync(path: string): StatLike {
    return this.at(path, (real) => this.unmapLinkSize(nodeFs.lstatSync(real), real));
  }
  existsSync(path: string): boolean {
    return this.at(path, (real) => nodeFs.existsSync(real));
  }
  readFileSync(path: string): Uint8Array {
    return this.at(path, (real) => nodeFs.readFileSync(real));
  }
  writeFileSync(path: string, data: Uint8Array | string): void {
    this.at(path, (real) => nodeFs.writeFileSync(real, data));
  }
  appendFileSync(path: string, data: Uint8Array | string): void {
    this.at(path, (real) => nodeFs.appendFileSync(real, data));
  }
  chmodSync(path: string, mode: number): void {
    this.at(path, (real) => nodeFs.chmodSync(real, mode));
  }
  chownSync(path: string, uid: number, gid: number): void {
    this.at(path, (real) => nodeFs.chownSync(real, uid, gid));
  }
  utimesSync(path: string, atime: number | Date, mtime: number | Date): void {
    this.at(path, (real) => nodeFs.utimesSync(real, atime, mtime));
  }
  accessSync(path: string, mode?: number): void {
    this.at(path, (real) => nodeFs.accessSync(real, mode));
  }
  copyFileSync(src: string, dest: string, mode?: number): void {
    const from = this.pair(src);
    const to = this.pair(dest);
    this.run(() => nodeFs.copyFileSync(from.real, to.real, mode), [from, to]);
  }
  mkdtempSync(prefix: string): string {
    return this.unmap(this.at(prefix, (real) => nodeFs.mkdtempSync(real)));
  }
  rmSync(path: string, options?: RmOptions): void {
    this.at(path, (real) => nodeFs.rmSync(real, options), true);
  }
  realpathSync(path: string): string {
    // Node's realpath starts with a lexical path.resolve (against the working directory,
    // '/' in this API), so the sandbox path is resolved the same way before it is mapped.
    const real = this.real(nodePath.posix.resolve('/', path));
    // Its errors name the resolved prefix that failed, never the given path itself, so error
    // paths are only unmapped.
    return this.unmap(this.run(() => nodeFs.realpathSync(real), [{ real, orig: this.unmap(real) }]));
  }
  syncSync(): void {
    // Node has no sync(2); see the header.
  }

  /**
   * The host path for `path`. A '..' that would leave the root becomes '.' ('/..' is '/'),
   * except as the last component of a name being created or removed, where Linux's answer
   * depends on it being '..' (LAST_DOTDOT) and the host's parent directory is never touched.
   */
  private real(path: string, keepLastDotDot = false): string {
    if (path.length === 0) return path;
    const relative = this.relativeForm(path, keepLastDotDot);
    const absolute = relative.length === 0 ? this.root : `${this.root}/${relative}`;
    // Near PATH_MAX the root's prefix would turn a valid path into ENAMETOOLONG: such a path
    // goes relative (shorter than the sandbox path), and `run` moves into the root.
    if (byteLength(absolute) < PATH_MAX_BYTES || byteLength(path) >= PATH_MAX_BYTES) return absolute;
    return relative;
  }

  /** `path` below the root, spelled as given except that a '..' leaving the root is '.'. */
  private relativeForm(path: string, keepLastDotDot: boolean): string {
    const trimmed = path.replace(/^\/+/, '');
    const parts = trimmed.split('/');
    if (!parts.includes('..')) return trimmed;
    const named = parts.filter((part) => part.length > 0);
    const kept: string[] = [];
    named.forEach((part, index) => {
      const isLast = index === named.length - 1;
      // '.' rather than nothing: the component before still has to be a directory (a symlink
      // there is still followed), as it would be before a '..'.
      const atRoot = part === '..' && !(keepLastDotDot && isLast) && this.isRoot(kept);
      kept.push(atRoot ? '.' : part);
    });
    return kept.length === 0 ? '' : `${kept.join('/')}${path.endsWith('/') ? '/' : ''}`;
  }

  private isRoot(parts: readonly string[]): boolean {
    if (parts.length === 0) return true;
    try {
      return nodeFs.realpathSync.native(`${this.root}/${parts.join('/')}`) === this.root;
    } catch {
      return false;
    }
  }

  /** Absolute targets move under the root; no target may climb out of it. */
  private symlinkTarget(target: string, path: string): string {
    if (target.length === 0) return target;
    const parts = target.split('/').filter((part) => part.length > 0);
    let depth = target.startsWith('/') ? 0 : this.depthOfParent(path);
    for (const part of parts) {
      if (part === '..') depth -= 1;
      else if (part !== '.') depth += 1;
      if (depth < 0) {
        const what = `symlink target ${JSON.stringify(target)} at ${path}`;
        throw new Error(`nodeFsAdapter: ${what} climbs out of the sandbox`);
      }
    }
    return target.startsWith('/') ? `${this.root}${target}` : target;
  }

  private depthOfParent(path: string): number {
    const parent = nodePath.posix.dirname(nodePath.posix.resolve('/', path));
    try {
      const real = nodeFs.realpathSync.native(this.real(parent));
      return real === this.root ? 0 : real.slice(this.root.length).split('/').length - 1;
    } catch {
      return 0;
    }
  }

  /** Linux's filename_parentat(): the directory holding the last component must exist. */
  private checkParent(real: string): void {
    const trimmed = real.replace(/\/+$/, '');
    const parent = trimmed.slice(0, trimmed.lastIndexOf('/'));
    if (parent.length >= this.root.length) nodeFs.statSync(`${parent}/.`);
  }

  private unmap(real: string): string {
    if (real === this.root) return '/';
    if (real.startsWith(`${this.root}/`)) return real.slice(this.root.length);
    return real;
  }

  /** A call on one path: mapped in, errors mapped back. */
  private at<T>(path: string, call: (real: string) => T, keepLastDotDot = false): T {
    const pair = this.pair(path, keepLastDotDot);
    return this.run(() => call(pair.real), [pair]);
  }

  private pair(path: string, keepLastDotDot = false): PathPair {
    return { real: this.real(path, keepLastDotDot), orig: path };
  }

  private run<T>(call: () => T, pairs: readonly PathPair[]): T {
    const relative = pairs.some((pair) => pair.real.length > 0 && !pair.real.startsWith('/'));
    const cwd = relative ? process.cwd() : '';
    try {
      if (relative) process.chdir(this.root);
      return call();
    } catch (error) {
      throw this.mapError(error, pairs);
    } finally {
      if (relative) process.chdir(cwd);
    }
  }

  /** A symlink's size is its target's length, and absolute targets carry the root here. */
  private unmapLinkSize(stats: nodeFs.Stats, real: string): StatLike {
    if (!stats.isSymbolicLink()) return stats;
    const target = nodeFs.readlinkSync(real, 'utf8');
    const unmapped = this.unmapTarget(target);
    if (unmapped === target) return stats;
    const size = stats.size - (byteLength(target) - byteLength(unmapped));
    const copy = Object.create(Object.getPrototypeOf(stats) as object) as nodeFs.Stats;
    return Object.assign(copy, stats, { size });
  }

  private unmapTarget(target: string): string {
    return target === this.root || target.startsWith(`${this.root}/`) ? this.unmap(target) : target;
  }

  /** Rewrites host paths in a Node error back into sandbox paths. */
  private mapError(error: unknown, pairs: readonly PathPair[]): unknown {
    // Not `instanceof Error`: under jest, node:fs throws errors from another realm.
    if (typeof error !== 'object' || error === null) return error;
    const fields = error as { path?: unknown; dest?: unknown; message?: unknown };
    // Node's `path` is the call's first path argument and `dest` its second.
    const back = (real: string, pair: PathPair | undefined): string =>
      pair?.real === real ? pair.orig : this.unmap(real);
    if (typeof fields.path === 'string') fields.path = back(fields.path, pairs[0]);
    if (typeof fields.dest === 'string') fields.dest = back(fields.dest, pairs[1]);
    if (typeof fields.message === 'string') fields.message = this.unmapMessage(fields.message);
    return error;
  }

  private unmapMessage(message: string): string {
    return message.split(`'${this.root}'`).join("'/'").split(this.root).join('');
  }
}

// ---- pure helpers ----------------------------------------------------------------------------


function joinCanon(dir: readonly string[], name?: string): string {
  const parts = name === undefined ? dir : [...dir, name];
  return `/${parts.join('/')}`;
}

function splitCanon(canon: string): string[] {
  return canon.split('/').filter((part) => part.length > 0);
}

function isStrictPrefix(prefix: readonly string[], of: readonly string[]): boolean {
  if (prefix.length >= of.length) return false;
  return prefix.every((part, index) => of[index] === part);
}

function isRootOnly(path: string): boolean {
  return path.length > 0 && /^\/+$/.test(path);
}



/** Linux counts '.' and each subdirectory's '..': 2 + subdirectories; 0 once removed. */
function directoryLinks(link: CoreLink): number {
  // memfs: the root's count includes its own '.' and '..' entries twice, and a removed
  // directory keeps its count. A removed directory is the one whose '..' entry memfs dropped.
  if (!link.children.has('..')) return 0;
  let subdirectories = 0;
  for (const [name, child] of link.children) {
    if (name === '.' || name === '..' || child === undefined) continue;
    if (child.getNode().isDirectory()) subdirectories += 1;
  }
  return 2 + subdirectories;
}

function mkdirArguments(options: MkdirOptions | number | undefined): { recursive: boolean; mode: number } {
  if (typeof options === 'number') return { recursive: false, mode: options };
  return { recursive: options?.recursive ?? false, mode: options?.mode ?? 0o777 };
}




