/**
 * Node's compound calls, built from plain system calls, shared by every implementation of the
 * sync API that has no host to ask (our file system, the memfs reference): rm (Node 20's
 * rimrafSync in lib/internal/fs/rimraf.js, with validateRmOptionsSync before it), copyFile
 * (libuv's uv__fs_copyfile on Linux) and mkdtemp (glibc's mkdtemp: mkdir with a suffix,
 * retried on EEXIST). Each makes the system calls Node or libuv would make, in their order,
 * so the call that fails, and with it `err.syscall` and `err.path`, is Node's.
 *
 * Invariants: nothing here reads the clock, draws randomness or sleeps. mkdtemp's suffix
 * comes from the caller (a per-mount counter), so names are deterministic. rm's retries run
 * without the delay Node sleeps between them: nothing else runs on a simulated file system
 * between two tries, so a retry can only repeat the answer; `retryDelay` is validated and
 * otherwise ignored. Every descriptor opened here is closed on every path out.
 *
 * Access modes and copyFile flags are Linux's and Node's numbers (fs.constants).
 */
import { assert } from './assert';
import { ErrnoCode, fsError } from './errors';
import { OPEN_FLAGS, codeOf, outOfRange } from './node-layer';

export const ACCESS_MODES = Object.freeze({ F_OK: 0, X_OK: 1, W_OK: 2, R_OK: 4 });
export const COPYFILE_FLAGS = Object.freeze({ COPYFILE_EXCL: 1, COPYFILE_FICLONE: 2, COPYFILE_FICLONE_FORCE: 4 });

/** `rmSync`'s options, as Node takes them. */
export interface RmOptions {
  readonly recursive?: boolean;
  readonly force?: boolean;
  readonly maxRetries?: number;
  readonly retryDelay?: number;
}

interface StatBits {
  readonly ino: number;
  readonly dev: number;
  readonly mode: number;
  readonly size: number;
  isDirectory(): boolean;
}

/** The calls rm is built from. */
export interface RmCalls {
  lstatSync(path: string): { isDirectory(): boolean };
  unlinkSync(path: string): void;
  rmdirSync(path: string): void;
  readdirSync(path: string): string[];
}

/** The calls copyFile is built from. */
export interface CopyCalls {
  openSync(path: string, flags?: string | number, mode?: number): number;
  closeSync(fd: number): void;
  fstatSync(fd: number): StatBits;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  ftruncateSync(fd: number, len: number): void;
  chmodSync(path: string, mode: number): void;
  unlinkSync(path: string): void;
}

export interface MkdtempCalls {
  mkdirSync(path: string, mode: number): unknown;
}

const COPY_CHUNK_BYTES = 64 * 1024;
/** glibc's TMP_MAX is 238328 tries; a simulated namespace never needs more than a few. */
const MKDTEMP_ATTEMPTS = 1000;
/** Entries one rm may visit: far above any tree a workload builds. */
const RM_MAX_STEPS = 1_000_000;
const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const SUFFIX_CHARS = 6;
const SUFFIX_SPACE = SUFFIX_ALPHABET.length ** SUFFIX_CHARS;
/** Prime and coprime to 62: `n -> n * step mod 62^6` visits every suffix once. */
const SUFFIX_STEP = 48271;
/** Node's rimraf: codes after which a directory is emptied and removed again. */
const NOT_EMPTY_CODES: ReadonlySet<string> = new Set(['ENOTEMPTY', 'EEXIST', 'EPERM']);

/** Node's getValidMode: an access mode or copyFile flags are an integer in 0..7. */
export function validMode(mode: unknown, fallback: number): number {
  if (mode === undefined || mode === null) return fallback;
  if (typeof mode !== 'number' || !Number.isInteger(mode)) throw argumentError('ERR_INVALID_ARG_TYPE', 'mode must be int32 or null/undefined');
  if (mode < 0 || mode > 7) {
    const error = new RangeError('mode is out of range: >= 0 && <= 7') as RangeError & { code: string };
    error.code = 'ERR_OUT_OF_RANGE';
    throw error;
  }
  return mode;
}

/**
 * access(2) as root sees it, once the path exists (and, for W_OK, is on a writable mount):
 * every bit is granted except X_OK on a non-directory without an execute bit.
 */
export function rootAccess(bits: number, mode: number, isDirectory: boolean, path: string): void {
  if ((bits & ACCESS_MODES.X_OK) !== 0 && !isDirectory && (mode & 0o111) === 0) throw fsError('EACCES', 'access', path);
}

/** The six characters mkdtemp appends for the `count`-th name of a mount: [A-Za-z0-9], no clock, no entropy. */
export function mkdtempSuffix(count: number): string {
  let value = ((count % SUFFIX_SPACE) * SUFFIX_STEP + 12345) % SUFFIX_SPACE;
  let out = '';
  for (let i = 0; i < SUFFIX_CHARS; i++) {
    out += SUFFIX_ALPHABET[value % SUFFIX_ALPHABET.length];
    value = Math.floor(value / SUFFIX_ALPHABET.length);
  }
  return out;
}

/** mkdtemp(3): mkdir(prefix + suffix, 0700), the next suffix on EEXIST; errors name `prefixXXXXXX`. */
export function nodeMkdtemp(fs: MkdtempCalls, prefix: string, nextSuffix: () => string): string {
  if (typeof prefix !== 'string') throw argumentError('ERR_INVALID_ARG_TYPE', 'The "prefix" argument must be of type string');
  const shown = `${prefix}XXXXXX`;
  for (let attempt = 0; attempt < MKDTEMP_ATTEMPTS; attempt++) {
    const path = `${prefix}${nextSuffix()}`;
    let code: ErrnoCode;
    try {
      fs.mkdirSync(path, 0o700);
      return path;
    } catch (error) {
      code = codeOf(error);
    }
    if (code !== 'EEXIST') throw fsError(code, 'mkdtemp', shown);
  }
  throw fsError('EEXIST', 'mkdtemp', shown);
}

/**
 * libuv's copyfile: open the source, fstat it (a directory is EISDIR), open the destination
 * O_WRONLY|O_CREAT (|O_EXCL with COPYFILE_EXCL) with the source's mode; without EXCL, the same
 * file is a success and the destination is truncated; fchmod to the source's mode; then the
 * bytes. FICLONE_FORCE fails as Linux ext4 answers the FICLONE ioctl (no reflink): ENOTSUP;
 * plain FICLONE falls back to the copy. After a failure with the destination open, the
 * destination is unlinked. Every error carries syscall 'copyfile', the source as `path` and
 * the destination as `dest`.
 */
export function nodeCopyFile(fs: CopyCalls, src: string, dest: string, flags?: number): void {
  const mode = validMode(flags, 0);
  let code: ErrnoCode | undefined;
  let srcFd: number;
  try {
    srcFd = fs.openSync(src, OPEN_FLAGS.O_RDONLY);
  } catch (error) {
    throw fsError(codeOf(error), 'copyfile', src, dest);
  }
  let destFd = -1;
  try {
    const stats = fs.fstatSync(srcFd);
    if (stats.isDirectory()) throw fsError('EISDIR', 'fstat');
    const excl = (mode & COPYFILE_FLAGS.COPYFILE_EXCL) !== 0;
    destFd = fs.openSync(dest, OPEN_FLAGS.O_WRONLY | OPEN_FLAGS.O_CREAT | (excl ? OPEN_FLAGS.O_EXCL : 0), stats.mode & 0o7777);
    if (!excl) {
      const destStats = fs.fstatSync(destFd);
      if (destStats.dev === stats.dev && destStats.ino === stats.ino) return;
      fs.ftruncateSync(destFd, 0);
    }
    fs.chmodSync(dest, stats.mode & 0o7777);
    if ((mode & COPYFILE_FLAGS.COPYFILE_FICLONE_FORCE) !== 0) throw fsError('ENOTSUP', 'ioctl');
    copyBytes(fs, srcFd, destFd, stats.size);
  } catch (error) {
    code = codeOf(error);
  } finally {
    closeQuietly(fs, destFd);
    if (code !== undefined && destFd >= 0) unlinkQuietly(fs, dest);
    closeQuietly(fs, srcFd);
  }
  if (code !== undefined) throw fsError(code, 'copyfile', src, dest);
}

/** Node 20's rmSync: validateRmOptionsSync, then rimrafSync. */
export function nodeRm(fs: RmCalls, path: string, options?: RmOptions): void {
  const o = rmOptions(options);
  if (!o.force || !o.recursive) {
    let isDir = false;
    try {
      isDir = fs.lstatSync(path).isDirectory();
    } catch (error) {
      // lstat with throwIfNoEntry false: only ENOENT reads as "nothing there".
      if (!(o.force && codeOf(error) === 'ENOENT')) throw error;
    }
    if (isDir && !o.recursive) throw rmIsDirectory(path);
  }
  new Rimraf(fs, o.maxRetries + 1).remove(path);
}

/**
 * Node's ERR_FS_EISDIR: a SystemError (name, message and own properties as Node 20 makes
 * them: code, info, and errno, syscall, path read through info; a path set later is kept as
 * a Buffer in info and read back as a string, as Node does).
 */
export function rmIsDirectory(path: string): Error {
  const info: Record<string, unknown> = { code: 'EISDIR', message: 'is a directory', path, syscall: 'rm', errno: 21 };
  const error = new Error(`Path is a directory: rm returned EISDIR (is a directory) ${path}`);
  Object.defineProperty(error, 'name', { value: 'SystemError', writable: true, enumerable: false, configurable: true });
  Object.defineProperty(error, 'code', { value: 'ERR_FS_EISDIR', writable: true, enumerable: true, configurable: true });
  Object.defineProperty(error, 'info', { value: info, writable: false, enumerable: true, configurable: true });
  for (const key of ['errno', 'syscall', 'path'] as const) {
    Object.defineProperty(error, key, {
      get: () => (key === 'path' && info.path != null ? String(info.path) : info[key]),
      set: (value: unknown) => {
        info[key] = key === 'path' && value ? Buffer.from(String(value)) : value;
      },
      enumerable: true,
      configurable: true,
    });
  }
  return error;
}

// ---- helpers ----------------------------------------------------------------------------------

/** Node's rimrafSync: a file is unlinked, a directory emptied depth-first and removed; symlinks are never followed. */
class Rimraf {
  private steps = 0;

  constructor(private readonly fs: RmCalls, private readonly tries: number) {}

  remove(path: string): void {
    assert(++this.steps <= RM_MAX_STEPS, () => `rm visits more than ${RM_MAX_STEPS} entries`);
    let isDir = false;
    try {
      isDir = this.fs.lstatSync(path).isDirectory();
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return;
    }
    try {
      if (isDir) this.removeDir(path, undefined);
      else this.retry(() => this.fs.unlinkSync(path));
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT') return;
      // Linux answers EISDIR (and some systems EPERM) to unlink of a directory.
      if (code !== 'EPERM' && code !== 'EISDIR') throw error;
      this.removeDir(path, error);
    }
  }

  private removeDir(path: string, original: unknown): void {
    let code: ErrnoCode;
    try {
      this.fs.rmdirSync(path);
      return;
    } catch (error) {
      code = codeOf(error);
      if (code === 'ENOENT') return;
      if (code === 'ENOTDIR' || !NOT_EMPTY_CODES.has(code)) throw original ?? error;
    }
    for (const child of this.fs.readdirSync(path)) this.remove(`${path}/${child}`);
    this.retry(() => this.fs.rmdirSync(path));
  }

  /** Node's retry loop: ENOENT is success, the last try's error is thrown. */
  private retry(call: () => void): void {
    for (let i = 1; ; i++) {
      try {
        call();
        return;
      } catch (error) {
        if (codeOf(error) === 'ENOENT') return;
        if (i >= this.tries) throw error;
      }
    }
  }
}

function copyBytes(fs: CopyCalls, srcFd: number, destFd: number, sizeBytes: number): void {
  const chunk = new Uint8Array(Math.min(COPY_CHUNK_BYTES, Math.max(1, sizeBytes)));
  // sendfile(2) with an offset reads at explicit positions and writes at the destination's offset.
  for (let done = 0; done < sizeBytes;) {
    const n = fs.readSync(srcFd, chunk, 0, Math.min(chunk.length, sizeBytes - done), done);
    if (n === 0) break;
    for (let written = 0; written < n;) written += fs.writeSync(destFd, chunk, written, n - written, null);
    done += n;
  }
}

function closeQuietly(fs: CopyCalls, fd: number): void {
  if (fd < 0) return;
  try {
    fs.closeSync(fd);
  } catch (error) {
    codeOf(error); // an operating error on close is not copyfile's answer; a bug still throws
  }
}

function unlinkQuietly(fs: CopyCalls, path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (error) {
    codeOf(error);
  }
}

function rmOptions(options: RmOptions | undefined): Required<RmOptions> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw argumentError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object.');
  }
  const o = { recursive: false, force: false, maxRetries: 0, retryDelay: 100, ...options };
  for (const key of ['recursive', 'force'] as const) {
    if (typeof o[key] !== 'boolean') throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.${key}" property must be of type boolean.`);
  }
  for (const key of ['maxRetries', 'retryDelay'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) throw outOfRange(`options.${key}`, '>= 0', o[key]);
  }
  return o;
}

function argumentError(code: string, message: string): TypeError {
  const error = new TypeError(message) as TypeError & { code: string };
  error.code = code;
  return error;
}

const S_IFMT = 0o170000;
const TYPE_BITS = Object.freeze({ FIFO: 0o010000, CHR: 0o020000, DIR: 0o040000, BLK: 0o060000, REG: 0o100000, LNK: 0o120000, SOCK: 0o140000 });

/**
 * Node's fs.Dirent: what `readdirSync(path, { withFileTypes: true })` lists. `typeBits` are
 * the S_IFMT bits of the entry's mode (0 when unknown). `parentPath` and its older alias
 * `path` are the directory as the caller spelled it, as in Node 20.
 */
export class Dirent {
  readonly name: string;
  readonly parentPath: string;
  readonly path: string;
  declare private readonly typeBits: number;

  constructor(name: string, parentPath: string, typeBits: number) {
    this.name = name;
    this.parentPath = parentPath;
    this.path = parentPath;
    Object.defineProperty(this, 'typeBits', { value: typeBits & S_IFMT, enumerable: false });
  }

  isFile(): boolean { return this.typeBits === TYPE_BITS.REG; }
  isDirectory(): boolean { return this.typeBits === TYPE_BITS.DIR; }
  isSymbolicLink(): boolean { return this.typeBits === TYPE_BITS.LNK; }
  isBlockDevice(): boolean { return this.typeBits === TYPE_BITS.BLK; }
  isCharacterDevice(): boolean { return this.typeBits === TYPE_BITS.CHR; }
  isFIFO(): boolean { return this.typeBits === TYPE_BITS.FIFO; }
  isSocket(): boolean { return this.typeBits === TYPE_BITS.SOCK; }
}
