// The file-system API that workloads speak: the synchronous half of Node's `fs`.
//
// Owns: the `SyncFs`, `StatLike` and `MkdirOptions` interfaces. They live in core/, below
// every layer that implements or calls them, so that implementations can declare them: the
// reference (memfs made POSIX-strict, workloads/reference.ts), Linux itself through `node:fs`
// in a sandbox directory (nodeFsAdapter in workloads/reference.ts), and our ext4 DAX file
// system (`DaxFileSystem implements SyncFs`, fs/filesystem.ts). workloads/fs-api.ts re-exports
// them for the code that took them from there.
//
// Invariants:
// - Names, argument orders, defaults and semantics are Node's (`fs.openSync`...), so code
//   written for Node runs unchanged on any implementation; where Node follows the platform,
//   the platform is Linux. Nothing here is wider than Node: paths are strings only (no URL or
//   Buffer paths), no options objects except mkdir's and rm's, no encodings (a string `data` is UTF-8,
//   reads return bytes). An implementation may accept more (our file system takes Node's
//   encodings and options too), as long as the calls written here have these types.
// - Operating errors are thrown as Node's are: an Error with `code` (ENOENT...), `errno`,
//   `syscall`, and `path` / `dest` where Node sets them (core/errors.ts builds them).
// - `syncSync()` is sync(2). Node has no such call; on real Node it is a no-op (the adapter
//   cannot make the host's page cache observable anyway).
// - Paths are absolute from the file system's root; a relative path is taken from '/'.
// - Linux's O_* bits and Node's flag strings ('r+', 'wx'...), which every implementation
//   reads the same way, are in core/node-layer.ts.
//
// Types only: nothing here runs.
import type { RmOptions } from './node-compound';

/** What a stat call returns: the fields of Node's `fs.Stats` that workloads may read. */
export interface StatLike {
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
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** `mkdirSync`'s options, as Node takes them (a bare number is the mode). */
export interface MkdirOptions {
  readonly recursive?: boolean;
  readonly mode?: number;
}

export interface SyncFs {
  /** flags: Node's strings ('r', 'r+', 'w', 'wx', 'w+', 'a', 'ax', 'a+'...) or O_* bits. */
  openSync(path: string, flags?: string | number, mode?: number): number;
  closeSync(fd: number): void;
  /** position null or omitted: read at the descriptor's offset and advance it (read(2)). */
  readSync(
    fd: number,
    buffer: Uint8Array,
    offset?: number,
    length?: number,
    position?: number | null,
  ): number;
  /** position null or omitted: write at the descriptor's offset (or at EOF with O_APPEND). */
  writeSync(
    fd: number,
    buffer: Uint8Array,
    offset?: number,
    length?: number,
    position?: number | null,
  ): number;
  fsyncSync(fd: number): void;
  fdatasyncSync(fd: number): void;
  ftruncateSync(fd: number, len?: number): void;
  truncateSync(path: string, len?: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  linkSync(existing: string, newPath: string): void;
  symlinkSync(target: string, path: string): void;
  readlinkSync(path: string): string;
  /** Returns, with `recursive`, the first directory created (undefined if none was). */
  mkdirSync(path: string, options?: MkdirOptions | number): string | undefined;
  rmdirSync(path: string): void;
  /** Entry names without '.' and '..', in no promised order. */
  readdirSync(path: string): string[];
  statSync(path: string): StatLike;
  lstatSync(path: string): StatLike;
  fstatSync(fd: number): StatLike;
  existsSync(path: string): boolean;
  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array | string): void;
  appendFileSync(path: string, data: Uint8Array | string): void;
  chmodSync(path: string, mode: number): void;
  chownSync(path: string, uid: number, gid: number): void;
  /** Numbers are seconds since the epoch, as in Node. */
  utimesSync(path: string, atime: number | Date, mtime: number | Date): void;
  realpathSync(path: string): string;
  /**
   * Node's copyFile: `mode` is COPYFILE_* bits (EXCL honoured; FICLONE_FORCE fails with
   * ENOTSUP where the file system has no reflink, as ext4). Errors carry syscall 'copyfile'.
   */
  copyFileSync(src: string, dest: string, mode?: number): void;
  /** mkdtemp(3): `prefix` plus six [A-Za-z0-9] characters, mode 0700; returns the path made. */
  mkdtempSync(prefix: string): string;
  /** Node 20's rm: unlinks, or with `recursive` removes a tree without following symlinks. */
  rmSync(path: string, options?: RmOptions): void;
  /** access(2) with F_OK / R_OK / W_OK / X_OK bits (0 when omitted). */
  accessSync(path: string, mode?: number): void;
  /** sync(2): every file's data and metadata reach stable storage before it returns. */
  syncSync(): void;
}
