/**
 * Node's own calls above the system calls (lib/fs.js), for our file system: truncate,
 * readFile and writeFile as Node 20 builds them from open, read, write, ftruncate and close,
 * so that each makes the same system calls, in the same order, as on Node (and so the same
 * operations on the clock, in the costs and in the device trace). Recursive mkdir and
 * realpath, which every implementation shares, are in core/node-layer.ts. Also Node's and
 * libuv's conversion of the times given to utimes, futimes and lutimes into the timespec the
 * system call receives (`utimeRequest`): a double of seconds becomes whole microseconds.
 *
 * Invariants: a descriptor these calls open is closed on every path out; one given by the
 * caller is left open. readFile's reads are Node's unknown-size reads (64 KiB asked each
 * time until one returns 0) whatever the size it is told; the size only sizes the buffer
 * they land in, so a wrong size changes no call and no byte of the result. readFile refuses
 * a file above Node's 2 GiB limit before it reads, and again if reading finds more, so the
 * bytes it gathers are bounded whatever i_size says.
 *
 * Does not: touch inodes or the device itself; it only calls the file system's methods.
 */
import { isDate } from 'node:util/types';

/** Node's kIoMaxLength: readFile refuses larger files with ERR_FS_FILE_TOO_LARGE. */
export const READ_FILE_MAX_BYTES = 2 ** 31 - 1;
/** readFileSync's read size. */
const READ_CHUNK_BYTES = 64 * 1024;

/** The system calls these are built from. */
export interface FileCalls {
  openSync(path: string, flags?: string | number, mode?: number): number;
  closeSync(fd: number): void;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: null): number;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number, position: null): number;
  ftruncateSync(fd: number, len: number): void;
}

export interface ReadFileOptions {
  readonly encoding?: BufferEncoding | null;
  readonly flag?: string;
}

export interface WriteFileOptions {
  readonly encoding?: BufferEncoding;
  readonly flag?: string;
  readonly mode?: number;
}

export function nodeTruncate(fs: FileCalls, path: string, len: number): void {
  const fd = fs.openSync(path, 'r+');
  try {
    fs.ftruncateSync(fd, len);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * readFileSync: `sizeOf(fd)` is the open file's size, read without an operation of its own
 * (an fstatSync would be one more operation on the clock and in the costs).
 */
export function nodeReadFile(fs: FileCalls, path: string | number, options: ReadFileOptions | BufferEncoding | undefined, sizeOf: (fd: number) => number): Buffer | string {
  const encoding = typeof options === 'string' ? options : options?.encoding ?? undefined;
  const flag = typeof options === 'object' && options?.flag ? options.flag : 'r';
  const fd = typeof path === 'number' ? path : fs.openSync(path, flag);
  try {
    // Node refuses a file above 2 GiB before reading; here that also bounds the memory a
    // corrupt i_size (a legal sparse size up to 16 TiB) could make this loop gather.
    const size = sizeOf(fd);
    if (size > READ_FILE_MAX_BYTES) throw fileTooLarge(size);
    const bytes = readAll(fs, fd, size);
    return encoding ? bytes.toString(encoding) : bytes;
  } finally {
    if (typeof path !== 'number') fs.closeSync(fd);
  }
}

/** Bytes read by the tail reads (those with less than a chunk of room left in the sized buffer); only the bytes a read returned are copied out. */
const scratch = Buffer.alloc(READ_CHUNK_BYTES);

/**
 * Every byte left to read from `fd`, in chunk-sized reads until one returns 0, landing in
 * one buffer of `expected` bytes (the file's size): no copy when the size was right, and a
 * grown (or shorter) buffer when it was not.
 */
function readAll(fs: FileCalls, fd: number, expected: number): Buffer {
  let bytes: Buffer = Buffer.allocUnsafe(expected);
  let total = 0;
  for (;;) {
    const direct = bytes.length - total >= READ_CHUNK_BYTES;
    const n = fs.readSync(fd, direct ? bytes : scratch, direct ? total : 0, READ_CHUNK_BYTES, null);
    if (n === 0) break;
    if (total + n > READ_FILE_MAX_BYTES) throw fileTooLarge(total + n);
    if (!direct) {
      if (total + n > bytes.length) bytes = grown(bytes, total, total + n);
      scratch.copy(bytes, total, 0, n);
    }
    total += n;
  }
  return total === bytes.length ? bytes : bytes.subarray(0, total);
}

/** A buffer of at least `need` bytes holding the first `used` bytes of `bytes`. */
function grown(bytes: Buffer, used: number, need: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(need, 2 * bytes.length));
  bytes.copy(bigger, 0, 0, used);
  return bigger;
}

export function nodeWriteFile(fs: FileCalls, path: string | number, data: Uint8Array | string, options: WriteFileOptions | BufferEncoding | undefined): void {
  const o = typeof options === 'string' ? { encoding: options } : options ?? {};
  const bytes = typeof data === 'string' ? Buffer.from(data, o.encoding ?? 'utf8') : data;
  const fd = typeof path === 'number' ? path : fs.openSync(path, o.flag ?? 'w', o.mode ?? 0o666);
  try {
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, null);
  } finally {
    if (typeof path !== 'number') fs.closeSync(fd);
  }
}

/** The RangeError Node's readFile throws for a file above 2 GiB (code ERR_FS_FILE_TOO_LARGE). */
function fileTooLarge(size: number): RangeError {
  const error = new RangeError(`File size (${size}) is greater than 2 GiB`) as RangeError & { code: string };
  error.code = 'ERR_FS_FILE_TOO_LARGE';
  return error;
}

// ================================================================ utimes' times

/** One time a utimes call asks for: a timespec, or the simulated clock's now. */
export type UtimeRequest = { readonly seconds: number; readonly nanos: number } | 'now';

/** 2^63: libuv's double-to-time_t conversion overflows at and beyond it (and on NaN). */
const TIME_T_LIMIT = 2 ** 63;

/**
 * The timespec utimensat(2) receives for a time given to Node 20's utimes, futimes or lutimes
 * (any form): Node's toUnixTimestamp, then libuv 1.46's uv__fs_to_timespec.
 * - toUnixTimestamp: a numeric string is its number (any number, even a negative one or
 *   Infinity); a finite number below 0 means now (Node reads Date.now(); ours is the
 *   simulated clock, whole seconds); a Date is getTime() / 1000 (before 1970 too); anything
 *   else, NaN and Infinity included, is a TypeError ERR_INVALID_ARG_TYPE at the call.
 * - uv__fs_to_timespec: seconds truncated toward zero, nanoseconds (t - seconds) * 1e9
 *   truncated, then cut to whole microseconds (libuv keeps microseconds), then a negative
 *   remainder borrowed from the seconds: -0.5 is -1 s + 500000000 ns. A value time_t cannot
 *   hold (an invalid Date, 1e30) leaves nanoseconds outside [0, 1e9): `undefined` here, which
 *   the kernel answers with EINVAL.
 */
export function utimeRequest(time: unknown): UtimeRequest | undefined {
  const t = unixTimestamp(time);
  if (t === 'now') return t;
  if (!(t >= -TIME_T_LIMIT && t < TIME_T_LIMIT)) return undefined;
  let seconds = Math.trunc(t);
  let nanos = Math.trunc((t - seconds) * 1e9);
  nanos -= nanos % 1000;
  if (nanos < 0) {
    nanos += 1e9;
    seconds -= 1;
  }
  return nanos >= 0 && nanos < 1e9 ? { seconds, nanos: nanos + 0 } : undefined;
}

/** Node 20's toUnixTimestamp (lib/internal/fs/utils.js), with the clock's read left to the caller. */
function unixTimestamp(time: unknown): number | 'now' {
  if (typeof time === 'string' && !Number.isNaN(Number(time))) return Number(time);
  if (typeof time === 'number' && Number.isFinite(time)) return time < 0 ? 'now' : time;
  if (isDate(time)) return time.getTime() / 1000;
  const error = new TypeError(`The "time" argument must be an instance of Date or an Time in seconds. Received ${describe(time)}`) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  throw error;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  return `type ${typeof value} (${typeof value === 'string' ? `'${value}'` : String(value)})`;
}
