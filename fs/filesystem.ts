/**
 * The ext4-subset DAX file system: Node's sync fs API over inodes, extents and linear
 * directories on a pmem0 device.
 *
 * This module is the Node API: the public *Sync methods with Node's names, arguments and
 * defaults, and the checks each system call makes before it changes anything, in Linux's
 * order, with Linux's errors. The work is done by seams that share one context
 * (fs-context.ts): the inode table (inode-table.ts), the path walk (namei.ts), the DAX data
 * path (dax-data.ts), the life of inodes and the orphan list (lifecycle.ts), open
 * descriptors (descriptors.ts), the envelope of every call: clock, commit policy, EUCLEAN,
 * costs (operation.ts), and Node's calls built from the others (node-calls.ts). Metadata
 * changes go through the transaction seam (`MetaStore`); file data is DAX, in place.
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
import { CorruptionError, NodeStyleError, fsError } from '../core/errors';
import {
  Fail, OPEN_FLAGS, checkSpan, failer, isExplicitPosition, nodeMkdirRecursive, nodeRealpath, openFlagsToNumber,
} from '../core/node-layer';
import type { SyncFs } from '../core/sync-fs';
import {
  ACCESS_MODES, COPYFILE_FLAGS, Dirent, RmOptions, mkdtempSuffix, nodeCopyFile, nodeMkdtemp, nodeRm, rootAccess, validMode,
} from '../core/node-compound';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';
import {
  DIR_ENTRY_HEADER_BYTES, FT_DIR, FT_REG_FILE, FT_SYMLINK, Inode, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, Superblock, inodeTime, setInodeTime,
  stampInodeTimes, truncateInodeTime,
} from './format';
import { DirBlockSource, forEachLiveEntry, isDotOrDotDot, isEmptyDir } from './dir';
import { canaryActive } from '../core/canary';
import { DaxData, MAX_FILE_BYTES } from './dax-data';
import { DescriptorTable } from './descriptors';
import { FsContext, nameBytes, nameText, saveSuper } from './fs-context';
import { InodeTable } from './inode-table';
import { CommitHooks, MAX_CLOCK_SECONDS, OpCost, OpRunner, SIMULATED_EPOCH_SECONDS, corruptionAsFsError } from './operation';
import { FAST_SYMLINK_MAX_BYTES, InodeLifecycle, SYMLINK_MAX_BYTES } from './lifecycle';
import { NAME_MAX_BYTES, PATH_MAX_BYTES, PathWalker, SYMLOOP_MAX, WalkBudget, components } from './namei';
import { READ_FILE_MAX_BYTES, UtimeRequest, nodeReadFile, nodeTruncate, nodeWriteFile, utimeRequest } from './node-calls';
import { DaxStats } from './stats';
import type { Groups } from './groups';
import type { MetaStore } from './meta';
import type { WritePolicy } from './policy';

// Defined in the seams; still exported from here, where other code has always found them.
export {
  FAST_SYMLINK_MAX_BYTES, MAX_CLOCK_SECONDS, MAX_FILE_BYTES, NAME_MAX_BYTES, PATH_MAX_BYTES, SIMULATED_EPOCH_SECONDS,
  READ_FILE_MAX_BYTES, SYMLINK_MAX_BYTES, SYMLOOP_MAX, components, corruptionAsFsError,
};
export type { CommitHooks, OpCost };

const { O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_DIRECTORY } = OPEN_FLAGS;
/** Node's fs.constants on Linux: open flags, access modes, copyFile flags, file types. */
export const FS_CONSTANTS = Object.freeze({
  ...OPEN_FLAGS, ...ACCESS_MODES, ...COPYFILE_FLAGS,
  UV_FS_COPYFILE_EXCL: COPYFILE_FLAGS.COPYFILE_EXCL, UV_FS_COPYFILE_FICLONE: COPYFILE_FLAGS.COPYFILE_FICLONE,
  UV_FS_COPYFILE_FICLONE_FORCE: COPYFILE_FLAGS.COPYFILE_FICLONE_FORCE,
  S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR: 0o020000, S_IFBLK: 0o060000, S_IFIFO: 0o010000, S_IFSOCK: 0o140000,
});
/** A directory entry's ext4 file type as the S_IFMT bits a Dirent reports. */
const TYPE_OF_FT: ReadonlyMap<number, number> = new Map([[FT_REG_FILE, S_IFREG], [FT_DIR, S_IFDIR], [FT_SYMLINK, S_IFLNK]]);
/** The umask a Node process usually runs with; applied to modes of new files and dirs. */
const UMASK = 0o022;

export interface FileSystemParts {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  readonly sb: Superblock;
  readonly meta: MetaStore;
  readonly groups: Groups;
  readonly hooks: CommitHooks;
  readonly readOnly: boolean;
  readonly policy: WritePolicy;
}

export class DaxFileSystem implements SyncFs, DirBlockSource {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  readonly sb: Superblock;
  readonly meta: MetaStore;
  readonly groups: Groups;
  readonly constants = FS_CONSTANTS;
  private readonly mountedReadOnly: boolean;
  private journalAborted = false;
  private readonly hooks: CommitHooks;
  private readonly ctx: FsContext;
  private readonly table: InodeTable;
  private readonly walk: PathWalker;
  private readonly data: DaxData;
  private readonly life: InodeLifecycle;
  private readonly descriptors = new DescriptorTable();
  private readonly ops: OpRunner;
  /** Names mkdtemp has tried since mount: its suffixes are a function of this count. */
  private mkdtempCount = 0;

  constructor(parts: FileSystemParts) {
    this.device = parts.device;
    this.api = parts.api;
    this.sb = parts.sb;
    this.meta = parts.meta;
    this.groups = parts.groups;
    this.hooks = parts.hooks;
    this.mountedReadOnly = parts.readOnly;
    this.ops = new OpRunner(parts);
    this.ctx = {
      device: parts.device, api: parts.api, sb: parts.sb, meta: parts.meta, groups: parts.groups, policy: parts.policy,
      now: () => this.ops.clock,
      isOpen: (ino) => this.descriptors.isOpen(ino),
    };
    this.table = new InodeTable(this.ctx);
    this.walk = new PathWalker(this.table);
    this.data = new DaxData(this.ctx, this.table);
    this.life = new InodeLifecycle(this.ctx, this.table, this.data);
  }

  // ================================================================ Node API: descriptors

  openSync(path: string, flags?: string | number, mode = 0o666): number {
    return this.ops.run('open', path, () => {
      const bits = openFlagsToNumber(flags);
      const fail: Fail = failer('open', path);
      const access = bits & O_ACCMODE;
      // Access mode 3 is Linux's "ioctl only" mode; Linux 6.4+ refuses O_CREAT | O_DIRECTORY.
      if (access === O_ACCMODE) fail('EINVAL');
      if ((bits & O_CREAT) !== 0 && (bits & O_DIRECTORY) !== 0) fail('EINVAL');
      const target = (bits & O_CREAT) !== 0 ? this.walk.openCreate(path, bits, fail) : this.walk.openExisting(path, bits, fail);
      let ino = target.ino;
      if (ino === undefined) {
        this.requireWritable('open', path);
        ino = this.life.createNode(target.dir, target.name as string, S_IFREG | (mode & 0o7777 & ~UMASK), fail);
      } else {
        const isDir = target.kind === 'dir';
        // Linux's may_open(): O_TRUNC counts as a write.
        if (isDir && (access !== O_RDONLY || (bits & O_TRUNC) !== 0)) fail('EISDIR');
        if (access !== O_RDONLY || (bits & O_TRUNC) !== 0) this.requireWritable('open', path);
        if ((bits & O_TRUNC) !== 0 && target.kind === 'file' && this.table.inode(ino).size > 0) this.data.setSize(ino, 0, fail);
      }
      return this.descriptors.open({
        ino,
        readable: access === O_RDONLY || access === O_RDWR,
        writable: access === O_WRONLY || access === O_RDWR,
        append: (bits & O_APPEND) !== 0,
        isDir: target.kind === 'dir',
        position: 0,
      });
    });
  }

  closeSync(fd: number): void {
    this.ops.run('close', undefined, () => {
      const { ino, last } = this.descriptors.close(fd, 'close');
      if (last && this.table.inode(ino).linksCount === 0) this.life.releaseInode(ino);
    });
  }

  readSync(fd: number, buffer: Uint8Array, offsetOrOptions?: number | { offset?: number; length?: number; position?: number | null }, length?: number, position?: number | null): number {
    const o = typeof offsetOrOptions === 'object' && offsetOrOptions !== null ? offsetOrOptions : { offset: offsetOrOptions, length, position };
    const offset = o.offset ?? 0;
    const span = checkSpan(buffer, offset, o.length);
    // Node returns 0 for an empty read before it looks at the descriptor at all.
    if (span === 0) return 0;
    return this.ops.run('read', undefined, () => {
      const file = this.descriptors.get(fd, 'read');
      if (!file.readable) throw fsError('EBADF', 'read');
      if (file.isDir) throw fsError('EISDIR', 'read');
      const explicit = isExplicitPosition(o.position);
      const at = explicit ? (o.position as number) : file.position;
      const n = this.data.read(file.ino, at, buffer.subarray(offset, offset + span));
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
    return this.ops.run('write', undefined, () => {
      const file = this.descriptors.get(fd, 'write');
      if (!file.writable) throw fsError('EBADF', 'write');
      this.requireWritable('write');
      const explicit = isExplicitPosition(pos);
      // Linux appends with O_APPEND even for pwrite(2), and then leaves the offset alone.
      let at = explicit ? (pos as number) : file.position;
      if (file.append) at = this.table.inode(file.ino).size;
      if (bytes.length > 0) this.data.write(file.ino, at, bytes, 'write');
      if (!explicit && bytes.length > 0) file.position = at + bytes.length;
      return bytes.length;
    });
  }

  fsyncSync(fd: number): void {
    this.ops.run('fsync', undefined, () => {
      this.descriptors.get(fd, 'fsync');
      // after an abort nothing more can be made durable: Linux answers EROFS
      if (this.journalAborted) throw fsError('EROFS', 'fsync');
      if (canaryActive('fsync-no-commit')) this.api.pmemWmb(); else this.hooks.sync(this.meta);
    });
  }

  fdatasyncSync(fd: number): void {
    this.ops.run('fdatasync', undefined, () => {
      this.descriptors.get(fd, 'fdatasync');
      if (this.journalAborted) throw fsError('EROFS', 'fdatasync');
      this.hooks.sync(this.meta);
    });
  }

  syncSync(): void {
    // sync(2) reports nothing, even on an aborted journal
    this.ops.run('sync', undefined, () => {
      if (!this.journalAborted) this.hooks.sync(this.meta, true);
    });
  }

  ftruncateSync(fd: number, len = 0): void {
    this.ops.run('ftruncate', undefined, () => {
      const file = this.descriptors.get(fd, 'ftruncate');
      if (file.isDir || !file.writable) throw fsError('EINVAL', 'ftruncate');
      this.requireWritable('ftruncate');
      // Node clamps a negative length to 0 before the system call.
      this.data.setSize(file.ino, Math.max(0, len), failer('ftruncate'));
    });
  }

  fstatSync(fd: number): DaxStats {
    return this.ops.run('fstat', undefined, () => this.stats(this.descriptors.get(fd, 'fstat').ino));
  }

  // ================================================================ Node API: Node's layer

  truncateSync(path: string, len = 0): void {
    nodeTruncate(this, path, len);
  }

  /** Bytes without an encoding (SyncFs's form), a string with one, as Node's readFileSync. */
  readFileSync(path: string | number, options?: { encoding?: null; flag?: string }): Buffer;
  readFileSync(path: string | number, options: { encoding: BufferEncoding; flag?: string } | BufferEncoding): string;
  readFileSync(path: string | number, options?: { encoding?: BufferEncoding | null; flag?: string } | BufferEncoding): Buffer | string;
  readFileSync(path: string | number, options?: { encoding?: BufferEncoding | null; flag?: string } | BufferEncoding): Buffer | string {
    return nodeReadFile(this, path, options, (fd) => this.table.inode(this.descriptors.get(fd, 'read').ino).size);
  }

  writeFileSync(path: string | number, data: Uint8Array | string, options?: { encoding?: BufferEncoding; flag?: string; mode?: number } | BufferEncoding): void {
    nodeWriteFile(this, path, data, options);
  }

  appendFileSync(path: string | number, data: Uint8Array | string, options?: { encoding?: BufferEncoding; flag?: string; mode?: number } | BufferEncoding): void {
    const o = typeof options === 'string' ? { encoding: options } : options ?? {};
    this.writeFileSync(path, data, { ...o, flag: o.flag ?? 'a' });
  }

  existsSync(path: string): boolean {
    try {
      this.walk.existing(path, 'access');
      return true;
    } catch (err) {
      if (err instanceof NodeStyleError) return false;
      throw err;
    }
  }

  realpathSync(path: string): string {
    return nodeRealpath(this, path);
  }

  copyFileSync(src: string, dest: string, mode?: number): void {
    nodeCopyFile(this, src, dest, mode);
  }

  /** The six characters Node draws at random come from a per-mount count: names are deterministic. */
  mkdtempSync(prefix: string): string {
    return nodeMkdtemp(this, prefix, () => mkdtempSuffix(this.mkdtempCount++));
  }

  rmSync(path: string, options?: RmOptions): void {
    nodeRm(this, path, options);
  }

  /**
   * access(2) as root sees it (Node under crashTest behaves as root: modes and owners are not
   * modelled): R_OK and W_OK are granted whatever the mode (CAP_DAC_OVERRIDE), except W_OK on a
   * read-only mount (EROFS); X_OK is granted on a directory, and on anything else only when
   * some execute bit is set (EACCES otherwise).
   */
  accessSync(path: string, mode?: number): void {
    const bits = validMode(mode, ACCESS_MODES.F_OK);
    this.ops.run('access', path, () => {
      const inode = this.table.inode(this.walk.existing(path, 'access'));
      if ((bits & ACCESS_MODES.W_OK) !== 0) this.requireWritable('access', path);
      rootAccess(bits, inode.mode, (inode.mode & S_IFMT) === S_IFDIR, path);
    });
  }

  // ================================================================ Node API: names

  mkdirSync(path: string, options?: { recursive?: boolean; mode?: number } | number): string | undefined {
    const o = typeof options === 'number' ? { mode: options } : options ?? {};
    const mode = o.mode ?? 0o777;
    if (o.recursive) return nodeMkdirRecursive(this, path, mode);
    this.ops.run('mkdir', path, () => {
      const fail: Fail = failer('mkdir', path);
      const at = this.walk.parent(path, { links: 0 }, fail);
      if (at.lastType !== 'norm') fail('EEXIST');
      // mkdir takes a trailing slash: it names a directory anyway; any existing name is EEXIST.
      if (this.walk.child(at.dir, at.last, fail) !== undefined) fail('EEXIST');
      this.requireWritable('mkdir', path);
      this.life.createNode(at.dir, at.last, S_IFDIR | (mode & 0o7777 & ~UMASK), fail);
    });
    return undefined;
  }

  rmdirSync(path: string): void {
    this.ops.run('rmdir', path, () => {
      const fail: Fail = failer('rmdir', path);
      const at = this.walk.parent(path, { links: 0 }, fail);
      if (at.lastType === 'dotdot') fail('ENOTEMPTY');
      if (at.lastType === 'dot') fail('EINVAL');
      if (at.lastType === 'root') fail('EBUSY');
      const child = this.walk.child(at.dir, at.last, fail);
      if (child === undefined) fail('ENOENT');
      // rmdir never follows the last component: a symlink to a directory is not one.
      if (child.kind !== 'dir') fail('ENOTDIR');
      if (!isEmptyDir(this.table, child.ino)) fail('ENOTEMPTY');
      this.requireWritable('rmdir', path);
      this.life.removeName(at.dir, nameBytes(at.last), child.ino);
    });
  }

  unlinkSync(path: string): void {
    this.ops.run('unlink', path, () => {
      const fail: Fail = failer('unlink', path);
      const at = this.walk.parent(path, { links: 0 }, fail);
      if (at.lastType !== 'norm') fail('EISDIR');
      const child = this.walk.child(at.dir, at.last, fail);
      if (child === undefined) fail('ENOENT');
      if (child.kind === 'dir') fail('EISDIR');
      if (at.trailingSlash) fail('ENOTDIR');
      this.requireWritable('unlink', path);
      this.life.removeName(at.dir, nameBytes(at.last), child.ino);
    });
  }

  linkSync(existingPath: string, newPath: string): void {
    this.ops.run('link', existingPath, () => {
      const fail: Fail = failer('link', existingPath, newPath);
      const budget: WalkBudget = { links: 0 };
      // linkat(2) without AT_SYMLINK_FOLLOW: a symlink given as `existing` is linked itself.
      const old = this.walk.lookup(existingPath, false, budget, fail);
      this.walk.requireFound(old, fail);
      const at = this.walk.parent(newPath, budget, fail);
      this.walk.requireCreatable(at, fail);
      if (old.kind === 'dir') fail('EPERM');
      this.requireWritable('link', existingPath);
      this.life.addLink(at.dir, nameBytes(at.last), old.ino as number, fail);
    });
  }

  symlinkSync(target: string, path: string): void {
    this.ops.run('symlink', target, () => {
      const fail: Fail = failer('symlink', target, path);
      if (target.length === 0) fail('ENOENT');
      const bytes = Buffer.from(target, 'utf8');
      if (bytes.length >= PATH_MAX_BYTES) fail('ENAMETOOLONG');
      const at = this.walk.parent(path, { links: 0 }, fail);
      this.walk.requireCreatable(at, fail);
      this.requireWritable('symlink', target);
      this.life.createNode(at.dir, at.last, S_IFLNK | 0o777, fail, bytes);
    });
  }

  readlinkSync(path: string, options?: { encoding?: BufferEncoding } | BufferEncoding): string {
    return this.ops.run('readlink', path, () => {
      const fail: Fail = failer('readlink', path);
      const found = this.walk.lookup(path, false, { links: 0 }, fail);
      this.walk.requireFound(found, fail);
      if (found.kind !== 'symlink') fail('EINVAL');
      const encoding = typeof options === 'string' ? options : options?.encoding ?? 'utf8';
      return Buffer.from(this.table.linkTarget(found.ino as number)).toString(encoding);
    });
  }

  renameSync(oldPath: string, newPath: string): void {
    this.ops.run('rename', oldPath, () => {
      const fail: Fail = failer('rename', oldPath, newPath);
      const budget: WalkBudget = { links: 0 };
      const src = this.walk.parent(oldPath, budget, fail);
      const dst = this.walk.parent(newPath, budget, fail);
      if (src.lastType !== 'norm' || dst.lastType !== 'norm') fail('EBUSY');
      const from = this.walk.child(src.dir, src.last, fail);
      if (from === undefined) fail('ENOENT');
      const to = this.walk.child(dst.dir, dst.last, fail);
      // A trailing slash is allowed on either name only when the source is a directory.
      if (from.kind !== 'dir' && (src.trailingSlash || dst.trailingSlash)) fail('ENOTDIR');
      // Moving a directory into its own subtree; the target an ancestor of the source.
      if (from.kind === 'dir' && this.walk.isAncestor(from.ino, dst.dir)) fail('EINVAL');
      if (to !== undefined && to.kind === 'dir' && this.walk.isAncestor(to.ino, src.dir)) fail('ENOTEMPTY');
      if (to !== undefined) {
        if (to.ino === from.ino) return; // two names of one file: POSIX says do nothing
        if (from.kind === 'dir' && to.kind !== 'dir') fail('ENOTDIR');
        if (from.kind !== 'dir' && to.kind === 'dir') fail('EISDIR');
        if (to.kind === 'dir' && !isEmptyDir(this.table, to.ino)) fail('ENOTEMPTY');
      }
      this.requireWritable('rename', oldPath);
      this.life.moveName({
        ino: from.ino, isDir: from.kind === 'dir', replaced: to?.ino,
        srcDir: src.dir, srcName: nameBytes(src.last), dstDir: dst.dir, dstName: nameBytes(dst.last),
      }, fail);
    });
  }

  /** Names; with `withFileTypes`, Dirents typed from the entries' ext4 file types (no inode read). */
  readdirSync(path: string, options?: { withFileTypes?: false; encoding?: BufferEncoding } | BufferEncoding): string[];
  readdirSync(path: string, options: { withFileTypes: true }): Dirent[];
  readdirSync(path: string, options?: { withFileTypes?: boolean; encoding?: BufferEncoding } | BufferEncoding): string[] | Dirent[] {
    // Node's readdir is libuv's scandir, which sorts the names bytewise (strcmp)
    const listed = this.list('scandir', path, (raw) => raw.map((_, i) => i).sort((a, b) => Buffer.compare(raw[a], raw[b])));
    if (typeof options !== 'object' || options?.withFileTypes !== true) return listed.map((e) => e.name);
    return listed.map((e) => new Dirent(e.name, path, TYPE_OF_FT.get(e.fileType) ?? 0));
  }

  /**
   * A directory's entries in the order the kernel's readdir returns them (what Node's opendir
   * iterates): hash order for a hashed directory, as ext4_dx_readdir (fs/htree.ts), else the
   * order of the directory's blocks.
   */
  opendirEntries(path: string): Dirent[] {
    return this.list('opendir', path, (raw, ino) => this.table.readdirOrder(ino, raw) ?? raw.map((_, i) => i))
      .map((e) => new Dirent(e.name, path, TYPE_OF_FT.get(e.fileType) ?? 0));
  }

  /** A directory's names in the order of its blocks and entries, as `debugfs ls` prints them (a hashed directory's too). */
  namesInBlockOrder(path: string): string[] {
    return this.list('scandir', path, (raw) => raw.map((_, i) => i)).map((e) => e.name);
  }

  /** The live entries of directory `path` ("." and ".." left out), in the order `order` gives their indices. */
  private list(syscall: string, path: string, order: (raw: Uint8Array[], ino: number) => number[]): Array<{ name: string; fileType: number }> {
    return this.ops.run(syscall, path, () => {
      const fail: Fail = failer(syscall, path);
      const found = this.walk.lookup(path, true, { links: 0 }, fail);
      this.walk.requireFound(found, fail);
      if (found.kind !== 'dir') fail('ENOTDIR');
      const raw: Uint8Array[] = [];
      const types: number[] = [];
      forEachLiveEntry(this.table, found.ino as number, (bytes, at) => {
        const name = bytes.subarray(at + DIR_ENTRY_HEADER_BYTES, at + DIR_ENTRY_HEADER_BYTES + bytes[at + 6]);
        if (isDotOrDotDot(name)) return;
        raw.push(name.slice());
        types.push(bytes[at + 7]);
      });
      return order(raw, found.ino as number).map((i) => ({ name: nameText(raw[i]), fileType: types[i] }));
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
    this.changeAttributes('chmod', path, (inode) => {
      inode.mode = (inode.mode & S_IFMT) | (mode & 0o7777);
    });
  }

  chownSync(path: string, uid: number, gid: number): void {
    this.changeAttributes('chown', path, (inode) => {
      // chown(2) reads -1 as "leave this one unchanged"
      if (uid !== -1) inode.uid = uid;
      if (gid !== -1) inode.gid = gid;
    });
  }

  /**
   * utimes(2) as Node calls it: each time becomes the timespec libuv hands the kernel
   * (node-calls.ts utimeRequest: whole microseconds; a negative number is now), which the
   * inode keeps as the kernel does (fs/format.ts: nanoseconds and epoch bits where the inode
   * has its `_extra` words, clamped to 1901..2446). A time Node refuses is a TypeError before
   * any system call; one time_t cannot hold is EINVAL after the path resolves.
   */
  utimesSync(path: string, atime: UtimeArgument, mtime: UtimeArgument): void {
    const times = [utimeRequest(atime), utimeRequest(mtime)] as const;
    this.changeTimes('utime', path, () => this.walk.existing(path, 'utime'), times);
  }

  /** lutimes(2): utimes on a symlink itself, not on what it names. */
  lutimesSync(path: string, atime: UtimeArgument, mtime: UtimeArgument): void {
    const times = [utimeRequest(atime), utimeRequest(mtime)] as const;
    this.changeTimes('lutime', path, () => {
      const fail: Fail = failer('lutime', path);
      const found = this.walk.lookup(path, false, { links: 0 }, fail);
      this.walk.requireFound(found, fail);
      return found.ino as number;
    }, times);
  }

  /** futimes(2): utimes on an open file (any access mode). */
  futimesSync(fd: number, atime: UtimeArgument, mtime: UtimeArgument): void {
    const times = [utimeRequest(atime), utimeRequest(mtime)] as const;
    this.changeTimes('futime', undefined, () => this.descriptors.get(fd, 'futime').ino, times);
  }

  /**
   * The device ranges behind [offset, offset + length) of an open file, allocating (and
   * zeroing) any hole, as a DAX mmap write fault does. The range must lie inside the file.
   */
  daxMapSync(fd: number, offset: number, length: number): Array<{ addr: number; length: number }> {
    return this.ops.run('mmap', undefined, () => {
      const file = this.descriptors.get(fd, 'mmap');
      const inode = this.table.inode(file.ino);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > inode.size) {
        throw fsError('EINVAL', 'mmap');
      }
      if (!file.writable || (inode.mode & S_IFMT) !== S_IFREG) throw fsError('EACCES', 'mmap');
      return this.data.mapRange(file.ino, offset, length, failer('mmap'));
    });
  }

  /** Commit, close every file, and mark the file system cleanly unmounted. */
  unmount(): void {
    if (!this.ops.isMounted) return;
    for (const fd of this.descriptors.fds()) this.closeSync(fd);
    this.ops.stop();
    try {
      this.onUnmount?.();
    } catch (error) {
      throw error instanceof CorruptionError ? corruptionAsFsError(error, 'umount') : error;
    }
  }

  // ================================================================ state, and mount's calls

  /** Set by mount: writes the clean superblock. */
  onUnmount: (() => void) | undefined;

  get isMounted(): boolean {
    return this.ops.isMounted;
  }

  /** The simulated clock, in seconds. */
  get clock(): number {
    return this.ops.clock;
  }

  /** Device cost per system call since mount (cleans, barriers, bytes flushed, simulated ns). */
  costReport(): ReadonlyMap<string, Readonly<OpCost>> {
    return this.ops.costReport();
  }

  /** Inodes open but unlinked (the orphans a crash would leave). */
  openInodes(): number[] {
    return this.descriptors.openInodes();
  }

  /** The decoded inode `ino` (cached; the running transaction's view). */
  inode(ino: number): Inode {
    return this.table.inode(ino);
  }

  /** Physical blocks of a directory, in logical order. */
  dirBlocks(dirIno: number): number[] {
    return this.table.dirBlocks(dirIno);
  }

  /**
   * Mount after a crash: finish every orphan (free an unlinked inode, complete a truncate to
   * its i_size), from the head of the list, as ext4_orphan_cleanup does. Corrupt metadata on
   * the way (a link out of range or in a cycle, a corrupt orphan) stops it there: the rest of
   * the list is dropped (s_last_orphan 0) and the mount goes on; `dropped` says what was met.
   * Under errors=remount-ro the corruption aborts the journal first (nothing more is written).
   */
  finishOrphans(): { finished: number; dropped: CorruptionError | undefined } {
    // The chain is read first, up to its first bad link; each inode joins once.
    let dropped = this.life.loadOrphanList();
    let finished = 0;
    try {
      this.ops.run('mount', undefined, () => {
        this.life.finishOrphans(() => finished++);
        if (dropped !== undefined) this.life.dropOrphanList();
      });
    } catch (error) {
      const cause = error instanceof NodeStyleError && error.code === 'EUCLEAN' ? error.cause : undefined;
      if (!(cause instanceof CorruptionError)) throw error;
      dropped = cause;
      if (!this.journalAborted) this.ops.run('mount', undefined, () => this.life.dropOrphanList());
    }
    return { finished, dropped };
  }

  /**
   * Mount's check of the root directory before it writes anything: the kernel refuses a
   * mount whose root inode is unallocated (links 0 or mode 0: "get root inode failed") or is
   * not a directory with blocks and a size ("corrupt root inode"), with EUCLEAN.
   */
  checkRoot(): void {
    const root = this.table.iget(ROOT_INO);
    if ((root.mode & S_IFMT) !== S_IFDIR || root.blocks === 0 || root.size === 0) {
      throw new CorruptionError({ structure: 'root inode', where: `inode ${ROOT_INO}`, what: `not a directory with blocks and a size (mode 0o${root.mode.toString(8)}, ${root.blocks} sectors, ${root.size} bytes)` });
    }
  }

  /** Read-only: mounted so, or since an abort. */
  get readOnly(): boolean {
    return this.mountedReadOnly || this.journalAborted;
  }

  /** Whether the journal was aborted (errors=remount-ro after corrupt metadata). */
  get aborted(): boolean {
    return this.journalAborted;
  }

  /**
   * Abort the journal, as ext4's errors=remount-ro does on corrupt metadata: the running
   * transaction is dropped uncommitted (the failing call's partial changes with it), writes
   * answer EROFS from now on, fsync EROFS, and unmount writes nothing. Reads go on.
   */
  abort(): void {
    if (this.journalAborted || this.mountedReadOnly) return;
    this.journalAborted = true;
    this.meta.discardRunning();
  }

  /** Write the superblock into the running transaction. */
  saveSuper(): void {
    saveSuper(this.ctx);
  }

  // ================================================================ internals

  private now(): number {
    return this.ops.clock;
  }

  private requireWritable(syscall: string, path?: string): void {
    if (this.readOnly) throw fsError('EROFS', syscall, path);
  }

  private statPath(path: string, follow: boolean, syscall: string, options?: { throwIfNoEntry?: boolean }): DaxStats | undefined {
    try {
      return this.ops.run(syscall, path, () => {
        const fail: Fail = failer(syscall, path);
        const found = this.walk.lookup(path, follow, { links: 0 }, fail);
        this.walk.requireFound(found, fail);
        return this.stats(found.ino as number);
      });
    } catch (err) {
      if (options?.throwIfNoEntry === false && err instanceof NodeStyleError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  /** chmod, chown: `change` an existing inode's attributes; its ctime becomes now. */
  private changeAttributes(syscall: string, path: string, change: (inode: Inode) => void): void {
    this.changeInode(syscall, path, () => this.walk.existing(path, syscall), change);
  }

  /** The inode `locate` finds (ENOENT, EBADF...), then `change` on it; its ctime becomes now. */
  private changeInode(syscall: string, path: string | undefined, locate: () => number, change: (inode: Inode, now: number) => void): void {
    this.ops.run(syscall, path, () => {
      const ino = locate();
      this.requireWritable(syscall, path);
      const inode = this.table.inode(ino);
      change(inode, this.now());
      stampInodeTimes(inode, this.now(), 'ctime');
      this.table.putInode(ino, inode);
    });
  }

  /**
   * utimes, lutimes, futimes: atime and mtime as the kernel keeps them (a request of now is the
   * clock's second). A time the system call cannot take is EINVAL, which vfs_utimes answers
   * after the lookup and before the mount's write access (EROFS).
   */
  private changeTimes(syscall: string, path: string | undefined, locate: () => number, times: readonly [UtimeRequest | undefined, UtimeRequest | undefined]): void {
    this.changeInode(syscall, path, () => {
      const ino = locate();
      if (times[0] === undefined || times[1] === undefined) throw fsError('EINVAL', syscall, path);
      return ino;
    }, (inode, now) => {
      const kept = (t: UtimeRequest) => truncateInodeTime(t === 'now' ? { seconds: now, nanos: 0 } : t);
      setInodeTime(inode, 'atime', kept(times[0] as UtimeRequest));
      setInodeTime(inode, 'mtime', kept(times[1] as UtimeRequest));
    });
  }

  private stats(ino: number): DaxStats {
    const i = this.table.inode(ino);
    const times = { atime: inodeTime(i, 'atime'), mtime: inodeTime(i, 'mtime'), ctime: inodeTime(i, 'ctime'), crtime: inodeTime(i, 'crtime') };
    return new DaxStats(ino, i.mode, i.linksCount, i.uid, i.gid, i.size, this.table.sectors(i), times);
  }
}

// ================================================================ helpers

/** What Node's utimes calls take for a time (node-calls.ts utimeRequest says how each counts). */
export type UtimeArgument = number | Date | string;
