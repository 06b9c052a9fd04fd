/**
 * Node's fs layer above the system calls, shared by every implementation of the sync API
 * (our file system, the memfs reference): flag strings, argument checks, and Node 20's own
 * recursive mkdir and realpath, built from plain mkdir / stat / lstat / readlink so that
 * their answers and error shapes are Node's whatever file system is below.
 *
 * Invariant: nothing here reads the clock or keeps state between calls.
 */
import * as nodePath from 'node:path';
import { assert } from './assert';
import { ErrnoCode, NodeStyleError, fsError } from './errors';

/** The calls `nodeRealpath` and `nodeMkdirRecursive` are built from. */
export interface RealpathCalls {
  lstatSync(path: string): { readonly ino: number; isSymbolicLink(): boolean };
  statSync(path: string): unknown;
  readlinkSync(path: string): string;
}
export interface MkdirCalls {
  mkdirSync(path: string, mode: number): unknown;
  statSync(path: string): { isDirectory(): boolean };
}

export type Fail = (code: ErrnoCode) => never;

/** Bound on a recursive mkdir's steps (it pushes at most two paths per component). */
const MAX_MKDIR_STEPS = 10_000;

/**
 * Linux's open(2) flag bits (x86-64 and arm64 share them), which Node's `fs.constants` carries
 * on Linux. Fixed here rather than read from `node:fs` so that a workload's numeric flags mean
 * the same on every host.
 */
export const OPEN_FLAGS = Object.freeze({
  O_RDONLY: 0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_ACCMODE: 0o3,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DSYNC: 0o10000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_SYNC: 0o4010000,
});

const F = OPEN_FLAGS;
// Node's stringToFlags table (lib/internal/fs/utils.js), every spelling it accepts.
const FLAG_STRINGS: ReadonlyMap<string, number> = new Map([
  ['r', F.O_RDONLY],
  ['rs', F.O_RDONLY | F.O_SYNC],
  ['sr', F.O_RDONLY | F.O_SYNC],
  ['r+', F.O_RDWR],
  ['rs+', F.O_RDWR | F.O_SYNC],
  ['sr+', F.O_RDWR | F.O_SYNC],
  ['w', F.O_TRUNC | F.O_CREAT | F.O_WRONLY],
  ['wx', F.O_TRUNC | F.O_CREAT | F.O_WRONLY | F.O_EXCL],
  ['xw', F.O_TRUNC | F.O_CREAT | F.O_WRONLY | F.O_EXCL],
  ['w+', F.O_TRUNC | F.O_CREAT | F.O_RDWR],
  ['wx+', F.O_TRUNC | F.O_CREAT | F.O_RDWR | F.O_EXCL],
  ['xw+', F.O_TRUNC | F.O_CREAT | F.O_RDWR | F.O_EXCL],
  ['a', F.O_APPEND | F.O_CREAT | F.O_WRONLY],
  ['ax', F.O_APPEND | F.O_CREAT | F.O_WRONLY | F.O_EXCL],
  ['xa', F.O_APPEND | F.O_CREAT | F.O_WRONLY | F.O_EXCL],
  ['as', F.O_APPEND | F.O_CREAT | F.O_WRONLY | F.O_SYNC],
  ['sa', F.O_APPEND | F.O_CREAT | F.O_WRONLY | F.O_SYNC],
  ['a+', F.O_APPEND | F.O_CREAT | F.O_RDWR],
  ['ax+', F.O_APPEND | F.O_CREAT | F.O_RDWR | F.O_EXCL],
  ['xa+', F.O_APPEND | F.O_CREAT | F.O_RDWR | F.O_EXCL],
  ['as+', F.O_APPEND | F.O_CREAT | F.O_RDWR | F.O_SYNC],
  ['sa+', F.O_APPEND | F.O_CREAT | F.O_RDWR | F.O_SYNC],
]);

/**
 * Node's reading of `openSync`'s flags argument: undefined is 'r', a number is taken as O_*
 * bits, an unknown string is a TypeError with code ERR_INVALID_ARG_VALUE, as Node throws.
 */
export function openFlagsToNumber(flags: string | number | undefined): number {
  if (flags === undefined) return F.O_RDONLY;
  if (typeof flags === 'number') return flags;
  const bits = FLAG_STRINGS.get(flags);
  if (bits !== undefined) return bits;
  const error = new TypeError(
    `The argument 'flags' is invalid. Received '${flags}'`,
  ) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_VALUE';
  throw error;
}

/**
 * Node 20's `mkdirSync(path, { recursive: true })` (MKDirpSync in src/node_file.cc), built
 * from plain mkdir and stat so that its answers (the first directory made, EEXIST for a file
 * at the end, ENOTDIR for one in the middle, ENOENT from stat for a dangling symlink) are
 * Node's. Errors carry syscall 'mkdir' and the caller's path, as Node's do.
 */
export function nodeMkdirRecursive(fs: MkdirCalls, path: string, mode: number): string | undefined {
  const pending: string[] = [path];
  let first: string | undefined;
  const fail = (code: ErrnoCode): never => {
    throw fsError(code, 'mkdir', path);
  };
  for (let steps = 0; pending.length > 0; steps++) {
    assert(steps < MAX_MKDIR_STEPS, () => `recursive mkdir of ${path} does not terminate`);
    const next = pending.pop() as string;
    let code = errorCodeOf(() => fs.mkdirSync(next, mode));
    if (code === null) {
      if (first === undefined) first = next;
      continue;
    }
    if (code === 'EACCES' || code === 'ENOSPC' || code === 'ENOTDIR' || code === 'EPERM') fail(code);
    if (code === 'ENOENT') {
      // std::string::substr(0, npos) is the whole string when there is no '/'.
      const slash = next.lastIndexOf('/');
      const dirname = slash < 0 ? next : next.slice(0, slash);
      if (dirname !== next) {
        pending.push(next, dirname);
        continue;
      }
      if (pending.length > 0) continue;
      code = 'EEXIST'; // Node then asks stat, like any other failure
    }
    // EEXIST and the rest: fine if a directory is there (stat follows symlinks).
    let isDir = false;
    try {
      isDir = fs.statSync(next).isDirectory();
    } catch (error) {
      fail(codeOf(error));
    }
    if (!isDir) fail(code === 'EEXIST' && pending.length > 0 ? 'ENOTDIR' : 'EEXIST');
  }
  return first;
}

/**
 * Node 20's JavaScript `fs.realpathSync` (lib/fs.js): the path is resolved lexically first,
 * then each prefix is lstat'ed, and a symlink is stat'ed (ELOOP, ENOENT for a dangling one)
 * and read. Errors carry Node's syscall ('lstat', 'stat', 'readlink') and the prefix as path.
 */
export function nodeRealpath(fs: RealpathCalls, path: string): string {
  let p = nodePath.posix.resolve('/', path);
  const seenLinks = new Map<number, string>();
  const knownHard = new Set<string>();
  let current = '/';
  let base = '/';
  let pos = 1;
  while (pos < p.length) {
    const slash = p.indexOf('/', pos);
    const previous = current;
    if (slash === -1) {
      const last = p.slice(pos);
      current += last;
      base = previous + last;
      pos = p.length;
    } else {
      current += p.slice(pos, slash + 1);
      base = previous + p.slice(pos, slash);
      pos = slash + 1;
    }
    if (knownHard.has(base)) continue;
    const stats = fs.lstatSync(base);
    if (!stats.isSymbolicLink()) {
      knownHard.add(base);
      continue;
    }
    let linkTarget = seenLinks.get(stats.ino);
    if (linkTarget === undefined) {
      fs.statSync(base);
      linkTarget = fs.readlinkSync(base);
      seenLinks.set(stats.ino, linkTarget);
    }
    const resolvedLink = nodePath.posix.resolve(previous, linkTarget);
    p = nodePath.posix.resolve(resolvedLink, p.slice(pos));
    current = '/';
    base = '/';
    pos = 1;
  }
  return p;
}

/** memfs: names the parent directory in some ENOENT errors; Node names the caller's path. */
export function failer(syscall: string, path?: string, dest?: string): Fail {
  return (code: ErrnoCode): never => {
    throw fsError(code, syscall, path, dest);
  };
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function isExplicitPosition(position: number | null | undefined): position is number {
  // Node and libuv read a negative position (Node passes -1 for null) as "the file offset".
  return typeof position === 'number' && position >= 0;
}

/** Node's validateOffsetLengthRead/Write: the span must lie inside the buffer. */
export function checkSpan(buffer: Uint8Array, offset: number, length: number | undefined): number {
  const span = length ?? buffer.byteLength - offset;
  if (offset < 0 || offset > buffer.byteLength) {
    throw outOfRange('offset', `>= 0 && <= ${buffer.byteLength}`, offset);
  }
  if (span < 0 || span > buffer.byteLength - offset) {
    throw outOfRange('length', `>= 0 && <= ${buffer.byteLength - offset}`, span);
  }
  return span;
}

export function outOfRange(name: string, range: string, value: number): RangeError {
  const error = new RangeError(
    `The value of "${name}" is out of range. It must be ${range}. Received ${value}`,
  ) as RangeError & { code: string };
  error.code = 'ERR_OUT_OF_RANGE';
  return error;
}

export function codeOf(error: unknown): ErrnoCode {
  const code = (error as Partial<NodeStyleError> | undefined)?.code;
  if (code === undefined) throw error;
  return code;
}

export function errorCodeOf(call: () => unknown): ErrnoCode | null {
  try {
    call();
    return null;
  } catch (error) {
    return codeOf(error);
  }
}
