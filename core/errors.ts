// The error types for failures that are not bugs (STYLE.md convention 4).
//
// Owns: NodeStyleError (an operating error: what a Node `fs` call would throw, with `code`,
// `errno`, `syscall`, `path`, `dest`), CorruptionError (on-disk data that fails a check while
// decoding) and UsageError (bad input from the user). Bugs are AssertionFailure (assert.ts);
// checker findings are typed values and never thrown.
//
// Invariants: errno numbers are the negated Linux values, as Node reports them; messages and
// own properties match Node's, so code written against Node's `fs` (and tests that compare us
// with memfs) cannot tell the difference. Absent fields are absent, not `undefined`, because
// Node's errors omit them and deep-equality comparisons would notice. A CorruptionError made
// `withoutStack` differs from one made with `new` in its stack alone.

export type ErrnoCode =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'ENOSPC'
  | 'EBADF'
  | 'EINVAL'
  | 'ENAMETOOLONG'
  | 'EFBIG'
  | 'EIO'
  | 'EROFS'
  | 'EMLINK'
  | 'ELOOP'
  | 'EXDEV'
  | 'EPERM'
  | 'EACCES'
  | 'EBUSY'
  | 'EUCLEAN'
  | 'EBADMSG'
  | 'ENOTSUP'
  | 'EMFILE';

export interface ErrnoInfo {
  readonly errno: number;
  readonly description: string;
}

// Descriptions are libuv's (what Node prints), not glibc's strerror. libuv has no EUCLEAN,
// which Linux file systems return for corrupt metadata (as EFSCORRUPTED), nor EBADMSG (ext4's
// EFSBADCRC); their texts are Linux's "Structure needs cleaning" and "Bad message" in libuv's
// lower-case style.
export const ERRNO: Readonly<Record<ErrnoCode, ErrnoInfo>> = Object.freeze({
  EPERM: { errno: -1, description: 'operation not permitted' },
  ENOENT: { errno: -2, description: 'no such file or directory' },
  EIO: { errno: -5, description: 'i/o error' },
  EBADF: { errno: -9, description: 'bad file descriptor' },
  EACCES: { errno: -13, description: 'permission denied' },
  EBUSY: { errno: -16, description: 'resource busy or locked' },
  EEXIST: { errno: -17, description: 'file already exists' },
  EXDEV: { errno: -18, description: 'cross-device link not permitted' },
  ENOTDIR: { errno: -20, description: 'not a directory' },
  EISDIR: { errno: -21, description: 'illegal operation on a directory' },
  EINVAL: { errno: -22, description: 'invalid argument' },
  EMFILE: { errno: -24, description: 'too many open files' },
  EFBIG: { errno: -27, description: 'file too large' },
  ENOSPC: { errno: -28, description: 'no space left on device' },
  EROFS: { errno: -30, description: 'read-only file system' },
  EMLINK: { errno: -31, description: 'too many links' },
  ENAMETOOLONG: { errno: -36, description: 'name too long' },
  ENOTEMPTY: { errno: -39, description: 'directory not empty' },
  ELOOP: { errno: -40, description: 'too many symbolic links encountered' },
  // ext4's EFSBADCRC: a metadata checksum failed
  EBADMSG: { errno: -74, description: 'bad message' },
  ENOTSUP: { errno: -95, description: 'operation not supported on socket' },
  EUCLEAN: { errno: -117, description: 'structure needs cleaning' },
});

export function isErrnoCode(value: string): value is ErrnoCode {
  return Object.prototype.hasOwnProperty.call(ERRNO, value);
}

export interface NodeStyleErrorOptions {
  readonly code: ErrnoCode;
  readonly syscall?: string;
  readonly path?: string;
  readonly dest?: string;
  /** Words after the Node-style message, for an error Node has no text for (what is unsupported). */
  readonly detail?: string;
}

export class NodeStyleError extends Error {
  // No own `name`: Node's fs errors are plain `Error`s, so the inherited 'Error' keeps
  // `String(err)` and the own-property list identical to Node's (errno, code, syscall, ...).
  errno: number;
  code: ErrnoCode;
  declare syscall?: string;
  declare path?: string;
  declare dest?: string;

  constructor(options: NodeStyleErrorOptions) {
    super(nodeMessage(options));
    this.errno = ERRNO[options.code].errno;
    this.code = options.code;
    if (options.syscall !== undefined) this.syscall = options.syscall;
    if (options.path !== undefined) this.path = options.path;
    if (options.dest !== undefined) this.dest = options.dest;
  }
}

/** The error Node throws when `syscall` on `path` (and `path2`, for rename/link) fails. */
export function fsError(
  code: ErrnoCode,
  syscall: string,
  path?: string,
  path2?: string,
): NodeStyleError {
  const error = new NodeStyleError({ code, syscall, path, dest: path2 });
  Error.captureStackTrace(error, fsError);
  return error;
}

/** ENOTSUP from `syscall` (mount): valid ext4 that daxcrash cannot read, `what` saying which part. */
export class UnsupportedError extends NodeStyleError {
  readonly what: string;

  constructor(syscall: string, what: string) {
    super({ code: 'ENOTSUP', syscall, detail: `${what} not supported by daxcrash` });
    this.what = what;
  }
}

export interface CorruptionErrorOptions {
  /** The on-disk structure that failed to decode, e.g. "superblock", "extent header". */
  readonly structure: string;
  /** Where it lives, e.g. "block 1027" or "inode 12". */
  readonly where: string;
  /** What is wrong, e.g. "bad magic 0x0000". */
  readonly what: string;
  /** A metadata checksum failed (the kernel's EFSBADCRC, EBADMSG), not a field's check (EFSCORRUPTED, EUCLEAN). */
  readonly badChecksum?: boolean;
}

/**
 * On-disk data that fails a check while being decoded. Linux answers such reads with
 * EFSCORRUPTED (EUCLEAN), or EFSBADCRC (EBADMSG) when what failed is a metadata checksum, so
 * this carries that code and passes through the Node-style API as an operating error; fsck
 * turns the same condition into a typed finding instead.
 */
export class CorruptionError extends Error {
  override name = 'CorruptionError';
  readonly code: 'EUCLEAN' | 'EBADMSG';
  readonly errno: number;
  readonly what: string;
  readonly where: string;
  readonly structure: string;

  constructor(options: CorruptionErrorOptions) {
    super(`corrupt ${options.structure} at ${options.where}: ${options.what}`);
    this.code = options.badChecksum === true ? 'EBADMSG' : 'EUCLEAN';
    this.errno = ERRNO[this.code].errno;
    this.what = options.what;
    this.where = options.where;
    this.structure = options.structure;
  }

  /**
   * The same error (name, message, code, fields) without the call stack: for checks that
   * throw on every damaged image a campaign mounts (iget, lookup), where capturing the stack
   * was most of the throw's cost. Its `stack` is the first line alone.
   */
  static withoutStack(options: CorruptionErrorOptions): CorruptionError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CorruptionError(options);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/** Bad input from the user; the command line reports it and exits with status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  declare readonly hint?: string;

  constructor(message: string, hint?: string) {
    super(message);
    if (hint !== undefined) this.hint = hint;
  }
}

function nodeMessage(options: NodeStyleErrorOptions): string {
  let message = `${options.code}: ${ERRNO[options.code].description}`;
  if (options.syscall !== undefined) message += `, ${options.syscall}`;
  if (options.path !== undefined) message += ` '${options.path}'`;
  if (options.dest !== undefined) message += ` -> '${options.dest}'`;
  if (options.detail !== undefined) message += `: ${options.detail}`;
  return message;
}
